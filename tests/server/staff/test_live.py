"""The live takeover's own logic: timeouts, labels, settings (the whole path runs in
tests/test_staff_takeover.py against real servers)."""

from __future__ import annotations

import pytest

from bot.server.staff.live import (
    TIMED_OUT,
    claim_timeout_seconds,
    close_unclaimed,
    platform_output,
    staff_label,
)
from bot.server.staff.store import StaffReply


class RecordingTakeover:
    def __init__(self, fail_for=()):
        self.timed_out = []
        self.fail_for = set(fail_for)

    async def on_timeout(self, handoff):
        if handoff.sender_id in self.fail_for:
            raise ConnectionError("platform down")
        self.timed_out.append(handoff.sender_id)


async def test_only_requests_for_a_person_nobody_claimed_in_time_are_closed_and_told(repository, clock):
    asked = repository.open_handoff("web-a", "website", "asked_for_person", urgent=False)
    crisis_only = repository.open_handoff("web-b", "website", "crisis", urgent=True)
    claimed = repository.open_handoff("web-c", "telegram", "asked_for_person", urgent=False)
    repository.claim(claimed.ref, "alice")
    clock.now += 600
    fresh = repository.open_handoff("web-d", "website", "asked_for_person", urgent=False)
    takeover = RecordingTakeover()

    assert await close_unclaimed(repository, takeover, timeout_seconds=300) == 1
    assert takeover.timed_out == ["web-a"]
    assert (repository.get(asked.ref).status, repository.get(asked.ref).claimed_by) == ("resolved", TIMED_OUT)
    assert repository.get(crisis_only.ref).status == "waiting"  # promised nothing: stays for staff
    assert repository.get(claimed.ref).status == "claimed"
    assert repository.get(fresh.ref).status == "waiting"
    assert ("timed_out", asked.ref) in [(entry.action, entry.handoff_ref) for entry in repository.audit_log()]
    # A second instance running the same check tells nobody twice.
    assert await close_unclaimed(repository, takeover, timeout_seconds=300) == 0
    assert takeover.timed_out == ["web-a"]


async def test_a_failed_delivery_does_not_stop_the_others(repository, clock):
    repository.open_handoff("+15550100", "twilio", "asked_for_person", urgent=False)
    repository.open_handoff("web-e", "website", "asked_for_person", urgent=False)
    clock.now += 600
    takeover = RecordingTakeover(fail_for={"+15550100"})
    assert await close_unclaimed(repository, takeover, timeout_seconds=300) == 1
    assert takeover.timed_out == ["web-e"]


@pytest.mark.parametrize(("value", "seconds"), [(None, 1800.0), ("", 1800.0), ("5", 300.0), ("0.5", 30.0)])
def test_claim_timeout_setting(value, seconds):
    environ = {} if value is None else {"HANDOFF_CLAIM_TIMEOUT_MINUTES": value}
    assert claim_timeout_seconds(environ) == seconds


@pytest.mark.parametrize("value", ["0", "-3", "2000", "soon"])
def test_bad_claim_timeouts_are_refused(value):
    with pytest.raises(ValueError):
        claim_timeout_seconds({"HANDOFF_CLAIM_TIMEOUT_MINUTES": value})


def test_plain_text_platforms_show_who_is_writing():
    reply = StaffReply(id=1, handoff_ref="r", username="alice", display_name="Dr Alice Smith", text="Hello", created_at=0.0)
    assert staff_label(reply) == "Dr Alice Smith (clinic team): Hello"


def test_the_website_has_no_send_api_and_an_unset_platform_is_off(monkeypatch):
    for name in ("TELEGRAM_TOKEN", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert platform_output("website") is None
    assert platform_output("telegram") is None
    assert platform_output("twilio") is None
