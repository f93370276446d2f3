"""bot/nlu/code_version.py: a change to any module of the NLU package reaches Rasa's
training-cache key of every component of the package."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml
from rasa.engine.training.fingerprinting import calculate_fingerprint_key

from bot.nlu import code_version
from bot.nlu.code_version import source_fingerprint

ROOT = Path(__file__).resolve().parents[2]


def package_components():
    pipeline = yaml.safe_load((ROOT / "config.yml").read_text())["pipeline"]
    names = [step["name"] for step in pipeline if step["name"].startswith("bot.nlu.")]
    assert len(names) >= 8
    return [getattr(importlib.import_module(name.rsplit('.', 1)[0]), name.rsplit('.', 1)[1]) for name in names]


def test_the_fingerprint_changes_with_any_module_of_the_directory(tmp_path: Path):
    (tmp_path / "component.py").write_text("class A: pass\n")
    (tmp_path / "helper.py").write_text("SCALE = 1\n")
    before = source_fingerprint(tmp_path)
    assert source_fingerprint(tmp_path) == before
    (tmp_path / "helper.py").write_text("SCALE = 2\n")
    assert source_fingerprint(tmp_path) != before
    (tmp_path / "helper.py").rename(tmp_path / "other.py")
    assert len({before, source_fingerprint(tmp_path)}) == 2


@pytest.mark.parametrize("component", package_components(), ids=lambda c: c.__name__)
def test_every_pipeline_component_of_the_package_is_retrained_when_a_helper_module_changes(
    component, monkeypatch
):
    config = {"a": 1}
    monkeypatch.setattr(code_version, "package_source_fingerprint", lambda: "helper v1")
    first = calculate_fingerprint_key(component, config, {})
    assert calculate_fingerprint_key(component, config, {}) == first
    monkeypatch.setattr(code_version, "package_source_fingerprint", lambda: "helper v2")
    assert calculate_fingerprint_key(component, config, {}) != first
