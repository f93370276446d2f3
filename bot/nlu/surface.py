"""Surface features for the classifiers trained on the sentence embedding: word (1-2) and
character (2-5, within words) n-grams, TF-IDF weighted, next to the embedding itself.

The embedding reads meaning ("not be here anymore" ~ "want to die", "fits" ~ "seizures")
but blurs exact wording: slang, typos, codes and abbreviations ("kms", "unalive", "wks",
"CTB-4471"). With the n-grams beside it, one logistic regression sees both; the crisis
detector and the meaning vote each train one (chosen on the dev splits of
tests/data/crisis_eval and tests/data/nlu_eval).
"""

from __future__ import annotations

import hashlib
from typing import Any, List, Optional, Sequence, Text

import numpy as np
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

# Where a message's row is kept between components (not part of the parse result).
ROW_KEY = "surface_row"


class SurfaceFeatures:
    """Fitted on the training texts; `transform` gives the embedding plus the n-grams."""

    def __init__(self) -> None:
        self.words: Any = None
        self.characters: Any = None
        # What the fitted n-grams are (vocabularies and weights): two components fitted on
        # the same texts get the same key and can share one message's row.
        self.key: Optional[Text] = None

    def fit(self, texts: Sequence[Text]) -> SurfaceFeatures:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.words = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True).fit(texts)
        self.characters = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True
        ).fit(texts)
        digest = hashlib.md5(usedforsecurity=False)
        for vectorizer in (self.words, self.characters):
            digest.update(repr(sorted(vectorizer.vocabulary_.items())).encode())
            digest.update(np.asarray(vectorizer.idf_).tobytes())
        self.key = digest.hexdigest()
        return self

    def transform(self, texts: List[Text], embeddings: np.ndarray) -> Any:
        from scipy.sparse import csr_matrix, hstack

        return hstack([csr_matrix(embeddings), self.words.transform(texts), self.characters.transform(texts)]).tocsr()

    def message_row(self, message: Message, embedding: np.ndarray) -> Any:
        """The row of one message, computed once per message for every component whose
        n-grams were fitted alike (the meaning vote and the crisis detector): the transform
        is about 2 ms of a parse, most of what those classifiers cost."""
        cached = message.get(ROW_KEY)
        key = getattr(self, "key", None)  # None for n-grams pickled before keys existed
        if key is not None and cached is not None and cached[0] == key:
            return cached[1]
        row = self.transform([message.get(TEXT) or ""], embedding[None, :])
        if key is not None:
            message.set(ROW_KEY, (key, row))
        return row
