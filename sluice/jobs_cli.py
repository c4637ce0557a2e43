"""`sluice cancel`, `rm-job` and `retry`: controlling jobs once they were accepted;
`sluice logs -f`, following one as it runs; and `sluice results`, what it published."""

from __future__ import annotations

import base64
import json
import sys
import time

from core import quantities
from core.times import parse_rfc3339
from sluice.client import REFIND_SECONDS, Client, ClientError, ConnectionLost, Unreachable


def cancel(args, client: Client) -> None:
    if args.queued:
        answer = client.json("DELETE", f"/v1/functions/{args.queued}/queue")
        print(json.dumps(answer, indent=2) if args.json
              else f"{args.queued}: {len(answer['cancelled'])} queued jobs cancelled")
        return
    record = client.json("POST", f"/v1/jobs/{args.id}/cancel")
    print(json.dumps(record, indent=2) if args.json else f"{record['id']}: {record['status']}")


def remove_job(args, client: Client) -> None:
    client.request("DELETE", f"/v1/jobs/{args.id}")
    if not args.json:
        print(f"{args.id}: deleted")


def retry(args, client: Client) -> None:
    """One job again, or every failed job of a function (that ended within `--since`)."""
    if args.function and not args.failed:
        raise ClientError("--function runs again only failed jobs: add --failed")
    revision = "original" if args.original_revision else "current"
    ids = [args.id] if args.id else _failed(client, args.function, args.since)
    for done, job_id in enumerate(ids, 1):
        record = client.json("POST", f"/v1/jobs/{job_id}/retry", query={"revision": revision})
        if args.json:
            print(json.dumps(record))
        else:
            print(f"{record['id']}: {record['status']} (revision {record['revision']})"
                  + (f"  [{done}/{len(ids)}]" if len(ids) > 1 else ""))
    if not ids and not args.json:
        print(f"{args.function}: no failed job to run again")


def _failed(client: Client, function: str, since: str | None) -> list[str]:
    """The failed jobs of `function`, newest first, that ended after now - `since`."""
    try:
        after = time.time() - quantities.duration(since) if since else 0.0
    except ValueError as exc:
        raise ClientError(f"--since {exc}") from None
    found, cursor = [], None
    while True:
        page = client.json("GET", "/v1/jobs", query={
            "function": function, "status": "failed", "limit": 500, "cursor": cursor})
        for job in page["jobs"]:
            if job["finished_at"] and parse_rfc3339(job["finished_at"]) >= after:
                found.append(job["id"])
        cursor = page.get("next_cursor")
        if not cursor:
            return found


def follow_logs(args, client: Client) -> int:
    """Print what the job prints as it runs (stdout to stdout, stderr and Sluice's notes to
    stderr) until it ends; 0 if it succeeded. A dropped connection, or a gateway that stops,
    is followed again from the last event, on whichever gateway answers, for up to
    `REFIND_SECONDS`."""
    query = {"follow": "1", "stream": args.stream}
    if args.attempt is not None:
        query["attempt"] = str(args.attempt)
    since, attempt, lost_at = None, None, None
    while True:
        try:
            for event in client.events(f"/v1/jobs/{args.id}/logs", query=query,
                                       last_event_id=since):
                since, lost_at = event.id, None
                if event.kind in ("stdout", "stderr"):
                    out = sys.stdout if event.kind == "stdout" else sys.stderr
                    out.write(event.data)
                    out.flush()
                elif event.kind == "attempt":
                    if attempt not in (None, event.data):
                        print(f"sluice: attempt {event.data}", file=sys.stderr, flush=True)
                    attempt = event.data
                elif event.kind == "notice":
                    sys.stderr.write(event.data)
                elif event.kind == "end":
                    status = json.loads(event.data)["status"]
                    if status not in ("queued", "running"):
                        return 0 if status == "succeeded" else 1
        except (ConnectionLost, Unreachable) as error:
            lost_at = lost_at or time.monotonic()
            if time.monotonic() - lost_at > REFIND_SECONDS:
                raise
            if since is None and isinstance(error, Unreachable):
                raise
        time.sleep(1.0)


def add_results_command(command) -> None:
    p = command("results", lambda args: results(args, Client(args.url, args.token)),
                "print what a job's function published as it ran (each result on a line of "
                "its own), or take its oldest result")
    p.add_argument("id")
    p.add_argument("--pop", action="store_true",
                   help="print the oldest result's bytes as they are and remove it from the "
                        "job; exit 1 when there is none")


def results(args, client: Client) -> int:
    path = f"/v1/jobs/{args.id}/results"
    if args.pop:
        data = client.request("GET", path, query={"pop": "1"}).body
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        if not data:
            print(f"{args.id}: no result", file=sys.stderr)
        return 0 if data else 1
    found, cursor = [], None
    while True:
        page = client.json("GET", path, query={"limit": 1000, "cursor": cursor})
        found += page["results"]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    if args.json:
        print(json.dumps({"job": page["job"], "status": page["status"], "results": found},
                         indent=2))
        return 0
    for result in found:
        data = base64.b64decode(result["data"])
        sys.stdout.buffer.write(data if data.endswith(b"\n") else data + b"\n")
    sys.stdout.flush()
    return 0
