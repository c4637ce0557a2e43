"""Bucket names, object keys and prefixes from outside, validated once, at the edge: bucket
names by the S3 rules (what an S3 server or its SDK would refuse later is refused here),
keys and prefixes so that none can name a place outside a job's directories or confuse a
listing (no NUL, no backslash, no absolute paths, no '.' or '..' parts)."""

from __future__ import annotations

import posixpath
import re
from typing import Any

from core.errors import Invalid

MAX_KEY_BYTES = 1024
# Room left in a key for what Sluice adds to a prefix: a job id, a '/' and a file name.
MAX_PREFIX_BYTES = 512
BUCKET_RULE = ("must be an S3 bucket name: 3 to 63 lowercase letters, digits, '.' or '-', "
               "beginning and ending with a letter or digit, without '..', '.-' or '-.', "
               "and not an IP address")
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP_ADDRESS = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
_RESERVED_BUCKET = (("xn--", "sthree-"), ("-s3alias", "--ol-s3"))


def bucket_problem(name: Any) -> str | None:
    """Why `name` cannot be an S3 bucket's, or None."""
    if not isinstance(name, str) or not BUCKET.match(name) or _IP_ADDRESS.match(name) \
            or any(pair in name for pair in ("..", ".-", "-.")) \
            or name.startswith(_RESERVED_BUCKET[0]) or name.endswith(_RESERVED_BUCKET[1]):
        return BUCKET_RULE
    return None


def check_bucket(name: Any) -> str:
    problem = bucket_problem(name)
    if problem:
        raise Invalid(f"{name!r} is not a bucket name: it {problem}")
    return name


def _escapes(path: str) -> bool:
    """Whether a key or prefix could name a place outside the directory it is put under
    (on this machine or another: some servers read a backslash as a separator)."""
    return "\0" in path or "\\" in path or path.startswith("/") or any(
        part in (".", "..") for part in path.split("/"))


def prefix_problem(prefix: Any) -> str | None:
    """Why a key prefix is unsafe, or None when it is fine."""
    if not isinstance(prefix, str):
        return "must be a string"
    encoded = _utf8(prefix)
    if encoded is None or (prefix and _escapes(prefix)):
        return "must be a relative key prefix without '.', '..', '\\' or NUL"
    if len(encoded) > MAX_PREFIX_BYTES:
        return f"must be at most {MAX_PREFIX_BYTES} bytes"
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
                      f"'.', '..', '\\', NUL or a trailing '/'")
    return key


def output_name_problem(name: str, key_prefix: str = "") -> str | None:
    """Why a file a function wrote cannot become an object under `key_prefix` (its name
    came from the file system: bytes that are not UTF-8, control characters, a path too
    long for a key), or None."""
    encoded = _utf8(name)
    if encoded is None:
        return f"output file name {name!r} is not UTF-8"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return f"output file name {name!r} holds control characters"
    if len(key_prefix.encode()) + len(encoded) > MAX_KEY_BYTES:
        return f"output file name {name[:64]!r}... is too long for an object key"
    return None


def file_name(key: str) -> str:
    """The name an object is staged under: its last path part."""
    return posixpath.basename(check_key(key))
