"""The answers' text, read from the project's files while the assistant runs.

What an answer says (its text, buttons, metadata and sources) is content, not model: the
trained model only decides *which* response to give. So the servers read the responses
from `domain.yml` and `data/responses/*.yml` themselves and notice an edit within
`CHECK_SECONDS` (a file's size or modification time changed), in every process that
answers: each Rasa server (through bot.server.content_nlg), each Sanic worker and the
action server (topic titles). No training, no restart, no signal: deploying the edited
files to an instance is the reload (docs/production.md).

A broken edit never silences the assistant: if a file cannot be read or a response is
malformed, the last good responses stay in use and one WARNING names the file (never the
person's messages; these files hold no personal data). A response the model knows but the
files no longer have keeps its trained text (bot.server.content_nlg), so removing one by
mistake does not leave a question unanswered.

Nothing is read at import: the first call reads the files.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Text, Tuple

import yaml

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CHECK_SECONDS = 2.0
# Keys a response variation may carry (Rasa's domain schema); at least one of these shows
# something to the person.
SHOWN_KEYS = ("text", "buttons", "image", "custom", "attachment", "quick_replies", "elements")


class ContentError(ValueError):
    """A content file cannot be used as it is."""


def content_files(root: Path = PROJECT_ROOT) -> List[Path]:
    """domain.yml first, then data/responses/*.yml (a later file wins for the same name)."""
    return [root / "domain.yml", *sorted((root / "data" / "responses").glob("*.yml"))]


def _check_response(name: Text, variations: Any) -> None:
    if not isinstance(name, str) or not name.startswith("utter_"):
        raise ContentError(f"response name {name!r} must start with utter_")
    if not isinstance(variations, list) or not variations:
        raise ContentError(f"{name}: a response is a non-empty list of variations")
    for variation in variations:
        if not isinstance(variation, dict) or not any(variation.get(key) for key in SHOWN_KEYS):
            raise ContentError(f"{name}: every variation needs a text (or buttons, image, custom)")
        if "text" in variation and not isinstance(variation["text"], str):
            raise ContentError(f"{name}: text must be a string")
        buttons = variation.get("buttons", [])
        if not isinstance(buttons, list) or not all(
            isinstance(b, dict) and isinstance(b.get("title"), str) and isinstance(b.get("payload"), str)
            for b in buttons
        ):
            raise ContentError(f"{name}: each button needs a title and a payload")
        if "metadata" in variation and not isinstance(variation["metadata"], dict):
            raise ContentError(f"{name}: metadata must be a mapping")


def read_responses(files: List[Path]) -> Dict[Text, List[Dict[Text, Any]]]:
    """All responses of `files`, checked (raises ContentError naming the file)."""
    responses: Dict[Text, List[Dict[Text, Any]]] = {}
    for path in files:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise ContentError(f"{path.name}: cannot be read ({type(error).__name__})") from None
        found = data.get("responses") if isinstance(data, dict) else None
        if found is None:
            continue
        if not isinstance(found, dict):
            raise ContentError(f"{path.name}: responses must be a mapping")
        for name, variations in found.items():
            try:
                _check_response(name, variations)
            except ContentError as error:
                raise ContentError(f"{path.name}: {error}") from None
            responses[name] = variations
    return responses


Stamp = Tuple[Tuple[Text, int, int], ...]


def _stamp(files: List[Path]) -> Stamp:
    stamp = []
    for path in files:
        try:
            info = path.stat()
            stamp.append((str(path), info.st_size, info.st_mtime_ns))
        except OSError:
            stamp.append((str(path), -1, -1))
    return tuple(stamp)


class LiveResponses:
    """The responses of a project directory, re-read when its content files change."""

    def __init__(self, root: Path = PROJECT_ROOT, check_seconds: float = CHECK_SECONDS) -> None:
        self.root = Path(root)
        self.check_seconds = check_seconds
        self._lock = threading.Lock()
        self._responses: Optional[Dict[Text, List[Dict[Text, Any]]]] = None
        self._stamp: Optional[Stamp] = None
        self._next_check = 0.0
        self.reloads = 0  # how many times the files were (re)read successfully

    def responses(self) -> Optional[Dict[Text, List[Dict[Text, Any]]]]:
        """The current responses, or None if the files were never readable."""
        now = time.monotonic()
        if now >= self._next_check:
            with self._lock:
                if now >= self._next_check:
                    self._refresh()
                    self._next_check = now + self.check_seconds
        return self._responses

    def _refresh(self) -> None:
        files = content_files(self.root)
        stamp = _stamp(files)
        if stamp == self._stamp:
            return
        self._stamp = stamp  # a broken edit is reported once, not on every message
        try:
            responses = read_responses(files)
        except ContentError as error:
            logger.warning("Answers not reloaded, the last good ones stay in use: %s", error)
            return
        if self._responses is not None:
            logger.info("Answers reloaded from %d content files.", len(files))
        self._responses = responses
        self.reloads += 1


_shared: Dict[Text, LiveResponses] = {}
_shared_lock = threading.Lock()


def live_responses(root: Optional[Path] = None) -> LiveResponses:
    """One LiveResponses per project directory and process ($TMS_CONTENT_DIR, else the project)."""
    where = str(Path(root or os.environ.get("TMS_CONTENT_DIR") or PROJECT_ROOT).resolve())
    with _shared_lock:
        if where not in _shared:
            _shared[where] = LiveResponses(Path(where))
        return _shared[where]


def merged(trained: Mapping[Text, Any], live: Optional[Mapping[Text, Any]]) -> Dict[Text, Any]:
    """The trained model's responses with the files' versions on top."""
    return {**trained, **(live or {})}
