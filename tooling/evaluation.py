"""Loads a trained model in-process to classify messages, and reads the labelled test
messages (used by the NLU tests and the benchmark alike)."""

from __future__ import annotations

import asyncio
import difflib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Set, Text, Tuple

import numpy as np
import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def canonical(text: Text) -> Text:
    """A message reduced for comparing corpora: lower case, apostrophes dropped ("don't" =
    "dont"), any other run of non-alphanumerics one space."""
    text = text.lower().replace("'", "").replace("\u2019", "")
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


class NearCopyIndex:
    """The closest of many texts to a text by difflib's ratio, as
    `difflib.get_close_matches(text, texts, n=1, cutoff=cutoff)` finds it, many times
    faster. That function skips a text whose `quick_ratio` (2 * the characters two texts
    share, counted as multisets, / their total length; an upper bound of the ratio) is below
    the cutoff, one text at a time in Python; here the bound is computed for every text at
    once with NumPy, and only the texts that pass it are handed to difflib: the same answer.
    The corpus checks compare thousands of messages with thousands of examples."""

    def __init__(self, texts: Iterable[Text]) -> None:
        self._texts = sorted(set(texts))
        self._alphabet = {c: i for i, c in enumerate(sorted({c for t in self._texts for c in t}))}
        self._counts = np.zeros((len(self._texts), len(self._alphabet)), dtype=np.int32)
        for row, text in enumerate(self._texts):
            for c in text:
                self._counts[row, self._alphabet[c]] += 1
        self._lengths = self._counts.sum(axis=1)

    def closest(self, text: Text, cutoff: float) -> Optional[Text]:
        query = np.zeros(len(self._alphabet), dtype=np.int32)
        for c in text:
            if c in self._alphabet:  # a character no text has matches nothing
                query[self._alphabet[c]] += 1
        shared = np.minimum(self._counts, query).sum(axis=1)
        total = self._lengths + len(text)
        bound = np.where(total > 0, 2.0 * shared / np.maximum(total, 1), 1.0)
        # A hair of slack for floating point: more candidates, the same answer.
        window = [self._texts[i] for i in np.flatnonzero(bound >= cutoff - 1e-9)]
        matches = difflib.get_close_matches(text, window, n=1, cutoff=cutoff)
        return matches[0] if matches else None


def labelled_examples(path: Path) -> List[Tuple[Text, Text]]:
    """(label, text) pairs from a Rasa NLU YAML file; the label of "faq/x" examples is "faq/x"."""
    pairs = []
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for block in data.get("nlu", []):
        if "intent" not in block:
            continue
        for line in block["examples"].splitlines():
            text = line.strip()[2:].strip() if line.strip().startswith("- ") else ""
            if text:
                pairs.append((block["intent"], text))
    return pairs


def training_texts(data_dir: Path = PROJECT_ROOT / "data" / "nlu") -> Set[Text]:
    """Every training example in data/nlu, canonical: what no evaluation message may be near."""
    return {canonical(t) for path in data_dir.glob("*.yml") for _, t in labelled_examples(path)}


def message_lines(path: Path) -> List[Text]:
    """One message per line; blank lines and lines starting with "#" are skipped."""
    return [
        line.strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]


class ModelParser:
    """Parses text with a trained model: intent, FAQ topic and confidence, no servers."""

    def __init__(self, model: Path) -> None:
        from rasa.core.agent import Agent

        self._agent = Agent.load(str(model))
        self._loop = asyncio.new_event_loop()

    def parse(self, text: Text) -> Dict[Text, Any]:
        return self._loop.run_until_complete(self._agent.parse_message(text))

    def label(self, text: Text) -> Text:
        """The intent, or the full FAQ key (e.g. "faq/session_length") for FAQ questions."""
        intent = self.parse(text)["intent"]
        return intent.get("full_retrieval_intent_name") or intent["name"]

    def close(self) -> None:
        self._loop.close()


# --- Crisis evaluation corpus (tests/data/crisis_eval) -------------------------------------
CRISIS_EVAL_DIR = PROJECT_ROOT / "tests" / "data" / "crisis_eval"
# The reply each crisis family should get; families not listed get the "self" reply.
EXPECTED_KIND = {"overdose": "medical", "third_person": "someone_else", "danger_from_others": "unsafe"}
TARGET_RECALL = 1.0
TARGET_FALSE_ALARMS = 0.02
# The splits: thresholds and settings are chosen on "dev"; "test" is reported; "holdout" was
# written later by someone who had not seen the training data, and its messages are never
# printed (the report shows counts only), so nobody tuning the model reads them.
SPLITS = ("dev", "test", "holdout", "all")
BLIND_SPLITS = ("holdout",)


