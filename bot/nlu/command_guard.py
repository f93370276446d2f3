"""Stops typed text from acting as a Rasa command.

Rasa reads any message that starts with "/" as `/intent{"slot": "value"}` and skips NLU,
so a person could type "/restart" (erasing the crisis flag) or set slots at will. This
component runs first and removes the leading slashes from every message that is not an
exact command the assistant itself sends (the widget's initial "/greet"); the text is then
understood like any other message. Quick replies in this assistant carry plain questions,
not commands, so they are unaffected.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.code_version import PackageFingerprinted


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER], is_trainable=False
)
class TypedCommandGuard(PackageFingerprinted, GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"allowed_commands": ["/greet"]}

    def __init__(self, config: Dict[Text, Any]) -> None:
        self.allowed = set(config["allowed_commands"])

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TypedCommandGuard:
        return cls({**cls.get_default_config(), **config})

    def neutralise(self, text: Text) -> Text:
        if not text.startswith("/") or text.strip() in self.allowed:
            return text
        # A lone "/" names no intent, so Rasa reads it as text already.
        return text.lstrip("/").strip() or text

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if isinstance(text, str):
                message.set(TEXT, self.neutralise(text))
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
