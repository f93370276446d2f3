"""With the action server down, Rasa answers the action's part from domain responses."""

import socket

import pytest
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.server.resilience import OFFLINE_RESPONSES, install_remote_action_fallback
from tests.conftest import PROJECT_ROOT


@pytest.fixture(scope="module")
def rasa_domain():
    return Domain.load(str(PROJECT_ROOT / "domain.yml"))


@pytest.fixture
def down_action_server():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return EndpointConfig(f"http://127.0.0.1:{port}/webhook")


@pytest.fixture(autouse=True)
def fallback_installed(monkeypatch):
    monkeypatch.setattr(RemoteAction, "run", RemoteAction.run)  # restored after each test
    install_remote_action_fallback(timeout_seconds=3)


async def run_action(name, endpoint, domain, slots=None, latest=None):
    tracker = DialogueStateTracker.from_events("someone", [], slots=domain.slots)
    if latest is not None:
        tracker.update(latest)
    for slot, value in (slots or {}).items():
        tracker.update(SlotSet(slot, value))
    return await RemoteAction(name, endpoint).run(
        CollectingOutputChannel(), TemplatedNaturalLanguageGenerator(domain.responses), tracker, domain
    )


@pytest.mark.parametrize("action", sorted(OFFLINE_RESPONSES))
async def test_each_custom_action_has_a_domain_fallback(action, down_action_server, rasa_domain):
    events = await run_action(action, down_action_server, rasa_domain)
    texts = [e.text for e in events if isinstance(e, BotUttered)]
    expected = [rasa_domain.responses[name][0]["text"] for name in OFFLINE_RESPONSES[action]]
    assert texts == expected


def texts_of(domain, names):
    return [domain.responses[name][0]["text"] for name in names]


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("action_refer_to_professional", ["utter_referral_offline"]),
        ("action_offer_topics", ["utter_no_information", "utter_referral_offline"]),
        ("action_list_topics", ["utter_topics_offline", "utter_referral_offline"]),
        ("action_handoff_to_human", ["utter_handoff_offline"]),
        ("action_not_known_here", ["utter_referral_offline"]),
    ],
)
async def test_every_offline_path_ends_with_a_referral(action, expected, down_action_server, rasa_domain):
    events = await run_action(action, down_action_server, rasa_domain)
    texts = [e.text for e in events if isinstance(e, BotUttered)]
    assert texts == texts_of(rasa_domain, expected)
    assert "licensed mental health professional" in texts[-1]


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("action_refer_to_professional", ["utter_referral_offline", "utter_crisis_reminder"]),
        ("action_offer_topics", ["utter_no_information", "utter_referral_offline", "utter_crisis_reminder"]),
        ("action_list_topics", ["utter_topics_offline", "utter_referral_offline", "utter_crisis_reminder"]),
    ],
)
async def test_every_offline_path_after_a_crisis_ends_with_a_crisis_line(action, expected, down_action_server, rasa_domain):
    events = await run_action(action, down_action_server, rasa_domain, {"crisis_flagged": True})
    assert [e.text for e in events if isinstance(e, BotUttered)] == texts_of(rasa_domain, expected)


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("action_refer_to_professional", ["utter_referral_offline", "utter_emergency_reminder", "utter_crisis_reminder"]),
        ("action_offer_topics",
         ["utter_no_information", "utter_referral_offline", "utter_emergency_reminder", "utter_crisis_reminder"]),
    ],
)
async def test_every_offline_path_after_an_overdose_also_says_to_still_get_checked(action, expected, down_action_server,
                                                                                    rasa_domain):
    events = await run_action(action, down_action_server, rasa_domain, {"crisis_flagged": True, "crisis_kind": "medical"})
    assert [e.text for e in events if isinstance(e, BotUttered)] == texts_of(rasa_domain, expected)


async def test_offline_handoff_after_a_crisis_leaves_the_crisis_reply_to_its_rule(down_action_server, rasa_domain):
    # As the action: the rule gives the crisis reply for the session's case next
    # (data/rules/crisis.yml; tests/test_end_to_end.py has the whole turn), so no reminder.
    events = await run_action("action_handoff_to_human", down_action_server, rasa_domain,
                              {"crisis_flagged": True, "crisis_kind": "someone_else"})
    assert [e.text for e in events if isinstance(e, BotUttered)] == texts_of(rasa_domain, ["utter_handoff_offline"])


async def test_referral_fallback_keeps_crisis_help_in_view(down_action_server, rasa_domain):
    events = await run_action("action_refer_to_professional", down_action_server, rasa_domain, {"crisis_flagged": True})
    assert "988" in [e.text for e in events if isinstance(e, BotUttered)][-1]


async def test_a_calm_mention_of_past_crisis_keeps_the_crisis_line_when_offline(down_action_server, rasa_domain):
    from rasa.shared.core.events import UserUttered

    latest = UserUttered("I attempted suicide years ago and have been well since, can I have TMS?",
                         {"name": "advice_suitability", "confidence": 1.0},
                         [{"entity": "crisis_kind", "value": "caution", "start": 0, "end": 0}])
    events = await run_action("action_refer_to_professional", down_action_server, rasa_domain, latest=latest)
    assert [e.text for e in events if isinstance(e, BotUttered)] == texts_of(
        rasa_domain, ["utter_referral_offline", "utter_crisis_reminder"])


async def test_handoff_offline_promises_no_follow_up(down_action_server, rasa_domain):
    # Without the action server no one is told, so the conversation is not flagged for staff
    # and the reply says so (no "someone will get back to you").
    events = await run_action("action_handoff_to_human", down_action_server, rasa_domain)
    assert [e.text for e in events if isinstance(e, BotUttered)] == texts_of(rasa_domain, ["utter_handoff_offline"])
    assert not any(isinstance(e, SlotSet) and e.key == "handoff_requested" for e in events)
    assert "noted" not in events[0].text


def test_installing_twice_wraps_once():
    wrapped = RemoteAction.run
    install_remote_action_fallback()
    assert RemoteAction.run is wrapped


async def test_a_session_still_starts_with_the_action_server_down(down_action_server, rasa_domain):
    from rasa.shared.core.events import ActionExecuted, SessionStarted

    events = await run_action("action_session_start", down_action_server, rasa_domain)
    assert [type(e) for e in events] == [SessionStarted, ActionExecuted]
    assert events[1].action_name == "action_listen"
