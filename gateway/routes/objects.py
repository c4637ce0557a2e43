"""Objects in the storage buckets, for the command line (`sluice put`, `get`, `ls`, `rm`)."""

from __future__ import annotations

from aiohttp import web

from core.errors import Invalid
from core.functions import BUCKET
from core.keys import check_key
from gateway.auth import caller
from gateway.keys import SERVICE, SETTINGS
from gateway.requests import read_body

routes = web.RouteTableDef()


def _admin(request: web.Request) -> None:
    caller(request, request.app[SETTINGS].admin_token).require_admin()


def _where(request: web.Request, *, with_key: bool = True) -> tuple[str, str]:
    bucket = request.match_info["bucket"]
    if not BUCKET.match(bucket):
        raise Invalid(f"{bucket!r} is not a bucket name")
    return bucket, check_key(request.match_info["key"]) if with_key else ""


@routes.get("/v1/objects/{bucket}")
async def list_objects(request: web.Request) -> web.Response:
    _admin(request)
    bucket, _ = _where(request, with_key=False)
    service = request.app[SERVICE]
    prefix = request.query.get("prefix", "")
    listing = await service.run(lambda: list(service.objects.list_objects(bucket, prefix)))
    return web.json_response({"bucket": bucket, "prefix": prefix, "objects": [
        {"key": key, "etag": etag, "size": size} for key, etag, size in listing]})


@routes.put("/v1/objects/{bucket}/{key:.+}")
async def put_object(request: web.Request) -> web.Response:
    _admin(request)
    bucket, key = _where(request)
    service = request.app[SERVICE]
    body = await read_body(request, request.app[SETTINGS].max_body)
    await service.run(service.objects.ensure_bucket, bucket)
    etag = await service.run(service.objects.put_bytes, bucket, key, body,
                             request.content_type or "application/octet-stream")
    return web.json_response({"bucket": bucket, "key": key, "etag": etag, "size": len(body)},
                             status=201)


@routes.get("/v1/objects/{bucket}/{key:.+}")
async def get_object(request: web.Request) -> web.StreamResponse:
    _admin(request)
    bucket, key = _where(request)
    service = request.app[SERVICE]
    info = await service.run(service.objects.stat, bucket, key)
    chunks = await service.run(service.objects.stream, bucket, key)
    response = web.StreamResponse(headers={"Content-Type": info.content_type,
                                           "Content-Length": str(info.size), "ETag": info.etag})
    await response.prepare(request)
    while chunk := await service.run(next, chunks, b""):
        await response.write(chunk)
    await response.write_eof()
    return response


@routes.delete("/v1/objects/{bucket}/{key:.+}")
async def delete_object(request: web.Request) -> web.Response:
    _admin(request)
    bucket, key = _where(request)
    service = request.app[SERVICE]
    await service.run(service.objects.delete, bucket, key)
    return web.Response(status=204)
