"""Conversations for the report's tests and benchmark, made of real Rasa events.

`Script` writes one conversation's events the way the running assistant stores them (the
rules of data/rules/*.yml, the actions' responses, Rasa's session start), with a clock the
caller controls, so a test knows every figure the report must show. `save_with_rasa` stores
them through Rasa's own SQLTrackerStore (the real schema, SQLite or PostgreSQL);
`insert_directly` writes the same rows in bulk, as bot/server/stores.py does, for the
10,000-conversation benchmark:

    .venv/bin/python -m tooling.report_conversations --conversations 10000 --db /tmp/report.db
    TRACKER_DB_PATH=/tmp/report.db .venv/bin/python -m bot report --since all --out /tmp/report

Test and benchmark tooling only: never imported by the assistant.
"""

from __future__ import annotations

import argparse
import json
import random
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)

LISTEN = "action_listen"
FAQ_TOPICS = (
    "what_is_tms", "how_it_works", "session_length", "treatment_course", "side_effects",
    "seizure_risk", "tms_vs_ect", "effectiveness", "who_is_it_for", "contraindications",
)
# Ten of each kind of intent the ranking lists: what Rasa stores makes the JSON this large.
_RANKED_INTENTS = (
    "faq", "out_of_scope", "greet", "advice_medication", "talk_to_human", "thank", "goodbye",
    "crisis", "ask_capabilities", "bot_challenge",
)


@dataclass
class Script:
    """One person's conversation; every method adds one turn (a user message and the reply)."""

    start: float
    channel: str = "rest"
    gap: float = 30.0  # seconds between one turn and the next
    events: List[Event] = field(default_factory=list)
    clock: float = 0.0
    referrals: int = 0

    def __post_init__(self) -> None:
        self.clock = self.start

    # --- building blocks ------------------------------------------------------------------

    def _tick(self, seconds: float = 0.01) -> float:
        self.clock += seconds
        return self.clock

    def session_start(self) -> Script:
        """What Rasa stores when a session starts (before the first message, or after an hour away)."""
        self.events += [
            ActionExecuted("action_session_start", timestamp=self._tick()),
            SessionStarted(timestamp=self._tick()),
            ActionExecuted(LISTEN, timestamp=self._tick()),
        ]
        return self

    def _user(self, text: str, intent: str, topic: Optional[str] = None, crisis_kind: str = "none",
              entities: Sequence[Dict[str, Any]] = ()) -> None:
        timestamp = self._tick(self.gap)
        self.events.append(
            UserUttered(
                text,
                intent={"name": intent, "confidence": 0.93},
                entities=list(entities),
                parse_data=_parse_data(text, intent, topic, crisis_kind, list(entities)),
                timestamp=timestamp,
                input_channel=self.channel,
                message_id=uuid.uuid4().hex,
            )
        )

    def _action(self, name: str) -> None:
        self.events.append(ActionExecuted(name, policy="RulePolicy", confidence=1.0, timestamp=self._tick()))

    def _say(self, response: str, text: str = "...", buttons: Optional[List[Dict[str, str]]] = None) -> None:
        data = {"buttons": buttons} if buttons else {}
        self.events.append(BotUttered(text, data=data, metadata={"utter_action": response}, timestamp=self._tick()))

    def _refer(self) -> None:
        self._action("action_refer_to_professional")
        self._say("utter_referral_first" if self.referrals == 0 else "utter_referral_short")
        self.referrals += 1
        self.events.append(SlotSet("referral_count", float(self.referrals), timestamp=self._tick()))

    def _listen(self) -> None:
        self._action(LISTEN)

    # --- turns ----------------------------------------------------------------------------

    def greet(self, text: str = "hi") -> Script:
        self._user(text, "greet")
        self._action("utter_greet")
        self._say("utter_greet")
        self._action("utter_ask_question")
        self._say("utter_ask_question")
        self._listen()
        return self

    def faq(self, text: str, topic: str) -> Script:
        """A question answered from the FAQ (`utter_faq/<topic>`), then the referral."""
        self._user(text, "faq", topic=topic)
        self._action("utter_faq")
        self._say(f"utter_faq/{topic}")
        self._refer()
        self._listen()
        return self

    def advice(self, text: str, kind: str = "medication") -> Script:
        self._user(text, f"advice_{kind}")
        self._action(f"utter_advice_{kind}")
        self._say(f"utter_advice_{kind}")
        self._refer()
        self._listen()
        return self

    def clarify(self, text: str) -> Script:
        """First fallback stage: "Did you mean one of these?" with topic buttons."""
        self._user(text, "nlu_fallback", topic=FAQ_TOPICS[0])
        self._action("action_offer_topics")
        self._say("utter_clarify", buttons=[{"title": "What is TMS?", "payload": "What is TMS?"}])
        self._refer()
        self._listen()
        return self

    def fallback(self, text: str) -> Script:
        """Second fallback stage: "I don't have information on that"."""
        self._user(text, "nlu_fallback", topic=FAQ_TOPICS[0])
        self._action("action_offer_topics")
        self._say("utter_no_information")
        self._refer()
        self._listen()
        return self

    def out_of_scope(self, text: str) -> Script:
        self._user(text, "out_of_scope")
        self._action("utter_out_of_scope")
        self._say("utter_out_of_scope")
        self._refer()
        self._listen()
        return self

    def handoff(self, text: str = "/talk_to_human", connected: bool = True) -> Script:
        """The person asks for someone; with staff reachable the escalation broker opens an entry."""
        self._user(text, "talk_to_human")
        self._action("action_handoff_to_human")
        if connected:
            self._say("utter_handoff_connected")
            self._say("utter_crisis_reminder")
            self.events.append(SlotSet("handoff_requested", True, timestamp=self._tick()))
        else:
            self._say("utter_handoff")
        self.events.append(SlotSet("referral_count", float(self.referrals + 1), timestamp=self._tick()))
        self._listen()
        return self

    def crisis(self, text: str, kind: str = "self") -> Script:
        entity = {"entity": "crisis_kind", "value": kind, "start": 0, "end": 0}
        self._user(text, "crisis", crisis_kind=kind, entities=[entity])
        self.events.append(SlotSet("crisis_kind", kind, timestamp=self._tick()))
        self.events.append(SlotSet("crisis_flagged", True, timestamp=self._tick()))
        self._action("utter_crisis")
        self._say("utter_crisis")
        self._listen()
        return self

    def thank(self, text: str = "thanks") -> Script:
        self._user(text, "thank")
        self._action("utter_thank")
        self._say("utter_thank")
        self._action("utter_referral_short")
        self._say("utter_referral_short")
        self._listen()
        return self

    def staff_reply(self, text: str = "Hello, a professional here.") -> Script:
        """A professional's message during a takeover: not the assistant's reply."""
        self.events.append(
            BotUttered(text, metadata={"staff_reply_id": 1, "utter_action": "utter_staff"}, timestamp=self._tick())
        )
        return self


