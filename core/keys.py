"""Object keys and prefixes from outside: validated so that none can name a place outside a
job's directories or confuse a listing (no NUL, no absolute paths, no '.' or '..' parts)."""

from __future__ import annotations

import posixpath
from typing import Any

from core.errors import Invalid

MAX_KEY_BYTES = 1024


def _escapes(path: str) -> bool:
    """Whether a key or prefix could name a place outside the directory it is put under."""
    return "\0" in path or path.startswith("/") or any(
        part in (".", "..") for part in path.split("/"))


def prefix_problem(prefix: Any) -> str | None:
    """Why a key prefix is unsafe, or None when it is fine."""
    if not isinstance(prefix, str):
        return "must be a string"
    if prefix and _escapes(prefix):
        return "must be a relative key prefix without '.', '..' or NUL"
    return None


def _utf8(text: str) -> bytes | None:
    try:
        return text.encode()
    except UnicodeEncodeError:
        return None


def check_key(key: Any) -> str:
    """Return the key if it is safe to turn into a file name; raise Invalid otherwise."""
    if not isinstance(key, str) or not key.strip():
        raise Invalid("an object key must be a string that is not empty or only spaces")
    encoded = _utf8(key)
    if encoded is None:
        raise Invalid(f"object key {key!r} is refused: it is not valid Unicode text")
    if len(encoded) > MAX_KEY_BYTES:
        raise Invalid(f"an object key must be at most {MAX_KEY_BYTES} bytes")
    if _escapes(key) or key.endswith("/"):
        raise Invalid(f"object key {key!r} is refused: it must be a relative path without "
                      f"'.', '..', NUL or a trailing '/'")
    return key


def output_name_problem(name: str) -> str | None:
    """Why a file a function wrote cannot become an object (its name came from the file
    system: bytes that are not UTF-8, control characters), or None."""
    if _utf8(name) is None:
        return f"output file name {name!r} is not UTF-8"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return f"output file name {name!r} holds control characters"
    return None


def file_name(key: str) -> str:
    """The name an object is staged under: its last path part."""
    return posixpath.basename(check_key(key))
