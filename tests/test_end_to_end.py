"""The real action server and Rasa server on free ports, spoken to over the REST channel."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import time
import uuid
from typing import Any, Dict, List, Tuple

import pytest
import requests

from bot.server.processes import AssistantServers, free_port
from tests.actions.test_topics import MENU
from tests.conftest import PROJECT_ROOT, load_yaml
from tests.nlu.test_nlu_accuracy import BENIGN, CRISIS

# The servers run with no clinic configured, so referrals name this default.
DEFAULT_PROFESSIONAL = "your doctor or a licensed mental health professional"
# What the actions fill into a response's {placeholders} here; any other placeholder may be
# filled with anything (but not left as a literal "{name}").
FILLED = {"professional": DEFAULT_PROFESSIONAL, "professional_capitalized": "Your doctor or a licensed mental health professional"}
# What a question that is not crisis language may be answered with (the referral follows).
ORDINARY_ANSWERS = ("utter_faq/", "utter_advice_", "utter_out_of_scope", "utter_clarify", "utter_no_information")
slow = pytest.mark.slow

# A vague follow-up with no topic in it, which the model cannot place. Which wording it is
# moves with the training data ("what about the other one", "and the other one you
# mentioned?" and "and the one before? the thing you mentioned" became out of scope as
# out-of-scope examples were added on 5 December; "and that other option you listed" reads
# as an acknowledgement since those were trained in session 24); this one's likeliest
# intent reads 0.29, under the 0.35 needed to answer, and its crisis score 0.08 is far from
# the bar. It keeps a content word ("thing") for the report's grouping of unanswered
# questions.
UNPLACEABLE = "and the other thing"


def load_responses() -> Dict[str, List[Dict[str, Any]]]:
    """Every response Rasa can send: domain.yml and data/responses, read from the files."""
    responses = dict(load_yaml(PROJECT_ROOT / "domain.yml")["responses"])
    for path in sorted((PROJECT_ROOT / "data" / "responses").glob("*.yml")):
        responses.update(load_yaml(path)["responses"])
    return responses


def template_pattern(template: str) -> re.Pattern:
    """A regular expression for every text `template` can become once its placeholders are filled."""
    parts = re.split(r"\{(\w+)\}", template)
    return re.compile("".join(
        re.escape(part) if index % 2 == 0 else re.escape(FILLED[part]) if part in FILLED else r"[^{}]+?"
        for index, part in enumerate(parts)
    ), re.DOTALL)


RESPONSES = load_responses()
# (name, pattern, length of the template's fixed text)
TEMPLATES: List[Tuple[str, re.Pattern, int]] = [
    (name, template_pattern(variation["text"]), len(re.sub(r"\{\w+\}", "", variation["text"])))
    for name, variations in RESPONSES.items()
    for variation in variations
    if "text" in variation
]


def response_names(text: str) -> List[str]:
    """The responses whose template could have produced `text`.

    A placeholder could swallow another template's words ("You can call {clinic_name} at
    {clinic_phone}." matches the phone-and-booking text too), so of the templates that match,
    those that fix the most of the text win.
    """
    matches = [(fixed, name) for name, pattern, fixed in TEMPLATES if pattern.fullmatch(text)]
    most = max((fixed for fixed, _ in matches), default=0)
    return sorted({name for fixed, name in matches if fixed == most})


def said(messages: List[Dict]) -> List[str]:
    """The response each message of a reply came from, as the test stories name them.

    A message that no response (or more than one) could have produced shows as itself, so
    comparing with a list of response names fails and says why.
    """
    result = []
    for message in messages:
        names = response_names(message.get("text", "")) if "text" in message else []
        result.append(names[0] if len(names) == 1 else f"<{message!r} matches {names or 'no response'}>")
    return result


def variation(name: str, **slots: Any) -> str:
    """The text of response `name` that Rasa picks for these slot values: the variation whose
    conditions all hold (the domain has one per region and kind), else the unconditional one."""
    variations = RESPONSES[name]
    for candidate in variations:
        conditions = candidate.get("condition") or []
        if conditions and all(slots.get(c["name"]) == c["value"] for c in conditions):
            return candidate["text"]
    (unconditional,) = [candidate["text"] for candidate in variations if not candidate.get("condition")]
    return unconditional


def topic_buttons() -> List[Dict[str, str]]:
    """Every FAQ topic's quick reply, from data/responses (what a "did you mean" may offer)."""
    return [
        {"title": variations[0]["metadata"]["title"], "payload": variations[0]["metadata"]["question"]}
        for name, variations in RESPONSES.items()
        if name.startswith("utter_faq/")
    ]


