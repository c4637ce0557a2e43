"""The API's description of itself: `/openapi.json` and `/openapi.yaml` (made from the
routes as the application is created), an API browser at `/docs` (Swagger UI, its assets from
the `swagger-ui-py` package, no CDN), and `/`, which points a browser at the browser
and a program at the document."""

from __future__ import annotations

import importlib.util
import json
import mimetypes
from pathlib import Path

import yaml
from aiohttp import web

from core.errors import NotFound
from gateway.keys import OPENAPI
from gateway.openapi.operations import JSON, answer, described

routes = web.RouteTableDef()
# Found, not imported: the package's own code (handlers for other frameworks) is not needed.
ASSETS = Path(importlib.util.find_spec("swagger_ui").submodule_search_locations[0]) / "static"
# The files the browser page needs, and no others.
SERVED = ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
          "favicon-32x32.png", "favicon-16x16.png")
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sluice API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png" sizes="32x32"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/swagger-ui-standalone-preset.js"></script>
<script>window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "StandaloneLayout", persistAuthorization: true});</script>
</body></html>
"""
HTML = {"text/html": {"type": "string"}}


@routes.get("/")
@described("Where to go: a browser is sent to /docs, a program gets the links", tag="docs",
           public=True, answers={
               200: answer("The links", {JSON: {"type": "object", "additionalProperties": {
                   "type": "string"}}}),
               302: answer("To the API browser", headers={"Location": {"type": "string"}})})
async def root(request: web.Request) -> web.Response:
    if "text/html" in request.headers.get("Accept", ""):
        raise web.HTTPFound("/docs")
    return web.json_response({"openapi": "/openapi.json", "docs": "/docs", "native": "/v1",
                              "health": "/healthz"})


@routes.get("/openapi.json")
@described("This document", tag="docs", public=True,
           answers={200: answer("OpenAPI 3.1", {JSON: {"type": "object"}})})
async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(text=json.dumps(request.app[OPENAPI]), content_type="application/json")


@routes.get("/openapi.yaml")
@described("This document, in YAML", tag="docs", public=True,
           answers={200: answer("OpenAPI 3.1", {"application/yaml": {"type": "object"}})})
async def openapi_yaml(request: web.Request) -> web.Response:
    text = yaml.safe_dump(request.app[OPENAPI], sort_keys=False, allow_unicode=True)
    return web.Response(text=text, content_type="application/yaml")


@routes.get("/docs")
@described("The API browser", tag="docs", public=True, answers={200: answer("A page", HTML)})
async def docs(request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")


@routes.get("/docs/{asset}")
@described("The API browser's assets", tag="docs", public=True, problems=(404,), parameters=(
    {"name": "asset", "in": "path", "required": True, "schema": {"enum": list(SERVED)},
     "description": "One of Swagger UI's files."},),
           answers={200: answer("The file", {"*/*": None})})
async def asset(request: web.Request) -> web.Response:
    name = request.match_info["asset"]
    if name not in SERVED:
        raise NotFound(f"no asset {name!r}")
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return web.Response(body=(ASSETS / name).read_bytes(), content_type=kind,
                        headers={"Cache-Control": "public, max-age=86400"})
