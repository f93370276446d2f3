"""bot/speedups.py does less work per message but decides exactly as Rasa does."""

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.events import Event

from bot.speedups import install_speedups
from tests.conftest import PROJECT_ROOT

ORIGINAL_VALIDATE = RemoteAction._validate_action_result
ORIGINAL_RESOLVE = Event.resolve_by_type
ORIGINAL_RUN = DaskGraphRunner.run
install_speedups()
SEQUENTIAL_RUN = DaskGraphRunner.run

VALID = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "referral_count", "value": 1.0}], "responses": [{"response": "utter_referral_first"}]},
    {},
]
INVALID = [
    {"events": "not a list"},
    {"responses": "not a list"},
    {"events": [{"no_event_key": 1}]},
]


@pytest.mark.parametrize("response", VALID)
def test_valid_action_responses_pass_as_before(response):
    action = RemoteAction("action_refer_to_professional", None)
    assert ORIGINAL_VALIDATE(action, response) is True
    assert action._validate_action_result(response) is True


@pytest.mark.parametrize("response", INVALID)
def test_invalid_action_responses_fail_with_the_same_error(response):
    action = RemoteAction("action_refer_to_professional", None)
    with pytest.raises(ValidationError) as before:
        ORIGINAL_VALIDATE(action, response)
    with pytest.raises(ValidationError) as after:
        action._validate_action_result(response)
    assert after.value.message == before.value.message


def test_event_classes_resolve_as_before():
    from rasa.shared.utils.common import all_subclasses

    names = {cls.type_name for cls in all_subclasses(Event)}
    assert len(names) > 20
    for name in names:
        assert Event.resolve_by_type(name) is ORIGINAL_RESOLVE(name)
    assert Event.resolve_by_type("topic") is None
    assert Event.resolve_by_type("nonsense", default=Event) is Event
    with pytest.raises(ValueError, match="Unknown event name"):
        Event.resolve_by_type("nonsense")


@pytest.mark.slow
def test_the_model_parses_and_predicts_exactly_as_with_dask(trained_model, monkeypatch):
    """Same intents, answers, confidences and next actions with either graph runner."""
    import asyncio

    from rasa.core.agent import Agent
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from bench.load import load_conversations

    texts = [t for c in load_conversations(PROJECT_ROOT / "bench" / "messages" / "tms.txt") for t in c]
    agent = Agent.load(str(trained_model))
    loop = asyncio.new_event_loop()

    def outcomes():
        found = []
        for text in texts:
            parsed = loop.run_until_complete(agent.parse_message(text))
            tracker = DialogueStateTracker.from_events(
                "someone", [ActionExecuted("action_listen"), UserUttered(text, parsed["intent"], parse_data=parsed)]
            )
            prediction = agent.predict_next_with_tracker(tracker)
            found.append((parsed, prediction["scores"], prediction["policy"], prediction["confidence"]))
        return found

    try:
        monkeypatch.setattr(DaskGraphRunner, "run", ORIGINAL_RUN)
        with_dask = outcomes()
        monkeypatch.setattr(DaskGraphRunner, "run", SEQUENTIAL_RUN)
        sequential = outcomes()
    finally:
        loop.close()
    assert len(texts) > 50
    assert sequential == with_dask