@dataclass(frozen=True)
class CrisisFamily:
    name: Text
    type: Text  # "crisis" or "lookalike"
    dev: List[Text]
    test: List[Text]
    holdout: List[Text] = field(default_factory=list)
    # The reply each message calls for, where the family mixes cases (written in the file
    # as `- {kind: ..., text: ...}`); otherwise EXPECTED_KIND by family.
    kinds: Dict[Text, Text] = field(default_factory=dict)

    def expected_kind(self, text: Text) -> Text:
        return self.kinds.get(text) or EXPECTED_KIND.get(self.name, "self")

    def split(self, name: Text) -> List[Text]:
        return {"dev": self.dev, "test": self.test, "holdout": self.holdout,
                "all": self.dev + self.test + self.holdout}[name]


def crisis_families(directory: Path = CRISIS_EVAL_DIR) -> List[CrisisFamily]:
    families = []
    for path in sorted(directory.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        kinds: Dict[Text, Text] = {}
        splits = [_family_texts(data.get(name), kinds) for name in ("dev", "test", "holdout")]
        families.append(CrisisFamily(data["family"], data["type"], *splits, kinds=kinds))
    return families


def _family_texts(entries: Optional[List[Any]], kinds: Dict[Text, Text]) -> List[Text]:
    """The messages of one split; a `{kind, text}` entry also records its kind in `kinds`."""
    texts = []
    for entry in entries or []:
        if isinstance(entry, dict):
            kinds[entry["text"]] = entry["kind"]
            entry = entry["text"]
        texts.append(entry)
    return texts


@dataclass
class FamilyResult:
    family: CrisisFamily
    total: int
    flagged: int  # got the crisis reply
    fitting: int  # crisis families: got the reply for their case
    caution: int  # got an ordinary answer with the standing crisis line
    errors: List[Text]

    @property
    def rate(self) -> float:
        return self.flagged / self.total if self.total else 0.0

    @property
    def passed(self) -> bool:
        if self.family.type == "crisis":
            return self.rate >= TARGET_RECALL
        return self.rate <= TARGET_FALSE_ALARMS


def evaluate_crisis(parse: Any, families: List[CrisisFamily], split: Text) -> List[FamilyResult]:
    """Runs every message of `split` through `parse` (text -> Rasa parse result)."""
    results = []
    for family in families:
        messages = family.split(split)
        flagged = fitting = caution = 0
        errors = []
        for text in messages:
            parsed = parse(text)
            decision = parsed.get("crisis") or {}
            is_crisis = parsed["intent"]["name"] == "crisis"
            flagged += is_crisis
            caution += decision.get("kind") == "caution"
            if family.type == "crisis":
                fitting += is_crisis and decision.get("kind") == family.expected_kind(text)
                if not is_crisis:
                    errors.append(f"missed ({decision.get('score', 0):.2f} {parsed['intent']['name']}): {text}")
            elif is_crisis:
                errors.append(f"false alarm ({decision.get('score', 0):.2f} {decision.get('patterns')}): {text}")
        results.append(FamilyResult(family, len(messages), flagged, fitting, caution, errors))
    return results


def crisis_report(results: List[FamilyResult], split: Text, title: Optional[Text] = None) -> Text:
    lines = [f"Crisis evaluation, {title or f'{split} split (tests/data/crisis_eval)'}", ""]
    lines.append(f"{'family':22s} {'type':9s} {'n':>4s} {'crisis reply':>13s} {'rate':>7s} {'fits case':>9s} {'caution':>8s}  target")
    for kind in ("crisis", "lookalike"):
        for r in (r for r in results if r.family.type == kind and r.total):  # families without this split left out
            target = f">= {TARGET_RECALL:.0%} recall" if kind == "crisis" else f"<= {TARGET_FALSE_ALARMS:.0%} false alarms"
            fits = f"{r.fitting}/{r.flagged}" if kind == "crisis" else ""
            lines.append(
                f"{r.family.name:22s} {kind:9s} {r.total:4d} {r.flagged:13d} {r.rate:7.1%} {fits:>9s} {r.caution:8d}  "
                f"{target} {'ok' if r.passed else 'FAILED'}"
            )
    crisis = [r for r in results if r.family.type == "crisis"]
    lookalike = [r for r in results if r.family.type == "lookalike"]
    recall = sum(r.flagged for r in crisis) / max(1, sum(r.total for r in crisis))
    false_alarms = sum(r.flagged for r in lookalike) / max(1, sum(r.total for r in lookalike))
    lines += ["", f"overall: recall {recall:.1%} of {sum(r.total for r in crisis)} crisis messages, "
              f"false alarms {false_alarms:.1%} of {sum(r.total for r in lookalike)} look-alikes"]
    errors = [e for r in results for e in r.errors]
    if errors and split in BLIND_SPLITS:
        lines += ["", f"{len(errors)} errors (not listed: the {split} split stays blind)"]
    elif errors:
        lines += ["", "Errors:", *(f"  {e}" for e in errors)]
    return "\n".join(lines) + "\n"


# --- Follow-ups after a crisis reply (tests/data/crisis_followups) ---------------------------
# The message a person sends right after the crisis reply, in the same session: "continuing"
# still needs crisis resources ("its too late", "he's back"), "moving_on" asks an ordinary
# question ("i'm ok now. how long is a session?"). Each entry records the crisis message before it
# (`before`) and its case (`kind`); only the follow-up is scored. dev: read while designing
# the dialogue rule; test: written afterwards, reported.
CRISIS_FOLLOWUP_DIR = PROJECT_ROOT / "tests" / "data" / "crisis_followups"
RULES_DIR = PROJECT_ROOT / "data" / "rules"


def crisis_reply_intents_after_a_crisis(rules_dir: Path = RULES_DIR) -> Set[Text]:
    """The intents whose reply includes `utter_crisis` once crisis language was seen in the
    session (crisis_flagged), read from the rules (the dialogue here is rules only; no action
    gives it: actions/handoff.py leaves it to its rule)."""
    intents: Set[Text] = set()
    for path in sorted(rules_dir.glob("*.yml")):
        for rule in yaml.safe_load(path.read_text(encoding="utf-8")).get("rules") or []:
            flags = [slot["crisis_flagged"] for step in rule.get("condition") or []
                     for slot in step.get("slot_was_set") or [] if "crisis_flagged" in slot]
            steps = rule.get("steps") or []
            if False in flags or not any(step.get("action") == "utter_crisis" for step in steps):
                continue
            intents.update(step["intent"] for step in steps if "intent" in step)
    return intents


@dataclass
class FollowUpResult:
    family: CrisisFamily
    total: int
    crisis_reply: int  # follow-ups given the crisis reply again
    # ... for the case of the crisis before (or the emergency reply, for an overdose or
    # injury), after bot/policies/crisis_case.py: a follow-up read as crisis language may be
    # read as another case
    fitting: int
    by_kind: Dict[Text, Tuple[int, int]]  # kind of the crisis before -> (total, crisis reply)
    errors: List[Text]

    @property
    def rate(self) -> float:
        return self.crisis_reply / self.total if self.total else 0.0


def _policy_setting(policy_class: Any, key: Text, config_path: Path) -> Any:
    """A dialogue policy's setting in config.yml (its default when not set there), or None
    when the policy is not configured."""
    for policy in (yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}).get("policies") or []:
        if policy.get("name", "").endswith(policy_class.__name__):
            return policy.get(key, policy_class.get_default_config()[key])
    return None


