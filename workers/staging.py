"""Staging on the worker's own disk, for the process and container executors: the input
into the scratch directory, then the outputs to object storage and the captured output to
the job's blobs. The upload of outputs and the keeping of logs serve the Kubernetes pod's
staging too."""

from __future__ import annotations

import collections
import dataclasses
import mimetypes
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from core.blobs import Blobs
from core.jobs import Job, Outcome, OutputObject, Reason, log_key
from core.keys import output_name_problem
from core.objects import ObjectStore
from core.triggers import OutputSpec
from workers.contract import input_file, output_metadata, output_places
from workers.executors.base import Attempt, Execution


STOPPED = (Reason.CANCELLED, Reason.INTERRUPTED)


class LocalStaging:
    def __init__(self, objects: ObjectStore, blobs: Blobs):
        self.objects, self.blobs = objects, blobs

    def stage_in(self, attempt: Attempt) -> Path:
        """The input file in the scratch directory: the triggering object, or the body."""
        job = attempt.job
        for bucket in {output.bucket for output in attempt.function.outputs}:
            self.objects.ensure_bucket(bucket)
        path = input_file(job, attempt.workdir)
        if job.source_key is not None:
            self.objects.download(job.source_bucket, job.source_key, path)
        else:
            path.write_bytes(self.blobs.get(job.input_ref) if job.input_ref else b"")
        return path

    def stage_out(self, attempt: Attempt, execution: Execution, owner: int | None = None
                  ) -> Outcome:
        """Keep the last results, upload every output file and keep stdout and stderr.
        Outputs that cannot be uploaded (see `checked_outputs`) fail the attempt, and none
        is uploaded; the logs are kept still. An attempt stopped halfway (cancelled,
        interrupted) publishes no outputs nor result files: half-written files must not
        trigger the functions that watch them, nor be read as results."""
        job, fn, dirs = attempt.job, attempt.function, attempt.workdir
        stopped = execution.reason in STOPPED
        notes = attempt.results.finish(files=not stopped) if attempt.results else []
        places = output_places(job, fn)
        files, problem = ([], None) if stopped \
            else checked_outputs(dirs.output_dir, places, owner)
        outputs = upload_outputs(files, places, output_metadata(job), self.objects)
        reason, error = (execution.reason, execution.error) if problem is None \
            else (Reason.ERROR, problem)
        logs = keep_logs(self.blobs, job, captured(dirs.stdout), captured(dirs.stderr),
                         error, notes=notes)
        return dataclasses.replace(logs, exit_code=execution.exit_code, reason=reason,
                                   error=error, cpu_seconds=execution.cpu_seconds,
                                   peak_memory=execution.peak_memory,
                                   io_read_bytes=execution.io_read_bytes,
                                   io_write_bytes=execution.io_write_bytes, outputs=outputs)


def captured(path: Path, limit: int | None = None, offset: int = 0) -> bytes:
    """What a function printed to `path` (at most `limit` bytes from `offset`). The file
    lies in the function's own directory: nothing if the function removed it or put
    something other than a regular file there (a link to one of the worker's files, say)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return b""
    with open(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return b""
        file.seek(offset)
        return file.read(limit if limit is not None else -1)


def keep_logs(blobs: Blobs, job: Job, stdout: bytes, stderr: bytes, error: str | None,
              *, stdout_ref: str | None = None, notes: Sequence[str] = ()) -> Outcome:
    """An outcome holding only the attempt's captured output, placed as blobs: `stderr`
    ends with Sluice's own word on the attempt, its `notes` and its error, if any.
    `stdout_ref` names a stdout already stored (by a pod's uploader) instead of `stdout`."""
    inline: dict[str, bytes] = {}
    if stdout_ref is None:
        stdout_ref, inline = blobs.prepare(log_key("stdout", job.id, job.attempts), stdout)
    stderr += "".join(f"sluice: {note}\n" for note in notes).encode()
    if error:
        stderr += f"sluice: {error}\n".encode()
    stderr_ref, inline_err = blobs.prepare(log_key("stderr", job.id, job.attempts), stderr)
    return Outcome(stdout_ref=stdout_ref, stderr_ref=stderr_ref, inline_blobs=inline | inline_err)


def checked_outputs(output_dir: Path, places: tuple[OutputSpec, ...], owner: int | None = None
                    ) -> tuple[list[tuple[str, Path]], str | None]:
    """The output files to upload to `places`, and why there are none. The attempt fails,
    and none is uploaded, for a name that cannot be an object key, and for a file the
    function did not make: a hard link to a file outside the output directory, or one not
    `owner`'s (the function's user)."""
    found = _regular_files(output_dir)
    inodes = collections.Counter((info.st_dev, info.st_ino) for _, _, info in found)
    longest = max((place.folder() for place in places), key=len, default="")
    for name, _path, info in found:
        problem = output_name_problem(name, longest)
        if problem is None and info.st_nlink > inodes[(info.st_dev, info.st_ino)]:
            problem = f"output {name!r} is a hard link to a file outside the output directory"
        if problem is None and owner is not None and info.st_uid != owner:
            problem = f"output {name!r} is not a file the function made"
        if problem is not None:
            return [], f"{problem}; no output was uploaded"
    return [(name, path) for name, path, _ in found], None


def output_files(output_dir: Path) -> list[tuple[str, Path]]:
    """Regular files under the output directory, by relative path. Symbolic links are not
    followed, the directory itself included: a function must not be able to publish the
    worker's own files."""
    return [(name, path) for name, path, _ in _regular_files(output_dir)]


def _regular_files(output_dir: Path) -> list[tuple[str, Path, os.stat_result]]:
    try:
        if not stat.S_ISDIR(os.lstat(output_dir).st_mode):
            return []
    except FileNotFoundError:
        return []
    found = []
    for dirpath, _dirnames, filenames in os.walk(output_dir, followlinks=False):
        for filename in filenames:
            path = Path(dirpath) / filename
            info = path.lstat()
            if stat.S_ISREG(info.st_mode):
                found.append((path.relative_to(output_dir).as_posix(), path, info))
    return sorted(found, key=lambda entry: entry[0])


def upload_outputs(files: list[tuple[str, Path]], places: tuple[OutputSpec, ...],
                   metadata: dict[str, str], objects: ObjectStore) -> tuple[OutputObject, ...]:
    """Each file to every place (in the flat layout) whose filters it passes."""
    uploaded = []
    for name, path in files:
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        for place in places:
            if place.takes(name):
                key = place.folder() + name
                etag = objects.put_file(place.bucket, key, path, content_type, metadata)
                uploaded.append(OutputObject(name=name, bucket=place.bucket, key=key, etag=etag,
                                             size=path.stat().st_size,
                                             content_type=content_type))
    return tuple(uploaded)
