"""bot/safety_text.py: the texts channels send themselves come from domain.yml, or nothing starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, List
from urllib.parse import urlencode

import pytest
import yaml
from twilio.request_validator import RequestValidator

from bot import safety_text
from bot.safety_text import SafetyTextError, load, safety_texts, texts_from_domain
from bot.server.channels import rest, telegram, twilio, widget
from tests.conftest import PROJECT_ROOT, load_yaml

DOMAIN = load_yaml(PROJECT_ROOT / "domain.yml")
RESPONSES = DOMAIN["responses"]
REGIONS = ["GB", "IE", "CA", "AU"]


def default_text(name: str) -> str:
    return next(v["text"] for v in RESPONSES[name] if not v.get("condition"))


def regional_text(name: str, region: str) -> str:
    return next(v["text"] for v in RESPONSES[name] if [c["value"] for c in v.get("condition") or []] == [region])


def link_variation(region: str | None) -> Dict[str, Any]:
    return next(
        v for v in RESPONSES["utter_crisis_link"]
        if [c["value"] for c in v.get("condition") or []] == ([region] if region else [])
    )


@pytest.fixture(autouse=True)
def fresh_cache():
    safety_text.clear_cache()
    yield
    safety_text.clear_cache()


def write_domain(tmp_path: Path, responses: Dict[str, Any]) -> Path:
    path = tmp_path / "domain.yml"
    path.write_text(yaml.safe_dump({"version": "3.1", "responses": responses}), encoding="utf-8")
    return path


def valid_responses() -> Dict[str, Any]:
    names = ["utter_technical_problem", "utter_not_text", "utter_crisis_link", "utter_professional_default"]
    return {name: json.loads(json.dumps(RESPONSES[name])) for name in names}


# --- reading domain.yml -------------------------------------------------------------------


@pytest.mark.parametrize("region", [*REGIONS, None])
def test_every_regions_crisis_link_comes_from_the_domain(region):
    link = safety_texts().crisis_link_for(region)
    variation = link_variation(region)
    assert (link.text, link.href) == (variation["text"], variation["metadata"]["href"])


@pytest.mark.parametrize("region", ["US", "FR", "gb", "", None, "<script>"])
def test_regions_without_their_own_link_get_the_default(region):
    assert safety_texts().crisis_link_for(region) == safety_texts().crisis_link_for(None)
    assert safety_texts().crisis_link_for(None).text == link_variation(None)["text"]


def test_the_other_texts_come_from_the_domain():
    texts = safety_texts()
    assert texts.technical_problem_text() == default_text("utter_technical_problem")
    assert texts.technical_problem_text("GB") == texts.technical_problem_text("GB")  # any region: a text
    assert texts.not_text_reply() == default_text("utter_not_text")
    assert texts.professional_default == default_text("utter_professional_default")


def test_texts_are_kept_between_checks_and_a_lost_file_keeps_them(tmp_path, monkeypatch):
    path = write_domain(tmp_path, valid_responses())
    monkeypatch.setattr(safety_text, "DOMAIN_FILE", path)
    first = safety_texts()
    path.unlink()
    assert safety_texts() is first
    monkeypatch.setattr(safety_text, "CHECK_SECONDS", 0.0)
    safety_text.clear_cache()
    monkeypatch.setattr(safety_text, "DOMAIN_FILE", write_domain(tmp_path, valid_responses()))
    first = safety_texts()
    safety_text.DOMAIN_FILE.unlink()
    assert safety_texts() is first


def test_an_edited_domain_is_read_again_and_a_broken_edit_keeps_the_last_good_texts(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(safety_text, "CHECK_SECONDS", 0.0)
    responses = valid_responses()
    path = write_domain(tmp_path, responses)
    monkeypatch.setattr(safety_text, "DOMAIN_FILE", path)
    assert safety_texts().not_text_reply() == responses["utter_not_text"][0]["text"]
    responses["utter_not_text"] = [{"text": "Edited: I can only read text."}]
    write_domain(tmp_path, responses)
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)
    assert safety_texts().not_text_reply() == "Edited: I can only read text."
    del responses["utter_not_text"]
    write_domain(tmp_path, responses)
    os.utime(path, ns=(path.stat().st_mtime_ns + 2 * 10**9,) * 2)
    assert safety_texts().not_text_reply() == "Edited: I can only read text."
    assert "Safety texts not reloaded" in caplog.text


def test_a_regional_variation_of_the_technical_problem_text_is_used(tmp_path):
    responses = valid_responses()
    responses["utter_technical_problem"] = [
        {"condition": [{"type": "slot", "name": "crisis_region", "value": "GB"}], "text": "GB text"},
        {"text": default_text("utter_technical_problem")},
    ]
    texts = load(write_domain(tmp_path, responses))
    assert texts.technical_problem_text("GB") == "GB text"
    assert texts.technical_problem_text("AU") == texts.technical_problem_text() == default_text("utter_technical_problem")


@pytest.mark.parametrize("region", REGIONS)
def test_every_regions_technical_problem_text_comes_from_the_domain(region):
    text = safety_texts().technical_problem_text(region)
    assert text == regional_text("utter_technical_problem", region)
    assert text != default_text("utter_technical_problem")


@pytest.mark.parametrize("region", ["US", "FR", "gb", "", None, "<script>"])
def test_regions_without_their_own_technical_problem_text_get_the_default(region):
    assert safety_texts().technical_problem_text(region) == default_text("utter_technical_problem")


def broken(change):
    responses = valid_responses()
    change(responses)
    return responses


@pytest.mark.parametrize(
    "responses",
    [
        broken(lambda r: r.pop("utter_technical_problem")),
        broken(lambda r: r.pop("utter_not_text")),
        broken(lambda r: r.pop("utter_crisis_link")),
        broken(lambda r: r.pop("utter_professional_default")),
        broken(lambda r: r.update(utter_not_text=[])),
        broken(lambda r: r.update(utter_not_text=[{"text": "   "}])),
        broken(lambda r: r.update(utter_not_text=[{"text": "Hello {name}"}])),
        broken(lambda r: r.update(utter_not_text=["just a string"])),
        # no default variation, or two for one region
        broken(lambda r: r["utter_crisis_link"].pop()),
        broken(lambda r: r["utter_crisis_link"].append(r["utter_crisis_link"][0])),
        # a condition on anything but crisis_region
        broken(lambda r: r["utter_crisis_link"][0]["condition"].append({"type": "slot", "name": "crisis_kind", "value": "self"})),
        # a link without a safe target
        broken(lambda r: r["utter_crisis_link"][0]["metadata"].update(href="javascript:alert(1)")),
        broken(lambda r: r["utter_crisis_link"][0]["metadata"].update(href="tel:")),
        broken(lambda r: r["utter_crisis_link"][0]["metadata"].update(href="http://example.org")),
        broken(lambda r: r["utter_crisis_link"][-1].pop("metadata")),
    ],
)
def test_an_incomplete_domain_is_refused(tmp_path, responses):
    with pytest.raises(SafetyTextError):
        load(write_domain(tmp_path, responses))


@pytest.mark.parametrize("content", ["responses: [unclosed", "", "just text", "responses: 3", b"\xff\xfe"])
def test_an_unreadable_domain_is_refused(tmp_path, content):
    path = tmp_path / "domain.yml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(SafetyTextError):
        load(path)


def test_a_missing_domain_is_refused(tmp_path):
    with pytest.raises(SafetyTextError, match="does not start"):
        load(tmp_path / "missing.yml")


def test_texts_from_a_domain_as_rasa_sends_it_to_actions():
    assert texts_from_domain({"responses": valid_responses()}) == load(PROJECT_ROOT / "domain.yml")
    with pytest.raises(SafetyTextError):
        texts_from_domain({})


# --- the servers do not start without them ----------------------------------------------------


def channels() -> List[Any]:
    return [
        rest.RestChannel(),
        telegram.TelegramChannel(settings=telegram.TelegramSettings()),
        twilio.TwilioChannel(settings=twilio.TwilioSettings()),
        widget.WidgetChannel(),
    ]


@pytest.mark.parametrize("index", range(4), ids=["rest", "telegram", "twilio", "widget"])
def test_no_channel_can_be_built_without_the_safety_texts(tmp_path, monkeypatch, index):
    monkeypatch.setattr(safety_text, "DOMAIN_FILE", tmp_path / "missing.yml")
    with pytest.raises(SafetyTextError):
        channels()[index].blueprint(lambda message: None)


@pytest.mark.parametrize("index", range(4), ids=["rest", "telegram", "twilio", "widget"])
def test_every_channel_reads_them_when_it_is_built(index):
    channels()[index].blueprint(lambda message: None)
    assert safety_text._loaded is not None


def test_importing_the_channels_and_actions_reads_nothing():
    """Loaded on first use, not at import: importing never fails for a missing domain.yml."""
    code = (
        "import sys; from pathlib import Path; import bot.safety_text as s; s.DOMAIN_FILE = Path('/nonexistent/domain.yml');"
        "import bot.server.channels.rest, bot.server.channels.telegram, bot.server.channels.twilio, bot.server.channels.widget;"
        "import actions.config, actions.referral, actions.handoff, actions.topics;"
        "assert s._loaded is None; print('ok')"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-2000:]


# --- what the channels send ---------------------------------------------------------------------


def route(blueprint, uri: str):
    return next(r.handler for r in blueprint._future_routes if r.uri == uri)


async def failing_handler(message) -> None:
    raise RuntimeError("the model could not be loaded")


@pytest.mark.parametrize(
    ("metadata", "region"),
    [
        (None, None), ({"locale": "en-GB"}, "GB"), ({"locale": "en_gb"}, "GB"), ({"locale": "en-UK"}, "GB"),
        ({"locale": "en-IE"}, "IE"), ({"locale": "fr-CA"}, "CA"), ({"locale": "en-AU"}, "AU"),
        ({"locale": "en-US"}, None), ({"locale": "de-DE"}, None), ({"locale": ["odd"]}, None), ({"locale": "x" * 5000}, None),
    ],
)
async def test_rest_failure_sends_the_domains_technical_problem_text_for_the_locale(metadata, region):
    """The message's locale picks the variation, as it picks utter_crisis: one crisis line everywhere."""
    handler = route(rest.RestChannel().blueprint(failing_handler), "/webhook")
    body = {"sender": "me", "message": "hello", **({"metadata": metadata} if metadata is not None else {})}
    result = await handler(SimpleNamespace(body=json.dumps(body).encode()))
    expected = regional_text("utter_technical_problem", region) if region else default_text("utter_technical_problem")
    assert json.loads(result.body) == [{"recipient_id": "me", "text": expected}]


