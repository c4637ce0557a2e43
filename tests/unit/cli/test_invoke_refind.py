"""`sluice invoke` whose connection drops while it waits (its gateway died): it asks again
with the same idempotency key, is answered by the job the first request made once that job
ends, and no second job is made. The drop is real: a proxy closes the first connection
after the request went through."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from sluice import cli
from tests.fixtures.stack import unconfined


@pytest.fixture
def local_settings(local_settings):
    return unconfined(local_settings)


async def dropping_proxy(upstream_port: int) -> tuple[asyncio.Server, int]:
    """Forwards to the gateway; the first connection is cut once its request is through."""
    connections = 0

    async def pipe(reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def handle(client_reader, client_writer):
        nonlocal connections
        connections += 1
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1",
                                                                         upstream_port)
        if connections == 1:
            upstream_writer.write(await client_reader.read(65536))
            await upstream_writer.drain()
            await asyncio.sleep(0.5)
            client_writer.close()
            upstream_writer.close()
            return
        await asyncio.gather(pipe(client_reader, upstream_writer),
                             pipe(upstream_reader, client_writer))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_a_dropped_invocation_is_found_again_by_its_key(local_api, capfd):
    await local_api.deploy("slowish", script="sleep 1; echo done")
    server, port = await dropping_proxy(local_api.client.server.port)
    argv = ["invoke", "slowish", "--url", f"http://127.0.0.1:{port}", "--token",
            local_api.token]
    try:
        with ThreadPoolExecutor(1) as pool:
            code = await asyncio.get_running_loop().run_in_executor(pool, cli.main, argv)
    finally:
        server.close()
        await server.wait_closed()
    out, err = capfd.readouterr()
    assert (code, out) == (0, "done\n"), err
    assert "asking again for the same job" in err
    listing = await (await local_api.request("GET", "/v1/jobs?function=slowish")).json()
    assert len(listing["jobs"]) == 1
