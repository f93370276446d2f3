"""Noisy copies of training examples: the same question as people type it in a hurry.

The training data is mostly written with care; people write "how many wks do i gotta go 4
tms", "wat r the side efects", with no capitals or question mark. A noisy copy of each
example (texting shorthand, dropped apostrophes and capitals, a few typos: swapped, missing,
doubled or neighbouring letters, a dropped vowel) teaches the intent classifier that these
mean the same. Measured on the dev and test splits of tests/data/nlu_eval (see
config.yml's `noisy_copies`).

A copy depends only on the text and a seed, so adding an example never changes the copies
of the others, and training twice gives the same model.
"""

from __future__ import annotations

import hashlib
import random
import re
from typing import Dict, List, Text

# Shorthand as people text it (from the texting and typo voices of the training data).
TEXTING: Dict[Text, List[Text]] = {
    "you": ["u"], "your": ["ur"], "are": ["r"], "weeks": ["wks"], "week": ["wk"], "about": ["abt", "bout"],
    "before": ["b4"], "please": ["pls", "plz"], "because": ["bc", "cuz", "coz"], "people": ["ppl"],
    "what": ["wat", "wht"], "don't": ["dont"], "can't": ["cant"], "won't": ["wont"], "i'm": ["im"],
    "i've": ["ive"], "it's": ["its"], "what's": ["whats"], "doesn't": ["doesnt"], "isn't": ["isnt"],
    "session": ["sesh"], "sessions": ["seshs", "sesh"], "with": ["w", "w/"], "tomorrow": ["tmrw"],
    "doctor": ["dr", "doc"], "minutes": ["mins"], "hours": ["hrs"], "going to": ["gonna"], "want to": ["wanna"],
    "medication": ["meds", "med"], "medications": ["meds"], "medicine": ["meds"], "medicines": ["meds"],
    "though": ["tho"], "through": ["thru"], "something": ["smth"], "really": ["rly"], "thanks": ["thx"],
    "okay": ["ok", "k"], "know": ["kno"], "right now": ["rn"], "to be honest": ["tbh"], "appointment": ["appt"],
    "psychiatrist": ["psych"], "depression": ["dep"], "and": ["n", "&"], "for": ["4"], "to": ["2"],
    "years": ["yrs"],
}
_TEXTING_PATTERN = re.compile(
    r"\b(" + "|".join(re.escape(key) for key in sorted(TEXTING, key=len, reverse=True)) + r")\b", re.IGNORECASE
)
_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _neighbour(rng: random.Random, letter: Text) -> Text:
    for row in _KEYBOARD_ROWS:
        index = row.find(letter)
        if index >= 0:
            if index == len(row) - 1 or (index and rng.random() < 0.5):
                return row[index - 1]
            return row[index + 1]
    return letter


def _typo(rng: random.Random, word: Text) -> Text:
    """One typo inside a word of four or more letters (its first and last letters kept)."""
    if len(word) < 4 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.random()
    if kind < 0.25 and i < len(word) - 2:  # swapped with the next letter
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind < 0.5:  # missing
        return word[:i] + word[i + 1 :]
    if kind < 0.65:  # doubled
        return word[:i] + word[i] + word[i:]
    if kind < 0.85:  # the key next to it
        return word[:i] + _neighbour(rng, word[i]) + word[i + 1 :]
    return re.sub(r"(?<=.)[aeiou](?=.)", "", word, count=1)  # a vowel dropped


def noisy_copy(text: Text, seed: int = 0, shorthand: float = 0.5, typos: float = 0.15) -> Text:
    """`text` as it might be typed in a hurry: each shorthand-able word or phrase becomes
    shorthand with probability `shorthand`, each word gets a typo with probability `typos`."""
    digest = hashlib.md5(f"{seed}\x00{text}".encode(), usedforsecurity=False).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    copy = text
    if rng.random() < 0.7:
        copy = copy.lower()
    if rng.random() < 0.5:
        copy = re.sub(r"[?.!]+\s*$", "", copy)
    if rng.random() < 0.5:
        copy = copy.replace("'", "").replace("\u2019", "")
    copy = _TEXTING_PATTERN.sub(
        lambda m: rng.choice(TEXTING[m.group(0).lower()]) if rng.random() < shorthand else m.group(0), copy
    )
    copy = re.sub(r"[A-Za-z]+", lambda m: _typo(rng, m.group(0)) if rng.random() < typos else m.group(0), copy)
    return copy if copy.strip() else text
