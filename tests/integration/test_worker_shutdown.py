"""A worker given SIGTERM stops taking work, lets its running jobs finish within
`SLUICE_WORKER_SHUTDOWN`, then ends the rest as interrupted attempts, queued again for the
other workers (issue 11, part 8)."""

import os
import secrets
import signal
import subprocess
import sys
import time

import pytest

from tests.fixtures.signals import processes, running, until, wait_status
from tests.fixtures.stack import settings_env, unconfined
from tests.unit.workers.test_sandbox import run_as_uid


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


# Each shape a function's processes can take that could outlive it: a child in the
# background, one in a session (and process group) of its own, an orphan of its own session
# left by a subshell that has ended, and a long command in the foreground.
LINGERING = {
    "background": "sleep {mark} & wait",
    "own-session": "setsid sleep {mark} & wait",
    "orphan": "(setsid sleep {mark} &); sleep {mark}",
    "foreground": "sleep {mark}",
}
# The sleeps among them; the shells, wrappers and sandboxes hold the mark too.
SLEEPING = 5
CONFINED = pytest.mark.parametrize("confined", [True, False], ids=["sandboxed", "unconfined"])


async def lingering_worker(api, settings, confined: bool
                           ) -> tuple[subprocess.Popen, list[str], str]:
    """A worker process running one job of each shape of LINGERING, their sleeps started:
    the worker, the job ids, and the mark in the argv of their processes, a duration no
    other process has (the sleeps, and the shells, wrappers and sandboxes around them,
    whose argv holds the script), found whatever their user, session or PID namespace."""
    if confined:
        run_as_uid()
    else:
        settings = unconfined(settings)
    mark = f"{secrets.randbelow(10**6) + 10**6}.{secrets.randbelow(10**6):06d}"
    # A scratch directory of its own: a worker starting elsewhere on this machine would
    # kill what a dead worker's functions left in the shared one.
    env = settings_env(settings) | {"SLUICE_WORKER_SHUTDOWN": "1",
                                    "SLUICE_WORKER_THREADS": str(len(LINGERING)),
                                    "SLUICE_WORK_DIR": str(settings.data_dir / "work")}
    worker = subprocess.Popen([sys.executable, "-m", "sluice.cli", "worker"], env=env,
                              start_new_session=True)
    jobs = []
    try:
        for name, script in LINGERING.items():
            await api.deploy(name, mode="async", script=script.format(mark=mark))
            response = await api.request("POST", f"/v1/functions/{name}/invocations")
            jobs.append((await response.json())["id"])
        await until(lambda: len(sleeping(mark)) == SLEEPING, timeout=60,
                    what=f"the {SLEEPING} sleeps running")
    except BaseException:
        end(worker, mark)
        raise
    return worker, jobs, mark


def end(worker: subprocess.Popen, mark: str) -> None:
    """What the test started, should it fail: the worker, and the processes it left."""
    if worker.poll() is None:
        worker.kill()
        worker.wait(30)
    for pid in lingering(mark):
        os.kill(pid, signal.SIGKILL)


@CONFINED
async def test_a_sigtermed_worker_leaves_no_process_of_its_functions_running(
        gateway_only, settings, confined):
    """What a fault bench once saw: a worker stopped by SIGTERM left two unconfined
    functions running (the two of their own session)."""
    api = gateway_only
    worker, jobs, mark = await lingering_worker(api, settings, confined)
    try:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0
        assert lingering(mark) == [], "processes of the functions outlived their worker"
        for job_id in jobs:
            attempts = await (await api.request("GET", f"/v1/jobs/{job_id}/attempts")).json()
            assert attempts["status"] == "queued", attempts
            assert [a["reason"] for a in attempts["attempts"]] == ["interrupted"], attempts
    finally:
        end(worker, mark)


@CONFINED
async def test_a_killed_worker_s_reaper_leaves_no_process_of_its_functions_running(
        gateway_only, settings, confined):
    """SIGKILL leaves the worker no say: its reaper (and, unconfined, each thread's
    launcher, told of its parent's death) ends what its functions started."""
    worker, _, mark = await lingering_worker(gateway_only, settings, confined)
    try:
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
        await until(lambda: lingering(mark) == [], timeout=20,
                    what="the functions' processes ending")
    finally:
        end(worker, mark)


def lingering(mark: str) -> list[int]:
    return [pid for pid in processes(mark) if running(pid)]


def sleeping(mark: str) -> list[int]:
    found = []
    for pid in lingering(mark):
        try:
            argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if argv[0].endswith(b"sleep"):
            found.append(pid)
    return found
