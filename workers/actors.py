"""The Dramatiq actors; thin: each hands its message to the runner."""

from __future__ import annotations

import dramatiq

from broker import RUN_JOB_ACTOR
from workers.running import JobRunner


def declare_actors(broker: dramatiq.Broker, runner: JobRunner, queue: str):
    return dramatiq.actor(runner.handle, broker=broker, actor_name=RUN_JOB_ACTOR,
                          queue_name=queue)
