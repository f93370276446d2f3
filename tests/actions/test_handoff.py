import datetime as dt

import pytest
from rasa_sdk.events import SlotSet

from actions.config import ClinicHours, load_handoff_settings
from actions.handoff import ActionHandoffToHuman

NOTIFY_VARIABLES = ("NOTIFY_SMTP_HOST", "NOTIFY_EMAIL_FROM", "NOTIFY_EMAIL_TO", "NOTIFY_WEBHOOK_URL",
                    "NOTIFY_WEBHOOK_SECRET", "STAFF_INBOX_URL", "CLINIC_HOURS", "CLINIC_TIMEZONE",
                    "HANDOFF_EXPECTED_WAIT", "NOTIFY_SMTP_USER", "NOTIFY_SMTP_PASSWORD")
# Wednesday 2026-12-02, 15:00 UTC = 10:00 in New York.
WEDNESDAY_MORNING_NY = dt.datetime(2026, 12, 2, 15, 0, tzinfo=dt.timezone.utc)
SATURDAY = dt.datetime(2026, 12, 5, 15, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(autouse=True)
def no_staff_configured(monkeypatch, tmp_path):
    for name in (*NOTIFY_VARIABLES, "CLINIC_NAME", "CLINIC_PHONE", "CLINIC_BOOKING_URL", "TRACKER_STORE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TRACKER_DB_PATH", str(tmp_path / "tracker.db"))  # no staff accounts in it


@pytest.fixture
def staff_configured(monkeypatch):
    monkeypatch.setenv("NOTIFY_WEBHOOK_URL", "https://hooks.example.org/clinic")
    monkeypatch.setenv("STAFF_INBOX_URL", "https://assistant.example.org/staff")


async def test_without_staff_it_says_it_cannot_connect_and_promises_nothing(dispatcher, tracker_builder, domain, monkeypatch):
    monkeypatch.setenv("CLINIC_NAME", "Calm Clinic")
    monkeypatch.setenv("CLINIC_PHONE", "555-0100")
    monkeypatch.setenv("CLINIC_BOOKING_URL", "https://example.org/book")
    events = await ActionHandoffToHuman().run(dispatcher, tracker_builder(), domain)
    assert [m["response"] for m in dispatcher.messages] == ["utter_handoff", "utter_clinic_contact_phone_and_booking"]
    assert dispatcher.messages[0]["professional"] == (
        "your doctor or a licensed mental health professional, or the team at Calm Clinic"
    )
    # Not flagged for staff (no one would read it); it is the full referral.
    assert events == [SlotSet("referral_count", 1.0)]


async def test_without_clinic_details_it_still_names_a_professional(dispatcher, tracker_builder, domain):
    events = await ActionHandoffToHuman().run(
        dispatcher, tracker_builder(slots={"crisis_flagged": True, "referral_count": 2.0}), domain
    )
    # After a crisis in the session its rule gives the crisis reply next (data/rules/crisis.yml).
    assert [m["response"] for m in dispatcher.messages] == ["utter_handoff"]
    assert dispatcher.messages[0]["professional"] == "your doctor or a licensed mental health professional"
    assert events == [SlotSet("referral_count", 3.0)]


async def test_with_staff_reachable_it_connects_and_keeps_a_crisis_line_in_view(
    dispatcher, tracker_builder, domain, staff_configured, monkeypatch
):
    monkeypatch.setenv("HANDOFF_EXPECTED_WAIT", "15 minutes")
    events = await ActionHandoffToHuman().run(dispatcher, tracker_builder(), domain)
    assert [m["response"] for m in dispatcher.messages] == ["utter_handoff_connected", "utter_crisis_reminder"]
    assert dispatcher.messages[0]["handoff_wait"] == "usually within 15 minutes"
    assert events == [SlotSet("handoff_requested", True), SlotSet("referral_count", 1.0)]


async def test_with_staff_reachable_after_a_crisis_it_connects_and_leaves_the_crisis_reply_to_its_rule(
    dispatcher, tracker_builder, domain, staff_configured
):
    events = await ActionHandoffToHuman().run(dispatcher, tracker_builder(slots={"crisis_flagged": True}), domain)
    # No one-line reminder before the crisis reply its rule gives next.
    assert [m["response"] for m in dispatcher.messages] == ["utter_handoff_connected"]
    assert SlotSet("handoff_requested", True) in events


async def test_with_staff_but_closed_it_says_when_they_are_open(
    dispatcher, tracker_builder, domain, staff_configured, monkeypatch
):
    monkeypatch.setenv("CLINIC_HOURS", "Mon-Fri 09:00-17:00")
    monkeypatch.setenv("CLINIC_TIMEZONE", "America/New_York")
    monkeypatch.setenv("CLINIC_PHONE", "555-0100")
    monkeypatch.setenv("CLINIC_NAME", "Calm Clinic")
    closed = await ActionHandoffToHuman(now=lambda: SATURDAY).run(dispatcher, tracker_builder(), domain)
    assert [m["response"] for m in dispatcher.messages] == ["utter_handoff_closed", "utter_clinic_contact_phone"]
    assert dispatcher.messages[0]["clinic_hours"] == "Mon-Fri 09:00-17:00"
    assert closed == [SlotSet("referral_count", 1.0)]
    dispatcher.messages.clear()
    opened = await ActionHandoffToHuman(now=lambda: WEDNESDAY_MORNING_NY).run(dispatcher, tracker_builder(), domain)
    assert [m["response"] for m in dispatcher.messages] == ["utter_handoff_connected", "utter_crisis_reminder"]
    assert dispatcher.messages[0]["handoff_wait"] == "as soon as one is free"
    assert SlotSet("handoff_requested", True) in opened


@pytest.mark.parametrize(
    ("hours", "moment", "expected"),
    [
        ("Mon-Fri 09:00-17:00", dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.timezone.utc), True),
        ("Mon-Fri 09:00-17:00", dt.datetime(2026, 12, 2, 17, 0, tzinfo=dt.timezone.utc), False),
        ("Mon-Fri 09:00-17:00", dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.timezone.utc), False),  # Sunday
        ("Sat-Mon 10:00-12:00", dt.datetime(2026, 12, 6, 11, 0, tzinfo=dt.timezone.utc), True),  # wraps the week
        ("Sat-Mon 10:00-12:00", dt.datetime(2026, 12, 8, 11, 0, tzinfo=dt.timezone.utc), False),  # Tuesday
        ("wed 8:30-9:00", dt.datetime(2026, 12, 2, 8, 45, tzinfo=dt.timezone.utc), True),
    ],
)
def test_clinic_hours(hours, moment, expected):
    assert ClinicHours.parse(hours).open_at(moment) is expected


