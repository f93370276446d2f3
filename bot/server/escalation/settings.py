"""Notification settings read from environment variables, checked once when loaded.

Each channel is optional: its variables absent means it is off. A channel that is half
configured, or configured wrongly, stops the start with a ValueError naming the variable,
because an escalation that silently reaches nobody is worse than a server that does not start.

Email (SMTP):
- NOTIFY_SMTP_HOST turns email on; NOTIFY_EMAIL_FROM and NOTIFY_EMAIL_TO (comma-separated)
  are then required.
- NOTIFY_SMTP_PORT (default 587), NOTIFY_SMTP_SECURITY: starttls (default) | tls | none.
- NOTIFY_SMTP_USER and NOTIFY_SMTP_PASSWORD, together or not at all; never sent unencrypted
  (security none) except to a server on this machine.
Webhook:
- NOTIFY_WEBHOOK_URL (http or https) turns it on; NOTIFY_WEBHOOK_SECRET signs each request.
Both:
- STAFF_INBOX_URL: public base URL of the staff inbox, required when a channel is on (every
  notification links to the conversation there).
- NOTIFY_MAX_ATTEMPTS (default 5): tries per channel and escalation before giving up.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import Callable, Mapping, Optional, Tuple
from urllib.parse import urlsplit

SMTP_SECURITY_MODES = ("starttls", "tls", "none")
DEFAULT_SMTP_PORT = 587
DEFAULT_SMTP_SECURITY = "starttls"
DEFAULT_MAX_ATTEMPTS = 5
# More tries than this would keep retrying for hours with exponential back-off.
MAX_MAX_ATTEMPTS = 20
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")

# Reads one variable: stripped, None when absent or empty.
_Getter = Callable[[str], Optional[str]]

EMAIL_VARIABLES = (
    "NOTIFY_SMTP_PORT",
    "NOTIFY_SMTP_SECURITY",
    "NOTIFY_SMTP_USER",
    "NOTIFY_SMTP_PASSWORD",
    "NOTIFY_EMAIL_FROM",
    "NOTIFY_EMAIL_TO",
)


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send the email; the password is kept out of repr (and so out of logs)."""

    host: str
    port: int
    security: str
    sender: str
    recipients: Tuple[str, ...]
    user: Optional[str] = None
    password: Optional[str] = field(default=None, repr=False)


@dataclass(frozen=True)
class WebhookSettings:
    """Where to POST; the secret is kept out of repr."""

    url: str
    secret: Optional[str] = field(default=None, repr=False)


@dataclass(frozen=True)
class NotificationSettings:
    """All notification settings; `enabled` is False when no channel is configured."""

    email: Optional[SmtpSettings] = None
    webhook: Optional[WebhookSettings] = None
    staff_inbox_url: Optional[str] = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS

    @property
    def enabled(self) -> bool:
        return self.email is not None or self.webhook is not None

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> NotificationSettings:
        """Reads and checks the NOTIFY_* variables (and STAFF_INBOX_URL); raises ValueError."""
        env = os.environ if environ is None else environ

        def get(name: str) -> Optional[str]:
            value = (env.get(name) or "").strip()
            return value or None

        email = _email_settings(get)
        webhook = _webhook_settings(get)
        max_attempts = _int_in_range(
            get, "NOTIFY_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS, 1, MAX_MAX_ATTEMPTS
        )
        staff_inbox_url = get("STAFF_INBOX_URL")
        if staff_inbox_url is not None:
            if not _is_http_url(staff_inbox_url):
                raise ValueError(
                    f"STAFF_INBOX_URL must be an http:// or https:// URL, got {staff_inbox_url!r}."
                )
            staff_inbox_url = staff_inbox_url.rstrip("/")
        elif email is not None or webhook is not None:
            raise ValueError(
                "STAFF_INBOX_URL is required when NOTIFY_SMTP_HOST or NOTIFY_WEBHOOK_URL is set: "
                "every notification links to the conversation in the staff inbox."
            )
        return cls(
            email=email,
            webhook=webhook,
            staff_inbox_url=staff_inbox_url,
            max_attempts=max_attempts,
        )


def _email_settings(get: _Getter) -> Optional[SmtpSettings]:
    host = get("NOTIFY_SMTP_HOST")
    if host is None:
        present = [name for name in EMAIL_VARIABLES if get(name) is not None]
        if present:
            raise ValueError(
                f"NOTIFY_SMTP_HOST is required when {', '.join(present)} "
                f"{'is' if len(present) == 1 else 'are'} set."
            )
        return None
    port = _int_in_range(get, "NOTIFY_SMTP_PORT", DEFAULT_SMTP_PORT, 1, 65535)
    security = (get("NOTIFY_SMTP_SECURITY") or DEFAULT_SMTP_SECURITY).lower()
    if security not in SMTP_SECURITY_MODES:
        raise ValueError(
            f"NOTIFY_SMTP_SECURITY must be one of {', '.join(SMTP_SECURITY_MODES)}, "
            f"got {security!r}."
        )
    sender = get("NOTIFY_EMAIL_FROM")
    if sender is None:
        raise ValueError("NOTIFY_EMAIL_FROM is required when NOTIFY_SMTP_HOST is set.")
    _check_address("NOTIFY_EMAIL_FROM", sender)
    recipients = tuple(
        address.strip() for address in (get("NOTIFY_EMAIL_TO") or "").split(",") if address.strip()
    )
    if not recipients:
        raise ValueError(
            "NOTIFY_EMAIL_TO (comma-separated addresses) is required when NOTIFY_SMTP_HOST is set."
        )
    for address in recipients:
        _check_address("NOTIFY_EMAIL_TO", address)
    user, password = get("NOTIFY_SMTP_USER"), get("NOTIFY_SMTP_PASSWORD")
    if (user is None) != (password is None):
        missing = "NOTIFY_SMTP_PASSWORD" if password is None else "NOTIFY_SMTP_USER"
        raise ValueError(f"{missing} is required: set NOTIFY_SMTP_USER and NOTIFY_SMTP_PASSWORD together.")
    if user is not None and security == "none" and host.lower() not in LOOPBACK_HOSTS:
        raise ValueError(
            "NOTIFY_SMTP_SECURITY=none would send NOTIFY_SMTP_PASSWORD unencrypted to "
            f"{host}; use starttls or tls."
        )
    return SmtpSettings(
        host=host,
        port=port,
        security=security,
        sender=sender,
        recipients=recipients,
        user=user,
        password=password,
    )


def _webhook_settings(get: _Getter) -> Optional[WebhookSettings]:
    url, secret = get("NOTIFY_WEBHOOK_URL"), get("NOTIFY_WEBHOOK_SECRET")
    if url is None:
        if secret is not None:
            raise ValueError("NOTIFY_WEBHOOK_URL is required when NOTIFY_WEBHOOK_SECRET is set.")
        return None
    if not _is_http_url(url):
        # The URL may carry a token (Slack, Teams): name the variable, not the value.
        raise ValueError("NOTIFY_WEBHOOK_URL must be an http:// or https:// URL with a host.")
    return WebhookSettings(url=url, secret=secret)


def _int_in_range(get: _Getter, name: str, default: int, low: int, high: int) -> int:
    raw = get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, got {raw!r}.") from None
    if not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value}.")
    return value


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _check_address(name: str, address: str) -> None:
    """A bare or named address, without line breaks (they would inject mail headers)."""
    _, bare = parseaddr(address)
    if "\r" in address or "\n" in address or "@" not in bare or bare.startswith("@") or bare.endswith("@"):
        raise ValueError(f"{name} has an invalid email address: {address!r}.")
