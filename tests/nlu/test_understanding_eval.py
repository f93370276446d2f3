"""Understanding questions written the way people write (tests/data/nlu_eval: short, long,
third person, older adults, texting, typos), apart from the training data.

Reports right answers, clarifications and wrong answers per topic to
test-artifacts/understanding-report-{test,holdout}.txt (the same tables as `make nlu-report`;
the holdout split's questions are never printed).
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import PROJECT_ROOT
from tooling.evaluation import (
    NLU_EVAL_DIR,
    VOICES,
    NearCopyIndex,
    canonical,
    nlu_eval_sets,
    nlu_eval_voices,
    training_texts,
    understanding_report,
)

SETS = nlu_eval_sets()
# Floors the current model meets on the test split (README, Testing); the targets
# (97% right, 1% wrong) are above them, so a regression shows and progress is visible.
FLOORS = {  # split: (right answers at least, wrong answers at most)
    # With 64 questions near a topic that the documents do not answer (out_of_scope, added in
    # session 16; 16 dev, 22 test, 22 holdout after 4 near-copies of training data were dropped).
    "test": (0.97, 0.02),  # measured 97.4% right, 1.6% wrong (session 33, round 29: the target for right answers as the floor); 96.98% right, 1.9% wrong (session 31, training rounds 25 and 26: a partner's brain stimulator read as out of scope, 0.55, asked to rephrase before; a typo-laden "stay conscious" question asked to rephrase, 0.44); 97.2% right, 1.6% wrong (session 30: session logistics the documents do not answer relabelled out of scope, rounds 23 and 24); 97.2% right, 1.9% wrong (session 29, round 22: one wrong answer fewer, asked to rephrase instead); 97.2% right, 2.1% wrong (session 28, round 21: one more right, one more wrong near a bar); 96.98% right, 1.9% wrong (session 27, round 19: one more right, one fewer clarified); 96.7% / 1.9% (session 24: acknowledgements and questions about one's data as intents, 3 more questions clarified, one fewer wrong); 97.4% / 2.1% (session 18, round 15; session 17: 97.4% / 1.9%; session 16: 97.2% / 2.3%; before those questions: 97.1% / 2.0%; 92.6% / 3.7% on 3 December)
    "holdout": (0.945, 0.04),  # measured 98.0% / 1.2% (session 33, round 29: two wrong answers asked to rephrase instead); 98.0% / 1.6% (session 31, rounds 25 and 26: one question asked to rephrase before now gets a neighbouring topic's answer); 98.0% / 1.2% (session 30: a companion in the room and eating before a session now out of scope); 97.2% / 2.4% (session 29, round 22); 96.9% / 2.8% (session 28, round 21); 96.9% / 2.4% (session 27, rounds 19 and 20; 97.2% / 2.4% with round 19 alone); 96.9% / 2.4% (session 24); 96.9% / 2.8% (session 21: one ordinary question fewer given the crisis reply; session 19: 96.5% / 3.1%, one ordinary question fewer given the crisis reply; session 18: 96.1% / 3.5%; session 17: 95.3% / 3.5%; before those questions: 97.8% / 1.3%; 96.6% / 1.7% on 3 December); never printed
}


def test_every_topic_advice_and_out_of_scope_label_has_a_set():
    labels = {label for label, _ in SETS}
    faq_topics = {f"faq/{name}" for name in re.findall(
        r"^  utter_faq/([a-z_]+):", (PROJECT_ROOT / "data" / "responses" / "faq.yml").read_text(), re.M)}
    assert faq_topics <= labels
    assert {"advice_medication", "advice_suitability", "advice_health_condition", "out_of_scope"} <= labels
    for label, splits in SETS:
        assert len(splits["dev"]) + len(splits["test"]) >= 15 and len(splits["test"]) >= 12, label
    assert len(list(NLU_EVAL_DIR.glob("*.yml"))) == len(SETS)


def test_no_evaluation_question_is_in_or_nearly_in_the_training_data():
    exact = training_texts()
    index = NearCopyIndex(exact)
    found = []
    for _, splits in SETS:
        for text in splits["all"]:
            c = canonical(text)
            if c in exact or index.closest(c, 0.9) is not None:
                found.append(text)
    assert not found, found


def test_every_question_has_one_voice_and_every_voice_is_represented():
    voices = nlu_eval_voices()
    messages = {text for _, splits in SETS for text in splits["all"]}
    assert set(voices) == messages  # none untagged, none left from a removed question
    lines = [line for line in (NLU_EVAL_DIR / "voices.tsv").read_text(encoding="utf-8").splitlines() if line]
    assert len(lines) == len(voices)  # no message tagged twice
    assert set(voices.values()) <= set(VOICES)
    for split in ("test", "holdout"):
        in_split = [voices[text] for _, splits in SETS for text in splits[split]]
        # The voices, each with enough questions for its own figure.
        for voice in ("short", "long_story", "third_person", "older_adult", "texting", "typos", "two_sentences"):
            assert in_split.count(voice) >= 20, (split, voice)


def test_the_report_counts_each_question_once_per_label_and_once_per_voice():
    labels = {text: label for label, splits in SETS for text in splits["all"]}
    report, totals = understanding_report(lambda text: labels[text] if len(text) % 3 else "nlu_fallback", "test")
    voices = nlu_eval_voices()
    expected_n = sum(len(splits["test"]) for _, splits in SETS)
    clarified = sum(1 for _, splits in SETS for text in splits["test"] if len(text) % 3 == 0)
    assert totals == {"n": expected_n, "right": expected_n - clarified, "clarify": clarified, "wrong": 0}
    texting = [text for _, splits in SETS for text in splits["test"] if voices[text] == "texting"]
    texting_clarified = sum(1 for text in texting if len(text) % 3 == 0)
    row = next(line for line in report.splitlines() if line.startswith("texting "))
    assert row.split()[1:] == [str(len(texting)), str(len(texting) - texting_clarified), str(texting_clarified), "0"]


@pytest.mark.slow
def test_understanding_on_the_test_and_holdout_splits(trained_model):
    from tooling.evaluation import ModelParser

    parser = ModelParser(trained_model)
    try:
        reports = {split: understanding_report(parser.label, split) for split in FLOORS}
    finally:
        parser.close()
    artifacts = PROJECT_ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    for split, (min_right, max_wrong) in FLOORS.items():
        report, totals = reports[split]
        (artifacts / f"understanding-report-{split}.txt").write_text(report, encoding="utf-8")
        print(report)
        assert totals["right"] / totals["n"] >= min_right, report
        assert totals["wrong"] / totals["n"] <= max_wrong, report
