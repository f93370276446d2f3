"""One base for messaging connectors configured from the environment (Telegram, Twilio, the next).

Such a connector is enabled in credentials.yml with an empty block: its secrets never go in
that file. What every one of them does the same way lives here:

- settings read from environment variables (`EnvironmentSettings`, `from_environment`);
- `from_credentials` reads them and logs, once, whether the connector is on, off on purpose
  (nothing set) or off because something is wrong (an error line naming it);
- `GET /webhooks/<name>/` says {"status": "ok"} or {"status": "off"}; the webhook
  `POST /webhooks/<name>/webhook` answers 503 while the connector is off, and hands the
  request to the connector's `receive` otherwise;
- a turn that fails is logged without what was said, and the person is told, with the
  crisis line of their region (`failure_told`); in debug mode the error is raised instead.

A connector subclasses `ConfiguredChannel` before Rasa's input channel, names its settings
class, its label and implements `receive`; start and stop hooks are there if it needs them.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from contextlib import asynccontextmanager
from typing import (
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    ClassVar,
    Dict,
    List,
    Mapping,
    Optional,
    Type,
    TypeVar,
)

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.server.channels.replies import require_safety_texts, technical_problem_text
from bot.server.channels.text import WIDGET_ONLY_KEYS

_VARIABLE = "environment_variable"
_PARSE = "parse"
SettingsType = TypeVar("SettingsType", bound="EnvironmentSettings")
OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


def from_environment(variable: str, parse: Callable[[str], Any] = str, default: Any = "") -> Any:
    """A settings field read from `variable` (stripped; unset reads as ""), then `parse`d."""
    return dataclasses.field(default=default, metadata={_VARIABLE: variable, _PARSE: parse})


def switched_on(value: str) -> bool:
    """Variables that default to on: only an explicit 0/false/no/off turns them off."""
    return value.lower() not in ("0", "false", "no", "off")


class EnvironmentSettings:
    """Base of a frozen dataclass whose fields come from environment variables."""

    # What the log says when nothing is set: the connector is off on purpose, not broken.
    UNSET_REASON: ClassVar[str] = "its variables are not set"

    @classmethod
    def from_env(cls: Type[SettingsType], environ: Optional[Mapping[str, str]] = None) -> SettingsType:
        env = os.environ if environ is None else environ
        values = {
            field.name: field.metadata[_PARSE]((env.get(field.metadata[_VARIABLE]) or "").strip())
            for field in dataclasses.fields(cls)  # type: ignore[arg-type]
            if _VARIABLE in field.metadata
        }
        return cls(**values)

    def problems(self) -> List[str]:
        """Why the connector cannot run; empty when it can."""
        raise NotImplementedError

    def is_unset(self) -> bool:
        """Nothing is configured: the connector is off on purpose."""
        raise NotImplementedError


class ConfiguredChannel(InputChannel):
    """A Rasa input channel configured from the environment; see the module's docstring."""

    settings_type: ClassVar[Type[EnvironmentSettings]]
    label: ClassVar[str]  # the platform's name in log lines and answers: "Telegram"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> ConfiguredChannel:
        # The credentials.yml block is empty on purpose: everything comes from the environment.
        channel = cls(settings=cls.settings_type.from_env())
        channel.log_state()
        return channel

    def __init__(self, settings: Optional[EnvironmentSettings] = None, debug_mode: bool = False) -> None:
        self.settings = settings if settings is not None else self.settings_type()
        self.problems = self.settings.problems()
        self.debug_mode = debug_mode

    @property
    def enabled(self) -> bool:
        return not self.problems

    @property
    def logger(self) -> logging.Logger:
        # The connector's own module logger, so its lines say where they come from.
        return logging.getLogger(type(self).__module__)

    @property
    def webhook_path(self) -> str:
        return f"/webhooks/{self.name()}/webhook"

    def describe_when_on(self) -> str:
        """What the "connector is on" log line adds after the label (override to say more)."""
        return f"(webhook {self.webhook_path})"

    def log_state(self) -> None:
        if self.enabled:
            self.logger.info("%s connector is on %s.", self.label, self.describe_when_on())
        elif self.settings.is_unset():
            self.logger.info("%s connector is off: %s.", self.label, self.settings.UNSET_REASON)
        else:
            self.logger.error("%s connector is off: %s.", self.label, "; ".join(self.problems))

    # The routes ---------------------------------------------------------------------------

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        require_safety_texts()
        webhook = Blueprint(f"tms_{self.name()}_webhook", __name__)

        @webhook.listener("after_server_start")
        async def started(*_: Any) -> None:
            await self.on_server_start()

        @webhook.listener("before_server_stop")
        async def stopping(*_: Any) -> None:
            await self.on_server_stop()

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.enabled else "off"})

        @webhook.route("/webhook", methods=["POST"])
        async def message(request: Request) -> HTTPResponse:
            if not self.enabled:
                return response.json({"error": f"The {self.label} connector is off."}, status=503)
            return await self.receive(request, on_new_message)

        return webhook

    async def receive(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        """One webhook call while the connector is on: check it, read it, hand it to Rasa."""
        raise NotImplementedError

    async def on_server_start(self) -> None:
        """Called once the server listens (e.g. to register the webhook with the platform)."""

    async def on_server_stop(self) -> None:
        """Called before the server stops (e.g. to close an HTTP session)."""

    # When a turn fails ----------------------------------------------------------------------

    @asynccontextmanager
    async def failure_told(
        self, out_channel: OutputChannel, recipient: Any, region: Optional[str] = None, who: str = ""
    ) -> AsyncIterator[None]:
        """Runs a turn; if it fails, logs it and tells the person rather than leaving them with nothing.

        `who` names the conversation in the log (a chat id, a masked number): the text is health
        data, so the log says what failed, never what was said.
        """
        try:
            yield
        except Exception:
            self.logger.exception("Handling a %s message failed (%s).", self.label, who)
            if self.debug_mode:
                raise
            await self.tell_technical_problem(out_channel, recipient, region, who)

    async def tell_technical_problem(
        self, out_channel: OutputChannel, recipient: Any, region: Optional[str], who: str
    ) -> None:
        if recipient is None:
            return
        try:
            await out_channel.send_text_message(str(recipient), technical_problem_text(region))
        except Exception as error:  # noqa: BLE001 - the platform itself may be what failed
            self.logger.error("Could not tell %s about the failure: %s", who, error)


class TextPlatformOutput(OutputChannel):
    """Put before a platform's Rasa output channel: what only the website widget understands is skipped."""

    async def send_custom_json(self, recipient_id: str, json_message: Dict[str, Any], **kwargs: Any) -> None:
        # Signals meant for the website widget ({"handoff": "waiting"}) mean nothing here.
        if set(json_message) <= WIDGET_ONLY_KEYS:
            return
        await super().send_custom_json(recipient_id, json_message, **kwargs)
