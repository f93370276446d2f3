"""Crisis and referral texts are reviewed like code: exact numbers, calm wording, complete."""

import re

import pytest

from bot.nlu.locale import SUPPORTED_REGIONS, region_of

# Region -> facts its crisis reply must give (numbers checked against the services' own
# published numbers when this text was written; update both together).
CRISIS_LINES = {
    None: ["call or text 988", "988lifeline.org", "text HOME to 741741", "call 911", "local emergency number", "findahelpline.com"],
    "GB": ["116 123", "call 999", "text SHOUT to 85258"],
    "IE": ["116 123", "112 or 999"],
    "CA": ["9-8-8", "call 911"],
    "AU": ["13 11 14", "call 000"],
}
PHONE_NUMBER = re.compile(r"\d[\d -]{1,10}\d|\b988\b")


def crisis_variations(domain):
    by_region = {}
    for variation in domain["responses"]["utter_crisis"]:
        conditions = variation.get("condition") or []
        region = conditions[0]["value"] if conditions else None
        by_region[region] = variation["text"]
    return by_region


def test_every_supported_region_has_its_own_crisis_reply(domain):
    assert set(crisis_variations(domain)) == {None, *SUPPORTED_REGIONS} - {"US"}


@pytest.mark.parametrize("region", list(CRISIS_LINES))
def test_crisis_reply_gives_the_right_lines(domain, region):
    text = crisis_variations(domain)[region]
    for fact in CRISIS_LINES[region]:
        assert fact in text, f"{region}: missing {fact!r}"


@pytest.mark.parametrize("region", list(CRISIS_LINES))
def test_crisis_reply_puts_a_phone_number_first_and_stays_calm(domain, region):
    text = crisis_variations(domain)[region]
    first_line = text.splitlines()[0]
    assert PHONE_NUMBER.search(first_line), first_line  # SMS shows the first line first
    assert "!" not in text
    assert "{" not in text  # no unfilled template: this reply must work without any action
    assert "alone" in text  # says the person is not alone
    assert len(text) < 600


@pytest.mark.parametrize(
    "response",
    ["utter_crisis_followup", "utter_crisis_reminder", "utter_greet", "utter_technical_problem"],
)
def test_texts_around_a_crisis_keep_a_crisis_line_in_view(domain, response):
    text = domain["responses"][response][0]["text"]
    assert "988" in text and "local emergency number" in text


@pytest.mark.parametrize(
    "response",
    ["utter_referral_first", "utter_referral_reminder_1", "utter_referral_reminder_2", "utter_referral_reminder_3",
     "utter_referral_offline", "utter_handoff", "utter_handoff_offline"],
)
def test_referrals_name_a_professional(domain, response):
    text = domain["responses"][response][0]["text"]
    assert "professional" in text or "{professional" in text


def test_greeting_says_it_is_not_medical_advice(domain):
    assert "not medical advice" in domain["responses"]["utter_greet"][0]["text"]


@pytest.mark.parametrize(
    ("locale", "region"),
    [("en-GB", "GB"), ("en_gb", "GB"), ("en-UK", "GB"), ("fr-CA", "CA"), ("en-AU", "AU"), ("en-IE", "IE"),
     ("en-US", "US"), ("de-DE", None), ("en", None), ("", None), (None, None), (42, None), ("<script>", None)],
)
def test_region_of_locale(locale, region):
    assert region_of(locale) == region
