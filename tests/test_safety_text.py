"""Crisis and referral texts are reviewed like code: exact numbers, calm wording, complete."""

import re

import pytest

from bot.nlu.locale import SUPPORTED_REGIONS, region_of

# (region, kind) -> facts that crisis reply must give. Regions come from the locale
# (None: US and everywhere else); kinds from bot/nlu/crisis.py.
CRISIS_FACTS = {
    (None, "self"): ["call or text 988", "988lifeline.org", "text HOME to 741741", "call 911",
                     "local emergency number", "findahelpline.com", "llame al 988 y marque 2",
                     "envíe AYUDA por texto al 988"],
    (None, "medical"): ["Call 911", "even if you feel okay", "someone else, stay with them", "Poison Control at 1-800-222-1222", "988"],
    (None, "someone_else"): ["someone else is in danger", "call 911", "988", "worried about someone else",
                             "llame al 988 y marque 2", "envíe AYUDA por texto al 988"],
    (None, "unsafe"): ["call 911", "1-800-799-7233", "text START to 88788", "988"],
    ("GB", "self"): ["116 123", "call 999", "text SHOUT to 85258"],
    ("GB", "medical"): ["Call 999", "even if you feel okay", "someone else, stay with them", "116 123"],
    ("GB", "someone_else"): ["someone else is in danger", "call 999", "116 123"],
    ("GB", "unsafe"): ["call 999", "0808 2000 247", "116 123"],
    ("IE", "self"): ["116 123", "112 or 999"],
    ("IE", "medical"): ["112 or 999", "even if you feel okay", "someone else, stay with them", "116 123"],
    ("IE", "someone_else"): ["someone else is in danger", "112 or 999", "116 123"],
    ("IE", "unsafe"): ["112 or 999", "1800 341 900", "116 123"],
    ("CA", "self"): ["9-8-8", "call 911"],
    ("CA", "medical"): ["Call 911", "even if you feel okay", "someone else, stay with them", "9-8-8"],
    ("CA", "someone_else"): ["someone else is in danger", "call 911", "9-8-8"],
    ("CA", "unsafe"): ["call 911", "9-8-8"],
    ("AU", "self"): ["13 11 14", "call 000", "0477 13 11 14"],
    ("AU", "medical"): ["Call 000", "even if you feel okay", "someone else, stay with them", "13 11 26", "13 11 14"],
    ("AU", "someone_else"): ["someone else is in danger", "call 000", "13 11 14"],
    ("AU", "unsafe"): ["call 000", "1800 737 732", "13 11 14"],
}
# Every number a crisis text may give, each checked against the service's own published
# number (the service's site, or a government page quoting it) when it was written:
VERIFIED_NUMBERS = {
    "988",             # 988 Suicide & Crisis Lifeline (US), call or text; 988lifeline.org. In
                       # Spanish: call 988 and press 2, or text AYUDA to 988
                       # (988lifeline.org/get-help/what-to-expect)
    "741741",          # Crisis Text Line (US), text HOME
    "911",             # US and Canada emergency
    "1-800-222-1222",  # Poison Help line (US); poisonhelp.org
    "1-800-799-7233",  # National Domestic Violence Hotline (US), text START to 88788; thehotline.org
    "88788",
    "116 123",         # Samaritans (UK and Ireland)
    "999",             # UK and Ireland emergency
    "85258",           # Shout (UK), text SHOUT
    "0808 2000 247",   # National Domestic Abuse Helpline (England), run by Refuge
    "112",             # Ireland (EU) emergency
    "1800 341 900",    # Women's Aid 24hr National Freephone Helpline (Ireland)
    "9-8-8",           # Suicide Crisis Helpline (Canada), call or text
    "13 11 14",        # Lifeline (Australia); text 0477 13 11 14
    "0477 13 11 14",
    "000",             # Australia emergency
    "13 11 26",        # Poisons Information Centre (Australia)
    "1800 737 732",    # 1800RESPECT (Australia)
}
KINDS = ("self", "medical", "someone_else", "unsafe")
PHONE_NUMBER = re.compile(r"\d[\d -]{1,10}\d|\b988\b")
NUMBER_AS_WRITTEN = re.compile(r"(?<![\w/.-])\d[\d -]*\d(?![\w/]|\.\w)|\b9-8-8\b")


def crisis_variations(domain):
    """(region, kind) -> text; the variation without conditions is (None, "self")."""
    by_case = {}
    for variation in domain["responses"]["utter_crisis"]:
        conditions = {c["name"]: c["value"] for c in variation.get("condition") or []}
        case = (conditions.get("crisis_region"), conditions.get("crisis_kind", "self"))
        assert case not in by_case, f"two crisis replies for {case}"
        by_case[case] = variation["text"]
    return by_case


