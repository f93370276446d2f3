"""Every patch of a framework's internals, installed through one door that checks versions.

The Rasa server replaces a few private methods of Rasa, TensorFlow/Keras, SciPy, jsonschema
and SQLAlchemy-backed Rasa classes:

- speedups.py: per-message speed-ups that decide exactly as Rasa does ($TMS_SPEEDUPS=0
  leaves them out, to measure the difference);
- takeover.py: crisis language is still answered while a professional has the
  conversation (Rasa's paused conversations skip every rule);
- retries.py: a message retried by its client (same message id), on any instance, is not
  handled a second time;
- the tracker store's SQLAlchemy Core statements (bot/server/stores.py), which read and
  write Rasa's own table the way Rasa's ORM code does.

Each was written and tested (tests/server/patches/, equivalence tests against Rasa's own
code) for the exact versions in WRITTEN_FOR. `install()` checks them first: on any other
version it logs one line and installs nothing, and the tracker store uses Rasa's own code,
so an upgrade runs Rasa as it is (slower, without crisis replies during a takeover, and
with retried messages handled again)
instead of failing at start-up or at the first message.

The action server fallback (bot/server/resilience.py) is not here: it wraps the public
`Action.run` every Rasa action has, and it is a feature that is always on.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

logger = logging.getLogger(__name__)

# Distribution name -> the version the patches were written and tested against.
WRITTEN_FOR: Dict[str, str] = {
    "rasa": "3.6.21",
    "tensorflow": "2.12.0",
    "keras": "2.12.0",
    "scipy": "1.10.1",
    "jsonschema": "4.17.3",
    "SQLAlchemy": "1.4.54",
}


def installed_version(distribution: str) -> Optional[str]:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def version_mismatches() -> List[str]:
    """"name found (patches written for X)" for each package whose version differs."""
    wrong = []
    for distribution, expected in WRITTEN_FOR.items():
        found = installed_version(distribution)
        if found != expected:
            wrong.append(f"{distribution} {found or 'missing'} (written for {expected})")
    return wrong


def versions_checked() -> bool:
    """True when every patched package is the version the patches were written for."""
    return not version_mismatches()


@dataclass
class Installed:
    """What install() did: `active` is False when the versions did not match."""

    active: bool
    names: List[str] = field(default_factory=list)


_STATE: Optional[Installed] = None
# (owner, attribute) -> the attribute as it was before its first replacement.
_ORIGINALS: Dict[Tuple[Any, str], Any] = {}


def replace(owner: Any, name: str, value: Any) -> None:
    """Sets owner.name, remembering the original the first time (uninstall_all restores it)."""
    key = (owner, name)
    if key not in _ORIGINALS:
        _ORIGINALS[key] = owner.__dict__[name]
    setattr(owner, name, value)


def original(owner: Any, name: str) -> Any:
    """The attribute as Rasa defined it, whether or not it is replaced now."""
    return _ORIGINALS.get((owner, name), owner.__dict__[name])


def install(environ: Mapping[str, str] = os.environ) -> Installed:
    """Installs the patches once per process, or none (one log line) on other versions."""
    global _STATE
    if _STATE is not None:
        return _STATE
    wrong = version_mismatches()
    if wrong:
        logger.warning(
            "Rasa runs unpatched (slower; no crisis replies while staff have a conversation; retried "
            "messages handled again): "
            "the patches in bot/server/patches were written for other versions: %s.",
            "; ".join(wrong),
        )
        _STATE = Installed(active=False)
        return _STATE
    from bot.server.patches.retries import install_retry_check
    from bot.server.patches.speedups import install_speedups
    from bot.server.patches.takeover import install_crisis_during_takeover

    install_crisis_during_takeover()
    install_retry_check()
    _STATE = Installed(active=True, names=["crisis_during_takeover", "retry_check", *install_speedups(environ)])
    return _STATE


def uninstall_all() -> None:
    """Puts back every replaced attribute (tests use it so patches never leak between them)."""
    global _STATE
    for (owner, name), value in _ORIGINALS.items():
        setattr(owner, name, value)
    _ORIGINALS.clear()
    _STATE = None
    from bot.server.patches import speedups

    speedups.forget_installed()
