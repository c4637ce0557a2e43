"""What becomes of an attempt that raised, decided here for every executor, by the kind of
failure (`core.errors.classify`):

- **transient** (`Unavailable`: the job store, the object store, the broker or the container
  engine out of reach): the attempt is recorded and tried again after a backoff; the job
  fails with reason `unavailable` only when its attempts run out;
- **permanent** (any other error of Sluice's own: the function cannot run here, an image that
  cannot be had, an input that is gone): the job fails at once, with the reason;
- **unexpected** (anything else, a bug): logged with an incident id; tried again like a
  transient failure, and recorded as failed with reason `error` on the last attempt.

An attempt past the last one (its predecessors died with their workers) fails at once.

An attempt that ran and failed is run again by the function's own retry policy
(`core.retries`): `retries` times at most, for the failures it names, after its backoff.
These are counted apart (`Job.retries`), so the platform's retries and the function's never
use up each other's."""

from __future__ import annotations

import dataclasses
import logging
import uuid

from core.errors import Failure, classify
from core.jobs import Job, JobStatus, Outcome, Reason
from core.retries import RetryPolicy, backoff
from core.settings import RetrySettings

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class TryAgain:
    """The decision to run the job again, after `delay` seconds: how this attempt `ended`
    (its error says why, and when the next one runs), and whether it is a `retry` of the
    function's own policy rather than the platform's."""

    ended: Outcome
    delay: float
    retry: bool = False
    counted: bool = True
    """Whether the attempt counts among the platform's (an interrupted one does not)."""


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
    platform = _platform_attempts(job)
    where = f"job {job.id}, attempt {platform} of {policy.max_attempts}"
    if kind is Failure.TRANSIENT:
        detail, reason = exc.detail, Reason.UNAVAILABLE
        log.warning("%s: %s", where, detail)
        if platform >= policy.max_attempts:
            return Outcome(reason=reason, error=f"{detail} (gave up after {platform} attempts)")
    else:
        detail, reason = unexpected(exc, where), Reason.ERROR
        if platform >= policy.max_attempts:
            return Outcome(reason=reason, error=detail)
    delay = backoff(policy.backoff_seconds, policy.backoff_max_seconds, platform)
    return TryAgain(ended=Outcome(reason=reason, error=(
        f"attempt {job.attempts}: {detail}; trying again in {delay:.1f} s")), delay=delay)


def retry_of_function(job: Job, policy: RetryPolicy, outcome: Outcome) -> Outcome | TryAgain:
    """What becomes of an attempt that ran to its end: kept, or, if the function failed it
    in a way its policy retries and retries are left, run again after the backoff."""
    if outcome.status is not JobStatus.FAILED or job.retries >= policy.retries \
            or not policy.covers(outcome.reason, outcome.exit_code):
        return outcome
    retry = job.retries + 1
    delay = policy.delay(retry)
    why = f"exit code {outcome.exit_code}" if outcome.reason in (None, Reason.ERROR) \
        and outcome.exit_code else str(outcome.reason)
    note = (f"attempt {job.attempts} failed ({why}); retry {retry} of {policy.retries} "
            f"in {delay:.1f} s")
    log.info("job %s: %s", job.id, note)
    error = f"{outcome.error}; {note}" if outcome.error else note
    return TryAgain(ended=dataclasses.replace(outcome, error=error), delay=delay, retry=True)


def interrupted(job: Job, outcome: Outcome) -> TryAgain:
    """An attempt the stopping worker ended: the job runs again at once, elsewhere."""
    log.info("job %s: attempt %d interrupted by the worker stopping; queued again", job.id,
             job.attempts)
    return TryAgain(ended=dataclasses.replace(outcome, reason=Reason.INTERRUPTED, error=(
        f"attempt {job.attempts}: the worker stopped before it ended; queued again")), delay=0,
        counted=False)


def _platform_attempts(job: Job) -> int:
    """The attempts the platform's retries count: those since the job was last run again by
    hand that the function did not fail."""
    return job.attempts - job.resumed_after - job.retries


def past_the_last(job: Job, policy: RetrySettings) -> Outcome | None:
    """A job claimed for more attempts than it may have (those before died with their
    workers, or could not be recorded) fails instead of running again."""
    if _platform_attempts(job) <= policy.max_attempts:
        return None
    return Outcome(reason=Reason.ERROR, error=f"gave up after {job.attempts - 1} attempts "
                                              "that did not end (their workers died?)")
