"""bot/server/patches/speedups.py does less work per message but decides exactly as Rasa does."""

import asyncio

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event

from bot.server import patches
from bot.server.patches.speedups import SPEEDUPS, install_speedups
from tests.conftest import PROJECT_ROOT


def rasas_own(owner, name):
    """The attribute as Rasa defines it, as a plain function, installed or not."""
    return patches.original(owner, name).__get__(None, owner)


ORIGINAL_VALIDATE = rasas_own(RemoteAction, "_validate_action_result")
ORIGINAL_RESOLVE = rasas_own(Event, "resolve_by_type")
ORIGINAL_RUN = rasas_own(DaskGraphRunner, "run")
ORIGINAL_STATES = rasas_own(Domain, "states_for_tracker_history")
PATCHED = [
    (RemoteAction, "_validate_action_result"), (Event, "resolve_by_type"), (DaskGraphRunner, "run"),
    (Domain, "states_for_tracker_history"),
]


@pytest.fixture(scope="module", autouse=True)
def speedups_installed():
    """Every speed-up, whatever $TMS_SPEEDUPS says, and Rasa's own code again afterwards."""
    patches.uninstall_all()
    assert install_speedups({"TMS_SPEEDUPS": "1"}) == list(SPEEDUPS)
    # Otherwise the tests below would compare Rasa with itself.
    assert all(vars(owner)[name] is not patches.original(owner, name) for owner, name in PATCHED)
    yield
    patches.uninstall_all()
    assert all(vars(owner)[name] is patches.original(owner, name) for owner, name in PATCHED)


@pytest.fixture(scope="module")
def benchmark_texts():
    from bench.load import load_conversations

    return [t for c in load_conversations(PROJECT_ROOT / "bench" / "messages" / "tms.txt") for t in c]


@pytest.fixture(scope="module")
def agent(trained_model):
    from rasa.core.agent import Agent

    return Agent.load(str(trained_model))


@pytest.fixture
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


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
def test_the_model_parses_and_predicts_exactly_as_with_dask(agent, loop, benchmark_texts, monkeypatch):
    """Same intents, answers, confidences and next actions with either graph runner."""
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    texts = benchmark_texts

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

    sequential_run = DaskGraphRunner.run
    monkeypatch.setattr(DaskGraphRunner, "run", ORIGINAL_RUN)
    with_dask = outcomes()
    monkeypatch.setattr(DaskGraphRunner, "run", sequential_run)
    sequential = outcomes()
    assert len(texts) > 50
    assert sequential == with_dask


def _conversation_steps():
    """Events as they reach a tracker over a conversation, with rewinds, in small steps."""
    from rasa.shared.core.events import (
        ActionExecuted,
        ActionReverted,
        BotUttered,
        Restarted,
        SessionStarted,
        SlotSet,
        UserUtteranceReverted,
        UserUttered,
    )

    def user(text, intent):
        return UserUttered(text, {"name": intent, "confidence": 0.9}, parse_data={"intent": {"name": intent}, "text": text})

    return [
        [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")],
        [user("hi", "greet")],
        [ActionExecuted("utter_greet"), BotUttered("hello")],
        [ActionExecuted("action_listen"), user("what is tms", "faq")],
        [ActionExecuted("utter_faq"), BotUttered("TMS is ...")],
        [ActionExecuted("action_refer_to_professional"), SlotSet("referral_count", 1.0)],
        [ActionExecuted("action_listen"), user("i want to die", "crisis"), SlotSet("crisis_flagged", True)],
        [ActionExecuted("utter_crisis")],
        [ActionReverted()],  # the last action is undone
        [ActionExecuted("utter_crisis"), ActionExecuted("action_listen")],
        [user("no I meant the show", "crisis_retracted")],
        [UserUtteranceReverted()],  # the last user turn is undone
        [user("bye", "goodbye"), ActionExecuted("utter_goodbye")],
        [Restarted()],
        [ActionExecuted("action_listen"), user("hello again", "greet")],
    ]


@pytest.mark.parametrize("omit_unset_slots", [False, True])
def test_prior_states_are_rasas_at_every_step(omit_unset_slots):
    from rasa.shared.core.trackers import DialogueStateTracker

    domain = Domain.from_path(PROJECT_ROOT / "domain.yml")
    tracker = DialogueStateTracker("someone", domain.slots)
    for step in _conversation_steps():
        for event in step:
            tracker.update(event)
        expected = ORIGINAL_STATES(domain, tracker, omit_unset_slots=omit_unset_slots)
        first = domain.states_for_tracker_history(tracker, omit_unset_slots=omit_unset_slots)
        assert first == expected
        # A caller changing its states (Rasa's RulePolicy does) changes nobody else's.
        for state in first:
            for sub_state in state.values():
                if isinstance(sub_state, dict):
                    sub_state.clear()
        assert domain.states_for_tracker_history(tracker, omit_unset_slots=omit_unset_slots) == expected
    assert "_prior_states" in vars(tracker)  # the incremental path was taken


def test_prior_states_with_hidden_rule_turns_are_left_to_rasa():
    from rasa.shared.core.trackers import DialogueStateTracker

    domain = Domain.from_path(PROJECT_ROOT / "domain.yml")
    tracker = DialogueStateTracker.from_events("someone", [e for step in _conversation_steps()[:6] for e in step])
    expected = ORIGINAL_STATES(domain, tracker, ignore_rule_only_turns=True, rule_only_data={"slots": ["crisis_flagged"], "loops": []})
    states = domain.states_for_tracker_history(
        tracker, ignore_rule_only_turns=True, rule_only_data={"slots": ["crisis_flagged"], "loops": []}
    )
    assert states == expected
    assert "_prior_states" not in vars(tracker)


@pytest.mark.slow
def test_long_conversations_get_rasas_predictions(agent, loop, benchmark_texts, monkeypatch):
    """Every next action of a 40-turn conversation, with and without incremental states."""
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    texts = benchmark_texts[:40]
    incremental = Domain.states_for_tracker_history
    tracker = DialogueStateTracker("someone", agent.domain.slots)
    tracker.update(ActionExecuted("action_listen"))
    predicted = []
    for text in texts:
        parsed = loop.run_until_complete(agent.parse_message(text))
        tracker.update(UserUttered(text, parsed["intent"], parse_data=parsed))
        for _ in range(5):  # the actions of one turn, until the assistant listens again
            monkeypatch.setattr(Domain, "states_for_tracker_history", ORIGINAL_STATES)
            expected = agent.predict_next_with_tracker(tracker)
            monkeypatch.setattr(Domain, "states_for_tracker_history", incremental)
            assert agent.predict_next_with_tracker(tracker) == expected
            action = max(expected["scores"], key=lambda score: score["score"])["action"]
            predicted.append(action)
            tracker.update(ActionExecuted(action))
            if action == "action_listen":
                break
    assert predicted.count("action_listen") == len(texts)
    assert "action_refer_to_professional" in predicted
