"""Which bodies are also given as MESSAGE, and which content types can be kept."""

from __future__ import annotations

import pytest

from core.errors import BadRequest
from core.messages import MESSAGE_MAX_BYTES, content_type, is_text, text_of


def message_text(kind, body):
    """What the invocation contract gives as MESSAGE (workers/contract.py)."""
    return text_of(body) if is_text(kind) else None


@pytest.mark.parametrize("kind", ["text/plain", "text/csv; charset=utf-8", "TEXT/HTML",
                                  "application/json", "application/ld+json",
                                  " application/json ; charset=utf-8"])
def test_text_and_json_are_messages(kind):
    assert message_text(kind, "é {\"a\": 1}\n".encode()) == "é {\"a\": 1}\n"


@pytest.mark.parametrize("kind, body", [
    ("application/octet-stream", b"plain"), (None, b"plain"), ("image/png", b"plain"),
    ("application/x-www-form-urlencoded", b"a=1"), ("text/plain", b"a\0b"),
    ("text/plain", b"caf\xe9"), ("text/plain", b"\xed\xa0\x80"),
    ("text/plain", b"x" * (MESSAGE_MAX_BYTES + 1)),
])
def test_other_bodies_are_not(kind, body):
    assert message_text(kind, body) is None


def test_a_message_of_the_largest_size_is_whole():
    assert message_text("text/plain", b"x" * MESSAGE_MAX_BYTES) == "x" * MESSAGE_MAX_BYTES


def test_a_content_type_is_kept_as_sent_and_an_empty_one_is_none():
    assert content_type("text/plain; charset=UTF-8") == "text/plain; charset=UTF-8"
    assert content_type("") is None and content_type(None) is None


@pytest.mark.parametrize("value", ["t" * 256, "text/plain\x7f", "text/pl\u00e4in",
                                   "text/plain\udcff"])
def test_a_content_type_that_cannot_be_kept_is_a_bad_request(value):
    with pytest.raises(BadRequest, match="Content-Type must be at most 255 visible ASCII"):
        content_type(value)
