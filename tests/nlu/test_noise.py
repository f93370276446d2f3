"""Noisy copies of training examples (bot/nlu/noise.py)."""

from __future__ import annotations

import pytest

from bot.nlu.noise import noisy_copy

SENTENCES = [
    "How many weeks do I have to keep going to my sessions?",
    "I'm 72 and I wonder whether this treatment is safe with my heart medication.",
    "What are the side effects of TMS?",
]


def one_edit_apart(word: str, typo: str) -> bool:
    """A typo as noise.py makes them: a letter swapped with the next, missing, doubled or replaced."""
    if len(typo) == len(word):
        diffs = [i for i, (a, b) in enumerate(zip(word, typo, strict=True)) if a != b]
        swapped = len(diffs) == 2 and diffs[1] == diffs[0] + 1 and word[diffs[0]] == typo[diffs[1]]
        return len(diffs) == 1 or swapped
    shorter, longer = sorted((word, typo), key=len)
    if len(longer) - len(shorter) != 1:
        return False
    return any(longer[:i] + longer[i + 1 :] == shorter for i in range(len(longer)))


@pytest.mark.parametrize("text", SENTENCES)
def test_a_copy_depends_only_on_the_text_and_the_seed(text):
    assert noisy_copy(text) == noisy_copy(text)
    assert len({noisy_copy(text, seed) for seed in range(10)}) > 1


def test_shorthand_replaces_what_people_abbreviate():
    assert noisy_copy("are you", shorthand=1.0, typos=0.0) == "r u"
    assert noisy_copy("see you before tomorrow", shorthand=1.0, typos=0.0) == "see u b4 tmrw"


def test_no_shorthand_and_no_typos_changes_only_case_and_punctuation():
    for seed in range(20):
        copy = noisy_copy("Does TMS hurt?", seed, shorthand=0.0, typos=0.0)
        assert copy in {"Does TMS hurt?", "does tms hurt?", "Does TMS hurt", "does tms hurt"}


@pytest.mark.parametrize("word", ["question", "magnetic", "treatment", "insurance"])
def test_a_typo_keeps_the_first_and_last_letters_and_is_one_slip_away(word):
    for seed in range(30):
        typo = noisy_copy(word, seed, shorthand=0.0, typos=1.0).lower()
        assert typo[0] == word[0] and typo[-1] == word[-1]
        assert one_edit_apart(word, typo), typo


def test_short_words_numbers_and_codes_get_no_typos():
    for seed in range(20):
        assert noisy_copy("is a 20 min dr ok CTB-4471", seed, shorthand=0.0, typos=1.0).lower() in {
            "is a 20 min dr ok ctb-4471"
        }


def test_a_copy_is_never_empty():
    assert noisy_copy("?") == "?"
    assert noisy_copy("!!!", seed=3) == "!!!"
