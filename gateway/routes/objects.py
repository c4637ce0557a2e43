"""Objects in the storage buckets, for the command line (`sluice put`, `get`, `ls`, `rm`)."""

from __future__ import annotations

from aiohttp import web

from core.errors import Invalid
from core.keys import check_bucket
from gateway import responses
from gateway.auth import caller
from gateway.keys import SERVICE, SETTINGS
from gateway.requests import read_body
from gateway.openapi.operations import answer, bytes_body, described, json_answer, query
from gateway.openapi.schemas import STRING

routes = web.RouteTableDef()


def _bucket(request: web.Request) -> str:
    return check_bucket(request.match_info["bucket"])


@routes.get("/v1/objects/{bucket}")
@described("List objects", tag="objects", problems=(404, 422, 502), parameters=(
    query("prefix", STRING, "Only keys under this prefix."),),
           answers={200: json_answer("The objects", "ObjectListing")})
async def list_objects(request: web.Request) -> web.Response:
    bucket, prefix = _bucket(request), request.query.get("prefix", "")
    listing = await request.app[SERVICE].list_objects(caller(request), bucket, prefix)
    return web.json_response({"bucket": bucket, "prefix": prefix, "objects": [
        {"key": key, "etag": etag, "size": size} for key, etag, size in listing]})


@routes.put("/v1/objects/{bucket}/{key:.+}")
@described("Store an object", tag="objects", problems=(422, 502),
           body=bytes_body("The object's bytes; Content-Type is kept"),
           answers={201: json_answer("Stored", "ObjectWritten")})
async def put_object(request: web.Request) -> web.Response:
    bucket, key = _bucket(request), request.match_info["key"]
    if request.content_type.startswith("multipart/"):
        raise Invalid("send the object's own bytes as the body: a multipart form is not "
                      "unpacked, and its type without its boundary names nothing")
    etag, size = await request.app[SERVICE].put_object(
        caller(request), bucket, key,
        lambda: read_body(request, request.app[SETTINGS].max_body),
        request.content_type or "application/octet-stream")
    return web.json_response({"bucket": bucket, "key": key, "etag": etag, "size": size},
                             status=201)


@routes.get("/v1/objects/{bucket}/{key:.+}")
@described("Fetch an object", tag="objects", problems=(404, 422, 502),
           answers={200: answer("Its bytes", {"*/*": None}, {"ETag": STRING})})
async def get_object(request: web.Request) -> web.StreamResponse:
    info, chunks = await request.app[SERVICE].open_object(
        caller(request), _bucket(request), request.match_info["key"])
    return await responses.stream(request, chunks, content_type=info.content_type,
                                  size=info.size, headers={"ETag": info.etag})


@routes.delete("/v1/objects/{bucket}/{key:.+}")
@described("Delete an object", tag="objects", problems=(404, 422, 502),
           answers={204: answer("Deleted")})
async def delete_object(request: web.Request) -> web.Response:
    await request.app[SERVICE].delete_object(caller(request), _bucket(request),
                                             request.match_info["key"])
    return web.Response(status=204)
