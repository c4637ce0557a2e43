"""The Dramatiq actors; thin: each hands its message to the runner, and turns the runner's
request for another delivery into Dramatiq's `Retry`."""

from __future__ import annotations

import dramatiq

from broker import RUN_JOB_ACTOR
from workers.failures import RetryLater
from workers.running import JobRunner


def declare_actors(broker: dramatiq.Broker, runner: JobRunner, queue: str):
    def run_job(job_id: str) -> None:
        try:
            runner.handle(job_id)
        except RetryLater as exc:
            delay = None if exc.delay is None else int(exc.delay * 1000)
            raise dramatiq.Retry(delay=delay) from exc

    return dramatiq.actor(run_job, broker=broker, actor_name=RUN_JOB_ACTOR, queue_name=queue)
