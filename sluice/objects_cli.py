"""`sluice put`, `get`, `ls`, `rm` and `scan`: objects in the buckets, through the gateway."""

from __future__ import annotations

import json
import mimetypes
import sys
import urllib.parse
from pathlib import Path

from core.keys import bucket_problem
from sluice.client import Client, ClientError


def _split(location: str) -> tuple[str, str]:
    bucket, _, key = location.strip("/").partition("/")
    problem = bucket_problem(bucket)
    if problem:
        raise ClientError(f"{location!r} must be BUCKET/KEY; its bucket name {problem}")
    return bucket, key


def _path(bucket: str, key: str = "") -> str:
    return f"/v1/objects/{bucket}" + (f"/{urllib.parse.quote(key)}" if key else "")


def put(args, client: Client) -> None:
    bucket, prefix = _split(args.destination)
    into_folder = args.destination.endswith("/") or len(args.files) > 1 or not prefix
    for source in args.files:
        path = Path(source)
        if not path.is_file():
            raise ClientError(f"{source} is not a file")
        key = f"{prefix.rstrip('/')}/{path.name}".lstrip("/") if into_folder else prefix
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        client.request("PUT", _path(bucket, key), body=path.read_bytes(),
                       headers={"Content-Type": content_type})
        print(f"{source} -> {bucket}/{key}")


def get(args, client: Client) -> None:
    bucket, key = _split(args.location)
    if not key:
        raise ClientError(f"{args.location!r} names a bucket, not an object")
    data = client.request("GET", _path(bucket, key)).body
    if args.output == "-":
        sys.stdout.buffer.write(data)
        return
    target = Path(args.output or Path(key).name)
    target.write_bytes(data)
    print(f"{bucket}/{key} -> {target} ({len(data)} bytes)", file=sys.stderr)


def ls(args, client: Client) -> None:
    bucket, prefix = _split(args.location)
    listing = client.json("GET", _path(bucket), query={"prefix": prefix})["objects"]
    if args.json:
        print(json.dumps(listing, indent=2))
        return
    for entry in listing:
        print(f"{entry['size']:>12}  {bucket}/{entry['key']}")


def rm(args, client: Client) -> None:
    for location in args.locations:
        bucket, key = _split(location)
        client.request("DELETE", _path(bucket, key))
        print(f"removed {bucket}/{key}")


def scan(args, client: Client) -> int:
    """SCAR's `run`: a job for every object already in the function's input folders."""
    last = None
    for line in client.stream_lines("POST", f"/v1/functions/{args.name}/scan"):
        last = json.loads(line)
        if not args.json:
            _progress(last)
    if last is None:
        raise ClientError("the scan ended without a result")
    if args.json:
        print(json.dumps(last))
    else:
        print(f"\n{last['listed']} object(s): {last['submitted']} job(s) started, "
              f"{last['existing']} already had one, {last['refused']} refused", file=sys.stderr)
    return 1 if last["refused"] else 0


def _progress(state: dict) -> None:
    done = state["submitted"] + state["existing"] + state["refused"]
    width = 30
    filled = width if state["done"] else min(width, done * width // max(state["listed"], 1))
    print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done} object(s)", end="",
          file=sys.stderr, flush=True)
