"""Time-sortable identifiers: 48 bits of milliseconds and 80 random bits, Crockford base32.
Within one process they are strictly increasing, also within a millisecond."""

from __future__ import annotations

import os
import re
import threading
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
JOB_ID_PATTERN = re.compile(r"^[0-9a-hjkmnp-tv-z]{26}$")
_lock = threading.Lock()
_last = 0


def new_id(now: float | None = None) -> str:
    global _last
    millis = int((time.time() if now is None else now) * 1000)
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    with _lock:
        if value <= _last and (_last >> 80) >= millis:
            value = _last + 1
        _last = value
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def is_job_id(text: str) -> bool:
    return bool(JOB_ID_PATTERN.match(text))
