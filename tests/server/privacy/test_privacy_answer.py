"""The answer to "is this private?" / "delete this chat" (utter_privacy in domain.yml), per channel.

Rasa picks the variation whose `channel` is the output channel's name; each must name the
controls that channel really has: the widget's own menu labels, the Telegram commands and
the SMS keyword that bot/server/privacy/messaging.py answers.
"""

from __future__ import annotations

import re

import pytest
from rasa.core.nlg import TemplatedNaturalLanguageGenerator

from bot.server.channels.socketio import SocketIOChannel
from bot.server.channels.telegram import TelegramBotOutput
from bot.server.channels.twilio import TwilioMessagingOutput
from bot.server.privacy.messaging import SMS_FORGET, TELEGRAM_COMMAND
from tests.conftest import PROJECT_ROOT

WIDGET_JS = PROJECT_ROOT / "bot" / "widget" / "static" / "tms-widget.js"
# What the REST channel's replies are collected by (the widget posts there).
REST_OUTPUT = "collector"


def privacy_answer(domain, channel: str) -> str:
    nlg = TemplatedNaturalLanguageGenerator(domain["responses"])
    return nlg.generate_from_slots("utter_privacy", {}, channel)["text"]


def widget_labels():
    script = WIDGET_JS.read_text(encoding="utf-8")
    labels = re.search(r"download: '([^']+)', clear: '([^']+)'", script)
    assert labels, "the widget's TEXT labels moved"
    assert "'\\u22ef'" in script  # the options button's face
    return labels[1], labels[2]


@pytest.mark.parametrize("channel", [REST_OUTPUT, SocketIOChannel.name()])
def test_the_website_answer_names_the_widgets_own_menu_and_buttons(domain, channel):
    download, clear = widget_labels()
    text = privacy_answer(domain, channel)
    assert "(\u22ef)" in text
    assert f'"{download}"' in text and f'"{clear}"' in text
    assert "/forget" not in text and "FORGET" not in text


def test_the_telegram_answer_names_the_commands_the_connector_answers(domain):
    text = privacy_answer(domain, TelegramBotOutput.name())
    commands = re.findall(r"/\w+", text)
    assert sorted(commands) == ["/export", "/forget"]
    assert all(TELEGRAM_COMMAND.match(command) for command in commands)
    assert "\u22ef" not in text


def test_the_sms_answer_names_the_keyword_the_connector_answers(domain):
    text = privacy_answer(domain, TwilioMessagingOutput.name())
    keywords = re.findall(r"\b[A-Z]{4,}\b", text)
    assert keywords == ["FORGET"] and SMS_FORGET.match(keywords[0])
    assert "\u22ef" not in text and "/forget" not in text


def test_every_channel_is_told_the_same_about_what_is_kept_and_who_sees_it(domain):
    openings = {
        privacy_answer(domain, channel).split(" To delete")[0]
        for channel in (REST_OUTPUT, TelegramBotOutput.name(), TwilioMessagingOutput.name())
    }
    [opening] = openings
    assert "deleted on their own" in opening and "talk to a person" in opening
    # The number of days is the clinic's setting (RETENTION_DAYS), shown on the privacy page.
    assert not re.search(r"\d", opening)
