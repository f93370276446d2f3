"""Trains the model only when its inputs changed.

The model file is named after a hash of everything that shapes it (config, domain,
training data, custom NLU components and the Rasa version), so an unchanged project
reuses its model and a changed one can never load a stale model by mistake.

What a response says is not part of that hash: only the responses' names are (the model
predicts a name; bot/content.py and bot/server/content_nlg.py give its current text). So
editing an answer's text, buttons or sources needs no training, while a new or renamed
response, a training example, an intent or the pipeline does.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterable, List

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR = PROJECT_ROOT / "models"


def model_inputs(root: Path = PROJECT_ROOT) -> List[Path]:
    files: List[Path] = [root / "config.yml", root / "domain.yml"]
    files += sorted((root / "data").rglob("*.yml"))
    files += sorted((root / "bot" / "nlu").rglob("*.py"))
    return files


def model_relevant_bytes(path: Path, root: Path = PROJECT_ROOT) -> bytes:
    """The file as the model sees it: for the files that hold responses (domain.yml and
    data/responses/), everything but the responses' content, which is read at run time."""
    raw = path.read_bytes()
    holds_responses = path == root / "domain.yml" or path.parent == root / "data" / "responses"
    if not holds_responses:
        return raw
    data = yaml.safe_load(raw) or {}
    if not isinstance(data, dict) or not isinstance(data.get("responses"), dict):
        return raw
    data["responses"] = sorted(data["responses"])
    return json.dumps(data, sort_keys=True, default=str).encode()


def inputs_hash(files: Iterable[Path], root: Path = PROJECT_ROOT) -> str:
    import rasa

    digest = hashlib.sha256(f"rasa=={rasa.__version__}\n".encode())
    for path in files:
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(model_relevant_bytes(path, root) + b"\0")
    return digest.hexdigest()[:16]


def model_path(root: Path = PROJECT_ROOT) -> Path:
    return MODELS_DIR / f"tms-{inputs_hash(model_inputs(root), root)}.tar.gz"


def ensure_model(quiet: bool = False, log: Path | None = None) -> Path:
    """Returns the model for the current inputs, training it first if needed.

    $TMS_MODEL names a model file to use as it is (for development while data changes).
    With `log`, Rasa's training output goes to that file instead of the terminal.
    """
    override = os.environ.get("TMS_MODEL")
    if override:
        return Path(override)
    path = model_path()
    if path.exists():
        if not quiet:
            print(f"Model is up to date: {path.relative_to(PROJECT_ROOT)}")
        return path
    # One training at a time per project (two `make run`s, parallel test workers): the
    # second waits for the first and then uses its model.
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    with (MODELS_DIR / ".training.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.exists():
            return path
        _train(path, log)
    return path


def _train(path: Path, log: Path | None) -> None:
    where = f" (output in {log})" if log else ""
    print(f"Training the model (config or data changed; a first training takes minutes){where}...", flush=True)
    started = time.monotonic()
    output = None
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        output = log.open("ab")
    try:
        subprocess.run(
            [
                sys.executable, "-m", "rasa", "train",
                "--config", "config.yml", "--domain", "domain.yml", "--data", "data",
                "--out", str(MODELS_DIR), "--fixed-model-name", path.name[: -len(".tar.gz")],
            ],
            cwd=PROJECT_ROOT,
            check=True,
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
        )
    finally:
        if output is not None:
            output.close()
    print(f"Trained {path.name} in {time.monotonic() - started:.0f} s", flush=True)
