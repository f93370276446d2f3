"""Crisis replies while a professional has the conversation (bot/server/patches/takeover.py)."""

from __future__ import annotations

import pytest
from rasa.core.processor import MessageProcessor
from rasa.shared.core.events import (
    ActionExecuted,
    ConversationPaused,
    ConversationResumed,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.server import patches
from bot.server.patches.takeover import install_crisis_during_takeover

ORIGINAL = patches.original(MessageProcessor, "_should_handle_message").__func__


def tracker_with(*events):
    tracker = DialogueStateTracker("someone", [])
    for event in events:
        tracker.update(event)
    return tracker


def said(intent):
    return UserUttered("...", {"name": intent, "confidence": 1.0})


CASES = [
    ((said("faq"),), True),
    ((said("crisis"),), True),
    ((ConversationPaused(), said("faq")), False),
    ((ConversationPaused(), said("greet")), False),
    ((ConversationPaused(), said("crisis")), True),  # the one change
    ((ConversationPaused(), said("restart")), True),  # Rasa's own exception, kept
    ((ConversationPaused(), said("crisis"), ActionExecuted("utter_crisis"), ConversationResumed(), said("faq")), True),
]


@pytest.fixture(scope="module", autouse=True)
def installed():
    patches.uninstall_all()
    install_crisis_during_takeover()
    assert MessageProcessor._should_handle_message is not ORIGINAL
    yield
    patches.uninstall_all()
    assert MessageProcessor._should_handle_message is ORIGINAL


@pytest.mark.parametrize(("events", "expected"), CASES)
def test_only_crisis_language_is_answered_while_paused(events, expected):
    assert MessageProcessor._should_handle_message(tracker_with(*events)) is expected


@pytest.mark.parametrize(("events", "expected"), CASES)
def test_agrees_with_rasa_everywhere_else(events, expected):
    tracker = tracker_with(*events)
    paused_crisis = tracker.is_paused() and tracker.latest_message.intent["name"] == "crisis"
    if not paused_crisis:
        assert MessageProcessor._should_handle_message(tracker) is ORIGINAL(tracker)


def test_installing_twice_wraps_once():
    wrapped = MessageProcessor._should_handle_message
    install_crisis_during_takeover()
    assert MessageProcessor._should_handle_message is wrapped
