"""The featurizer's vectors: what it stores and how Rasa's training cache fingerprints them."""

from __future__ import annotations

import pickle

import numpy as np
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.shared.utils.io import deep_container_fingerprint

from bot.nlu.sentence_embeddings import EMBEDDING_KEY, HashedVector, SentenceEmbeddingFeaturizer


class FixedEncoder:
    """Stands in for MiniLM: one known row per text."""

    def encode(self, texts):
        return np.arange(len(texts) * 3, dtype=np.float32).reshape(len(texts), 3)


def featurized(*texts):
    data = TrainingData([Message(data={"text": text, "intent": "greet"}) for text in texts])
    SentenceEmbeddingFeaturizer({"add_features": False, "alias": "minilm"}, FixedEncoder()).process_training_data(data)
    return data.training_examples


def test_each_message_gets_its_own_row_as_a_fingerprintable_vector():
    first, second = featurized("hello", "hi there")
    assert isinstance(first.get(EMBEDDING_KEY), HashedVector)
    assert first.get(EMBEDDING_KEY).tolist() == [0.0, 1.0, 2.0]
    assert second.get(EMBEDDING_KEY).tolist() == [3.0, 4.0, 5.0]


def test_rasa_asks_the_vector_for_its_fingerprint_instead_of_printing_it():
    vector = np.array([0.25, -1.0], dtype=np.float32).view(HashedVector)
    assert deep_container_fingerprint(vector) == vector.fingerprint()


def test_the_fingerprint_follows_the_values_and_survives_pickling():
    vector = np.array([0.25, -1.0], dtype=np.float32).view(HashedVector)
    same = np.array([0.25, -1.0], dtype=np.float32).view(HashedVector)
    other = np.array([0.25, -1.5], dtype=np.float32).view(HashedVector)
    as_float64 = np.array([0.25, -1.0], dtype=np.float64).view(HashedVector)
    assert vector.fingerprint() == same.fingerprint()
    assert vector.fingerprint() != other.fingerprint()
    assert vector.fingerprint() != as_float64.fingerprint()
    restored = pickle.loads(pickle.dumps(vector))
    assert restored.fingerprint() == vector.fingerprint()


def test_messages_with_different_vectors_have_different_fingerprints():
    first, second = featurized("hello", "hi there")
    assert first.fingerprint() != second.fingerprint()