class FillAll(dict):
    """Fills every placeholder as the actions do here (FILLED), or with a stand-in value."""

    def __missing__(self, key: str) -> str:
        return FILLED.get(key, f"<{key}>")


def test_each_domain_text_maps_back_to_its_own_response_only():
    for name, variations in RESPONSES.items():
        for candidate in variations:
            if "text" in candidate:
                text = candidate["text"].format_map(FillAll())
                assert response_names(text) == [name], (name, text)


def test_said_names_each_message_and_shows_what_it_cannot_name():
    referral = variation("utter_referral_first").format(professional=DEFAULT_PROFESSIONAL)
    assert said([{"text": variation("utter_faq/session_length")}, {"text": referral}]) == [
        "utter_faq/session_length", "utter_referral_first",
    ]
    assert said([{"text": variation("utter_handoff").format(professional="Calm Clinic")}]) != ["utter_handoff"]
    assert said([{"text": variation("utter_clinic_contact_phone").format(clinic_name="Calm Clinic", clinic_phone="555-0100")}]) == [
        "utter_clinic_contact_phone"
    ]
    unfilled = variation("utter_referral_first")  # "{professional}" left in the text
    assert said([{"text": unfilled}]) == [f"<{{'text': {unfilled!r}}} matches no response>"]
    assert said([{"text": "Each TMS session usually lasts about 20 to 40 minutes."}])[0].startswith("<")
    assert said([{"image": "https://example.org/x.png"}])[0].startswith("<")
    assert variation("utter_crisis", crisis_region="GB", crisis_kind="self").startswith("Please reach out for help right now: call Samaritans")
    assert variation("utter_crisis", crisis_region=None, crisis_kind="self").startswith("Please reach out for help right now: call or text 988")


@pytest.fixture(scope="module")
def servers(trained_model, tmp_path_factory):
    db = tmp_path_factory.mktemp("store") / "tracker.db"
    # The answers' text is read from a copy of the content files, which one test edits.
    content = tmp_path_factory.mktemp("content")
    shutil.copy(PROJECT_ROOT / "domain.yml", content / "domain.yml")
    shutil.copytree(PROJECT_ROOT / "data" / "responses", content / "data" / "responses")
    servers = AssistantServers(
        model=trained_model,
        rasa_port=free_port(),
        action_port=free_port(),
        env={"TRACKER_DB_PATH": str(db), "CLINIC_NAME": "", "CLINIC_PHONE": "", "CLINIC_BOOKING_URL": "",
             "TMS_CONTENT_DIR": str(content)},
        log_dir=PROJECT_ROOT / "test-artifacts" / "logs",
    )
    servers.start()
    servers.db = db
    servers.content = content
    yield servers
    servers.stop()


def say(servers: AssistantServers, sender: str, text: str, **fields: Any) -> List[Dict]:
    response = requests.post(
        f"{servers.rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": text, **fields}, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()


def new_sender() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def texts(messages: List[Dict]) -> List[str]:
    return [m.get("text", "") for m in messages]


def response_text(domain: Dict, name: str) -> str:
    """A domain response as the bot sends it with no clinic configured."""
    return domain["responses"][name][0]["text"].format(**FILLED)


@slow
def test_greeting_gives_disclaimer_and_crisis_pointer(servers):
    reply = say(servers, new_sender(), "hi there")
    assert said(reply) == ["utter_greet", "utter_ask_question"]
    assert reply[0]["text"] == variation("utter_greet", crisis_region=None)  # disclaimer and 988


