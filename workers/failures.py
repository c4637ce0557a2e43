"""What becomes of an attempt that raised, decided here for every executor, by the kind of
failure (`core.errors.classify`):

- **transient** (`Unavailable`: the job store, the object store, the broker or the container
  engine out of reach): the attempt is recorded and tried again after a backoff; the job
  fails with reason `unavailable` only when its attempts run out;
- **permanent** (any other error of Sluice's own: the function cannot run here, an image that
  cannot be had, an input that is gone): the job fails at once, with the reason;
- **unexpected** (anything else, a bug): logged with an incident id; tried again like a
  transient failure, and recorded as failed with reason `error` on the last attempt.

An attempt past the last one (its predecessors died with their workers) fails at once."""

from __future__ import annotations

import dataclasses
import logging
import random
import uuid

from core.errors import Failure, classify
from core.jobs import Job, Outcome, Reason
from core.settings import RetrySettings

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class TryAgain:
    """The decision to run the job again: why, and after how many seconds."""

    error: str
    delay: float


def backoff(policy: RetrySettings, attempt: int) -> float:
    """Exponential from `backoff_seconds`, capped, with jitter: half fixed, half random, so
    that jobs that failed together do not all come back together."""
    ceiling = min(policy.backoff_max_seconds, policy.backoff_seconds * 2 ** (attempt - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def unexpected(exc: BaseException, what: str) -> str:
    """Log `exc` with a new incident id; the text to record instead of its message."""
    incident = uuid.uuid4().hex[:12]
    log.error("%s: unexpected error (incident %s)", what, incident, exc_info=exc)
    return f"an unexpected error occurred; the worker's log has incident {incident}"


def decide(job: Job, exc: BaseException, policy: RetrySettings) -> Outcome | TryAgain:
    """The one failure boundary's verdict on an attempt of `job` that raised `exc`."""
    kind = classify(exc)
    if kind is Failure.PERMANENT:
        log.warning("job %s failed: %s", job.id, exc.detail)
        return Outcome(reason=Reason.ERROR, error=exc.detail)
    where = f"job {job.id}, attempt {job.attempts} of {policy.max_attempts}"
    if kind is Failure.TRANSIENT:
        detail = exc.detail
        log.warning("%s: %s", where, detail)
        if job.attempts >= policy.max_attempts:
            return Outcome(reason=Reason.UNAVAILABLE,
                           error=f"{detail} (gave up after {job.attempts} attempts)")
    else:
        detail = unexpected(exc, where)
        if job.attempts >= policy.max_attempts:
            return Outcome(reason=Reason.ERROR, error=detail)
    delay = backoff(policy, job.attempts)
    return TryAgain(error=f"attempt {job.attempts}: {detail}; trying again in {delay:.1f} s",
                    delay=delay)


def past_the_last(job: Job, policy: RetrySettings) -> Outcome | None:
    """A job claimed for more attempts than it may have (those before died with their
    workers, or could not be recorded) fails instead of running again."""
    if job.attempts <= policy.max_attempts:
        return None
    return Outcome(reason=Reason.ERROR, error=f"gave up after {job.attempts - 1} attempts "
                                              "that did not end (their workers died?)")
