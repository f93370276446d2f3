"""Settings, the ownership tokens and their secret, and the rate limiter."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from bot.server.privacy.limiter import RateLimiter
from bot.server.privacy.settings import PrivacySettings
from bot.server.privacy.tokens import (
    WIDGET_SENDER,
    load_secret,
    new_sender_id,
    token_for,
    token_matches,
)

SECRET = b"s" * 32


def test_settings_defaults_and_checks(tmp_path: Path) -> None:
    settings = PrivacySettings.from_env({})
    assert (settings.retention_days, settings.secret, settings.secret_file) == (30, None, Path("var/privacy-secret"))
    settings = PrivacySettings.from_env(
        {"RETENTION_DAYS": " 90 ", "PRIVACY_SECRET": "x" * 40, "TRACKER_DB_PATH": str(tmp_path / "db" / "t.db")}
    )
    assert (settings.retention_days, settings.secret_file) == (90, tmp_path / "db" / "privacy-secret")
    assert "x" * 40 not in repr(settings), "the secret stays out of logs"
    for bad in ("0", "-1", "3651", "30d", "1.5"):
        with pytest.raises(ValueError, match="RETENTION_DAYS"):
            PrivacySettings.from_env({"RETENTION_DAYS": bad})
    with pytest.raises(ValueError, match="PRIVACY_SECRET must be at least 32") as raised:
        PrivacySettings.from_env({"PRIVACY_SECRET": "short-secret"})
    assert "short-secret" not in str(raised.value)


def test_tokens_prove_one_sender_only() -> None:
    sender = new_sender_id()
    assert WIDGET_SENDER.match(sender) and len(sender) == 36
    token = token_for(SECRET, sender)
    assert token_matches(SECRET, sender, token)
    assert not token_matches(SECRET, new_sender_id(), token)
    assert not token_matches(b"t" * 32, sender, token)
    for wrong in (None, 5, "", token.upper(), token + "0", token[:-1], ["x"]):
        assert not token_matches(SECRET, sender, wrong)


def test_the_secret_comes_from_the_environment_or_a_private_file(tmp_path: Path, caplog) -> None:
    env_secret = "e" * 40
    assert load_secret(PrivacySettings(secret=env_secret, secret_file=tmp_path / "unused")) == env_secret.encode()
    assert not (tmp_path / "unused").exists()
    path = tmp_path / "var" / "privacy-secret"
    made = load_secret(PrivacySettings(secret_file=path))
    assert len(made) == 64 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_secret(PrivacySettings(secret_file=path)) == made, "made once, then kept"
    assert [p.name for p in path.parent.iterdir()] == ["privacy-secret"], "no temporary file left"
    os.chmod(path, 0o644)
    with caplog.at_level(logging.WARNING):
        assert load_secret(PrivacySettings(secret_file=path, shared_database=True)) == made
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "Set PRIVACY_SECRET on every instance" in caplog.text
    assert made.decode() not in caplog.text
    path.write_text("short")
    with pytest.raises(ValueError, match="damaged"):
        load_secret(PrivacySettings(secret_file=path))


def test_the_rate_limiter_counts_per_address_in_a_sliding_window() -> None:
    now = [100.0]
    limiter = RateLimiter(limit=3, window=60, max_addresses=2, clock=lambda: now[0])
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b")
    assert limiter.retry_after("a") == 60
    now[0] += 59.5
    assert not limiter.allow("a") and limiter.retry_after("a") == 1
    now[0] += 1
    assert limiter.allow("a"), "the first requests left the window"
    limiter.allow("c")  # a third address: the least recently seen ("b") is forgotten
    assert set(limiter._seen) == {"a", "c"}
