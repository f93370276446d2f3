"""Which edits retrain the model (bot/server/training.py): an answer's content does not."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.server.training import inputs_hash, model_inputs
from tests.conftest import PROJECT_ROOT


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(PROJECT_ROOT / "config.yml", tmp_path / "config.yml")
    shutil.copy(PROJECT_ROOT / "domain.yml", tmp_path / "domain.yml")
    shutil.copytree(PROJECT_ROOT / "data", tmp_path / "data")
    shutil.copytree(PROJECT_ROOT / "bot" / "nlu", tmp_path / "bot" / "nlu")
    return tmp_path


def model_hash(root: Path) -> str:
    return inputs_hash(model_inputs(root), root)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize("old, new", [
    ("usually lasts about 20 to 40 minutes", "usually takes 20 to 40 minutes"),  # text
    ('title: "Session length"', 'title: "How long a session takes"'),  # button title
    ('question: "How long is one TMS session?"', 'question: "How long does a session last?"'),
    ("menu_order: 3", "menu_order: 30"),
])
def test_editing_an_answers_content_keeps_the_model(project, old, new):
    before = model_hash(project)
    edit(project / "data" / "responses" / "faq.yml", old, new)
    assert model_hash(project) == before


def test_editing_safety_text_in_the_domain_keeps_the_model(project):
    before = model_hash(project)
    edit(project / "domain.yml", "Please reach out for help right now", "Please get help right now")
    assert model_hash(project) == before


@pytest.mark.parametrize("path, old, new", [
    ("data/responses/faq.yml", "utter_faq/session_length:", "utter_faq/session_duration:"),  # a response's name
    ("data/nlu/faq.yml", "- What is TMS?", "- What is TMS exactly?"),  # a training example
    ("domain.yml", "- talk_to_human", "- talk_to_a_human"),  # an intent
    ("config.yml", "    C: 30.0", "    C: 29.0"),  # the pipeline
])
def test_what_the_model_predicts_from_retrains(project, path, old, new):
    before = model_hash(project)
    edit(project / path, old, new)
    assert model_hash(project) != before
