"""Decides, last in the pipeline, whether a message is crisis language, and of which kind.

Three signals are combined:
- two classifiers trained here on the NLU data, crisis examples by kind (`metadata:
  crisis_kind`) against every other example, look-alikes included, whose probabilities are
  averaged: one on the sentence embedding (bot/nlu/sentence_embeddings.py: meaning, "not be
  here anymore" ~ "want to die"), one on the embedding with word and character n-grams
  (the surface: slang, typos and codes, "kms", "unalive", "sewerslide", that the embedding
  reads poorly). Long messages are also scored sentence by sentence, so a crisis sentence
  inside a TMS question is not diluted (a sentence counts unless the whole message reads
  as plainly ordinary). A sentence's score is averaged with that of a second pair of
  classifiers trained on sentences (the sentences of ordinary examples against the crisis
  sentences of crisis examples): the first pair, trained on whole messages, reads a short
  calm statement ("I'm happy to sign a release") like a short crisis message;
- a spaCy lemma matcher of crisis phrases (below), which lowers the score needed, unless
  the intent classifier is sure the message is an ordinary question (the phrase used as a
  topic or a figure of speech; asking for a lethal dose always counts);
- the intent classifier's own `crisis` reading (bot/nlu/meaning_vote.py), which can also lower
  it (`intent_threshold`, off in config.yml), and its ordinary reading, which can veto.
The thresholds come from config.yml and were chosen on the development split of
tests/data/crisis_eval (`make crisis-report`). A crisis turn gets intent `crisis` and a
`crisis_kind` entity (self, medical, someone_else, unsafe) that picks the fitting reply; a
classifier's `crisis` the evidence does not support is replaced by the next intent, so "I take 12
pills a day" gets an ordinary answer. A message near the line, or a calm mention of past
crisis, keeps its ordinary answer plus a `crisis_kind: caution` entity, so the standing
crisis line is shown under it.
"""

from __future__ import annotations

import json
import logging
import os
import re
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Text, Tuple

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import SPACY_DOCS
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from spacy.matcher import Matcher
from spacy.tokens import Doc

from bot.nlu.code_version import PackageFingerprinted
from bot.nlu.intents import ORDINARY_READING_KEY, demote_intent, override_intent
from bot.nlu.minilm import shared_encoder
from bot.nlu.sentence_embeddings import EMBEDDING_KEY, message_embedding
from bot.nlu.surface import SurfaceFeatures

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


# "kms" is also kilometres ("30 kms away").
_SLANG_UNITS = {"kms", "kys"}
_MYSELF = _lower("myself", "meself", "myslef")
_REFLEXIVE = _lower("myself", "meself", "myslef", "herself", "himself", "themselves", "themself")

# Patterns whose match is dropped when a negation comes just before it
# ("I'm not suicidal"). The others carry their own meaning with or without one.
NEGATABLE_PATTERNS: Dict[Text, List[List[Dict[Text, Any]]]] = {
    "suicide_word": [
        [_lower("suicide", "suicidal", "suicidality", "sucidal", "suicidial", "suicde", "sucide")]
    ],
    "want_to_die": [
        [_lemma("want", "wan", "wanna", "wish", "plan", "ready", "go", "gonna", "try"), _ANY_UP_TO_2, _lemma("die")],
        [_lower("wish"), _ANY_UP_TO_2, _lower("dead")],
        [_lemma("want", "wan", "wanna", "rather"), _lower("to"), _lower("be"), _lower("dead")],
    ],
}

