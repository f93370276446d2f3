"""The region entity that picks regional crisis lines (bot/nlu/locale.py)."""

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.locale import RegionFromMetadata


def regions_after(metadata):
    message = Message(data={"text": "i took 30 pills", "metadata": metadata})
    [processed] = RegionFromMetadata().process([message])
    return [e["value"] for e in processed.get("entities") or [] if e["entity"] == "region"]


@pytest.mark.parametrize(("locale", "region"), [("en-GB", "GB"), ("en-IE", "IE"), ("fr-CA", "CA"), ("en-AU", "AU")])
def test_a_supported_region_is_set(locale, region):
    assert regions_after({"locale": locale}) == [region]


@pytest.mark.parametrize("metadata", [{"locale": "en-US"}, {"locale": "de-DE"}, {"locale": 7}, {}, None, "en-GB"])
def test_the_us_and_unknown_locales_leave_the_slot_empty(metadata):
    # The unconditioned (and `crisis_region: null`) variations of utter_crisis are the US
    # ones: an "US" value would match none of the overdose, someone-else or unsafe replies.
    assert regions_after(metadata) == []


def test_every_kind_of_crisis_reply_exists_for_a_us_visitor(domain):
    from rasa.core.nlg.generator import ResponseVariationFilter

    variations = ResponseVariationFilter(domain["responses"])
    for kind in ("self", "medical", "someone_else", "unsafe"):
        [reply] = variations.responses_for_utter_action("utter_crisis", "rest", {"crisis_region": None, "crisis_kind": kind})
        assert "911" in reply["text"], kind
