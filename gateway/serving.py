"""Serving the gateway: aiohttp's runner, with one change. Requests that cannot be parsed
as HTTP (a bad header character, a header too long, a bad or doubled Content-Length, a bad
chunk size) never reach the application and its problem middleware: aiohttp answers them
itself, in plain text. Here those answers are `application/problem+json` too."""

from __future__ import annotations

import asyncio
import http
import json
import signal

from aiohttp import web, web_protocol, web_server


class _ProblemHandler(web_protocol.RequestHandler):
    def handle_error(self, request, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        # aiohttp logs, and refuses when an answer has begun; its own text is replaced.
        super().handle_error(request, status, exc, message)
        title = http.HTTPStatus(status).phrase
        body = {"type": "about:blank", "title": title, "status": status}
        if status < 500 and message:
            body["detail"] = message
        response = web.Response(status=status, text=json.dumps(body),
                                content_type="application/problem+json")
        response.force_close()
        return response


class _ProblemServer(web_server.Server):
    def __call__(self) -> web_protocol.RequestHandler:
        return _ProblemHandler(self, loop=self._loop, **self._kwargs)


class ProblemAppRunner(web.AppRunner):
    """`web.AppRunner` whose connections answer unparseable requests as problems."""

    async def _make_server(self) -> web_server.Server:
        server = await super()._make_server()
        return _ProblemServer(server.request_handler, request_factory=server.request_factory,
                              handler_cancellation=server.handler_cancellation,
                              loop=server._loop, **server._kwargs)


async def start(app: web.Application, host: str, port: int) -> ProblemAppRunner:
    runner = ProblemAppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def run(app: web.Application, host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM, then stop as `web.run_app` does."""
    async def serve() -> None:
        runner = await start(app, host, port)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping.set)
        try:
            await stopping.wait()
        finally:
            await runner.cleanup()
    asyncio.run(serve())