PATTERNS: Dict[Text, List[List[Dict[Text, Any]]]] = {
    "kill_myself": [
        [_lower("kill", "killing", "killin", "kil", "unalive", "unaliving"), _MYSELF],
        [_lemma("kill", "unalive", "hurt", "harm", "cut"), _lower("herself", "himself", "themselves", "themself")],
        [_lemma("kill", "unalive", "hurt", "harm", "cut"), _lower("her", "his", "my", "their"), _lower("self")],
        [_lower("kms", "kys", "unalive", "unaliving")],
        # "off myself" as a verb ("gonna off myself"), not "took the day off myself".
        [_lower("i", "to", "gonna", "wanna", "will", "'ll", "ll", "might", "just", "and", "then", "should", "could", "would", "may"),
         _lower("off", "offing"), _MYSELF],
        [_lower("offed"), _REFLEXIVE],
        # British and Australian slang: "top myself", "topped himself", "neck myself", "do
        # myself in", "end myself". Not "top myself up" (_topped_up).
        [_lemma("top", "neck", "end"), _REFLEXIVE],
        [_lemma("do"), _REFLEXIVE, _lower("in")],
    ],
    # "end it" is also ending a session or a course early: not decisive on its own.
    "end_it": [
        [_lemma("end"), _lower("it", "everything", "things")],
    ],
    "end_my_life": [
        [_lemma("end"), _lower("my"), _lower("own", "life")],
        [_lemma("take"), _lower("my"), {"LOWER": "own", "OP": "?"}, _lower("life")],
        # "done with life", "done living": not "done with the forms" or "done with the course".
        [_lower("done"), _lower("living")],
        [_lower("done"), _lower("with"), _lower("life", "living")],
    ],
    "no_will_to_live": [
        [_lower("not", "n't", "nt", "dont", "no"), _lemma("want", "wan", "wanna"), _ANY_UP_TO_3, _lower("live", "alive", "here", "exist", "living")],
        [_lower("reason", "point", "worth"), _ANY_UP_TO_3, _lower("live", "living", "alive")],
        [_lower("better"), _lower("off"), _lower("dead", "without")],
        [_lower("never"), _lemma("wake"), _lower("up")],
    ],
    # "what's the point in going on", "no reason to carry on", "the point of existing": the
    # classifiers read such a sentence inside a longer message as borderline. Not when the
    # person goes on with something ("any point in carrying on with TMS?"; _going_on_with).
    "no_point_going_on": [
        [_lower("reason", "point"), _lower("in", "of", "to", "for"), {"LOWER": "me", "OP": "?"},
         {"LOWER": "to", "OP": "?"}, _lemma("go", "carry", "keep"), _lower("on", "going")],
        [_lower("point"), _lower("in", "of"), _lower("existing", "existence")],
        [_lower("point"), _lower("in", "of"), _lower("me"), _ANY_UP_TO_2, _lower("here", "around", "existing", "living")],
    ],
    "self_harm": [
        [_lemma("hurt", "harm", "cut", "burn", "injure", "hang", "poison", "starve"), _MYSELF],
        [_lower("self"), {"ORTH": "-", "OP": "?"}, _lemma("harm", "harming", "injury")],
        [_lower("selfharm", "self-harm", "selfharming", "self-harming")],
        [_lower("till", "until", "til"), _ANY_UP_TO_2, _lemma("bleed")],
    ],
    # Ways of dying named as such, however the sentence is framed ("does slitting your
    # wrists actually work or is that a myth"): the classifier's score still has to reach
    # matcher_threshold, so "I cut my wrist on a glass" needs more than these words.
    "method": [
        [_lemma("slit", "slash", "cut", "open"), _ANY_UP_TO_2, _lower("wrist", "wrists", "vein", "veins")],
        [_lower("noose", "nooses")],
        [_lemma("hang"), _lower("yourself", "oneself", "urself", "themselves", "themself")],
        [_lemma("bleed"), _lower("out")],
    ],
    "overdose": [
        [_lower("i", "i've", "ive"), _ANY_UP_TO_2, _lower("overdosed", "od'd", "oded")],
        # Anyone's overdose, in any spelling ("she overdosed", "he's OD'ing", "gonna od on my
        # pills", "had a bit of an OD last night"); not on coffee, nor an optometrist's "O.D."
        # or a machine's "OD mode" (_an_overdose).
        [_lower("overdosed", "overdosing", "od'd", "oded", "odded", "oding", "od'ing", "odding")],
        [_lower("od", "overdose"), _lower("on")],
        [_lemma("do", "have", "take"), _lower("a", "an"), {"OP": "{,3}"}, _lower("od", "overdose")],
        [_lemma("take", "swallow"), _ANY_UP_TO_2, _lower("too"), _lower("many", "much")],
        [_lemma("take", "swallow"), _lower("all", "them"), _ANY_UP_TO_2, _lower("at")],
        [_lemma("take", "swallow"), _lower("a", "the", "whole", "my", "entire", "full"),
         {"LOWER": {"IN": ["whole", "entire", "full"]}, "OP": "?"}, _lower("bottle", "box", "pack", "packet")],
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
    # An attempt ("I tried to hang myself on Tuesday"): never a figure of speech, so the
    # intent classifier's ordinary reading cannot veto it (NEVER_VETOED_PATTERNS), unless
    # the message places it in the past (CrisisLanguageDetector.decision); calm history
    # long past gets the ordinary answer (resolved_history).
    "attempt": [
        [_lemma("try", "attempt"), _lower("to"),
         _lemma("kill", "hang", "unalive", "overdose", "drown", "poison", "shoot", "suffocate", "strangle"), _MYSELF],
        [_lemma("try", "attempt"), _lower("to"), _lemma("end", "take"), _lower("my"), {"LOWER": "own", "OP": "?"}, _lower("life")],
    ],
    "goodbye_note": [
        [_lower("goodbye", "suicide"), _lemma("letter", "note")],
    ],
    # Not English: the wish to die or to kill oneself said plainly in Spanish, French,
    # Portuguese, Italian or German ("quiero morir", "je veux mourir", "ich will sterben").
    # The assistant answers in English and its classifiers read English; a person in crisis
    # may still write in their own language. None of these has an everyday meaning in a
    # question about TMS, so they are never vetoed (NEVER_VETOED_PATTERNS).
    "other_language": [
        [_lower("suicidar", "suicidarme", "suicidarse", "suicidio", "suicider", "suicidaire", "suicídio", "suicidarmi",
                "suizid", "suizidal", "selbstmord", "matarme", "uccidermi", "umbringen", "morirme")],
        [_lower("quiero", "quero", "voglio", "veux", "veut", "quiere", "quer", "vuole", "envie", "ganas", "möchte"),
         _ANY_UP_TO_2, _lower("morir", "mourir", "morrer", "morire", "sterben", "matar", "tuer", "uccidermi")],
        [_lower("will"), _lower("sterben")],
        [_lower("me", "se"), _lower("tuer", "matar")],
        [_lower("no", "não", "nao", "non", "ne", "nicht"), _ANY_UP_TO_3,
         _lower("vivir", "viviendo", "vivre", "viver", "vivere", "leben")],
    ],
}


# Who is in danger, when the crisis is said in another language: the kind model reads
# English, so "mi hermana dice que se quiere matar" (my sister says she wants to kill
# herself) read as the person's own crisis, and "mi esposo me quiere matar" (my husband
# wants to kill me) did not get the domestic violence reply. The grammatical person says it:
# "me" as the object of another's wish to kill is danger from another person; a reflexive
# in the third person ("se quiere matar", "il veut se tuer", "er will sich umbringen") or a
# third-person wish ("quiere morir") is someone else's crisis; "quiero", "je veux", "ich
# will" are the writer's own.
_OTHER_LANGUAGE_UNSAFE = re.compile(
    r"\b(?:me\s+(?:quiere|quieren|va\s+a|van\s+a|amenaza\s+con|amenazó\s+con|vai|vão|quer|querem|"
    r"vuole|vogliono|veut|veulent|va|vont|menace\s+de)\s+(?:matar|tuer|uccidere|ammazzare)|"
    r"(?:quiere|quieren|va\s+a|van\s+a|amenaza\s+con|vuole|vogliono|vai|quer|querem)\s+"
    r"(?:matarme|uccidermi|ammazzarmi|me\s+matar)|"
    r"(?:er|sie)\s+(?:will|wollen|droht)\s+mich\s+(?:\w+\s+)?(?:umbringen|töten|zu\s+töten)|"
    r"(?:il|elle|ils|elles|on)\s+(?:veut|veulent|va|vont|menace\s+de)\s+me\s+tuer)",
    re.IGNORECASE,
)
_OTHER_LANGUAGE_SOMEONE_ELSE = re.compile(
    r"\b(?:se\s+(?:quiere|quieren|va\s+a|van\s+a|quer|querem|vuole|vogliono)\s+(?:matar|suicidar|uccidere|ammazzare)|"
    r"(?:quiere|quieren|quer|querem|vuole|vogliono|va\s+a|van\s+a|vai)\s+"
    r"(?:morir|morrer|morire|matarse|suicidarse|matar-se|suicidar-se|uccidersi|ammazzarsi|suicidarsi)|"
    r"(?:veut|veulent|(?:il|elle|ils|elles)\s+(?:va|vont))\s+(?:mourir|se\s+tuer|se\s+suicider)|"
    r"(?:er|sie)\s+(?:will|möchte|wollen)\s+(?:nicht\s+mehr\s+leben|sterben|sich\s+(?:\w+\s+)?(?:umbringen|töten))|"
    r"suicidarse|se\s+suicida|matarse|uccidersi|suicidarsi|se\s+suicider|sich\s+umbringen)",
    re.IGNORECASE,
)
_OTHER_LANGUAGE_SELF = re.compile(
    r"\b(?:quiero|quero|voglio|je\s+veux|ich\s+will|ich\s+möchte|me\s+quiero|suicidarme|matarme|morirme|"
    r"me\s+tuer|uccidermi|mich\s+umbringen)\b",
    re.IGNORECASE,
)


def other_language_kind(text: Text) -> Optional[Text]:
    """The crisis kind that the grammatical person of a crisis said in Spanish, Portuguese,
    Italian, French or German gives, or None when it says none."""
    if _OTHER_LANGUAGE_UNSAFE.search(text):
        return "unsafe"
    if _OTHER_LANGUAGE_SOMEONE_ELSE.search(text):
        return "someone_else"
    if _OTHER_LANGUAGE_SELF.search(text):
        return "self"
    return None


_UNIT_LEAD = {"many", "few", "several", "couple", "of", "the", "in", "per"}
_SLANG_LEAD = {"gonna", "wanna", "na", "to", "gon", "will", "'ll", "should", "just", "literally", "about", "might", "i"}


# "kms" named as a word about distance ("does 'kms' mean kilometres?", "kms means km right")
# is not the slang. Named alone it may be ("my son texted 'kms', what does that mean?"), and
# a message that gives a distance may still use it ("drove 40 km for nothing. kms"), so both
# must hold: the word is named (in quotes, or before "mean" or "stand for") and the message
# speaks of kilometres.
_MENTION_NEXT = {"mean", "means", "meant", "stand", "stands", "short", "="}
_QUOTES = {"'", '"', "‘", "’", "“", "”", "`"}
_KILOMETRES = re.compile(r"\b(?:km|kilomet(?:er|re)s?)\b", re.IGNORECASE)


def _kilometres(doc: Doc, index: int) -> bool:
    """True when "kms" at `index` is kilometres: after a number, or named as a word in a
    message about kilometres."""
    previous = doc[index - 1] if index else None
    following = doc[index + 1] if index + 1 < len(doc) else None
    if previous is not None and (previous.like_num or previous.lower_ in _UNIT_LEAD):
        return True
    led = previous is not None and previous.lower_ in _SLANG_LEAD  # "gonna kms" is the slang
    quoted = previous is not None and following is not None and previous.text in _QUOTES and following.text in _QUOTES
    named = quoted or (following is not None and following.lower_ in _MENTION_NEXT)
    return not led and named and bool(_KILOMETRES.search(doc.text))


def kilometres_written_out(doc: Doc, text: Text) -> Text:
    """`text` with each "kms" that means kilometres written "km": the crisis classifiers'
    n-grams know "kms" as the slang, so "does kms mean kilometres here" scored 0.78."""
    if len(text) != len(doc.text):
        return text
    for token in reversed(doc):
        if token.lower_ == "kms" and _kilometres(doc, token.i):
            text = text[: token.idx] + "km" + text[token.idx + len(token) :]
    return text


def _not_slang(doc: Doc, index: int, text: Optional[Text]) -> bool:
    """True when "kms" is a unit or a name: kilometres (`_kilometres`), or in capitals not
    led by a verb.

    `text` is the message as written: Rasa's spaCy step may have lower-cased the doc.
    """
    if _kilometres(doc, index):
        return True
    previous = doc[index - 1] if index else None
    led = previous is not None and previous.lower_ in _SLANG_LEAD
    token = doc[index]
    written = text[token.idx : token.idx + len(token)] if text and len(text) == len(doc.text) else token.text
    return written.isupper() and not led


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


# Going on with something: the treatment, the sessions, the course.
_CONTINUED_WITH = {"with", "to", "at", "after", "until", "till", "past", "through"}


def _going_on_with(doc: Doc, end: int) -> bool:
    """True when "going on" / "keep going" continues into something ("...with the sessions")."""
    return end < len(doc) and doc[end].lower_ in _CONTINUED_WITH


def _topped_up(doc: Doc, start: int, end: int) -> bool:
    """True for "top myself up" (with coffee, credit): not the slang "top myself"."""
    return doc[start].lemma_ == "top" and end < len(doc) and doc[end].lower_ == "up"


def _counted_overdose(doc: Doc, start: int, end: int) -> bool:
    """True unless a number in the span is a small, ordinary dose ("I take 2 pills a day")."""
    for token in doc[start:end]:
        if token.like_num:
            try:
                return float(token.text.replace(",", "")) >= 10
            except ValueError:
                return True  # "twenty", "a hundred": spelled-out counts are large
    return True


# What follows an overdose phrase that makes it a daily routine ("I take 12 pills a day",
# "I take too many tablets every morning already", "15 pills twice a day")...
# Not "at night", "in the morning" or "with dinner": "I took all my pills at night" and
# "gonna take the whole bottle with dinner" may be overdoses; "a day ago" is one.
_ROUTINE = re.compile(r"^(?:\w+ )?(?:(?:a|per|each|every) (?:day|night|morning|evening|week)|daily|nightly|twice)\b(?! ago)")
# ...or a bottle or pack of something that is not a drug ("should I take a bottle of water
# to my session?"). Alcohol is not here: drink with pills is an overdose.
_NOT_DRUGS = {"water", "juice", "tea", "coffee", "milk", "soda", "pop", "coke", "lemonade", "squash",
              "smoothie", "snack", "snacks", "crisps", "chips", "gum", "mints", "sweets", "candy",
              "biscuits", "cookies", "tissues", "wipes", "sunscreen", "earplugs", "fruit"}


# The last word of the overdose patterns that name the overdose itself ("she overdosed",
# "od on", "had an OD"), as against the counted or bottle ones ("took 30 pills").
_OVERDOSE_WORDS = {"od", "overdose", "on", "overdosed", "overdosing", "od'd", "oded", "odded", "oding", "od'ing", "odding"}


# "overdose on coffee", "can you overdose on TMS?": no drug. Possessives and articles are
# skipped to reach the thing ("OD on my pills").
_NOT_OVERDOSED_ON = _NOT_DRUGS | {"caffeine", "sugar", "chocolate", "carbs", "netflix", "tv", "sleep", "work",
                                  "tms", "sessions", "session", "treatment", "treatments", "stimulation",
                                  "magnets", "pulses", "rtms", "exercise", "information", "info", "research", "reading",
                                  "pamphlets", "leaflets", "articles", "label", "labels", "prescription",
                                  "script", "notes", "chart", "letter", "box", "packet", "bottle"}
_ANYONE = {"you", "u", "ya", "one", "someone", "somebody", "anyone", "anybody", "people", "ppl"}
_DETERMINERS = {"my", "his", "her", "their", "your", "a", "the", "some", "too", "much", "so", "on"}
# What may follow "an OD": the end of the sentence, a time, a drug, a link to more. Not a
# noun that makes it a label ("an OD mode", "an OD appointment": overdrive, optometrist).
_AFTER_AN_OD = {"on", "of", "last", "yesterday", "earlier", "this", "today", "tonight", "and", "but",
                "so", "again", "x", "lol", "now", "just", "an", "a", "few", "like", "or", "because", "bc",
                "cause", "when", "after", "before", "at", "in", "with", "i", "im", "i'm", "tbh"}


def _an_od_event(doc: Doc, start: int, end: int) -> bool:
    """True for "took an overdose", "had a bit of an OD", "did a massive od": an event. Not
    "OD" as a label: once daily on a prescription ("take 1 tab OD", "10mg od"), the right
    eye ("surgery on my OD"), a machine's "OD mode"."""
    if any(token.like_num for token in doc[start:end]):
        return False
    following = doc[end] if end < len(doc) else None
    return following is None or following.is_punct or following.lower_ in _AFTER_AN_OD


def _overdosed_on_nothing(doc: Doc, end: int) -> bool:
    """True when "...on" after an overdose word names no drug ("overdose on coffee")."""
    rest = [token.lower_ for token in doc[end - 1 : end + 4]]
    if "on" not in rest[:2]:
        return False
    for word in rest[rest.index("on") + 1 :]:
        if word not in _DETERMINERS:
            return word in _NOT_OVERDOSED_ON
    return False


# Care not to take too much ("I don't want to take too many", "so I don't take too much",
# "careful not to", "how do I avoid taking too many"): the words just before the phrase.
# Not "I didn't mean to take too many": that overdose happened.
_CARE_NOT_TO = re.compile(
    r"(?:(?:do not|don'?t|dont|never) (?:want|wanna|need|like) to|(?:careful|try(?:ing)?|so as|remember) not to|"
    r"so (?:that )?i (?:don'?t|dont|do not|won'?t)|avoid|without|how (?:not|do i not) to)\s*$"
)


def _taken_with_care(doc: Doc, start: int) -> bool:
    """True when the words before an overdose phrase say the person means not to take too much."""
    return bool(_CARE_NOT_TO.search(doc[max(0, start - 5) : start].text.lower()))


def _an_overdose(doc: Doc, start: int, end: int) -> bool:
    """False for an overdose phrase that is an ordinary dose (a small count), a routine (the
    words after it, and the drug's name if there), a bottle or pack that holds no drug, an
    overdose on something that is not a drug, "OD" as a label ("an OD mode"), or care not to
    take too much."""
    if not _counted_overdose(doc, start, end) or _taken_with_care(doc, start):
        return False
    if doc[end - 1].lower_ in _OVERDOSE_WORDS:
        if start > 0 and doc[start - 1].lower_ in _ANYONE:
            return False  # "can you overdose on sertraline?": asking for a means (means_seeking)
        if _overdosed_on_nothing(doc, end):
            return False
        if doc[end - 1].lower_ in {"od", "overdose"} and end - start > 1:
            return _an_od_event(doc, start, end)
        return True
    following = doc[end : end + 4]
    if following[:1] and following[0].lower_ == "of" and len(following) > 1:
        return following[1].lower_ not in _NOT_DRUGS
    return not _ROUTINE.match(" ".join(token.lower_ for token in following))


# "die of embarrassment", "died laughing", "died a death": idioms, not a wish to die.
_IDIOM_CAUSES = {"embarrassment", "boredom", "shame", "curiosity", "laughter", "laughing", "cringe",
                 "envy", "jealousy", "excitement", "anticipation", "suspense", "happiness"}
# "could TMS make someone want to die?": a worry about a side effect, not the writer's wish
# ("it makes me want to die" is still matched).
_OTHER_PEOPLE = {"someone", "somebody", "anyone", "anybody", "people", "you", "u", "patients", "them",
                 "her", "him", "one"}


def _not_a_wish_to_die(doc: Doc, start: int, end: int) -> bool:
    """True for a "want to die" match that is an idiom, a thing wearing out ("my phone is
    gonna die") or a question about what TMS might make other people feel."""
    following = [token.lower_ for token in doc[end : end + 3]]
    if following and (following[0] in {"laughing", "laughin"} or following[:2] == ["a", "death"]
                      or (following[0] in {"of", "from", "with"} and _IDIOM_CAUSES & set(following[1:]))):
        return True
    # "X is going to die" / "X's gonna die": a third-person or thing subject ("I'm gonna
    # die" and a dropped subject, "gonna die tonight", stay matched).
    if doc[start].lemma_ == "go" and start > 0 and doc[start - 1].lower_ in {"is", "'s", "s", "are", "was", "were"}:
        return True
    return start >= 2 and doc[start - 1].lower_ in _OTHER_PEOPLE and doc[start - 2].lemma_ in {"make", "cause"}


def _matches(doc: Doc, matcher: Optional[Matcher], text: Optional[Text] = None) -> List[Tuple[Text, bool]]:
    """(pattern name, negated?) for each crisis phrase in `doc`, negatable ones dropped."""
    matcher = matcher or _build_matcher(doc)
    found = []
    for match_id, start, end in matcher(doc):
        name = doc.vocab.strings[match_id]
        negated = _is_negated(doc, start)
        if name in NEGATABLE_PATTERNS and negated:
            continue
        if name == "want_to_die" and _not_a_wish_to_die(doc, start, end):
            continue
        if name == "overdose" and not _an_overdose(doc, start, end):
            continue
        if name == "no_point_going_on" and _going_on_with(doc, end):
            continue
        if name == "kill_myself" and _topped_up(doc, start, end):
            continue
        if end - start == 1 and doc[start].lower_ in _SLANG_UNITS and _not_slang(doc, start, text):
            continue  # "30 kms", "KMS Medical Group": kilometres, initials, names
        found.append((name, negated))
    return found


def crisis_matches(doc: Doc, matcher: Optional[Matcher] = None, text: Optional[Text] = None) -> List[Text]:
    """Names of the crisis patterns found in `doc` (empty if none)."""
    return sorted({name for name, _ in _matches(doc, matcher, text)})


def is_crisis(
    doc: Doc, predicted_intent: Optional[Text], matcher: Optional[Matcher] = None, text: Optional[Text] = None
) -> bool:
    """True when `doc` holds crisis language.

    A phrase such as "hurt myself" counts even after a negation ("I'm not going to hurt
    myself, but..."), except when every phrase is negated and the classifier already
    reads the message as taking a crisis back ("that was a joke, I'm not going to hurt
    myself"): that reply keeps the crisis resources in view too.
    """
    found = _matches(doc, matcher, text)
    if not found:
        return False
    return not (predicted_intent == RETRACTED_INTENT and all(negated for _, negated in found))


# Asking how much of a drug kills, or the surest way to die, is never an ordinary question;
# nor is an attempt, nor wishing for a crash (said beside a TMS question, whose reading is
# often sure of that question: "...Lately on the bridge I picture driving off the side. Do
# you need the dates of my ECT?").
NEVER_VETOED_PATTERNS = frozenset({"means_seeking", "attempt", "other_language", "near_attempt", "accident_wish"})

KINDS = ("self", "medical", "someone_else", "unsafe")
NOT_CRISIS = "none"
CAUTION = "caution"
KIND_ENTITY = "crisis_kind"
# Where the decision is put in the parse result (reports, the benchmark, staff tools).
PARSE_KEY = "crisis"

_SENTENCE_END = re.compile(r"[.!?;:\n]+|\s[-–]\s|,\s*(?:but|and|so|because|cause|cuz|bc)\s", re.IGNORECASE)
_WINDOW_WORDS = 12


def segments(text: Text) -> List[Text]:
    """The parts of a long message scored on their own: its sentences, and windows of
    a dozen words over long runs without punctuation. Empty for a one-part message."""
    parts = [part.strip() for part in _SENTENCE_END.split(text) if part and part.strip()]
    pieces: List[Text] = []
    for part in parts:
        words = part.split()
        if len(words) <= _WINDOW_WORDS + 4:
            pieces.append(part)
            continue
        step = _WINDOW_WORDS // 2
        for start in range(0, len(words) - step, step):
            pieces.append(" ".join(words[start : start + _WINDOW_WORDS]))
    pieces = [piece for piece in pieces if len(piece.split()) >= 2]
    return pieces if len(pieces) > 1 or (pieces and pieces[0] != text.strip()) else []


# Asking how to die: doses, heights, ways. Plain English, so a regular expression over the
# message as written (spaCy's matcher needs one token pattern per wording).
_MEANS_SEEKING = re.compile(
    r"\b(?:(?:lethal|fatal|deadly) (?:dose|amount|overdose|quantity|number)|"
    r"(?:enough|too many|how many|how much|how high|how far)\b[^.?!]{0,40}\b(?:to (?:die|kill (?:me|myself|a person|someone)|"
    r"be (?:fatal|lethal|deadly))|would (?:kill (?:me|you|a person)|be (?:fatal|lethal))|to be sure i die)|"
    r"(?:definitely|surely|certainly|for sure|guaranteed to) (?:die|be dead|kill me)|"
    r"(?:painless|painlessly|quickest|easiest|fastest|surest|best) (?:way|method) to (?:die|go|end it|end my life|kill myself|do it)|"
    r"(?:high|fast|deep) enough to (?:die|kill|be fatal))\b",
    re.IGNORECASE,
)


# Wishing for, picturing or thinking of causing a crash or an accident ("part of me hopes a
# lorry drifts into my lane", "sometimes I think it'd be easier if I got in a car accident on
# the way over", "keep picturing steering into a tree"): passive ideation and plans by a
# vehicle. Said in one sentence of a long message about TMS it scores low as a whole and
# about 0.7 as a sentence, among many calm sentences; the wish and the crash together are
# not a figure of speech, so the phrase is decisive. Not fear ("I'd hate to crash", "hope I
# don't have an accident driving home"), nor a crash told as past or news (no wish word).
_VEHICLES = r"(?:car|cars|bus|buses|lorry|lorries|truck|trucks|train|trains|tram|van|motorbike|bike|plane|ferry|coach|taxi|semi|18 wheeler)"
# What one steers or drives into, off or over: a hazard, not a place ("drive into town").
_HAZARD = (
    r"(?:(?:a|an|the|some|another|oncoming|that|one)\s+)?(?:\w+\s+)?"
    r"(?:tree|wall|barrier|bridge|river|lake|sea|canal|traffic|oncoming|pole|post|pillar|cliff|ditch|embankment|"
    r"reservation|median|(?:other|opposite|wrong|oncoming) lane|"
    rf"{_VEHICLES}(?!\s+park))\b"
)
# A crash only where it cannot be an errand or a plan for the day: into a hazard, off a bridge,
# letting go of the wheel, not braking, in front of traffic; a vehicle hitting "me".
_CRASHES = (
    r"(?:(?:steer|steers|steering|swerve|swerves|swerving|veer|veers|veering|drift|drifts|drifting|plough|ploughs|"
    r"ploughing|plow|plows|plowing|drive|drives|driving|ride|rides|riding|skid|skids|skidding|slide|slides|sliding)\s+"
    rf"(?:\w+\s+){{0,2}}?(?:(?:into|in front of)\s+{_HAZARD}"
    r"|off\s+(?:the|a)\s+(?:\w+\s+)?(?:bridge|cliff|edge|overpass|pier|flyover)"
    r"|over\s+the\s+(?:edge|side|cliff|barrier|rail))"
    r"|(?:jerk|jerking|yank|yanking|turn|turning|let go of|letting go of)\s+the\s+(?:wheel|handlebars)"
    r"|(?:not|never|didn'?t|don'?t)\s+(?:braking|brake|stop(?:ping)? at the (?:red|lights?|junction|crossing|level crossing))\b"
    r"|(?:step|stepping|walk|walking|run|running|jump|jumping)\s+(?:out\s+)?(?:in front of|into (?:the )?(?:traffic|road|path))"
    rf"|{_VEHICLES}\s+(?:would\s+|to\s+|just\s+|will\s+)*(?:go down|goes down|crash|crashes|derail|derails|hit me|hits me|flip|flips|sink|sinks)"
    # "the bus skids into me", "a truck runs me over", "one of them ploughs through me"
    rf"|{_VEHICLES}\s+(?:\w+\s+){{0,3}}?(?:(?:into|over|through)\s+me|me\s+(?:over|down))\b"
    r"|(?:get|getting|got|be|being)\s+(?:hit|run over|knocked down|mown down|flattened)(?!\s+(?:with|up|on))"
    r"|hit by (?:a|the|an|some)\b"
    r"|(?:brakes?|steering)\s+(?:would\s+|to\s+|just\s+)*(?:fail|failed|failing|went|go|gave out|give out)"
    r"|(?:fall|falling|fell|nod|nodding|nodded)\s+(?:asleep|off)\s+at\s+the\s+wheel)"
)
# An accident or a crash of one's car in general: only after a wish proper ("it'd be a relief
# if I got in a car accident", "hope I crash the car"), never after "what if" or "thinking
# about", which are as often worries and plans ("what if I feel dizzy and crash the car?").
_ANY_CRASH = (
    r"(?:(?:a|an|some)\s+(?:\w+\s+){0,2}?(?:accident|crash|collision|pile-?up)(?!\s+course)"
    r"|(?:crash|crashing|crashed|wreck|wrecking|wrap|wrapping)\s+(?:my|the|it|into|myself))"
)
_WISHES = (
    r"(?:hope|hoping|hopes|wish|wishing|pray|praying|wouldn'?t mind|would not mind|wouldn'?t care|would not care|"
    r"(?:be|feel)\s+(?:a\s+)?(?:relief|relieved|fine|okay|ok|glad|happy|peaceful)|easier|"
    r"welcome|half\s+hop\w*|fantasi[sz]e|fantasi[sz]ing|daydream|daydreaming|tempted|temptation|urge)"
)
_THOUGHTS = (
    r"(?:think\s+about|thinking\s+about|thought\s+about|thoughts\s+(?:of|about)|picture|picturing|pictured|"
    r"imagine|imagining|imagined|want\s+to|wanted\s+to|wanna|nearly|almost)"
)
_NOT_WISHED = r"(?:don'?t|dont|do not|won'?t|wont|doesn'?t|never|not|wouldn'?t|hate to|scared|afraid|worried|terrified|nervous|fear)"
_GAP = rf"(?:(?![.?!]|\b{_NOT_WISHED}\b).){{0,60}}?"
_ACCIDENT_WISH = re.compile(
    rf"\b(?:{_WISHES}|{_THOUGHTS})\b{_GAP}\b{_CRASHES}|\b{_WISHES}\b{_GAP}\b{_ANY_CRASH}", re.IGNORECASE
)
_NOT_WISHED_BEFORE = re.compile(rf"\b{_NOT_WISHED}\s+(?:\w+\s+)?$", re.IGNORECASE)


def accident_wish(text: Text) -> bool:
    """True when the writer wishes for, pictures or thinks of causing a crash or accident to
    themselves; a negation or a fear just before the wish ("I don't want to get hit with a
    bill", "scared I'd crash") or inside it ("hope I don't crash") does not count."""
    for match in _ACCIDENT_WISH.finditer(text):
        if not _NOT_WISHED_BEFORE.search(text[max(0, match.start() - 25) : match.start()]):
            return True
    return False


# "can you overdose on sertraline? how much would it take": the amount of a drug that would
# be an overdose (not "can you overdose on TMS? how many sessions is too many").
_OVERDOSE_AMOUNT = re.compile(
    r"\b(?:overdose|od) on (?:(?:my|your|ur|a|the|some) )?(\w+)[^.?!]{0,40}[.?!]*\s*(?:how (?:much|many)|what (?:dose|amount))\b",
    re.IGNORECASE,
)


def means_seeking(text: Text) -> bool:
    if _MEANS_SEEKING.search(text):
        return True
    amount = _OVERDOSE_AMOUNT.search(text)
    return amount is not None and amount.group(1).lower() not in _NOT_OVERDOSED_ON


# A calm mention of a crisis long past ("I attempted suicide years ago and have been well
# since; can I have TMS?") deserves an ordinary answer with the standing crisis line, not
# the emergency reply. Both a distant-past marker and a recovery marker must be present,
# and no sign of present danger.
_DISTANT_PAST = re.compile(
    r"\b(?:(?:\d+|a few|few|several|many|some|two|three|four|five|six|seven|eight|nine|ten|"
    r"a dozen|twenty|thirty|a)\s+(?:odd\s+)?(?:years?|yrs?|decades?)\s+(?:ago|back|before)|years ago|decades ago|long ago|"
    r"in (?:year|grade) \d+|in (?:sixth form|\d+(?:st|nd|rd|th) grade)|"
    r"before (?:my|our) (?:kids|children|son|daughter|first child|first baby) (?:was|were) born|"
    r"when i was (?:a )?young (?:mum|mom|mother|dad|father|man|woman|lad|girl)|"
    r"a long time ago|(?:back )?in (?:19|20)\d\d|since (?:19|20)\d\d|\((?:19|20)\d\d\)|"
    r"was (?:19|20)\d\d|"
    r"when i was (?:a |an )?(?:\d+|young|younger|kid|child|teen|teenager|little|student|at uni|"
    r"at university|in (?:high school|school|college|uni|university|my (?:teens|twenties|20s)))|"
    r"as a (?:teen|teenager|kid|child|student|young (?:man|woman|adult))|"
    r"in (?:high school|college|uni|university|my (?:teens|twenties|20s|thirties|30s|early|late))|"
    r"at (?:age )?1\d\b|at (?:age )?[2-9]\d\b|used to|in the past|history of|hx of|past (?:hx|history)|"
    r"during (?:my|a|the) (?:first|last|previous|earlier|old) \w+|back then)",
    re.IGNORECASE,
)
_RECOVERED = re.compile(
    r"\b(?:(?:been|i'?m|im|i am|now|now and|doing|feel|feeling|am)\s+(?:really |pretty |mostly |much )?"
    r"(?:well|fine|ok|okay|good|great|stable|better|safe)|(?:well|fine|ok|okay|good|great|stable|safe) now|"
    # "I'm in a much better place now"; only said of oneself now ("she's in a better place"
    # is said of the dead, and "I'd be in a better place" is a wish).
    r"(?:i'?m|im|i am|now) in a (?:much |far |way |lot |really |very )?(?:better|good|great|healthier) (?:place|headspace|space)|"
    r"stable|recovered|recovery|resolved|"
    r"remission|healed|got through|worked through|came through|no longer|not since|none since|"
    r"haven'?t (?:since|in|for)|never since|since then|well since|fine since|ok since|okay since|"
    r"different person|happily|back at work|moved on|long behind me|behind me|went away|"
    r"gone away|faded|passed|over it|clean (?:for|since)|years clean|(?:all )?good since|all good now|"
    r"all in the past|in the past now|"
    r"got (?:treated|treatment|help|better)|"
    # What helped ("...five years ago and grief counselling helped a lot") and harm that ended
    # ("my ex used to hit me but that ended when I left"). Only care as the subject of
    # "helped": "it helped for a year. Now it's back" is a relapse.
    r"(?:counsell?ing|therapy|treatment|support|medication|meds) (?:really |all )?helped|"
    r"(?:that|it|the abuse|all that) (?:all )?(?:ended|stopped)|"
    r"no (?:more )?(?:self[- ]?harm(?:ing)?|cutting|attempts?|episodes?|relapses?|suicidal thoughts?) (?:since|for|in)|"
    # "I haven't self-harmed in over eight years": the harm named, then a span of years.
    r"(?:haven'?t|have not|havent) (?:\w+ )?(?:self[- ]?harmed|cut|hurt myself|harmed myself|burned myself|"
    r"attempted|relapsed|done (?:it|that)|had (?:those|any|such|the) (?:\w+ )?(?:thoughts|urges)|felt (?:that way|like that)) "
    r"(?:(?:in|for) (?:over |more than |almost |nearly |about |around |well over )?"
    r"(?:\d+|a|one|two|three|four|five|six|seven|eight|nine|ten|twenty|many|several|a few|some) "
    r"(?:years?|yrs?|decades?)|in years|in ages|for years|since (?:then|(?:19|20)\d\d|college|school|uni|"
    r"high school|my teens|i was)))\b",
    re.IGNORECASE,
)
# Someone else's death long ago is grief, not a crisis of the writer's.
_BEREAVEMENT = re.compile(
    r"\b(?:lost (?:my |a |our )?\w+(?: \w+)? to suicide|died by suicide|died of suicide|"
    r"committed suicide|took (?:his|her|their) own life|killed (?:him|her)self|killed themselves)\b",
    re.IGNORECASE,
)
# Danger now, whatever the past; also harm that goes on ("I keep punching walls", "I can't
# stop cutting") or has come back ("the thoughts came back", "I have been looking up methods").
_PRESENT_DANGER = re.compile(
    r"\b(?:tonight|right now|rn|today|this week|again|lately i (?:want|think)|still (?:want|think|feel like)|"
    r"going to|gonna|planning(?! ahead)|plan to|want to die|wanna die|want to end|want to kill|"
    r"(?:can'?t|cant|cannot) stop (?:\w+ing|myself|thinking about (?:dying|death|suicide|ending))|"
    r"keep (?:cutting|burning|hitting|punching|scratching|hurting|harming|starving|thinking about (?:dying|suicide|ending))|"
    r"(?:thoughts?|urges?)(?: have| has| are)? (?:come|came|coming) back|"
    r"looking up (?:methods|ways|how)|researching (?:methods|ways|how))\b",
    re.IGNORECASE,
)


# Recovery words under a negation say the opposite: "the mood stuff has never gone away",
# "I haven't really got better" (only the forms _RECOVERED reads as recovery).
_NEGATED_RECOVERY = re.compile(
    r"\b(?:never|not|no|hasn'?t|haven'?t|hadn'?t|didn'?t|doesn'?t|don'?t|isn'?t|aren'?t|wasn'?t|won'?t|"
    r"hasnt|havent|didnt|doesnt|dont|isnt|wasnt|cannot|can'?t|cant)\s+"
    r"(?:\w+\s+){0,2}?(?:gone away|went away|faded|passed|been (?:well|fine|ok|okay|good|stable|better)|"
    r"recovered|healed|got better|over it|moved on|behind me|helped|ended|stopped)\b",
    re.IGNORECASE,
)


def resolved_history(text: Text) -> bool:
    """True for a calm mention of a crisis long past, with recovery and no present danger."""
    if _PRESENT_DANGER.search(text.replace("never again", "")):
        return False
    if not _DISTANT_PAST.search(text):
        return False
    return bool(_RECOVERED.search(_NEGATED_RECOVERY.sub(" ", text)) or _BEREAVEMENT.search(text))


# A crisis phrase in the same message as "nearly did it" ("...thoughts of steering into
# oncoming traffic and nearly did it", "last night I nearly went through with it") tells of
# a near attempt: never a figure of speech, so it is decisive and the ordinary reading
# cannot veto it. Only read beside another crisis phrase: alone, "I nearly did it!" is as
# often a finished marathon. Over the 18,873 texts of the training data, the corpora and
# the private sets, three messages have it, all crisis messages.
_NEAR_ATTEMPT = re.compile(
    r"\b(?:nearly|almost|close to)\s+"  # "close to" also covers "came close to", "so close to"
    r"(?:did|done|doing|do|went through with|going through with|go through with)\s+it\b|"
    r"\bstopped myself (?:at the last|just in time|in time)",
    re.IGNORECASE,
)


# A message that only thanks and says goodbye ("Thank you. Goodbye.", "thank you for your
# help, goodbye", "ok great thank you so much, have a nice day") ends an ordinary chat. The
# classifiers learnt farewells from crisis messages that thank and say goodbye ("thanks for
# everything, goodbye"), and read these as crisis (0.4 to 1.0). Words of finality
# ("everything", "everyone", "forever", "last", "won't need") are not in it, so such a
# farewell is still read by the classifiers.
_THANKS = (r"(?:thank you|thank u|thanks|thankyou|thanx|thx|ty|tysm|cheers|many thanks|ta)"
           r"(?: (?:very|so) much| so so much| a lot| a bunch| heaps| loads| again| kindly)?"
           r"(?: for (?:your|the|all your|all the) (?:help|info|information|answers?|time|advice|explanation|replies|assistance|chat))?")
_BYE = (r"(?:good ?bye|bye(?: ?bye)?|bye for now|see (?:you|ya|u)(?: later)?|take care|cya|ttyl|talk (?:to you|soon)"
        r"|have a (?:nice|good|great|lovely) (?:day|night|evening|one|weekend)|good ?night|good day)")
_CLOSING_FILLER = (r"(?:ok|okay|ok then|alright|all right|great|perfect|got it|that'?s (?:really |very )?helpful"
                   r"|that (?:is|was) (?:really |very |so )?helpful|that helps|that'?s all|that is all)")
_PLAIN_CLOSING = re.compile(
    rf"^\W*(?:(?:{_CLOSING_FILLER}|{_THANKS}|{_BYE})[\s,.!:;)(-]*(?:and )?)+\W*$", re.IGNORECASE
)


def plain_closing(text: Text) -> bool:
    """True for a message of thanks and goodbye words only."""
    return bool(_PLAIN_CLOSING.match(text.strip()))


# libsvm's kernel cache in MB. Speed only, the same model: at scikit-learn's 200 MB the
# sentence model's fit (about 35,000 rows) took 608 s here, at 4,000 MB 176 s. Capped at a
# quarter of the memory free when training starts, so a small machine still trains.
_SVM_CACHE_MB = 4000


def svm_cache_mb() -> int:
    """libsvm's kernel cache for this machine: a quarter of free memory, 200 to 4,000 MB."""
    try:
        free_mb = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20
    except (ValueError, OSError, AttributeError):  # not a POSIX system: scikit-learn's default
        return 200
    return int(max(200, min(_SVM_CACHE_MB, free_mb // 4)))


def _rbf_svm(C: float) -> Any:
    from sklearn.svm import SVC

    return SVC(C=C, kernel="rbf", gamma="scale", cache_size=svm_cache_mb())


def encode_parts(texts: List[Text]) -> Dict[Text, np.ndarray]:
    """The embedding of every part (sentence) of the given messages, each encoded once."""
    unique = sorted({part for text in texts for part in segments(text)})
    return dict(zip(unique, shared_encoder().encode(unique), strict=True)) if unique else {}


def sentence_labels_kept(crisis_scores: Optional[np.ndarray], count: int) -> np.ndarray:
    """Which of an example's `count` parts train the sentence models with the example's own
    label: all of an ordinary example's (`crisis_scores` None); of a crisis example's, those
    its whole-message scores put at 0.5 or more, and the highest-scored one in any case."""
    if crisis_scores is None:
        return np.ones(count, dtype=bool)
    return (crisis_scores >= 0.5) | (np.arange(count) == int(np.argmax(crisis_scores)))


def _svm_weights(model: Any) -> Dict[Text, np.ndarray]:
    """What an RBF SVM's decision needs, as float32 arrays (no scikit-learn at load)."""
    return {
        "support_vectors": model.support_vectors_.astype(np.float32),
        "dual_coef": model.dual_coef_[0].astype(np.float32),
        "intercept": model.intercept_.astype(np.float32),
        "gamma": np.array([model._gamma], dtype=np.float32),
    }


def _svm_probabilities(weights: Dict[Text, np.ndarray], vectors: np.ndarray) -> np.ndarray:
    """The SVM's decision value through a logistic: a score in (0, 1), 0.5 on the boundary."""
    support = weights["support_vectors"]
    # |v - s|^2 expanded: no (vectors x support vectors x 384) array (150 MB for ten parts
    # against the sentence model's 10,000 support vectors).
    distances = np.maximum(
        (vectors * vectors).sum(axis=1)[:, None] + (support * support).sum(axis=1)[None, :] - 2.0 * vectors @ support.T,
        0.0,
    )
    decision = np.exp(-weights["gamma"][0] * distances) @ weights["dual_coef"] + weights["intercept"][0]
    return 1.0 / (1.0 + np.exp(-decision))


@dataclass
class CrisisDecision:
    score: float  # the classifier's probability that the whole message is crisis language
    part_score: float  # the highest such probability of one of its parts (0 if one part)
    kind: Text  # one of KINDS, CAUTION or NOT_CRISIS
    patterns: List[Text]
    classifier_intent: Optional[Text] = None  # what the classifier and guards said before this
    resolved_history: bool = False
    ordinary_reading: float = 0.0  # the meaning vote's probability of its likeliest ordinary label
    # How sure the kind model is of `kind` where the evidence is strongest (1.0 when a
    # phrase decided it, e.g. an overdose). The dialogue keeps the session's earlier case when
    # a later message reads as another case with less certainty (bot/policies/crisis_case.py).
    kind_probability: float = 1.0
    closing: bool = False  # thanks and goodbye words only (plain_closing)

    @property
    def is_crisis(self) -> bool:
        return self.kind in KINDS

    def as_dict(self) -> Dict[Text, Any]:
        return {"score": round(self.score, 4), "part_score": round(self.part_score, 4),
                "kind": self.kind, "patterns": self.patterns,
                "classifier_intent": self.classifier_intent, "resolved_history": self.resolved_history,
                "ordinary_reading": round(self.ordinary_reading, 4),
                "kind_probability": round(self.kind_probability, 4)}


def decide(
    score: float,
    part_score: float,
    kind: Text,
    patterns: List[Text],
    predicted_intent: Optional[Text],
    config: Dict[Text, Any],
    resolved: bool = False,
    ordinary_reading: float = 0.0,
    closing: bool = False,
) -> Text:
    """The decision rule: crisis kind, CAUTION or NOT_CRISIS (thresholds from config.yml).

    A part of a message is read without the rest ("that was in 2008", "I'm fine now"), so
    it needs a higher score than the whole message to count on its own, and the matcher
    and the classifier's crisis reading lower the bar for the whole message only. The other
    way round, a long message that is borderline as a whole needs one part that reads as
    crisis, and one part alone gives way to an all but certain ordinary reading.
    """
    best = max(score, part_score)
    if closing and not patterns:
        return NOT_CRISIS  # thanks and goodbye only (plain_closing)
    if resolved and score < config["resolved_threshold"]:
        return CAUTION
    # A sentence read on its own counts when the whole message is not plainly ordinary.
    part_counts = part_score >= config["part_threshold"] and score >= config["part_whole_floor"]
    below_bar = score < config["threshold"] and not part_counts
    if (patterns and below_bar and ordinary_reading >= config["matcher_veto_reading"]
            and not set(patterns) & NEVER_VETOED_PATTERNS):
        # A crisis phrase the classifier scores low, in a message the intent classifier is
        # sure is an ordinary question: the phrase used as a topic, a figure of speech or a
        # logistics question ("does TMS help with suicidal thoughts?", "I could kill myself
        # for forgetting my insurance card lol, can I email it?"). The ordinary answer, with
        # the standing crisis line.
        return CAUTION
    if set(patterns) & set(config["decisive_patterns"]):
        return kind
    if predicted_intent == RETRACTED_INTENT and score < config["retracted_threshold"]:
        return NOT_CRISIS
    if score >= config["threshold"] or part_counts:
        if (not patterns and score < config["ordinary_veto_below"] and not part_counts
                and ordinary_reading >= config["ordinary_reading_threshold"]):
            # A borderline score, no crisis phrase, and the intent classifier (trained with
            # crisis as one of its labels) sure of an ordinary question: the ordinary
            # answer, with the standing crisis line.
            return CAUTION
        if (not patterns and part_counts and score < min(config["threshold"], config["part_veto_below"])
                and ordinary_reading >= config["part_veto_reading"]):
            # Only one sentence, read alone, looks like crisis ("...and told me to rest for
            # the day"), the whole message reads plainly ordinary, and the intent classifier
            # is all but certain of an ordinary question: the ordinary answer, with the
            # standing crisis line.
            return CAUTION
        if (not patterns and score < config["unsupported_below"]
                and 0.0 < part_score < config["sentence_support"]):
            # A long message whose whole reads borderline but none of whose sentences reads
            # as crisis on its own: feeling spread across a calm story (years of low mood,
            # insurance anger, a relative's recovery), where a risk said in a long message
            # sits in one sentence. The ordinary answer, with the standing crisis line.
            return CAUTION
        return kind
    if patterns and score >= config["matcher_threshold"]:
        return kind
    if predicted_intent == CRISIS_INTENT and score >= config["intent_threshold"]:
        return kind
    if patterns or best >= config["caution_threshold"]:
        return CAUTION
    return NOT_CRISIS


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True
)
class CrisisLanguageDetector(PackageFingerprinted, GraphComponent):
    """Sets the intent to `crisis` (with its kind) when the message is crisis language."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # Decision rule, chosen on tests/data/crisis_eval dev split (see config.yml).
            "threshold": 0.45,
            "part_threshold": 1.01,
            # ...and the whole message's score must be at least this for a part to count.
            "part_whole_floor": 0.0,
            "matcher_threshold": 0.2,
            "intent_threshold": 0.3,
            "caution_threshold": 0.4,
            "resolved_threshold": 0.7,
            # When the intent classifier reads a retraction ("that was a joke, I'm not going
            # to hurt myself"), the score needed for crisis (the retraction's own reply keeps
            # the crisis lines in view); 0 leaves retractions to the other rules.
            "retracted_threshold": 0.0,
            # Matcher phrases that decide alone (unless the message is calm past history).
            # ("self harm" is left out: it is often history, "a history of self-harm").
            "decisive_patterns": ["kill_myself", "want_to_die", "end_my_life", "means_seeking", "other_language",
                                  "near_attempt", "accident_wish"],
            # Support vector machine (RBF kernel) on the sentence embedding: regularisation.
            # It separated crisis from look-alikes better than a logistic regression on the
            # embedding alone on the dev split.
            "C": 10.0,
            # Logistic regression on the embedding plus word (1-2) and character (2-5)
            # n-grams; averaged with the SVM it missed fewer dev-split crisis messages at the
            # same false alarms than either alone. 0 leaves it out.
            "surface_C": 10.0,
            # Which kind of crisis: an overdose or injury gets the emergency-care
            # reply when its probability reaches this, even if another kind is likelier. That
            # reply also gives the crisis line, while the others only mention emergencies. On
            # the dev split (tried before the latest training data), 0.2 gave the fitting
            # reply to 19 of 20 overdoses (14 by the likeliest kind) and moved at most two
            # messages of another family, to the emergency reply.
            "medical_kind_threshold": 0.2,
            # A part of a long message is read without the rest: "...gave me his wedding ring
            # to keep" reads as the writer's own crisis once "my father" is in another part.
            # When the riskiest part reads as the writer's own ("self") and the whole message
            # as someone else's or as danger from another person with at least this
            # probability, the whole message's kind is taken (1.01: never).
            "whole_kind_over_self": 1.01,
            # A second SVM and n-gram model, trained on sentences, whose score for a message's
            # strongest sentence is averaged with the whole-message models' (only when parts
            # are scored, `part_threshold` <= 1).
            "sentence_model": False,
            # A score below `ordinary_veto_below` with no crisis phrase gets the ordinary
            # answer and the standing crisis line (not the crisis reply) when the meaning
            # vote reads an ordinary question with at least `ordinary_reading_threshold`
            # (its own probability, before any guard). Above 1: off.
            "ordinary_reading_threshold": 1.01,
            "ordinary_veto_below": 0.6,
            # A message of several parts scored below `unsupported_below` with no crisis
            # phrase needs one part (sentence) scored at least `sentence_support` to be
            # crisis; otherwise the ordinary answer and the standing crisis line. 0: off.
            "unsupported_below": 0.0,
            "sentence_support": 0.0,
            # A message that is crisis only by one of its parts, scored below
            # `part_veto_below` as a whole with no crisis phrase, gets the ordinary answer and
            # the standing crisis line when the meaning vote reads an ordinary question with
            # at least `part_veto_reading`. Above 1: off.
            "part_veto_reading": 1.01,
            "part_veto_below": 0.0,
            # A crisis phrase with a score below `threshold` gets the ordinary answer and the
            # standing crisis line when the meaning vote reads an ordinary question with at
            # least this probability (means-seeking excepted). Above 1: off.
            "matcher_veto_reading": 1.01,
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        weights: Optional[Dict[Text, np.ndarray]] = None,
        kinds: Optional[List[Text]] = None,
        surface: Optional[Any] = None,
        kind_model: Optional[Any] = None,
        sentence_model: Optional[Tuple[Dict[Text, np.ndarray], Any]] = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        # Crisis or not: the SVM (support_vectors, dual_coef, intercept, gamma); which kind:
        # a logistic regression (kind_coef, kind_intercept) on the embedding alone, or
        # `kind_model` on the embedding with the n-grams when those were trained.
        self._weights = weights
        self._kinds = kinds or []
        # The n-gram model: (SurfaceFeatures, logistic regression).
        self._surface = surface
        self._kind_model = kind_model
        # Trained on sentences: (SVM weights, (SurfaceFeatures, logistic regression)).
        self._sentence_model = sentence_model
        self._matcher: Optional[Matcher] = None

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> CrisisLanguageDetector:
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> CrisisLanguageDetector:
        import joblib

        use_sentence_model = {**cls.get_default_config(), **config}["sentence_model"]
        try:
            with model_storage.read_from(resource) as directory:
                kinds = json.loads((directory / "kinds.json").read_text())
                with np.load(directory / "weights.npz") as arrays:
                    weights = {name: arrays[name] for name in arrays.files}
                surface = kind_model = None
                if (directory / "surface.joblib").exists():
                    surface = joblib.load(directory / "surface.joblib")
                    if (directory / "kind.joblib").exists():
                        kind_model = joblib.load(directory / "kind.joblib")
                sentence_model = None
                if use_sentence_model and (directory / "sentence_weights.npz").exists():
                    with np.load(directory / "sentence_weights.npz") as arrays:
                        sentence_weights = {name: arrays[name] for name in arrays.files}
                    sentence_model = (sentence_weights, joblib.load(directory / "sentence_surface.joblib"))
                return cls(config, model_storage, resource, weights, kinds, surface, kind_model, sentence_model)
        except (ValueError, FileNotFoundError):
            # Never trained (no crisis examples): the matcher and the classifier's reading still decide.
            logger.warning("The crisis classifier has no trained weights; using the matcher only.")
            return cls(config, model_storage, resource)

    @staticmethod
    def required_packages() -> List[Text]:
        return ["spacy", "sklearn", "joblib"]

    # --- training ------------------------------------------------------------------------
    @staticmethod
    def label_of(message: Message) -> Text:
        if message.get(INTENT) != CRISIS_INTENT:
            return NOT_CRISIS
        kind = ((message.get("metadata") or {}).get("intent") or {}).get(KIND_ENTITY, "self")
        if kind not in KINDS:
            raise ValueError(f"Unknown crisis_kind {kind!r} for {message.get(TEXT)!r}")
        return kind

    def train(self, training_data: TrainingData) -> Resource:
        examples = [
            m for m in training_data.intent_examples
            if message_embedding(m) is not None and not (m.get(TEXT) or "").startswith("/")
        ]
        if not any(m.get(INTENT) == CRISIS_INTENT for m in examples):
            return self._resource
        # Two threads: the sentence models' parts are encoded (MiniLM in NumPy, whose matrix
        # products release the GIL) while the whole-message models fit (libsvm, one core);
        # the same models, about a minute and a half sooner.
        with ThreadPoolExecutor(max_workers=1) as pool:
            parts: Optional[Future] = None
            if self._config["sentence_model"] and self._config["part_threshold"] <= 1:
                parts = pool.submit(encode_parts, [m.get(TEXT) or "" for m in examples])
            features, is_crisis = self._train_whole_models(examples)
            if parts is not None:
                self._sentence_model = self._train_sentence_model(examples, features, is_crisis, parts.result(), pool)
        self._persist()
        return self._resource

    def _train_whole_models(self, examples: List[Message]) -> Tuple[np.ndarray, np.ndarray]:
        """The crisis SVM, the kind model and the n-gram model, on whole messages; returns
        the examples' embeddings and which are crisis, which the sentence models reuse."""
        from sklearn.linear_model import LogisticRegression

        features = np.stack([message_embedding(m) for m in examples])
        labels = np.array([self.label_of(m) for m in examples])
        is_crisis = labels != NOT_CRISIS
        crisis_model = _rbf_svm(self._config["C"]).fit(features, is_crisis)
        kinds = sorted({str(k) for k in labels[is_crisis]})
        if len(kinds) > 1:
            kind_model = LogisticRegression(C=10.0, max_iter=3000).fit(features[is_crisis], labels[is_crisis])
            self._kinds = [str(k) for k in kind_model.classes_]
            kind_weights = {"kind_coef": kind_model.coef_, "kind_intercept": kind_model.intercept_}
        else:  # one kind only: nothing to choose between
            self._kinds, kind_weights = kinds, {}
        self._weights = {**_svm_weights(crisis_model), **kind_weights}
        if self._config["surface_C"]:
            texts = [m.get(TEXT) for m in examples]
            self._surface, rows = self._train_surface(texts, features, is_crisis)
            if len(kinds) > 1:
                # The n-grams help tell the kinds apart too ("took 25", "od'd", "he's going
                # to"): with them and the medical bar, 193 of 199 dev crisis messages get the
                # reply for their case (182 with the embedding alone, before this data).
                self._kind_model = LogisticRegression(C=10.0, max_iter=5000).fit(
                    rows[is_crisis], labels[is_crisis]
                )
        return features, is_crisis

    def _persist(self) -> None:
        import joblib

        with self._model_storage.write_to(self._resource) as directory:
            (directory / "kinds.json").write_text(json.dumps(self._kinds))
            np.savez(directory / "weights.npz", **self._weights)
            if self._surface is not None:
                joblib.dump(self._surface, directory / "surface.joblib")
                if self._kind_model is not None:
                    joblib.dump(self._kind_model, directory / "kind.joblib")
            if self._sentence_model is not None:
                np.savez(directory / "sentence_weights.npz", **self._sentence_model[0])
                joblib.dump(self._sentence_model[1], directory / "sentence_surface.joblib")

    def _train_sentence_model(
        self,
        examples: List[Message],
        features: np.ndarray,
        is_crisis: np.ndarray,
        encoded: Dict[Text, np.ndarray],
        pool: ThreadPoolExecutor,
    ) -> Tuple[Dict[Text, np.ndarray], Any]:
        """The SVM and n-gram model for sentences, trained on every example and the parts
        (sentences) of long ones: every part of an ordinary example is ordinary; a crisis
        example's parts are crisis when the whole-message models, just trained, score them
        at least 0.5, and its highest-scored part always is. The rest of a crisis example
        ("also do you do weekends?") is left out: it is neither. `encoded`: the parts'
        embeddings (`encode_parts`)."""
        texts: List[Text] = [m.get(TEXT) or "" for m in examples]
        labels: List[bool] = [bool(crisis) for crisis in is_crisis]
        vectors = [features]
        split = [(segments(text), crisis) for text, crisis in zip(texts, labels, strict=True)]
        for parts, crisis in split:
            if not parts:
                continue
            part_vectors = np.stack([encoded[part] for part in parts])
            keep = sentence_labels_kept(self.crisis_probabilities(part_vectors, parts) if crisis else None, len(parts))
            texts += [part for part, kept in zip(parts, keep, strict=True) if kept]
            labels += [crisis] * int(keep.sum())
            vectors.append(part_vectors[keep])
        embedding = np.concatenate(vectors)
        target = np.array(labels)
        # The SVM (libsvm, one core) fits beside the n-gram model.
        svm = pool.submit(_rbf_svm(self._config["C"]).fit, embedding, target)
        surface, _ = self._train_surface(texts, embedding, target)
        svm = svm.result()
        logger.debug("Crisis sentence model: %d examples and parts, %d crisis.", len(texts), int(target.sum()))
        return _svm_weights(svm), surface

    def _train_surface(self, texts: List[Text], embeddings: np.ndarray, is_crisis: np.ndarray) -> Tuple[Any, Any]:
        """((the fitted n-grams, the crisis model on them), the training rows, which the
        kind model reads too)."""
        from sklearn.linear_model import LogisticRegression

        features = SurfaceFeatures().fit(texts)
        rows = features.transform(texts, embeddings)
        model = LogisticRegression(C=self._config["surface_C"], max_iter=5000)
        model.fit(rows, is_crisis)
        return (features, model), rows

    # --- prediction ----------------------------------------------------------------------
    def surface_rows(self, vectors: np.ndarray, texts: Optional[List[Text]]) -> Optional[Any]:
        """The embedding-plus-n-gram rows both n-gram models read (None without them).
        Computed once per message: the n-gram transform is most of their cost."""
        if self._surface is None or texts is None:
            return None
        return self._surface[0].transform(texts, vectors)

    def crisis_probabilities(
        self, vectors: np.ndarray, texts: Optional[List[Text]] = None, rows: Optional[Any] = None
    ) -> np.ndarray:
        """The SVM's decision value through a logistic (a score in (0, 1), 0.5 on the
        boundary; not a calibrated probability: thresholds are chosen on the dev split),
        averaged with the n-gram model's probability when it was trained and `texts` (or
        their `rows`) given."""
        meaning = _svm_probabilities(self._weights, vectors)
        if rows is None:
            rows = self.surface_rows(vectors, texts)
        if rows is None:
            return meaning
        surface = self._surface[1].predict_proba(rows)[:, 1]
        return (meaning + surface) / 2

    def sentence_probabilities(self, vectors: np.ndarray, texts: List[Text]) -> np.ndarray:
        """The sentence models' scores for parts of a message, as `crisis_probabilities`."""
        weights, (features, model) = self._sentence_model
        surface = model.predict_proba(features.transform(texts, vectors))[:, 1]
        return (_svm_probabilities(weights, vectors) + surface) / 2

    def kind_probabilities(self, vector: np.ndarray, text: Optional[Text] = None, row: Optional[Any] = None) -> Dict[Text, float]:
        """The probability of each crisis kind for one message (or part of one); `row`, its
        embedding-plus-n-gram row if already computed."""
        if len(self._kinds) == 1:
            return {self._kinds[0]: 1.0}
        if self._kind_model is not None and row is None and text is not None:
            row = self.surface_rows(vector[None, :], [text])
        if self._kind_model is not None and row is not None:
            probabilities = self._kind_model.predict_proba(row)[0]
            return {str(kind): float(p) for kind, p in zip(self._kind_model.classes_, probabilities, strict=True)}
        w = self._weights
        logits = w["kind_coef"] @ vector + w["kind_intercept"]
        exp = np.exp(logits - logits.max())
        return {kind: float(p) for kind, p in zip(self._kinds, exp / exp.sum(), strict=True)}

    def likeliest_kind(self, vector: np.ndarray, text: Optional[Text] = None, row: Optional[Any] = None) -> Text:
        """The likeliest kind, except that a likely enough overdose or injury gets the
        emergency reply (missing it costs more than giving it to a plan)."""
        return self.kind_reading(vector, text, row)[0]

    def kind_reading(
        self, vector: np.ndarray, text: Optional[Text] = None, row: Optional[Any] = None
    ) -> Tuple[Text, float]:
        """`likeliest_kind` and the kind model's probability of it."""
        probabilities = self.kind_probabilities(vector, text, row)
        if probabilities.get("medical", 0.0) >= self._config["medical_kind_threshold"]:
            return "medical", probabilities["medical"]
        kind = max(probabilities, key=probabilities.__getitem__)
        return kind, probabilities[kind]

    def score(self, message: Message) -> Tuple[float, float, Text, float]:
        """(probability that the message is crisis language, the highest such probability
        of one of its parts, the likeliest crisis kind where the evidence is strongest, the
        kind model's probability of that kind)."""
        vector = message_embedding(message)
        if self._weights is None or vector is None:
            return 0.0, 0.0, "self", 1.0
        vectors = vector[None, :]
        # Parts are only scored when they can decide (part_threshold <= 1).
        parts = segments(message.get(TEXT) or "") if self._config["part_threshold"] <= 1 else []
        if parts:
            vectors = np.concatenate([vectors, shared_encoder().encode(parts)])
        texts = [message.get(TEXT) or "", *parts]
        if parts or self._surface is None:
            rows = self.surface_rows(vectors, texts)
        else:  # the meaning vote's row for this message, when its n-grams are the same
            rows = self._surface[0].message_row(message, vector)
        crisis = self.crisis_probabilities(vectors, texts, rows)
        best = int(crisis.argmax())
        part_score = float(crisis[1:].max()) if len(crisis) > 1 else 0.0
        if parts and self._sentence_model is not None:
            # The strongest part by the whole-message models and by the sentence models,
            # averaged. Chosen on the dev split and the private development sets
            # (config.yml); the kind still comes from the whole-message models' reading.
            part_score = (part_score + float(self.sentence_probabilities(vectors[1:], parts).max())) / 2
        row = rows[best] if rows is not None else None
        kind, kind_probability = self.kind_reading(vectors[best], texts[best], row)
        if best and kind == "self":
            whole_kind, whole_probability = self.kind_reading(vectors[0], texts[0], rows[0] if rows is not None else None)
            if whole_kind in ("someone_else", "unsafe") and whole_probability >= self._config["whole_kind_over_self"]:
                kind, kind_probability = whole_kind, whole_probability
        return float(crisis[0]), part_score, kind, kind_probability

    def decision(self, message: Message) -> CrisisDecision:
        doc = message.get(SPACY_DOCS[TEXT])
        predicted = (message.get(INTENT) or {}).get("name")
        text = message.get(TEXT) or ""
        patterns: List[Text] = []
        if doc is not None:
            if self._matcher is None:
                self._matcher = _build_matcher(doc)
            if is_crisis(doc, predicted, self._matcher, message.get(TEXT)):
                patterns = crisis_matches(doc, self._matcher, message.get(TEXT))
        if means_seeking(text):
            patterns = sorted({*patterns, "means_seeking"})
        if accident_wish(text):
            patterns = sorted({*patterns, "accident_wish"})
        if patterns and _NEAR_ATTEMPT.search(text):
            patterns = sorted({*patterns, "near_attempt"})
        if _DISTANT_PAST.search(text):
            # An attempt or a near one placed in the past ("in 2014", "when I was 17") is
            # history: the ordinary reading may veto it like any other phrase.
            patterns = [name for name in patterns if name not in {"attempt", "near_attempt"}]
        scored = message
        if doc is not None and "kms" in text.lower():
            written_out = kilometres_written_out(doc, text)
            if written_out != text:  # scored as "30 km": re-embedded, a rare path
                scored = Message(data={TEXT: written_out})
                scored.set(EMBEDDING_KEY, shared_encoder().encode([written_out])[0])
        score, part_score, kind, kind_probability = self.score(scored)
        if "overdose" in patterns and kind == "self":
            kind, kind_probability = "medical", 1.0
        if "other_language" in patterns and kind != "medical":
            # An overdose or injury the kind model reads keeps the emergency reply.
            kind_by_person = other_language_kind(text)
            if kind_by_person is not None:
                kind, kind_probability = kind_by_person, 1.0
        resolved = resolved_history(text)
        ordinary = float(message.get(ORDINARY_READING_KEY) or 0.0)
        closing = plain_closing(text)
        verdict = decide(score, part_score, kind, patterns, predicted, self._config, resolved, ordinary, closing)
        return CrisisDecision(score, part_score, verdict, patterns, predicted, resolved, ordinary, kind_probability,
                              closing)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            if message.get(TEXT) is None:
                continue
            decision = self.decision(message)
            message.set(PARSE_KEY, decision.as_dict(), add_to_output=True)
            predicted = (message.get(INTENT) or {}).get("name")
            if decision.is_crisis:
                # A crisis turn must not be answered from the FAQ.
                override_intent(message, CRISIS_INTENT)
            elif predicted == CRISIS_INTENT:
                # The classifier's crisis guess without the evidence: an ordinary answer instead.
                demote_intent(message, CRISIS_INTENT)
            if decision.closing and not decision.is_crisis:
                _read_as_closing(message)
            if decision.kind != NOT_CRISIS:
                _set_kind_entity(message, decision.kind)
        return messages


# The intents a plain closing can be (the meaning vote treats them as interchangeable).
CLOSING_INTENTS = ("goodbye", "thank", "acknowledge")


def _read_as_closing(message: Message) -> None:
    """A plain closing is thanks or goodbye, even when the intent classifier, whose crisis
    reading was the likeliest, is left unsure among the rest ("Thank you. Goodbye."): the
    likeliest of the closing intents."""
    if (message.get(INTENT) or {}).get("name") in CLOSING_INTENTS:
        return
    ranking = [e for e in message.get(INTENT_RANKING_KEY) or [] if e.get("name") in CLOSING_INTENTS]
    best = max(ranking, key=lambda e: e.get("confidence") or 0.0)["name"] if ranking else CLOSING_INTENTS[0]
    override_intent(message, best)


def _set_kind_entity(message: Message, kind: Text) -> None:
    entity = {"entity": KIND_ENTITY, "value": kind, "start": 0, "end": 0,
              "confidence_entity": 1.0, "extractor": CrisisLanguageDetector.__name__}
    others = [e for e in message.get(ENTITIES) or [] if e.get("entity") != KIND_ENTITY]
    message.set(ENTITIES, [*others, entity], add_to_output=True)
