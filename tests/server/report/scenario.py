"""A scripted fortnight of conversations, stored through Rasa's own SQLTrackerStore, with the
figures the report must show worked out by hand (EXPECTED_*), not by the code under test.

The report runs at NOW (Wednesday 2024-05-15 12:00 UTC) for the period since 2024-05-01
(UTC), so its days are 2024-05-01 .. 2024-05-15 and its weeks start on Mondays 2024-04-29,
2024-05-06 and 2024-05-13.

    who    channel   starts (UTC)       turns (outcome)
    alice  rest      05-02 10:00        greet (other), faq what_is_tms, faq session_length, thanks (other)
    bob    telegram  05-02 11:00        faq side_effects, clarify (cost, with a name and a phone number), faq side_effects
    carol  rest      05-03 09:00        out of scope, clarify, fallback (three insurance questions), handoff (/talk_to_human)
    dave   twilio    05-03 15:00        CRISIS, faq what_is_tms, out of scope (never shown: a person in crisis)
    erin   rest      05-06 08:00        faq what_is_tms, advice medication
    erin   rest      05-08 20:00        (a new session) handoff, typed
    hank   socketio  05-10 23:30        clarify (teenagers), faq who_is_it_for, then a professional's reply
    frank  telegram  05-14 10:00        CRISIS, CRISIS
    gina   rest      04-20 10:00        faq: before the period, not counted
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, List, Tuple

import sqlalchemy as sa
from rasa.shared.core.events import Event

from tooling.report_conversations import Script

UTC = dt.timezone.utc


def at(month: int, day: int, hour: int, minute: int = 0) -> float:
    return dt.datetime(2024, month, day, hour, minute, tzinfo=UTC).timestamp()


NOW = at(5, 15, 12)
SINCE_TEXT = "2024-05-01"
SINCE = at(5, 1, 0)
CRISIS_MARKER = "ZQX crisis words"  # in every crisis message; must appear in no output file
NAME_MARKER = "Sarah Jones"
PHONE_MARKER = "555-123-4567"
DAVE_QUESTION = "dave asks how much it costs"  # a person in crisis: never shown


def conversations() -> List[Tuple[str, List[Event]]]:
    alice = Script(at(5, 2, 10), "rest").session_start().greet()
    alice.faq("what is tms", "what_is_tms").faq("how long is a session", "session_length").thank()

    bob = Script(at(5, 2, 11), "telegram").session_start().faq("side effects?", "side_effects")
    bob.clarify(f"my name is {NAME_MARKER}, how much does tms cost? call {PHONE_MARKER}")
    bob.faq("What are the side effects?", "side_effects")

    carol = Script(at(5, 3, 9), "rest").session_start().out_of_scope("does insurance cover tms")
    carol.clarify("is tms covered by insurance?").fallback("insurance coverage for tms").handoff("/talk_to_human")

    dave = Script(at(5, 3, 15), "twilio").session_start().crisis(f"{CRISIS_MARKER}: I want to end it")
    dave.faq("what is tms", "what_is_tms").out_of_scope(DAVE_QUESTION)

    erin = Script(at(5, 6, 8), "rest").session_start().faq("what is TMS?", "what_is_tms").advice("can I stop my meds")
    erin.clock = at(5, 8, 20)  # two days later: Rasa starts a new session
    erin.session_start().handoff("can I talk to a real person")

    hank = Script(at(5, 10, 23, 30), "socketio").session_start().clarify("can teenagers get tms")
    hank.faq("who is it for", "who_is_it_for").staff_reply()

    frank = Script(at(5, 14, 10), "telegram").session_start().crisis(f"{CRISIS_MARKER} one").crisis(f"{CRISIS_MARKER} two")

    gina = Script(at(4, 20, 10), "rest").session_start().faq("what is tms", "what_is_tms")

    scripts = {"alice": alice, "bob": bob, "carol": carol, "dave": dave, "erin": erin, "hank": hank,
               "frank": frank, "gina": gina}
    return [(sender, script.events) for sender, script in scripts.items()]


def answer_time(events: List[Event], response: str, nth: int = 0) -> float:
    """The timestamp of the nth bot message from `response`: what a rating is keyed by."""
    stamps = [e.timestamp for e in events if e.type_name == "bot" and (e.metadata or {}).get("utter_action") == response]
    return stamps[nth]


async def store_conversations(store: Any) -> Dict[str, List[Event]]:
    """Saves every scripted conversation through a Rasa tracker store; returns them by sender."""
    from tooling.report_conversations import save_with_rasa

    made = dict(conversations())
    for sender, events in made.items():
        await save_with_rasa(store, sender, events)
    return made


# answer_feedback as bot/server/privacy/tables.py defines it (the report's contract).
feedback_metadata = sa.MetaData()
answer_feedback = sa.Table(
    "answer_feedback",
    feedback_metadata,
    sa.Column("sender_id", sa.String(255), primary_key=True),
    sa.Column("answer_ts", sa.Float(), primary_key=True),
    sa.Column("topic", sa.String(255), nullable=True),
    sa.Column("helpful", sa.Boolean(), nullable=False),
    sa.Column("updated_at", sa.Float(), nullable=False),
)


def store_feedback(engine: Any, made: Dict[str, List[Event]]) -> None:
    feedback_metadata.create_all(engine)
    faq_what, faq_side = "utter_faq/what_is_tms", "utter_faq/side_effects"
    rows = [
        ("alice", answer_time(made["alice"], faq_what), faq_what, True),
        ("dave", answer_time(made["dave"], faq_what), faq_what, True),
        ("erin", answer_time(made["erin"], faq_what), faq_what, False),
        ("bob", answer_time(made["bob"], faq_side, 0), faq_side, False),
        ("bob", answer_time(made["bob"], faq_side, 1), faq_side, True),
        ("carol", answer_time(made["carol"], "utter_out_of_scope"), "utter_out_of_scope", False),
        ("gina", answer_time(made["gina"], faq_what), faq_what, True),  # before the period
    ]
    with engine.begin() as connection:
        connection.execute(
            answer_feedback.insert(),
            [{"sender_id": s, "answer_ts": t, "topic": topic, "helpful": h, "updated_at": t + 5} for s, t, topic, h in rows],
        )


def store_handoffs(engine: Any) -> None:
    """Staff-inbox entries and claims, through the inbox's own repository (its clock set)."""
    from bot.server.staff.store import HandoffRepository

    clock = {"now": 0.0}
    repository = HandoffRepository(engine, clock=lambda: clock["now"])

    def entry(sender: str, reason: str, opened: float, claims: List[float]) -> None:
        clock["now"] = opened
        handoff = repository.open_handoff(sender, "website", reason, urgent=reason == "crisis")
        for index, claimed in enumerate(claims):
            clock["now"] = claimed
            assert repository.claim(handoff.ref, "alice-staff")
            repository.audit("alice-staff", "claim", handoff.ref)
            if index + 1 < len(claims):
                repository.release(handoff.ref, "alice-staff")
                repository.audit("alice-staff", "release", handoff.ref)

    entry("carol", "asked_for_person", at(5, 3, 9, 5), [at(5, 3, 9, 5) + 120])
    # Released and claimed again: the first claim is the one that counts.
    entry("erin", "asked_for_person", at(5, 8, 20, 1), [at(5, 8, 20, 1) + 600, at(5, 8, 21)])
    entry("dave", "crisis", at(5, 3, 15, 1), [at(5, 3, 15, 1) + 60])
    entry("frank", "crisis", at(5, 14, 10, 1), [])
    entry("ivan", "repeated_misses", at(5, 12, 9), [at(5, 12, 9) + 300])
    entry("gina", "asked_for_person", at(4, 20, 10, 5), [at(4, 20, 10, 5) + 30])  # before the period


