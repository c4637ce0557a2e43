"""The audit that ends every fault scenario, in the tests and in `bench.faults`: did every
accepted job end exactly once, with its outputs in the object store once, with no two runs of
it at the same time and nothing of it left running?

The function under test (`RecordedFunction`) records each of its runs in a file of a
directory that it and the audit share: its job, its pid and session with their start times,
and a line every 50 ms while it lives, so that a run killed outright is seen to have stopped
and one that outlives its worker is seen to go on. It must run unconfined (as the worker's
user, without bubblewrap), which is what lets it write there and what makes its pids the
machine's own."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from core.errors import NotFound
from core.functions import MAX_QUEUED
from core.jobs import Job, JobStatus
from core.objects import ObjectStore
from core.store import JobStore

# The settings under which `RecordedFunction` can record its runs (`unconfined` in the tests).
UNCONFINED = {"SLUICE_RUN_AS": "", "SLUICE_SANDBOX": "none"}

# Run by the venv's Python with -I -S: a few milliseconds to start, the standard library only.
RUN_SCRIPT = r'''
import os, sys, time
directory, seconds, names = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
def ticks(pid):
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[19]
job, pid, sid = os.environ["JOB_ID"], os.getpid(), os.getsid(0)
token = f"{pid}.{ticks(pid)}"
with open(os.path.join(directory, f"{job}.{token}"), "w") as record:
    def line(word):
        record.write(f"{word} {time.monotonic()} {time.time()}\n")
        record.flush()
    record.write(f"run {pid} {ticks(pid)} {sid} {ticks(sid)}\n")
    line("start")
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(0.05, left))
        line("alive")
    for name in names:
        with open(os.path.join(os.environ["TMP_OUTPUT_DIR"], name), "w") as out:
            out.write(f"{job} {token} {name}\n")
    line("end")
'''


@dataclasses.dataclass(frozen=True)
class Run:
    """One run of the function, as it recorded itself: `started` and `last_seen` on the
    monotonic clock, `started_at` and `last_seen_at` on the wall clock."""

    job_id: str
    token: str
    pid: int
    pid_ticks: str
    sid: int
    sid_ticks: str
    started: float
    started_at: float
    last_seen: float
    last_seen_at: float
    ended: bool

    def output(self, name: str) -> bytes:
        """What this run writes as output `name`."""
        return f"{self.job_id} {self.token} {name}\n".encode()


class RecordedFunction:
    """The function under test: it runs for `seconds`, writes each of `outputs` (naming its
    job and its run) to `bucket` under `<name>/output/<job id>/`, and records its runs in
    `directory`."""

    def __init__(self, name: str, directory: Path, bucket: str, *, seconds: float,
                 outputs: tuple[str, ...] = ("result.txt",), mode: str = "async"):
        self.name, self.directory, self.bucket = name, directory, bucket
        self.seconds, self.outputs, self.mode = seconds, outputs, mode
        self.prefix = f"{name}/output"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "run.py").write_text(RUN_SCRIPT)

    def spec(self) -> dict:
        return {"command": [sys.executable, "-I", "-S", str(self.directory / "run.py"),
                            str(self.directory), str(self.seconds), *self.outputs],
                "mode": self.mode, "timeout": max(60.0, self.seconds * 10),
                "output": {"bucket": self.bucket, "prefix": self.prefix},
                # The scenarios' synchronous callers all wait at once, far more than run.
                "sync_queue_limit": MAX_QUEUED}

    def runs(self) -> dict[str, list[Run]]:
        """Every recorded run, by job, the first started first."""
        found: dict[str, list[Run]] = defaultdict(list)
        for path in self.directory.iterdir():
            if path.name != "run.py" and (run := _read_run(path)) is not None:
                found[run.job_id].append(run)
        for runs in found.values():
            runs.sort(key=lambda run: run.started)
        return found

    def started_runs(self) -> int:
        return sum(1 for path in self.directory.iterdir() if path.name != "run.py")


def _read_run(path: Path) -> Run | None:
    lines = [line.split() for line in path.read_text().splitlines()]
    if len(lines) < 2 or lines[0][0] != "run" or lines[1][0] != "start":
        return None  # killed between creating its record and writing it
    _, pid, pid_ticks, sid, sid_ticks = lines[0]
    beats = [words for words in lines[1:] if len(words) == 3]
    job_id, _, token = path.name.partition(".")
    return Run(job_id=job_id, token=token, pid=int(pid), pid_ticks=pid_ticks, sid=int(sid),
               sid_ticks=sid_ticks, started=float(beats[0][1]), started_at=float(beats[0][2]),
               last_seen=float(beats[-1][1]), last_seen_at=float(beats[-1][2]),
               ended=beats[-1][0] == "end")


@dataclasses.dataclass
class Report:
    """What the audit found. `recovery_seconds`: from the end of the fault until the jobs
    it held (not ended, and with no run going on through that moment) had started again as
    many runs as the workers run at once (or all of them, if fewer): the platform back at
    full speed, whatever its backlog; None if one of them never ran again nor ended.
    `drained_seconds`: until the last accepted job ended."""

    scenario: str
    accepted: int = 0
    succeeded: int = 0
    failed: int = 0
    lost: int = 0
    duplicated: int = 0
    concurrent: int = 0
    stuck: int = 0
    left_running: int = 0
    recovery_seconds: float | None = None
    drained_seconds: float | None = None
    problems: list[str] = dataclasses.field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def __str__(self) -> str:
        counts = ", ".join(f"{field.name} {getattr(self, field.name)}"
                           for field in dataclasses.fields(self)
                           if field.name not in ("scenario", "problems"))
        shown = "\n  ".join(self.problems[:20])
        more = f"\n  ... and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
        return f"{self.scenario}: {counts}" + (f"\n  {shown}{more}" if shown else "")


def settle(store: JobStore, function: str, timeout: float) -> bool:
    """Wait until no job of `function` is queued or running; whether that happened."""
    deadline = time.monotonic() + timeout
    while store.count_queued(function) or store.list_jobs(function=function, status="running",
                                                          limit=1):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def audit(scenario: str, accepted: Iterable[str], store: JobStore, objects: ObjectStore,
          fn: RecordedFunction, *, fault_ended: float, capacity: int = 1) -> Report:
    """Audit the jobs `accepted` of `fn` (each expected to succeed), once they have settled,
    against the store, the object store and the runs `fn` recorded. The fault was over at
    `fault_ended` (wall clock); the workers run `capacity` jobs at once."""
    ids = sorted(set(accepted))
    report = Report(scenario, accepted=len(ids))
    runs = fn.runs()
    listed = _objects_by_job(objects, fn)
    jobs: dict[str, Job] = {}
    for job_id in ids:
        try:
            jobs[job_id] = store.get_job(job_id)
        except NotFound:
            report.lost += 1
            report.problem(f"job {job_id} was accepted and is not in the store")
    for job in jobs.values():
        _audit_job(report, job, runs.get(job.id, []), listed.pop(job.id, {}), store, objects,
                   fn)
    _audit_strangers(report, store, fn, set(ids), listed)
    for job_runs in runs.values():
        for run in job_runs:
            if _still_running(run):
                report.left_running += 1
                report.problem(f"job {run.job_id}: run {run.token} (pid {run.pid}) is still "
                               "running")
    report.recovery_seconds = _recovery(jobs.values(), runs, fault_ended, capacity)
    finished = [job.finished_at for job in jobs.values() if job.finished_at is not None]
    report.drained_seconds = max(0.0, max(finished) - fault_ended) if finished else None
    return report


def _audit_job(report: Report, job: Job, runs: list[Run], listed: dict[str, tuple[str, str]],
               store: JobStore, objects: ObjectStore, fn: RecordedFunction) -> None:
    if not job.status.terminal:
        report.stuck += 1
        report.problem(f"job {job.id} is still {job.status} after {job.attempts} attempt(s)")
        return
    if job.status is JobStatus.SUCCEEDED:
        report.succeeded += 1
    else:
        report.failed += 1
        report.problem(f"job {job.id} {job.status} ({job.reason}): {job.error}")
    history = store.list_attempts(job.id)
    if [a.number for a in history] != list(range(1, job.attempts + 1)) \
            or (history and history[-1].finished_at != job.finished_at):
        report.problem(f"job {job.id}: its attempts {[a.number for a in history]} do not end "
                       f"with its last, {job.attempts}, as it ended")
    after = [run for run in runs if run.started_at > job.finished_at]
    overlapping = [(a, b) for i, a in enumerate(runs) for b in runs[i + 1:]
                   if b.started < a.last_seen]
    if overlapping:
        report.concurrent += 1
        a, b = overlapping[0]
        report.problem(f"job {job.id}: run {b.token} started {a.last_seen - b.started:.2f} s "
                       f"before run {a.token} was last seen alive")
    duplicated = bool(after)
    if after:
        report.problem(f"job {job.id} ran again {after[0].started_at - job.finished_at:.2f} s "
                       "after it had ended")
    if job.status is JobStatus.SUCCEEDED:
        duplicated |= _audit_outputs(report, job, runs, listed, objects, fn)
    report.duplicated += duplicated


def _audit_outputs(report: Report, job: Job, runs: list[Run], listed: dict[str, tuple[str, str]],
                   objects: ObjectStore, fn: RecordedFunction) -> bool:
    """Whether the job's outputs are those of more than one effect; what is missing is lost."""
    named = [output.name for output in job.outputs]
    missing = [name for name in fn.outputs if name not in listed or name not in named]
    extra = sorted(set(listed) - set(fn.outputs)) + [name for name in set(named)
                                                     if named.count(name) > 1]
    if missing:
        report.lost += 1
        report.problem(f"job {job.id} succeeded without its outputs {missing}")
    if extra:
        report.problem(f"job {job.id}: outputs {extra} more than once or unexpected")
    last = next((run for run in reversed(runs) if run.ended), None)
    wrong = False
    for output in job.outputs:
        if output.name not in listed or output.name not in fn.outputs:
            continue
        key, etag = listed[output.name]
        content = objects.get_bytes(fn.bucket, key)
        if last is None or content != last.output(output.name):
            wrong = True
            report.problem(f"job {job.id}: output {output.name} holds {content[:80]!r}, not "
                           f"what its last run {last.token if last else '(none)'} wrote")
        if output.etag and etag and output.etag != etag:
            report.problem(f"job {job.id}: the record names ETag {output.etag} of "
                           f"{output.name}, the object store has {etag}")
    return bool(extra) or wrong