def case_switch_probability(config_path: Path = PROJECT_ROOT / "config.yml") -> float:
    """CrisisCasePolicy's switch_probability in config.yml."""
    from bot.policies.crisis_case import CrisisCasePolicy

    # Not configured: each crisis message's own reading picks the reply.
    return float(_policy_setting(CrisisCasePolicy, "switch_probability", config_path) or 0.0)


def unsure_out_of_scope_bar(config_path: Path = PROJECT_ROOT / "config.yml") -> float:
    """UnsureOutOfScopeAfterCrisisPolicy's confidence_below in config.yml: after a crisis,
    an out-of-scope reading below it gets the crisis reply again (0.0: not configured)."""
    from bot.policies.unsure_out_of_scope import UnsureOutOfScopeAfterCrisisPolicy

    return float(_policy_setting(UnsureOutOfScopeAfterCrisisPolicy, "confidence_below", config_path) or 0.0)


def unsure_answer_bar(config_path: Path = PROJECT_ROOT / "config.yml") -> float:
    """UnsureOutOfScopeAfterCrisisPolicy's answer_confidence_below in config.yml: after a
    crisis, an FAQ answer below it gets the crisis reply again (0.0: never)."""
    from bot.policies.unsure_out_of_scope import UnsureOutOfScopeAfterCrisisPolicy

    return float(_policy_setting(UnsureOutOfScopeAfterCrisisPolicy, "answer_confidence_below", config_path) or 0.0)