@pytest.mark.parametrize("hours", ["Mon-Fri", "Mon-Fru 09:00-17:00", "Mon 17:00-09:00", "always", "Mon-Fri 9-5"])
def test_invalid_clinic_hours_are_refused(hours):
    with pytest.raises(ValueError, match="CLINIC_HOURS"):
        ClinicHours.parse(hours)


def test_an_unknown_timezone_is_refused():
    with pytest.raises(Exception):  # noqa: B017 - zoneinfo raises its own ZoneInfoNotFoundError (a KeyError)
        ClinicHours.parse("Mon-Fri 09:00-17:00", "Mars/Olympus")


def test_a_notification_channel_without_the_inbox_link_is_an_error(monkeypatch):
    monkeypatch.setenv("NOTIFY_WEBHOOK_URL", "https://hooks.example.org/clinic")
    with pytest.raises(ValueError, match="STAFF_INBOX_URL"):
        load_handoff_settings()


def test_the_handoff_texts_refer_to_a_professional_and_promise_nothing(domain):
    responses = domain["responses"]
    assert "please contact {professional}" in responses["utter_handoff"][0]["text"]
    assert "please contact {professional}" in responses["utter_handoff_closed"][0]["text"]
    assert "not an emergency service" in responses["utter_handoff_connected"][0]["text"]
    for name in ("utter_handoff", "utter_handoff_closed", "utter_handoff_offline"):
        assert "noted" not in responses[name][0]["text"]


async def test_a_staff_inbox_with_accounts_is_someone_to_connect_to(dispatcher, tracker_builder, domain, tmp_path):
    # No email or webhook: the professionals watch the inbox itself (make run + one account).
    from bot.server.staff.accounts import StaffAccounts
    from bot.server.staff.store import engine_from_env

    StaffAccounts(engine_from_env({"TRACKER_DB_PATH": str(tmp_path / "tracker.db")})).add(
        "alice", "Dr Alice Smith", "a long staff password 42")
    events = await ActionHandoffToHuman().run(dispatcher, tracker_builder(), domain)
    assert [m["response"] for m in dispatcher.messages] == ["utter_handoff_connected", "utter_crisis_reminder"]
    assert SlotSet("handoff_requested", True) in events


def test_an_unreadable_staff_database_promises_nothing(monkeypatch, tmp_path):
    from actions.config import staff_inbox_open

    monkeypatch.setenv("TRACKER_DB_PATH", str(tmp_path))  # a directory, not a database file
    assert staff_inbox_open() is False
