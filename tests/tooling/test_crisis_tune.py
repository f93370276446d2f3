"""The crisis threshold search (`make crisis-tune`): the settings it lists are those with the
fewest false alarms for each number of missed crisis messages, on the split it is given."""

from __future__ import annotations

from tooling.evaluation import CrisisFamily, crisis_detector_settings, tune_crisis_thresholds


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


def test_the_settings_the_search_does_not_vary_are_config_yml_s(monkeypatch, tmp_path):
    monkeypatch.setattr("tooling.evaluation.nlu_eval_sets", lambda: [])

    def long_message(ordinary_reading):
        return {"crisis": {"score": 0.15, "part_score": 0.9, "patterns": [], "classifier_intent": "faq",
                           "resolved_history": False, "ordinary_reading": ordinary_reading}}

    # Both are crisis by one sentence alone; only the intent classifier's reading differs.
    story = "they told me to rest for the day after my last procedure. can i go to work after tms?"
    buried = "work is fine i guess. honestly i wont be around much longer. how long is a session?"
    parsed = {story: long_message(0.99), buried: long_message(0.5)}
    families = [CrisisFamily("long_calm", "lookalike", dev=[story], test=[]),
                CrisisFamily("long_mixed", "crisis", dev=[buried], test=[])]
    config = tmp_path / "config.yml"
    config.write_text(
        "pipeline:\n- name: bot.nlu.crisis.CrisisLanguageDetector\n"
        "  part_whole_floor: 0.1\n  part_veto_reading: 0.97\n  part_veto_below: 0.25\n"
    )
    settings = crisis_detector_settings(config)
    assert settings == {"part_whole_floor": 0.1, "part_veto_reading": 0.97, "part_veto_below": 0.25}
    # With config.yml's veto, a setting that lets a sentence count catches the one and
    # answers the other...
    monkeypatch.setattr("tooling.evaluation.crisis_detector_settings", lambda: settings)
    best = tune_crisis_thresholds(parsed.__getitem__, families, "dev").splitlines()[2]
    assert best.startswith("  missed   0  false alarms   0")
    # ...without it, catching the one flags the other.
    monkeypatch.setattr("tooling.evaluation.crisis_detector_settings", lambda: {"part_whole_floor": 0.1})
    best = tune_crisis_thresholds(parsed.__getitem__, families, "dev").splitlines()[2]
    assert best.startswith("  missed   0  false alarms   1")
