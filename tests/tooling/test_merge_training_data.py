"""Merging a helper's round of training messages: duplicates and near-copies of evaluation
messages are dropped, the rest appended by kind in the layout of the earlier rounds."""

from __future__ import annotations

import pytest
import yaml

from tooling.evaluation import labelled_examples
from tooling.merge_training_data import append_round, filter_messages, read_tsv

EVALUATION = [
    "How many sessions does a full course of TMS usually take?",
    "is tms safe",
]


def test_duplicates_and_near_copies_of_evaluation_messages_are_dropped():
    pairs = [
        ("faq/side_effects", "Does TMS give you headaches?"),  # already trained on (other punctuation)
        ("faq/treatment_course", "how many sessions does a full course of tms usually need?"),  # near-copy
        ("faq/seizure_risk", "is tms safe?"),  # short: the same question
        ("faq/treatment_course", "roughly how many weeks am I signing up for"),
        ("faq/treatment_course", "Roughly how many weeks am I signing up for?"),  # repeats the line above
        ("crisis:medical", "i just swallowed the whole packet and my chest feels weird"),
    ]
    kept, dropped = filter_messages(pairs, {"does tms give you headaches"}, EVALUATION)
    assert kept == {
        "faq/treatment_course": ["roughly how many weeks am I signing up for"],
        "crisis:medical": ["i just swallowed the whole packet and my chest feels weird"],
    }
    assert [reason for reason, _ in dropped] == [
        "training duplicate", "near an evaluation message", "near an evaluation message", "repeated",
    ]


def test_a_round_is_appended_by_kind_with_the_crisis_kind_in_metadata(tmp_path):
    for name in ("crisis.yml", "faq.yml", "advice.yml", "out_of_scope.yml", "basics.yml"):
        (tmp_path / name).write_text('version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hi\n')
    kept = {"faq/treatment_course": ["how many wks is it"], "crisis:medical": ["took 30 pills just now"],
            "out_of_scope": ["do you validate parking"]}
    written = append_round(kept, "round 16: test", tmp_path)
    assert written == ["crisis.yml", "faq.yml", "out_of_scope.yml"]
    crisis = yaml.safe_load((tmp_path / "crisis.yml").read_text())["nlu"]
    assert crisis[-1] == {"intent": "crisis", "metadata": {"crisis_kind": "medical"},
                          "examples": "- took 30 pills just now\n"}
    assert "# round 16: test: medical" in (tmp_path / "crisis.yml").read_text()
    assert labelled_examples(tmp_path / "faq.yml")[-1] == ("faq/treatment_course", "how many wks is it")
    assert (tmp_path / "advice.yml").read_text().count("- intent:") == 1  # untouched


@pytest.mark.parametrize("line", ["faq/side_effects", "\tno label", "faq/x\t  "])
def test_a_malformed_line_is_an_error_with_its_place(tmp_path, line):
    path = tmp_path / "new.tsv"
    path.write_text(f"faq/what_is_tms\twhat is tms\n{line}\n")
    with pytest.raises(ValueError, match=r"new.tsv:2"):
        read_tsv(path)
