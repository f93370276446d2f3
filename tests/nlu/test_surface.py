"""Surface features: the embedding with word and character n-grams beside it."""

import numpy as np

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
