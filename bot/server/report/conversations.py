"""One person's stored events -> a compact summary of each of their conversations.

A conversation is one Rasa session (the events between two `session_started` events)
with at least one user message; a session already running when the report's period
began counts from its first event in the period. A turn is one user message and what the
assistant did until the next one; its outcome is decided in outcomes.py.

The summaries keep times, channel, outcomes and the answers' response names. Of what people
wrote they keep only the unanswered questions, redacted (redact.py) here, before anything
else sees them, and none at all from a person who used crisis language in the period:
not the crisis message, and not their other messages either (outcomes.py says what counts
as a crisis signal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from bot.server.report import outcomes
from bot.server.report.redact import redact
from bot.server.report.source import ACTION, BOT, SESSION_STARTED, USER, EventRow

UNKNOWN_CHANNEL = "unknown"
# Rasa's own action that waits for the next message: not something the assistant did.
LISTEN = "action_listen"


@dataclass(frozen=True)
class Turn:
    at: float
    outcome: str
    crisis: bool  # the user message was read as crisis language (a detection)
    answers: Tuple[str, ...]  # FAQ and advice responses sent, e.g. "utter_faq/session_length"


@dataclass(frozen=True)
class Conversation:
    started_at: float  # the first user message's time
    channel: str  # Rasa's input channel of the first user message ("rest", "telegram", ...)
    turns: Tuple[Turn, ...]
    unanswered: Tuple[str, ...]  # redacted texts of the turns that ended unanswered

    @property
    def messages(self) -> int:
        return len(self.turns)

    @property
    def has_fallback(self) -> bool:
        return any(turn.outcome == outcomes.FALLBACK for turn in self.turns)

    @property
    def has_handoff(self) -> bool:
        return any(turn.outcome == outcomes.HANDOFF for turn in self.turns)

    @property
    def contained(self) -> bool:
        """Handled by the assistant alone: no second-stage fallback and no handoff."""
        return not (self.has_fallback or self.has_handoff)

    @property
    def crisis_detections(self) -> int:
        return sum(turn.crisis for turn in self.turns)


@dataclass
class _OpenTurn:
    at: float
    intent: Optional[str]
    text: Optional[str]
    channel: Optional[str]
    crisis_signal: bool
    actions: List[str] = field(default_factory=list)
    responses: List[str] = field(default_factory=list)

    def close(self) -> Turn:
        outcome = outcomes.turn_outcome(self.intent, self.actions, self.responses)
        answers = tuple(response for response in self.responses if outcomes.is_answer(response))
        return Turn(at=self.at, outcome=outcome, crisis=self.intent == outcomes.CRISIS_INTENT, answers=answers)

    @property
    def crisis_related(self) -> bool:
        return (
            self.crisis_signal
            or self.intent == outcomes.CRISIS_INTENT
            or any(outcomes.is_crisis_related(response) for response in self.responses)
        )


def summarize(events: Sequence[EventRow]) -> List[Conversation]:
    """The conversations in one sender's events (stored order)."""
    sessions: List[List[_OpenTurn]] = [[]]
    for event in events:
        if event.type_name == SESSION_STARTED:
            if sessions[-1]:
                sessions.append([])
        elif event.type_name == USER:
            sessions[-1].append(_user_turn(event))
        elif not sessions[-1]:
            continue  # what the assistant did before the first message of a session
        elif event.type_name == BOT:
            response = _response_name(event.data)
            if response:
                sessions[-1][-1].responses.append(response)
        elif event.type_name == ACTION and event.action_name and event.action_name != LISTEN:
            sessions[-1][-1].actions.append(event.action_name)
    # A person who used crisis language in the period: none of their words are kept.
    withhold = any(turn.crisis_related for session in sessions for turn in session)
    return [_conversation(session, withhold) for session in sessions if session]


def _conversation(session: List[_OpenTurn], withhold_text: bool) -> Conversation:
    turns = tuple(turn.close() for turn in session)
    unanswered: Tuple[str, ...] = ()
    if not withhold_text:
        unanswered = tuple(
            redact(open_turn.text.strip())
            for open_turn, turn in zip(session, turns, strict=True)
            if turn.outcome in outcomes.UNANSWERED_OUTCOMES and _own_words(open_turn.text)
        )
    first = session[0]
    return Conversation(
        started_at=first.at,
        channel=first.channel or UNKNOWN_CHANNEL,
        turns=turns,
        unanswered=unanswered,
    )


def _own_words(text: Optional[str]) -> bool:
    """Something the person typed: not empty, not a button's or the widget's command."""
    return bool(text and text.strip()) and not text.strip().startswith(outcomes.COMMAND_PREFIX)


def _user_turn(event: EventRow) -> _OpenTurn:
    data: Mapping[str, Any] = event.data or {}
    parse_data = data.get("parse_data") if isinstance(data.get("parse_data"), Mapping) else {}
    intent = event.intent_name or _intent_name(parse_data)
    text = data.get("text")
    channel = data.get("input_channel")
    return _OpenTurn(
        at=event.timestamp,
        intent=intent,
        text=text if isinstance(text, str) else None,
        channel=channel if isinstance(channel, str) and channel else None,
        crisis_signal=_crisis_signal(parse_data),
    )


def _intent_name(parse_data: Mapping[str, Any]) -> Optional[str]:
    intent = parse_data.get("intent")
    name = intent.get("name") if isinstance(intent, Mapping) else None
    return name if isinstance(name, str) else None


def _crisis_signal(parse_data: Mapping[str, Any]) -> bool:
    """Any sign the crisis detector saw crisis language, even below its decision."""
    for entity in parse_data.get("entities") or []:
        if isinstance(entity, Mapping) and entity.get("entity") == outcomes.CRISIS_KIND_ENTITY:
            return True
    decision = parse_data.get(outcomes.CRISIS_PARSE_KEY)
    if isinstance(decision, Mapping):
        if decision.get("patterns") or decision.get("kind") not in (None, outcomes.CRISIS_NONE_KIND):
            return True
        if decision.get("classifier_intent") == outcomes.CRISIS_INTENT:  # DIET's guess, overruled
            return True
    return False


def _response_name(data: Optional[Dict[str, Any]]) -> Optional[str]:
    """The domain response a bot message came from; None for a professional's reply."""
    metadata = (data or {}).get("metadata")
    if not isinstance(metadata, Mapping) or outcomes.STAFF_REPLY_KEY in metadata:
        return None
    name = metadata.get("utter_action")
    return name if isinstance(name, str) and name else None
