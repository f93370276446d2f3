"""Shared fixtures: the real domain, a tracker builder, a dispatcher, the trained model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

PROJECT_ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def load_yaml(path: Path) -> Dict[str, Any]:
    with path.open(encoding="utf-8") as file:
        return yaml.safe_load(file) or {}


@pytest.fixture(scope="session")
def domain() -> Dict[str, Any]:
    """domain.yml merged with the FAQ responses in data/responses, as Rasa sends it to actions."""
    merged = load_yaml(PROJECT_ROOT / "domain.yml")
    for path in sorted((PROJECT_ROOT / "data" / "responses").glob("*.yml")):
        merged.setdefault("responses", {}).update(load_yaml(path).get("responses", {}))
    return merged


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


TrackerBuilder = Callable[..., Tracker]


@pytest.fixture
def tracker_builder() -> TrackerBuilder:
    def build(
        slots: Optional[Dict[str, Any]] = None,
        latest_message: Optional[Dict[str, Any]] = None,
        events: Optional[List[Dict[str, Any]]] = None,
        sender_id: str = "test-user",
    ) -> Tracker:
        return Tracker(
            sender_id=sender_id,
            slots={"crisis_flagged": False, "referral_count": 0.0, "handoff_requested": False, **(slots or {})},
            latest_message=latest_message or {"text": "hello", "intent": {"name": "greet"}},
            events=events or [],
            paused=False,
            followup_action=None,
            active_loop={},
            latest_action_name="action_listen",
        )

    return build


@pytest.fixture(scope="session")
def trained_model() -> Path:
    """The model for the current config and data (trained once, cached by content hash)."""
    from bot.server.training import ensure_model

    return ensure_model(quiet=True)