def test_every_region_has_a_crisis_reply_for_every_kind(domain):
    regions = {None, *SUPPORTED_REGIONS} - {"US"}
    assert set(crisis_variations(domain)) == {(r, k) for r in regions for k in KINDS}


@pytest.mark.parametrize("case", list(CRISIS_FACTS))
def test_crisis_reply_gives_the_right_lines(domain, case):
    text = crisis_variations(domain)[case]
    for fact in CRISIS_FACTS[case]:
        assert fact in text, f"{case}: missing {fact!r}"


@pytest.mark.parametrize("case", list(CRISIS_FACTS))
def test_every_number_in_a_crisis_reply_is_a_verified_one(domain, case):
    text = crisis_variations(domain)[case].replace("24/7", "")
    numbers = [n.strip() for n in NUMBER_AS_WRITTEN.findall(text)]
    assert numbers and set(numbers) <= VERIFIED_NUMBERS, numbers


@pytest.mark.parametrize("case", list(CRISIS_FACTS))
def test_crisis_reply_puts_a_phone_number_first_and_stays_calm(domain, case):
    text = crisis_variations(domain)[case]
    first_line = text.splitlines()[0]
    assert PHONE_NUMBER.search(first_line), first_line  # SMS shows the first line first
    assert "!" not in text
    assert "{" not in text  # no unfilled template: this reply must work without any action
    assert "automated assistant and can't help in an emergency" in text
    assert "alone" in text or case[1] == "someone_else"  # the person is not alone
    assert len(text) < 700


@pytest.mark.parametrize(
    "response",
    ["utter_referral_first", "utter_referral_reminder_1", "utter_referral_reminder_2", "utter_referral_reminder_3",
     "utter_referral_offline", "utter_referral_short", "utter_handoff", "utter_handoff_closed", "utter_handoff_offline"],
)
def test_referrals_name_a_professional(domain, response):
    text = domain["responses"][response][0]["text"]
    assert "professional" in text or "{professional" in text


def test_greeting_says_it_is_not_medical_advice(domain):
    for variation in domain["responses"]["utter_greet"]:
        assert "not medical advice" in variation["text"], conditions_of(variation)


@pytest.mark.parametrize(
    ("locale", "region"),
    [("en-GB", "GB"), ("en_gb", "GB"), ("en-UK", "GB"), ("fr-CA", "CA"), ("en-AU", "AU"), ("en-IE", "IE"),
     ("en-US", "US"), ("de-DE", None), ("en", None), ("", None), (None, None), (42, None), ("<script>", None)],
)
def test_region_of_locale(locale, region):
    assert region_of(locale) == region


# --- the widget's crisis link (utter_crisis_link): one per region, same line as the reply ---

# Region -> (number as written, link href). Checked against the services' published numbers:
# 988 Suicide & Crisis Lifeline (US), 9-8-8 Suicide Crisis Helpline (Canada),
# Samaritans 116 123 (UK and Ireland), Lifeline 13 11 14 (Australia).
CRISIS_LINKS = {
    None: ("988", "tel:988"),
    "GB": ("116 123", "tel:116123"),
    "IE": ("116 123", "tel:116123"),
    "CA": ("9-8-8", "tel:988"),
    "AU": ("13 11 14", "tel:131114"),
}
CRISIS_LINE = {region: re.compile(rf"(?<![\d-]){re.escape(number)}(?![\d-])") for region, (number, _) in CRISIS_LINKS.items()}


def conditions_of(variation):
    return {c["name"]: c["value"] for c in variation.get("condition") or []}


def crisis_link_variations(domain):
    by_region = {}
    for variation in domain["responses"]["utter_crisis_link"]:
        conditions = conditions_of(variation)
        assert set(conditions) <= {"crisis_region"}, "the link depends on the region only"
        region = conditions.get("crisis_region")
        assert region not in by_region, f"two crisis links for {region}"
        by_region[region] = variation
    return by_region


def crisis_replies_for(domain, region):
    """Every utter_crisis variation Rasa may pick for this region (any kind of crisis)."""
    replies = [v for v in domain["responses"]["utter_crisis"] if conditions_of(v).get("crisis_region") == region]
    return replies or crisis_replies_for(domain, None)