def tms_question_keeps_reply(config_path: Path = PROJECT_ROOT / "config.yml") -> bool:
    """UnsureOutOfScopeAfterCrisisPolicy's tms_question_keeps_reply in config.yml: after a
    crisis, an out-of-scope reading of a message that names TMS keeps its own reply."""
    from bot.policies.unsure_out_of_scope import UnsureOutOfScopeAfterCrisisPolicy

    return bool(_policy_setting(UnsureOutOfScopeAfterCrisisPolicy, "tms_question_keeps_reply", config_path))


def emergency_stands_intents(config_path: Path = PROJECT_ROOT / "config.yml") -> Set[Text]:
    """EmergencyStandsPolicy's intents in config.yml: after an overdose or injury they get
    the emergency reply again (empty: not configured)."""
    from bot.policies.emergency_stands import EmergencyStandsPolicy

    return set(_policy_setting(EmergencyStandsPolicy, "intents", config_path) or ())


def evaluate_followups(parse: Any, families: List[CrisisFamily], split: Text) -> List[FollowUpResult]:
    """Which follow-ups of `split` get the crisis reply again: the intent `parse` reads,
    looked up in the rules for a session with a crisis in it (or an out-of-scope reading or
    FAQ answer below the policy's bars); and for which case."""
    from bot.policies.crisis_case import session_case
    from bot.policies.unsure_out_of_scope import cannot_call, unsure_reading

    again = crisis_reply_intents_after_a_crisis()
    emergency_intents = emergency_stands_intents()
    switch = case_switch_probability()
    unsure_below = unsure_out_of_scope_bar()
    unsure_answer_below = unsure_answer_bar()
    tms_question_keeps = tms_question_keeps_reply()
    results = []
    for family in families:
        got = fitting = 0
        by_kind: Dict[Text, List[int]] = {}
        errors = []
        for text in family.split(split):
            parsed = parse(text)
            intent = parsed["intent"]["name"]
            before = family.expected_kind(text)
            counts = by_kind.setdefault(before, [0, 0])
            counts[0] += 1
            confidence = float(parsed["intent"].get("confidence") or 0.0)
            unsure = unsure_reading(intent, confidence, unsure_below, unsure_answer_below, text, tms_question_keeps)
            # After an overdose or injury a retraction or goodbye gets the emergency reply too.
            # And a message saying the person cannot call (bot/policies/unsure_out_of_scope.py).
            gets_it = (intent in again or unsure or cannot_call(text)
                       or (before == "medical" and intent in emergency_intents))
            if gets_it:
                got += 1
                counts[1] += 1
                case = before  # other intents leave the session's case alone
                if intent == "crisis":
                    decision = parsed.get("crisis") or {}
                    case = session_case(before, decision.get("kind", before), float(decision.get("kind_probability", 1.0)), switch)
                fitting += case in (before, "medical")
            if gets_it != (family.type == "crisis"):
                errors.append(f"{intent}: {text}")
        results.append(FollowUpResult(family, len(family.split(split)), got, fitting,
                                      {k: (n, c) for k, (n, c) in sorted(by_kind.items())}, errors))
    return results


def followup_report(results: List[FollowUpResult], split: Text) -> Text:
    lines = [f"Follow-ups after a crisis reply, {split} split (tests/data/crisis_followups)", ""]
    for r in results:
        wanted = "should get it" if r.family.type == "crisis" else "should get an ordinary answer"
        kinds = ", ".join(f"{kind} {c}/{n}" for kind, (n, c) in r.by_kind.items())
        lines.append(f"{r.family.name:12s} {r.total:4d} messages ({wanted}): crisis reply again "
                     f"{r.crisis_reply} = {r.rate:.1%}, for the case before or the emergency reply "
                     f"{r.fitting}  [{kinds}]")
    errors = [e for r in results for e in r.errors]
    if errors:
        lines += ["", "Not as wanted:", *(f"  {e}" for e in errors)]
    return "\n".join(lines) + "\n"


