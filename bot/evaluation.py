"""Loads a trained model in-process to classify messages (used by tests and the benchmark)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Dict, Text


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
