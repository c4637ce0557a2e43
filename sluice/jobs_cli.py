"""`sluice cancel`, `rm-job` and `retry`: controlling jobs once they were accepted."""

from __future__ import annotations

import json
import time

from core import quantities
from core.times import parse_rfc3339
from sluice.client import Client, ClientError


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