def main_crisis_reply(domain, region):
    """The reply to a person at risk themselves: crisis_kind 'self', or no kind condition."""
    for variation in crisis_replies_for(domain, region):
        if conditions_of(variation).get("crisis_kind") in (None, "self"):
            return variation["text"]
    raise AssertionError(f"no crisis reply for {region}")


def digits(text):
    return re.sub(r"\D", "", text)


def test_every_region_with_a_crisis_reply_has_its_own_crisis_link(domain):
    reply_regions = {conditions_of(v).get("crisis_region") for v in domain["responses"]["utter_crisis"]}
    assert set(crisis_link_variations(domain)) == reply_regions == set(CRISIS_LINKS)


@pytest.mark.parametrize("region", list(CRISIS_LINKS))
def test_crisis_link_gives_the_right_line(domain, region):
    link = crisis_link_variations(domain)[region]
    number, href = CRISIS_LINKS[region]
    assert CRISIS_LINE[region].search(link["text"]) and link["metadata"]["href"] == href
    assert len(link["text"]) <= 45 and "{" not in link["text"] and "!" not in link["text"]


@pytest.mark.parametrize("region", list(CRISIS_LINKS))
def test_crisis_link_and_crisis_reply_give_the_same_number(domain, region):
    """The reply's first number is the link's number, and every reply for the region names it."""
    link = crisis_link_variations(domain)[region]
    first_line = main_crisis_reply(domain, region).splitlines()[0]
    reply_number = PHONE_NUMBER.search(first_line).group(0).strip()
    assert CRISIS_LINE[region].search(link["text"]), link["text"]
    assert digits(link["metadata"]["href"]) == digits(reply_number) == digits(CRISIS_LINKS[region][0])
    for reply in crisis_replies_for(domain, region):
        assert CRISIS_LINE[region].search(reply["text"]), (region, conditions_of(reply))


@pytest.mark.parametrize("region", list(CRISIS_LINKS))
def test_crisis_replies_name_no_other_regions_crisis_line(domain, region):
    """Never two different crisis lines: a region's replies name only the line its link shows."""
    others = {digits(number) for r, (number, _) in CRISIS_LINKS.items()} - {digits(CRISIS_LINKS[region][0])}
    for reply in crisis_replies_for(domain, region):
        numbers = {digits(n) for n in re.findall(r"(?<![\d-])\d[\d -]*\d(?![\d-])", reply["text"])}
        assert not numbers & others, (region, conditions_of(reply), numbers & others)


@pytest.mark.parametrize("locale", ["en-US", "en-GB", "en-UK", "en-IE", "fr-CA", "en-AU", "de-DE", None, "nonsense"])
def test_link_and_reply_for_a_locale_agree_as_rasa_would_choose_them(domain, locale):
    """region_of() fills crisis_region; Rasa then takes that region's variation, else the default."""
    region = region_of(locale)
    links = crisis_link_variations(domain)
    link = links.get(region, links[None])
    first_line = main_crisis_reply(domain, region if region in links else None).splitlines()[0]
    assert digits(link["metadata"]["href"]) == digits(PHONE_NUMBER.search(first_line).group(0))


def test_not_text_reply_asks_for_text(domain):
    [variation] = domain["responses"]["utter_not_text"]
    assert "text" in variation["text"] and "{" not in variation["text"]


def test_offline_referrals_use_the_default_professional_word_for_word(domain):
    """They are sent without the action server, so they cannot fill in {professional}."""
    [default] = domain["responses"]["utter_professional_default"]
    assert default["text"] == default["text"].strip() and "professional" in default["text"]
    for response in ("utter_referral_offline", "utter_handoff_offline"):
        assert default["text"] in domain["responses"][response][0]["text"], response


# --- every text that names a crisis line names the region's own line, and no other region's ---
# An en-GB visitor must never see two different numbers (116 123 in the crisis reply, 988 in
# the greeting): the texts sent around a crisis have one variation per region, like utter_crisis.

AROUND_A_CRISIS = ["utter_greet", "utter_crisis_reminder", "utter_crisis_followup", "utter_technical_problem"]
NAMES_A_CRISIS_LINE = [*AROUND_A_CRISIS, "utter_crisis", "utter_crisis_link"]
# Region -> the emergency number given next to the line (the same as in that region's utter_crisis).
EMERGENCY = {None: "local emergency number", "GB": "call 999", "IE": "call 112 or 999", "CA": "call 911", "AU": "call 000"}
NUMBER = re.compile(r"(?<![\d-])\d[\d -]*\d(?![\d-])")  # also "9-8-8", Canada's way of writing 988


