"""What the staff inbox needs from the running assistant, as two small interfaces.

- TranscriptSource: a conversation's Rasa events, to show the transcript;
- TakeoverControl: told when a professional claims, replies in, releases or resolves a
  handoff, so the assistant can pause, deliver the reply on the person's channel, and
  resume. Its default does nothing: the live takeover replaces it.

Set them once at start-up with `configure(transcripts=..., takeover=...)`, or pass them to
StaffInboxChannel directly. Nothing here runs at import time.

A reply is stored in `staff_replies` (the outbox) before `on_reply` is called. The takeover
code may also record a delivered reply in the tracker as a bot event; if it puts
`{"staff_reply_id": <reply id>}` in that event's metadata, the transcript shows the reply
once, from the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Protocol, runtime_checkable

from bot.server.staff.store import Handoff, StaffReply


class TranscriptUnavailable(RuntimeError):
    """The conversation cannot be read right now (the assistant is still loading, say)."""


@runtime_checkable
class TranscriptSource(Protocol):
    async def events(self, sender_id: str) -> List[Dict[str, Any]]:
        """Rasa event dicts of the conversation, oldest first ("user" and "bot" events carry
        "text" and "timestamp"); other events are ignored. [] when there is none."""
        ...


@runtime_checkable
class TakeoverControl(Protocol):
    async def on_claim(self, handoff: Handoff) -> None:
        """A professional took the conversation: the assistant should stop answering."""
        ...

    async def on_reply(self, handoff: Handoff, reply: StaffReply) -> None:
        """A reply is in the outbox: deliver it on the person's channel."""
        ...

    async def on_release(self, handoff: Handoff) -> None:
        """The professional gave the conversation back to the waiting list, unresolved."""
        ...

    async def on_resolve(self, handoff: Handoff) -> None:
        """The handoff is closed: the assistant may answer again."""
        ...


class NoTakeover:
    """Does nothing: the inbox works as a read-and-record tool until the takeover exists."""

    async def on_claim(self, handoff: Handoff) -> None:
        return None

    async def on_reply(self, handoff: Handoff, reply: StaffReply) -> None:
        return None

    async def on_release(self, handoff: Handoff) -> None:
        return None

    async def on_resolve(self, handoff: Handoff) -> None:
        return None


class TrackerStoreTranscripts:
    """Reads a conversation from the Rasa server's tracker store (`app.ctx.agent`)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def events(self, sender_id: str) -> List[Dict[str, Any]]:
        agent = getattr(self.app.ctx, "agent", None)
        store = getattr(agent, "tracker_store", None)
        if store is None:
            raise TranscriptUnavailable("the assistant has not loaded its tracker store yet")
        # All sessions, not just the latest; and unlike retrieve(), this read does not take
        # the tracker out of EnvironmentTrackerStore's cache of recent conversations.
        tracker = await store.retrieve_full_tracker(sender_id)
        if tracker is None:
            return []
        return [event.as_dict() for event in tracker.events]


@dataclass
class _Configured:
    transcripts: Optional[TranscriptSource] = None
    takeover: Optional[TakeoverControl] = None


_configured = _Configured()


_UNCHANGED: Any = object()


def configure(*, transcripts: Any = _UNCHANGED, takeover: Any = _UNCHANGED) -> None:
    """Sets the implementations every StaffInboxChannel uses unless it was given its own.

    Only what is passed changes; None restores that one's default (the tracker store;
    NoTakeover).
    """
    if transcripts is not _UNCHANGED:
        _configured.transcripts = transcripts
    if takeover is not _UNCHANGED:
        _configured.takeover = takeover


def configured_transcripts() -> Optional[TranscriptSource]:
    return _configured.transcripts


def configured_takeover() -> Optional[TakeoverControl]:
    return _configured.takeover