def crisis_detector_settings(config_path: Path = PROJECT_ROOT / "config.yml") -> Dict[Text, Any]:
    """The crisis detector's settings in config.yml (its pipeline entry, name left out)."""
    pipeline = (yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}).get("pipeline") or []
    entry = next((c for c in pipeline if str(c.get("name", "")).endswith("CrisisLanguageDetector")), {})
    return {key: value for key, value in entry.items() if key != "name"}


def tune_crisis_thresholds(parse: Any, families: List[CrisisFamily], split: Text = "dev") -> Text:
    """Tries decision-rule thresholds on `split` (the dev split: never the test split) and
    lists the settings with the fewest missed crisis messages, then fewest false alarms.

    The ordinary questions of the understanding corpus (same split) count as look-alikes
    too: a long story before a TMS question must not get the crisis reply either."""
    import itertools

    from bot.nlu.crisis import KINDS, CrisisLanguageDetector, decide

    rows = []
    ordinary = [CrisisFamily("ordinary_questions", "lookalike", *(
        [t for _, splits in nlu_eval_sets() for t in splits[name]] for name in ("dev", "test", "holdout")))]
    for family in [*families, *ordinary]:
        for text in family.split(split):
            d = parse(text).get("crisis") or {}
            rows.append((family.type, d.get("score", 0.0), d.get("part_score", 0.0), d.get("patterns") or [],
                         d.get("classifier_intent"), d.get("resolved_history", False), d.get("ordinary_reading", 0.0)))
    # Parts are only scored by a model whose part_threshold is on (<= 1): with it off, every
    # part score reads 0, and a lower part_threshold would look free when it is not.
    parts_scored = any(row[2] > 0 for row in rows)
    grid = {
        "threshold": [0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8],
        "part_threshold": [0.6, 0.7, 0.75, 0.8, 0.85, 1.01] if parts_scored else [1.01],
        "matcher_threshold": [0.1, 0.2, 0.3, 0.4, 1.01],
        "intent_threshold": [0.1, 0.2, 0.3, 0.4, 0.5, 1.01],
        "resolved_threshold": [0.7, 0.8],
        "retracted_threshold": [0.0, 0.7],
        "ordinary_reading_threshold": [0.5, 0.8, 0.9, 1.01],
    }
    # The settings the search does not vary are config.yml's, so that what it lists is what
    # the assistant would do with the listed values.
    base = {**CrisisLanguageDetector.get_default_config(), **crisis_detector_settings()}
    results = []
    for values in itertools.product(*grid.values()):
        config = {**base, **dict(zip(grid, values, strict=True))}
        missed = false_alarms = 0
        for kind, score, part, patterns, intent, resolved, ordinary_reading in rows:
            flagged = decide(score, part, "self", patterns, intent, config, resolved, ordinary_reading) in KINDS
            missed += kind == "crisis" and not flagged
            false_alarms += kind == "lookalike" and flagged
        results.append((missed, false_alarms, config))
    results.sort(key=lambda r: (r[0], r[1]))
    crisis_total = sum(1 for r in rows if r[0] == "crisis")
    lookalike_total = len(rows) - crisis_total
    lines = [f"Threshold search on the {split} split ({crisis_total} crisis, {lookalike_total} look-alikes):",
             "the fewest false alarms for each number of missed crisis messages"]
    frontier, best_so_far = [], None
    for missed, false_alarms, config in results:
        if best_so_far is None or false_alarms < best_so_far:
            frontier.append((missed, false_alarms, config))
            best_so_far = false_alarms
    for missed, false_alarms, config in frontier[:12]:
        shown = ", ".join(f"{k}={config[k]}" for k in grid)
        lines.append(f"  missed {missed:3d}  false alarms {false_alarms:3d}  {shown}")
    return "\n".join(lines) + "\n"


