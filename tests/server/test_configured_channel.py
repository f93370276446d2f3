"""The base of environment-configured connectors (bot/server/channels/configured.py), on a
made-up "Sample" connector: what Telegram, Twilio and the next connector get from it."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, ClassVar, Dict, List

import pytest
from rasa.core.channels.channel import OutputChannel, UserMessage
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.server.channels import configured
from bot.server.channels.configured import OnNewMessage
from tests.conftest import PROJECT_ROOT, load_yaml

TECHNICAL_PROBLEM = {
    (variation.get("condition") or [{}])[0].get("value"): variation["text"]
    for variation in load_yaml(PROJECT_ROOT / "domain.yml")["responses"]["utter_technical_problem"]
}


@dataclass(frozen=True)
class SampleSettings(configured.EnvironmentSettings):
    token: str = configured.from_environment("SAMPLE_TOKEN")
    room: str = configured.from_environment("SAMPLE_ROOM", str.upper)
    replies: bool = configured.from_environment("SAMPLE_REPLIES", configured.switched_on, default=True)

    UNSET_REASON: ClassVar[str] = "SAMPLE_TOKEN is not set"

    def is_unset(self) -> bool:
        return not self.token

    def problems(self) -> List[str]:
        if not self.token:
            return ["SAMPLE_TOKEN is not set"]
        return [] if self.token.startswith("ok-") else ["SAMPLE_TOKEN must start with ok-"]


class Sent(OutputChannel):
    def __init__(self, failing: bool = False) -> None:
        self.texts: List[tuple] = []
        self.failing = failing

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        if self.failing:
            raise ConnectionError("the platform is down")
        self.texts.append((recipient_id, text))


class SampleChannel(configured.ConfiguredChannel):
    settings_type = SampleSettings
    label = "Sample"

    def __init__(self, settings: SampleSettings | None = None, debug_mode: bool = False) -> None:
        super().__init__(settings, debug_mode)
        self.output = Sent()
        self.received: List[Request] = []
        self.hooks: List[str] = []

    @classmethod
    def name(cls) -> str:
        return "sample"

    async def receive(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        self.received.append(request)
        async with self.failure_told(self.output, request.sender, request.region, who=f"person {request.sender}"):
            await on_new_message(UserMessage("hello", self.output, request.sender, input_channel=self.name()))
        return response.text("handled")

    async def on_server_start(self) -> None:
        self.hooks.append("start")

    async def on_server_stop(self) -> None:
        self.hooks.append("stop")


ON = SampleSettings(token="ok-123")


def routes(channel: SampleChannel, on_new_message: OnNewMessage) -> Dict[str, Any]:
    blueprint = channel.blueprint(on_new_message)
    return {route.uri: route.handler for route in blueprint._future_routes}


def webhook_call(sender: Any = "person-1", region: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(sender=sender, region=region)


async def answer(message: UserMessage) -> None:
    await message.output_channel.send_text_message(message.sender_id, "an answer")


async def fail(message: UserMessage) -> None:
    raise RuntimeError("the model could not be loaded")


# --- Settings from the environment -------------------------------------------------------


def test_settings_fields_read_their_variable_stripped_and_parsed():
    settings = SampleSettings.from_env({"SAMPLE_TOKEN": "  ok-1 \n", "SAMPLE_ROOM": " lobby ", "SAMPLE_REPLIES": "0"})
    assert settings == SampleSettings(token="ok-1", room="LOBBY", replies=False)


def test_unset_variables_read_as_empty_and_on_switches_default_to_on():
    assert SampleSettings.from_env({}) == SampleSettings(token="", room="", replies=True)
    assert SampleSettings.from_env({"SAMPLE_TOKEN": None}).token == ""  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("value", "on"),
    [("", True), ("1", True), ("true", True), ("yes", True), ("0", False), ("false", False), ("FALSE", False),
     ("no", False), ("off", False), ("Off", False)],
)
def test_only_an_explicit_off_switches_off(value, on):
    assert configured.switched_on(value) is on


def test_settings_come_from_the_process_environment_by_default(monkeypatch):
    monkeypatch.setenv("SAMPLE_TOKEN", "ok-from-env")
    assert SampleSettings.from_env().token == "ok-from-env"


# --- On, off on purpose, off because something is wrong ------------------------------------


@pytest.mark.parametrize(
    ("token", "enabled", "level", "line"),
    [
        ("ok-123", True, logging.INFO, "Sample connector is on (webhook /webhooks/sample/webhook)."),
        (None, False, logging.INFO, "Sample connector is off: SAMPLE_TOKEN is not set."),
        ("wrong", False, logging.ERROR, "Sample connector is off: SAMPLE_TOKEN must start with ok-."),
    ],
)
def test_from_credentials_reads_the_environment_and_logs_the_state_once(monkeypatch, caplog, token, enabled, level, line):
    monkeypatch.delenv("SAMPLE_TOKEN", raising=False)
    if token is not None:
        monkeypatch.setenv("SAMPLE_TOKEN", token)
    caplog.set_level(logging.INFO, logger=__name__)
    channel = SampleChannel.from_credentials({"ignored": "credentials.yml holds no secrets"})
    assert isinstance(channel, SampleChannel)
    assert channel.enabled is enabled
    # Logged by the connector's own module, not by the base's.
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [(__name__, level, line)]


async def test_health_says_whether_the_connector_is_on():
    for settings, status in ((ON, "ok"), (SampleSettings(), "off"), (SampleSettings(token="bad"), "off")):
        health = routes(SampleChannel(settings), answer)["/"]
        assert json.loads((await health(SimpleNamespace())).body) == {"status": status}


async def test_the_webhook_answers_503_while_off_and_reads_nothing():
    channel = SampleChannel(SampleSettings(token="bad"))
    result = await routes(channel, answer)["/webhook"](webhook_call())
    assert result.status == 503
    assert json.loads(result.body) == {"error": "The Sample connector is off."}
    assert channel.received == [] and channel.output.texts == []


async def test_the_webhook_hands_calls_to_receive_while_on():
    channel = SampleChannel(ON)
    result = await routes(channel, answer)["/webhook"](webhook_call())
    assert (result.status, result.body) == (200, b"handled")
    assert channel.output.texts == [("person-1", "an answer")]


async def test_start_and_stop_hooks_run_with_the_server():
    channel = SampleChannel(ON)
    blueprint = channel.blueprint(answer)
    events = {listener.event: listener.listener for listener in blueprint._future_listeners}
    assert set(events) == {"after_server_start", "before_server_stop"}
    await events["after_server_start"](None, None)
    await events["before_server_stop"](None, None)
    assert channel.hooks == ["start", "stop"]


def test_blueprints_are_named_after_the_connector():
    assert SampleChannel(ON).blueprint(answer).name == "tms_sample_webhook"


# --- When a turn fails ------------------------------------------------------------------------


@pytest.mark.parametrize("region", [None, "GB", "IE"])
async def test_a_failed_turn_is_logged_and_the_person_gets_the_technical_problem_text(caplog, region):
    channel = SampleChannel(ON)
    result = await routes(channel, fail)["/webhook"](webhook_call(region=region))
    assert (result.status, result.body) == (200, b"handled")
    assert channel.output.texts == [("person-1", TECHNICAL_PROBLEM[region])]
    [record] = [r for r in caplog.records if r.name == __name__]
    assert record.getMessage() == "Handling a Sample message failed (person person-1)."
    assert record.exc_info is not None and "hello" not in record.getMessage()


async def test_in_debug_mode_a_failed_turn_is_raised_and_nobody_is_told():
    channel = SampleChannel(ON, debug_mode=True)
    with pytest.raises(RuntimeError, match="could not be loaded"):
        await routes(channel, fail)["/webhook"](webhook_call())
    assert channel.output.texts == []


async def test_telling_the_person_may_fail_too_without_breaking_the_answer(caplog):
    channel = SampleChannel(ON)
    channel.output = Sent(failing=True)
    result = await routes(channel, fail)["/webhook"](webhook_call())
    assert result.status == 200
    assert caplog.records[-1].getMessage() == "Could not tell person person-1 about the failure: the platform is down"


async def test_without_a_recipient_nobody_is_told():
    channel = SampleChannel(ON)
    result = await routes(channel, fail)["/webhook"](webhook_call(sender=None))
    assert result.status == 200 and channel.output.texts == []


# --- Output ------------------------------------------------------------------------------------


class RecordingPlatform(OutputChannel):
    def __init__(self) -> None:
        self.custom: List[Dict[str, Any]] = []

    async def send_custom_json(self, recipient_id: str, json_message: Dict[str, Any], **kwargs: Any) -> None:
        self.custom.append(json_message)


class SamplePlatform(configured.TextPlatformOutput, RecordingPlatform):
    pass


async def test_platform_outputs_skip_signals_only_the_widget_understands():
    output = SamplePlatform()
    await output.send_custom_json("42", {"handoff": "waiting"})
    await output.send_custom_json("42", {"handoff": "waiting", "text": "also for the platform"})
    await output.send_custom_json("42", {"sticker": "x"})
    assert output.custom == [{"handoff": "waiting", "text": "also for the platform"}, {"sticker": "x"}]
