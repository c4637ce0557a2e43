"""The staging protocol inside a Kubernetes Job's pod, which shares one `emptyDir` mounted at
`/sluice` between four containers:

1. `stage-in` (init container, the Sluice image) downloads the input, copies `WRAPPER` in,
   and makes the pipe `.alive`;
2. `stdout` (a native sidecar, the Sluice image) writes the file `stdout` to its own stdout
   as it grows, so that its container log is the function's stdout as it is printed;
3. `function` (the function's image) runs the command through the wrapper, which holds
   `.alive` open while it lives, writes the command's stdout to `stdout` and its exit code
   to `exit-code`; stderr stays the container's log;
4. `stage-out` (the Sluice image) reads `.alive` to its end, which comes when the wrapper
   exits or its container is killed (out of memory, say), uploads the outputs, stdout and
   the files in `results/` (each one a result), and writes the result document that the
   worker reads.

Nothing here talks to Kubernetes; the same steps run as plain processes in the tests."""

from __future__ import annotations

import dataclasses
import json
import os
import select
import signal
import time
from pathlib import Path
from typing import Any, BinaryIO

from core.errors import Invalid
from core.jobs import OutputObject
from core.keys import check_key, prefix_problem
from core.objects import ObjectStore
from core.results import MAX_PER_JOB
from core.triggers import OutputSpec, parse_outputs
from workers import result_files
from workers.staging import checked_outputs, upload_outputs
from workers.workdir import Workdir

ROOT = Path("/sluice")
PLAN_VARIABLE = "SLUICE_STAGING"
WRAPPER = """\
#!/bin/sh
# Sluice's wrapper: holds .alive open while it lives (the uploader waits for its end),
# keeps stdout in a file (stderr stays the container's log) and records the exit code.
dir=${SLUICE_DIR:-/sluice}
exec 9<>"$dir/.alive"
: >"$dir/started"
cd "$dir/output" || exit 70
"$@" >"$dir/stdout" 9>&-
code=$?
printf '%s\\n' "$code" >"$dir/exit-code"
exit "$code"
"""


@dataclasses.dataclass(frozen=True)
class StagingPlan:
    """What the staging containers of one attempt do, passed to them as JSON."""

    job: str
    input_name: str
    outputs: list[dict[str, Any]]
    """Where the outputs go, in the flat layout (`OutputSpec.to_dict`)."""
    metadata: dict[str, str]
    result_bucket: str
    result_key: str
    stdout_key: str
    input_bucket: str | None = None
    input_key: str | None = None
    results_prefix: str | None = None
    """Where the result files go, one object each, numbered in the order of their names."""

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> StagingPlan:
        try:
            plan = cls(**json.loads(text))
        except (TypeError, ValueError) as exc:
            raise Invalid(f"{PLAN_VARIABLE} is not a staging plan: {exc}") from exc
        if "/" in plan.input_name or plan.input_name in ("", ".", ".."):
            raise Invalid(f"{PLAN_VARIABLE}: input_name must be a file name")
        for key in (plan.input_key, plan.result_key, plan.stdout_key):
            if key is not None:
                check_key(key)
        problem = prefix_problem(plan.results_prefix) if plan.results_prefix is not None \
            else None
        if problem:
            raise Invalid(f"{PLAN_VARIABLE}: results_prefix {problem}")
        plan.places()
        return plan

    def places(self) -> tuple[OutputSpec, ...]:
        errors: list[str] = []
        places = parse_outputs(self.outputs, lambda path, problem: errors.append(
            f"{path} {problem}")) or ()
        if errors or any(p.bucket is None or p.layout != "flat" for p in places):
            raise Invalid(f"{PLAN_VARIABLE}: outputs must be flat places with a bucket "
                          f"({'; '.join(errors) or 'one is not'})")
        return places

    @classmethod
    def from_env(cls) -> StagingPlan:
        text = os.environ.get(PLAN_VARIABLE)
        if not text:
            raise Invalid(f"{PLAN_VARIABLE} is not set: the staging commands run in a "
                          "Sluice Job's pod")
        return cls.from_json(text)


def stage_in(plan: StagingPlan, objects: ObjectStore, root: Path = ROOT) -> Path:
    """The init container's work: directories, the input, the wrapper and the pipe."""
    dirs = Workdir.at(root)
    for directory in dirs.kept_dirs:
        directory.mkdir(parents=True, exist_ok=True)
    path = dirs.input_dir / plan.input_name
    if plan.input_key is not None and plan.input_bucket is not None:
        objects.download(plan.input_bucket, plan.input_key, path)
    else:
        path.touch()
    wrapper = root / "run"
    wrapper.write_text(WRAPPER)
    wrapper.chmod(0o755)
    alive = root / ".alive"
    if not alive.exists():
        os.mkfifo(alive, 0o666)
    # The function's image may run as any user: let it write its outputs and results.
    dirs.output_dir.chmod(0o1777)
    dirs.results_dir.chmod(0o1777)
    return path


