"""The proof that a browser owns a conversation: token = HMAC-SHA256(secret, sender id).

The server makes the website widget's sender id and gives it, with its token, to that
widget only (POST /privacy/api/session); deleting or exporting the conversation needs both.
A sender id alone is not enough: it travels with every message and may appear in logs.
Tokens are stateless (nothing stored per person) and compared in constant time.

The secret is $PRIVACY_SECRET, or else a random one made once and kept in a file next to
the SQLite tracker file (mode 0600, never in the repository: `var/` is git-ignored).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import re
import secrets
import stat
import tempfile
from pathlib import Path
from typing import Any

from bot.server.privacy.settings import PrivacySettings

logger = logging.getLogger(__name__)

# The widget's ids, as the staff inbox accepts them (bot/server/staff/web.py): "web-" and
# 128 random bits in hex. Only ids of this form are given tokens.
WIDGET_SENDER = re.compile(r"^web-[a-z0-9-]{16,64}$")
TOKEN = re.compile(r"^[0-9a-f]{64}$")
SECRET_BYTES = 32


def new_sender_id() -> str:
    return "web-" + secrets.token_hex(16)


def token_for(secret: bytes, sender_id: str) -> str:
    return hmac.new(secret, sender_id.encode("utf-8"), hashlib.sha256).hexdigest()


def token_matches(secret: bytes, sender_id: str, token: Any) -> bool:
    """Constant-time check of a token sent by a browser (a wrong type or form is no match)."""
    if not isinstance(token, str) or not TOKEN.match(token):
        return False
    return hmac.compare_digest(token_for(secret, sender_id).encode("ascii"), token.encode("ascii"))


def load_secret(settings: PrivacySettings) -> bytes:
    """$PRIVACY_SECRET, else the kept secret file (made on first use, readable by its owner only)."""
    if settings.secret:
        return settings.secret.encode("utf-8")
    if settings.shared_database:
        logger.warning(
            "PRIVACY_SECRET is not set: this instance keeps its own secret in %s, so a person's "
            "delete or export only works on the instance that started their conversation. "
            "Set PRIVACY_SECRET on every instance.",
            settings.secret_file,
        )
    return _file_secret(settings.secret_file)


def _file_secret(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Written whole to a private temporary file, then linked into place: two workers
        # starting together agree on one secret, and nobody reads a half-written file.
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".privacy-secret-")
        try:
            with os.fdopen(handle, "w", encoding="ascii") as file:  # mkstemp: mode 0600
                file.write(secrets.token_hex(SECRET_BYTES))
                file.flush()
                os.fsync(file.fileno())
            with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        os.chmod(path, 0o600)
        logger.warning("The privacy secret file was readable by others; it is now mode 0600.")
    secret = path.read_text(encoding="ascii").strip()
    if len(secret) < 32:
        raise ValueError(f"The privacy secret file {path} is damaged: delete it to make a new one.")
    return secret.encode("ascii")
