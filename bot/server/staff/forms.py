"""Reading the inbox's HTML form posts strictly, and telling same-site posts from forged ones."""

from __future__ import annotations

import hmac
from typing import Dict, Mapping, Optional, Sequence
from urllib.parse import parse_qsl, urlsplit

from sanic.request import Request

# A 2,000-character reply of 4-byte characters, percent-encoded, is 24 KB.
MAX_FORM_BYTES = 32 * 1024
MAX_FORM_FIELDS = 10
FORM_TYPE = "application/x-www-form-urlencoded"


class BadForm(ValueError):
    """A post that is not a form the inbox sent; `status` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def parse_form(request: Request, fields: Sequence[str]) -> Dict[str, str]:
    """The named fields of an urlencoded post (others are ignored), or BadForm.

    A field sent twice, a body that is not UTF-8 after decoding, or one too large is refused
    rather than guessed at.
    """
    media_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media_type != FORM_TYPE:
        raise BadForm(415, "The request must be a form post (application/x-www-form-urlencoded).")
    body = request.body or b""
    if len(body) > MAX_FORM_BYTES:
        raise BadForm(413, f"The form is larger than {MAX_FORM_BYTES // 1024} KB.")
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FORM_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        raise BadForm(
            400, "The form could not be read: it is not valid UTF-8 or has too many fields."
        ) from None
    form: Dict[str, str] = {}
    for name, value in pairs:
        if name not in fields:
            continue
        if name in form:
            raise BadForm(400, f"The field '{name}' was sent more than once.")
        form[name] = value
    return form


def tokens_match(sent: Optional[str], expected: Optional[str]) -> bool:
    """Constant-time comparison of a CSRF token from a form with the one on record."""
    if not sent or not expected:
        return False
    return hmac.compare_digest(sent.encode("utf-8"), expected.encode("utf-8"))


def same_origin(request: Request, environ: Mapping[str, str]) -> bool:
    """Whether a post comes from the inbox's own pages, by its Origin and Sec-Fetch-Site.

    Browsers send Origin with every form post; it must name this server: the host the
    request was sent to, or $STAFF_PUBLIC_ORIGIN (e.g. https://staff.example-clinic.org)
    behind a proxy that changes the Host header. Without Origin (an old browser, a script),
    the CSRF token alone decides.
    """
    if (request.headers.get("sec-fetch-site") or "").lower() in ("cross-site", "same-site"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    parsed = urlsplit(origin.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return False  # includes "null", sent from sandboxed frames and some redirects
    public = (environ.get("STAFF_PUBLIC_ORIGIN") or "").strip().rstrip("/")
    if public:
        return f"{parsed.scheme}://{parsed.netloc}".lower() == public.lower()
    return parsed.netloc.lower() == (request.host or "").lower()
