"""`rasa data validate` and the dialogue test stories."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest
import yaml

from tests.conftest import PROJECT_ROOT

# Code that sends domain responses by name: the custom actions, the dialogue policies that
# predict a reply (bot/policies), Rasa-side fallbacks, and the safety texts the channels send
# themselves (bot/safety_text.py).
ACTIONS_SOURCE = "\n".join(
    p.read_text()
    for p in [*(PROJECT_ROOT / "actions").glob("*.py"), *(PROJECT_ROOT / "bot" / "policies").glob("*.py"),
              PROJECT_ROOT / "bot" / "server" / "resilience.py",
              PROJECT_ROOT / "bot" / "server" / "channels" / "rest.py", PROJECT_ROOT / "bot" / "safety_text.py",
              PROJECT_ROOT / "bot" / "server" / "staff" / "live.py"]
)
UNUSED_UTTERANCE = re.compile(r"The utterance '([^']+)' is not used in any story or rule\.")
# Rasa merges the retrieval intent found in data/nlu with the one the domain must list,
# and warns about its own merge (ResponsesSyncImporter); removing it from the domain
# fails rule validation instead.
# Sent by Rasa's own action_default_fallback, named in config.yml's RulePolicy.
RASA_DEFAULT_ACTION_RESPONSES = {"utter_default"}
RASA_RETRIEVAL_MERGE_WARNING = "The following duplicated intents have been found across multiple domain files: faq"


def warnings_of(output: str):
    return [line.split("UserWarning: ", 1)[1].strip() for line in output.splitlines() if "UserWarning: " in line]


def unexplained(warning: str) -> bool:
    """Rasa's validator cannot see responses sent by custom actions (rasa#4200, #11843).

    Such a warning is accepted only when the response really is used by an action.
    """
    used_by_action = UNUSED_UTTERANCE.fullmatch(warning)
    if used_by_action:
        response = used_by_action.group(1)
        return response not in RASA_DEFAULT_ACTION_RESPONSES and f'"{response}"' not in ACTIONS_SOURCE
    return warning != RASA_RETRIEVAL_MERGE_WARNING


@pytest.mark.slow
def test_rasa_data_validate_finds_no_problems():
    result = subprocess.run(
        [sys.executable, "-m", "rasa", "data", "validate", "--domain", "domain.yml", "--data", "data", "--config", "config.yml"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert [w for w in warnings_of(output) if unexplained(w)] == []


def test_the_allow_list_would_catch_an_unused_response():
    assert unexplained("The utterance 'utter_forgotten' is not used in any story or rule.")
    assert not unexplained("The utterance 'utter_referral_first' is not used in any story or rule.")


@pytest.mark.slow
def test_story_conversations_all_pass(trained_model, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "rasa", "test", "core", "--model", str(trained_model),
         "--stories", "tests/test_stories.yml", "--out", str(tmp_path), "--fail-on-prediction-errors"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert failed_stories(tmp_path / "failed_test_stories.yml") == []


def failed_stories(path: Path) -> List[str]:
    """The stories `rasa test core` wrote as failed (none when it wrote only its comment).

    When every story passes, Rasa writes "# None of the test stories failed - all good!",
    a YAML comment: the file holds no stories. Anything else is read as what it is.
    """
    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if data is None:
        return []
    stories = data.get("stories") if isinstance(data, dict) else None
    if not stories or not isinstance(stories, list):
        return [f"unreadable report: {path.read_text(encoding='utf-8')[:200]!r}"]
    return [story.get("story", "?") if isinstance(story, dict) else repr(story) for story in stories]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("# None of the test stories failed - all good!", []),
        ("", []),
        (
            'version: "3.1"\nstories:\n- story: None of the crisis replies arrive (tests/test_stories.yml)\n'
            "  steps:\n  - intent: crisis\n  - action: utter_crisis  # predicted: none\n",
            ["None of the crisis replies arrive (tests/test_stories.yml)"],
        ),
        ("stories: not a list of stories, none", ["unreadable report: 'stories: not a list of stories, none'"]),
    ],
    ids=["all-good", "empty", "failed-story-mentioning-none", "unexpected"],
)
def test_failed_stories_are_read_from_the_report(tmp_path, content, expected):
    report = tmp_path / "failed_test_stories.yml"
    report.write_text(content, encoding="utf-8")
    assert failed_stories(report) == expected


def test_no_report_means_no_failed_story(tmp_path):
    assert failed_stories(tmp_path / "failed_test_stories.yml") == []
