import json

import pytest

from bot.server.channels.inbound import (
    FORM_TYPE,
    MAX_BODY_BYTES,
    MAX_JSON_DEPTH,
    InvalidMessage,
    clean_text,
    media_type,
    nested_deeper_than,
    parse_rest_body,
    read_form,
    read_json,
)


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
        "web:abc-123", "hi", {"locale": "en-US"}, None,
    )


def test_a_message_id_is_kept_for_retries():
    assert parse_rest_body(body(sender="u1", message="hi", message_id="web-3f2a.7")).message_id == "web-3f2a.7"


@pytest.mark.parametrize("message_id", ["", 7, ["a"], {"a": 1}, "has space", "x" * 129, "new\nline", "<b>"])
def test_a_bad_message_id_is_refused(message_id):
    with pytest.raises(InvalidMessage) as refused:
        parse_rest_body(body(sender="u1", message="hi", message_id=message_id))
    assert refused.value.status == 400 and "'message_id'" in refused.value.reason


# --- Request bodies: every channel reads them through these ---------------------------------

NOT_JSON = "The request body is not valid JSON."
NOT_UTF8 = "The request body is not UTF-8 text."
TOO_DEEP = f"The request body is nested more than {MAX_JSON_DEPTH} levels deep."
MULTIPART = (
    b'--b0undary\r\nContent-Disposition: form-data; name="sender"\r\n\r\nu1\r\n'
    b'--b0undary\r\nContent-Disposition: form-data; name="message"\r\n\r\nhi\r\n--b0undary--\r\n'
)


def nested(levels: int) -> bytes:
    """A REST body whose metadata nests lists so that the whole body is `levels` deep."""
    inner = levels - 1  # the body's own object is the first level
    return b'{"sender": "u1", "message": "hi", "metadata": {"deep": ' + b"[" * (inner - 1) + b"]" * (inner - 1) + b"}}"


@pytest.mark.parametrize(
    ("raw", "status", "reason"),
    [
        (b'{"sender":"a","message":"hi","metadata":' + b"[" * 5000 + b"]" * 5000 + b"}", 400, TOO_DEEP),
        (b"[" * 100_000, 413, f"The request is larger than {MAX_BODY_BYTES // 1024} KB."),
        (b"[" * 10_000, 400, TOO_DEEP),  # unbalanced, and too deep before it is anything else
        (nested(MAX_JSON_DEPTH + 1), 400, TOO_DEEP),
        (body(sender="u1", message="hi").decode().encode("utf-16"), 400, NOT_UTF8),
        (b'{"sender": "u1", "message": "\xed\xa0\x80"}', 400, NOT_UTF8),  # a surrogate, UTF-8 encoded
        (b'{"sender": "u1", "message": "h\x00i"}', 400, NOT_JSON),  # a raw NUL inside a string
        (b'\x00{"sender": "u1", "message": "hi"}', 400, NOT_JSON),
        (b"sender=u1&message=hi", 400, NOT_JSON),
        (MULTIPART, 400, NOT_JSON),
        (b"   ", 400, NOT_JSON),
        (body(sender="u1\n", message="hi"), 400, None),  # a newline would make another conversation
    ],
    ids=["deep-5000", "huge-deep", "unbalanced-deep", "one-level-too-deep", "utf-16-bom", "encoded-surrogate",
         "raw-nul", "leading-nul", "form", "multipart", "blank", "sender-newline"],
)
def test_bodies_that_cannot_be_read_get_a_clear_4xx(raw, status, reason):
    with pytest.raises(InvalidMessage) as error:
        parse_rest_body(raw)
    assert error.value.status == status
    if reason is not None:
        assert error.value.reason == reason
    assert json.loads(error.value.as_response().body) == {"error": error.value.reason}
    assert error.value.as_response().status == status


@pytest.mark.parametrize(
    ("raw", "message", "metadata"),
    [
        (b"\xef\xbb\xbf" + body(sender="u1", message="hi"), "hi", None),  # a UTF-8 byte-order mark
        (b'{"sender": "u1", "message": "h\\u0000i"}', "hi", None),  # NUL, escaped
        (b'{"sender": "u1", "message": "hi \\ud83d"}', "hi", None),  # half an emoji (a lone surrogate)
        (b'{"sender": "u1", "message": "\\ud83d\\ude00 hi"}', "\U0001F600 hi", None),  # a whole one
        (nested(MAX_JSON_DEPTH), "hi", {"deep": json.loads("[" * (MAX_JSON_DEPTH - 2) + "]" * (MAX_JSON_DEPTH - 2))}),
        (b'{"sender": "u1", "message": "[[[[ {{ \\"]]]]", "metadata": {"k": "[[[["}}', '[[[[ {{ "]]]]', {"k": "[[[["}),
    ],
    ids=["utf-8-bom", "escaped-nul", "lone-surrogate", "surrogate-pair", "as-deep-as-allowed", "brackets-in-strings"],
)
def test_odd_but_readable_bodies_are_kept(raw, message, metadata):
    assert parse_rest_body(raw) == ("u1", message, metadata, None)


def test_nesting_is_counted_outside_strings_only():
    assert not nested_deeper_than('{"a": "[[[[[[[[", "b": ["]"]}', 2)
    assert nested_deeper_than('{"a": [[["x"]]]}', 3)
    assert not nested_deeper_than('{"a": [[["x"]]]}', 4)
    assert not nested_deeper_than('"\\\\" [ ]', 1)  # an escaped backslash ends the string


@pytest.mark.parametrize(
    ("raw", "fields"),
    [
        (b"Body=hi&FromCity=&From=%2B1555", {"Body": ["hi"], "FromCity": [""], "From": ["+1555"]}),
        (b"Body=a%00b", {"Body": ["a\x00b"]}),  # kept as sent: the signature covers it; text is cleaned later
        (b"Body=%ED%A0%80", {"Body": ["\ufffd\ufffd\ufffd"]}),
        (b"", {}),
    ],
)
def test_forms_keep_blank_fields(raw, fields):
    assert read_form(raw, 1024, 10) == fields


@pytest.mark.parametrize(
    ("raw", "status", "reason"),
    [
        (b"Body=" + b"x" * 2000, 413, "The request is larger than 1 KB."),
        (b"Body=\xff\xfe", 400, NOT_UTF8),
        ("Body=hi".encode("utf-16"), 400, NOT_UTF8),
        (b"&".join(b"f%d=1" % n for n in range(11)), 400, "The form has more than 10 fields."),
    ],
)
def test_forms_that_cannot_be_read_get_a_clear_4xx(raw, status, reason):
    with pytest.raises(InvalidMessage) as error:
        read_form(raw, 1024, 10)
    assert (error.value.status, error.value.reason) == (status, reason)


def test_json_is_read_whatever_the_content_type_says_and_media_types_are_compared_bare():
    assert read_json(b'{"a": 1}', 1024) == {"a": 1}
    assert media_type({"content-type": "Application/X-WWW-Form-Urlencoded; charset=UTF-8"}) == FORM_TYPE
    assert media_type({}) is None and media_type({"content-type": ""}) is None
