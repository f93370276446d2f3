"""Settings of the action server, read from environment variables when an action runs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Optional, Text

DEFAULT_PROFESSIONAL = "your doctor or a licensed mental health professional"


@dataclass(frozen=True)
class ClinicContact:
    """Who people are referred to. Every field is optional; empty means "not configured"."""

    name: Optional[Text] = None
    phone: Optional[Text] = None
    booking_url: Optional[Text] = None

    @property
    def professional(self) -> Text:
        """How referral sentences name the people to talk to."""
        if self.name:
            return f"{DEFAULT_PROFESSIONAL}, or the team at {self.name}"
        return DEFAULT_PROFESSIONAL

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


def load_clinic_contact(environ: Mapping[Text, Text] = os.environ) -> ClinicContact:
    """Reads CLINIC_NAME, CLINIC_PHONE and CLINIC_BOOKING_URL."""
    return ClinicContact(
        name=_clean(environ.get("CLINIC_NAME")),
        phone=_clean(environ.get("CLINIC_PHONE")),
        booking_url=_clean(environ.get("CLINIC_BOOKING_URL")),
    )
