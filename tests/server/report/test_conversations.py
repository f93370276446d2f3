"""One person's events -> conversation summaries: sessions, outcomes, and whose words are kept."""

from __future__ import annotations

from typing import List

from rasa.shared.core.events import Event

from bot.server.report import outcomes
from bot.server.report.conversations import summarize
from bot.server.report.redact import NAME
from bot.server.report.source import READ_KINDS, EventRow
from tooling.report_conversations import Script


def rows(events: List[Event]) -> List[EventRow]:
    """The rows source.events_by_sender hands out for these events."""
    out = []
    for event in events:
        data = event.as_dict()
        if event.type_name not in READ_KINDS:
            continue
        out.append(
            EventRow(
                type_name=event.type_name,
                timestamp=event.timestamp,
                action_name=data.get("name") if event.type_name == "action" else None,
                intent_name=(data.get("parse_data") or {}).get("intent", {}).get("name"),
                data=data if event.type_name in ("user", "bot") else None,
            )
        )
    return out


def test_sessions_are_conversations_and_turns_get_their_outcomes():
    script = Script(1000.0, "telegram").session_start().faq("what is tms", "what_is_tms").clarify("cost?")
    script.session_start().fallback("price?").handoff()
    first, second = summarize(rows(script.events))
    assert first.channel == "telegram" and second.channel == "telegram"
    assert [t.outcome for t in first.turns] == [outcomes.ANSWERED, outcomes.CLARIFY]
    assert [t.outcome for t in second.turns] == [outcomes.FALLBACK, outcomes.HANDOFF]
    assert first.contained and not second.contained
    assert first.turns[0].answers == ("utter_faq/what_is_tms",)
    assert first.unanswered == ("cost?",)
    assert second.unanswered == ("price?",)  # the handoff's /talk_to_human is a command


def test_a_session_with_no_message_is_not_a_conversation():
    script = Script(1000.0).session_start().session_start().faq("what is tms", "what_is_tms").session_start()
    assert len(summarize(rows(script.events))) == 1


def test_unanswered_text_is_redacted_before_it_is_kept():
    script = Script(1000.0).session_start().out_of_scope("my name is Sarah Jones, what does it cost")
    (conversation,) = summarize(rows(script.events))
    assert conversation.unanswered == (f"my name is {NAME}, what does it cost",)


def test_nothing_is_kept_from_a_person_in_crisis_in_any_of_their_conversations():
    script = Script(1000.0).session_start().out_of_scope("how much does it cost")
    script.session_start().crisis("crisis words")
    conversations = summarize(rows(script.events))
    assert [c.unanswered for c in conversations] == [(), ()]
    assert [c.crisis_detections for c in conversations] == [0, 1]


def test_a_crisis_signal_below_the_decision_also_withholds_the_words():
    """A calm mention of crisis long past (kind "caution"), a matched phrase, or DIET's crisis
    guess that the detector overruled: the turn is answered normally, its words are not kept."""
    for decision in ({"kind": "caution", "patterns": []}, {"kind": "none", "patterns": ["overdose"]},
                     {"kind": "none", "patterns": [], "classifier_intent": "crisis"}):
        script = Script(1000.0).session_start().out_of_scope("words")
        user = next(e for e in script.events if e.type_name == "user")
        user.parse_data["crisis"] = decision
        (conversation,) = summarize(rows(script.events))
        assert conversation.unanswered == (), decision
        assert conversation.turns[0].outcome == outcomes.OUT_OF_SCOPE


def test_a_handoffs_crisis_reminder_does_not_withhold_the_words():
    script = Script(1000.0).session_start().clarify("is it covered by insurance").handoff()
    (conversation,) = summarize(rows(script.events))
    assert conversation.unanswered == ("is it covered by insurance",)


def test_a_professionals_reply_is_not_the_assistants():
    script = Script(1000.0).session_start().handoff("can I talk to someone")
    script.staff_reply("I'm a professional; out of scope for me")
    (conversation,) = summarize(rows(script.events))
    assert [t.outcome for t in conversation.turns] == [outcomes.HANDOFF]


def test_events_before_the_first_message_are_ignored():
    script = Script(1000.0).session_start()
    script._say("utter_no_information")  # noqa: SLF001 - a stray bot message before any user message
    script.faq("what is tms", "what_is_tms")
    (conversation,) = summarize(rows(script.events))
    assert conversation.contained
