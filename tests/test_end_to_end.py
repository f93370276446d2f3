"""The real action server and Rasa server on free ports, spoken to over the REST channel."""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Dict, List

import pytest
import requests

from bot.server.processes import AssistantServers, free_port
from tests.conftest import PROJECT_ROOT
from tests.nlu.test_nlu_accuracy import BENIGN, CRISIS

pytestmark = pytest.mark.slow

CRISIS_LINE = "call or text 988"
CRISIS_TEXT_LINE = "text HOME to 741741"
EMERGENCY_DISCLAIMER = "automated assistant and can't help in an emergency"
PROFESSIONAL = ("professional", "doctor")


@pytest.fixture(scope="module")
def servers(trained_model, tmp_path_factory):
    db = tmp_path_factory.mktemp("store") / "tracker.db"
    servers = AssistantServers(
        model=trained_model,
        rasa_port=free_port(),
        action_port=free_port(),
        env={"TRACKER_DB_PATH": str(db), "CLINIC_NAME": "", "CLINIC_PHONE": "", "CLINIC_BOOKING_URL": ""},
        log_dir=PROJECT_ROOT / "test-artifacts" / "logs",
    )
    servers.start()
    servers.db = db
    yield servers
    servers.stop()


def say(servers: AssistantServers, sender: str, text: str) -> List[Dict]:
    response = requests.post(
        f"{servers.rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()


def joined(messages: List[Dict]) -> str:
    return "\n".join(m.get("text", "") for m in messages)


def new_sender() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def refers_to_professional(text: str) -> bool:
    return any(word in text.lower() for word in PROFESSIONAL)


def texts(messages: List[Dict]) -> List[str]:
    return [m.get("text", "") for m in messages]


# The servers run with no clinic configured, so referrals name this default.
DEFAULT_PROFESSIONAL = "your doctor or a licensed mental health professional"


def response_text(domain: Dict, name: str) -> str:
    """A domain response as the bot sends it with no clinic configured."""
    return domain["responses"][name][0]["text"].format(
        professional=DEFAULT_PROFESSIONAL, professional_capitalized=DEFAULT_PROFESSIONAL[:1].upper() + DEFAULT_PROFESSIONAL[1:]
    )


def test_greeting_gives_disclaimer_and_crisis_pointer(servers):
    reply = joined(say(servers, new_sender(), "hi there"))
    assert "not medical advice" in reply
    assert "988" in reply


@pytest.mark.parametrize(
    ("question", "facts"),
    [
        ("How long does one TMS session take?", ["20", "40", "minutes"]),
        ("how many weeks is the treatment", ["six weeks", "five days a week"]),
        ("what are the side effects", ["scalp", "headache"]),
        ("Is it like ECT, do I need anesthesia?", ["anesthesia"]),
        ("who shouldn't get TMS because of metal implants", ["cochlear", "aneurysm"]),
    ],
)
def test_faq_answers_carry_the_facts_and_a_referral(servers, question, facts):
    reply = joined(say(servers, new_sender(), question))
    for fact in facts:
        assert fact.lower() in reply.lower(), reply
    assert refers_to_professional(reply.split("\n")[-1]) or refers_to_professional(reply), reply


def test_referral_is_not_repeated_word_for_word(servers):
    sender = new_sender()
    first = say(servers, sender, "what is TMS")[-1]["text"]
    second = say(servers, sender, "does it hurt? side effects?")[-1]["text"]
    third = say(servers, sender, "how long is a session")[-1]["text"]
    assert len({first, second, third}) == 3
    assert all(refers_to_professional(t) for t in (first, second, third))


@pytest.mark.parametrize(
    "question",
    ["Should I stop taking my antidepressants?", "is tms right for me?", "I have an aneurysm clip, can I have TMS?"],
)
def test_personal_medical_questions_are_not_answered_as_advice(servers, question):
    reply = joined(say(servers, new_sender(), question))
    assert "I can't" in reply
    assert refers_to_professional(reply)


def test_out_of_scope_is_honest_and_refers(servers):
    reply = joined(say(servers, new_sender(), "how much does TMS cost?"))
    assert "doesn't cover" in reply
    assert "$" not in reply
    assert refers_to_professional(reply)


def test_every_crisis_message_gets_crisis_resources(servers, domain):
    # The first reply is one of the (US / default region) crisis replies, whichever kind
    # fits: the person themself, an overdose or injury, someone else, danger from others.
    crisis_replies = {
        v["text"] for v in domain["responses"]["utter_crisis"]
        if all(c["name"] != "crisis_region" or c["value"] is None for c in v.get("condition") or [])
    }
    assert len(crisis_replies) == 4
    missed = []
    for text in CRISIS:
        messages = say(servers, new_sender(), text)
        if not messages or messages[0].get("text") not in crisis_replies:
            missed.append(text)
    assert not missed


def test_benign_look_alikes_get_no_crisis_reply(servers):
    # Every crisis reply, whatever its kind or region, says this; no other reply does.
    flagged = [text for text in BENIGN if EMERGENCY_DISCLAIMER in joined(say(servers, new_sender(), text))]
    assert not flagged


def test_saying_it_was_a_joke_keeps_resources_in_view(servers):
    sender = new_sender()
    assert CRISIS_LINE in joined(say(servers, sender, "i want to die"))
    reply = joined(say(servers, sender, "lol I was only joking"))
    assert "988" in reply
    assert "glad" in reply
    # Later answers still remind of crisis help.
    assert "988" in joined(say(servers, sender, "what is TMS?"))


def test_talk_to_a_person_and_topic_menu(servers, domain):
    sender = new_sender()
    assert texts(say(servers, sender, "can I talk to a real person")) == [response_text(domain, "utter_handoff")]
    # The handoff was the full referral: the menu ends with the first short one.
    menu = say(servers, sender, "what can I ask you?")
    buttons = [b for m in menu for b in m.get("buttons", [])]
    assert len(buttons) >= 5
    assert texts(menu) == [response_text(domain, "utter_topics_intro"), response_text(domain, "utter_referral_reminder_1")]
    # Pressing a button sends its payload: it must answer that topic.
    reply = say(servers, sender, buttons[0]["payload"])
    assert texts(reply)[-1] == response_text(domain, "utter_referral_reminder_2")


def test_thanks_and_goodbye_end_with_one_short_referral_line(servers, domain):
    sender = new_sender()
    short = response_text(domain, "utter_referral_short")
    assert texts(say(servers, sender, "thank you")) == [response_text(domain, "utter_thank"), short]
    assert texts(say(servers, sender, "bye")) == [response_text(domain, "utter_goodbye"), short]


def test_after_a_crisis_thanks_and_goodbye_keep_a_crisis_line_in_view(servers, domain):
    sender = new_sender()
    assert CRISIS_LINE in joined(say(servers, sender, "i want to die"))
    short, reminder = response_text(domain, "utter_referral_short"), response_text(domain, "utter_crisis_reminder")
    assert texts(say(servers, sender, "thank you")) == [response_text(domain, "utter_thank"), short, reminder]
    assert texts(say(servers, sender, "bye")) == [response_text(domain, "utter_goodbye"), short, reminder]


def test_a_question_it_cannot_place_still_ends_with_the_full_referral(servers, domain):
    reply = say(servers, new_sender(), "blorp fizzle wug")
    # Whichever way it is read (topics offered, "no information", out of scope), the turn
    # ends with the first, full referral; offered topics come with "did you mean". A message
    # the crisis classifier cannot rule out (gibberish lands in its uncertain band) also
    # keeps the crisis line in view, after the referral.
    said = texts(reply)
    if said[-1] == response_text(domain, "utter_crisis_reminder"):
        said = said[:-1]
    assert said[-1] == response_text(domain, "utter_referral_first")
    for message in reply:
        if message.get("buttons"):
            assert message["text"] == response_text(domain, "utter_clarify")


def copy_back_in_time(db_path, source: str, target: str, seconds: float) -> None:
    """Stores `source`'s conversation as `target`'s, `seconds` earlier (a sender Rasa has not cached)."""
    with sqlite3.connect(db_path) as db:
        rows = db.execute(
            "SELECT type_name, intent_name, action_name, data FROM events WHERE sender_id = ? ORDER BY id", (source,)
        ).fetchall()
        for type_name, intent_name, action_name, data in rows:
            event = json.loads(data)
            event["timestamp"] -= seconds
            db.execute(
                "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) VALUES (?, ?, ?, ?, ?, ?)",
                (target, type_name, event["timestamp"], intent_name, action_name, json.dumps(event)),
            )


def test_a_returning_person_starts_a_new_session_clean(servers, domain):
    earlier = new_sender()
    full, reminder = response_text(domain, "utter_referral_first"), response_text(domain, "utter_crisis_reminder")
    assert CRISIS_LINE in joined(say(servers, earlier, "i want to die"))
    assert texts(say(servers, earlier, "what is TMS"))[-2:] == [full, reminder]
    # The same conversation, last active two hours ago (session_expiration_time: 60 minutes).
    returning = new_sender()
    copy_back_in_time(servers.db, earlier, returning, seconds=2 * 60 * 60)
    reply = texts(say(servers, returning, "what is TMS"))
    assert reply[-1] == full
    assert not any("988" in text for text in reply)
    short = response_text(domain, "utter_referral_short")
    assert texts(say(servers, returning, "thank you")) == [response_text(domain, "utter_thank"), short]
    with sqlite3.connect(servers.db) as db:
        starts = db.execute(
            "SELECT COUNT(*) FROM events WHERE sender_id = ? AND type_name = 'session_started'", (returning,)
        ).fetchone()[0]
    assert starts == 2


def test_conversation_survives_a_rasa_restart(servers):
    sender = new_sender()
    first = say(servers, sender, "what is TMS")[-1]["text"]
    rasa_process = servers.processes.pop()
    servers.stop_process(rasa_process)
    servers.start_rasa_server()
    second = say(servers, sender, "what is TMS")[-1]["text"]
    # The referral count came back from SQLite, so the short reminder follows, not the first one.
    assert second != first
    with sqlite3.connect(servers.db) as db:
        stored = db.execute("SELECT COUNT(*) FROM events WHERE sender_id = ? AND type_name = 'user'", (sender,)).fetchone()[0]
    assert stored == 2


def test_crisis_reply_arrives_even_when_the_action_server_is_down(servers, domain):
    action_process = servers.processes.pop(0)
    servers.stop_process(action_process)
    try:
        reply = joined(say(servers, new_sender(), "I want to kill myself"))
        assert CRISIS_LINE in reply and CRISIS_TEXT_LINE in reply
        # Every other path still ends with a referral, from the domain (bot/server/resilience.py).
        sender = new_sender()
        offline = response_text(domain, "utter_referral_offline")
        assert texts(say(servers, sender, "what can I ask you?")) == [response_text(domain, "utter_topics_offline"), offline]
        assert texts(say(servers, sender, "what is TMS"))[-1] == offline
        assert texts(say(servers, sender, "thank you")) == [
            response_text(domain, "utter_thank"), response_text(domain, "utter_referral_short")
        ]
    finally:
        servers.processes.insert(0, servers.start_action_server())


def test_logs_do_not_contain_what_people_wrote(servers):
    """Messages are health data: the servers' logs (INFO level) must not contain them."""
    say(servers, new_sender(), "my private note: I take sertraline 50mg")
    logs = "\n".join(
        path.read_text(errors="replace") for path in (PROJECT_ROOT / "test-artifacts" / "logs").glob("*.log")
    )
    assert logs, "no server logs were written"
    for text in ["sertraline 50mg", *CRISIS[:5]]:
        assert text not in logs


@pytest.mark.parametrize(("locale", "line"), [("en-GB", "116 123"), ("en-AU", "13 11 14"), ("de-DE", "call or text 988")])
def test_crisis_lines_follow_the_locale_the_channel_sends(servers, locale, line):
    response = requests.post(
        f"{servers.rasa_url}/webhooks/rest/webhook",
        json={"sender": new_sender(), "message": "I want to kill myself", "metadata": {"locale": locale}},
        timeout=30,
    )
    assert line in joined(response.json())
