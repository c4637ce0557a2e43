"""Every bad input gets a clear 4xx `application/problem+json`, never a 500: 400 for what
cannot be read (a body that does not parse, a query parameter or a header not of its form),
422 for what was read and cannot be accepted."""

import pytest

GOOD = {"command": ["true"]}
JOB = "01m825rjbh4000000000000000"


async def problem(response, status: int) -> dict:
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    body = await response.json()
    assert body["status"] == status and body["title"]
    return body


async def test_no_token_is_401_and_a_wrong_one_403(local_gateway):
    api = local_gateway
    response = await api.client.get("/v1/functions")
    await problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    await problem(await api.client.get("/v1/functions", headers={"Authorization": "Basic x"}),
                  401)
    await problem(await api.request("GET", "/v1/functions", token="wrong"), 403)


async def test_an_invalid_spec_is_422_with_the_path_of_each_bad_field(local_gateway):
    body = await problem(await local_gateway.request(
        "PUT", "/v1/functions/bad", json={"command": [], "timeout": "never", "memory": "x"}),
        422)
    assert {e["path"] for e in body["errors"]} == {"command", "timeout", "memory"}


@pytest.mark.parametrize("body, path", [
    (b'{"script": "echo \\ud800"}', "script"),
    (b'{"command": ["echo", "a\\u0000b"]}', "command.1"),
    (b'{"command": ["true"], "environment": {"A": "\\udfff"}}', "environment.A"),
])
async def test_text_with_nul_or_a_lone_surrogate_is_422(local_gateway, body, path):
    """JSON can spell both; neither can reach an argv or an environment, so they are refused
    at deploy instead of failing every invocation later."""
    answer = await problem(await local_gateway.request(
        "PUT", "/v1/functions/text", data=body, headers={"Content-Type": "application/json"}),
        422)
    assert [e["path"] for e in answer["errors"]] == [path]


async def test_a_function_the_executor_cannot_run_is_refused_at_deploy(local_gateway):
    """The tests' workers run the process executor, which needs a command or a script."""
    body = await problem(await local_gateway.request(
        "PUT", "/v1/functions/only-image", json={"image": "alpine:3"}), 422)
    assert [e["path"] for e in body["errors"]] == ["command"]
    assert "process executor" in body["errors"][0]["message"]


async def test_an_invalid_document_in_yaml_names_functions_by_key(local_gateway):
    yaml_doc = b"functions:\n  ok:\n    command: [/bin/true]\n  broken:\n    mode: sometimes\n"
    body = await problem(await local_gateway.request(
        "POST", "/v1/functions", data=yaml_doc, headers={"Content-Type": "application/yaml"}),
        422)
    assert {e["path"] for e in body["errors"]} == {"functions.broken.command",
                                                   "functions.broken.mode"}


@pytest.mark.parametrize("data, content_type", [
    (b"{not json", "application/json"),
    (b"key: [unclosed", "application/yaml"),
    (b"", "application/json"),
    (b"[" * 100_000, "application/json"),
    (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "application/json"),
    (b"[" * 20_000, "application/yaml"),
    (b'{"command": ["true"], "cpu": NaN}', "application/json"),
    (b'{"command": ["true"], "timeout": Infinity}', "application/json"),
    (b'{"command": ["true"], "command": ["false"]}', "application/json"),
    (b"command: [\"true\"]\ncommand: [\"false\"]\n", "application/yaml"),
    (b'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n'
     b"c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n",
     "application/yaml"),
])
async def test_an_unparseable_body_is_400(local_gateway, data, content_type):
    await problem(await local_gateway.request("POST", "/v1/functions", data=data,
                                              headers={"Content-Type": content_type}), 400)


async def test_a_name_in_the_body_that_differs_from_the_path_is_422(local_gateway):
    await problem(await local_gateway.request("PUT", "/v1/functions/a",
                                              json={"name": "b", **GOOD}), 422)


async def test_creating_an_existing_function_is_409(local_gateway):
    assert (await local_gateway.request("POST", "/v1/functions",
                                        json={"name": "dup", **GOOD})).status == 201
    await problem(await local_gateway.request("POST", "/v1/functions",
                                              json={"name": "dup", **GOOD}), 409)


@pytest.mark.parametrize("method, path", [
    ("GET", "/v1/functions/nope"),
    ("DELETE", "/v1/functions/nope"),
    ("POST", "/v1/functions/nope/invocations"),
    ("GET", f"/v1/jobs/{JOB}"),
    ("GET", "/v1/jobs/..%2F..%2Fetc%2Fpasswd"),
    ("GET", "/v1/jobs/not-a-job/logs"),
    ("GET", "/v1/no-such-route"),
])
async def test_unknown_things_are_404(local_gateway, method, path):
    await problem(await local_gateway.request(method, path), 404)


async def test_a_chunked_spec_over_its_limit_is_413(local_gateway):
    """A spec may be 1 MiB, whether its length is given or it comes in chunks."""
    async def chunks():
        yield b'{"command": ["true"], "description": "'
        for _ in range(48):
            yield b"x" * 65536
        yield b'"}'
    await problem(await local_gateway.request("PUT", "/v1/functions/huge", data=chunks(),
                                              headers={"Content-Type": "application/json"}),
                  413)