@slow
@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("How long does one TMS session take?", "utter_faq/session_length"),
        ("how many weeks is the treatment", "utter_faq/treatment_course"),
        ("what are the side effects", "utter_faq/side_effects"),
        ("how is TMS different from ECT", "utter_faq/tms_vs_ect"),
        ("who shouldn't get TMS because of metal implants", "utter_faq/contraindications"),
    ],
)
def test_faq_answers_carry_the_facts_and_a_referral(servers, question, answer):
    assert said(say(servers, new_sender(), question)) == [answer, "utter_referral_first"]


@slow
def test_referral_is_not_repeated_word_for_word(servers):
    sender = new_sender()
    assert said(say(servers, sender, "what is TMS")) == ["utter_faq/what_is_tms", "utter_referral_first"]
    assert said(say(servers, sender, "does it hurt? side effects?")) == ["utter_faq/side_effects", "utter_referral_reminder_1"]
    assert said(say(servers, sender, "how long is a session")) == ["utter_faq/session_length", "utter_referral_reminder_2"]
    assert said(say(servers, sender, "what is TMS")) == ["utter_faq/what_is_tms", "utter_referral_reminder_3"]


@slow
@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("Should I stop taking my antidepressants?", "utter_advice_medication"),
        ("is tms right for me?", "utter_advice_suitability"),
        ("I have an aneurysm clip, can I have TMS?", "utter_advice_health_condition"),
    ],
)
def test_personal_medical_questions_are_not_answered_as_advice(servers, question, answer):
    assert said(say(servers, new_sender(), question)) == [answer, "utter_referral_first"]


@slow
def test_out_of_scope_is_honest_and_refers(servers):
    assert said(say(servers, new_sender(), "how much does TMS cost?")) == ["utter_out_of_scope", "utter_referral_first"]


@slow
def test_every_crisis_message_gets_crisis_resources(servers):
    # The whole reply is one of the (US / default region) crisis replies, whichever kind
    # fits: the person themself, an overdose or injury, someone else, danger from others.
    us_replies = {variation("utter_crisis", crisis_region=None, crisis_kind=kind) for kind in ("self", "medical", "someone_else", "unsafe")}
    assert len(us_replies) == 4
    missed = []
    for text in CRISIS:
        reply = say(servers, new_sender(), text)
        if said(reply) != ["utter_crisis"] or reply[0]["text"] not in us_replies:
            missed.append((text, said(reply)))
    assert not missed


@slow
def test_benign_look_alikes_get_no_crisis_reply(servers):
    # An ordinary answer and the full referral; a message near crisis language (a calm
    # mention, README "Safety behaviour") may also keep the one-line crisis reminder in view.
    wrong = []
    for text in BENIGN:
        names = said(say(servers, new_sender(), text))
        if not (names[:1] and names[0].startswith(ORDINARY_ANSWERS)
                and names[1:] in (["utter_referral_first"], ["utter_referral_first", "utter_crisis_reminder"])):
            wrong.append((text, names))
    assert not wrong


@slow
def test_saying_it_was_a_joke_keeps_resources_in_view(servers):
    sender = new_sender()
    assert said(say(servers, sender, "i want to die")) == ["utter_crisis"]
    assert said(say(servers, sender, "lol I was only joking")) == ["utter_crisis_followup"]
    # Later answers still remind of crisis help.
    assert said(say(servers, sender, "what is TMS?")) == ["utter_faq/what_is_tms", "utter_referral_first", "utter_crisis_reminder"]


@slow
def test_talk_to_a_person_and_topic_menu(servers):
    sender = new_sender()
    handoff = say(servers, sender, "can I talk to a real person")
    assert said(handoff) == ["utter_handoff"]
    assert handoff[0].get("buttons", []) == []  # nobody can answer here: no button that promises one
    # The handoff was the full referral: the menu ends with the first short one.
    menu = say(servers, sender, "what can I ask you?")
    assert said(menu) == ["utter_topics_intro", "utter_referral_reminder_1"]
    assert menu[0]["buttons"] == MENU
    assert not menu[1].get("buttons")
    # Pressing a button sends its payload: it answers that topic, then refers.
    (side_effects,) = [button for button in menu[0]["buttons"] if button["title"] == "Side effects"]
    assert said(say(servers, sender, side_effects["payload"])) == ["utter_faq/side_effects", "utter_referral_reminder_2"]


