"""The person's own API on the Rasa server, for the website widget: a Rasa input channel.

Registered in credentials.yml as `bot.server.privacy.web.PrivacyChannel:`. Its url_prefix()
is the absolute "/privacy" (Rasa keeps it as it is), so the routes are at /privacy/api/...
It handles no messages. It also runs the daily retention job (retention.py) in the server.

POST /privacy/api/session   (empty body)              -> {"sender", "token"}: a new conversation id
POST /privacy/api/delete    {"sender", "token"}       -> {"deleted": true, "found", "events"}
POST /privacy/api/export    {"sender", "token"}       -> the transcript, text/plain (404: none stored)
POST /privacy/api/answer    {"sender", "token"}       -> {"answer": {"ts", "index"} or null}: the
                                                         latest turn's rateable answer
POST /privacy/api/feedback  {"sender", "token", "answer_ts", "helpful"} -> {"stored": true, ...}

Every route: a browser's Origin must be an allowed one (bot/server/origins.py, as the
socket.io channel checks it; 403); at most RATE_LIMIT_REQUESTS per address and minute, in
this process (429 with Retry-After); then a small, flat JSON body (body.py: 413, 415, 400).
Routes with a conversation: the token of its sender id (tokens.py; missing 401, wrong 403).
Nothing a person wrote, and no sender id, is ever logged.
"""

from __future__ import annotations

import asyncio
import logging
import os
import string
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Mapping, Optional

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.server.origins import configured_origins, is_allowed
from bot.server.privacy.body import BadRequest, parse_body, sender_of, token_of
from bot.server.privacy.erase import ConversationEraser, default_eraser, delete_conversation
from bot.server.privacy.feedback import (
    FeedbackStore,
    NoSuchAnswer,
    NotRated,
    latest_answer,
    valid_timestamp,
)
from bot.server.privacy.limiter import RateLimiter
from bot.server.privacy.retention import RetentionJob, run_forever
from bot.server.privacy.settings import (
    RETENTION_CHECK_SECONDS,
    RETENTION_FIRST_CHECK_SECONDS,
    PrivacySettings,
)
from bot.server.privacy.tokens import load_secret, new_sender_id, token_for, token_matches
from bot.server.privacy.transcript import conversation_events, export_conversation

logger = logging.getLogger(__name__)

BLUEPRINT_NAME = "privacy_api"
EXPORT_FILE_NAME = "tms-conversation.txt"
HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
SHORT_PAGE = Path(__file__).resolve().parent / "templates" / "short.html"
# A static page: nothing may load, run or frame it; only its own inline style applies.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

Route = Callable[[Request, Dict[str, Any], Optional[str]], Awaitable[HTTPResponse]]


def error(status: int, reason: str, headers: Optional[Dict[str, str]] = None) -> HTTPResponse:
    return response.json({"error": reason}, status=status, headers={**HEADERS, **(headers or {})})


