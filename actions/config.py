"""Settings of the action server, read from environment variables when an action runs."""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Text
from zoneinfo import ZoneInfo

from bot.safety_text import PROFESSIONAL_DEFAULT_RESPONSE, safety_texts

logger = logging.getLogger(__name__)


def professional_default(domain: Optional[Mapping[Text, Any]] = None) -> Text:
    """Whom referrals name when no clinic is configured: the domain's utter_professional_default.

    Read from the domain the action received; from domain.yml when that is not given
    (or lacks the response). The wording is written nowhere else.
    """
    responses = domain.get("responses") if isinstance(domain, Mapping) else None
    variations = responses.get(PROFESSIONAL_DEFAULT_RESPONSE) if isinstance(responses, Mapping) else None
    for variation in variations if isinstance(variations, list) else []:
        text = variation.get("text") if isinstance(variation, dict) and not variation.get("condition") else None
        if isinstance(text, str) and text.strip():
            return text.strip()
    return safety_texts().professional_default


@dataclass(frozen=True)
class ClinicContact:
    """Who people are referred to. Every field is optional; empty means "not configured"."""

    name: Optional[Text] = None
    phone: Optional[Text] = None
    booking_url: Optional[Text] = None
    # utter_professional_default; None: read from domain.yml when first needed.
    default_professional: Optional[Text] = None

    @property
    def professional(self) -> Text:
        """How referral sentences name the people to talk to."""
        default = self.default_professional or professional_default()
        if self.name:
            return f"{default}, or the team at {self.name}"
        return default

    @property
    def contact_response(self) -> Optional[Text]:
        """The domain response that gives this clinic's contact details, if any."""
        if not self.name:
            return None
        if self.phone and self.booking_url:
            return "utter_clinic_contact_phone_and_booking"
        if self.phone:
            return "utter_clinic_contact_phone"
        if self.booking_url:
            return "utter_clinic_contact_booking"
        return None

    def template_values(self) -> dict:
        professional = self.professional
        return {
            "professional": professional,
            "professional_capitalized": professional[:1].upper() + professional[1:],
            "clinic_name": self.name or "",
            "clinic_phone": self.phone or "",
            "clinic_booking_url": self.booking_url or "",
        }


def _clean(value: Optional[Text]) -> Optional[Text]:
    value = (value or "").strip()
    return value or None


def load_clinic_contact(
    environ: Mapping[Text, Text] = os.environ, domain: Optional[Mapping[Text, Any]] = None
) -> ClinicContact:
    """Reads CLINIC_NAME, CLINIC_PHONE and CLINIC_BOOKING_URL; the default wording from `domain`.

    Actions should pass the `domain` their run() receives; without it the default wording
    comes from domain.yml (the same text, read once).
    """
    return ClinicContact(
        name=_clean(environ.get("CLINIC_NAME")),
        phone=_clean(environ.get("CLINIC_PHONE")),
        booking_url=_clean(environ.get("CLINIC_BOOKING_URL")),
        default_professional=professional_default(domain),
    )


# --- Reaching a person (bot/server/escalation tells the clinic; bot/server/staff is where they answer) ---
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(
    r"^\s*(?P<first>[a-z]{3})(?:\s*-\s*(?P<last>[a-z]{3}))?\s+(?P<open>\d{1,2}:\d{2})\s*-\s*(?P<close>\d{1,2}:\d{2})\s*$"
)


@dataclass(frozen=True)
class ClinicHours:
    """When the clinic's staff answer the inbox, e.g. "Mon-Fri 09:00-17:00" in CLINIC_TIMEZONE."""

    text: Text
    days: frozenset
    opens: dt.time
    closes: dt.time
    timezone: Text = "UTC"

    @classmethod
    def parse(cls, text: Text, timezone: Text = "UTC") -> ClinicHours:
        match = _HOURS.match(text.lower())
        if not match:
            raise ValueError(f"CLINIC_HOURS must look like 'Mon-Fri 09:00-17:00', not {text!r}")
        named = [match["first"], match["last"] or match["first"]]
        if any(day not in WEEKDAYS for day in named):
            raise ValueError(f"CLINIC_HOURS: unknown day in {text!r} (use Mon, Tue, ... Sun)")
        first, last = (WEEKDAYS.index(day) for day in named)
        days = frozenset(WEEKDAYS[(first + i) % 7] for i in range((last - first) % 7 + 1))
        opens, closes = (dt.time.fromisoformat(match[k].zfill(5)) for k in ("open", "close"))
        if opens >= closes:
            raise ValueError(f"CLINIC_HOURS: the opening time must be before the closing time in {text!r}")
        ZoneInfo(timezone)  # an unknown zone fails here, at start-up
        return cls(text.strip(), days, opens, closes, timezone)

    def open_at(self, moment: dt.datetime) -> bool:
        local = moment.astimezone(ZoneInfo(self.timezone))
        return WEEKDAYS[local.weekday()] in self.days and self.opens <= local.time() < self.closes


@dataclass(frozen=True)
class HandoffSettings:
    """Whether asking for a person reaches someone, from the same variables the server uses."""

    # Someone at the clinic will see the request: the staff inbox has accounts, or a
    # notification channel (with the inbox link) is configured.
    staff_notified: bool
    hours: Optional[ClinicHours] = None
    expected_wait: Optional[Text] = None  # e.g. "15 minutes"

    def reachable_at(self, moment: dt.datetime) -> bool:
        return self.staff_notified and (self.hours is None or self.hours.open_at(moment))

    @property
    def wait_phrase(self) -> Text:
        return f"usually within {self.expected_wait}" if self.expected_wait else "as soon as one is free"


def load_handoff_settings(environ: Mapping[Text, Text] = os.environ) -> HandoffSettings:
    """STAFF_INBOX_URL plus a NOTIFY_* channel (bot/server/escalation/settings.py); CLINIC_HOURS,
    CLINIC_TIMEZONE and HANDOFF_EXPECTED_WAIT. Invalid values raise ValueError."""
    from bot.server.escalation.settings import NotificationSettings

    notifications = NotificationSettings.from_env(environ)
    hours_text = _clean(environ.get("CLINIC_HOURS"))
    hours = ClinicHours.parse(hours_text, _clean(environ.get("CLINIC_TIMEZONE")) or "UTC") if hours_text else None
    return HandoffSettings(
        staff_notified=(notifications.enabled and bool(notifications.staff_inbox_url)) or staff_inbox_open(environ),
        hours=hours,
        expected_wait=_clean(environ.get("HANDOFF_EXPECTED_WAIT")),
    )


@functools.lru_cache(maxsize=4)
def _staff_accounts(database: Text) -> Any:
    from bot.server.staff.accounts import StaffAccounts
    from bot.server.staff.store import engine_from_env

    return StaffAccounts(engine_from_env(json.loads(database)))


def staff_inbox_open(environ: Mapping[Text, Text] = os.environ) -> bool:
    """Whether the staff inbox has accounts, in the database the Rasa server uses
    (TRACKER_STORE_URL or TRACKER_DB_PATH, which the action server must share)."""
    database = {k: environ.get(k, "") for k in ("TRACKER_STORE_URL", "TRACKER_DB_PATH")}
    try:
        return _staff_accounts(json.dumps(database, sort_keys=True)).any_exist()
    except Exception as error:  # noqa: BLE001 - unknown means no promise to the person
        logger.warning("Could not tell whether the staff inbox has accounts: %s", type(error).__name__)
        return False
