"""Time-sortable identifiers: 48 bits of milliseconds and 80 random bits, Crockford base32."""

from __future__ import annotations

import os
import re
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
JOB_ID_PATTERN = re.compile(r"^[0-9a-hjkmnp-tv-z]{26}$")


def new_id(now: float | None = None) -> str:
    millis = int((time.time() if now is None else now) * 1000)
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def is_job_id(text: str) -> bool:
    return bool(JOB_ID_PATTERN.match(text))
