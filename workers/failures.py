"""What becomes of an attempt that raised, decided here for every executor:

- **transient** (`Unavailable`: the job store, the object store, the broker or the container
  engine out of reach): the attempt is recorded and tried again after a backoff; the job
  fails with reason `unavailable` only when its attempts run out;
- **permanent** (any other error of Sluice's own: the function cannot run here, an image that
  cannot be had, an input that is gone): the job fails at once, with the reason;
- **unexpected** (anything else, a bug): logged with an incident id; tried again like a
  transient failure, and recorded as failed with reason `error` on the last attempt."""

from __future__ import annotations

import dataclasses
import enum
import logging
import random
import uuid

from core.errors import SluiceError, Unavailable
from core.jobs import Job, Outcome, Reason
from core.settings import RetrySettings

log = logging.getLogger(__name__)


class Kind(enum.Enum):
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    UNEXPECTED = "unexpected"


def classify(exc: BaseException) -> Kind:
    if isinstance(exc, Unavailable):
        return Kind.TRANSIENT
    if isinstance(exc, SluiceError):
        return Kind.PERMANENT
    return Kind.UNEXPECTED


class RetryLater(Exception):
    """Control flow: deliver the job's message again after `delay` seconds (None: after the
    broker's own backoff for the message)."""

    def __init__(self, delay: float | None = None):
        super().__init__(f"retry in {delay:.1f} s" if delay is not None else "retry")
        self.delay = delay


@dataclasses.dataclass(frozen=True)
class Retry:
    """The decision to run the job again: why, and after how long."""

    error: str
    delay: float


def backoff(policy: RetrySettings, attempt: int) -> float:
    """Exponential from `backoff_seconds`, capped, with jitter: half fixed, half random, so
    that jobs that failed together do not all come back together."""
    ceiling = min(policy.backoff_max_seconds, policy.backoff_seconds * 2 ** (attempt - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def decide(job: Job, exc: BaseException, policy: RetrySettings) -> Outcome | Retry:
    """The one failure boundary's verdict on an attempt of `job` that raised `exc`."""
    kind = classify(exc)
    last = job.attempts >= policy.max_attempts
    if kind is Kind.PERMANENT:
        log.warning("job %s failed: %s", job.id, exc.detail)
        return Outcome(reason=Reason.ERROR, error=exc.detail)
    if kind is Kind.TRANSIENT:
        detail = exc.detail
        log.warning("job %s, attempt %d of %d: %s", job.id, job.attempts,
                    policy.max_attempts, detail)
        if last:
            return Outcome(reason=Reason.UNAVAILABLE,
                           error=f"{detail} (gave up after {job.attempts} attempts)")
    else:
        incident = uuid.uuid4().hex[:12]
        log.error("job %s, attempt %d of %d: unexpected error (incident %s)", job.id,
                  job.attempts, policy.max_attempts, incident, exc_info=exc)
        detail = f"an unexpected error occurred; the worker's log has incident {incident}"
        if last:
            return Outcome(reason=Reason.ERROR, error=detail)
    delay = backoff(policy, job.attempts)
    return Retry(error=f"attempt {job.attempts}: {detail}; trying again in {delay:.1f} s",
                 delay=delay)
