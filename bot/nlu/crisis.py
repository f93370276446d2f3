"""Recognises crisis language (suicidal thoughts, self-harm, overdose) on spaCy lemmas.

The trained `crisis` intent covers wording we have examples for; this matcher makes sure
that the clearest crisis phrases are never lost to a low classifier score, a fallback or
an FAQ guess. It runs last in the pipeline and overrides the intent with `crisis`.
Figurative phrases ("dying to know", "this wait is killing me") match none of the patterns.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import SPACY_DOCS
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from spacy.matcher import Matcher
from spacy.tokens import Doc

from bot.nlu.intents import override_intent

logger = logging.getLogger(__name__)

CRISIS_INTENT = "crisis"
RETRACTED_INTENT = "crisis_retracted"

_NEGATIONS = {"not", "n't", "never", "no", "nt", "dont", "don't", "nor"}
_ANY_UP_TO_2: Dict[Text, Any] = {"OP": "{,2}"}
_ANY_UP_TO_3: Dict[Text, Any] = {"OP": "{,3}"}


def _lower(*words: Text) -> Dict[Text, Any]:
    return {"LOWER": {"IN": list(words)}}


def _lemma(*words: Text) -> Dict[Text, Any]:
    return {"LEMMA": {"IN": list(words)}}


_MYSELF = _lower("myself", "meself", "myslef")

# Patterns whose match is dropped when a negation comes just before it
# ("I'm not suicidal"). The others carry their own meaning with or without one.
NEGATABLE_PATTERNS: Dict[Text, List[List[Dict[Text, Any]]]] = {
    "suicide_word": [
        [_lower("suicide", "suicidal", "suicidality", "sucidal", "suicidial", "suicde", "sucide")]
    ],
    "want_to_die": [
        [_lemma("want", "wan", "wanna", "wish", "plan", "ready", "go", "gonna", "try"), _ANY_UP_TO_2, _lemma("die")],
        [_lower("wish"), _ANY_UP_TO_2, _lower("dead")],
    ],
}

PATTERNS: Dict[Text, List[List[Dict[Text, Any]]]] = {
    "kill_myself": [
        [_lower("kill", "killing", "killin", "kil", "unalive", "unaliving"), _MYSELF],
        [_lower("kms", "kys", "unalive", "unaliving")],
    ],
    "end_my_life": [
        [_lemma("end"), _lower("it", "everything", "things")],
        [_lemma("end"), _lower("my"), _lower("own", "life")],
        [_lemma("take"), _lower("my"), {"LOWER": "own", "OP": "?"}, _lower("life")],
        [_lower("done"), _lower("with", "living"), {"LOWER": "life", "OP": "?"}],
    ],
    "no_will_to_live": [
        [_lower("not", "n't", "nt", "dont", "no"), _lemma("want", "wan", "wanna"), _ANY_UP_TO_3, _lower("live", "alive", "here", "exist", "living")],
        [_lower("reason", "point", "worth"), _ANY_UP_TO_3, _lower("live", "living", "alive")],
        [_lower("better"), _lower("off"), _lower("dead", "without")],
        [_lower("never"), _lemma("wake"), _lower("up")],
    ],
    "self_harm": [
        [_lemma("hurt", "harm", "cut", "burn", "injure", "hang", "poison", "starve"), _MYSELF],
        [_lower("self"), {"ORTH": "-", "OP": "?"}, _lemma("harm", "harming", "injury")],
        [_lower("selfharm", "self-harm", "selfharming", "self-harming")],
        [_lower("till", "until", "til"), _ANY_UP_TO_2, _lemma("bleed")],
    ],
    "overdose": [
        [_lower("i", "i've", "ive"), _ANY_UP_TO_2, _lower("overdosed", "od'd", "oded")],
        [_lemma("take", "swallow"), _ANY_UP_TO_2, _lower("too"), _lower("many", "much")],
        [_lemma("take", "swallow"), _lower("all", "them"), _ANY_UP_TO_2, _lower("at")],
        [_lemma("take", "swallow"), _lower("a", "the", "whole"), _lower("bottle", "box", "pack", "packet")],
        [_lemma("take", "swallow"), _lower("all"), _lower("my")],
        # "took like 30 paracetamol": a count checked in _counted_overdose (10 or more).
        [_lemma("take", "swallow"), _ANY_UP_TO_2, {"LIKE_NUM": True}, _lemma("pill", "tablet", "paracetamol", "tylenol", "ibuprofen", "aspirin", "sleeping", "of")],
    ],
    "make_it_stop": [
        [_lemma("want", "wan", "wanna", "need", "wish"), _lower("it"), _lower("all"), {"LOWER": "to", "OP": "?"}, _lemma("stop", "end")],
        [_lemma("want", "wan", "wanna", "need", "wish"), _lower("everything"), {"LOWER": "to", "OP": "?"}, _lemma("stop", "end")],
    ],
    "deliberate_crash": [
        [_lemma("drive", "crash", "steer", "jump", "throw"), _ANY_UP_TO_3, _lower("off", "into", "from"), _ANY_UP_TO_3, _lower("purpose", "bridge", "roof", "building", "cliff", "train", "traffic")],
    ],
    # A stated plan ("I know exactly how I'm going to do it"): in this assistant's setting
    # an unneeded crisis reply costs far less than a missed one.
    "stated_plan": [
        [_lemma("know"), _lower("exactly"), _lower("how", "when"), _lower("i"), _ANY_UP_TO_3, _lower("do", "end"), _lower("it")],
        [_lemma("decide", "figure", "work", "plan", "pick", "choose"), {"LOWER": "out", "OP": "?"}, _lower("how", "when"),
         _lower("i"), _lower("'m", "am", "m", "will", "'ll", "wll"), _ANY_UP_TO_2, _lower("do", "end"), _lower("it")],
    ],
    "goodbye_note": [
        [_lower("goodbye", "suicide"), _lemma("letter", "note")],
    ],
}


def _build_matcher(doc: Doc) -> Matcher:
    matcher = Matcher(doc.vocab, validate=True)
    for name, patterns in {**PATTERNS, **NEGATABLE_PATTERNS}.items():
        matcher.add(name, patterns)
    return matcher


def _is_negated(doc: Doc, start: int) -> bool:
    """A negation among the three words before `start`, in the same clause."""
    for token in reversed(doc[max(0, start - 3) : start]):
        if token.is_punct:
            return False  # "or not, I cut myself": the negation belongs to another clause
        if token.lower_ in _NEGATIONS:
            return True
    return False


def _counted_overdose(doc: Doc, start: int, end: int) -> bool:
    """True unless a number in the span is a small, ordinary dose ("I take 2 pills a day")."""
    for token in doc[start:end]:
        if token.like_num:
            try:
                return float(token.text.replace(",", "")) >= 10
            except ValueError:
                return True  # "twenty", "a hundred": spelled-out counts are large
    return True


def _matches(doc: Doc, matcher: Optional[Matcher]) -> List[Tuple[Text, bool]]:
    """(pattern name, negated?) for each crisis phrase in `doc`, negatable ones dropped."""
    matcher = matcher or _build_matcher(doc)
    found = []
    for match_id, start, end in matcher(doc):
        name = doc.vocab.strings[match_id]
        negated = _is_negated(doc, start)
        if name in NEGATABLE_PATTERNS and negated:
            continue
        if name == "overdose" and not _counted_overdose(doc, start, end):
            continue
        found.append((name, negated))
    return found


def crisis_matches(doc: Doc, matcher: Optional[Matcher] = None) -> List[Text]:
    """Names of the crisis patterns found in `doc` (empty if none)."""
    return sorted({name for name, _ in _matches(doc, matcher)})


def is_crisis(doc: Doc, predicted_intent: Optional[Text], matcher: Optional[Matcher] = None) -> bool:
    """True when `doc` holds crisis language.

    A phrase such as "hurt myself" counts even after a negation ("I'm not going to hurt
    myself, but..."), except when every phrase is negated and the classifier already
    reads the message as taking a crisis back ("that was a joke, I'm not going to hurt
    myself"): that reply keeps the crisis resources in view too.
    """
    found = _matches(doc, matcher)
    if not found:
        return False
    return not (predicted_intent == RETRACTED_INTENT and all(negated for _, negated in found))


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class CrisisLanguageDetector(GraphComponent):
    """Sets the intent to `crisis` whenever a crisis phrase is found in the message."""

    def __init__(self) -> None:
        self._matcher: Optional[Matcher] = None

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> CrisisLanguageDetector:
        return cls()

    @staticmethod
    def required_packages() -> List[Text]:
        return ["spacy"]

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            doc = message.get(SPACY_DOCS[TEXT])
            if doc is None:
                continue
            if self._matcher is None:
                self._matcher = _build_matcher(doc)
            predicted = (message.get(INTENT) or {}).get("name")
            if is_crisis(doc, predicted, self._matcher):
                # A crisis turn must not be answered from the FAQ.
                override_intent(message, CRISIS_INTENT)
        return messages
