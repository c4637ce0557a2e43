"""The callback sender: each worker POSTs the due callbacks of ended jobs (`core.callbacks`),
claiming each first so that no two workers send one at once, with a short timeout and no
redirect followed. A refused POST is tried again after an exponential, jittered backoff
until the deadline after the job ended, then given up. Whatever becomes of a callback, its
job's outcome stays as it was recorded."""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from core import callbacks, metrics
from core.callbacks import CallbackState
from core.catalog import FunctionCatalog
from core.errors import NotFound
from core.jobs import Job
from core.periodic import Recurring
from core.retries import backoff
from core.settings import CallbackSettings
from core.store import JobStore

log = logging.getLogger(__name__)
BATCH = 50
POSTERS = 4
# A claim outlasts its POST by this much: another worker takes the delivery over only when
# this one died before recording how the POST went.
CLAIM_MARGIN = 30.0
USER_AGENT = "sluice-callbacks/0.1"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as the failure it is for a callback: it is not followed."""

    def redirect_request(self, *args, **kwargs):
        return None


def headers(job: Job, key: str, timestamp: int, body: bytes) -> dict[str, str]:
    """What a callback's POST says of itself. OpenFaaS's queue worker sends X-Call-Id,
    X-Function-Name, X-Function-Status (the function's HTTP status: here the one a
    synchronous invocation answers) and X-Duration-Seconds; Sluice's own say which job and
    sign it."""
    sent = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
            "X-Call-Id": job.id, "X-Function-Name": job.function,
            "X-Function-Status": str(job.answer_status), "Sluice-Job-Id": job.id,
            "Sluice-Job-Status": str(job.status), callbacks.TIMESTAMP: str(timestamp),
            callbacks.SIGNATURE: callbacks.sign(key, timestamp, body)}
    if job.runtime is not None:
        sent["X-Duration-Seconds"] = f"{job.runtime:f}"
    return sent


class CallbackSender(Recurring):
    def __init__(self, store: JobStore, catalog: FunctionCatalog, settings: CallbackSettings):
        super().__init__("sluice-callbacks", settings.interval_seconds, self.send_due)
        self.store, self.catalog, self.settings = store, catalog, settings
        self._opener = urllib.request.build_opener(_NoRedirects)
        self._posters = ThreadPoolExecutor(POSTERS, thread_name_prefix="sluice-callback-post")

    def stop(self) -> None:
        super().stop()
        self._posters.shutdown(wait=True, cancel_futures=True)

    def send_due(self, now: float | None = None) -> int:
        """POST the callbacks due at `now`, a few at once; how many this worker sent."""
        due = self.store.due_callbacks(now or time.time(), BATCH)
        return sum(self._posters.map(self._send, due))

    def _send(self, due: Job) -> bool:
        job = self.store.claim_callback(
            due, time.time() + self.settings.timeout_seconds + CLAIM_MARGIN)
        if job is None:
            return False
        try:
            key = callbacks.secret(self.catalog.get(job.function).token)
        except NotFound:
            self._record(job, "its function was deleted: there is no secret to sign with",
                         last=True)
            return True
        self._record(job, self._post(job, key))
        return True

    def _post(self, job: Job, key: str) -> str | None:
        """None when the receiver answered 2xx; else what went wrong, in words that leave
        the URL out (its path may be a secret of the receiver's)."""
        body = json.dumps(job.to_dict()).encode()
        request = urllib.request.Request(job.callback_url, data=body, method="POST",
                                         headers=headers(job, key, int(time.time()), body))
        try:
            with self._opener.open(request, timeout=self.settings.timeout_seconds):
                return None
        except urllib.error.HTTPError as answer:
            answer.close()
            if 300 <= answer.code < 400:
                return f"the receiver answered {answer.code}, a redirect, which is not followed"
            return f"the receiver answered {answer.code}"
        except urllib.error.URLError as exc:
            return f"the receiver could not be reached: {exc.reason}"
        except TimeoutError:
            return f"the receiver did not answer within {self.settings.timeout_seconds:g} s"
        except (http.client.HTTPException, OSError) as exc:
            return f"the connection failed: {type(exc).__name__}"

    def _record(self, job: Job, error: str | None, *, last: bool = False) -> None:
        """Record how the POST of `job` (as claimed) went: delivered, to be tried again, or,
        past the deadline or with `last`, given up."""
        now = time.time()
        if error is None:
            self.store.end_callback(job, CallbackState.DELIVERED, error=job.callback_error,
                                    delivered_at=now)
            metrics.CALLBACKS.labels("delivered").inc()
            return
        deadline = (job.finished_at or now) + self.settings.deadline_seconds
        if last or now >= deadline:
            self.store.end_callback(job, CallbackState.FAILED, error=error)
            metrics.CALLBACKS.labels("failed").inc()
            log.warning("job %s: its callback is given up after %d attempts: %s",
                        job.id, job.callback_attempts, error)
            return
        delay = backoff(self.settings.backoff_seconds, self.settings.backoff_max_seconds,
                        job.callback_attempts)
        self.store.end_callback(job, CallbackState.PENDING, error=error,
                                due_at=min(deadline, now + delay))
        metrics.CALLBACKS.labels("retried").inc()
