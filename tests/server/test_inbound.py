import json

import pytest

from bot.server.channels.inbound import MAX_BODY_BYTES, InvalidMessage, clean_text, parse_rest_body


def body(**fields):
    return json.dumps(fields).encode()


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"", 400),
        (b"{not json", 400),
        (b"\xff\xfe", 400),
        (b"[1, 2]", 400),
        (b'"just a string"', 400),
        (body(message="hi"), 400),  # no sender: never mix people's conversations
        (body(sender="", message="hi"), 400),
        (body(sender=42, message="hi"), 400),
        (body(sender="a b", message="hi"), 400),
        (body(sender="x" * 129, message="hi"), 400),
        (body(sender="u1"), 400),
        (body(sender="u1", message=None), 400),
        (body(sender="u1", message=["hi"]), 400),
        (body(sender="u1", message=""), 400),
        (body(sender="u1", message="   \n\t "), 400),
        (body(sender="u1", message="\u200b\u200b"), 400),
        (body(sender="u1", message="hi", metadata="x"), 400),
        (body(sender="u1", message="x" * (MAX_BODY_BYTES + 1)), 413),
    ],
)
def test_bad_requests_get_a_clear_status(raw, status):
    with pytest.raises(InvalidMessage) as error:
        parse_rest_body(raw)
    assert error.value.status == status
    assert error.value.reason


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("How long is a session?", "How long is a session?"),
        ("  padded  ", "padded"),
        ("null\x00byte", "nullbyte"),
        ("bell\x07 and esc\x1b[31m", "bell and esc[31m"),
        ("zero\u200bwidth", "zerowidth"),
        ("line\nbreak", "line\nbreak"),
        ("e\u0301", "\u00e9"),  # NFC
        ("مرحبا TMS", "مرحبا TMS"),
        ("🙂🙂", "🙂🙂"),
        ("<img src=x onerror=alert(1)>", "<img src=x onerror=alert(1)>"),  # text, escaped by clients
    ],
)
def test_text_is_cleaned_but_kept(message, expected):
    assert clean_text(message) == expected


def test_a_valid_request_is_parsed():
    assert parse_rest_body(body(sender="web:abc-123", message="hi", metadata={"locale": "en-US"})) == (
        "web:abc-123", "hi", {"locale": "en-US"},
    )
