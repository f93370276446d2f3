"""Escalation that reaches a person: notifying the clinic when a conversation needs one.

See notify.py (what is sent and how), settings.py (the NOTIFY_* variables) and ledger.py
(once per escalation across instances). Importing this package does nothing else.
"""

from bot.server.escalation.ledger import (
    ClaimLedger,
    InMemoryClaimLedger,
    SqlClaimLedger,
    ledger_from_env,
)
from bot.server.escalation.notify import (
    REASONS,
    Escalation,
    Message,
    Notifier,
    message_for,
    sign,
    verify_signature,
)
from bot.server.escalation.settings import NotificationSettings, SmtpSettings, WebhookSettings

__all__ = [
    "REASONS",
    "ClaimLedger",
    "Escalation",
    "InMemoryClaimLedger",
    "Message",
    "NotificationSettings",
    "Notifier",
    "SmtpSettings",
    "SqlClaimLedger",
    "WebhookSettings",
    "ledger_from_env",
    "message_for",
    "sign",
    "verify_signature",
]
