"""Surface features for the classifiers trained on the sentence embedding: word (1-2) and
character (2-5, within words) n-grams, TF-IDF weighted, next to the embedding itself.

The embedding reads meaning ("not be here anymore" ~ "want to die", "fits" ~ "seizures")
but blurs exact wording: slang, typos, codes and abbreviations ("kms", "unalive", "wks",
"CTB-4471"). With the n-grams beside it, one logistic regression sees both; the crisis
detector and the meaning vote each train one (chosen on the dev splits of
tests/data/crisis_eval and tests/data/nlu_eval).
"""

from __future__ import annotations

from typing import Any, List, Sequence, Text

import numpy as np


class SurfaceFeatures:
    """Fitted on the training texts; `transform` gives the embedding plus the n-grams."""

    def __init__(self) -> None:
        self.words: Any = None
        self.characters: Any = None

    def fit(self, texts: Sequence[Text]) -> SurfaceFeatures:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.words = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True).fit(texts)
        self.characters = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True
        ).fit(texts)
        return self

    def transform(self, texts: List[Text], embeddings: np.ndarray) -> Any:
        from scipy.sparse import csr_matrix, hstack

        return hstack([csr_matrix(embeddings), self.words.transform(texts), self.characters.transform(texts)]).tocsr()
