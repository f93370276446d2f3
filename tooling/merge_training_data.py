"""Adds a round of freshly written training messages to data/nlu, keeping the evaluation
corpora out of training.

Helpers write messages as `label<TAB>text` lines (labels: an intent, "faq/<topic>", or
"crisis:<kind>"). A message is dropped when it repeats a training example, repeats an
earlier line, or is a near-copy (difflib ratio) of any evaluation message: the crisis,
follow-up and understanding corpora, the NLU test file, the other test message lists, and
any private development sets named with --private. Short messages need to differ more (a
five-word question differs from another by one word). The rest is appended to data/nlu by
kind, one block per label under a `# round N: tag` comment, the layout of the earlier rounds.

    python -m tooling.merge_training_data new.tsv --round 16 --tag "long calm stories" --dry-run
"""

from __future__ import annotations

import argparse
from collections import Counter, OrderedDict
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Set, Text, Tuple

import yaml

from tooling.evaluation import (
    CRISIS_FOLLOWUP_DIR,
    PROJECT_ROOT,
    NearCopyIndex,
    canonical,
    crisis_families,
    labelled_examples,
    message_lines,
    nlu_eval_sets,
    training_texts,
)

DATA_DIR = PROJECT_ROOT / "data" / "nlu"
# difflib ratios of canonical text at or above which a message counts as a near-copy.
NEAR_COPY = 0.75
NEAR_COPY_SHORT = 0.7
SHORT_WORDS = 12


def evaluation_texts(root: Path = PROJECT_ROOT, private: Sequence[Path] = ()) -> List[Text]:
    """Every message that evaluates the model: none may be trained on."""
    texts = [t for family in crisis_families() for t in family.split("all")]
    texts += [t for family in crisis_families(CRISIS_FOLLOWUP_DIR) for t in family.split("all")]
    texts += [t for _, splits in nlu_eval_sets() for t in splits["all"]]
    texts += [t for _, t in labelled_examples(root / "tests" / "nlu" / "test_messages.yml")]
    for path in sorted((root / "tests" / "data").glob("*.txt")):
        texts += message_lines(path)
    for path in private:  # `label<TAB>text[<TAB>tag]` lines, or one message per line
        texts += [line.split("\t")[1] if "\t" in line else line
                  for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return texts


def read_tsv(path: Path) -> List[Tuple[Text, Text]]:
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2 or not fields[0].strip() or not fields[1].strip():
            raise ValueError(f"{path}:{number}: expected label<TAB>text")
        pairs.append((fields[0].strip(), fields[1].strip()))
    return pairs


def filter_messages(
    pairs: Iterable[Tuple[Text, Text]], training: Set[Text], evaluation: Sequence[Text]
) -> Tuple[OrderedDict[Text, List[Text]], List[Tuple[Text, Text]]]:
    """(kept messages by label, in order; dropped (reason, text) pairs)."""
    evaluation_index = NearCopyIndex([canonical(t) for t in evaluation])
    kept: OrderedDict[Text, List[Text]] = OrderedDict()
    dropped: List[Tuple[Text, Text]] = []
    seen: Set[Text] = set()
    for label, text in pairs:
        key = canonical(text)
        if key in training:
            dropped.append(("training duplicate", text))
        elif key in seen:
            dropped.append(("repeated", text))
        elif evaluation_index.closest(
            key, NEAR_COPY_SHORT if len(key.split()) <= SHORT_WORDS else NEAR_COPY
        ) is not None:
            dropped.append(("near an evaluation message", text))
        else:
            seen.add(key)
            kept.setdefault(label, []).append(text)
    return kept, dropped


def file_for(label: Text) -> Text:
    if label.startswith("crisis:") or label in ("crisis", "crisis_retracted"):
        return "crisis.yml"
    if label.startswith("faq/"):
        return "faq.yml"
    if label.startswith("advice_"):
        return "advice.yml"
    if label == "out_of_scope":
        return "out_of_scope.yml"
    return "basics.yml"


def block(label: Text, texts: List[Text], heading: Text) -> Text:
    intent, _, kind = label.partition(":")
    lines = [f"\n# {heading}" + (f": {kind}" if kind else ""), f"- intent: {intent}"]
    if kind:
        lines += ["  metadata:", f"    crisis_kind: {kind}"]
    lines.append("  examples: |")
    lines += [f"    - {text}" for text in texts]
    return "\n".join(lines) + "\n"


def append_round(kept: Dict[Text, List[Text]], heading: Text, data_dir: Path = DATA_DIR) -> List[Text]:
    """Appends the blocks; returns the files written (each checked to still be YAML)."""
    additions: Dict[Text, Text] = {}
    for label, texts in kept.items():
        name = file_for(label)
        additions[name] = additions.get(name, "") + block(label, texts, heading)
    for name, text in additions.items():
        path = data_dir / name
        path.write_text(path.read_text(encoding="utf-8").rstrip("\n") + "\n" + text, encoding="utf-8")
        yaml.safe_load(path.read_text(encoding="utf-8"))
    return sorted(additions)


def main(argv: Optional[Sequence[Text]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tsv", type=Path)
    parser.add_argument("--round", required=True)
    parser.add_argument("--tag", required=True)
    parser.add_argument("--private", type=Path, action="append", default=[],
                        help="a private development set to keep out of training (repeatable)")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    kept, dropped = filter_messages(read_tsv(args.tsv), training_texts(), evaluation_texts(private=args.private))
    print(f"kept {sum(map(len, kept.values()))} in {len(kept)} labels; dropped {len(dropped)}:",
          dict(Counter(reason for reason, _ in dropped)))
    if not args.dry_run:
        print("written:", ", ".join(append_round(kept, f"round {args.round}: {args.tag}")))


if __name__ == "__main__":
    main()
