"""Publishing jobs to workers by actor name, so no publisher imports the workers' code."""

from __future__ import annotations

import dramatiq

from broker import RUN_JOB_ACTOR
from core.errors import Unavailable


class JobPublisher:
    def __init__(self, broker: dramatiq.Broker, queue: str):
        self.broker, self.queue = broker, queue

    def publish(self, job_id: str) -> None:
        """Send one job's message; with publisher confirms, returning means RabbitMQ has it."""
        message = dramatiq.Message(queue_name=self.queue, actor_name=RUN_JOB_ACTOR,
                                   args=(job_id,), kwargs={}, options={})
        try:
            self.broker.enqueue(message)
        except dramatiq.errors.ConnectionError as exc:
            raise Unavailable("the message broker is unreachable; the job is kept and will "
                              "be published again") from exc
