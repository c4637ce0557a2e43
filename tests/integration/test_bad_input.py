"""Every bad input gets a clear 4xx `application/problem+json`, never a 500."""

import pytest

GOOD = {"command": ["true"]}


async def problem(response, status: int) -> dict:
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    body = await response.json()
    assert body["status"] == status and body["title"]
    return body


async def test_no_token_is_401_and_a_wrong_one_403(gateway_only):
    api = gateway_only
    response = await api.client.get("/v1/functions")
    await problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    await problem(await api.client.get("/v1/functions", headers={"Authorization": "Basic x"}),
                  401)
    await problem(await api.request("GET", "/v1/functions", token="wrong"), 403)


async def test_an_invalid_spec_is_422_with_the_path_of_each_bad_field(gateway_only):
    body = await problem(await gateway_only.request(
        "PUT", "/v1/functions/bad", json={"command": [], "timeout": "never", "memory": "x"}),
        422)
    assert {e["path"] for e in body["errors"]} == {"command", "timeout", "memory"}


async def test_an_invalid_document_in_yaml_names_functions_by_key(gateway_only):
    yaml_doc = b"functions:\n  ok:\n    command: [/bin/true]\n  broken:\n    mode: sometimes\n"
    body = await problem(await gateway_only.request(
        "POST", "/v1/functions", data=yaml_doc, headers={"Content-Type": "application/yaml"}),
        422)
    assert {e["path"] for e in body["errors"]} == {"functions.broken.command",
                                                   "functions.broken.mode"}


@pytest.mark.parametrize("data, content_type", [
    (b"{not json", "application/json"),
    (b"key: [unclosed", "application/yaml"),
    (b"", "application/json"),
])
async def test_an_unparseable_body_is_400(gateway_only, data, content_type):
    await problem(await gateway_only.request("POST", "/v1/functions", data=data,
                                             headers={"Content-Type": content_type}), 400)


async def test_a_name_in_the_body_that_differs_from_the_path_is_422(gateway_only):
    await problem(await gateway_only.request("PUT", "/v1/functions/a",
                                             json={"name": "b", **GOOD}), 422)


async def test_creating_an_existing_function_is_409(gateway_only):
    assert (await gateway_only.request("POST", "/v1/functions",
                                       json={"name": "dup", **GOOD})).status == 201
    await problem(await gateway_only.request("POST", "/v1/functions",
                                             json={"name": "dup", **GOOD}), 409)


@pytest.mark.parametrize("method, path", [
    ("GET", "/v1/functions/nope"),
    ("DELETE", "/v1/functions/nope"),
    ("POST", "/v1/functions/nope/invocations"),
    ("GET", "/v1/jobs/01m825rjbh4000000000000000"),
    ("GET", "/v1/jobs/..%2F..%2Fetc%2Fpasswd"),
    ("GET", "/v1/jobs/not-a-job/logs"),
    ("GET", "/v1/no-such-route"),
])
async def test_unknown_things_are_404(gateway_only, method, path):
    await problem(await gateway_only.request(method, path), 404)


async def test_a_body_over_the_limit_is_413(gateway_only, settings):
    await gateway_only.request("PUT", "/v1/functions/big", json=GOOD)
    await problem(await gateway_only.request(
        "POST", "/v1/functions/big/invocations", data=b"x" * (settings.max_body + 1)), 413)


async def test_a_chunked_body_over_the_limit_is_413(gateway_only, settings):
    await gateway_only.request("PUT", "/v1/functions/big", json=GOOD)

    async def chunks():
        for _ in range(settings.max_body // 65536 + 2):
            yield b"x" * 65536
    await problem(await gateway_only.request("POST", "/v1/functions/big/invocations",
                                             data=chunks()), 413)


@pytest.mark.parametrize("query", ["wait=soon", "wait=-1", "wait=nan"])
async def test_a_bad_wait_is_400(gateway_only, query):
    await problem(await gateway_only.request("GET", f"/v1/jobs/01m825rjbh4000000000000000?{query}"),
                  400)


@pytest.mark.parametrize("query, status", [("limit=0", 400), ("limit=lots", 400),
                                           ("status=sleeping", 422), ("cursor=../x", 422)])
async def test_bad_listing_queries_are_refused(gateway_only, query, status):
    await problem(await gateway_only.request("GET", f"/v1/jobs?{query}"), status)


async def test_bad_prefer_and_idempotency_headers_are_refused(gateway_only):
    await gateway_only.request("PUT", "/v1/functions/p", json=GOOD)
    await problem(await gateway_only.request("POST", "/v1/functions/p/invocations",
                                             headers={"Prefer": "wait=forever"}), 400)
    await problem(await gateway_only.request("POST", "/v1/functions/p/invocations",
                                             headers={"Idempotency-Key": "x" * 300}), 422)


async def test_a_function_token_must_name_its_function_to_list_jobs(gateway_only):
    fn = await (await gateway_only.request("PUT", "/v1/functions/t", json=GOOD)).json()
    await problem(await gateway_only.request("GET", "/v1/jobs", token=fn["token"]), 422)


async def test_a_bad_logs_stream_is_422(gateway_only):
    await problem(await gateway_only.request(
        "GET", "/v1/jobs/01m825rjbh4000000000000000/logs?stream=both"), 422)


async def test_errors_do_not_echo_tokens(gateway_only):
    response = await gateway_only.request("GET", "/v1/functions", token="secret-guess-123")
    assert "secret-guess-123" not in await response.text()