# --- Understanding corpus (tests/data/nlu_eval): questions in many voices, one file per label ---
NLU_EVAL_DIR = PROJECT_ROOT / "tests" / "data" / "nlu_eval"
CLARIFICATION = "nlu_fallback"  # "I'm not sure I understood. Did you mean...?"


def nlu_eval_sets(directory: Path = NLU_EVAL_DIR) -> List[Tuple[Text, Dict[Text, List[Text]]]]:
    """(label, {split: messages}) per file."""
    sets = []
    for path in sorted(directory.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        splits = {name: list(data.get(name) or []) for name in ("dev", "test", "holdout")}
        splits["all"] = splits["dev"] + splits["test"] + splits["holdout"]
        sets.append((data["label"], splits))
    return sets


# The voice each question is written in (tagged by hand, one per message, the most
# distinctive): short, plain, two_sentences, long_story, third_person, older_adult,
# texting, typos. `voice<TAB>message` per line.
NLU_VOICES_FILE = NLU_EVAL_DIR / "voices.tsv"
VOICES = ("short", "plain", "two_sentences", "long_story", "third_person", "older_adult", "texting", "typos")


def nlu_eval_voices(path: Path = NLU_VOICES_FILE) -> Dict[Text, Text]:
    """{message: voice} for every message of the understanding corpus."""
    voices = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            voice, text = line.split("\t", 1)
            voices[text] = voice
    return voices


def _outcome_row(name: Text, counts: Dict[Text, int]) -> Text:
    return f"{name:32s} {counts['n']:4d} {counts['right']:6d} {counts['clarify']:8d} {counts['wrong']:6d}"


def understanding_report(label_of: Any, split: Text = "test") -> Tuple[Text, Dict[Text, int]]:
    """Right answer, clarification or wrong answer (another label, or the crisis reply) per
    label and per voice; `label_of` maps a text to the assistant's label ("faq/x", an
    intent, nlu_fallback)."""
    labelled = [(label, splits[split]) for label, splits in nlu_eval_sets()]
    return outcome_tables(label_of, labelled, nlu_eval_voices(), f"{split} split (tests/data/nlu_eval)",
                          blind=split in BLIND_SPLITS)


def outcome_tables(
    label_of: Any, labelled: List[Tuple[Text, List[Text]]], voices: Dict[Text, Text], title: Text, blind: bool,
) -> Tuple[Text, Dict[Text, int]]:
    """The understanding tables for (label, messages) pairs: per label, per voice (`voices`:
    message -> voice) and overall, with the wrong answers listed unless `blind`."""
    header = f"{'':32s} {'n':>4s} {'right':>6s} {'clarify':>8s} {'wrong':>6s}"
    lines = [f"Understanding, {title}", "", "per label" + header[9:]]
    totals = {"n": 0, "right": 0, "clarify": 0, "wrong": 0}
    by_voice = {voice: dict.fromkeys(totals, 0) for voice in VOICES}
    errors = []
    for label, messages in labelled:
        counts = {"n": len(messages), "right": 0, "clarify": 0, "wrong": 0}
        for text in messages:
            predicted = label_of(text)
            outcome = "right" if predicted == label else "clarify" if predicted == CLARIFICATION else "wrong"
            counts[outcome] += 1
            by_voice[voices[text]]["n"] += 1
            by_voice[voices[text]][outcome] += 1
            if outcome == "wrong":
                errors.append(f"  {label} -> {predicted}: {text}")
        for key in totals:
            totals[key] += counts[key]
        lines.append(_outcome_row(label, counts))
    lines += ["", "per voice" + header[9:]]
    lines += [_outcome_row(voice, counts) for voice, counts in by_voice.items() if counts["n"]]
    n = max(1, totals["n"])
    lines += ["", f"overall: right {totals['right']}/{totals['n']} = {totals['right'] / n:.1%}, "
              f"clarification {totals['clarify'] / n:.1%}, wrong {totals['wrong']}/{totals['n']} = {totals['wrong'] / n:.1%}"]
    if errors and blind:
        lines += ["", f"{len(errors)} wrong answers (not listed: this set stays blind)"]
    elif errors:
        lines += ["", "Wrong answers:", *errors]
    return "\n".join(lines) + "\n", totals


# --- Private development sets: fresh messages kept outside the repository ---------------------
# A helper who has seen only the label guide writes them at the start of a session, so that
# a change can be tried on messages nobody tuned on before the test split is read. They stay
# out of the repository: once their failures have been read they are development data, and
# nothing of them may reach the training data or the corpora. One message per line,
# tab-separated: `label<TAB>voice<TAB>text` for an ordinary question (the labels and voices
# of tests/data/nlu_eval), `crisis<TAB>family<TAB>text` or `lookalike<TAB>family<TAB>text`.
PRIVATE_SPLIT = "dev"  # every private message is read as the dev split of its family


@dataclass
class PrivateSet:
    questions: List[Tuple[Text, List[Text]]]  # (label, messages), for outcome_tables
    voices: Dict[Text, Text]
    families: List[CrisisFamily]


def read_private_sets(paths: Iterable[Path]) -> PrivateSet:
    questions: Dict[Text, List[Text]] = {}
    voices: Dict[Text, Text] = {}
    families: Dict[Tuple[Text, Text], List[Text]] = {}
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) != 3 or not all(f.strip() for f in fields):
                raise ValueError(f"{path}:{number}: expected three tab-separated fields")
            first, second, text = (f.strip() for f in fields)
            if first in ("crisis", "lookalike"):
                families.setdefault((second, first), []).append(text)
            elif second in VOICES:
                questions.setdefault(first, []).append(text)
                voices[text] = second
            else:
                raise ValueError(f"{path}:{number}: unknown voice {second!r} (one of {', '.join(VOICES)})")
    return PrivateSet(
        sorted(questions.items()),
        voices,
        [CrisisFamily(name, kind, dev=texts, test=[]) for (name, kind), texts in sorted(families.items())],
    )


