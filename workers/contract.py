"""The invocation contract: what a function sees, wherever it runs (OSCAR's FaaS
Supervisor's, so that its scripts run unchanged; and Abaco's context variables besides, for
a function whose spec has `abaco`). Each executor lays the scratch directory out where its
function sees it: the worker's own path for a process, `/sluice` in a container or a
Kubernetes pod."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from pathlib import Path

from core import messages, params
from core.abaco import context as abaco
from core.functions import Function
from core.jobs import Job
from core.keys import file_name
from core.triggers import OutputSpec
from workers.workdir import Workdir


def input_name(job: Job) -> str:
    """The input file's name: the last part of the key of the object that triggered the
    job, or `input` for a request body."""
    return file_name(job.source_key) if job.source_key else "input"


def input_file(job: Job, dirs: Workdir) -> Path:
    return dirs.input_dir / input_name(job)


def environment(job: Job, fn: Function, dirs: Workdir, base: Mapping[str, str],
                message: Callable[[], bytes] = bytes, *,
                results_socket: bool = False) -> dict[str, str]:
    """`base` (the executor's), then the function's own variables, then Sluice's, which
    win, and Abaco's for a function that asks. A job whose input is a message (a body, not
    an object) gets its content type, and the message itself as `MESSAGE` when it is short
    text or JSON (`core.messages`); its parameters are `PARAM_<NAME>`. `message` reads the
    start of the input, for `MESSAGE` and Abaco's `MSG`: only when asked, and once.
    `RESULTS_SOCKET` only where the function can reach the worker's socket. Nothing of the
    worker's own environment (its credentials in particular) is in it."""
    start = functools.cache(message)
    env = dict(base)
    env.update(fn.environment)
    env.update(INPUT_FILE_PATH=str(input_file(job, dirs)), TMP_OUTPUT_DIR=str(dirs.output_dir),
               RESULTS_DIR=str(dirs.results_dir), JOB_ID=job.id, FUNCTION_NAME=job.function)
    env.update(params.variables(job.params))
    if results_socket:
        env["RESULTS_SOCKET"] = str(dirs.results_socket)
    if job.source_key is not None:
        env.update(STORAGE_OBJECT_BUCKET=job.source_bucket, STORAGE_OBJECT_KEY=job.source_key,
                   EVENT=json.dumps(job.event or {}))
    else:
        env["MESSAGE_CONTENT_TYPE"] = job.content_type or messages.DEFAULT_CONTENT_TYPE
        if messages.is_text(job.content_type) and job.input_size <= messages.MESSAGE_MAX_BYTES \
                and (text := messages.text_of(start())) is not None:
            env["MESSAGE"] = text
    if fn.abaco is not None:
        env.update(abaco.variables(job, fn, start()))
    return env


def message_in(path: Path) -> Callable[[], bytes]:
    """A reader of the start of the input file at `path`: as much as `MESSAGE` (and `MSG`)
    may hold, and a byte more to tell that there is more."""
    def read() -> bytes:
        with open(path, "rb") as file:
            return file.read(messages.MESSAGE_MAX_BYTES + 1)
    return read


def output_places(job: Job, fn: Function) -> tuple[OutputSpec, ...]:
    """Where the job's outputs go, each in the flat layout (a per-job output's under the
    job's own id): a re-run writes the same keys, and so overwrites."""
    return tuple(output.for_job(job.id) for output in fn.outputs)


def output_metadata(job: Job) -> dict[str, str]:
    """Written on every output: which job made it and how deep in a chain it is, for the
    triggers it may fire."""
    return {"sluice-job": job.id, "sluice-depth": str(job.depth + 1)}
