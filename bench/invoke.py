"""Invocation latency and throughput of Sluice against its floors, measured in one run.

Starts its own `sluice up` (temporary data dir, free ports, real RabbitMQ and SeaweedFS) and
prints, with ratios to the floors:
  - fork+exec of /bin/true;
  - one RabbitMQ publish -> consume round trip;
  - a bare Dramatiq actor running /bin/true: sequential send -> reply, and throughput;
  - Sluice: sync no-op invocation p50/p90/p99 over N sequential calls, async throughput;
  - the sync figures again on a stack whose functions run as their own user, within limits,
    without bubblewrap, and on one whose functions run unconfined (as the worker's user, no
    limits):
    what the sandbox costs per invocation, with and without bubblewrap.

Usage: .venv/bin/python -m bench.invoke [--calls 500] [--jobs 2000] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import subprocess
import sys
import time
import uuid

try:
    import aiohttp
    import pika

    from bench.stack import BROKER, Stack, require_rabbitmq
    from core.times import parse_rfc3339
except ModuleNotFoundError as missing:
    sys.exit(f"bench: {missing.name} is missing: run `make install`, then "
             ".venv/bin/python -m bench.invoke")


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000
    return {"p50": at(0.5), "p90": at(0.9), "p99": at(0.99)}


def fork_exec(n: int) -> dict[str, float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        subprocess.run(["/bin/true"], check=True)
        samples.append(time.perf_counter() - started)
    return percentiles(samples)


def rabbitmq_round_trip(n: int) -> dict[str, float]:
    connection = pika.BlockingConnection(pika.URLParameters(BROKER))
    channel = connection.channel()
    queue = channel.queue_declare("", exclusive=True).method.queue
    samples = []
    for i in range(n):
        started = time.perf_counter()
        channel.basic_publish("", queue, str(i).encode())
        while channel.basic_get(queue, auto_ack=True)[0] is None:
            connection.process_data_events(time_limit=0)
        samples.append(time.perf_counter() - started)
    connection.close()
    return percentiles(samples)


def bare_dramatiq(n_sequential: int, n_throughput: int) -> tuple[dict, float]:
    queue, reply = f"bench-bare-{uuid.uuid4().hex[:8]}", f"bench-reply-{uuid.uuid4().hex[:8]}"
    connection = pika.BlockingConnection(pika.URLParameters(BROKER))
    channel = connection.channel()
    channel.queue_declare(reply, auto_delete=True)
    worker = subprocess.Popen([sys.executable, "-m", "bench.bare_dramatiq", BROKER, queue, reply],
                              stdout=subprocess.PIPE, text=True)
    try:
        worker.stdout.readline()
        import dramatiq
        from dramatiq.brokers.rabbitmq import RabbitmqBroker
        broker = RabbitmqBroker(url=BROKER, confirm_delivery=True, middleware=[])

        def send(token: str) -> None:
            broker.enqueue(dramatiq.Message(queue_name=queue, actor_name="bare", args=(token,),
                                            kwargs={}, options={}))

        def receive(count: int) -> None:
            got = 0
            for _method, _props, _body in channel.consume(reply, auto_ack=True):
                got += 1
                if got == count:
                    break
        samples = []
        for i in range(n_sequential):
            started = time.perf_counter()
            send(str(i))
            receive(1)
            samples.append(time.perf_counter() - started)
        started = time.perf_counter()
        for i in range(n_throughput):
            send(str(i))
        receive(n_throughput)
        rate = n_throughput / (time.perf_counter() - started)
        channel.cancel()
        for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):
            channel.queue_delete(name)
        return percentiles(samples), rate
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
        connection.close()


async def sync_samples(http: aiohttp.ClientSession, calls: int) -> list[float]:
    """Sequential synchronous invocations of a no-op, after a warm-up."""
    async with http.put("/v1/functions/noop", json={"command": ["/bin/true"]}) as response:
        assert response.status in (200, 201), await response.text()
    for _ in range(20):
        async with http.post("/v1/functions/noop/invocations") as response:
            await response.read()
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        async with http.post("/v1/functions/noop/invocations") as response:
            await response.read()
            assert response.status == 200, response.status
        samples.append(time.perf_counter() - started)
    return samples


def session(stack: Stack) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(stack.url, headers={"Authorization": f"Bearer {stack.token}"},
                                 connector=aiohttp.TCPConnector(limit=64))


async def sync_figures(stack: Stack, calls: int) -> dict:
    async with session(stack) as http:
        return percentiles(await sync_samples(http, calls))


async def sluice_figures(stack: Stack, calls: int, jobs: int) -> tuple[dict, float]:
    async with session(stack) as http:
        async with http.put("/v1/functions/noop-async",
                            json={"command": ["/bin/true"], "mode": "async"}) as response:
            assert response.status in (200, 201), await response.text()
        samples = await sync_samples(http, calls)

        started = time.time()
        semaphore = asyncio.Semaphore(64)

        async def submit() -> str:
            async with semaphore, http.post("/v1/functions/noop-async/invocations") as response:
                assert response.status == 201, response.status
                return (await response.json())["id"]
        ids = set(await asyncio.gather(*(submit() for _ in range(jobs))))
        # Completion is watched with a few requests a second, not one long-poll per job,
        # so that the measuring does not compete with the work measured.
        while any([await _page(http, f"status={state}&limit=1") for state in ("queued",
                                                                           "running")]):
            await asyncio.sleep(0.05)
        done, cursor = [], ""
        while True:
            page = await _page(http, f"limit=500{cursor}", whole=True)
            done += [j for j in page["jobs"] if j["id"] in ids]
            if "next_cursor" not in page:
                break
            cursor = f"&cursor={page['next_cursor']}"
        assert len(done) == jobs and {j["status"] for j in done} == {"succeeded"}
        last = max(parse_rfc3339(j["finished_at"]) for j in done)
        return percentiles(samples), jobs / (last - started)


async def _page(http: aiohttp.ClientSession, query: str, whole: bool = False):
    async with http.get(f"/v1/jobs?function=noop-async&{query}") as response:
        page = await response.json()
    return page if whole else page["jobs"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    require_rabbitmq()
    floor = fork_exec(args.calls)
    queue = rabbitmq_round_trip(args.calls)
    bare, bare_rate = bare_dramatiq(args.calls, args.jobs)
    with Stack(args.workers) as stack:
        sync, rate = asyncio.run(sluice_figures(stack, args.calls, args.jobs))
    with Stack(args.workers, SLUICE_SANDBOX="none") as own_user:
        unwrapped = asyncio.run(sync_figures(own_user, args.calls))
    with Stack(args.workers, SLUICE_SANDBOX="none", SLUICE_RUN_AS="", SLUICE_MAX_PROCESSES="0",
               SLUICE_MAX_FILE_SIZE="0") as plain:
        unsandboxed = asyncio.run(sync_figures(plain, args.calls))
    figures = {"fork_exec_ms": floor, "rabbitmq_round_trip_ms": queue,
               "bare_dramatiq_ms": bare, "bare_dramatiq_jobs_per_s": bare_rate,
               "sluice_sync_ms": sync, "sluice_sync_without_bubblewrap_ms": unwrapped,
               "sluice_sync_unconfined_ms": unsandboxed,
               "sluice_async_jobs_per_s": rate, "sluice_up_ready_s": stack.ready_seconds}
    print(f"{'':34}{'p50':>9}{'p90':>9}{'p99':>9}")
    for label, row in (("fork+exec /bin/true", floor), ("RabbitMQ publish->consume", queue),
                       ("bare Dramatiq actor, send->reply", bare),
                       ("Sluice sync no-op invocation", sync),
                       ("  own user and limits, no bwrap", unwrapped),
                       ("  unconfined", unsandboxed)):
        print(f"{label:34}" + "".join(f"{row[q]:8.2f}m" for q in ("p50", "p90", "p99")))
    print(f"\nthroughput: bare Dramatiq {bare_rate:.0f} jobs/s, Sluice async {rate:.0f} jobs/s "
          f"({rate / bare_rate:.2f}x of bare)")
    print(f"sync p50: {sync['p50'] / bare['p50']:.1f}x bare Dramatiq, "
          f"{sync['p50'] / floor['p50']:.1f}x fork+exec, "
          f"{sync['p50'] / queue['p50']:.1f}x a RabbitMQ round trip")
    sandbox = "bubblewrap" if shutil.which("bwrap") else "no bubblewrap installed"
    print(f"sandbox, sync p50 per invocation against functions run unconfined: "
          f"{sync['p50'] - unsandboxed['p50']:+.2f} ms ({sandbox}, own user, limits), "
          f"{unwrapped['p50'] - unsandboxed['p50']:+.2f} ms (own user, limits)")
    print(f"sluice up ready in {stack.ready_seconds:.1f} s")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
