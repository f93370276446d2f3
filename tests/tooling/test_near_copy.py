"""NearCopyIndex: the same closest text as difflib.get_close_matches(n=1), found faster."""

from __future__ import annotations

import difflib

import pytest

from tooling.evaluation import NearCopyIndex

EXAMPLES = [
    "how long is a tms session",
    "how long does a tms session last",
    "how many tms sessions do i need",
    "what does tms feel like",
    "can i drive home after tms",
    "does tms hurt",
    "i have a pacemaker can i have tms",
    "",
    "a",
]


@pytest.mark.parametrize(
    "text, cutoff, expected",
    [
        ("how long is a tms session", 0.9, "how long is a tms session"),  # itself
        ("how long is one tms session", 0.9, "how long is a tms session"),
        ("how long is one tms session", 0.99, None),
        ("does tms hurt at all", 0.75, "does tms hurt"),  # 2 * 13 / 33 = 0.79
        ("does tms hurt at all", 0.9, None),
        ("what is the weather like in leeds", 0.9, None),
        ("ç", 0.5, None),  # a character no example has
    ],
)
def test_it_finds_the_closest_text_above_the_cutoff(text, cutoff, expected):
    assert NearCopyIndex(EXAMPLES).closest(text, cutoff) == expected


@pytest.mark.parametrize("cutoff", [0.0, 0.3, 0.6, 0.75, 0.9, 1.0])
def test_it_agrees_with_difflib_at_every_cutoff(cutoff):
    index = NearCopyIndex(EXAMPLES)
    queries = [*EXAMPLES, "how long does tms last", "tms session length", "can i drive after", "ç", "pacemaker"]
    for text in queries:
        expected = difflib.get_close_matches(text, sorted(set(EXAMPLES)), n=1, cutoff=cutoff)
        assert index.closest(text, cutoff) == (expected[0] if expected else None), text


def test_an_empty_index_finds_nothing():
    assert NearCopyIndex([]).closest("anything", 0.5) is None
