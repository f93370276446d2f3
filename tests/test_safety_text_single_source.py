"""Crisis numbers and safety sentences are written in domain.yml only.

Python and the widget's JavaScript read them from there (bot/safety_text.py, the
/widget/crisis-link route, actions/config.py), so a reviewed change to domain.yml is a
change everywhere. This scans the code the way grep would, so a copy cannot creep back in.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator, List

import pytest

from tests.conftest import PROJECT_ROOT, load_yaml

SCANNED_DIRS = ["bot", "actions"]
SCANNED_SUFFIXES = {".py", ".js"}
# The source documents the answers quote are data, not code (they are .txt files anyway).
EXCLUDED_DIRS = [PROJECT_ROOT / "bot" / "knowledge" / "sources"]

CRISIS_NUMBER = re.compile(
    r"(?<![\w-])(?:988|9-8-8|116[ -]?123|13[ -]?11[ -]?14|741741|85258)(?![\w-])"
    r"|988lifeline|findahelpline"
    r"|\b(?:call|dial|text)\s+(?:or\s+text\s+)?(?:911|999|000|112)\b"
    r"|tel:\+?\d",
    re.IGNORECASE,
)
# Responses whose wording must not be copied into code.
SAFETY_RESPONSES = [
    "utter_crisis", "utter_crisis_followup", "utter_crisis_reminder", "utter_crisis_link",
    "utter_technical_problem", "utter_not_text", "utter_professional_default",
    "utter_referral_offline", "utter_handoff_offline",
]
MIN_SENTENCE = 24  # shorter fragments ("call 999.") are caught by CRISIS_NUMBER


def code_files() -> List[Path]:
    files = []
    for directory in SCANNED_DIRS:
        for path in sorted((PROJECT_ROOT / directory).rglob("*")):
            excluded = "__pycache__" in path.parts or any(d in path.parents for d in EXCLUDED_DIRS)
            if path.suffix in SCANNED_SUFFIXES and path.is_file() and not excluded:
                files.append(path)
    return files


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def safety_sentences() -> List[str]:
    responses = load_yaml(PROJECT_ROOT / "domain.yml")["responses"]
    found = set()
    for name in SAFETY_RESPONSES:
        for variation in responses.get(name, []):
            text = variation.get("text") or ""
            found.add(normalise(text))  # whole short texts (e.g. the professional wording)
            for sentence in re.split(r"(?<=[.?!])\s+|\n", text):
                found.add(normalise(sentence))
    return sorted(s for s in found if len(s) >= MIN_SENTENCE)


CODE_FILES = code_files()
SENTENCES = safety_sentences()


def relative(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT))


def test_the_scan_sees_the_channels_the_actions_and_the_widget():
    names = {relative(p) for p in CODE_FILES}
    assert {"bot/server/channels/rest.py", "bot/server/channels/telegram.py", "bot/server/channels/twilio.py", "bot/server/channels/widget.py",
            "bot/safety_text.py", "actions/config.py", "bot/widget/static/tms-widget.js"} <= names
    assert len(SENTENCES) > 20 and "your doctor or a licensed mental health professional" in SENTENCES


def hits(pattern: re.Pattern, text: str) -> Iterator[str]:
    for match in pattern.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        yield f"line {line}: {match.group(0)!r}"


@pytest.mark.parametrize("path", CODE_FILES, ids=relative)
def test_no_crisis_number_in_code(path):
    found = list(hits(CRISIS_NUMBER, path.read_text(encoding="utf-8")))
    assert not found, f"{relative(path)} writes a crisis number; read it from domain.yml: {found}"


@pytest.mark.parametrize("path", CODE_FILES, ids=relative)
def test_no_safety_sentence_in_code(path):
    code = normalise(path.read_text(encoding="utf-8"))
    copied = [sentence for sentence in SENTENCES if sentence in code]
    assert not copied, f"{relative(path)} copies safety text from domain.yml: {copied}"


@pytest.mark.parametrize(
    "sample",
    ['TEXT = "call or text 988 (US)"', "href: 'tel:988'", "Samaritans 116 123", "call Lifeline on 13 11 14",
     "If you are in immediate danger, call 911.", "see https://988lifeline.org", "crisisHref: 'tel:+44116123'"],
)
def test_the_scan_would_catch_a_copied_number(sample):
    assert CRISIS_NUMBER.search(sample)


@pytest.mark.parametrize(
    "sample",
    ["port = 5988", "timeout_ms = 30000", "SAFE_HREF = /tel:\\+?[0-9]/", "MAX = 1000", "x = 112233", "version 9-8-80"],
)
def test_the_scan_ignores_ordinary_numbers(sample):
    assert not CRISIS_NUMBER.search(sample)
