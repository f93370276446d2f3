import pytest

from actions.config import DEFAULT_PROFESSIONAL, load_clinic_contact


def test_defaults_to_a_neutral_professional_when_nothing_is_configured():
    contact = load_clinic_contact({})
    assert contact.professional == DEFAULT_PROFESSIONAL
    assert contact.contact_response is None


@pytest.mark.parametrize(
    ("environ", "expected_response"),
    [
        ({"CLINIC_NAME": "Calm Clinic", "CLINIC_PHONE": "555-0100", "CLINIC_BOOKING_URL": "https://example.org/book"},
         "utter_clinic_contact_phone_and_booking"),
        ({"CLINIC_NAME": "Calm Clinic", "CLINIC_PHONE": "555-0100"}, "utter_clinic_contact_phone"),
        ({"CLINIC_NAME": "Calm Clinic", "CLINIC_BOOKING_URL": "https://example.org/book"}, "utter_clinic_contact_booking"),
        ({"CLINIC_NAME": "Calm Clinic"}, None),
        # Contact details without a clinic name would read "call  at 555-0100": not used.
        ({"CLINIC_PHONE": "555-0100"}, None),
        ({"CLINIC_NAME": "   ", "CLINIC_PHONE": "555-0100"}, None),
    ],
)
def test_contact_response_matches_what_is_configured(environ, expected_response):
    assert load_clinic_contact(environ).contact_response == expected_response


def test_clinic_name_is_added_to_the_professional():
    contact = load_clinic_contact({"CLINIC_NAME": "Calm Clinic"})
    assert "Calm Clinic" in contact.professional
    assert contact.template_values()["professional_capitalized"].startswith("Your doctor")
