"""`sluice job`: one job's record as a person reads it, with what its function used and
the history of its attempts."""

from __future__ import annotations

import json

from sluice.client import Client
from sluice.display import local_time, seconds, size

TERMINAL = {"succeeded", "failed", "cancelled", "dismissed"}


def show(args, client: Client) -> int:
    record = client.json("GET", f"/v1/jobs/{args.id}")
    while args.wait and record["status"] not in TERMINAL:
        record = client.json("GET", f"/v1/jobs/{args.id}", query={"wait": 30})
    history = client.json("GET", f"/v1/jobs/{args.id}/attempts")["attempts"]
    if args.json:
        print(json.dumps(record | {"attempt_history": history}, indent=2))
    else:
        rows = [("id", record["id"]), ("function", f"{record['function']} "
                                                  f"(revision {record['revision']})"),
                ("status", record["status"] + (f" ({record['reason']})" if record["reason"]
                                               else "")),
                ("attempts", record["attempts"]), ("exit code", record["exit_code"]),
                ("worker", record["worker"]),
                ("created", local_time(record["created_at"])),
                ("started", local_time(record["started_at"])),
                ("finished", local_time(record["finished_at"])),
                ("queue wait", seconds(record["queue_wait"])),
                ("runtime", seconds(record["runtime"])),
                ("CPU", seconds(record["cpu_seconds"])),
                ("peak memory", size(record["peak_memory"])),
                ("block I/O", _block_io(record)),
                ("bytes in/out", f"{record['bytes_in']} / {record['bytes_out']}")]
        if record.get("error"):
            rows.append(("error", record["error"]))
        rows += [("output", f"{o['name']} ({size(o['size'])}) s3://{o['bucket']}/{o['key']}")
                 for o in record["outputs"]]
        rows += [("attempt", _attempt_line(attempt)) for attempt in history]
        if record.get("callback"):
            rows.append(("callback", _callback_line(record["callback"])))
        for key, value in rows:
            print(f"{key:<12} {'-' if value is None else value}")
    return 0 if record["status"] in ("succeeded", "queued", "running") else 1


def _block_io(measured: dict) -> str | None:
    """`20.0 MiB read, 4.0 KiB written`: what the function itself read and wrote."""
    read, written = measured["io_read_bytes"], measured["io_write_bytes"]
    if read is None and written is None:
        return None
    return f"{size(read) or '-'} read, {size(written) or '-'} written"


def _attempt_line(attempt: dict) -> str:
    """`2  exit 3 (error)  on w-1a2b  14:07:27 -> 14:07:29  CPU 2.2 ms  peak 1.5 MiB`, and
    what went wrong."""
    how = f"exit {attempt['exit_code']}" if attempt["exit_code"] is not None else "no exit"
    if attempt["reason"]:
        how += f" ({attempt['reason']})"
    started = local_time(attempt["started_at"]) or "-"
    line = f"{attempt['number']}  {how}  on {attempt['worker'] or '-'}  " \
           f"{started} -> {local_time(attempt['finished_at'])}"
    for label, shown in (("CPU", seconds(attempt["cpu_seconds"])),
                         ("peak", size(attempt["peak_memory"])),
                         ("I/O", _block_io(attempt))):
        if shown is not None:
            line += f"  {label} {shown}"
    return line + (f"  {attempt['error']}" if attempt["error"] else "")


def _callback_line(callback: dict) -> str:
    """`delivered after 3 attempts at 2026-12-01 14:07:29  https://...  (last error: ...)`."""
    tries = callback["attempts"]
    line = callback["state"] + (f" after {tries} attempt{'s' * (tries != 1)}" if tries else "")
    if callback["delivered_at"]:
        line += f" at {local_time(callback['delivered_at'])}"
    line += f"  {callback['url']}"
    return line + (f"  (last error: {callback['last_error']})" if callback["last_error"]
                   else "")
