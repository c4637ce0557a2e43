"""Invoking functions through the native API, over real RabbitMQ, SeaweedFS and a worker."""

import io
import time
import zipfile

import aiohttp

from gateway import waiting
from tests.fixtures.signals import processes, until, wait_status


async def test_sync_invocation_answers_with_stdout(api):
    await api.deploy("hello", script='printf "Hello, %s!" "$(cat "$INPUT_FILE_PATH")"')
    response = await api.request("POST", "/v1/functions/hello/invocations", data=b"world")
    assert response.status == 200
    assert await response.text() == "Hello, world!"
    assert response.headers["Sluice-Job-Status"] == "succeeded"


async def test_stderr_is_appended_unless_log_level_is_critical(api):
    await api.deploy("chatty", script="echo out; echo note >&2")
    response = await api.request("POST", "/v1/functions/chatty/invocations")
    assert await response.text() == "out\nnote\n"
    await api.deploy("quiet", script="echo out; echo note >&2", log_level="CRITICAL")
    response = await api.request("POST", "/v1/functions/quiet/invocations")
    assert await response.text() == "out\n"


async def test_one_output_file_is_the_answer_with_a_guessed_type(api):
    await api.deploy("json", script='echo \'{"ok": true}\' > "$TMP_OUTPUT_DIR/result.json"')
    response = await api.request("POST", "/v1/functions/json/invocations")
    assert response.status == 200
    assert response.content_type == "application/json"
    assert await response.json() == {"ok": True}


async def test_several_output_files_are_answered_as_a_zip(api):
    await api.deploy("many", script='cd "$TMP_OUTPUT_DIR"; echo a > a.txt; mkdir d; '
                                    'echo b > d/b.txt')
    response = await api.request("POST", "/v1/functions/many/invocations")
    assert response.content_type == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(await response.read()))
    assert {n: archive.read(n) for n in archive.namelist()} == {"a.txt": b"a\n",
                                                                "d/b.txt": b"b\n"}


async def test_binary_input_reaches_the_function_unchanged(api):
    payload = bytes(range(256)) * 1000
    await api.deploy("copy", script='cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/copy.bin"')
    response = await api.request("POST", "/v1/functions/copy/invocations", data=payload)
    assert await response.read() == payload


async def test_large_input_goes_through_object_storage(api, settings):
    payload = b"z" * (settings.inline_max + 10)
    await api.deploy("size", script='wc -c < "$INPUT_FILE_PATH"')
    response = await api.request("POST", "/v1/functions/size/invocations", data=payload)
    assert (await response.text()).strip() == str(len(payload))


async def test_async_invocation_returns_a_job_to_poll(api):
    await api.deploy("later", command=["sh", "-c", "sleep 0.3; echo done"])
    response = await api.request("POST", "/v1/functions/later/invocations",
                                 headers={"Prefer": "respond-async"})
    assert response.status == 201
    job = await response.json()
    assert response.headers["Location"] == f"/v1/jobs/{job['id']}"
    assert job["status"] in ("queued", "running")
    finished = await (await api.request("GET", f"/v1/jobs/{job['id']}?wait=20")).json()
    assert finished["status"] == "succeeded" and finished["attempts"] == 1
    assert finished["runtime"] >= 0.3 and finished["cpu_seconds"] is not None
    assert finished["peak_memory"] > 0 and finished["exit_code"] == 0
    logs = await api.request("GET", f"/v1/jobs/{job['id']}/logs")
    assert await logs.text() == "done\n"


async def test_async_mode_functions_answer_with_a_job_by_default(api):
    await api.deploy("bg", command=["true"], mode="async")
    response = await api.request("POST", "/v1/functions/bg/invocations")
    assert response.status == 201


async def test_when_the_sync_wait_runs_out_the_answer_is_the_job(api):
    await api.deploy("slow", command=["sleep", "3"])
    response = await api.request("POST", "/v1/functions/slow/invocations",
                                 headers={"Prefer": "wait=1"})
    assert response.status == 201
    job = await response.json()
    assert job["status"] in ("queued", "running")
    done = await (await api.request("GET", f"/v1/jobs/{job['id']}?wait=10")).json()
    assert done["status"] == "succeeded"


async def test_failures_and_timeouts_are_told_apart(api):
    await api.deploy("fails", script="echo broken >&2; exit 4")
    response = await api.request("POST", "/v1/functions/fails/invocations")
    assert response.status == 502 and response.headers["Sluice-Exit-Code"] == "4"
    assert "broken" in await response.text()
    await api.deploy("hangs", command=["sleep", "30"], timeout=1)
    response = await api.request("POST", "/v1/functions/hangs/invocations")
    assert response.status == 504 and response.headers["Sluice-Reason"] == "timeout"


