"""Rasa's response generator with the answers' text read live from the files (bot/content.py).

Configured in endpoints.yml (`nlg: type: bot.server.content_nlg.ContentNLG`), Rasa's own
extension point for response generation. It is Rasa's TemplatedNaturalLanguageGenerator
(variations, conditions on slots, channel-specific responses all as before) whose
`responses` are the trained model's responses with the files' current versions on top.
The action fallback (bot/server/resilience.py) answers through it too, so the edited text
is also what a person gets while the action server is down.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.utils.endpoints import EndpointConfig

from bot.content import LiveResponses, live_responses, merged


class ContentNLG(TemplatedNaturalLanguageGenerator):
    def __init__(
        self,
        endpoint_config: Optional[EndpointConfig] = None,
        domain: Optional[Domain] = None,
        live: Optional[LiveResponses] = None,
    ) -> None:
        self._trained: Dict[Text, List[Dict[Text, Any]]] = dict((domain or Domain.empty()).responses)
        self._live = live or live_responses()
        self._merged_from: Optional[int] = None
        self._merged: Dict[Text, List[Dict[Text, Any]]] = self._trained
        super().__init__(self._trained)

    @property  # type: ignore[override]
    def responses(self) -> Dict[Text, List[Dict[Text, Any]]]:
        current = self._live.responses()
        if current is None:
            return self._trained
        if self._merged_from != self._live.reloads:
            self._merged = merged(self._trained, current)
            self._merged_from = self._live.reloads
        return self._merged

    @responses.setter
    def responses(self, _: Any) -> None:
        """TemplatedNaturalLanguageGenerator.__init__ sets them; the property decides."""
