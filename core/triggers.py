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


LAYOUTS = ("per-job", "flat")


@dataclasses.dataclass(frozen=True)
class OutputSpec:
    """Where a function's output files go: under `prefix` in `bucket`, each file whose name
    ends with one of `suffix` and starts with one of `name_prefix` (any file when they are
    empty), as OSCAR's FaaS Supervisor filters its outputs. In the `per-job` layout a job's
    files go under its own id, so a re-run overwrites and two jobs never meet; in the `flat`
    layout (OSCAR's) they go straight under the prefix, and a later job's file of the same
    name replaces an earlier one's."""

    bucket: str | None = None
    prefix: str = ""
    layout: str = "per-job"
    suffix: tuple[str, ...] = ()
    name_prefix: tuple[str, ...] = ()

    def key(self, job_id: str, name: str) -> str:
        return self.for_job(job_id).folder() + name

    def for_job(self, job_id: str) -> OutputSpec:
        """This output as one job writes it: in the flat layout, under the job's own folder
        for a per-job output."""
        if self.layout == "flat":
            return self
        prefix = f"{self.prefix}/{job_id}" if self.prefix else job_id
        return dataclasses.replace(self, prefix=prefix, layout="flat")

    def folder(self) -> str:
        """The key prefix its files go under, with its '/' (none at the bucket's top)."""
        return f"{self.prefix}/" if self.prefix else ""

    def takes(self, name: str) -> bool:
        return ((not self.suffix or name.endswith(self.suffix))
                and (not self.name_prefix or name.startswith(self.name_prefix)))

    def to_dict(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"bucket": self.bucket, "prefix": self.prefix}
        if self.layout != "per-job":
            spec["layout"] = self.layout
        if self.suffix:
            spec["suffix"] = list(self.suffix)
        if self.name_prefix:
            spec["name_prefix"] = list(self.name_prefix)
        return spec


def overlaps(inputs: tuple[InputSpec, ...], outputs: tuple[OutputSpec, ...]) -> bool:
    """Whether the function's outputs could trigger the function itself."""
    return any(i.bucket == o.bucket and (o.prefix.startswith(i.prefix)
                                         or i.prefix.startswith(o.prefix))
               for i in inputs for o in outputs)


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
        suffix = _names(entry, "suffix", where, bad)
        interval = entry.get("scan_interval")
        if interval is not None and (isinstance(interval, bool)
                                     or not isinstance(interval, int | float)
                                     or not math.isfinite(interval) or interval < 5):
            bad(f"{where}.scan_interval", "must be a number of seconds, at least 5")
            interval = None
        inputs.append(InputSpec(bucket=bucket, prefix=prefix if isinstance(prefix, str) else "",
                                suffix=suffix, scan_interval=interval))
    return tuple(inputs)


def parse_outputs(value: Any, bad) -> tuple[OutputSpec, ...] | None:
    """None when omitted (the conventions apply); one output as an object, several as a
    list of them (each file goes to every output whose filters it passes)."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return (_output(value, "output", bad),)
    if not isinstance(value, list) or not value:
        bad("output", "must be an object with bucket and prefix, or a non-empty list of them")
        return None
    return tuple(_output(entry, f"output.{index}", bad) for index, entry in enumerate(value))


def _output(value: Any, where: str, bad) -> OutputSpec:
    if not isinstance(value, Mapping):
        bad(where, "must be an object with bucket and prefix")
        return OutputSpec()
    for key in value:
        if key not in ("bucket", "prefix", "layout", "suffix", "name_prefix"):
            bad(f"{where}.{key}", "unknown field")
    bucket, prefix = value.get("bucket"), value.get("prefix") or ""
    if bucket is not None and bucket_problem(bucket):
        bad(f"{where}.bucket", bucket_problem(bucket))
    if isinstance(prefix, str):
        prefix = prefix.strip("/")
    problem = prefix_problem(prefix)
    if problem:
        bad(f"{where}.prefix", problem)
    layout = value.get("layout", "per-job")
    if layout not in LAYOUTS:
        bad(f"{where}.layout", "must be per-job (each job's files under its id) or flat "
                               "(straight under the prefix, as OSCAR writes them)")
    return OutputSpec(bucket=bucket, prefix=prefix if isinstance(prefix, str) else "",
                      layout=layout if layout in LAYOUTS else "per-job",
                      suffix=_names(value, "suffix", where, bad),
                      name_prefix=_names(value, "name_prefix", where, bad))


def _names(value: Mapping, field: str, where: str, bad) -> tuple[str, ...]:
    names = value.get(field) or []
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        bad(f"{where}.{field}", "must be a list of non-empty strings such as ['.jpg']")
        return ()
    return tuple(names)
