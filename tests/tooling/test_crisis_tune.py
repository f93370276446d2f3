"""The crisis threshold search (`make crisis-tune`): the settings it lists are those with the
fewest false alarms for each number of missed crisis messages, on the split it is given."""

from __future__ import annotations

from tooling.evaluation import CrisisFamily, tune_crisis_thresholds


def decisions(score, ordinary_reading=0.0, patterns=()):
    return {"crisis": {"score": score, "part_score": 0.0, "patterns": list(patterns), "classifier_intent": "faq",
                       "resolved_history": False, "ordinary_reading": ordinary_reading}}


def test_the_search_finds_the_setting_that_misses_nothing_and_vetoes_the_sure_ordinary_question(monkeypatch):
    monkeypatch.setattr("tooling.evaluation.nlu_eval_sets", lambda: [])
    parsed = {
        "i want to disappear": decisions(0.47),
        "nobody would notice if i was gone": decisions(0.9, ordinary_reading=0.05),
        # A look-alike the crisis model scores as high as a crisis message: only the
        # intent classifier's sure ordinary reading tells them apart.
        "thinking of quitting after week 2, too soon?": decisions(0.47, ordinary_reading=0.95),
    }
    families = [
        CrisisFamily("passive", "crisis", dev=["i want to disappear", "nobody would notice if i was gone"], test=[]),
        CrisisFamily("session_logistics", "lookalike", dev=["thinking of quitting after week 2, too soon?"], test=[]),
    ]
    report = tune_crisis_thresholds(parsed.__getitem__, families, "dev")
    assert "(2 crisis, 1 look-alikes)" in report
    first = report.splitlines()[2]
    assert first.startswith("  missed   0  false alarms   0  threshold=0.45")
    assert "ordinary_reading_threshold=0.5" in first