async def test_a_body_over_the_limit_is_413(local_gateway, local_settings):
    await local_gateway.request("PUT", "/v1/functions/big", json=GOOD)
    await problem(await local_gateway.request(
        "POST", "/v1/functions/big/invocations", data=b"x" * (local_settings.max_body + 1)),
        413)


async def test_a_chunked_body_over_the_limit_is_413(local_gateway, local_settings):
    await local_gateway.request("PUT", "/v1/functions/big", json=GOOD)

    async def chunks():
        for _ in range(local_settings.max_body // 65536 + 2):
            yield b"x" * 65536
    await problem(await local_gateway.request("POST", "/v1/functions/big/invocations",
                                              data=chunks()), 413)


@pytest.mark.parametrize("query", ["wait=soon", "wait=-1", "wait=nan", "wait=inf"])
async def test_a_bad_wait_is_400(local_gateway, query):
    await problem(await local_gateway.request("GET", f"/v1/jobs/{JOB}?{query}"), 400)


@pytest.mark.parametrize("query", ["limit=0", "limit=lots", "status=sleeping", "cursor=../x"])
async def test_bad_listing_queries_are_400(local_gateway, query):
    await problem(await local_gateway.request("GET", f"/v1/jobs?{query}"), 400)


@pytest.mark.parametrize("headers", [
    {"Prefer": "wait=forever"},
    {"Prefer": "wait=²"},
    {"Prefer": "wait=" + "9" * 5000},
    {"Idempotency-Key": "x" * 300},
    {"Idempotency-Key": "with space"},
])
async def test_bad_prefer_and_idempotency_headers_are_400(local_gateway, headers):
    await local_gateway.request("PUT", "/v1/functions/p", json=GOOD)
    await problem(await local_gateway.request("POST", "/v1/functions/p/invocations",
                                              headers=headers), 400)


async def test_a_function_token_must_name_its_function_to_list_jobs(local_gateway):
    fn = await (await local_gateway.request("PUT", "/v1/functions/t", json=GOOD)).json()
    await problem(await local_gateway.request("GET", "/v1/jobs", token=fn["token"]), 400)


async def test_a_bad_logs_stream_is_400(local_gateway):
    await problem(await local_gateway.request("GET", f"/v1/jobs/{JOB}/logs?stream=both"), 400)


@pytest.mark.parametrize("key", ["+", "+++", "a/\ud800"])
async def test_an_event_for_a_key_no_function_may_be_given_is_422(local_gateway, key):
    """S3 sends keys URL-encoded with spaces as '+': `+` is a key of one space."""
    await local_gateway.deploy("watcher", command=["true"], input=[{"bucket": "watched"}])
    record = {"eventName": "ObjectCreated:Put",
              "s3": {"bucket": {"name": "watched"}, "object": {"key": key, "eTag": "00"}}}
    body = await problem(await local_gateway.request("POST", "/v1/events/s3",
                                                     json={"Records": [record]}), 422)
    assert len(body["errors"]) == 1


async def test_errors_do_not_echo_tokens(local_gateway):
    response = await local_gateway.request("GET", "/v1/functions", token="secret-guess-123")
    assert "secret-guess-123" not in await response.text()


async def test_a_caller_who_may_not_is_refused_before_the_body_is_read(local_gateway,
                                                                      local_settings):
    fn = await local_gateway.deploy("someone", command=["true"])
    too_big = b"x" * (local_settings.max_body + 1)
    await problem(await local_gateway.request("PUT", "/v1/objects/inbox/a.txt", data=too_big,
                                              token=fn["token"]), 403)
    await problem(await local_gateway.request("POST", "/v1/events/s3", data=b"{not json",
                                              token=fn["token"]), 403)


@pytest.mark.parametrize("bucket", ["a..b", "a.-b", "a-.b", "192.168.1.1", "xn--abc",
                                    "ends-s3alias", "UPPER", "ab"])
async def test_bucket_names_the_s3_rules_refuse_are_422_everywhere(local_gateway, bucket):
    body = await problem(await local_gateway.request("PUT", "/v1/functions/buckets", json={
        **GOOD, "input": [{"bucket": bucket}], "output": {"bucket": bucket}}), 422)
    assert {e["path"] for e in body["errors"]} == {"input.0.bucket", "output.bucket"}
    oscar = {"name": "svc", "image": "alpine:3", "script": "true",
             "input": [{"storage_provider": "minio.default", "path": f"{bucket}/in"}]}
    await problem(await local_gateway.request("POST", "/system/services", json=oscar), 422)
    for method, path in (("GET", f"/v1/objects/{bucket}"), ("PUT", f"/v1/objects/{bucket}/k"),
                         ("GET", f"/v1/objects/{bucket}/k")):
        await problem(await local_gateway.request(method, path, data=b"x"), 422)


@pytest.mark.parametrize("spec, path", [
    ({"output": {"prefix": "x" * 5000}}, "output.prefix"),
    ({"input": [{"prefix": "..\\..\\x"}]}, "input.0.prefix"),
], ids=["long prefix", "backslashes"])
async def test_prefixes_no_key_could_follow_are_422(local_gateway, spec, path):
    body = await problem(await local_gateway.request("PUT", "/v1/functions/prefixed",
                                                     json={**GOOD, **spec}), 422)
    assert [e["path"] for e in body["errors"]] == [path]


@pytest.mark.parametrize("yaml_spec, path", [
    (b"command: [\"true\"]\ncpu: .nan\n", "cpu"),
    (b"command: [\"true\"]\ntimeout: .inf\n", "timeout"),
    (b"command: [\"true\"]\ninput: [{bucket: in-b, scan_interval: .nan}]\n",
     "input.0.scan_interval"),
])
async def test_numbers_that_are_not_finite_are_422(local_gateway, yaml_spec, path):
    body = await problem(await local_gateway.request(
        "PUT", "/v1/functions/finite", data=yaml_spec,
        headers={"Content-Type": "application/yaml"}), 422)
    assert [e["path"] for e in body["errors"]] == [path]


async def test_a_key_with_backslashes_is_refused(local_gateway):
    await local_gateway.deploy("watcher", command=["true"], input=[{"bucket": "watched"}])
    record = {"eventName": "ObjectCreated:Put",
              "s3": {"bucket": {"name": "watched"}, "object": {"key": "..\\..\\x"}}}
    await problem(await local_gateway.request("POST", "/v1/events/s3",
                                              json={"Records": [record]}), 422)
    await problem(await local_gateway.request("PUT", "/v1/objects/watched/a%5Cb", data=b"x"),
                  422)


@pytest.mark.parametrize("version", [{"id": 1}, ["v"], 12, "v" * 300])
async def test_a_version_that_is_not_a_short_string_is_422(local_gateway, version):
    record = {"eventName": "ObjectCreated:Put",
              "s3": {"bucket": {"name": "watched"},
                     "object": {"key": "in/a.txt", "eTag": "00", "versionId": version}}}
    await problem(await local_gateway.request("POST", "/v1/events/s3",
                                              json={"Records": [record]}), 422)


@pytest.mark.parametrize("command", [[""], ["  ", "x"]])
async def test_a_command_that_names_no_program_is_422(local_gateway, command):
    """Found by schemathesis: `[""]` was accepted and every invocation failed in exec."""
    body = await problem(await local_gateway.request(
        "PUT", "/v1/functions/blank", json={"command": command}), 422)
    assert [e["path"] for e in body["errors"]] == ["command"]


async def test_a_multipart_object_upload_is_422(local_gateway):
    """Found by schemathesis: a multipart type without its boundary reached the object store,
    which answered 500. An object is its own bytes; a form is not unpacked."""
    await problem(await local_gateway.request(
        "PUT", "/v1/objects/inbox/form.bin", data=b"--x\r\n",
        headers={"Content-Type": "multipart/form-data"}), 422)
    missing = await local_gateway.request("GET", "/v1/objects/inbox/form.bin")
    assert missing.status == 404


@pytest.mark.parametrize("policy, paths", [
    ({"retries": -1}, ["retries"]),
    ({"retries": 101}, ["retries"]),
    ({"retries": True}, ["retries"]),
    ({"retry_on": []}, ["retry_on"]),
    ({"retry_on": ["boom", 0, 256, True]}, ["retry_on.0", "retry_on.1", "retry_on.2",
                                             "retry_on.3"]),
    ({"retry_backoff": "soon"}, ["retry_backoff"]),
    ({"retry_backoff": {"initial": "1m", "max": "1s"}}, ["retry_backoff.max"]),
    ({"retry_backoff": {"initial": 0}}, ["retry_backoff.initial"]),
    ({"retry_backoff": {"every": "1s"}}, ["retry_backoff"]),
    ({"retry_backoff": {"max": "2d"}}, ["retry_backoff.max"]),
])
async def test_a_retry_policy_out_of_its_bounds_is_422(local_gateway, policy, paths):
    body = await problem(await local_gateway.request(
        "PUT", "/v1/functions/retried", json={**GOOD, **policy}), 422)
    assert [e["path"] for e in body["errors"]] == paths


@pytest.mark.parametrize("field", ["max_queued", "concurrency"])
@pytest.mark.parametrize("value", [0, -1, "10", 1.5, True, 10**8])
async def test_a_queue_or_concurrency_limit_that_is_not_a_count_is_422(local_gateway, field,
                                                                       value):
    body = await problem(await local_gateway.request(
        "PUT", "/v1/functions/bounded", json={**GOOD, field: value}), 422)
    assert [e["path"] for e in body["errors"]] == [field]


@pytest.mark.parametrize("value", [0, "forever", "-1d", "3651d", True])
async def test_a_retention_that_is_not_a_span_of_time_is_422(local_gateway, value):
    body = await problem(await local_gateway.request(
        "PUT", "/v1/functions/kept", json={**GOOD, "retention": value}), 422)
    assert [e["path"] for e in body["errors"]] == ["retention"]