@slow
def test_asking_for_a_person_after_a_crisis_gets_the_handoff_then_the_crisis_reply_for_that_case(servers):
    sender = new_sender()
    someone_else = variation("utter_crisis", crisis_region=None, crisis_kind="someone_else")
    assert texts(say(servers, sender, "my sister says she wants to kill herself")) == [someone_else]
    # The crisis lines are people to talk to now; the clinic's staff may take a while.
    reply = say(servers, sender, "can I talk to a real person")
    assert said(reply) == ["utter_handoff", "utter_crisis"]
    assert reply[1]["text"] == someone_else


@slow
def test_thanks_and_goodbye_end_with_one_short_referral_line(servers):
    sender = new_sender()
    assert said(say(servers, sender, "thank you")) == ["utter_thank", "utter_referral_short"]
    assert said(say(servers, sender, "bye")) == ["utter_goodbye", "utter_referral_short"]
    # Thanks and goodbye at once: either reply fits; never "I'm not sure I understood".
    assert said(say(servers, sender, "thanks bye")) in (
        ["utter_goodbye", "utter_referral_short"], ["utter_thank", "utter_referral_short"],
    )


@slow
def test_after_a_crisis_thanks_and_goodbye_keep_a_crisis_line_in_view(servers):
    sender = new_sender()
    assert said(say(servers, sender, "i want to die")) == ["utter_crisis"]
    assert said(say(servers, sender, "thank you")) == ["utter_thank", "utter_referral_short", "utter_crisis_reminder"]
    assert said(say(servers, sender, "bye")) == ["utter_goodbye", "utter_referral_short", "utter_crisis_reminder"]
    assert said(say(servers, sender, "thanks bye")) in (
        ["utter_goodbye", "utter_referral_short", "utter_crisis_reminder"],
        ["utter_thank", "utter_referral_short", "utter_crisis_reminder"],
    )


@slow
def test_ok_after_an_answer_invites_the_next_question_and_after_a_crisis_gets_the_crisis_reply_again(servers):
    sender = new_sender()
    assert said(say(servers, sender, "How long does one TMS session take?"))[0] == "utter_faq/session_length"
    assert said(say(servers, sender, "okay, makes sense")) == ["utter_acknowledge", "utter_referral_short"]
    assert said(say(servers, sender, "my brother told me he wants to kill himself")) == ["utter_crisis"]
    reply = say(servers, sender, "ok")
    assert said(reply) == ["utter_crisis_acknowledged", "utter_crisis", "utter_referral_short"]
    assert reply[1]["text"] == variation("utter_crisis", crisis_region=None, crisis_kind="someone_else")


@slow
def test_asking_about_ones_data_says_how_to_delete_it_and_after_a_crisis_keeps_a_crisis_line(servers, domain):
    sender = new_sender()
    reply = say(servers, sender, "is this conversation saved somewhere?")
    assert said(reply) == ["utter_privacy", "utter_referral_short"]
    assert reply[0]["text"] == response_text(domain, "utter_privacy")  # the website's: the widget's menu
    # Someone whose partner reads their phone must be told how to delete the chat.
    assert said(say(servers, sender, "my husband hits me and checks my phone")) == ["utter_crisis"]
    assert said(say(servers, sender, "how do i delete this chat")) == [
        "utter_privacy", "utter_referral_short", "utter_crisis_reminder",
    ]


@slow
def test_a_plea_for_help_gets_the_topics_or_after_a_crisis_the_same_crisis_reply_again(servers):
    alone = say(servers, new_sender(), "what should I do?")
    assert said(alone) == ["utter_help_offer", "utter_topics_intro", "utter_referral_first", "utter_crisis_reminder"]
    assert alone[1]["buttons"] == MENU
    sender = new_sender()
    crisis = say(servers, sender, "my son told me last night he wants to end it all")
    assert texts(crisis) == [variation("utter_crisis", crisis_region=None, crisis_kind="someone_else")]
    assert texts(say(servers, sender, "what should I do")) == texts(crisis)


