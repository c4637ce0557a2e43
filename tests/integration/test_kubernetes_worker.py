"""The whole path with SLUICE_EXECUTOR=kubernetes: gateway, RabbitMQ, a worker whose
Kubernetes API is the local kubelet of tests/fixtures/kubelet.py, and SeaweedFS."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
import yaml

from tests.fixtures.results import sent
from tests.fixtures.signals import job as job_record
from workers.executors import kubernetes_api


@pytest.fixture
def settings(settings, kubelet, monkeypatch):
    monkeypatch.setattr(kubernetes_api, "KubernetesApi", lambda namespace: kubelet)
    return dataclasses.replace(settings, worker=dataclasses.replace(
        settings.worker, executor="kubernetes"))


async def test_an_invocation_runs_as_a_kubernetes_job(api, kubelet):
    await api.deploy("shout", image="busybox:1.36",
                     script='tr a-z A-Z < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/loud.txt"')
    response = await api.request("POST", "/v1/functions/shout/invocations", data=b"quiet words")
    assert response.status == 200, await response.text()
    assert await response.read() == b"QUIET WORDS"
    job_id = response.headers["Sluice-Job-Id"]
    (name,) = kubelet.pods
    assert name == f"sluice-{job_id}-1"
    job = await (await api.request("GET", f"/v1/jobs/{job_id}")).json()
    assert job["status"] == "succeeded" and job["exit_code"] == 0
    assert [o["name"] for o in job["outputs"]] == ["loud.txt"]


async def test_a_function_without_an_image_is_refused_at_deploy(api):
    response = await api.request("PUT", "/v1/functions/bare", json={"script": "true"})
    assert response.status == 422
    [error] = (await response.json())["errors"]
    assert error["path"] == "image" and "kubernetes executor" in error["message"]


async def test_the_first_example_runs_on_kubernetes(api):
    """What the chart's NOTES suggest after an install."""
    document = yaml.safe_load((Path(__file__).parents[2] / "examples" / "hello.yaml").read_text())
    for name, spec in document["functions"].items():
        await api.deploy(name, **spec)
    response = await api.request("POST", "/v1/functions/hello/invocations", data=b"world")
    assert response.status == 200, await response.text()
    assert await response.text() == "Hello, world!\n"


async def test_a_stdout_too_large_for_the_store_is_answered_from_s3(api):
    await api.deploy("chatty", image="busybox:1.36", script="yes sluice | head -c 300000")
    response = await api.request("POST", "/v1/functions/chatty/invocations")
    assert response.status == 200, await response.text()
    expected = (b"sluice\n" * 42858)[:300000]
    assert await response.read() == expected
    job_id = response.headers["Sluice-Job-Id"]
    logs = await api.request("GET", f"/v1/jobs/{job_id}/logs")
    assert (await logs.read()).startswith(expected)


async def test_a_follower_gets_a_kubernetes_jobs_stdout_line_by_line_while_it_runs(api):
    """The function prints a line a second for 4 s: each comes through the pod's stdout
    sidecar, the worker and the job store, and the whole stdout once, in order."""
    await api.deploy("ticker", image="busybox:1.36",
                     script="for i in 1 2 3 4; do echo tick $i; sleep 1; done")
    response = await api.request("POST", "/v1/functions/ticker/invocations",
                                 headers={"Prefer": "respond-async"})
    assert response.status == 201, await response.text()
    job_id = (await response.json())["id"]
    follow = await api.request("GET", f"/v1/jobs/{job_id}/logs?follow=1&stream=stdout")
    assert follow.status == 200
    seen = []
    while line := await asyncio.wait_for(follow.content.readline(), 60):
        seen.append((line, (await job_record(api, job_id))["status"]))
    assert [line for line, _ in seen] == [b"tick %d\n" % i for i in range(1, 5)]
    assert [status for _, status in seen[:2]] == ["running", "running"], seen
    kept = await api.request("GET", f"/v1/jobs/{job_id}/logs?stream=stdout")
    assert await kept.read() == b"tick 1\ntick 2\ntick 3\ntick 4\n"
    assert (await job_record(api, job_id))["status"] == "succeeded"


async def test_a_pods_result_files_are_kept_when_it_ends_and_it_has_no_socket(api):
    """The socket lies on the worker's disk, which a pod cannot reach."""
    await api.deploy("pod-results", image="busybox:1.36", script=(
        'printf a > "$RESULTS_DIR/1"; head -c 200000 /dev/zero > "$RESULTS_DIR/2-big"; '
        'printf b > "$RESULTS_DIR/3"; echo "socket: ${RESULTS_SOCKET-none}"'))
    response = await api.request("POST", "/v1/functions/pod-results/invocations")
    assert (response.status, await response.read()) == (200, b"a")
    job_id = response.headers["Sluice-Job-Id"]
    assert await sent(api, job_id) == [b"a", b"b"]
    logs = {stream: await (await api.request(
        "GET", f"/v1/jobs/{job_id}/logs?stream={stream}")).text()
        for stream in ("stdout", "stderr")}
    assert logs == {"stdout": "socket: none\n",
                    "stderr": "sluice: result file '2-big' is over 131072 bytes\n"}