def variations_for(domain, response, region):
    """The variations Rasa may send for this crisis_region: the region's own, else the default ones."""
    variations = domain["responses"][response]
    return [v for v in variations if conditions_of(v).get("crisis_region") == region] or [
        v for v in variations if conditions_of(v).get("crisis_region") is None
    ]


def other_regions_lines(text, region):
    """Crisis lines of other regions named in text: as written ("988" is not "9-8-8") or by digits."""
    own = CRISIS_LINKS[region][0]
    others = {r for r, (number, _) in CRISIS_LINKS.items() if number != own}
    other_digits = {digits(CRISIS_LINKS[r][0]) for r in others} - {digits(own)}
    found = [CRISIS_LINKS[r][0] for r in others if CRISIS_LINE[r].search(text)]
    found += [n for n in NUMBER.findall(text) if digits(n) in other_digits]
    return found


@pytest.mark.parametrize("response", AROUND_A_CRISIS)
def test_texts_around_a_crisis_have_one_variation_per_region(domain, response):
    variations = domain["responses"][response]
    regions = []
    for variation in variations:
        conditions = conditions_of(variation)
        assert set(conditions) <= {"crisis_region"}, "these texts depend on the region only"
        regions.append(conditions.get("crisis_region"))
    assert sorted(regions, key=str) == sorted(CRISIS_LINKS, key=str), regions
    # The default stays first, so code and tests that read [0] still get the US/elsewhere text.
    assert not variations[0].get("condition")


@pytest.mark.parametrize("response", AROUND_A_CRISIS)
def test_texts_around_a_crisis_keep_a_crisis_line_in_view(domain, response):
    for variation in domain["responses"][response]:
        region = conditions_of(variation).get("crisis_region")
        text = variation["text"]
        assert CRISIS_LINE[region].search(text), (region, text)
        assert EMERGENCY[region] in text, (region, text)


@pytest.mark.parametrize("response", NAMES_A_CRISIS_LINE)
@pytest.mark.parametrize("region", list(CRISIS_LINKS))
def test_a_regions_texts_name_its_line_and_no_other_regions(domain, response, region):
    for variation in variations_for(domain, response, region):
        text = variation["text"]
        assert CRISIS_LINE[region].search(text), (response, region, conditions_of(variation))
        assert not other_regions_lines(text, region), (response, region, other_regions_lines(text, region))


@pytest.mark.parametrize("response", AROUND_A_CRISIS)
def test_every_number_in_a_text_around_a_crisis_is_a_verified_one(domain, response):
    for variation in domain["responses"][response]:
        numbers = [n.strip() for n in NUMBER_AS_WRITTEN.findall(variation["text"].replace("24/7", ""))]
        assert numbers and set(numbers) <= VERIFIED_NUMBERS, (conditions_of(variation), numbers)


def outside_the_crisis_line(text):
    """The sentences of a text that give no number (the crisis-line sentences all do)."""
    sentences = re.split(r"(?<=[.?!])\s+", text.strip())
    return [s for s in sentences if not NUMBER.search(s) and "emergency" not in s]


@pytest.mark.parametrize("response", AROUND_A_CRISIS)
def test_regional_variations_say_the_same_as_the_default_but_the_line(domain, response):
    default, *regional = domain["responses"][response]
    for variation in regional:
        text = variation["text"]
        assert outside_the_crisis_line(text) == outside_the_crisis_line(default["text"]), conditions_of(variation)
        assert "{" not in text and "!" not in text.replace("Hi!", "", 1)
        assert len(text) <= len(default["text"]) + 60
        assert ("\n" in text) == ("\n" in default["text"])  # the one-line reminder stays one line


@pytest.mark.parametrize("locale", ["en-US", "en-GB", "en-UK", "en-IE", "fr-CA", "en-AU", "de-DE", None, "nonsense"])
def test_a_visitor_sees_one_crisis_line_everywhere_as_rasa_chooses_the_texts(domain, locale):
    """region_of() fills crisis_region; Rasa's own NLG then picks every text that names a line."""
    from rasa.core.nlg import TemplatedNaturalLanguageGenerator

    nlg = TemplatedNaturalLanguageGenerator(domain["responses"])
    slot = region_of(locale)
    region = slot if slot in CRISIS_LINKS else None
    for response in NAMES_A_CRISIS_LINE:
        for kind in KINDS if response == "utter_crisis" else ("self",):
            text = nlg.generate_from_slots(response, {"crisis_region": slot, "crisis_kind": kind}, "rest")["text"]
            assert CRISIS_LINE[region].search(text), (locale, response, kind, text)
            assert not other_regions_lines(text, region), (locale, response, kind, text)