class PrivacyChannel(InputChannel):
    """/privacy/api: delete, export and rate, by the conversation's owner. Parts can be
    injected (tests); otherwise everything comes from the environment on first use."""

    def __init__(
        self,
        *,
        eraser: Optional[ConversationEraser] = None,
        secret: Optional[bytes] = None,
        limiter: Optional[RateLimiter] = None,
        environ: Optional[Mapping[str, str]] = None,
        clock: Callable[[], float] = time.time,
        schedule_retention: bool = False,
    ) -> None:
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self._eraser = eraser
        self._secret = secret
        self._feedback: Optional[FeedbackStore] = None
        self.limiter = limiter or RateLimiter()
        self.clock = clock
        self.schedule_retention = schedule_retention
        self._settings: Optional[PrivacySettings] = None

    @classmethod
    def name(cls) -> str:
        return "privacy"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> PrivacyChannel:
        # On the Rasa server (credentials.yml): the daily retention runs there too.
        return cls(schedule_retention=True)

    def url_prefix(self) -> str:
        # Absolute: Rasa's urljoin("/webhooks/", "/privacy") keeps it.
        return "/privacy"

    # What the routes use, made on first use (never while Rasa starts, when the database
    # may not be up yet) --------------------------------------------------------------------

    def settings(self) -> PrivacySettings:
        if self._settings is None:
            self._settings = PrivacySettings.from_env(self.environ)
        return self._settings

    def eraser(self) -> ConversationEraser:
        if self._eraser is None:
            self._eraser = default_eraser()
        return self._eraser

    def secret(self) -> bytes:
        if self._secret is None:
            self._secret = load_secret(self.settings())
        return self._secret

    def feedback(self) -> FeedbackStore:
        if self._feedback is None:
            self._feedback = FeedbackStore(self.eraser().engine, self.clock)
        return self._feedback

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        self.settings()  # a wrong RETENTION_DAYS or PRIVACY_SECRET stops the start, loudly
        api = Blueprint(BLUEPRINT_NAME, __name__)
        routes: Dict[str, Route] = {
            "delete": self.delete,
            "export": self.export,
            "answer": self.answer,
            "feedback": self.rate,
        }

        async def session(request: Request) -> HTTPResponse:
            return await self.guarded(request, self.session, owner=False)

        api.add_route(session, "/api/session", methods=["POST"], name="session")

        async def short_page(request: Request) -> HTTPResponse:
            return await self.short_page(request)

        api.add_route(short_page, "", methods=["GET"], name="short_page")
        for name, route in routes.items():

            async def handler(request: Request, route: Route = route) -> HTTPResponse:
                return await self.guarded(request, route)

            api.add_route(handler, f"/api/{name}", methods=["POST"], name=name)
        if self.schedule_retention:
            api.listener("after_server_start")(self.start_retention)
            api.listener("before_server_stop")(self.stop_retention)
        return api

    async def short_page(self, request: Request) -> HTTPResponse:
        """GET /privacy: the short version of docs/privacy.md, linked under the widget's greeting."""
        page = string.Template(SHORT_PAGE.read_text(encoding="utf-8"))
        html = page.substitute(retention_days=int(self.settings().retention_days))
        return response.html(html, headers={**PAGE_HEADERS})

    # The checks every route goes through ---------------------------------------------------

    async def guarded(self, request: Request, route: Route, owner: bool = True) -> HTTPResponse:
        origin = request.headers.get("origin")
        own = [f"http://{request.host}", f"https://{request.host}"]  # pages this server serves
        if not is_allowed(origin, configured_origins(self.environ), own=own):
            return error(403, "This site may not use the assistant's privacy API.")
        address = request.remote_addr or request.ip or "unknown"
        if not self.limiter.allow(address):
            wait = self.limiter.retry_after(address)
            return error(429, "Too many requests. Wait a minute and try again.", {"Retry-After": str(wait)})
        try:
            payload = parse_body(request.headers.get("content-type"), request.body, allow_empty=not owner)
            sender = None
            if owner:
                sender = sender_of(payload)
                token = token_of(payload)
                secret = await asyncio.to_thread(self.secret)
                if not token_matches(secret, sender, token):
                    raise BadRequest(403, "The token does not match this conversation.")
            result = await route(request, payload, sender)
        except BadRequest as bad:
            return error(bad.status, bad.reason)
        for name, value in HEADERS.items():
            result.headers.setdefault(name, value)
        return result

    # Routes ---------------------------------------------------------------------------

    async def session(self, request: Request, payload: Dict[str, Any], _: Optional[str]) -> HTTPResponse:
        sender = new_sender_id()
        secret = await asyncio.to_thread(self.secret)
        return response.json({"sender": sender, "token": token_for(secret, sender)})

    async def delete(self, request: Request, payload: Dict[str, Any], sender: Optional[str]) -> HTTPResponse:
        assert sender is not None
        agent = getattr(request.app.ctx, "agent", None)
        counts = await delete_conversation(sender, agent=agent, eraser=await asyncio.to_thread(self.eraser))
        logger.info("Privacy: a conversation was deleted by its owner (%d events).", counts.events)
        return response.json({"deleted": True, "found": counts.found, "events": counts.events})

    async def export(self, request: Request, payload: Dict[str, Any], sender: Optional[str]) -> HTTPResponse:
        assert sender is not None
        text = await asyncio.to_thread(lambda: export_conversation(sender, engine=self.eraser().engine, clock=self.clock))
        if text is None:
            return error(404, "Nothing is stored for this conversation.")
        return response.text(
            text,
            content_type="text/plain; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{EXPORT_FILE_NAME}"'},
        )

    async def answer(self, request: Request, payload: Dict[str, Any], sender: Optional[str]) -> HTTPResponse:
        assert sender is not None
        events = await asyncio.to_thread(lambda: conversation_events(self.eraser().engine, sender))
        found = latest_answer(events)
        return response.json({"answer": {"ts": found.ts, "index": found.index} if found else None})

    async def rate(self, request: Request, payload: Dict[str, Any], sender: Optional[str]) -> HTTPResponse:
        assert sender is not None
        answer_ts, helpful = payload.get("answer_ts"), payload.get("helpful")
        if not valid_timestamp(answer_ts):
            raise BadRequest(400, "'answer_ts' must be the answer's timestamp (a number).")
        if not isinstance(helpful, bool):
            raise BadRequest(400, "'helpful' must be true or false.")
        try:
            await asyncio.to_thread(lambda: self.feedback().record(sender, float(answer_ts), helpful))
        except NoSuchAnswer:
            return error(404, "This conversation has no answer with that timestamp.")
        except NotRated:
            return error(409, "That message is not an answer that can be rated.")
        return response.json({"stored": True, "answer_ts": float(answer_ts), "helpful": helpful})

    # The daily retention ----------------------------------------------------------------

    def retention_job(self, app: Any) -> RetentionJob:
        eraser = self.eraser()
        return RetentionJob(
            eraser.engine, self.settings().retention_days, eraser=eraser, agent=getattr(app.ctx, "agent", None)
        )

    async def start_retention(self, app: Any, _loop: Any) -> None:
        app.ctx.privacy_retention = asyncio.get_running_loop().create_task(
            run_forever(lambda: self.retention_job(app), RETENTION_FIRST_CHECK_SECONDS, RETENTION_CHECK_SECONDS)
        )

    async def stop_retention(self, app: Any, _loop: Any) -> None:
        task = getattr(app.ctx, "privacy_retention", None)
        if task is not None:
            task.cancel()