@slow
def test_a_follow_up_read_as_another_case_keeps_the_reply_to_the_sessions_case(servers):
    # "im so scared" alone reads as the writer's own risk (the kind model's probability 0.70,
    # under config.yml's 0.8): after a sister's suicidal talk, the reply stays the one for
    # someone else at risk (bot/policies/crisis_case.py). ("im scared for her", used here
    # until session 31, now reads as someone else at risk on its own.)
    sender = new_sender()
    someone_else = [variation("utter_crisis", crisis_region=None, crisis_kind="someone_else")]
    assert texts(say(servers, sender, "my sister says she wants to kill herself")) == someone_else
    assert texts(say(servers, sender, "im so scared")) == someone_else
    # In a new conversation the same words get the reply for their own reading.
    assert texts(say(servers, new_sender(), "im so scared")) == [
        variation("utter_crisis", crisis_region=None, crisis_kind="self")
    ]
    # An overdose stays the emergency for the session: "i dont want an ambulance" alone
    # reads as the writer's own despair (the 988 reply), which would drop "call 911 now".
    sender = new_sender()
    emergency = [variation("utter_crisis", crisis_region=None, crisis_kind="medical")]
    assert texts(say(servers, sender, "i took a lot of my sleeping pills like 20 min ago")) == emergency
    assert texts(say(servers, sender, "i dont want an ambulance")) == emergency
    assert texts(say(servers, new_sender(), "i dont want an ambulance")) == [
        variation("utter_crisis", crisis_region=None, crisis_kind="self")
    ]


@slow
def test_after_a_crisis_a_message_it_cannot_place_gets_the_crisis_reply_for_that_case_again(servers):
    sender = new_sender()
    crisis = say(servers, sender, "my son told me last night he wants to end it all")
    assert texts(crisis) == [variation("utter_crisis", crisis_region=None, crisis_kind="someone_else")]
    # The same message before any crisis gets "did you mean..." (the test below).
    assert texts(say(servers, sender, UNPLACEABLE)) == [
        variation("utter_crisis_checkin"),
        variation("utter_crisis", crisis_region=None, crisis_kind="someone_else"),
        variation("utter_referral_short"),
    ]
    # A question is still answered, with the crisis line kept in view.
    assert said(say(servers, sender, "how long is a session?")) == [
        "utter_faq/session_length", "utter_referral_first", "utter_crisis_reminder",
    ]


@slow
def test_after_a_crisis_an_unsure_out_of_scope_reading_gets_the_crisis_reply_again(servers):
    # "its 3am" reads as out of scope, 0.89 sure (under config.yml's 0.95):
    # after an overdose it may be the emergency going on (bot/policies/unsure_out_of_scope.py).
    sender = new_sender()
    emergency = variation("utter_crisis", crisis_region=None, crisis_kind="medical")
    assert texts(say(servers, sender, "i took a lot of my sleeping pills like 20 min ago")) == [emergency]
    assert texts(say(servers, sender, "its 3am")) == [
        variation("utter_crisis_checkin"), emergency, variation("utter_referral_short"),
    ]
    # Read as out of scope with near certainty: the out-of-scope reply; under it, after an
    # overdose, "please still get checked now" and the crisis line (actions/referral.py).
    assert said(say(servers, sender, "do you take insurance")) == [
        "utter_out_of_scope", "utter_referral_first", "utter_emergency_reminder", "utter_crisis_reminder",
    ]
    # With no crisis in the session, the same words get the out-of-scope reply.
    assert said(say(servers, new_sender(), "its 3am")) == ["utter_out_of_scope", "utter_referral_first"]


@slow
def test_after_a_crisis_saying_one_cannot_call_points_to_text_options_before_the_crisis_reply(servers):
    # Not crisis language on its own; after a crisis reply it says the help offered is out
    # of reach (bot/policies/unsure_out_of_scope.py).
    sender = new_sender()
    emergency = variation("utter_crisis", crisis_region=None, crisis_kind="medical")
    assert texts(say(servers, sender, "i took 40 of my pills an hour ago")) == [emergency]
    assert texts(say(servers, sender, "no phone credit, im on the wifi")) == [
        variation("utter_crisis_cannot_call"), emergency, variation("utter_referral_short"),
    ]
    # With no crisis in the session, the same words get the out-of-scope reply.
    assert said(say(servers, new_sender(), "no phone credit, im on the wifi")) == [
        "utter_out_of_scope", "utter_referral_first",
    ]


