"""The personal-advice guard: questions about one's own care never get a plain FAQ answer."""

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.advice_guard import PersonalAdviceGuard, personal_advice_intent


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("should I stop my antidepressants once TMS starts?", "advice_medication"),
        ("can i come off my sertraline after a few sessions", "advice_medication"),
        ("Is it OK for me to cut down my meds during treatment?", "advice_medication"),
        ("do I have to keep taking my pills while on tms", "advice_medication"),
        ("I have epilepsy, can I have TMS?", "advice_health_condition"),
        ("I’ve got an aneurysm clip, would TMS be safe for me?", "advice_health_condition"),
        ("I had a head injury last year, am I allowed to do it?", "advice_health_condition"),
        ("I have epilepsy, will I be ok having TMS?", "advice_health_condition"),
        ("I had brain surgery for an aneurysm and have clips, can I still have it?", "advice_health_condition"),
        ("is TMS right for me?", "advice_suitability"),
        ("nothing has helped my depression, am I a good candidate?", "advice_suitability"),
        ("should I try tms", "advice_suitability"),
        ("Should I go ahead with the treatment my psychiatrist suggested?", "advice_suitability"),
        ("should i get tms or ect", "advice_suitability"),
    ],
)
def test_questions_about_ones_own_care_get_the_advice_intent(text, intent):
    assert personal_advice_intent(text) == intent


@pytest.mark.parametrize(
    "text",
    [
        "can people keep taking their medication during TMS?",
        "what is the seizure risk with tms",
        "who should not have TMS because of metal implants?",
        "can I drive home after a session",
        "can i head back to the office after treatment",
        "could i fit a session into my lunch break",
        "my mum has epilepsy, what is the seizure risk",
        "how long will i be in the chair",
        "what are the side effects",
        # Session logistics with "should I": the FAQ answers these.
        "What should I do if I miss an appointment?",
        "should i have breakfast before my session",
        "should I get someone to drive me home after",
        "should I do anything to prepare for my first session",
        # What a session is like, after a word about one's surgery: the FAQ answers it.
        "I've had surgery before and hated the anaesthetic. Will I be asleep for TMS?",
        "had an op last year, will i stay awake during tms",
        "do I take my hair clips out before the session?",
    ],
)
def test_general_questions_pass_through(text):
    assert personal_advice_intent(text) is None


def message(text, intent):
    msg = Message(data={"text": text})
    msg.set("intent", {"name": intent, "confidence": 0.97})
    msg.set("intent_ranking", [{"name": intent, "confidence": 0.97}])
    msg.set("response_selector", {"faq": {"ranking": [{"intent_response_key": "faq/medications", "confidence": 0.9}]}})
    return msg


def test_an_faq_prediction_about_own_medicines_becomes_advice_without_an_faq_answer():
    [processed] = PersonalAdviceGuard().process([message("should I stop my meds?", "faq")])
    assert processed.get("intent") == {"name": "advice_medication", "confidence": 1.0}
    assert processed.get("intent_ranking")[0]["name"] == "advice_medication"
    assert processed.get("response_selector") == {}


def test_a_fallback_about_own_medicines_becomes_advice():
    [processed] = PersonalAdviceGuard().process([message("should I stop my meds?", "nlu_fallback")])
    assert processed.get("intent") == {"name": "advice_medication", "confidence": 1.0}


@pytest.mark.parametrize("intent", ["greet", "thank", "crisis", "talk_to_human", "out_of_scope", "advice_medication"])
def test_other_intents_are_left_alone(intent):
    # The classifier's own advice choice stands too, even where a phrase suggests another.
    [processed] = PersonalAdviceGuard().process([message("is it safe for me to keep on my meds? should I start TMS?", intent)])
    assert processed.get("intent")["name"] == intent
