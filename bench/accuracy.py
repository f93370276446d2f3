"""NLU accuracy of a model on the NLU test file, the way tests/nlu/test_nlu_accuracy.py counts it.

    .venv/bin/python -m bench.accuracy MODEL [MODEL ...] [--json]

A message counts as right when the predicted label (the intent, or "faq/<topic>" for FAQ
questions) equals its label in tests/nlu/test_messages.yml. Also reports how many crisis
messages are recognised and how many figurative look-alikes are (wrongly) flagged, and the
mean in-process parse time (NLU only, no server). With --speedups the model runs with
bot/server/patches/speedups.py installed, as in the Rasa server; the benchmark compares both.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Dict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEST_FILE = PROJECT_ROOT / "tests" / "nlu" / "test_messages.yml"
CRISIS_FILE = PROJECT_ROOT / "tests" / "data" / "crisis_messages.txt"
BENIGN_FILE = PROJECT_ROOT / "tests" / "data" / "benign_lookalikes.txt"


def evaluate(model: Path) -> Dict:
    from tooling.evaluation import ModelParser, labelled_examples, message_lines

    parser = ModelParser(model)
    try:
        examples = labelled_examples(TEST_FILE)
        parser.parse("warm up")
        started = time.perf_counter()
        wrong = []
        for expected, text in examples:
            predicted = parser.label(text)
            if predicted != expected:
                wrong.append({"text": text, "expected": expected, "predicted": predicted})
        parse_ms = (time.perf_counter() - started) * 1000 / len(examples)
        crisis = message_lines(CRISIS_FILE)
        benign = message_lines(BENIGN_FILE)
        crisis_found = sum(parser.parse(t)["intent"]["name"] == "crisis" for t in crisis)
        benign_flagged = sum(parser.parse(t)["intent"]["name"] == "crisis" for t in benign)
    finally:
        parser.close()
    return {
        "model": str(model),
        "accuracy": round(1 - len(wrong) / len(examples), 4),
        "correct": len(examples) - len(wrong),
        "total": len(examples),
        "crisis_recognised": f"{crisis_found}/{len(crisis)}",
        "benign_flagged": f"{benign_flagged}/{len(benign)}",
        "parse_ms_mean": round(parse_ms, 2),
        "errors": wrong,
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.accuracy", description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--json", action="store_true", help="print one JSON object per model")
    parser.add_argument("--speedups", action="store_true", help="install bot/server/patches first, as the Rasa server does")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(PROJECT_ROOT))
    if args.speedups:
        from bot.server import patches

        patches.install()
    for model in args.models:
        result = evaluate(model)
        if args.json:
            print(json.dumps(result), flush=True)
        else:
            print(
                f"{model}: {result['correct']}/{result['total']} = {result['accuracy']:.1%}, "
                f"crisis {result['crisis_recognised']}, look-alikes flagged {result['benign_flagged']}, "
                f"parse {result['parse_ms_mean']} ms",
                flush=True,
            )
            for error in result["errors"]:
                print(f"  {error['text']!r}: expected {error['expected']}, got {error['predicted']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
