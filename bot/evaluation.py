"""Loads a trained model in-process to classify messages, and reads the labelled test
messages (used by the NLU tests and the benchmark alike)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Dict, List, Text, Tuple

import yaml


def labelled_examples(path: Path) -> List[Tuple[Text, Text]]:
    """(label, text) pairs from a Rasa NLU YAML file; the label of "faq/x" examples is "faq/x"."""
    pairs = []
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for block in data.get("nlu", []):
        if "intent" not in block:
            continue
        for line in block["examples"].splitlines():
            text = line.strip()[2:].strip() if line.strip().startswith("- ") else ""
            if text:
                pairs.append((block["intent"], text))
    return pairs


def message_lines(path: Path) -> List[Text]:
    """One message per line; blank lines and lines starting with "#" are skipped."""
    return [
        line.strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]


class ModelParser:
    """Parses text with a trained model: intent, FAQ topic and confidence, no servers."""

    def __init__(self, model: Path) -> None:
        from rasa.core.agent import Agent

        self._agent = Agent.load(str(model))
        self._loop = asyncio.new_event_loop()

    def parse(self, text: Text) -> Dict[Text, Any]:
        return self._loop.run_until_complete(self._agent.parse_message(text))

    def label(self, text: Text) -> Text:
        """The intent, or the full FAQ key (e.g. "faq/session_length") for FAQ questions."""
        intent = self.parse(text)["intent"]
        return intent.get("full_retrieval_intent_name") or intent["name"]

    def close(self) -> None:
        self._loop.close()
