"""The answers' text read live from the content files (bot/content.py)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from bot.content import ContentError, LiveResponses, content_files, merged, read_responses
from tests.conftest import PROJECT_ROOT

FAQ = """version: "3.1"
responses:
  utter_faq/a:
  - text: {text}
    metadata: {{title: A, question: "Ay?"}}
"""


def project(tmp_path: Path, text: str = "First answer.") -> Path:
    (tmp_path / "data" / "responses").mkdir(parents=True, exist_ok=True)
    (tmp_path / "domain.yml").write_text('version: "3.1"\nresponses:\n  utter_greet:\n  - text: Hi!\n')
    write_faq(tmp_path, FAQ.format(text=text))
    return tmp_path


def write_faq(root: Path, content: str) -> None:
    path = root / "data" / "responses" / "faq.yml"
    path.write_text(content)
    # A later modification time even on file systems with coarse timestamps.
    stamp = path.stat().st_mtime_ns + 1_000_000_000
    os.utime(path, ns=(stamp, stamp))


def test_the_project_files_hold_every_response_of_the_domain():
    responses = read_responses(content_files(PROJECT_ROOT))
    assert "utter_greet" in responses and "utter_crisis" in responses
    assert "utter_faq/what_is_tms" in responses


def test_an_edit_is_read_at_the_next_check(tmp_path):
    live = LiveResponses(project(tmp_path), check_seconds=0)
    assert live.responses()["utter_faq/a"][0]["text"] == "First answer."
    write_faq(tmp_path, FAQ.format(text="Edited answer."))
    assert live.responses()["utter_faq/a"][0]["text"] == "Edited answer."
    assert live.responses()["utter_greet"][0]["text"] == "Hi!"
    assert live.reloads == 2


def test_files_are_not_read_again_before_the_check_interval(tmp_path):
    live = LiveResponses(project(tmp_path), check_seconds=3600)
    live.responses()
    write_faq(tmp_path, FAQ.format(text="Edited answer."))
    assert live.responses()["utter_faq/a"][0]["text"] == "First answer."
    assert live.reloads == 1


@pytest.mark.parametrize("broken", [
    "responses: [unclosed",  # not YAML
    "responses:\n  utter_faq/a: []\n",  # no variation
    "responses:\n  utter_faq/a:\n  - metadata: {title: A}\n",  # nothing to show
    "responses:\n  utter_faq/a:\n  - text: [a, list]\n",  # text not a string
    "responses:\n  utter_faq/a:\n  - text: ok\n    buttons: [{title: B}]\n",  # button without payload
    "responses:\n  faq/a:\n  - text: ok\n",  # not a response name
    "responses: just text\n",
    b"\xff\xfe not utf-8",
])
def test_a_broken_edit_keeps_the_last_good_answers_and_says_so_once(tmp_path, caplog, broken):
    live = LiveResponses(project(tmp_path), check_seconds=0)
    live.responses()
    path = tmp_path / "data" / "responses" / "faq.yml"
    if isinstance(broken, bytes):
        path.write_bytes(broken)
        stamp = path.stat().st_mtime_ns + 1_000_000_000
        os.utime(path, ns=(stamp, stamp))
    else:
        write_faq(tmp_path, broken)
    with caplog.at_level(logging.WARNING, logger="bot.content"):
        assert live.responses()["utter_faq/a"][0]["text"] == "First answer."
        assert live.responses()["utter_faq/a"][0]["text"] == "First answer."
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "faq.yml" in warnings[0].getMessage()
    write_faq(tmp_path, FAQ.format(text="Fixed answer."))
    assert live.responses()["utter_faq/a"][0]["text"] == "Fixed answer."


def test_unreadable_from_the_start_gives_none(tmp_path):
    assert LiveResponses(tmp_path, check_seconds=0).responses() is None


def test_read_responses_names_the_file():
    with pytest.raises(ContentError, match="nowhere.yml"):
        read_responses([Path("/nonexistent/nowhere.yml")])


def test_the_files_win_over_the_trained_responses_and_trained_ones_stay():
    trained = {"utter_a": [{"text": "old"}], "utter_b": [{"text": "kept"}]}
    assert merged(trained, {"utter_a": [{"text": "new"}]}) == {"utter_a": [{"text": "new"}], "utter_b": [{"text": "kept"}]}
    assert merged(trained, None) == trained
