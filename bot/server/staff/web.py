"""The staff inbox on the Rasa server: a Rasa input channel whose blueprint serves /staff.

Registered in credentials.yml as `bot.server.staff.web.StaffInboxChannel:`. Its url_prefix() is
the absolute "/staff", which Rasa's channel registration keeps as it is (urljoin with
"/webhooks/"), so the pages are at /staff, not /webhooks/staff. It handles no messages.

GET  /staff/login, POST /staff/login, POST /staff/logout
GET  /staff                                   waiting, claimed and recently resolved handoffs
GET  /staff/conversations/<ref>                transcript, reply form, actions
GET  /staff/conversations/<ref>/events?after=N JSON: messages after the first N (polling)
POST /staff/conversations/<ref>/claim|release|resolve|reply
POST /staff/conversations/<ref>/delete         deletes the conversation everywhere (confirm box ticked)
GET  /staff/audit                              the latest staff actions

Off (every route 404) until an account exists (`python -m bot staff add`). Every other
route needs a session: pages redirect to the login, the JSON route answers 401. Every post
carries the session's CSRF token (the login form a cookie-bound one) and, when the browser
sends one, an Origin of this server. Database calls are synchronous, like the tracker
store's; password hashing runs in a thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import secrets
import time
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Tuple

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.exceptions import NotFound
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.server.channels.inbound import clean_text
from bot.server.staff import pages
from bot.server.staff.accounts import (
    LOCKOUT_SECONDS,
    MAX_FAILED_LOGINS,
    USERNAME_PATTERN,
    IpLoginLimiter,
    LoginResult,
    normalise_username,
)
from bot.server.staff.forms import BadForm, parse_form, same_origin, tokens_match
from bot.server.staff.guard import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Handler,
    SignedIn,
    StaffStores,
    clear_cookie,
    person_route,
    plain_function,
    public_route,
    secure_cookies,
    set_cookie,
    staff_route,
)
from bot.server.staff.store import (
    MAX_REPLY_CHARS,
    Clock,
    Handoff,
    NotClaimedError,
    engine_from_env,
)
from bot.server.staff.takeover import (
    NoTakeover,
    TakeoverControl,
    TrackerStoreTranscripts,
    TranscriptSource,
    TranscriptUnavailable,
    configured_takeover,
    configured_transcripts,
)

logger = logging.getLogger(__name__)

BLUEPRINT_NAME = "staff_inbox"
LOGIN_TOKEN_SECONDS = 60 * 60
AUDIT_ENTRIES_SHOWN = 200
RESOLVED_SHOWN = 20
MAX_AFTER = 1_000_000
NOTICES = {
    "claimed": "You are looking after this conversation now.",
    "released": "The conversation is back on the waiting list.",
    "resolved": "The conversation is resolved.",
    "sent": "Your reply was sent.",
}
INBOX_NOTICES = {"deleted": "The conversation was deleted, with everything stored about it."}
DELETE_CONFIRMATION = "delete"  # the value of the confirm box on the conversation page


# Only the website widget's ids ("web-" + 128 random bits, a UUID in older widgets): they are secrets only that
# browser holds. Telegram chat ids and phone numbers are guessable and never accepted here.
WIDGET_SENDER = re.compile(r"^web-[a-z0-9-]{16,64}$")
RESOLVED_RESPONSE = "utter_staff_resolved"
TIMEOUT_RESPONSE = "utter_handoff_timeout"


def closing_text(request: Request, response_name: str) -> Optional[str]:
    """The domain text the widget shows when the handoff ends (resolved, or nobody in time)."""
    domain = getattr(getattr(request.app.ctx, "agent", None), "domain", None)
    variations = (getattr(domain, "responses", None) or {}).get(response_name) or []
    return next((v["text"] for v in variations if isinstance(v, dict) and v.get("text")), None)


class StaffInboxChannel(InputChannel):
    """The staff inbox's pages, under /staff. Stores and hooks can be injected (tests)."""

    def __init__(
        self,
        stores: Optional[StaffStores] = None,
        transcripts: Optional[TranscriptSource] = None,
        takeover: Optional[TakeoverControl] = None,
        ip_limiter: Optional[IpLoginLimiter] = None,
        environ: Optional[Mapping[str, str]] = None,
        clock: Clock = time.time,
        poll_seconds: float = 4.0,
    ) -> None:
        self._stores = stores
        self._transcripts = transcripts
        self._takeover = takeover
        self.ip_limiter = ip_limiter or IpLoginLimiter()
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.clock = clock
        self.poll_ms = max(250, int(poll_seconds * 1000))  # how often an open page asks for news
        self._base_path: Optional[str] = None
        self._eraser: Any = None  # bot.server.privacy.erase.ConversationEraser, made on first delete

    @classmethod
    def name(cls) -> str:
        return "staff"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> StaffInboxChannel:
        # On the Rasa server (credentials.yml): claiming really pauses the assistant and
        # replies reach the person (bot/server/staff/live.py).
        from bot.server.staff.live import RasaTakeover

        return cls(takeover=RasaTakeover())

    def url_prefix(self) -> str:
        # Absolute: Rasa's urljoin("/webhooks/", "/staff") keeps it, so the inbox is at /staff.
        return "/staff"

    # What the routes use -----------------------------------------------------------------

    def stores(self) -> StaffStores:
        """The database, opened on first use: never while Rasa starts, when it may be down."""
        if self._stores is None:
            self._stores = StaffStores.from_engine(engine_from_env(self.environ))
        return self._stores

    def transcripts(self, request: Request) -> TranscriptSource:
        return self._transcripts or configured_transcripts() or TrackerStoreTranscripts(request.app)

    def takeover(self) -> TakeoverControl:
        return self._takeover or configured_takeover() or NoTakeover()

    def takeover_missing(self) -> bool:
        """No live takeover set up: pages must not let staff believe a reply reached anyone."""
        return isinstance(self.takeover(), NoTakeover)

    def base(self, request: Request) -> str:
        if self._base_path is None:
            self._base_path = request.app.url_for(f"{BLUEPRINT_NAME}.inbox")
        return self._base_path

    def require_inbox_on(self, request: Request) -> None:
        if not self.stores().accounts.any_exist():
            raise NotFound(f"Requested URL {request.path} not found")

    def signed_in(self, request: Request) -> Optional[SignedIn]:
        session = self.stores().sessions.get(request.cookies.get(SESSION_COOKIE))
        if session is None:
            return None
        account = self.stores().accounts.get(session.username)
        return SignedIn(session, account) if account is not None else None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        inbox = Blueprint(BLUEPRINT_NAME, __name__)
        routes: List[Tuple[Handler, str, str, str]] = [
            (self.login_form, "/login", "GET", "login_form"),
            (self.login, "/login", "POST", "login"),
            (self.logout, "/logout", "POST", "logout"),
            (self.inbox, "", "GET", "inbox"),
            (self.conversation, "/conversations/<ref:str>", "GET", "conversation"),
            (self.events, "/conversations/<ref:str>/events", "GET", "events"),
            (self.claim, "/conversations/<ref:str>/claim", "POST", "claim"),
            (self.release, "/conversations/<ref:str>/release", "POST", "release"),
            (self.resolve, "/conversations/<ref:str>/resolve", "POST", "resolve"),
            (self.reply, "/conversations/<ref:str>/reply", "POST", "reply"),
            (self.delete, "/conversations/<ref:str>/delete", "POST", "delete"),
            (self.audit_page, "/audit", "GET", "audit"),
            (self.person_updates, "/api/updates", "GET", "person_updates"),
        ]
        for handler, uri, method, name in routes:
            inbox.add_route(plain_function(handler), uri, methods=[method], name=name)
        bind = getattr(self._takeover, "bind", None)
        if bind is not None:

            async def bind_takeover(app: Any, _loop: Any) -> None:
                bind(app)

            async def watch_unclaimed(app: Any, _loop: Any) -> None:
                app.ctx.staff_timeouts = asyncio.get_running_loop().create_task(self.close_unclaimed_forever())

            inbox.listener("before_server_start")(bind_takeover)
            inbox.listener("after_server_start")(watch_unclaimed)
        return inbox

    async def close_unclaimed_forever(self) -> None:
        """Every so often, tells people whose request nobody claimed in time (bot/server/staff/live.py)."""
        from bot.server.staff.live import claim_timeout_seconds, close_unclaimed

        timeout = claim_timeout_seconds(self.environ)
        while True:
            await asyncio.sleep(min(60.0, timeout / 4))
            try:
                await close_unclaimed(self.stores().handoffs, self._takeover, timeout)
            except Exception as error:  # noqa: BLE001 - a database hiccup must not end the watch
                logger.error("Closing unclaimed handoffs failed: %s", type(error).__name__)

    # Login and logout --------------------------------------------------------------------

    @public_route
    async def login_form(self, request: Request) -> HTTPResponse:
        if self.signed_in(request) is not None:
            return response.redirect(self.base(request), status=303)
        return self.login_page(request, 200)

    @public_route
    async def login(self, request: Request) -> HTTPResponse:
        address = request.remote_addr or request.ip or "unknown"
        if self.ip_limiter.blocked(address):
            return self.login_page(
                request,
                429,
                "Too many failed sign-ins from this network. Wait 15 minutes and try again.",
            )
        try:
            fields = parse_form(request, ["csrf_token", "username", "password"])
        except BadForm as bad:
            return self.login_page(request, bad.status, bad.message)
        if not same_origin(request, self.environ) or not tokens_match(
            fields.get("csrf_token"), request.cookies.get(LOGIN_COOKIE)
        ):
            return self.login_page(request, 403, "The sign-in form had expired. Please try again.")
        username = normalise_username(fields.get("username", ""))[:64]
        accounts = self.stores().accounts
        outcome = await asyncio.get_running_loop().run_in_executor(
            None, accounts.verify, username, fields.get("password", "")
        )
        known_name = username if USERNAME_PATTERN.match(username) else None
        handoffs = self.stores().handoffs
        if outcome.result is LoginResult.OK and outcome.account is not None:
            session = self.stores().sessions.create(outcome.account.username)
            handoffs.audit(outcome.account.username, "login")
            result = response.redirect(self.base(request), status=303)
            secure = secure_cookies(request, self.environ)
            set_cookie(result, SESSION_COOKIE, session.token, self.base(request), secure)
            clear_cookie(result, LOGIN_COOKIE, f"{self.base(request)}/login", secure)
            return result
        self.ip_limiter.record_failure(address)
        if outcome.result is LoginResult.LOCKED:
            handoffs.audit(known_name, "login_locked")
            return self.login_page(
                request,
                429,
                f"This account is locked for {LOCKOUT_SECONDS // 60} minutes after too many wrong "
                "passwords. Wait, then try again.",
                username,
            )
        handoffs.audit(known_name, "login_failed")
        return self.login_page(request, 401, "The username or password is not right.", username)

    @staff_route(form=())
    async def logout(
        self, request: Request, staff: SignedIn, fields: Dict[str, str]
    ) -> HTTPResponse:
        self.stores().sessions.delete(staff.session.token)
        self.stores().handoffs.audit(staff.username, "logout")
        result = response.redirect(f"{self.base(request)}/login", status=303)
        clear_cookie(
            result, SESSION_COOKIE, self.base(request), secure_cookies(request, self.environ)
        )
        return result

    # Pages -------------------------------------------------------------------------------

    @staff_route()
    async def inbox(
        self, request: Request, staff: SignedIn, fields: Dict[str, str]
    ) -> HTTPResponse:
        handoffs = self.stores().handoffs
        sections = [
            (
                "waiting",
                "Waiting for a professional",
                handoffs.list(["waiting"]),
                "Nobody is waiting.",
            ),
            (
                "claimed",
                "Being looked after",
                handoffs.list(["claimed"]),
                "Nobody is being looked after.",
            ),
            (
                "resolved",
                "Recently resolved",
                handoffs.recently_resolved(RESOLVED_SHOWN),
                "None yet.",
            ),
        ]
        return self.page(
            request,
            staff,
            "inbox.html",
            page="inbox",
            notice=INBOX_NOTICES.get(self.done(request)),
            sections=sections,
            names=self.names(),
            now=self.clock(),
        )

    @staff_route()
    async def conversation(
        self, request: Request, staff: SignedIn, fields: Dict[str, str], ref: str
    ) -> HTTPResponse:
        handoff = self.stores().handoffs.get(ref)
        if handoff is None:
            return self.not_found(request, staff)
        self.stores().handoffs.audit(staff.username, "view_transcript", handoff.ref)
        done = self.done(request)
        notice = NOTICES.get(done)
        if done == "sent" and self.takeover_missing():
            notice = "Your reply is saved, but NOT delivered: see the warning above."
        return await self.conversation_page(request, staff, handoff, notice=notice)

    @staff_route(json_api=True)
    async def events(
        self, request: Request, staff: SignedIn, fields: Dict[str, str], ref: str
    ) -> HTTPResponse:
        try:
            after_text = request.args.get("after") or "0"
        except Exception:  # noqa: BLE001 - Sanic may fail on a malformed query string
            after_text = ""
        if not after_text.isascii() or not after_text.isdigit() or int(after_text) > MAX_AFTER:
            return response.json(
                {"error": "'after' must be a whole number of messages."}, status=400
            )
        handoff = self.stores().handoffs.get(ref)
        if handoff is None:
            return response.json({"error": "No such conversation."}, status=404)
        messages, error = await self.transcript(request, handoff)
        if error:
            return response.json({"error": error}, status=503)
        after = int(after_text)
        reset = after > len(messages)  # the transcript got shorter: send it all again
        payload = {
            "messages": [message.as_json() for message in messages[0 if reset else after :]],
            "next": len(messages),
            "reset": reset,
            "state": self.state(handoff),
            "state_text": self.state_text(handoff),
        }
        # "<" escaped too: the body can never be read as markup, even if sniffed.
        body = json.dumps(payload, ensure_ascii=True).replace("<", "\\u003c")
        return response.raw(body.encode("ascii"), content_type="application/json")

    @staff_route()
    async def audit_page(
        self, request: Request, staff: SignedIn, fields: Dict[str, str]
    ) -> HTTPResponse:
        entries = self.stores().handoffs.audit_log(AUDIT_ENTRIES_SHOWN)
        return self.page(
            request, staff, "audit.html", page="audit", entries=entries, limit=AUDIT_ENTRIES_SHOWN
        )

    # Actions -----------------------------------------------------------------------------

    @staff_route(form=())
    async def claim(
        self, request: Request, staff: SignedIn, fields: Dict[str, str], ref: str
    ) -> HTTPResponse:
        handoffs = self.stores().handoffs
        if handoffs.get(ref) is None:
            return self.not_found(request, staff)
        if not handoffs.claim(ref, staff.username):
            handoffs.audit(staff.username, "claim_refused", ref)
            return self.conflict(
                request,
                staff,
                ref,
                "Someone else is looking after this conversation, or it is resolved.",
            )
        handoff = self._current(ref)
        if not await self.tell("on_claim", handoff):
            handoffs.release(ref, staff.username)  # the assistant still answers: not a takeover
            handoffs.audit(staff.username, "takeover_failed", ref, "claim")
            return self.error_page(
                request,
                staff,
                502,
                "The conversation was not claimed",
                "The assistant could not be paused, so the conversation is still waiting. Try again; "
                "if it is urgent, contact the person another way.",
            )
        handoffs.audit(staff.username, "claim", ref)
        return self.back_to(request, ref, "claimed")

    @staff_route(form=())
    async def release(
        self, request: Request, staff: SignedIn, fields: Dict[str, str], ref: str
    ) -> HTTPResponse:
        handoffs = self.stores().handoffs
        if handoffs.get(ref) is None:
            return self.not_found(request, staff)
        if not handoffs.release(ref, staff.username):
            return self.conflict(
                request, staff, ref, "You are not looking after this conversation."
            )
        handoffs.audit(staff.username, "release", ref)
        if not await self.tell("on_release", self._current(ref)):
            handoffs.audit(staff.username, "takeover_failed", ref, "release")
            return self.error_page(
                request,
                staff,
                502,
                "The assistant was not told",
                "The conversation is back on the waiting list, but the assistant could not be told. "
                "Tell the administrator.",
            )
        return self.back_to(request, ref, "released")

    @staff_route(form=())
    async def resolve(
        self, request: Request, staff: SignedIn, fields: Dict[str, str], ref: str
    ) -> HTTPResponse:
        handoffs = self.stores().handoffs
        if handoffs.get(ref) is None:
            return self.not_found(request, staff)
        if not handoffs.resolve(ref, staff.username):
            return self.conflict(
                request,
                staff,
                ref,
                "Someone else is looking after this conversation, or it is resolved.",
            )
        handoffs.audit(staff.username, "resolve", ref)
        if not await self.tell("on_resolve", self._current(ref)):
            handoffs.audit(staff.username, "takeover_failed", ref, "resolve")
            return self.error_page(
                request,
                staff,
                502,
                "The assistant was not told",
                "The conversation is resolved, but the assistant could not be told to answer the person "
                "again. Tell the administrator.",
            )
        return self.back_to(request, ref, "resolved")

    @staff_route(form=("text",))
    async def reply(
        self, request: Request, staff: SignedIn, fields: Dict[str, str], ref: str
    ) -> HTTPResponse:
        handoffs = self.stores().handoffs
        handoff = handoffs.get(ref)
        if handoff is None:
            return self.not_found(request, staff)
        if handoff.status != "claimed" or handoff.claimed_by != staff.username:
            return self.conflict(request, staff, ref, "Claim the conversation before replying.")
        if "text" not in fields:
            return self.error_page(
                request, staff, 400, "That did not work", "The reply form had no text field."
            )
        text = clean_text(fields["text"])
        error = None
        if not text:
            error = "Write a reply before sending it."
        elif len(text) > MAX_REPLY_CHARS:
            error = f"The reply has {len(text):,} characters; the most is {MAX_REPLY_CHARS:,}. Shorten it and send it again."
        if error:
            return await self.conversation_page(
                request,
                staff,
                handoff,
                reply_error=error,
                reply_text=fields["text"][: MAX_REPLY_CHARS * 2],
                status=400,
            )
        try:
            reply = handoffs.add_reply(ref, staff.username, staff.account.display_name, text)
        except NotClaimedError:
            return self.conflict(request, staff, ref, "Claim the conversation before replying.")
        handoffs.audit(staff.username, "reply", ref, f"reply {reply.id}")
        if not await self.tell("on_reply", self._current(ref), reply):
            handoffs.audit(staff.username, "takeover_failed", ref, f"reply {reply.id}")
            return self.error_page(
                request,
                staff,
                502,
                "The reply was not delivered",
                "Your reply is saved but could not be sent to the person yet. Tell the administrator; "
                "if it is urgent, contact the person another way.",
            )
        return self.back_to(request, ref, "sent")

    @staff_route(form=("confirm",))
    async def delete(
        self, request: Request, staff: SignedIn, fields: Dict[str, str], ref: str
    ) -> HTTPResponse:
        """Deletes the conversation everywhere (bot/server/privacy/erase.py), once the confirm box
        is ticked. Anyone may delete one that is waiting or resolved; a claimed one only the
        professional who claimed it. Audited: who, when, which entry, how many events."""
        from bot.server.privacy.erase import ConversationEraser, delete_conversation

        handoffs = self.stores().handoffs
        handoff = handoffs.get(ref)
        if handoff is None:
            return self.not_found(request, staff)
        if handoff.status == "claimed" and handoff.claimed_by != staff.username:
            return self.conflict(request, staff, ref, "Someone else is looking after this conversation.")
        if fields.get("confirm") != DELETE_CONFIRMATION:
            return await self.conversation_page(
                request, staff, handoff, delete_error="Tick the box to confirm the deletion.", status=400
            )
        if self._eraser is None:
            self._eraser = ConversationEraser(handoffs.engine)
        agent = getattr(request.app.ctx, "agent", None)
        try:
            counts = await delete_conversation(handoff.sender_id, agent=agent, eraser=self._eraser)
        except Exception as error:  # noqa: BLE001 - shown to the professional, audited
            logger.error("Deleting the conversation of handoff %s failed: %s", ref, type(error).__name__)
            handoffs.audit(staff.username, "delete_failed", ref)
            return self.error_page(
                request, staff, 502, "The conversation was not deleted", "Please try again, or tell the administrator."
            )
        handoffs.audit(staff.username, "delete_conversation", ref, f"{counts.events} events")
        return response.redirect(f"{self.base(request)}?done=deleted", status=303)

    # For the person ---------------------------------------------------------------------

    @person_route
    async def person_updates(self, request: Request) -> HTTPResponse:
        """What the website widget fetches while its person waits for, or talks with, a
        professional: the status and the replies after `after`. The widget's sender id, 128
        random bits that only that browser holds, is what identifies the conversation."""
        sender = request.args.get("sender", "")
        after = request.args.get("after", "0")
        if not WIDGET_SENDER.match(sender) or not after.isdigit() or len(after) > 12:
            return response.json({"error": "'sender' (the widget's id) and 'after' (a number) are required."},
                                 status=400)
        handoffs = self.stores().handoffs
        handoff = await asyncio.to_thread(handoffs.latest_for_sender, sender)
        if handoff is None:
            return response.json({"status": "none", "replies": []})
        replies = await asyncio.to_thread(handoffs.replies_since, handoff.ref, int(after))
        body: Dict[str, Any] = {
            "status": handoff.status,
            "replies": [{"id": r.id, "name": r.display_name, "text": r.text} for r in replies],
        }
        if handoff.status == "resolved":
            from bot.server.staff.live import TIMED_OUT

            timed_out = handoff.claimed_by == TIMED_OUT
            body["closing"] = closing_text(request, TIMEOUT_RESPONSE if timed_out else RESOLVED_RESPONSE)
        return response.json(body, headers={"Cache-Control": "no-store"})

    # Helpers -----------------------------------------------------------------------------

    async def tell(self, hook: str, handoff: Handoff, *args: Any) -> bool:
        """Calls a TakeoverControl hook; False (logged without content) if it fails."""
        try:
            await getattr(self.takeover(), hook)(handoff, *args)
        except Exception as error:  # noqa: BLE001 - any failure is shown to the professional
            logger.error(
                "Staff takeover %s failed for handoff %s: %s",
                hook,
                handoff.ref,
                type(error).__name__,
            )
            logger.debug("Staff takeover failure", exc_info=True)
            return False
        return True

    async def transcript(
        self, request: Request, handoff: Handoff
    ) -> Tuple[List[pages.TranscriptMessage], Optional[str]]:
        replies = self.stores().handoffs.replies_since(handoff.ref, 0)
        try:
            events = await self.transcripts(request).events(handoff.sender_id)
        except TranscriptUnavailable:
            error = "The conversation cannot be read yet: the assistant is still starting."
            return pages.build_transcript([], replies), error
        except Exception as failure:  # noqa: BLE001 - show what can be shown, and say so
            logger.error(
                "Reading the transcript of handoff %s failed: %s",
                handoff.ref,
                type(failure).__name__,
            )
            error = "The conversation could not be read. Only staff replies are shown."
            return pages.build_transcript([], replies), error
        return pages.build_transcript(events, replies), None

    async def conversation_page(
        self,
        request: Request,
        staff: SignedIn,
        handoff: Handoff,
        *,
        notice: Optional[str] = None,
        reply_error: Optional[str] = None,
        reply_text: str = "",
        delete_error: Optional[str] = None,
        status: int = 200,
    ) -> HTTPResponse:
        messages, transcript_error = await self.transcript(request, handoff)
        claimer = self.names().get(handoff.claimed_by or "", handoff.claimed_by)
        return self.page(
            request,
            staff,
            "conversation.html",
            status=status,
            page="conversation",
            handoff=handoff,
            messages=messages,
            transcript_error=transcript_error,
            notice=notice,
            takeover_missing=self.takeover_missing(),
            mine=handoff.status == "claimed" and handoff.claimed_by == staff.username,
            claimer_name=claimer,
            state=self.state(handoff),
            state_text=self.state_text(handoff),
            reply_error=reply_error,
            delete_error=delete_error,
            reply_text=reply_text,
            max_reply=MAX_REPLY_CHARS,
            poll_ms=self.poll_ms,
        )

    def page(
        self,
        request: Request,
        staff: Optional[SignedIn],
        template: str,
        status: int = 200,
        **context: Any,
    ) -> HTTPResponse:
        context.setdefault("page", "")
        body = pages.render(
            template,
            base=self.base(request),
            staff=staff.account if staff else None,
            csrf_token=staff.session.csrf_token if staff else "",
            **context,
        )
        return response.html(body, status=status)

    def login_page(
        self, request: Request, status: int, error: Optional[str] = None, username: str = ""
    ) -> HTTPResponse:
        token = secrets.token_urlsafe(32)
        result = self.page(
            request,
            None,
            "login.html",
            status=status,
            error=error,
            username=username,
            login_token=token,
            max_failures=MAX_FAILED_LOGINS,
            lockout_minutes=LOCKOUT_SECONDS // 60,
        )
        path = f"{self.base(request)}/login"
        secure = secure_cookies(request, self.environ)
        set_cookie(result, LOGIN_COOKIE, token, path, secure, max_age=LOGIN_TOKEN_SECONDS)
        return result

    def error_page(
        self, request: Request, staff: Optional[SignedIn], status: int, title: str, message: str
    ) -> HTTPResponse:
        return self.page(
            request,
            staff,
            "error.html",
            status=status,
            title=title,
            message=message,
            link=self.base(request),
            link_text="Back to the inbox",
        )

    def not_found(self, request: Request, staff: SignedIn) -> HTTPResponse:
        return self.error_page(
            request, staff, 404, "No such conversation", "It may have been a mistyped or old link."
        )

    def conflict(self, request: Request, staff: SignedIn, ref: str, message: str) -> HTTPResponse:
        return self.error_page(request, staff, 409, "That was not possible", message)

    def back_to(self, request: Request, ref: str, done: str) -> HTTPResponse:
        return response.redirect(
            f"{self.base(request)}/conversations/{ref}?done={done}", status=303
        )

    def done(self, request: Request) -> str:
        """What the action before this page did (?done=...), for its notice."""
        try:
            return request.args.get("done") or ""
        except Exception:  # noqa: BLE001 - an odd query string only loses the notice
            return ""

    def names(self) -> Dict[str, str]:
        return {account.username: account.display_name for account in self.stores().accounts.list()}

    def state(self, handoff: Handoff) -> str:
        return f"{handoff.status}:{handoff.claimed_by or ''}"

    def state_text(self, handoff: Handoff) -> str:
        if handoff.status == "claimed":
            return f"claimed by {self.names().get(handoff.claimed_by or '', handoff.claimed_by)}"
        return pages.STATUS_LABELS[handoff.status].lower()

    def _current(self, ref: str) -> Handoff:
        handoff = self.stores().handoffs.get(ref)
        assert handoff is not None  # handoffs are never deleted
        return handoff