@slow
def test_after_a_crisis_an_unsure_out_of_scope_question_that_names_tms_keeps_the_out_of_scope_reply(servers):
    # Read as out of scope, about 0.65 sure (under the 0.95 bar), but it names TMS: the person
    # has moved on to the treatment (bot/policies/unsure_out_of_scope.py).
    sender = new_sender()
    crisis = variation("utter_crisis", crisis_region=None, crisis_kind="self")
    assert texts(say(servers, sender, "i want to end my life")) == [crisis]
    assert said(say(servers, sender, "im ok now honestly. do i need to bring anything to my tms session")) == [
        "utter_out_of_scope", "utter_referral_first", "utter_crisis_reminder",
    ]


@slow
def test_after_an_overdose_an_answer_also_says_to_still_get_checked_for_the_rest_of_the_session(servers):
    sender = new_sender()
    emergency = variation("utter_crisis", crisis_region=None, crisis_kind="medical")
    assert texts(say(servers, sender, "took like 30 of my sleeping tablets about an hour ago")) == [emergency]
    answer = say(servers, sender, "its fine now. how long is a tms session?")
    assert said(answer) == [
        "utter_faq/session_length", "utter_referral_first", "utter_emergency_reminder", "utter_crisis_reminder",
    ]
    assert texts(answer)[2:] == [variation("utter_emergency_reminder"), variation("utter_crisis_reminder", crisis_region=None)]
    # After a crisis of another kind, the answer keeps only the crisis line.
    other = new_sender()
    assert texts(say(servers, other, "i want to end my life")) == [variation("utter_crisis", crisis_region=None, crisis_kind="self")]
    assert said(say(servers, other, "how long is a tms session?")) == [
        "utter_faq/session_length", "utter_referral_first", "utter_crisis_reminder",
    ]


@slow
def test_after_an_overdose_saying_it_was_a_joke_or_goodbye_gets_the_emergency_reply_again(servers):
    # bot/policies/emergency_stands.py: the reply to a retraction would let the person think
    # the danger is over.
    sender = new_sender()
    emergency = variation("utter_crisis", crisis_region=None, crisis_kind="medical")
    assert texts(say(servers, sender, "i took all my pills like 20 min ago")) == [emergency]
    assert texts(say(servers, sender, "jk lol")) == [variation("utter_emergency_still"), emergency]
    assert texts(say(servers, sender, "ok bye")) == [variation("utter_emergency_still"), emergency]
    assert texts(say(servers, sender, "thanks bye")) == [variation("utter_emergency_still"), emergency]
    # After the person's own crisis, a joke gets the caring reply that keeps the lines in view.
    sender = new_sender()
    assert said(say(servers, sender, "i want to die")) == ["utter_crisis"]
    assert said(say(servers, sender, "jk lol")) == ["utter_crisis_followup"]


@slow
def test_a_question_it_cannot_place_still_ends_with_the_full_referral(servers):
    reply = say(servers, new_sender(), UNPLACEABLE)
    # "Did you mean" with the likeliest topics, and the first, full referral.
    assert said(reply) == ["utter_clarify", "utter_referral_first"]
    offered = reply[0]["buttons"]
    assert len(offered) == 3
    assert all(button in topic_buttons() for button in offered), offered
    assert [m for m in reply[1:] if m.get("buttons")] == []


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


@slow
def test_a_returning_person_starts_a_new_session_clean(servers):
    earlier = new_sender()
    assert said(say(servers, earlier, "i want to die")) == ["utter_crisis"]
    assert said(say(servers, earlier, "what is TMS")) == ["utter_faq/what_is_tms", "utter_referral_first", "utter_crisis_reminder"]
    # The same conversation, last active two hours ago (session_expiration_time: 60 minutes).
    returning = new_sender()
    copy_back_in_time(servers.db, earlier, returning, seconds=2 * 60 * 60)
    # No crisis reminder, and the full referral again.
    assert said(say(servers, returning, "what is TMS")) == ["utter_faq/what_is_tms", "utter_referral_first"]
    assert said(say(servers, returning, "thank you")) == ["utter_thank", "utter_referral_short"]
    with sqlite3.connect(servers.db) as db:
        starts = db.execute(
            "SELECT COUNT(*) FROM events WHERE sender_id = ? AND type_name = 'session_started'", (returning,)
        ).fetchone()[0]
    assert starts == 2


