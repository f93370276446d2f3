"""Turns an unsure FAQ answer choice into `nlu_fallback`.

The intent classifier can be 0.99 sure that a message is *some* FAQ question while the
ResponseSelector is only 0.1 sure *which* answer fits (rasa issues 9751, 9723). Rasa's
FallbackClassifier looks only at the intent, so without this guard the assistant would
confidently give a medical answer to a question it did not understand. When the chosen
answer's confidence is low, or the best two answers are too close to call, the intent
becomes `nlu_fallback` and the response selector's ranking is kept so that the clarify
action can offer the likeliest topics.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message

RESPONSE_SELECTOR = "response_selector"


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class FaqAnswerConfidenceGuard(GraphComponent):
    """Falls back when the response selector is unsure which FAQ answer fits."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"retrieval_intent": "faq", "threshold": 0.5, "ambiguity_threshold": 0.1}

    def __init__(self, config: Dict[Text, Any]) -> None:
        self.retrieval_intent: Text = config["retrieval_intent"]
        self.threshold: float = config["threshold"]
        self.ambiguity_threshold: float = config["ambiguity_threshold"]

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> FaqAnswerConfidenceGuard:
        return cls({**cls.get_default_config(), **config})

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            if self._answer_is_unsure(message):
                self._fall_back(message)
        return messages

    def _answer_is_unsure(self, message: Message) -> bool:
        intent = message.get(INTENT) or {}
        if intent.get("name") != self.retrieval_intent:
            return False
        ranking = (
            (message.get(RESPONSE_SELECTOR) or {})
            .get(self.retrieval_intent, {})
            .get("ranking", [])
        )
        if not ranking:
            return True
        best = ranking[0].get("confidence", 0.0)
        runner_up = ranking[1].get("confidence", 0.0) if len(ranking) > 1 else 0.0
        return best < self.threshold or best - runner_up < self.ambiguity_threshold

    @staticmethod
    def _fall_back(message: Message) -> None:
        confidence = (message.get(INTENT) or {}).get("confidence", 0.0)
        fallback = {"name": DEFAULT_NLU_FALLBACK_INTENT_NAME, "confidence": confidence}
        message.set(INTENT, fallback, add_to_output=True)
        message.set(
            INTENT_RANKING_KEY,
            [fallback, *(message.get(INTENT_RANKING_KEY) or [])],
            add_to_output=True,
        )
