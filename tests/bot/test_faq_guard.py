"""The FAQ guard: a sure `faq` intent with an unsure answer choice becomes a fallback."""

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.faq_guard import FaqAnswerConfidenceGuard


def message(intent, ranking):
    msg = Message(data={"text": "x"})
    msg.set("intent", {"name": intent, "confidence": 0.99})
    msg.set("intent_ranking", [{"name": intent, "confidence": 0.99}])
    msg.set("response_selector", {"faq": {"ranking": [{"intent_response_key": k, "confidence": c} for k, c in ranking]}})
    return msg


GUARD = FaqAnswerConfidenceGuard({"retrieval_intent": "faq", "threshold": 0.5, "ambiguity_threshold": 0.1})


@pytest.mark.parametrize(
    ("ranking", "falls_back"),
    [
        ([("faq/a", 0.9), ("faq/b", 0.05)], False),
        ([("faq/a", 0.1), ("faq/b", 0.05)], True),  # rasa issues 9751/9723: sure intent, unsure answer
        ([("faq/a", 0.52), ("faq/b", 0.48)], True),  # too close to call
        ([], True),
    ],
)
def test_guard_falls_back_only_when_the_answer_is_unsure(ranking, falls_back):
    [processed] = GUARD.process([message("faq", ranking)])
    assert (processed.get("intent")["name"] == "nlu_fallback") is falls_back
    # The ranking stays, so the clarify action can offer the likeliest topics.
    assert processed.get("response_selector")["faq"]["ranking"] == [
        {"intent_response_key": k, "confidence": c} for k, c in ranking
    ]


def test_guard_ignores_other_intents():
    [processed] = GUARD.process([message("greet", [("faq/a", 0.1)])])
    assert processed.get("intent")["name"] == "greet"