def wait_for_function(root: Path = ROOT, poll: float = 0.05) -> int | None:
    """Wait until the wrapper is gone: its exit code, or None when its container was killed
    before it could record one. The wrapper holds `.alive` open from before it marks itself
    `started`, so once it has started, an end of file on the pipe means it is gone."""
    exit_code = root / "exit-code"
    fd = os.open(root / ".alive", os.O_RDONLY | os.O_NONBLOCK)
    try:
        while not exit_code.exists():
            started = (root / "started").exists()
            try:
                if not os.read(fd, 4096) and started:
                    break
                time.sleep(poll)
            except BlockingIOError:
                select.select([fd], [], [], 1.0)
    finally:
        os.close(fd)
    try:
        return int(exit_code.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def follow_stdout(out: BinaryIO, root: Path = ROOT, poll: float = 0.2) -> None:
    """The sidecar's work: copy the function's stdout file to `out` as it grows, until
    SIGTERM, which the kubelet sends once the function and the uploader have ended; what is
    left is copied before it returns. It never ends by itself: a sidecar that exits is
    started again, and would copy the file from its start once more."""
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda number, _: stopping.append(number))
    path, file = Workdir.at(root).stdout, None
    try:
        while True:
            stop = bool(stopping)
            if file is None and path.exists():
                file = open(path, "rb")
            while file is not None and (data := file.read(64 * 1024)):
                out.write(data)
                out.flush()
            if stop:
                return
            time.sleep(poll)
    finally:
        if file is not None:
            file.close()


@dataclasses.dataclass(frozen=True)
class PodResult:
    """The uploader's report, read by the worker: the function's exit code (None when its
    container was killed first), its stdout's size, the outputs, why none was uploaded, and
    for each result file the key of its object, or why it is no result."""

    exit_code: int | None
    stdout_size: int
    outputs: tuple[OutputObject, ...]
    error: str | None = None
    results: tuple[dict[str, str], ...] = ()


def stage_out(plan: StagingPlan, objects: ObjectStore, root: Path = ROOT) -> dict[str, Any]:
    """The uploader's work once the function is over: outputs, stdout, the result document.
    Outputs whose names cannot be object keys are not uploaded, and the result says why."""
    exit_code = wait_for_function(root)
    dirs = Workdir.at(root)
    places = plan.places()
    files, problem = checked_outputs(dirs.output_dir, places)
    outputs = upload_outputs(files, places, plan.metadata, objects)
    stdout_size = dirs.stdout.stat().st_size if dirs.stdout.exists() else 0
    if stdout_size:
        objects.put_file(plan.result_bucket, plan.stdout_key, dirs.stdout, "text/plain", {})
    result = {"exit_code": exit_code, "stdout_size": stdout_size,
              "outputs": [o.to_dict() for o in outputs],
              "error": problem, "results": upload_results(plan, objects, dirs.results_dir)}
    objects.put_bytes(plan.result_bucket, plan.result_key, json.dumps(result).encode())
    return result


def upload_results(plan: StagingPlan, objects: ObjectStore, directory: Path
                   ) -> list[dict[str, str]]:
    """Each result file as an object of its own, for the worker to keep: `{"key": ...}`,
    or `{"refused": why}` for one that is no result."""
    dir_fd = result_files.open_dir(directory) if plan.results_prefix is not None else None
    if dir_fd is None:
        return []
    try:
        found, _ = result_files.candidates(dir_fd, 2 * MAX_PER_JOB)
        reports = []
        for number, candidate in enumerate(found[:MAX_PER_JOB]):
            data = result_files.read(dir_fd, candidate.name, None)
            if isinstance(data, str):
                reports.append({"refused": data})
                continue
            key = f"{plan.results_prefix}{number}"
            objects.put_bytes(plan.result_bucket, key, data)
            reports.append({"key": key})
    finally:
        os.close(dir_fd)
    if len(found) > MAX_PER_JOB:
        reports.append({"refused": f"{len(found) - MAX_PER_JOB} result file(s) not read: a "
                                   f"job keeps at most {MAX_PER_JOB} results"})
    return reports


def parse_result(data: bytes) -> PodResult:
    try:
        result = json.loads(data)
        outputs = tuple(OutputObject(**o) for o in result["outputs"])
        exit_code, stdout_size = result["exit_code"], int(result["stdout_size"])
        error = result.get("error")
        results = tuple({k: str(v) for k, v in report.items() if k in ("key", "refused")}
                        for report in result.get("results", []))
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise Invalid(f"the uploader's result document is malformed: {exc}") from exc
    if exit_code is not None and not isinstance(exit_code, int):
        raise Invalid("the uploader's result document has a malformed exit code")
    return PodResult(exit_code, stdout_size, outputs,
                     error if isinstance(error, str) else None, results)
