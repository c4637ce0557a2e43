"""Health and metrics."""

from __future__ import annotations

import os

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client import multiprocess

from gateway.openapi.operations import JSON, answer, described
from gateway.openapi.schemas import STRING

routes = web.RouteTableDef()


@routes.get("/healthz")
@described("Whether the gateway is up", tag="operations", public=True,
           answers={200: answer("Up", {JSON: {"type": "object", "properties": {
               "status": {"const": "ok"}}, "required": ["status"]}})})
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/metrics")
@described("Prometheus metrics", tag="operations", public=True,
           answers={200: answer("The metrics, in Prometheus' text format",
                                {"text/plain": STRING})})
async def metrics(request: web.Request) -> web.Response:
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return web.Response(body=generate_latest(registry),
                        headers={"Content-Type": CONTENT_TYPE_LATEST})
