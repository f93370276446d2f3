"""The REST channel: message ids for retries, and a reply before Sanic's own timeout."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest

from bot.server.channels import rest
from tests.conftest import PROJECT_ROOT, load_yaml


def webhook(on_message):
    blueprint = rest.RestChannel().blueprint(on_message)
    return next(r.handler for r in blueprint._future_routes if r.uri == "/webhook")


def request(**fields):
    return SimpleNamespace(body=json.dumps(fields).encode())


@pytest.mark.parametrize(
    ("environ", "seconds"),
    [({}, 55.0), ({"SANIC_RESPONSE_TIMEOUT": "45"}, 40.0), ({"SANIC_RESPONSE_TIMEOUT": "3"}, 1.0),
     ({"SANIC_RESPONSE_TIMEOUT": "soon"}, 55.0)],
)
def test_a_turn_ends_five_seconds_before_the_response_timeout(environ, seconds):
    assert rest.turn_deadline(environ) == seconds


async def test_the_clients_message_id_reaches_rasa():
    received = []

    async def on_message(message):
        received.append(message)

    result = await webhook(on_message)(request(sender="web-1", message="hi", message_id="web-1.m-7"))
    assert result.status == 200 and [m.message_id for m in received] == ["web-1.m-7"]


async def test_a_turn_that_cannot_finish_in_time_gets_the_technical_problem_reply(monkeypatch):
    monkeypatch.setenv("SANIC_RESPONSE_TIMEOUT", "6")  # a turn may take 1 s

    async def waits_for_a_lock(message):
        await asyncio.sleep(30)

    result = await asyncio.wait_for(webhook(waits_for_a_lock)(request(sender="me", message="hello")), 10)
    expected = load_yaml(PROJECT_ROOT / "domain.yml")["responses"]["utter_technical_problem"][0]["text"]
    assert result.status == 200
    assert json.loads(result.body) == [{"recipient_id": "me", "text": expected}]
