"""A worker given SIGTERM stops taking work, lets its running jobs finish within
`SLUICE_WORKER_SHUTDOWN`, then ends the rest as interrupted attempts, queued again for the
other workers (issue 11, part 8)."""

import signal
import subprocess
import sys
import time

from tests.fixtures.signals import running, until, wait_status
from tests.fixtures.stack import settings_env, unconfined


def start_worker(settings, shutdown: float) -> subprocess.Popen:
    env = settings_env(unconfined(settings)) | {"SLUICE_WORKER_SHUTDOWN": str(shutdown)}
    return subprocess.Popen([sys.executable, "-m", "sluice.cli", "worker"], env=env,
                            start_new_session=True)


def stop(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.terminate()
        worker.wait(30)


async def test_a_job_that_ends_within_the_grace_period_finishes_on_the_stopping_worker(
        gateway_only, settings):
    api = gateway_only
    started = settings.data_dir / "started"
    worker = start_worker(settings, shutdown=20)
    try:
        await api.deploy("brief", mode="async",
                         script=f'touch {started}; sleep 1; echo "$JOB_ID" > "$TMP_OUTPUT_DIR/id"')
        job = await (await api.request("POST", "/v1/functions/brief/invocations")).json()
        await until(started.exists, what="the function starting")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
        done = await (await api.request("GET", f"/v1/jobs/{job['id']}")).json()
        assert done["status"] == "succeeded" and done["attempts"] == 1
        assert [o["name"] for o in done["outputs"]] == ["id"]
    finally:
        stop(worker)


async def test_a_job_still_running_past_the_grace_period_is_queued_again_as_interrupted(
        gateway_only, settings, objects):
    api = gateway_only
    pids = settings.data_dir / "pids"
    worker = start_worker(settings, shutdown=1)
    other = None
    try:
        # The first attempt writes a half output and sleeps; the second finishes at once.
        await api.deploy("long", mode="async", script=(
            f'if [ ! -e {pids} ]; then echo $$ > {pids}; echo half > "$TMP_OUTPUT_DIR/out"; '
            'sleep 60; fi; echo whole > "$TMP_OUTPUT_DIR/out"'))
        job = await (await api.request("POST", "/v1/functions/long/invocations")).json()
        await until(pids.exists, what="the first attempt starting")
        signalled = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
        assert time.monotonic() - signalled < 15
        assert not running(int(pids.read_text()))
        queued = await (await api.request("GET", f"/v1/jobs/{job['id']}")).json()
        assert queued["status"] == "queued"
        # The interrupted attempt's half-written output is not published.
        prefix = f"long/output/{job['id']}/"
        assert list(objects.list_objects(settings.s3.bucket, prefix)) == []
        other = start_worker(settings, shutdown=20)
        done = await wait_status(api, job["id"], "succeeded", timeout=60)
        assert done["attempts"] == 2
        attempts = await (await api.request("GET", f"/v1/jobs/{job['id']}/attempts")).json()
        first = attempts["attempts"][0]
        assert first["reason"] == "interrupted" and "worker stopped" in first["error"]
        key = done["outputs"][0]
        assert key["key"].startswith(prefix)
        assert objects.get_bytes(key["bucket"], key["key"]) == b"whole\n"
    finally:
        stop(worker)
        if other is not None:
            stop(other)