# --- The figures, by hand -------------------------------------------------------------------

EXPECTED_CONVERSATIONS = 8  # alice, bob, carol, dave, erin twice, hank, frank (not gina)
EXPECTED_MESSAGES = 4 + 3 + 4 + 3 + 2 + 1 + 2 + 2
# (date, channel) -> (conversations, messages); every other day and channel is 0.
EXPECTED_PER_DAY_CHANNEL = {
    ("2024-05-02", "rest"): (1, 4),
    ("2024-05-02", "telegram"): (1, 3),
    ("2024-05-03", "rest"): (1, 4),
    ("2024-05-03", "twilio"): (1, 3),
    ("2024-05-06", "rest"): (1, 2),
    ("2024-05-08", "rest"): (1, 1),
    ("2024-05-10", "socketio"): (1, 2),
    ("2024-05-14", "telegram"): (1, 2),
}
EXPECTED_CHANNELS = ["rest", "socketio", "telegram", "twilio"]
EXPECTED_DAYS = [f"2024-05-{day:02d}" for day in range(1, 16)]
# Not contained: carol (a fallback and a handoff) and erin's second conversation (a handoff).
EXPECTED_CONTAINED = 6
EXPECTED_CLARIFIED = 3  # bob, carol, hank
EXPECTED_FALLBACK = 1  # carol
EXPECTED_OUT_OF_SCOPE = 2  # carol, dave
EXPECTED_HANDOFF = 2  # carol, erin
EXPECTED_CRISIS = 3  # dave once, frank twice
# date -> (conversations, contained, messages, clarified, fallback, out of scope, handoff)
EXPECTED_OUTCOMES_PER_DAY = {
    "2024-05-02": (2, 2, 7, 1, 0, 0, 0),
    "2024-05-03": (2, 1, 7, 1, 1, 2, 1),
    "2024-05-06": (1, 1, 2, 0, 0, 0, 0),
    "2024-05-08": (1, 0, 1, 0, 0, 0, 1),
    "2024-05-10": (1, 1, 2, 1, 0, 0, 0),
    "2024-05-14": (1, 1, 2, 0, 0, 0, 0),
}
# topic -> (answered, helpful, not helpful), in the order the report lists them
EXPECTED_TOPICS = [
    ("what_is_tms", 3, 2, 1),  # alice, dave, erin; gina's rating is before the period
    ("side_effects", 2, 1, 1),
    ("advice_medication", 1, 0, 0),
    ("session_length", 1, 0, 0),
    ("who_is_it_for", 1, 0, 0),
    ("out_of_scope", 0, 0, 1),  # rated, and out of scope answers are not topics
]
# reason -> (escalations, claimed, median minutes, 90th percentile minutes)
EXPECTED_ESCALATIONS = {
    "asked_for_person": (2, 2, 6.0, 9.2),  # 120 s and 600 s: median 360 s, p90 120 + 0.9 * 480 = 552 s
    "repeated_misses": (1, 1, 5.0, 5.0),
    "crisis": (2, 1, 1.0, 1.0),  # frank's entry was never claimed
    "all": (5, 4, 3.5, 8.5),  # 60, 120, 300, 600 s: median 210 s, p90 300 + 0.7 * 300 = 510 s
}
# week starting -> (detections, conversations)
EXPECTED_CRISIS_PER_WEEK = {"2024-04-29": (1, 1), "2024-05-06": (0, 0), "2024-05-13": (2, 1)}
# The unanswered questions, redacted; dave's is never among them.
EXPECTED_UNANSWERED_GROUPS = [
    (3, 1, {"does insurance cover tms", "is tms covered by insurance?", "insurance coverage for tms"}),
    (1, 1, {"can teenagers get tms"}),
    (1, 1, {"my name is [name], how much does tms cost? call [phone]"}),
]
