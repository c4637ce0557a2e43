"""Quantities in function specs: durations (`30`, `30s`, `5m`, `1h`), memory in bytes
(`512Mi`, `2G`, a number) and CPU cores (`1`, `0.5`, `500m`). Each parser raises ValueError
with a message for the user; non-finite numbers are refused."""

from __future__ import annotations

import math
import re
from typing import Any

DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
MEMORY = re.compile(r"^(\d+)(Ki|Mi|Gi|Ti|k|M|G|T)?$")
_MEMORY_UNITS = {None: 1, "k": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4,
                 "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4}
CPU = re.compile(r"^(\d+(?:\.\d+)?)(m)?$")


def _number(value: Any) -> float | None:
    """A JSON or YAML number as a float; None for anything else (booleans included)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return float(value)


def duration(value: Any) -> float:
    seconds = _number(value)
    if seconds is not None:
        return seconds
    match = DURATION.match(str(value).strip()) if isinstance(value, str) else None
    if not match:
        raise ValueError("must be a duration such as 30, 30s, 5m, 1h or 30d")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


def memory(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = MEMORY.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise ValueError("must be a quantity such as 512Mi, 2Gi or a number of bytes")
    return int(match.group(1)) * _MEMORY_UNITS[match.group(2)]


def cpu(value: Any) -> float:
    cores = _number(value)
    if cores is not None:
        return cores
    match = CPU.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise ValueError("must be a number of cores such as 1, 0.5 or 500m")
    return float(match.group(1)) / (1000 if match.group(2) else 1)