async def test_telegram_answers_a_sticker_with_the_domains_not_text_reply():
    settings = telegram.TelegramSettings(token="123456:TEST-token_abcdefghij", secret_token="s3cret")
    channel = telegram.TelegramChannel(settings=settings)
    sent: List[Dict[str, Any]] = []

    async def record(chat_id, text, **kwargs):
        sent.append({"chat_id": chat_id, "text": text})

    channel.get_output_channel().send_message = record
    update = {
        "update_id": 5,
        "message": {"message_id": 7, "date": 1700000000, "chat": {"id": 42, "type": "private"},
                    "sticker": {"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1, "is_animated": False}},
    }
    request = SimpleNamespace(headers={telegram.SECRET_HEADER: "s3cret"}, json=update, body=json.dumps(update).encode())
    handled: List[Any] = []

    async def on_message(message):
        handled.append(message)

    assert (await route(channel.blueprint(on_message), "/webhook")(request)).status == 200
    assert sent == [{"chat_id": 42, "text": default_text("utter_not_text")}] and handled == []


async def test_twilio_answers_a_photo_with_the_domains_not_text_reply(monkeypatch):
    settings = twilio.TwilioSettings(
        account_sid="AC" + "0" * 32, auth_token="token", sms_number="+15550001111",
        webhook_url="https://bot.example.org/webhooks/twilio/webhook", api_base_url="http://127.0.0.1:9",
    )
    sent: List[Dict[str, Any]] = []

    async def record(self, message_data):
        sent.append(message_data)

    monkeypatch.setattr(twilio.TwilioMessagingOutput, "_send_message", record)
    form = {"From": "+447700900123", "FromCountry": "GB", "To": settings.sms_number, "Body": "", "NumMedia": "1",
            "MessageSid": "MM" + "1" * 32}
    signature = RequestValidator(settings.auth_token).compute_signature(settings.webhook_url, form)
    request = SimpleNamespace(
        headers={twilio.SIGNATURE_HEADER: signature}, body=urlencode(form).encode(), query_string="",
        app=SimpleNamespace(ctx=SimpleNamespace()),
    )
    handler = route(twilio.TwilioChannel(settings=settings).blueprint(failing_handler), "/webhook")
    assert (await handler(request)).status == 200
    assert [m["body"] for m in sent] == [default_text("utter_not_text")]


@pytest.mark.parametrize(
    ("fields", "region"),
    [
        ({"From": "+447700900123", "FromCountry": "GB"}, "GB"),
        ({"From": "+15551234567", "FromCountry": "CA"}, "CA"),
        ({"From": "whatsapp:+61412345678"}, "AU"),
        ({"From": "whatsapp:+353851234567"}, "IE"),
        ({"From": "+15557654321", "FromCountry": "US"}, None),
        ({"From": "whatsapp:+15551234567"}, None),  # +1: US or Canada, unknown
    ],
)
async def test_twilio_failure_sends_the_technical_problem_text_for_the_senders_country(monkeypatch, fields, region):
    settings = twilio.TwilioSettings(
        account_sid="AC" + "0" * 32, auth_token="token", sms_number="+15550001111",
        whatsapp_number="whatsapp:+14155238886",
        webhook_url="https://bot.example.org/webhooks/twilio/webhook", api_base_url="http://127.0.0.1:9",
    )
    sent: List[Dict[str, Any]] = []

    async def record(self, message_data):
        sent.append(message_data)

    monkeypatch.setattr(twilio.TwilioMessagingOutput, "_send_message", record)
    to = settings.whatsapp_number if fields["From"].startswith("whatsapp:") else settings.sms_number
    form = {"To": to, "Body": "hello", "NumMedia": "0", "MessageSid": "SM" + "1" * 32, **fields}
    signature = RequestValidator(settings.auth_token).compute_signature(settings.webhook_url, form)
    request = SimpleNamespace(
        headers={twilio.SIGNATURE_HEADER: signature}, body=urlencode(form).encode(), query_string="",
        app=SimpleNamespace(ctx=SimpleNamespace()),
    )
    handler = route(twilio.TwilioChannel(settings=settings).blueprint(failing_handler), "/webhook")
    assert (await handler(request)).status == 200
    expected = regional_text("utter_technical_problem", region) if region else default_text("utter_technical_problem")
    assert [m["body"] for m in sent] == [expected]