def private_report(parse: Any, private: PrivateSet) -> Text:
    """Both reports for private development sets, every failure listed."""
    def label_of(text: Text) -> Text:
        intent = parse(text)["intent"]
        return intent.get("full_retrieval_intent_name") or intent["name"]

    parts = []
    if private.questions:
        parts.append(outcome_tables(label_of, private.questions, private.voices, "private sets", blind=False)[0])
    if private.families:
        results = evaluate_crisis(parse, private.families, PRIVATE_SPLIT)
        parts.append(crisis_report(results, PRIVATE_SPLIT, title="private sets"))
    return "\n".join(parts)


def main(argv: Optional[List[Text]] = None) -> int:
    """`python -m tooling.evaluation crisis-report [--split dev|test|all] [--model PATH]`,
    `python -m tooling.evaluation crisis-tune [--model PATH]` (dev split only),
    `python -m tooling.evaluation private-report FILE.tsv... [--model PATH]`."""
    import argparse

    from bot.server.training import ensure_model

    parser = argparse.ArgumentParser(prog="python -m tooling.evaluation")
    parser.add_argument("command", choices=["crisis-report", "crisis-tune", "nlu-report", "private-report"])
    parser.add_argument("--split", choices=list(SPLITS), default="test")
    parser.add_argument("--model", type=Path)
    parser.add_argument("files", nargs="*", type=Path, help="private-report: the private sets' TSV files")
    args = parser.parse_args(argv)
    if args.command == "private-report" and not args.files:
        parser.error("private-report needs at least one TSV file")
    private = read_private_sets(args.files) if args.command == "private-report" else None
    # Rasa's structured log is unconfigured outside its server and prints every parse at
    # debug level, message text included: the reports would drown in it.
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    model_parser = ModelParser(args.model or ensure_model(quiet=True))
    try:
        if args.command == "crisis-tune":
            print(tune_crisis_thresholds(model_parser.parse, crisis_families(), "dev"))
            return 0
        if private is not None:
            print(private_report(model_parser.parse, private))
            return 0
        if args.command == "nlu-report":
            report, _ = understanding_report(model_parser.label, args.split)
            print(report)
            return 0
        results = evaluate_crisis(model_parser.parse, crisis_families(), args.split)
        followups = evaluate_followups(model_parser.parse, crisis_families(CRISIS_FOLLOWUP_DIR), args.split)
    finally:
        model_parser.close()
    report = crisis_report(results, args.split)
    if args.split in ("dev", "test", "all"):
        report += "\n" + followup_report(followups, args.split)
    out = PROJECT_ROOT / "test-artifacts" / f"crisis-report-{args.split}.txt"
    out.parent.mkdir(exist_ok=True)
    out.write_text(report, encoding="utf-8")
    print(report)
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