def _objects_by_job(objects: ObjectStore, fn: RecordedFunction
                    ) -> dict[str, dict[str, tuple[str, str]]]:
    """The objects under the function's outputs: job id -> output name -> (key, ETag)."""
    found: dict[str, dict[str, tuple[str, str]]] = defaultdict(dict)
    try:
        for key, etag, _size in objects.list_objects(fn.bucket, fn.prefix + "/"):
            job_id, _, name = key.removeprefix(fn.prefix + "/").partition("/")
            if name and not name.endswith("/"):  # not a folder's marker
                found[job_id][name] = (key, etag)
    except NotFound:
        pass  # no bucket: no output at all, which the jobs' audits report
    return found


def _audit_strangers(report: Report, store: JobStore, fn: RecordedFunction, ids: set[str],
                     listed: dict[str, dict[str, tuple[str, str]]]) -> None:
    """Jobs of the function that no accepted invocation made, and outputs of no job."""
    strangers = [job.id for job in _all_jobs(store, fn.name) if job.id not in ids]
    if strangers:
        report.duplicated += len(strangers)
        report.problem(f"{len(strangers)} job(s) no accepted invocation made: "
                       f"{strangers[:5]}")
    if listed:
        report.problem(f"outputs of jobs that were not accepted: {sorted(listed)[:5]}")


