"""Unanswered questions grouped by similarity: what people most often ask that the documents
do not cover.

The texts arrive already redacted (conversations.py). Method, chosen for short messages:
- identical questions (ignoring case, spaces and end punctuation) are counted once;
- a question is reduced to its content words: English stop words and the words nearly
  every question here has (TMS, treatment, help...: COMMON_WORDS) are left out, so "how much
  does TMS cost" is about "cost" and "can TMS help my anxiety" about "anxiety";
- each becomes a TF-IDF vector of those words and word pairs joined with one of their
  character 3-5-grams (so "insurence" and "insurance", "teens" and "teenagers" still meet);
- agglomerative clustering, average linkage on cosine distance, cut at DISTANCE_THRESHOLD:
  no number of groups to guess, and a question unlike every other stays alone;
- past MAX_CLUSTERED distinct questions (the clustering is quadratic in memory and time),
  the most frequent ones are clustered, each of the rest joins the nearest group if its mean
  distance to the group's questions is under the threshold (what average linkage asks),
  and those left over are clustered in turn.
A group is shown with its size, the words that weigh most in it, and a few examples, most
frequent first.
"""

from __future__ import annotations

import hashlib
import inspect
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Sequence, Set, Tuple

from bot.server.report.redact import EMAIL, NAME, PHONE

# Cosine distance under which questions join a group (average linkage), tuned on the
# scripted groups of tests/server/report/test_unanswered.py: lower splits paraphrases,
# higher merges different questions that share a word.
DISTANCE_THRESHOLD = 0.82
# Weights of the word and character parts of a question's vector (tuned with the threshold:
# the character part carries plurals, misspellings and word forms).
WORD_WEIGHT = 0.4
CHAR_WEIGHT = 0.9
# Distinct questions clustered together at most (a dense distance matrix of this size).
MAX_CLUSTERED = 3000
SHOWN_GROUPS = 10
EXAMPLES = 5
KEYWORDS = 4
_END_PUNCTUATION = re.compile(r"[\s?!.,;:]+$")
_SPACES = re.compile(r"\s+")
_PLACEHOLDERS = re.compile("|".join(re.escape(p) for p in (EMAIL, NAME, PHONE)))
_TOKEN = re.compile(r"[^\W\d_][^\W_]*(?:['’][^\W\d_]+)?")
# Words that say nothing about what a question to this assistant is about: it is always
# about TMS and whether it helps. Left out with scikit-learn's English stop words.
COMMON_WORDS = frozenset(
    {
        "tms", "rtms", "transcranial", "magnetic", "stimulation", "treatment", "treatments",
        "therapy", "does", "did", "doing", "help", "helps", "helpful", "want", "know", "tell",
        "like", "im", "i'm", "ive", "i've", "dont", "don't", "get", "really", "pls", "please",
        "thanks", "thank", "hi", "hello", "hey", "question", "questions", "ok", "okay", "just",
        "quick", "wondering", "wonder", "curious", "ask", "asking", "basically", "exactly",
        "actually",
    }
)


@dataclass(frozen=True)
class Group:
    messages: int
    conversations: int
    keywords: Tuple[str, ...]
    examples: Tuple[str, ...]


@dataclass(frozen=True)
class Grouping:
    groups: List[Group]  # the largest SHOWN_GROUPS, largest first
    messages: int  # unanswered messages in all
    distinct: int  # distinct questions among them
    group_count: int  # groups found in all (single questions included)


@dataclass
class _Question:
    key: str
    count: int = 0
    conversations: Set[int] = field(default_factory=set)
    forms: Counter = field(default_factory=Counter)  # each way it was written -> how often

    @property
    def shown(self) -> str:
        """The way it was most often written (ties: the first in alphabetical order)."""
        return min(self.forms.items(), key=lambda item: (-item[1], item[0]))[0]


def normalise(text: str) -> str:
    return _END_PUNCTUATION.sub("", _SPACES.sub(" ", text.strip().lower()))


