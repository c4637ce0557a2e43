"""Publishing jobs to workers by actor name, so no publisher imports the workers' code."""

from __future__ import annotations

import dramatiq

from broker import RUN_JOB_ACTOR
from core.errors import Unavailable

# The broker's type, for the layers above that may not import Dramatiq themselves.
Broker = dramatiq.Broker


def function_queue(base: str, function: str) -> str:
    """Each function has its own queue, so that a flood of one does not hold up the others
    and a worker pool can serve chosen functions only."""
    return f"{base}.{function}"


class JobPublisher:
    def __init__(self, broker: Broker, queue: str):
        self.broker, self.queue = broker, queue

    def publish(self, job_id: str, function: str) -> None:
        """Send one job's message; with publisher confirms, returning means RabbitMQ has it."""
        queue = function_queue(self.queue, function)
        message = dramatiq.Message(queue_name=queue, actor_name=RUN_JOB_ACTOR,
                                   args=(job_id,), kwargs={"function": function},
                                   options={})
        try:
            self.broker.declare_queue(queue)
            self.broker.enqueue(message)
        except dramatiq.errors.ConnectionError as exc:
            raise Unavailable("the message broker is unreachable; the job is kept and will "
                              "be published again") from exc
