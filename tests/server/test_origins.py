"""The origin allow-list (bot/server/origins.py) and how bot.server.rasa_server turns it into --cors."""

from __future__ import annotations

import os

import pytest

from bot.server.origins import (
    ENV_VAR,
    InvalidOrigin,
    allowed_origins,
    configured_origins,
    is_allowed,
    normalise_origin,
    own_origins,
    parse_origins,
)
from bot.server.rasa_server import with_allowed_origins


@pytest.mark.parametrize(
    "value, expected",
    [
        ("https://www.example-clinic.org", "https://www.example-clinic.org"),
        ("HTTPS://Example.org:443/", "https://example.org"),
        ("http://example.org:80", "http://example.org"),
        ("http://127.0.0.1:5005", "http://127.0.0.1:5005"),
        ("https://example.org:8443", "https://example.org:8443"),
    ],
)
def test_origins_are_normalised(value: str, expected: str) -> None:
    assert normalise_origin(value) == expected


@pytest.mark.parametrize(
    "value",
    ["*", "https://*.example.org", "example.org", "ftp://example.org", "https://example.org/chat",
     "javascript:alert(1)", "null", "https://exa mple.org", "https://example.org?x=1"],
)
def test_anything_but_an_origin_is_refused(value: str) -> None:
    with pytest.raises(InvalidOrigin):
        normalise_origin(value)


def test_list_is_comma_or_space_separated_without_duplicates() -> None:
    assert parse_origins(" https://a.example, https://b.example  https://A.example/ ,") == [
        "https://a.example", "https://b.example",
    ]
    assert parse_origins("") == [] and parse_origins(None) == []


def test_default_is_the_servers_own_origin() -> None:
    assert allowed_origins("127.0.0.1", 5005, env={}) == ["http://127.0.0.1:5005", "http://localhost:5005"]
    assert allowed_origins("0.0.0.0", 8080, env={}) == ["http://localhost:8080", "http://127.0.0.1:8080"]
    assert own_origins("10.1.2.3", 5005) == ["http://10.1.2.3:5005"]


def test_new_variable_wins_and_the_old_name_still_works() -> None:
    assert configured_origins({ENV_VAR: "https://a.example", "CORS_ORIGINS": "https://b.example"}) == [
        "https://a.example"
    ]
    assert configured_origins({ENV_VAR: " ", "CORS_ORIGINS": "https://b.example"}) == ["https://b.example"]
    assert allowed_origins("127.0.0.1", 5005, env={ENV_VAR: "https://a.example"}) == ["https://a.example"]


@pytest.mark.parametrize(
    "origin, allowed",
    [
        (None, True),  # not a browser request across sites
        ("https://a.example", True),
        ("https://A.example:443", True),
        ("http://127.0.0.1:5005", True),  # the server's own page
        ("https://a.example.evil.org", False),
        ("https://evil.org", False),
        ("http://a.example", False),  # other scheme: another origin
        ("null", False),
    ],
)
def test_is_allowed(origin, allowed: bool) -> None:
    assert is_allowed(origin, ["https://a.example"], own=["http://127.0.0.1:5005"]) is allowed


def test_rasa_server_sets_cors_from_the_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CORS_ORIGINS", raising=False)
    monkeypatch.setenv(ENV_VAR, "https://a.example/, https://b.example")
    args = with_allowed_origins(["run", "--model", "m.tar.gz", "--interface", "127.0.0.1", "--port", "5100"])
    assert args == [
        "run", "--model", "m.tar.gz", "--interface", "127.0.0.1", "--port", "5100",
        "--cors", "https://a.example", "https://b.example",
    ]
    assert os.environ[ENV_VAR] == "https://a.example,https://b.example"  # for the socket.io channel


def test_rasa_server_default_and_empty_cors_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.delenv("CORS_ORIGINS", raising=False)
    # An unset variable in a Procfile leaves a bare --cors: the default applies.
    args = with_allowed_origins(["run", "--port", "5100", "--interface", "127.0.0.1", "--cors"])
    assert args[args.index("--cors") + 1 :] == ["http://127.0.0.1:5100", "http://localhost:5100"]
    explicit = with_allowed_origins(["run", "--cors", "https://c.example"])
    assert explicit[explicit.index("--cors") + 1 :] == ["https://c.example"]


def test_rasa_server_refuses_a_wildcard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "*")
    with pytest.raises(InvalidOrigin):
        with_allowed_origins(["run"])
