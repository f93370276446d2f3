"""Deleting a conversation from the staff inbox: confirmed, CSRF-protected, audited, real.

The inbox runs as in tests/server/staff/test_web.py (a real Sanic server, aiohttp browsers);
the conversation is in a real SQLite tracker store in the same database file.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

from bot.server.escalation.ledger import SqlClaimLedger
from bot.server.privacy.feedback import FeedbackStore
from bot.server.stores import EnvironmentTrackerStore
from tests.server.privacy.conftest import FAQ_TURN, GREETING_TURN, START, conversation
from tests.server.staff.conftest import clock, db_path, engine  # noqa: F401 - fixtures
from tests.server.staff.test_web import (  # noqa: F401 - fixtures
    Inbox,
    csrf_of,
    inbox,
    start_inbox,
    stores,
)

PERSON = "+447700900123"


@pytest.fixture
async def conversation_in_inbox(inbox: Inbox, db_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:  # noqa: F811
    """A conversation stored in the tracker store, its inbox entry with a reply, a notification
    claim and a rating: everything a deletion must remove."""
    import warnings

    monkeypatch.delenv("TRACKER_STORE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("REDIS_HOST", raising=False)
    monkeypatch.setenv("TRACKER_DB_PATH", str(db_path))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=sa.exc.SADeprecationWarning)  # Rasa's own URL()
        store = EnvironmentTrackerStore(domain=Domain.empty())
    await store.save(DialogueStateTracker.from_events(PERSON, conversation(START, [GREETING_TURN, FAQ_TURN])))
    await store.save(DialogueStateTracker.from_events("someone-else", conversation(START, [FAQ_TURN])))
    handoff = inbox.handoffs.open_handoff(PERSON, "twilio", "crisis", urgent=True)
    assert SqlClaimLedger(inbox.handoffs.engine).claim_sync(f"{handoff.ref}.crisis", "crisis", dt.datetime(2025, 6, 15))
    FeedbackStore(inbox.handoffs.engine).upsert(PERSON, START + 4.5, "utter_faq/session_length", True)
    yield handoff
    store.engine.dispose()


def count(served: Inbox, sql: str, **params: Any) -> int:
    with served.handoffs.engine.connect() as connection:
        return connection.execute(sa.text(sql), params).scalar_one()


def held(served: Inbox, ref: str) -> dict:
    return {
        "events": count(served, "SELECT count(*) FROM events WHERE sender_id = :s", s=PERSON),
        "handoffs": count(served, "SELECT count(*) FROM handoffs WHERE sender_id = :s", s=PERSON),
        "staff_replies": count(served, "SELECT count(*) FROM staff_replies WHERE handoff_ref = :r", r=ref),
        "claims": count(served, "SELECT count(*) FROM escalation_notifications WHERE id LIKE :p", p=f"{ref}.%"),
        "feedback": count(served, "SELECT count(*) FROM answer_feedback WHERE sender_id = :s", s=PERSON),
    }


async def test_a_professional_deletes_a_conversation_after_confirming(inbox: Inbox, conversation_in_inbox: Any) -> None:  # noqa: F811
    ref = conversation_in_inbox.ref
    alice = await inbox.signed_in("alice")
    assert (await alice.act(ref, "claim")).status == 303
    assert (await alice.act(ref, "reply", text="Are you safe?")).status == 303
    page = await alice.get(f"/staff/conversations/{ref}")
    assert f'action="/staff/conversations/{ref}/delete"' in page.text
    assert 'type="checkbox" id="delete-confirm" name="confirm" value="delete" required' in page.text
    before = held(inbox, ref)
    assert before == {"events": 13, "handoffs": 1, "staff_replies": 1, "claims": 1, "feedback": 1}

    # Not confirmed: nothing happens, and the page says why.
    answer = await alice.post(f"/staff/conversations/{ref}/delete", {"csrf_token": csrf_of(page.text)})
    assert answer.status == 400 and "Tick the box to confirm the deletion." in answer.text
    assert 'aria-invalid="true"' in answer.text
    assert held(inbox, ref) == before

    answer = await alice.post(
        f"/staff/conversations/{ref}/delete", {"csrf_token": csrf_of(page.text), "confirm": "delete"}
    )
    assert (answer.status, answer.location) == (303, "/staff?done=deleted")
    assert held(inbox, ref) == {"events": 0, "handoffs": 0, "staff_replies": 0, "claims": 0, "feedback": 0}
    assert count(inbox, "SELECT count(*) FROM events WHERE sender_id = 'someone-else'") > 0
    inbox_page = await alice.get(answer.location)
    assert "The conversation was deleted, with everything stored about it." in inbox_page.text
    assert (await alice.get(f"/staff/conversations/{ref}")).status == 404
    entry = inbox.handoffs.audit_log(1)[0]
    assert (entry.username, entry.action, entry.handoff_ref, entry.detail) == (
        "alice", "delete_conversation", ref, "13 events",
    )
    assert not any(PERSON in (e.detail or "") for e in inbox.handoffs.audit_log(100))


async def test_forged_deletes_do_nothing(inbox: Inbox, conversation_in_inbox: Any) -> None:  # noqa: F811
    ref = conversation_in_inbox.ref
    alice = await inbox.signed_in("alice")
    bob = await inbox.signed_in("bob")
    token = await alice.csrf()
    path = f"/staff/conversations/{ref}/delete"
    for form, headers in [
        ({"confirm": "delete"}, {}),
        ({"confirm": "delete", "csrf_token": "A" * 43}, {}),
        ({"confirm": "delete", "csrf_token": await bob.csrf()}, {}),
        ({"confirm": "delete", "csrf_token": token}, {"Origin": "https://evil.example"}),
        ({"confirm": "delete", "csrf_token": token}, {"Sec-Fetch-Site": "cross-site"}),
    ]:
        answer = await alice.post(path, form, headers=headers)
        assert answer.status == 403 and "nothing was done" in answer.text
    answer = await inbox.browser().post(path, {"confirm": "delete", "csrf_token": token})
    assert (answer.status, answer.location) == (303, "/staff/login")
    assert held(inbox, ref)["events"] == 13 and held(inbox, ref)["handoffs"] == 1
    assert "delete_conversation" not in [action for _, action in inbox.audit_actions()]


async def test_only_the_claimer_deletes_a_claimed_conversation(inbox: Inbox, conversation_in_inbox: Any) -> None:  # noqa: F811
    ref = conversation_in_inbox.ref
    bob = await inbox.signed_in("bob")
    assert (await bob.act(ref, "claim")).status == 303
    alice = await inbox.signed_in("alice")
    answer = await alice.act(ref, "delete", confirm="delete")
    assert answer.status == 409
    assert held(inbox, ref)["handoffs"] == 1
    assert (await alice.act("A" * 24, "delete", confirm="delete")).status == 404
