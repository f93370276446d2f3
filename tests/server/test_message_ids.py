"""Every channel gives Rasa the client's id for a message, so that a retry is not handled twice.

What Rasa then does with a repeated id is tested in tests/server/patches/test_retries.py
(replies again over REST, nothing more on a platform, stored once) and across two instances
with one killed in tests/test_fault.py.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from bot.server.channels import twilio as tw
from tests.server.test_bad_bodies import (  # noqa: F401 - `server` is a fixture
    FORM_TYPE,
    JSON_TYPE,
    SECRET,
    TELEGRAM_PATH,
    TWILIO_PATH,
    server,
    signed,
    twilio_form,
    update_bytes,
)


async def test_rest_passes_the_widgets_message_id(server):  # noqa: F811
    body = {"sender": "web-1", "message": "hi", "message_id": "m-0123abcd"}
    status, _ = await server.post("/webhooks/rest/webhook", json.dumps(body).encode(), JSON_TYPE)
    assert status == 200 and [m.message_id for m in server.agent.handled] == ["m-0123abcd"]


async def test_telegram_uses_the_update_id(server):  # noqa: F811
    status, _ = await server.post(TELEGRAM_PATH, update_bytes("hi", 901), JSON_TYPE, SECRET)
    assert status == 200 and [m.message_id for m in server.agent.handled] == ["telegram-901"]


async def test_telegram_redelivery_to_the_same_instance_is_not_handled_again(server):  # noqa: F811
    for _ in range(2):
        assert (await server.post(TELEGRAM_PATH, update_bytes("hi", 902), JSON_TYPE, SECRET))[0] == 200
    assert [m.message_id for m in server.agent.handled] == ["telegram-902"]


async def test_twilio_uses_the_message_sid(server):  # noqa: F811
    form = twilio_form()
    status, _ = await server.post(TWILIO_PATH, urlencode(form).encode(), FORM_TYPE, signed(form))
    assert status == 200 and [m.message_id for m in server.agent.handled] == ["twilio-SM" + "1" * 32]


@pytest.mark.parametrize(("sid", "expected"), [
    ("SM" + "a" * 32, "twilio-SM" + "a" * 32), ("", None), ("SM<script>", None), ("x" * 65, None),
])
def test_only_a_well_formed_sid_becomes_an_id(sid, expected):
    form = tw.FormParams({"MessageSid": [sid]})
    assert tw.message_id_of(form) == expected