async def test_outputs_are_stored_under_the_job_id_and_downloadable(api, objects):
    await api.deploy("report", script='echo hi > "$TMP_OUTPUT_DIR/r.txt"', mode="async",
                     output={"bucket": "reports-bucket", "prefix": "daily"})
    job = await (await api.request("POST", "/v1/functions/report/invocations")).json()
    await api.request("GET", f"/v1/jobs/{job['id']}?wait=20")
    manifest = await (await api.request("GET", f"/v1/jobs/{job['id']}/outputs")).json()
    [entry] = manifest["outputs"]
    assert (entry["bucket"], entry["key"]) == ("reports-bucket", f"daily/{job['id']}/r.txt")
    assert objects.get_bytes("reports-bucket", entry["key"]) == b"hi\n"
    async with aiohttp.ClientSession() as session:
        async with session.get(entry["url"]) as presigned:
            assert await presigned.read() == b"hi\n"
    direct = await api.request("GET", f"/v1/jobs/{job['id']}/outputs/r.txt")
    assert await direct.read() == b"hi\n"


async def test_idempotency_key_gives_one_job(api):
    await api.deploy("once", command=["true"], mode="async")
    headers = {"Idempotency-Key": "order-42"}
    first = await (await api.request("POST", "/v1/functions/once/invocations",
                                     headers=headers)).json()
    second = await (await api.request("POST", "/v1/functions/once/invocations",
                                      headers=headers)).json()
    assert first["id"] == second["id"]
    listing = await (await api.request("GET", "/v1/jobs?function=once")).json()
    assert len(listing["jobs"]) == 1


async def test_jobs_are_listed_with_filters_and_a_cursor(api):
    await api.deploy("lister", command=["true"], mode="async")
    ids = [(await (await api.request("POST", "/v1/functions/lister/invocations")).json())["id"]
           for _ in range(3)]
    page = await (await api.request("GET", "/v1/jobs?function=lister&limit=2")).json()
    assert [j["id"] for j in page["jobs"]] == ids[::-1][:2]
    rest = await (await api.request(
        "GET", f"/v1/jobs?function=lister&limit=2&cursor={page['next_cursor']}")).json()
    assert [j["id"] for j in rest["jobs"]] == ids[:1]


async def test_cancel_stops_a_running_job(api):
    marker = f"marker-{time.time():.6f}"
    await api.deploy("long", script=f"sleep 30; : {marker}", mode="async")
    job = await (await api.request("POST", "/v1/functions/long/invocations")).json()
    await wait_status(api, job["id"], "running", timeout=10)
    await until(lambda: processes(marker), what="the function starting")
    cancelled = await (await api.request("POST", f"/v1/jobs/{job['id']}/cancel")).json()
    assert cancelled["status"] == "cancelled" and cancelled["reason"] == "cancelled"
    # The worker sees it at its next heartbeat and kills the function.
    await until(lambda: not processes(marker), timeout=10, what="the function being killed")
    after = await (await api.request("GET", f"/v1/jobs/{job['id']}")).json()
    assert after["status"] == "cancelled" and after["reason"] == "cancelled"


async def test_function_token_may_invoke_and_read_its_jobs_only(api):
    mine = await api.deploy("mine", command=["echo", "mine"])
    await api.deploy("theirs", command=["true"])
    token = mine["token"]
    response = await api.request("POST", "/v1/functions/mine/invocations", token=token)
    assert response.status == 200
    job_id = response.headers["Sluice-Job-Id"]
    assert (await api.request("GET", f"/v1/jobs/{job_id}", token=token)).status == 200
    assert (await api.request("POST", "/v1/functions/theirs/invocations",
                              token=token)).status == 403
    assert (await api.request("GET", "/v1/functions", token=token)).status == 403
    assert (await api.request("DELETE", "/v1/functions/mine", token=token)).status == 403
    got = await (await api.request("GET", "/v1/functions/mine", token=token)).json()
    assert "token" not in got


async def test_metrics_count_requests_invocations_and_jobs(api):
    await api.deploy("counted", command=["true"])
    await api.request("POST", "/v1/functions/counted/invocations")
    text = await (await api.client.get("/metrics")).text()
    assert 'sluice_invocations_total{function="counted",mode="sync"}' in text
    assert 'route="/v1/functions/{name}/invocations"' in text
    assert 'sluice_job_duration_seconds_count{function="counted",status="succeeded"}' in text
    assert "sluice_open_waiters" in text


async def test_waiting_requests_are_woken_by_completion_events(api, monkeypatch):
    # With the store's re-read pushed out of reach, a wait ends early only if the event
    # arrives; without it each would last its whole 30 s.
    monkeypatch.setattr(waiting, "RECHECK_SECONDS", 3600)
    started = time.monotonic()
    await api.deploy("slow-echo", script="sleep 0.5; echo hi")
    response = await api.request("POST", "/v1/functions/slow-echo/invocations",
                                 headers={"Prefer": "wait=30"})
    assert response.status == 200 and await response.text() == "hi\n"
    await api.deploy("slow-async", script="sleep 0.5; echo later", mode="async")
    job = await (await api.request("POST", "/v1/functions/slow-async/invocations")).json()
    polled = await (await api.request("GET", f"/v1/jobs/{job['id']}?wait=30")).json()
    assert polled["status"] == "succeeded"
    assert time.monotonic() - started < 20
