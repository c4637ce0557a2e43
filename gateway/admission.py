"""Admitting an invocation: how long its caller waits (the function's mode, unless the call
asks otherwise) and whether the queue has room for it. A synchronous invocation is queued
like any other, behind the jobs before it; so it is refused instead while more of its
function's jobs wait than the function's `sync_queue_limit`. Runs on the service's pool."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from core import messages
from core.callbacks import Callback
from core.errors import TooManyRequests
from core.functions import Function
from core.jobs import Job, Trigger
from gateway.auth import Caller
from jobs.context import JobContext

# Seconds a client refused for a full queue is asked to wait.
RETRY_AFTER = 5


@dataclasses.dataclass(frozen=True)
class Invocation:
    """What a face asks for: the function, the input, and how long the caller will wait."""

    function: str
    body: bytes
    content_type: str | None
    respond_async: bool = False
    wait: float | None = None
    idempotency_key: str | None = None
    callback: Callback | None = None
    """The invocation's own callback, in place of the function's."""
    params: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """Its parameters (`core.params`), which the function sees as `PARAM_<NAME>`."""


def caller_wait(fn: Function, request: Invocation, default: float) -> float | None:
    """Seconds the caller waits for the job, or None to be answered with it at once:
    `Prefer: respond-async` makes any call asynchronous, `Prefer: wait=N` any other call
    synchronous, and without either the function's `mode` decides."""
    if request.respond_async:
        return None
    if request.wait is not None:
        return request.wait
    return None if fn.mode == "async" else default


class Admission:
    def __init__(self, context: JobContext):
        self.context, self.settings = context, context.settings

    def accept(self, caller: Caller, request: Invocation) -> tuple[Job, bool, float | None]:
        """Commit the job, then publish it; returns it, whether it is new, and the wait."""
        fn = self.context.catalog.get(request.function)
        caller.require_function(fn)
        content_type = messages.content_type(request.content_type)
        wait = caller_wait(fn, request, self.settings.sync_wait_seconds)
        key = f"{Trigger.HTTP}:{fn.name}:{request.idempotency_key}" \
            if request.idempotency_key else None
        if wait is not None or fn.max_queued or self.settings.max_queued:
            self._check_backlog(fn, key, synchronous=wait is not None)
        return (*self.context.submitter.submit(
            fn, trigger=Trigger.HTTP, body=request.body, content_type=content_type,
            idempotency_key=key, callback=request.callback, params=request.params,
            synchronous=wait is not None), wait)

    def _check_backlog(self, fn: Function, key: str | None, *, synchronous: bool) -> None:
        """Refuse a new job (429) while the function's queue, or the platform's, is full, or,
        for a synchronous call, longer than the function's `sync_queue_limit`. A key already
        used is answered with its job, full or not. Invocations that arrive together may
        pass a limit by as many as they are."""
        platform = self.settings.max_queued
        backlog = self.context.store.backlog(fn.name, key, platform=bool(platform))
        if backlog.key_used:
            return
        whose = f"function {fn.name!r}"
        if fn.max_queued and backlog.queued >= fn.max_queued:
            _refuse(f"{whose} has {backlog.queued} jobs waiting to start, its limit of "
                    f"{fn.max_queued}")
        if platform and backlog.platform_queued >= platform:
            _refuse(f"the platform has {backlog.platform_queued} jobs waiting to start, its "
                    f"limit of {platform}")
        if synchronous and backlog.queued > fn.sync_queue_limit:
            _refuse(f"{whose} has {backlog.queued} jobs waiting to start, more than its "
                    f"sync_queue_limit of {fn.sync_queue_limit}: a synchronous call would wait "
                    "behind them", "try again later, or invoke it asynchronously "
                    "(Prefer: respond-async)")


def _refuse(why: str, advice: str = "try again later") -> None:
    raise TooManyRequests(f"{why}; {advice}", retry_after=RETRY_AFTER)
