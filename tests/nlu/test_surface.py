"""Surface features: the embedding with word and character n-grams beside it."""

import numpy as np
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.surface import SurfaceFeatures


def test_the_embedding_comes_first_then_the_n_grams():
    texts = ["i want to unalive", "how long is a session", "session length please"]
    embeddings = np.arange(6, dtype=np.float32).reshape(3, 2)
    features = SurfaceFeatures().fit(texts)
    matrix = features.transform(texts, embeddings).toarray()
    assert np.array_equal(matrix[:, :2], embeddings)
    n_words = len(features.words.vocabulary_)
    assert matrix.shape[1] == 2 + n_words + len(features.characters.vocabulary_)
    assert "unalive" in features.words.vocabulary_
    # A word never seen in training still shares character n-grams ("sesion" ~ "session").
    typo = features.transform(["sesion"], np.zeros((1, 2), dtype=np.float32)).toarray()[0, 2 + n_words:]
    seen = matrix[1, 2 + n_words:]
    assert float(typo @ seen) > 0.0


def test_a_message_row_is_computed_once_for_n_grams_fitted_alike():
    texts = ["how long is a session", "does tms hurt", "is it safe with my meds"]
    first, second = SurfaceFeatures().fit(texts), SurfaceFeatures().fit(list(texts))
    assert first.key == second.key
    message = Message(data={"text": "how long does it hurt"})
    embedding = np.full(3, 0.5, dtype=np.float32)
    row = first.message_row(message, embedding)
    assert (row != first.transform(["how long does it hurt"], embedding[None, :])).nnz == 0
    # The second component gets the very same row object back, not a recomputed one.
    assert second.message_row(message, embedding) is row


def test_n_grams_fitted_on_other_texts_do_not_reuse_the_row():
    first = SurfaceFeatures().fit(["how long is a session", "does tms hurt"])
    other = SurfaceFeatures().fit(["parking near the clinic", "opening hours"])
    assert first.key != other.key
    message = Message(data={"text": "how long is parking"})
    embedding = np.zeros(3, dtype=np.float32)
    row = first.message_row(message, embedding)
    other_row = other.message_row(message, embedding)
    assert other_row is not row
    assert (other_row != other.transform(["how long is parking"], embedding[None, :])).nnz == 0