def _all_jobs(store: JobStore, function: str) -> list[Job]:
    found: list[Job] = []
    while page := store.list_jobs(function=function, limit=500,
                                  before=found[-1].id if found else None):
        found += page
    return found


def stop_left_running(fn: RecordedFunction) -> int:
    """SIGKILL every run of `fn` still running, its session with it, so that a scenario
    that failed leaves nothing behind; how many there were."""
    left = [run for runs in fn.runs().values() for run in runs if _still_running(run)]
    for run in left:
        with contextlib.suppress(ProcessLookupError):
            if _alive(run.sid, run.sid_ticks):
                os.killpg(run.sid, signal.SIGKILL)
            elif _alive(run.pid, run.pid_ticks):
                os.kill(run.pid, signal.SIGKILL)
    return len(left)


def _still_running(run: Run) -> bool:
    return _alive(run.pid, run.pid_ticks) or _alive(run.sid, run.sid_ticks)


def _alive(pid: int, ticks: str) -> bool:
    """Whether `pid` is the process that started at `ticks`, and not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return fields[19] == ticks and fields[0] != "Z"


def _recovery(jobs: Iterable[Job], runs: dict[str, list[Run]], fault_ended: float,
              capacity: int) -> float | None:
    """See `Report`."""
    resumed = []
    for job in jobs:
        job_runs = runs.get(job.id, [])
        if job.created_at >= fault_ended or (job.finished_at or fault_ended + 1) <= fault_ended \
                or any(run.started_at < fault_ended < run.last_seen_at for run in job_runs):
            continue
        again = [run.started_at for run in job_runs if run.started_at >= fault_ended]
        if job.finished_at is not None:
            again.append(job.finished_at)
        if not again:
            return None
        resumed.append(min(again))
    return back_at_full_speed(resumed, fault_ended, capacity)


def back_at_full_speed(resumed: list[float], fault_ended: float, capacity: int) -> float:
    """Seconds from `fault_ended` until `capacity` of the times `resumed` (or all) passed."""
    if not resumed:
        return 0.0
    return sorted(resumed)[min(capacity, len(resumed)) - 1] - fault_ended
