"""Staging: an attempt's scratch directory, its input file, and the upload of its outputs."""

from __future__ import annotations

import dataclasses
import mimetypes
import os
import shutil
import stat
from pathlib import Path

from core.blobs import Blobs
from core.functions import Function
from core.jobs import Job, OutputObject
from core.objects import ObjectStore

BASE_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclasses.dataclass(frozen=True)
class Workdir:
    root: Path
    input_file: Path
    output_dir: Path
    stdout: Path
    stderr: Path

    @classmethod
    def create(cls, base: Path, job: Job) -> Workdir:
        root = base / f"{job.id}.{job.attempts}"
        shutil.rmtree(root, ignore_errors=True)
        (root / "input").mkdir(parents=True)
        (root / "output").mkdir()
        return cls(root=root, input_file=root / "input" / "input", output_dir=root / "output",
                   stdout=root / "stdout", stderr=root / "stderr")

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def stage_in(job: Job, workdir: Workdir, blobs: Blobs) -> int:
    """Write the job's input to `INPUT_FILE_PATH`; returns the bytes staged."""
    data = blobs.get(job.input_ref) if job.input_ref else b""
    workdir.input_file.write_bytes(data)
    return len(data)


def environment(job: Job, fn: Function, workdir: Workdir) -> dict[str, str]:
    """The invocation contract: the function's variables, then Sluice's, which win. Nothing of
    the worker's own environment (its credentials in particular) reaches the function."""
    env = {"PATH": BASE_PATH, "HOME": str(workdir.root), "LANG": "C.UTF-8",
           "TMPDIR": str(workdir.root)}
    env.update(fn.environment)
    env.update(INPUT_FILE_PATH=str(workdir.input_file), TMP_OUTPUT_DIR=str(workdir.output_dir),
               JOB_ID=job.id, FUNCTION_NAME=job.function)
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


def stage_out(job: Job, fn: Function, workdir: Workdir, objects: ObjectStore,
              default_bucket: str) -> tuple[OutputObject, ...]:
    """Upload every output file under `<prefix>/<job id>/`, keeping relative paths, so that a
    re-run of the same job overwrites rather than duplicates."""
    bucket = fn.output.bucket or default_bucket
    base = f"{fn.output.prefix}/{job.id}" if fn.output.prefix else job.id
    uploaded = []
    for name, path in output_files(workdir.output_dir):
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        key = f"{base}/{name}"
        objects.put_file(bucket, key, path, content_type)
        uploaded.append(OutputObject(name=name, bucket=bucket, key=key,
                                     size=path.stat().st_size, content_type=content_type))
    return tuple(uploaded)
