"""The assistant's knowledge: the two source documents and how answers cite them.

Every answer that states a fact about TMS carries `metadata.source` (or `sources`) with
the document id, section and the exact quote it rests on. Document ids are the file
names in `sources/`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Text

SOURCES_DIR = Path(__file__).resolve().parent / "sources"


@dataclass(frozen=True)
class Citation:
    document: Text
    section: Text
    quotes: List[Text]


def document_text(document: Text) -> Text:
    return (SOURCES_DIR / f"{document}.txt").read_text(encoding="utf-8")


def normalise(text: Text) -> Text:
    """Folds typographic quotes, dashes and whitespace so a quote matches its document."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    text = text.replace("\u2014", "-").replace("\u2013", "-")
    return re.sub(r"\s+", " ", text).strip()


def citations(variation: Dict[Text, Any]) -> List[Citation]:
    """The citations of one response variation (empty if it has none)."""
    metadata = variation.get("metadata") or {}
    entries = metadata.get("sources") or ([metadata["source"]] if metadata.get("source") else [])
    result = []
    for entry in entries:
        quote = entry.get("quote") or []
        result.append(
            Citation(
                document=entry.get("document", ""),
                section=entry.get("section", ""),
                quotes=[quote] if isinstance(quote, str) else list(quote),
            )
        )
    return result


def cited_responses(responses: Dict[Text, List[Dict[Text, Any]]]) -> Iterator[tuple]:
    """(response name, text, citations) for every variation that cites a source."""
    for name, variations in responses.items():
        for variation in variations:
            found = citations(variation)
            if found:
                yield name, variation.get("text", ""), found
