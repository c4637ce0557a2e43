"""Answers to synchronous invocations: the first result a job that succeeded sent, as Abaco
answers a synchronous message; else by OSCAR's rules: one output file is answered with its
bytes, several with a zip, none with the captured stdout (and the log)."""

from __future__ import annotations

import io
import json
import urllib.parse
import zipfile
from collections.abc import AsyncIterator

from aiohttp import web

from core.jobs import Job, JobStatus, OutputObject
from gateway.service import Service

# Said by a gateway that answers a synchronous caller early because it stops.
STOPPING = "Sluice-Gateway"

def job_headers(job: Job) -> dict[str, str]:
    headers = {"Sluice-Job-Id": job.id, "Sluice-Job-Status": str(job.status),
               "Location": f"/v1/jobs/{job.id}"}
    if job.exit_code is not None:
        headers["Sluice-Exit-Code"] = str(job.exit_code)
    if job.reason is not None:
        headers["Sluice-Reason"] = str(job.reason)
    return headers


def accepted(job: Job, *, stopping: bool = False) -> web.Response:
    """The job is accepted and not finished (asked to be asynchronous, or the wait ran out).
    `stopping`: the wait ended because this gateway stops; the caller is told, so that it
    asks again (with its idempotency key) for the answer it waited for."""
    headers = job_headers(job) | ({STOPPING: "stopping"} if stopping else {})
    return web.Response(status=201, text=json.dumps(job.to_dict()),
                        content_type="application/json", headers=headers)


async def stream(request: web.Request, chunks: AsyncIterator[bytes], *, content_type: str,
                 size: int, headers: dict[str, str] | None = None) -> web.StreamResponse:
    """An object's bytes, sent as they come from the object store; for HEAD, only what
    they are (nothing is fetched)."""
    response = web.StreamResponse(headers={"Content-Type": content_type,
                                           "Content-Length": str(size), **(headers or {})})
    await response.prepare(request)
    if request.method != "HEAD":
        async for chunk in chunks:
            await response.write(chunk)
    await response.write_eof()
    return response


async def finished(service: Service, job: Job) -> web.Response:
    headers = job_headers(job)
    result = await service.first_result(job) if job.status is JobStatus.SUCCEEDED else None
    if result is not None:
        return web.Response(body=result, content_type="application/octet-stream",
                            headers=headers)
    files: dict[str, OutputObject] = {}
    for output in job.outputs:
        # A file sent to several output places is one file of the answer.
        files.setdefault(output.name, output)
    if job.status is JobStatus.SUCCEEDED and len(files) == 1:
        [output] = files.values()
        headers["Content-Disposition"] = _attachment(output.name)
        return web.Response(body=await service.read_output(job, output.name),
                            content_type=output.content_type, headers=headers)
    if job.status is JobStatus.SUCCEEDED and files:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for output in files.values():
                archive.writestr(output.name, await service.read_output(job, output.name))
        headers["Content-Disposition"] = _attachment(f"{job.id}.zip")
        return web.Response(body=buffer.getvalue(), content_type="application/zip",
                            headers=headers)
    return web.Response(status=job.answer_status, body=await service.stdout_and_log(job),
                        content_type="text/plain", charset="utf-8", headers=headers)


def _attachment(name: str) -> str:
    """Content-Disposition for an output (RFC 6266): a plain ASCII name for every client,
    and the name itself for those that read `filename*`; nothing that could end a header."""
    basename = name.rsplit("/", 1)[-1]
    plain = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in basename)
    encoded = urllib.parse.quote(basename, safe="", errors="replace")
    return f"attachment; filename=\"{plain or 'output'}\"; filename*=UTF-8''{encoded}"
