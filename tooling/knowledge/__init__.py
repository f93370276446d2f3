"""The assistant's knowledge: the two source documents and how answers cite them.

Every answer that states a fact about TMS cites its sources in one format only:

    metadata:
      sources:
      - document: clinic_tms_explainer      # a file name in sources/, without ".txt"
        section: "8. Effectiveness"         # the heading the quote sits under
        quote: "Response rates vary, ..."   # one exact passage of the document

`sources` is always a list, and each entry has exactly one `quote` string. Two passages
that are not next to each other in the document are two entries. The text before a
document's first heading is its "Introduction"; a closing paragraph after its last bullet
list (a sign-off or disclaimer) is its "Closing note".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Text

SOURCES_DIR = Path(__file__).resolve().parent / "sources"
CITATION_KEYS = ("document", "section", "quote")
INTRODUCTION = "Introduction"
CLOSING_NOTE = "Closing note"


class CitationFormatError(ValueError):
    """A response's metadata does not follow the one citation format."""


@dataclass(frozen=True)
class Citation:
    document: Text
    section: Text
    quote: Text


def documents() -> List[Text]:
    return sorted(path.stem for path in SOURCES_DIR.glob("*.txt"))


def document_text(document: Text) -> Text:
    return (SOURCES_DIR / f"{document}.txt").read_text(encoding="utf-8")


def normalise(text: Text) -> Text:
    """Folds typographic quotes, dashes and whitespace so a quote matches its document."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    text = text.replace("\u2014", "-").replace("\u2013", "-")
    return re.sub(r"\s+", " ", text).strip()


def _is_bullet(line: Text) -> bool:
    return line.startswith(("-", "\u2022"))


def _is_heading(line: Text) -> bool:
    """A short line that is not a bullet and does not end a sentence ("4. Neuroplasticity:")."""
    return bool(line) and len(line) <= 60 and not _is_bullet(line) and not line.endswith((".", "!", "?"))


def sections(document: Text) -> Dict[Text, Text]:
    """The document's text by section heading (normalised), in document order."""
    result: Dict[Text, List[Text]] = {INTRODUCTION: []}
    current, seen_bullet = INTRODUCTION, False
    for raw in document_text(document).splitlines():
        line = raw.strip()
        if not line:
            continue
        if _is_heading(line):
            current, seen_bullet = line.rstrip(":").strip(), False
            result[current] = []
            continue
        if _is_bullet(line):
            seen_bullet = True
        elif seen_bullet and current != CLOSING_NOTE:
            current = CLOSING_NOTE
            result[current] = []
        result[current].append(line)
    return {name: normalise(" ".join(lines)) for name, lines in result.items()}


def citations(variation: Dict[Text, Any]) -> List[Citation]:
    """The citations of one response variation (empty if it has none).

    Raises CitationFormatError for anything but the one format described above, so an
    old-style `source:` mapping or a list of quotes cannot slip through unchecked.
    """
    metadata = variation.get("metadata") or {}
    if "source" in metadata:
        raise CitationFormatError("use `sources:` (a list), not `source:`")
    entries = metadata.get("sources")
    if entries is None:
        return []
    if not isinstance(entries, list) or not entries:
        raise CitationFormatError("`sources` must be a non-empty list")
    result = []
    for entry in entries:
        if not isinstance(entry, dict) or sorted(entry) != sorted(CITATION_KEYS):
            raise CitationFormatError(f"each source needs exactly {', '.join(CITATION_KEYS)}: {entry!r}")
        if not all(isinstance(entry[key], str) and entry[key].strip() for key in CITATION_KEYS):
            raise CitationFormatError(f"document, section and quote must be non-empty strings: {entry!r}")
        result.append(Citation(document=entry["document"], section=entry["section"], quote=entry["quote"]))
    return result


def cited_responses(responses: Dict[Text, List[Dict[Text, Any]]]) -> Iterator[tuple]:
    """(response name, text, citations) for every variation that cites a source."""
    for name, variations in responses.items():
        for variation in variations:
            found = citations(variation)
            if found:
                yield name, variation.get("text", ""), found
