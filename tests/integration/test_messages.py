"""Messages of any kind and invocation parameters, through the gateway to a worker on real
RabbitMQ and SeaweedFS: the function reads the body at INPUT_FILE_PATH byte for byte, on the
process executor (sandboxed) and in a Podman container, with MESSAGE_CONTENT_TYPE, MESSAGE
for short text or JSON, and a PARAM_<NAME> for each query parameter."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from core.messages import MESSAGE_MAX_BYTES

# The input as read, and the environment of a process the function starts (NUL-separated).
SHOWS = 'cd "$TMP_OUTPUT_DIR" && cp "$INPUT_FILE_PATH" input && cat /proc/self/environ > env'


@pytest.fixture(params=["process", "container"])
def seen(request):
    """`seen(body, content_type, query)`: invoke a function that shows what it got; returns
    (the input it read, its environment, the job's id), on the executor of the param."""
    if request.param == "process":
        api, spec = request.getfixturevalue("api"), {}
    else:
        api = request.getfixturevalue("gateway_only")
        request.getfixturevalue("container_worker")
        spec = {"image": request.getfixturevalue("podman").image}

    async def seen(body: bytes, content_type: str | None, query: str = ""):
        await api.deploy("shows", script=SHOWS, **spec)
        headers = {"Content-Type": content_type} if content_type else {}
        response = await api.request("POST", f"/v1/functions/shows/invocations{query}",
                                     data=body, headers=headers,
                                     skip_auto_headers=["Content-Type"])
        assert response.status == 200, await response.text()
        archive = zipfile.ZipFile(io.BytesIO(await response.read()))
        env = dict(entry.decode().partition("=")[::2]
                   for entry in archive.read("env").split(b"\0") if entry)
        return archive.read("input"), env, response.headers["Sluice-Job-Id"]
    seen.api = api
    return seen


async def test_every_byte_value_reaches_the_function_unchanged(seen):
    body = bytes(range(256)) * 4 + b"\0\r\n\xff"
    read, env, _ = await seen(body, "application/octet-stream")
    assert read == body
    assert env["MESSAGE_CONTENT_TYPE"] == "application/octet-stream"
    assert "MESSAGE" not in env


async def test_a_text_message_is_also_given_as_MESSAGE_with_the_parameters(seen):
    text = 'Grüße, "$HOME" `date` \\n\nline two\n'
    read, env, job_id = await seen(text.encode(), "text/plain; charset=utf-8",
                                   "?size=10&name=caf%C3%A9&flag&spaced=a+b%20c")
    assert read == text.encode() and env["MESSAGE"] == text
    assert env["MESSAGE_CONTENT_TYPE"] == "text/plain; charset=utf-8"
    expected = {"size": "10", "name": "café", "flag": "", "spaced": "a b c"}
    assert {name: env[f"PARAM_{name}"] for name in expected} == expected
    job = await (await seen.api.request("GET", f"/v1/jobs/{job_id}")).json()
    assert job["params"] == expected


async def test_a_json_message_is_given_as_it_was_sent(seen):
    body = json.dumps({"values": [1, 2.5, "é"], "nested": {"ok": True}}, indent=1).encode()
    read, env, _ = await seen(body, "application/json")
    assert read == body and env["MESSAGE"] == body.decode()


@pytest.mark.parametrize("body, content_type, why", [
    (b"x" * (MESSAGE_MAX_BYTES + 1), "text/plain", "longer than 64 KiB"),
    (b"a\0b", "text/plain", "holds NUL, which no variable can"),
    (b"caf\xe9", "text/plain", "is not UTF-8"),
    (b"plain words", None, "has no content type: application/octet-stream"),
])
async def test_a_message_that_cannot_be_a_variable_is_only_the_input_file(
        api, body, content_type, why):
    await api.deploy("shows", script=SHOWS)
    headers = {"Content-Type": content_type} if content_type else {}
    response = await api.request("POST", "/v1/functions/shows/invocations", data=body,
                                 headers=headers, skip_auto_headers=["Content-Type"])
    archive = zipfile.ZipFile(io.BytesIO(await response.read()))
    env = archive.read("env").split(b"\0")
    assert archive.read("input") == body, why
    assert not [entry for entry in env if entry.startswith(b"MESSAGE=")], why
    assert f"MESSAGE_CONTENT_TYPE={content_type or 'application/octet-stream'}".encode() in env


async def test_a_message_of_64_kib_exactly_is_given_whole(api):
    await api.deploy("length", script='printf %s "$MESSAGE" | wc -c')
    response = await api.request("POST", "/v1/functions/length/invocations",
                                 data=b"y" * MESSAGE_MAX_BYTES,
                                 headers={"Content-Type": "text/plain"})
    assert (await response.text()).strip() == str(MESSAGE_MAX_BYTES)


async def test_bad_parameters_are_refused_by_name_and_make_no_job(api):
    await api.deploy("strict", command=["true"])
    response = await api.request(
        "POST", "/v1/functions/strict/invocations?ok=1&9lives=x&with-dash=y&nul=%00&ok=2")
    problem = await response.json()
    assert (response.status, response.content_type) == (422, "application/problem+json")
    assert {e["path"]: e["message"] for e in problem["errors"]} == {
        "query.9lives": "is not a parameter name: 1 to 64 letters, digits and '_', not "
                        "starting with a digit",
        "query.with-dash": "is not a parameter name: 1 to 64 letters, digits and '_', not "
                           "starting with a digit",
        "query.nul": "must not hold NUL",
        "query.ok": "is given more than once"}
    listing = await (await api.request("GET", "/v1/jobs?function=strict")).json()
    assert listing["jobs"] == []
