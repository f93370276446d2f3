"""A Rasa featurizer that gives each message a sentence embedding (all-MiniLM-L6-v2).

The vector carries meaning that word and character counts do not ("not be here anymore"
is close to "want to die"; "30 kms away" is not close to "kill myself"). It is stored on
the message for the crisis classifier (bot/nlu/crisis.py) and, with `add_features: true`,
also given to DIET and the ResponseSelector as a dense sentence feature.
"""

from __future__ import annotations

import hashlib
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.code_version import PackageFingerprinted
from bot.nlu.minilm import MiniLMEncoder, shared_encoder

# Where the vector is kept on a message (not part of the parse result).
EMBEDDING_KEY = "sentence_embedding"


def message_embedding(message: Message) -> Optional[np.ndarray]:
    return message.get(EMBEDDING_KEY)


class HashedVector(np.ndarray):
    """An embedding that Rasa's training cache can fingerprint quickly.

    Rasa fingerprints every training message (`deep_container_fingerprint`), which turns a
    plain array into text with `str()`: about 10 s for 7,000 embeddings, a tenth of the
    training time. An object with a `fingerprint()` method is asked for it instead.
    """

    def fingerprint(self) -> Text:
        digest = hashlib.md5(np.ascontiguousarray(self).tobytes(), usedforsecurity=False)
        digest.update(f"{self.dtype.str}{self.shape}".encode())
        return digest.hexdigest()


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False
)
class SentenceEmbeddingFeaturizer(PackageFingerprinted, GraphComponent):
    """Adds a unit-length 384-dimensional embedding of the whole text to each message."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"add_features": False, "alias": "minilm"}

    def __init__(self, config: Dict[Text, Any], encoder: Optional[MiniLMEncoder] = None) -> None:
        self._config = config
        self._encoder = encoder

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceEmbeddingFeaturizer:
        return cls(config)

    @staticmethod
    def required_packages() -> List[Text]:
        return ["tokenizers", "safetensors"]

    @property
    def encoder(self) -> MiniLMEncoder:
        if self._encoder is None:
            self._encoder = shared_encoder()
        return self._encoder

    def _featurize(self, messages: List[Message]) -> None:
        messages = [m for m in messages if m.get(TEXT) is not None]
        if not messages:
            return
        vectors = self.encoder.encode([m.get(TEXT) for m in messages])
        for message, vector in zip(messages, vectors, strict=True):
            message.set(EMBEDDING_KEY, vector.view(HashedVector))
            if self._config["add_features"]:
                message.add_features(
                    Features(vector[None, :], FEATURE_TYPE_SENTENCE, TEXT, self._config["alias"])
                )

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        self._featurize(messages)
        return messages
