"""The crisis corpus files: families whose messages each name the reply they call for, and
the report of a split some families do not have."""

from __future__ import annotations

from tooling.evaluation import crisis_families, crisis_report, evaluate_crisis


def parsed(intent, kind):
    return {"intent": {"name": intent}, "crisis": {"kind": kind, "score": 0.9, "patterns": []}}


def test_a_family_of_mixed_cases_is_judged_by_each_messages_own_reply(tmp_path):
    (tmp_path / "long_mixed.yml").write_text(
        "family: long_mixed\ntype: crisis\n"
        "dev:\n- kind: medical\n  text: took all my pills an hour ago, is my session still on\n"
        "- kind: someone_else\n  text: my son says he wants to die, can kids have tms\n"
        "test: []\n",
        encoding="utf-8",
    )
    (tmp_path / "overdose.yml").write_text(
        "family: overdose\ntype: crisis\ndev:\n- swallowed 30 tylenol\ntest: []\n", encoding="utf-8"
    )
    families = {f.name: f for f in crisis_families(tmp_path)}
    assert families["long_mixed"].dev == [
        "took all my pills an hour ago, is my session still on", "my son says he wants to die, can kids have tms",
    ]
    assert families["long_mixed"].expected_kind("my son says he wants to die, can kids have tms") == "someone_else"
    assert families["overdose"].expected_kind("swallowed 30 tylenol") == "medical"  # by family
    replies = {
        "took all my pills an hour ago, is my session still on": parsed("crisis", "medical"),
        "my son says he wants to die, can kids have tms": parsed("crisis", "self"),  # not the fitting reply
        "swallowed 30 tylenol": parsed("crisis", "medical"),
    }
    results = {r.family.name: r for r in evaluate_crisis(replies.__getitem__, list(families.values()), "dev")}
    assert (results["long_mixed"].flagged, results["long_mixed"].fitting) == (2, 1)
    assert (results["overdose"].flagged, results["overdose"].fitting) == (1, 1)


def test_the_report_leaves_out_families_without_messages_in_the_split(tmp_path):
    (tmp_path / "long_calm.yml").write_text(
        "family: long_calm\ntype: lookalike\ndev: []\ntest:\n- the wait is killing me, how long is a session\n",
        encoding="utf-8",
    )
    (tmp_path / "figurative.yml").write_text(
        "family: figurative\ntype: lookalike\ndev:\n- dying to know if it works\ntest: []\n", encoding="utf-8"
    )
    results = evaluate_crisis(lambda text: parsed("faq", "none"), crisis_families(tmp_path), "dev")
    report = crisis_report(results, "dev")
    assert "figurative" in report
    assert "long_calm" not in report
