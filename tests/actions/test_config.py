import pytest

from actions.config import ClinicContact, load_clinic_contact, professional_default


def test_defaults_to_a_neutral_professional_when_nothing_is_configured(domain):
    contact = load_clinic_contact({})
    assert contact.professional == domain["responses"]["utter_professional_default"][0]["text"]
    assert contact.contact_response is None


def test_the_default_professional_comes_from_the_domain_the_action_received(domain):
    changed = {"responses": {"utter_professional_default": [{"text": "your care team"}]}}
    assert load_clinic_contact({}, domain=changed).professional == "your care team"
    assert load_clinic_contact({"CLINIC_NAME": "Calm Clinic"}, domain=changed).professional == (
        "your care team, or the team at Calm Clinic"
    )
    assert load_clinic_contact({}, domain=domain).professional == professional_default()


@pytest.mark.parametrize(
    "received",
    [None, {}, {"responses": {}}, {"responses": {"utter_professional_default": []}},
     {"responses": {"utter_professional_default": [{"text": "  "}]}}, {"responses": None}, "not a domain"],
)
def test_without_it_in_the_received_domain_domain_yml_gives_the_default(domain, received):
    expected = domain["responses"]["utter_professional_default"][0]["text"]
    assert professional_default(received) == expected
    assert ClinicContact().professional == expected


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
