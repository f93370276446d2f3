"""Plain-text helpers shared by the messaging connectors (no Rasa, no network).

`split_text` keeps the order of the text and prefers the largest natural boundary
(paragraph, then line, then sentence, then word), so a reply that starts with the
crisis phone line still starts with it in the first message after splitting.
"""

from __future__ import annotations

import hmac
import re
from typing import Callable, List, Pattern, Sequence, Tuple, Union

Measure = Callable[[str], int]

# Custom payloads for the website widget only (the "handoff" signal of utter_handoff_connected):
# platforms that show text skip them.
WIDGET_ONLY_KEYS = frozenset({"handoff"})

# (how to cut, how to glue the pieces back together), largest boundary first.
_BOUNDARIES: Sequence[Tuple[Union[str, Pattern[str]], str]] = (
    (re.compile(r"\n[ \t]*\n\s*"), "\n\n"),
    ("\n", "\n"),
    (re.compile(r"(?<=[.!?:;])[ \t]+"), " "),
    (re.compile(r"[ \t]+"), " "),
)


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units: an emoji counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str | None, limit: int, measure: Measure = len) -> List[str]:
    """Splits `text` into stripped, non-empty chunks with measure(chunk) <= limit."""
    if limit < 1:
        raise ValueError("limit must be positive")
    text = (text or "").strip()
    if not text:
        return []
    return [chunk for chunk in _split(text, limit, measure, 0) if chunk]


def _cut(text: str, boundary: Union[str, Pattern[str]]) -> List[str]:
    if isinstance(boundary, str):
        return text.split(boundary)
    return boundary.split(text)


def _split(text: str, limit: int, measure: Measure, level: int) -> List[str]:
    text = text.strip()
    if measure(text) <= limit:
        return [text]
    if level == len(_BOUNDARIES):
        return _hard_cut(text, limit, measure)
    boundary, glue = _BOUNDARIES[level]
    chunks: List[str] = []
    current = ""
    for piece in (p.strip() for p in _cut(text, boundary)):
        if not piece:
            continue
        if measure(piece) > limit:
            if current:
                chunks.append(current)
                current = ""
            chunks.extend(_split(piece, limit, measure, level + 1))
            continue
        candidate = f"{current}{glue}{piece}" if current else piece
        if measure(candidate) <= limit:
            current = candidate
        else:
            chunks.append(current)
            current = piece
    if current:
        chunks.append(current)
    return chunks


def _hard_cut(text: str, limit: int, measure: Measure) -> List[str]:
    """Last resort for one unbroken token longer than the limit (never splits a code point)."""
    chunks: List[str] = []
    current = ""
    for char in text:
        if current and measure(current + char) > limit:
            chunks.append(current)
            current = ""
        current += char
    if current:
        chunks.append(current)
    return chunks


def secrets_match(received: str | None, expected: str) -> bool:
    """Constant-time comparison of a received secret with the configured one."""
    if received is None or not expected:
        return False
    return hmac.compare_digest(received.encode("utf-8"), expected.encode("utf-8"))


def as_plain_text(text: str | None) -> str:
    """User text with any leading '/' removed, so typed text is never read as an intent.

    Rasa treats a message starting with '/' as an intent name ("/crisis" would set the
    intent directly). Button payloads we generated ourselves are not passed through this.
    """
    return (text or "").lstrip().lstrip("/").strip()
