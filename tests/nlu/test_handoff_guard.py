"""Asking for a person always reaches the handoff, whatever the classifier guessed."""

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.handoff_guard import HumanRequestGuard, asks_for_a_person


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("can i talk to a real person", True),
        ("I want to speak with a professional", True),
        ("please connect me to someone", True),
        ("could I chat with a therapist", True),
        ("am i talking to a real person", False),  # is this a bot? - a different question
        ("are you a human", False),
        ("how long is a session", False),
        ("does therapy help tms work", False),
        # Talking to someone alongside TMS or in a session is about therapy or the session.
        ("Is good to do TMS and also speak with psychologist, both same time?", False),
        ("can I talk to a therapist while I'm having TMS?", False),
        ("can u talk to the nurse during it", False),
        # A time of day or a wait is still a request now.
        ("Is there any way to chat with an actual person during office hours?", True),
        ("can i talk to someone while i wait for my appointment", True),
        ("speak to a human please. Do the sessions hurt?", True),
        ("can I speak to someone in my treatment team", True),
        ("I want to talk to a therapist about both my depression and my anxiety", True),
    ],
)
def test_requests_for_a_person_are_recognised(text, asks):
    assert asks_for_a_person(text) is asks


def message(text, intent):
    msg = Message(data={"text": text})
    msg.set("intent", {"name": intent, "confidence": 0.6})
    msg.set("intent_ranking", [{"name": intent, "confidence": 0.6}])
    return msg


@pytest.mark.parametrize(("predicted", "expected"), [("bot_challenge", "talk_to_human"), ("nlu_fallback", "talk_to_human"), ("crisis", "crisis")])
def test_guard_sets_the_handoff_intent_but_never_over_crisis(predicted, expected):
    [processed] = HumanRequestGuard().process([message("can I talk to a real person?", predicted)])
    assert processed.get("intent")["name"] == expected
