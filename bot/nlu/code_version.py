"""Makes Rasa's training cache see changes to this package's code.

Rasa reuses a component's cached training output when the component's class source, its
config and its inputs are unchanged (rasa/engine/training/fingerprinting.py). The class
source is not enough here: the components call helper modules (the sentence encoder, the
logistic-regression fit, the n-gram features), so editing one of those would leave a stale
cached result inside a model named as if it were fresh (bot/server/training.py names the
model after the same files). Every component of this package adds the source of the whole
package to its fingerprint instead.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any, Dict, Optional, Text

PACKAGE_DIR = Path(__file__).resolve().parent


def source_fingerprint(directory: Path) -> Text:
    """A hash of every Python file under `directory`: names and contents."""
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*.py")):
        digest.update(str(path.relative_to(directory)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


@functools.cache
def package_source_fingerprint() -> Text:
    return source_fingerprint(PACKAGE_DIR)


class PackageFingerprinted:
    """Mixin for the package's GraphComponents (Rasa calls `fingerprint_addon`)."""

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[Text]:
        return package_source_fingerprint()