def content_words(text: str) -> str:
    """The words a question is about; the question itself when it has none ("what?")."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    tokens = _TOKEN.findall(_PLACEHOLDERS.sub(" ", text.lower()))
    content = [token for token in tokens if token not in ENGLISH_STOP_WORDS and token not in COMMON_WORDS]
    return " ".join(content or tokens) or text


def group_questions(items: Sequence[Tuple[int, str]], shown: int = SHOWN_GROUPS) -> Grouping:
    """Groups (conversation number, redacted text) pairs; returns the largest groups."""
    questions: Dict[str, _Question] = {}
    for conversation, text in items:
        key = normalise(text)
        if not key:
            continue
        question = questions.setdefault(key, _Question(key))
        question.count += 1
        question.conversations.add(conversation)
        question.forms[text.strip()] += 1
    distinct = list(questions.values())
    total = sum(question.count for question in distinct)
    if not distinct:
        return Grouping([], 0, 0, 0)
    # Most frequent first; among equals a fixed pseudo-random order (not alphabetical,
    # which would cluster only questions starting with "a" in a very large set).
    distinct.sort(key=lambda q: (-q.count, hashlib.sha1(q.key.encode()).hexdigest()))
    labels, word_vectors, word_names = _cluster(distinct)
    members: Dict[int, List[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        members[label].append(index)
    groups = [_group([distinct[i] for i in indices], word_vectors[indices], word_names) for indices in members.values()]
    groups.sort(key=lambda g: (-g.messages, -g.conversations, g.examples[0] if g.examples else ""))
    return Grouping(groups[:shown], total, len(distinct), len(groups))


def _vectorizers() -> Tuple[Any, Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    words = TfidfVectorizer(
        analyzer="word", ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"\S+",
    )
    characters = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
    return words, characters


def _features(texts: List[str]) -> Tuple[Any, Any, List[str]]:
    """Row-normalised joint vectors, the word part alone, and the word part's terms."""
    from scipy import sparse
    from sklearn.preprocessing import normalize

    texts = [content_words(text) for text in texts]
    word_vectorizer, char_vectorizer = _vectorizers()
    try:
        word_part = word_vectorizer.fit_transform(texts)
        word_names = list(word_vectorizer.get_feature_names_out())
    except ValueError:  # only stop words everywhere ("what?", "why")
        word_part = sparse.csr_matrix((len(texts), 0))
        word_names = []
    char_part = char_vectorizer.fit_transform(texts)
    joint = normalize(sparse.hstack([WORD_WEIGHT * word_part, CHAR_WEIGHT * char_part]).tocsr())
    return joint, word_part.tocsr(), word_names


def _cluster(distinct: List[_Question]) -> Tuple[List[int], Any, List[str]]:
    """A group label per question (most frequent first in `distinct`).

    The first MAX_CLUSTERED are clustered; each of the rest joins the nearest group (mean
    distance to its questions) within the threshold; those left over are clustered in turn.
    """
    import numpy

    joint, word_part, word_names = _features([question.key for question in distinct])
    labels = numpy.full(len(distinct), -1, dtype=int)
    remaining = numpy.arange(len(distinct))
    groups = 0
    while len(remaining):
        core, rest = remaining[:MAX_CLUSTERED], remaining[MAX_CLUSTERED:]
        labels[core] = groups + (_agglomerative(joint[core]) if len(core) > 1 else 0)
        groups = int(labels.max()) + 1
        remaining = rest[_assign(joint, labels, rest, groups)] if len(rest) else rest
    return [int(label) for label in labels], word_part, word_names


def _agglomerative(vectors: Any) -> Any:
    import numpy
    from sklearn.cluster import AgglomerativeClustering

    distance = numpy.clip(1.0 - (vectors @ vectors.T).toarray(), 0.0, 1.0)
    numpy.fill_diagonal(distance, 0.0)
    # scikit-learn renamed `affinity` to `metric` in 1.2; Rasa 3.6 installs 1.1.
    parameter = "metric" if "metric" in inspect.signature(AgglomerativeClustering).parameters else "affinity"
    model = AgglomerativeClustering(
        n_clusters=None, distance_threshold=DISTANCE_THRESHOLD, linkage="average", **{parameter: "precomputed"}
    )
    return model.fit_predict(distance)


def _assign(joint: Any, labels: Any, rest: Any, groups: int) -> Any:
    """Gives each question of `rest` the label of the nearest group within the threshold,
    by the same average-linkage distance as the clustering (the mean distance to the group's
    questions), again with the groups those joined, until none joins; returns a mask of
    the questions that found no group."""
    import numpy
    from scipy import sparse

    waiting = numpy.ones(len(rest), dtype=bool)
    while waiting.any():
        labelled = numpy.flatnonzero(labels >= 0)
        sizes = numpy.bincount(labels[labelled], minlength=groups).astype(float)
        # Each group's mean vector: its dot product with a question is the mean similarity.
        membership = sparse.csr_matrix(
            (1.0 / sizes[labels[labelled]], (labels[labelled], labelled)), shape=(groups, joint.shape[0])
        )
        means = membership @ joint
        candidates = rest[waiting]
        similarity = (joint[candidates] @ means.T).toarray()
        nearest = similarity.argmax(axis=1)
        close = 1.0 - similarity[numpy.arange(len(candidates)), nearest] < DISTANCE_THRESHOLD
        if not close.any():
            break
        labels[candidates[close]] = nearest[close]
        waiting[numpy.flatnonzero(waiting)[close]] = False
    return waiting


def _group(questions: List[_Question], word_part: Any, word_names: List[str]) -> Group:
    import numpy

    weights = numpy.array([question.count for question in questions], dtype=float)
    keywords: List[str] = []
    if word_names and word_part.shape[1]:
        centroid = numpy.asarray(word_part.T @ weights).ravel()
        for index in numpy.argsort(-centroid, kind="stable"):
            if centroid[index] <= 0 or len(keywords) == KEYWORDS:
                break
            term = word_names[index]
            if not any(term in kept or kept in term for kept in keywords):
                keywords.append(term)
    ordered = sorted(questions, key=lambda q: (-q.count, q.key))
    conversations: Set[int] = set().union(*(question.conversations for question in questions))
    return Group(
        messages=int(weights.sum()),
        conversations=len(conversations),
        keywords=tuple(keywords),
        examples=tuple(question.shown for question in ordered[:EXAMPLES]),
    )