@slow
def test_conversation_survives_a_rasa_restart(servers):
    sender = new_sender()
    assert said(say(servers, sender, "what is TMS")) == ["utter_faq/what_is_tms", "utter_referral_first"]
    rasa_process = servers.processes.pop()
    servers.stop_process(rasa_process)
    servers.start_rasa_server()
    # The referral count came back from SQLite, so the short reminder follows, not the first one.
    assert said(say(servers, sender, "what is TMS")) == ["utter_faq/what_is_tms", "utter_referral_reminder_1"]
    with sqlite3.connect(servers.db) as db:
        stored = db.execute("SELECT COUNT(*) FROM events WHERE sender_id = ? AND type_name = 'user'", (sender,)).fetchone()[0]
    assert stored == 2


@slow
def test_crisis_reply_arrives_even_when_the_action_server_is_down(servers):
    action_process = servers.processes.pop(0)
    servers.stop_process(action_process)
    try:
        reply = say(servers, new_sender(), "I want to kill myself")
        assert texts(reply) == [variation("utter_crisis", crisis_region=None, crisis_kind="self")]
        # Every other path still ends with a referral, from the domain (bot/server/resilience.py).
        sender = new_sender()
        assert said(say(servers, sender, "what can I ask you?")) == ["utter_topics_offline", "utter_referral_offline"]
        assert said(say(servers, sender, "what is TMS")) == ["utter_faq/what_is_tms", "utter_referral_offline"]
        assert said(say(servers, sender, "thank you")) == ["utter_thank", "utter_referral_short"]
    finally:
        servers.processes.insert(0, servers.start_action_server())


@slow
def test_logs_do_not_contain_what_people_wrote(servers):
    """Messages are health data: the servers' logs (INFO level) must not contain them."""
    reply = say(servers, new_sender(), "should I stop my sertraline 50mg before starting TMS?")
    assert said(reply) == ["utter_advice_medication", "utter_referral_first"]
    logs = "\n".join(
        path.read_text(errors="replace") for path in (PROJECT_ROOT / "test-artifacts" / "logs").glob("*.log")
    )
    assert logs, "no server logs were written"
    for text in ["sertraline 50mg", *CRISIS[:5]]:
        assert text not in logs


@slow
@pytest.mark.parametrize(("locale", "region"), [("en-GB", "GB"), ("en-AU", "AU"), ("de-DE", None)])
def test_crisis_lines_follow_the_locale_the_channel_sends(servers, locale, region):
    reply = say(servers, new_sender(), "I want to kill myself", metadata={"locale": locale})
    assert texts(reply) == [variation("utter_crisis", crisis_region=region, crisis_kind="self")]


def test_an_edited_answer_is_live_within_seconds_without_restarting(servers):
    faq = servers.content / "data" / "responses" / "faq.yml"
    original = faq.read_text(encoding="utf-8")
    old = "Each TMS session usually lasts about 20 to 40 minutes."
    new = "A TMS session usually takes 20 to 40 minutes."
    assert old in original
    edited = original.replace(old, new)
    try:
        faq.write_text(edited, encoding="utf-8")
        edited_at = time.monotonic()
        while True:
            replies = texts(say(servers, new_sender(), "how long is a session"))
            if replies[0].startswith(new) or time.monotonic() - edited_at > 10:
                break
            time.sleep(0.2)
        live_after = time.monotonic() - edited_at
        print(f"edited answer live after {live_after:.1f} s")
        assert replies[0] == edited.split("utter_faq/session_length:")[1].split('text: "')[1].split('"')[0]
        assert len(replies) == 2  # and its referral
        # A broken edit keeps the last good answers.
        faq.write_text(edited + "\n  utter_faq/broken: [unclosed", encoding="utf-8")
        time.sleep(2.5)
        assert texts(say(servers, new_sender(), "how long is a session"))[0].startswith(new)
    finally:
        faq.write_text(original, encoding="utf-8")
