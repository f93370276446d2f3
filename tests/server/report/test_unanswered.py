"""Unanswered questions grouped by similarity: scripted questions with known groups."""

from __future__ import annotations

from typing import Dict, List, Set

import pytest

from bot.server.report import unanswered
from bot.server.report.unanswered import content_words, group_questions, normalise

# Fourteen things people ask that the documents do not cover, each written several ways
# (typos, plurals, other word orders), and questions unlike any other.
KNOWN_GROUPS: Dict[str, List[str]] = {
    "cost": ["how much does tms cost", "what is the cost of TMS?", "tms cost per session?",
             "How much do TMS sessions cost", "is tms expensive, what does it cost", "cost of a full course of tms"],
    "insurance": ["does insurance cover tms", "will my insurance pay for TMS", "is tms covered by insurance?",
                  "insurance coverage for tms", "does my insurence cover it", "Is TMS covered by Medicare insurance"],
    "near": ["where can I get tms near me", "tms clinics near me", "find a tms clinic near Chicago",
             "is there a tms clinic in my area", "which clinic near me offers tms"],
    "pregnancy": ["can I have tms while pregnant", "is tms safe during pregnancy", "tms and pregnancy",
                  "pregnant, can I do TMS?", "tms when breastfeeding or pregnant"],
    "teens": ["can teenagers get tms", "is tms ok for teens", "tms for a teenager",
              "my teenager has depression can they have tms", "tms for teens under 18"],
    "anxiety": ["does tms help anxiety", "tms for anxiety", "can tms treat anxiety disorders",
                "will TMS help my anxiety too", "anxiety and tms"],
    "insomnia": ["can tms help with insomnia", "tms for insomnia and sleep problems", "will tms fix my insomnia",
                 "insomnia tms"],
    "ketamine": ["tms vs ketamine", "is ketamine better than tms", "ketamine infusions compared to tms",
                 "should I try ketamine or tms first"],
    "ocd": ["does tms work for ocd", "tms for ocd", "ocd and tms", "can tms treat my OCD symptoms"],
    "fillings": ["can I have tms with dental fillings", "metal fillings and tms",
                 "are dental fillings a problem for tms", "tms with tooth fillings"],
    "alcohol": ["can I drink alcohol during tms", "alcohol and tms", "is drinking alcohol ok during tms treatment",
                "alcohol after a tms session"],
    "appointment": ["how do I book an appointment", "book a tms appointment", "can I schedule an appointment",
                    "appointment booking for tms"],
    "referral": ["do I need a referral for tms", "referral from my doctor needed?", "can I get tms without a referral"],
    "weight": ["does tms cause weight gain", "weight gain with tms", "will tms make me gain weight"],
}
LONERS = ["what's the weather today", "do you like pizza", "tell me a joke", "who won the game last night",
          "what time is it", "recommend a good book", "are you a real doctor", "i love my dog", "how old are you",
          "my session was cancelled", "is the parking free", "what does the coil look like",
          "can my husband come with me", "do you speak spanish"]


def items() -> List[tuple]:
    texts = [text for group in KNOWN_GROUPS.values() for text in group] + LONERS
    return list(enumerate(texts))


def as_sets(grouping) -> List[Set[str]]:
    return [{normalise(example) for example in group.examples} for group in grouping.groups]


def test_scripted_questions_fall_into_their_known_groups():
    grouping = group_questions(items(), shown=100)
    expected = [{normalise(t) for t in group} for group in KNOWN_GROUPS.values()] + [{normalise(t)} for t in LONERS]
    # Groups of more than five show five examples: compare sizes and the examples shown.
    assert grouping.group_count == len(expected)
    got = sorted((group.messages, frozenset(normalise(e) for e in group.examples)) for group in grouping.groups)
    for size, examples in got:
        owner = next(group for group in expected if examples <= group)
        assert size == len(owner), (size, examples)
    assert grouping.messages == sum(len(g) for g in KNOWN_GROUPS.values()) + len(LONERS)
    assert grouping.distinct == grouping.messages


def test_the_ten_largest_groups_are_shown_largest_first():
    many = [(index, text) for index, text in items()]
    # "cost" asked by 20 more people (the same words) makes it the largest group.
    many += [(1000 + n, "how much does tms cost?") for n in range(20)]
    grouping = group_questions(many)
    assert len(grouping.groups) == unanswered.SHOWN_GROUPS
    sizes = [group.messages for group in grouping.groups]
    assert sizes == sorted(sizes, reverse=True)
    top = grouping.groups[0]
    assert top.messages == 26 and top.conversations == 26
    assert top.examples[0] == "how much does tms cost?"  # the way most people wrote it, first
    assert "cost" in top.keywords
    assert len(top.examples) == unanswered.EXAMPLES
    # Every group shown has at least as many messages as any group not shown (5 > 4 > 3 > 1).
    assert min(sizes) >= 4


def test_identical_questions_are_counted_once_per_writing():
    grouping = group_questions([(1, "Cost of TMS?"), (2, "cost of tms"), (2, "cost  of TMS !"), (3, "COST OF TMS")])
    assert grouping.distinct == 1
    assert [(g.messages, g.conversations) for g in grouping.groups] == [(4, 3)]


@pytest.mark.parametrize("limit", [30, 40])
def test_past_the_clustering_limit_the_groups_stay_nearly_the_same(monkeypatch, limit):
    """With fewer questions clustered at once than there are (the large-store path), the
    rest join groups by the same average distance: nearly the same partition."""
    from sklearn.metrics import adjusted_rand_score

    monkeypatch.setattr(unanswered, "MAX_CLUSTERED", limit)
    monkeypatch.setattr(unanswered, "EXAMPLES", 1000)  # every member listed, to compare
    grouping = group_questions(items(), shown=1000)
    truth = {normalise(t): name for name, texts in KNOWN_GROUPS.items() for t in texts}
    truth.update({normalise(t): t for t in LONERS})
    found = {normalise(e): index for index, g in enumerate(grouping.groups) for e in g.examples}
    keys = sorted(truth)
    assert sorted(found) == keys
    assert adjusted_rand_score([truth[k] for k in keys], [found[k] for k in keys]) >= 0.95


def test_nothing_to_group():
    grouping = group_questions([])
    assert (grouping.groups, grouping.messages, grouping.distinct, grouping.group_count) == ([], 0, 0, 0)
    single = group_questions([(1, "why?")])
    assert single.group_count == 1 and single.groups[0].examples == ("why?",)


def test_only_stop_words_still_group_by_their_words():
    grouping = group_questions([(1, "what?"), (2, "what"), (3, "why is that"), (4, "and then?")])
    assert grouping.messages == 4
    assert sum(group.messages for group in grouping.groups) == 4


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("How much does TMS cost?", "cost"),
        ("my name is [name], call me on [phone]", "my name is call me on"),
        ("quick question: can TMS help my anxiety??", "anxiety"),
    ],
)
def test_content_words(text, words):
    assert content_words(text) == words
