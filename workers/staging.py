"""Staging: an attempt's scratch directory, its input file, and the upload of its outputs."""

from __future__ import annotations

import dataclasses
import json
import mimetypes
import os
import shutil
import signal
import stat
import threading
from pathlib import Path

from core.blobs import Blobs
from core.functions import Function
from core.jobs import Job, OutputObject
from core.keys import file_name
from core.objects import ObjectStore
from workers.processes import alive

BASE_PATH = "/usr/local/bin:/usr/bin:/bin"


_threads = threading.local()


@dataclasses.dataclass(frozen=True)
class Workdir:
    """A worker thread's scratch directory, emptied between attempts rather than recreated
    (creating and removing directories costs more than running a small function)."""

    root: Path
    input_dir: Path
    output_dir: Path
    stdout: Path
    stderr: Path

    @classmethod
    def at(cls, root: Path) -> Workdir:
        """The layout under `root`, on a worker or in a Kubernetes Job's pod."""
        return cls(root=root, input_dir=root / "input", output_dir=root / "output",
                   stdout=root / "stdout", stderr=root / "stderr")

    @classmethod
    def for_thread(cls, base: Path) -> Workdir:
        """This thread's directory under `base`, empty."""
        made = getattr(_threads, "workdirs", None)
        if made is None:
            made = _threads.workdirs = {}
        workdir = made.get(base)
        if workdir is None:
            workdir = made[base] = cls.at(base / f"{os.getpid()}-{threading.get_native_id()}")
        workdir.input_dir.mkdir(parents=True, exist_ok=True)
        workdir.output_dir.mkdir(exist_ok=True)
        workdir.clear()
        return workdir

    def clear(self) -> None:
        """Remove everything the last attempt left, keeping `input/` and `output/`."""
        for directory, keep in ((self.root, (self.input_dir.name, self.output_dir.name)),
                                (self.input_dir, ()), (self.output_dir, ())):
            with os.scandir(directory) as entries:
                for entry in entries:
                    if entry.name in keep:
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path, ignore_errors=True)
                    else:
                        os.unlink(entry.path)


def remove_stale_workdirs(base: Path) -> None:
    """Scratch directories of worker processes that are gone, and the functions those left
    running: a function lives in a session of its own (so that a timeout can end its whole
    group), so it outlives a worker killed outright."""
    if not base.is_dir():
        return
    stale = [entry for entry in base.iterdir()
             if entry.name.partition("-")[0].isdigit()
             and not alive(int(entry.name.partition("-")[0]))]
    if stale:
        _kill_processes_in(stale)
    for entry in stale:
        shutil.rmtree(entry, ignore_errors=True)


def _kill_processes_in(directories: list[Path]) -> None:
    roots = tuple(str(d.resolve()) for d in directories)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if cwd.startswith(roots):
            try:
                os.kill(int(proc.name), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def input_path(job: Job, workdir: Workdir) -> Path:
    """Where `INPUT_FILE_PATH` points: the object that triggered the job, under the last
    part of its key, or the request body, as `input`."""
    return workdir.input_dir / (file_name(job.source_key) if job.source_key else "input")


def stage_in(job: Job, workdir: Workdir, blobs: Blobs, objects: ObjectStore) -> Path:
    path = input_path(job, workdir)
    if job.source_key is not None:
        objects.download(job.source_bucket, job.source_key, path)
    else:
        path.write_bytes(blobs.get(job.input_ref) if job.input_ref else b"")
    return path


def environment(job: Job, fn: Function, workdir: Workdir, input_file: Path) -> dict[str, str]:
    """The invocation contract (OSCAR's FaaS Supervisor's): the function's variables, then
    Sluice's, which win. Nothing of the worker's own environment (its credentials in
    particular) reaches the function."""
    env = {"PATH": BASE_PATH, "HOME": str(workdir.root), "LANG": "C.UTF-8",
           "TMPDIR": str(workdir.root)}
    env.update(fn.environment)
    env.update(INPUT_FILE_PATH=str(input_file), TMP_OUTPUT_DIR=str(workdir.output_dir),
               JOB_ID=job.id, FUNCTION_NAME=job.function)
    if job.source_key is not None:
        env.update(STORAGE_OBJECT_BUCKET=job.source_bucket, STORAGE_OBJECT_KEY=job.source_key,
                   EVENT=json.dumps(job.event or {}))
    return env


def output_files(output_dir: Path) -> list[tuple[str, Path]]:
    """Regular files under the output directory, by relative path. Symbolic links are not
    followed: a function must not be able to publish the worker's own files."""
    found = []
    for dirpath, dirnames, filenames in os.walk(output_dir, followlinks=False):
        for filename in filenames:
            path = Path(dirpath) / filename
            if stat.S_ISREG(path.lstat().st_mode):
                found.append((path.relative_to(output_dir).as_posix(), path))
    return sorted(found)


def stage_out(job: Job, fn: Function, workdir: Workdir, objects: ObjectStore
              ) -> tuple[OutputObject, ...]:
    """Upload every output file under `<prefix>/<job id>/`, keeping relative paths, so that a
    re-run of the same job overwrites rather than duplicates. Each object says which job
    made it and how deep in a chain it is, for the triggers it may fire."""
    return upload_outputs(workdir.output_dir, fn.output.bucket, fn.output.key(job.id, ""),
                          output_metadata(job.id, job.depth), objects)


def output_metadata(job_id: str, depth: int) -> dict[str, str]:
    return {"sluice-job": job_id, "sluice-depth": str(depth + 1)}


def upload_outputs(output_dir: Path, bucket: str, key_prefix: str, metadata: dict[str, str],
                   objects: ObjectStore) -> tuple[OutputObject, ...]:
    uploaded = []
    for name, path in output_files(output_dir):
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        key = key_prefix + name
        etag = objects.put_file(bucket, key, path, content_type, metadata)
        uploaded.append(OutputObject(name=name, bucket=bucket, key=key, etag=etag,
                                     size=path.stat().st_size, content_type=content_type))
    return tuple(uploaded)
