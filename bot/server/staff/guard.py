"""Who may reach a staff inbox route, and the headers and cookies every answer carries.

- public_route: the login pages, once the inbox is on (an account exists), else 404;
- staff_route: a live session too (else a redirect to the login, or 401 for JSON), and for
  posts a strictly read form whose CSRF token is the session's and whose Origin is this
  server's (else 403, with nothing done).

Kept apart from the routes (web.py) so that the rules live in one place and no route can
forget one: every route of the channel is wrapped by one of these two.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, Mapping, Optional, Protocol, Sequence

from argon2 import PasswordHasher
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.engine import Engine

from bot.server.staff import pages
from bot.server.staff.accounts import Account, StaffAccounts
from bot.server.staff.forms import BadForm, parse_form, same_origin, tokens_match
from bot.server.staff.sessions import Session, SessionStore
from bot.server.staff.store import Clock, HandoffRepository

SESSION_COOKIE = "staff_session"
LOGIN_COOKIE = "staff_login"
# Health data: never cached, framed, or leaked to other sites through the Referer header.
# "same-origin", not "no-referrer": under no-referrer browsers send `Origin: null` with the
# inbox's own form posts, which the Origin check must refuse.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}

Handler = Callable[..., Awaitable[HTTPResponse]]


@dataclass
class StaffStores:
    handoffs: HandoffRepository
    accounts: StaffAccounts
    sessions: SessionStore

    @classmethod
    def from_engine(
        cls, engine: Engine, clock: Clock = time.time, hasher: Optional[PasswordHasher] = None
    ) -> StaffStores:
        return cls(
            HandoffRepository(engine, clock),
            StaffAccounts(engine, clock, hasher),
            SessionStore(engine, clock),
        )


@dataclass(frozen=True)
class SignedIn:
    session: Session
    account: Account

    @property
    def username(self) -> str:
        return self.account.username


class GuardedChannel(Protocol):
    """What the guards need from the channel."""

    environ: Mapping[str, str]

    def require_inbox_on(self, request: Request) -> None: ...

    def signed_in(self, request: Request) -> Optional[SignedIn]: ...

    def base(self, request: Request) -> str: ...

    def error_page(
        self, request: Request, staff: Optional[SignedIn], status: int, title: str, message: str
    ) -> HTTPResponse: ...


def with_headers(result: HTTPResponse) -> HTTPResponse:
    for name, value in SECURITY_HEADERS.items():
        result.headers[name] = value
    if (result.content_type or "").startswith("text/html"):
        result.headers["Content-Security-Policy"] = pages.content_security_policy()
    return result


def public_route(handler: Handler) -> Handler:
    """A route open without a session (the login), once the inbox is on."""

    @functools.wraps(handler)
    async def route(self: GuardedChannel, request: Request, **params: Any) -> HTTPResponse:
        self.require_inbox_on(request)
        return with_headers(await handler(self, request, **params))

    return route


def person_route(handler: Handler) -> Handler:
    """A route the person's own widget calls (no staff session), once the inbox is on."""

    @functools.wraps(handler)
    async def route(self: GuardedChannel, request: Request, **params: Any) -> HTTPResponse:
        self.require_inbox_on(request)
        return with_headers(await handler(self, request, **params))

    return route


def staff_route(
    *, json_api: bool = False, form: Optional[Sequence[str]] = None
) -> Callable[[Handler], Handler]:
    """A route for signed-in staff; with `form`, a post whose CSRF token and origin are checked.

    The handler gets (request, staff, fields, **path parameters).
    """

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def route(self: GuardedChannel, request: Request, **params: Any) -> HTTPResponse:
            self.require_inbox_on(request)
            staff = self.signed_in(request)
            if staff is None:
                if json_api:
                    return with_headers(response.json({"error": "Sign in first."}, status=401))
                return with_headers(response.redirect(f"{self.base(request)}/login", status=303))
            fields: Dict[str, str] = {}
            if form is not None:
                try:
                    fields = parse_form(request, [*form, "csrf_token"])
                except BadForm as bad:
                    refused = self.error_page(
                        request, staff, bad.status, "That did not work", bad.message
                    )
                    return with_headers(refused)
                forged = not tokens_match(fields.get("csrf_token"), staff.session.csrf_token)
                if forged or not same_origin(request, self.environ):
                    return with_headers(self.error_page(request, staff, 403, *FORGED_POST))
            return with_headers(await handler(self, request, staff, fields, **params))

        return route

    return decorate


FORGED_POST = (
    "The form had expired",
    "The form was out of date or came from another site, so nothing was done. "
    "Go back, reload the page and try again.",
)


def plain_function(method: Handler) -> Handler:
    """A function calling a bound method: Sanic sets attributes on handlers, methods take none."""

    async def handler(request: Request, **params: Any) -> HTTPResponse:
        return await method(request, **params)

    handler.__name__ = method.__name__
    return handler


def secure_cookies(request: Request, environ: Mapping[str, str]) -> bool:
    """HTTPS as the server sees it, or $STAFF_COOKIE_SECURE=1 behind a TLS-terminating proxy."""
    return request.scheme == "https" or environ.get("STAFF_COOKIE_SECURE", "").strip() == "1"


def set_cookie(
    result: HTTPResponse,
    name: str,
    value: str,
    path: str,
    secure: bool,
    max_age: Optional[int] = None,
) -> None:
    """An HttpOnly, SameSite=Strict cookie, never sent to another site or read by scripts."""
    result.cookies[name] = value
    cookie = result.cookies[name]
    cookie["path"] = path
    cookie["httponly"] = True
    cookie["samesite"] = "Strict"
    if secure:
        cookie["secure"] = True
    if max_age is not None:
        cookie["max-age"] = max_age


def clear_cookie(result: HTTPResponse, name: str, path: str, secure: bool) -> None:
    set_cookie(result, name, "", path, secure, max_age=0)
