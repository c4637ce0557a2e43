"""Storage triggers: which uploads start a function, and the folder conventions (SCAR's)
for functions that name none."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from core.keys import bucket_problem, prefix_problem


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """Objects created in `bucket` under `prefix`, ending with one of `suffix` if any."""

    bucket: str | None
    prefix: str = ""
    suffix: tuple[str, ...] = ()
    scan_interval: float | None = None

    def matches(self, bucket: str, key: str) -> bool:
        return (bucket == self.bucket and key.startswith(self.prefix)
                and (not self.suffix or key.endswith(self.suffix)))

    def to_dict(self) -> dict[str, Any]:
        return {"bucket": self.bucket, "prefix": self.prefix, "suffix": list(self.suffix),
                "scan_interval": self.scan_interval}


@dataclasses.dataclass(frozen=True)
class OutputSpec:
    bucket: str | None = None
    prefix: str = ""

    def key(self, job_id: str, name: str) -> str:
        """Where a job's output file goes: under its own id, so a re-run overwrites."""
        return f"{self.prefix}/{job_id}/{name}" if self.prefix else f"{job_id}/{name}"


def overlaps(inputs: tuple[InputSpec, ...], output: OutputSpec) -> bool:
    """Whether the function's outputs could trigger the function itself."""
    return any(i.bucket == output.bucket and (output.prefix.startswith(i.prefix)
                                              or i.prefix.startswith(output.prefix))
               for i in inputs)


def parse_inputs(value: Any, bad) -> tuple[InputSpec, ...] | None:
    """None when omitted (the conventions apply); otherwise every entry validated."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list):
        bad("input", "must be a list of {bucket, prefix, suffix}")
        return ()
    inputs = []
    for index, entry in enumerate(value):
        where = f"input.{index}"
        if not isinstance(entry, Mapping):
            bad(where, "must be an object with bucket, prefix and suffix")
            continue
        for key in entry:
            if key not in ("bucket", "prefix", "suffix", "scan_interval"):
                bad(f"{where}.{key}", "unknown field")
        bucket = entry.get("bucket")
        if bucket is not None and bucket_problem(bucket):
            bad(f"{where}.bucket", bucket_problem(bucket))
        prefix = entry.get("prefix") or ""
        if isinstance(prefix, str):
            prefix = prefix.lstrip("/")
        problem = prefix_problem(prefix)
        if problem:
            bad(f"{where}.prefix", problem)
        suffix = entry.get("suffix") or []
        if isinstance(suffix, str):
            suffix = [suffix]
        if not isinstance(suffix, list) or not all(isinstance(s, str) and s for s in suffix):
            bad(f"{where}.suffix", "must be a list of non-empty strings such as ['.jpg']")
            suffix = []
        interval = entry.get("scan_interval")
        if interval is not None and (isinstance(interval, bool)
                                     or not isinstance(interval, int | float)
                                     or not math.isfinite(interval) or interval < 5):
            bad(f"{where}.scan_interval", "must be a number of seconds, at least 5")
            interval = None
        inputs.append(InputSpec(bucket=bucket, prefix=prefix if isinstance(prefix, str) else "",
                                suffix=tuple(suffix), scan_interval=interval))
    return tuple(inputs)


def parse_output(value: Any, bad) -> OutputSpec | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        bad("output", "must be an object with bucket and prefix")
        return None
    bucket, prefix = value.get("bucket"), value.get("prefix") or ""
    if bucket is not None and bucket_problem(bucket):
        bad("output.bucket", bucket_problem(bucket))
    if isinstance(prefix, str):
        prefix = prefix.strip("/")
    problem = prefix_problem(prefix)
    if problem:
        bad("output.prefix", problem)
    return OutputSpec(bucket=bucket, prefix=prefix if isinstance(prefix, str) else "")
