"""File-triggered processing, end to end, in the one-machine stack.

Uploads N small files straight to S3 (SeaweedFS), each triggering a trivial function
through the filer webhook, and prints files/s until every output exists and the p50/p99
from upload to output. A second round pauses event ingestion (the gateway, which receives
the webhooks) for part of the upload, and counts lost and duplicated jobs; the reconciliation
scan and the webhook's retries must leave exactly one job per file.

Usage: .venv/bin/python -m bench.events [--files 1000] [--workers 2]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import statistics
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

try:
    from minio import Minio

    from bench.stack import Stack, require_rabbitmq
    from core.times import parse_rfc3339
except ModuleNotFoundError as missing:
    sys.exit(f"bench: {missing.name} is missing: run `make install`, then "
             ".venv/bin/python -m bench.events")

FUNCTION = {"script": 'cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/"', "mode": "async",
            "input": [{"bucket": "bench-events", "prefix": "in/", "scan_interval": 5}],
            "output": {"bucket": "bench-events", "prefix": "out"}}


def api(stack: Stack, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        stack.url + path, method=method, data=json.dumps(body).encode() if body else None,
        headers={"Authorization": f"Bearer {stack.token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"{}")


def all_jobs(stack: Stack, function: str) -> list[dict]:
    jobs, cursor = [], None
    while True:
        page = api(stack, "GET", f"/v1/jobs?function={function}&limit=500"
                   + (f"&cursor={cursor}" if cursor else ""))
        jobs += page["jobs"]
        cursor = page.get("next_cursor")
        if not cursor:
            return jobs


def busy(stack: Stack, function: str) -> bool:
    return any(api(stack, "GET", f"/v1/jobs?function={function}&status={status}&limit=1")["jobs"]
               for status in ("queued", "running"))


def upload_round(stack: Stack, client: Minio, function: str, files: int,
                 outage: float = 0.0, rate: float = 0.0) -> dict:
    """Deploy a function, upload the files; with `outage`, the gateway (which receives the
    webhooks) is stopped during the first half of the upload and at least that long; with
    `rate`, files are uploaded one by one at that many a second."""
    api(stack, "PUT", f"/v1/functions/{function}",
        FUNCTION | {"input": [FUNCTION["input"][0] | {"prefix": f"{function}/in/"}],
                    "output": {"bucket": "bench-events", "prefix": f"{function}/out"}})
    uploaded: dict[str, float] = {}

    def put(i: int) -> None:
        key = f"{function}/in/file-{i:05d}.txt"
        client.put_object("bench-events", key, io.BytesIO(b"x" * 64), 64)
        uploaded[key] = time.time()

    started = time.time()
    with ThreadPoolExecutor(16) as pool:
        if outage:
            gateway = stack.child("gateway")
            os.kill(gateway, signal.SIGSTOP)
            try:
                list(pool.map(put, range(files // 2)))
                time.sleep(max(0.0, outage - (time.time() - started)))
            finally:
                os.kill(gateway, signal.SIGCONT)
            list(pool.map(put, range(files // 2, files)))
        elif rate:
            for i in range(files):
                put(i)
                time.sleep(max(0.0, started + (i + 1) / rate - time.time()))
        else:
            list(pool.map(put, range(files)))
    deadline = time.time() + 300
    while True:
        # Listing every job is left for when none is queued or running, so that watching
        # does not compete with the work watched.
        if busy(stack, function) and time.time() < deadline:
            time.sleep(0.2)
            continue
        jobs = all_jobs(stack, function)
        finished = [j for j in jobs if j["status"] in ("succeeded", "failed")]
        if len({j["source"]["key"] for j in finished}) >= files or time.time() > deadline:
            break
        time.sleep(0.5)
    per_key: dict[str, int] = {}
    for job in jobs:
        per_key[job["source"]["key"]] = per_key.get(job["source"]["key"], 0) + 1
    finished_at = {j["id"]: parse_rfc3339(j["finished_at"]) for j in finished}
    latencies = sorted(finished_at[j["id"]] - uploaded[j["source"]["key"]] for j in finished
                       if j["source"]["key"] in uploaded)
    last = max(finished_at.values())
    return {"files": files, "files_per_s": files / (last - started),
            "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
            "lost": files - len(per_key), "duplicated": sum(n - 1 for n in per_key.values()),
            "failed": sum(1 for j in finished if j["status"] == "failed")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pause", type=float, default=5.0,
                        help="seconds event ingestion stays paused in the second round")
    parser.add_argument("--rate", type=float, default=20.0,
                        help="files a second in the paced round, below saturation")
    args = parser.parse_args()
    require_rabbitmq()
    with Stack(args.workers) as stack:
        keys = json.loads((stack.dir / "s3-credentials.json").read_text())
        client = Minio(stack.env["SLUICE_S3_URL"].removeprefix("http://")
                       if "SLUICE_S3_URL" in stack.env else
                       f"127.0.0.1:{stack.env['SLUICE_S3_PORT']}",
                       access_key=keys["access_key"], secret_key=keys["secret_key"], secure=False)
        if not client.bucket_exists("bench-events"):
            client.make_bucket("bench-events")
        steady = upload_round(stack, client, "steady", args.files)
        outage = upload_round(stack, client, "outage", args.files, outage=args.pause)
        paced = upload_round(stack, client, "paced", max(50, args.files // 5), rate=args.rate)
    for label, figures in (("as fast as possible", steady),
                           (f"ingestion paused {args.pause:.0f} s", outage),
                           (f"paced at {args.rate:.0f} files/s", paced)):
        print(f"{label:26} {figures['files']} files: {figures['files_per_s']:6.1f} files/s, "
              f"upload->output p50 {figures['p50_ms']:6.1f} ms p99 {figures['p99_ms']:7.1f} ms,"
              f" lost {figures['lost']}, duplicated {figures['duplicated']}, "
              f"failed {figures['failed']}")
    print(json.dumps({"steady": steady, "outage": outage, "paced": paced}))


if __name__ == "__main__":
    main()
