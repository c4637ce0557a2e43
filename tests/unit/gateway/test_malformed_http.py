"""Requests that are not well-formed HTTP never reach the application; the server answers
them as problems too (gateway/serving.py), not in aiohttp's plain text."""

from __future__ import annotations

import asyncio
import json

import pytest

from broker.events import LocalEvents
from broker.setup import in_process_broker
from gateway import serving
from gateway.app import create_app
from sluice.ports import free_port_block


@pytest.fixture
async def address(local_settings, memory_objects):
    port = free_port_block(1)
    app = create_app(local_settings, broker=in_process_broker(), events=LocalEvents(),
                     object_store=memory_objects)
    runner = await serving.start(app, "127.0.0.1", port)
    yield "127.0.0.1", port
    await runner.cleanup()


async def exchange(address, request: bytes) -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection(*address)
    writer.write(request)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


GET = b"GET /v1/functions HTTP/1.1\r\nHost: x\r\n"


@pytest.mark.parametrize("request_bytes", [
    GET + b"X-Bad: a\x01b\r\n\r\n",
    GET + b"X-Long: " + b"x" * 9000 + b"\r\n\r\n",
    b"POST /v1/functions HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    b"POST /v1/functions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nab",
    b"POST /v1/functions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST /v1/functions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n",
], ids=["header character", "header too long", "negative length", "doubled length",
        "length and chunks", "chunk size", "not http"])
async def test_malformed_http_is_answered_as_a_problem(address, request_bytes):
    status, headers, body = await exchange(address, request_bytes)
    assert 400 <= status < 500
    assert headers["content-type"].startswith("application/problem+json")
    problem = json.loads(body)
    assert problem["status"] == status and problem["title"]
