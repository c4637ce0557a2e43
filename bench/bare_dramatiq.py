"""The bare queue for bench/invoke.py: a Dramatiq worker whose actor runs /bin/true and
replies on a RabbitMQ queue. Run as `python -m bench.bare_dramatiq URL QUEUE REPLY_QUEUE`."""

import signal
import subprocess
import sys
import threading

import dramatiq
import pika
from dramatiq.brokers.rabbitmq import RabbitmqBroker

url, queue, reply_queue = sys.argv[1:4]
broker = RabbitmqBroker(url=url, confirm_delivery=True, middleware=[])
local = threading.local()


def reply_channel():
    if getattr(local, "channel", None) is None:
        local.channel = pika.BlockingConnection(pika.URLParameters(url)).channel()
    return local.channel


@dramatiq.actor(broker=broker, queue_name=queue, actor_name="bare")
def bare(token: str) -> None:
    subprocess.run(["/bin/true"], check=True)
    reply_channel().basic_publish("", reply_queue, token.encode())


worker = dramatiq.Worker(broker, worker_threads=8, worker_timeout=100)
worker.start()
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
print("ready", flush=True)
stop.wait()
worker.stop()
