"""Settings of the action server, read from environment variables when an action runs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Text

from bot.safety_text import PROFESSIONAL_DEFAULT_RESPONSE, safety_texts


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
