"""A retried message (same id) is not handled twice (bot/server/patches/retries.py)."""

from __future__ import annotations

import inspect
import textwrap

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel, UserMessage
from rasa.core.processor import MessageProcessor
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.server import patches
from bot.server.patches.retries import install_retry_check, replies_already_produced

# Rasa 3.6.21's MessageProcessor.handle_message, which the patch repeats after its check.
RASA_HANDLE_MESSAGE = '''
async def handle_message(
    self, message: UserMessage
) -> Optional[List[Dict[Text, Any]]]:
    """Handle a single message with this processor."""
    # preprocess message if necessary
    tracker = await self.log_message(message, should_save_tracker=False)

    if self.model_metadata.training_type == TrainingType.NLU:
        await self.save_tracker(tracker)
        rasa.shared.utils.io.raise_warning(
            "No core model. Skipping action prediction and execution.",
            docs=DOCS_URL_POLICIES,
        )
        return None

    tracker = await self.run_action_extract_slots(message.output_channel, tracker)

    await self._run_prediction_loop(message.output_channel, tracker)

    await self.run_anonymization_pipeline(tracker)

    await self.save_tracker(tracker)

    if isinstance(message.output_channel, CollectingOutputChannel):
        return message.output_channel.messages

    return None
'''


def test_rasas_handle_message_is_the_one_the_patch_repeats():
    source = textwrap.dedent(inspect.getsource(patches.original(MessageProcessor, "handle_message")))
    assert source.strip() == RASA_HANDLE_MESSAGE.strip()


def user(text, message_id):
    return UserUttered(text, {"name": "faq", "confidence": 0.9}, message_id=message_id)


def conversation():
    return DialogueStateTracker.from_events("someone", [
        ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
        user("what is tms", "m-1"),
        ActionExecuted("utter_faq"), BotUttered("TMS is ...", {"buttons": [{"title": "More", "payload": "/more"}]}),
        ActionExecuted("action_refer_to_professional"), BotUttered("Talk to a professional."),
        ActionExecuted("action_listen"),
        user("how long", "m-2"), ActionExecuted("action_listen"),  # a turn with no replies (paused)
        user("thanks", "m-3"), BotUttered("You're welcome."),
    ])


@pytest.mark.parametrize(
    ("message_id", "expected"),
    [
        ("m-1", [{"text": "TMS is ...", "buttons": [{"title": "More", "payload": "/more"}]},
                 {"text": "Talk to a professional."}]),
        ("m-2", []),
        ("m-3", [{"text": "You're welcome."}]),
        ("m-4", None),  # never seen: handle it
        (None, None),
        ("", None),
    ],
)
def test_the_replies_of_the_turn_that_handled_the_id(message_id, expected):
    assert replies_already_produced(conversation(), message_id) == expected


class RecordingChannel(OutputChannel):
    """A messaging platform: sends, collects nothing."""

    def __init__(self):
        self.sent = []

    async def send_text_message(self, recipient_id, text, **kwargs):
        self.sent.append(text)


@pytest.fixture(scope="module")
def agent(trained_model, tmp_path_factory):
    import os

    from rasa.core.agent import Agent

    from bot.server.stores import EnvironmentTrackerStore

    os.environ["TRACKER_DB_PATH"] = str(tmp_path_factory.mktemp("retries") / "tracker.db")
    try:
        loaded = Agent.load(str(trained_model))
        loaded.tracker_store = EnvironmentTrackerStore(domain=loaded.domain)
        loaded.processor.tracker_store = loaded.tracker_store
    finally:
        del os.environ["TRACKER_DB_PATH"]
    patches.uninstall_all()
    install_retry_check()
    yield loaded
    patches.uninstall_all()


async def stored_user_events(agent, sender):
    tracker = await agent.tracker_store.retrieve_full_tracker(sender)
    return [e.message_id for e in tracker.events if isinstance(e, UserUttered)]


@pytest.mark.slow
async def test_a_retried_rest_message_gets_the_same_replies_and_is_stored_once(agent):
    first = await agent.handle_message(UserMessage("what is TMS?", CollectingOutputChannel(), "retrier", message_id="w-1"))
    again = await agent.handle_message(UserMessage("what is TMS?", CollectingOutputChannel(), "retrier", message_id="w-1"))
    assert first and again == first  # the answer (no action server here, so no referral)
    assert await stored_user_events(agent, "retrier") == ["w-1"]
    other = await agent.handle_message(UserMessage("what is TMS?", CollectingOutputChannel(), "retrier", message_id="w-2"))
    assert other and await stored_user_events(agent, "retrier") == ["w-1", "w-2"]


@pytest.mark.slow
async def test_a_platform_retry_sends_nothing_more_and_is_stored_once(agent):
    platform = RecordingChannel()
    await agent.handle_message(UserMessage("how long is a session", platform, "tg-retrier", message_id="telegram-7"))
    answered = list(platform.sent)
    assert answered
    await agent.handle_message(UserMessage("how long is a session", platform, "tg-retrier", message_id="telegram-7"))
    assert platform.sent == answered
    assert await stored_user_events(agent, "tg-retrier") == ["telegram-7"]