def _parse_data(text: str, intent: str, topic: Optional[str], crisis_kind: str,
                entities: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Parse data shaped like the model's: intent ranking, response selector, crisis decision."""
    ranking = [{"name": intent, "confidence": 0.93}] + [
        {"name": name, "confidence": round(0.07 / (index + 2), 4)}
        for index, name in enumerate(n for n in _RANKED_INTENTS if n != intent)
    ]
    faq_ranking = [
        {"id": index, "confidence": round(0.9 / (index + 1), 4), "intent_response_key": f"faq/{name}"}
        for index, name in enumerate(FAQ_TOPICS)
    ]
    chosen = topic or FAQ_TOPICS[0]
    selector = {
        "response": {
            "responses": [{"text": "..."}],
            "confidence": 0.9,
            "intent_response_key": f"faq/{chosen}",
            "utter_action": f"utter_faq/{chosen}",
        },
        "ranking": faq_ranking,
    }
    return {
        "text": text,
        "intent": {"name": intent, "confidence": 0.93},
        "entities": entities,
        "intent_ranking": ranking[:10],
        "response_selector": {"all_retrieval_intents": ["faq"], "default": selector, "faq": selector},
        "crisis": {"score": 0.9 if crisis_kind != "none" else 0.01, "part_score": 0.0, "kind": crisis_kind,
                   "patterns": [], "classifier_intent": intent, "resolved_history": False},
    }


# --- Storing ------------------------------------------------------------------------------


async def save_with_rasa(store: Any, sender_id: str, events: Sequence[Event]) -> None:
    """Stores a conversation through a Rasa tracker store (e.g. SQLTrackerStore): its schema, its rows."""
    from rasa.shared.core.trackers import DialogueStateTracker

    tracker = DialogueStateTracker.from_events(sender_id, list(events))
    await store.save(tracker)


def rows(sender_id: str, events: Sequence[Event]) -> List[Dict[str, Any]]:
    """The rows Rasa's SQLTrackerStore (and bot/server/stores.py) stores for these events."""
    out = []
    for event in events:
        data = event.as_dict()
        out.append(
            {
                "sender_id": sender_id,
                "type_name": event.type_name,
                "timestamp": data.get("timestamp"),
                "intent_name": (data.get("parse_data") or {}).get("intent", {}).get("name"),
                "action_name": data.get("name"),
                "data": json.dumps(data),
            }
        )
    return out


def insert_directly(engine: Any, conversations: Sequence[tuple]) -> None:
    """Bulk-inserts (sender_id, events) pairs into Rasa's events table (created if missing)."""
    from rasa.core.tracker_store import SQLTrackerStore

    table = SQLTrackerStore.SQLEvent.__table__
    table.create(engine, checkfirst=True)
    with engine.begin() as connection:
        batch: List[Dict[str, Any]] = []
        for sender_id, events in conversations:
            batch += rows(sender_id, events)
            if len(batch) >= 5000:
                connection.execute(table.insert(), batch)
                batch = []
        if batch:
            connection.execute(table.insert(), batch)


# --- The benchmark's synthetic traffic ------------------------------------------------------

UNANSWERED = (
    "how much does tms cost", "does insurance cover tms", "is there a tms clinic near me",
    "can I have tms while pregnant", "can teenagers get tms", "does tms help anxiety",
    "tms for ocd", "can I drink alcohol during tms", "do I need a referral for tms",
    "does tms cause weight gain", "what is the weather", "my name is Sarah Jones, call me on 555-123-4567",
)


def _phrased(rng: random.Random, question: str) -> str:
    """The same question written a little differently, as people do."""
    return rng.choice(("", "hi, ", "quick question: ", "ok so ")) + question + rng.choice(("", "?", " please", "??"))


def synthetic(count: int, days: int = 30, seed: int = 14, now: Optional[float] = None) -> List[tuple]:
    """`count` conversations over the last `days` days: answers, misses, handoffs, crises."""
    rng = random.Random(seed)
    now = time.time() if now is None else now
    channels = ("rest", "rest", "rest", "telegram", "twilio", "socketio")
    made = []
    for number in range(count):
        script = Script(start=now - rng.uniform(0, days * 86400), channel=rng.choice(channels), gap=rng.uniform(5, 90))
        script.session_start()
        if rng.random() < 0.5:
            script.greet()
        for _ in range(rng.randint(1, 5)):
            roll = rng.random()
            if roll < 0.6:
                topic = rng.choice(FAQ_TOPICS)
                script.faq(f"question about {topic.replace('_', ' ')} {rng.randint(1, 50)}", topic)
            elif roll < 0.7:
                script.clarify(_phrased(rng, rng.choice(UNANSWERED)))
            elif roll < 0.77:
                script.fallback(_phrased(rng, rng.choice(UNANSWERED)))
            elif roll < 0.87:
                script.out_of_scope(_phrased(rng, rng.choice(UNANSWERED)))
            elif roll < 0.92:
                script.advice("should I stop my meds", rng.choice(("medication", "suitability")))
            elif roll < 0.96:
                script.handoff()
            elif roll < 0.97:
                script.crisis("synthetic crisis message")
            else:
                script.thank()
        made.append((f"synthetic-{number:06d}", script.events))
    return made


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Synthetic conversations into a SQLite tracker store")
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--db", type=Path, required=True)
    args = parser.parse_args(argv)
    import sqlalchemy

    started = time.monotonic()
    engine = sqlalchemy.create_engine(f"sqlite:///{args.db}")
    made = synthetic(args.conversations, args.days)
    insert_directly(engine, made)
    events = sum(len(events) for _, events in made)
    print(f"{len(made)} conversations, {events} events into {args.db} in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
