"""Private development sets (TSV files outside the repository): read, then reported with
the same tables as the corpora, every failure listed."""

from __future__ import annotations

import pytest

from tooling.evaluation import private_report, read_private_sets

QUESTIONS = (
    "faq/session_length\tshort\tsesh how long\n"
    "faq/session_length\ttexting\thow many mins is it\n"
    "out_of_scope\tplain\tWhere do I park?\n"
    "\n"
    "# a comment line\n"
)
CRISIS = (
    "crisis\toverdose\ti took 30 of my pills\n"
    "crisis\tdirect\ti want to die\n"
    "lookalike\tunits\tthe clinic is 30 kms away\n"
)


def parsed(intent, answer=None, kind="none"):
    result = {"intent": {"name": intent}, "crisis": {"kind": kind, "score": 0.5, "patterns": []}}
    if answer:
        result["intent"]["full_retrieval_intent_name"] = answer
    return result


def test_both_kinds_of_line_are_read_into_labels_voices_and_families(tmp_path):
    (tmp_path / "und.tsv").write_text(QUESTIONS, encoding="utf-8")
    (tmp_path / "crisis.tsv").write_text(CRISIS, encoding="utf-8")
    private = read_private_sets([tmp_path / "und.tsv", tmp_path / "crisis.tsv"])
    assert private.questions == [
        ("faq/session_length", ["sesh how long", "how many mins is it"]),
        ("out_of_scope", ["Where do I park?"]),
    ]
    assert private.voices["how many mins is it"] == "texting"
    families = {(f.name, f.type): f.dev for f in private.families}
    assert families == {
        ("direct", "crisis"): ["i want to die"],
        ("overdose", "crisis"): ["i took 30 of my pills"],
        ("units", "lookalike"): ["the clinic is 30 kms away"],
    }


@pytest.mark.parametrize("line", ["faq/session_length\tshort", "faq/x\tshouting\thow long", "crisis\t\ti want to die"])
def test_a_malformed_line_names_its_file_and_line(tmp_path, line):
    (tmp_path / "bad.tsv").write_text(f"out_of_scope\tplain\tWhere do I park?\n{line}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.tsv:2:"):
        read_private_sets([tmp_path / "bad.tsv"])


def test_the_report_counts_outcomes_and_lists_every_failure(tmp_path):
    (tmp_path / "und.tsv").write_text(QUESTIONS, encoding="utf-8")
    (tmp_path / "crisis.tsv").write_text(CRISIS, encoding="utf-8")
    replies = {
        "sesh how long": parsed("faq", "faq/session_length"),
        "how many mins is it": parsed("nlu_fallback"),
        "Where do I park?": parsed("faq", "faq/what_is_tms"),
        "i took 30 of my pills": parsed("crisis", kind="medical"),
        "i want to die": parsed("faq", "faq/what_is_tms"),
        "the clinic is 30 kms away": parsed("crisis", kind="self"),
    }
    report = private_report(replies.__getitem__, read_private_sets([tmp_path / "und.tsv", tmp_path / "crisis.tsv"]))
    assert "overall: right 1/3 = 33.3%, clarification 33.3%, wrong 1/3 = 33.3%" in report
    assert "  out_of_scope -> faq/what_is_tms: Where do I park?" in report
    assert "overall: recall 50.0% of 2 crisis messages, false alarms 100.0% of 1 look-alikes" in report
    assert "missed (0.50 faq): i want to die" in report
    assert "false alarm (0.50 []): the clinic is 30 kms away" in report
    assert "Crisis evaluation, private sets" in report
