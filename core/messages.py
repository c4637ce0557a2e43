"""Messages: an invocation's body with its content type. The function always reads the bytes
at `INPUT_FILE_PATH`; a short text or JSON message is also given as `MESSAGE`, as Abaco gives
its actors `MSG`, so that a script need not read a file for it."""

from __future__ import annotations

import re

from core.errors import BadRequest

DEFAULT_CONTENT_TYPE = "application/octet-stream"
MESSAGE_MAX_BYTES = 64 * 1024
MAX_CONTENT_TYPE = 255
_CONTENT_TYPE = re.compile(f"[\\x20-\\x7e]{{1,{MAX_CONTENT_TYPE}}}")


def content_type(value: str | None) -> str | None:
    """The content type an invocation was sent with, as it is kept on its job (None when
    none or an empty one was given). One that could not be kept is a `BadRequest`."""
    if not value:
        return None
    if not _CONTENT_TYPE.fullmatch(value):
        raise BadRequest(f"Content-Type must be at most {MAX_CONTENT_TYPE} visible ASCII "
                         "characters")
    return value


def is_text(kind: str | None) -> bool:
    """Text (`text/*`) or JSON (`application/json`, `application/*+json`)."""
    media = (kind or "").partition(";")[0].strip().lower()
    return media.startswith("text/") or media == "application/json" or media.endswith("+json")


def text_of(body: bytes) -> str | None:
    """The body as a variable can hold it: UTF-8 without NUL (no environment variable can
    hold a NUL), at most `MESSAGE_MAX_BYTES`; None otherwise."""
    if len(body) > MESSAGE_MAX_BYTES or b"\0" in body:
        return None
    try:
        return body.decode()
    except UnicodeDecodeError:
        return None
