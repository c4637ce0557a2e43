"""A gateway given SIGTERM answers the synchronous callers still waiting with 201, their
job and its Location, instead of dropping their connections."""

from __future__ import annotations

import json
import os
import signal
import threading
import urllib.request
from pathlib import Path

from core.settings import Settings
from tests.fixtures.signals import eventually
from tests.fixtures.stack import delete_queues
from tests.fixtures.up import start_up, stop


def gateway_pid(up_pid: int) -> int:
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1]
                                            .split()[1]) == up_pid \
                    and (entry / "cmdline").read_bytes().split(b"\0")[-2] == b"gateway":
                return int(entry.name)
        except (OSError, IndexError):
            continue
    raise LookupError("no gateway process")


def test_sigterm_answers_open_synchronous_callers_with_their_job(tmp_path):
    env, up, log = start_up(tmp_path)
    token = (Path(env["SLUICE_DATA_DIR"]) / "admin-token").read_text().strip()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    try:
        deploy = urllib.request.Request(f"{env['SLUICE_URL']}/v1/functions/slow",
                                        method="PUT", headers=headers,
                                        data=json.dumps({"script": "sleep 5"}).encode())
        urllib.request.urlopen(deploy, timeout=30).close()
        answers: list = []

        def call() -> None:
            request = urllib.request.Request(
                f"{env['SLUICE_URL']}/v1/functions/slow/invocations", method="POST",
                data=b"", headers={**headers, "Prefer": "wait=60"})
            with urllib.request.urlopen(request, timeout=90) as answer:
                answers.append((answer.status, dict(answer.headers), json.loads(answer.read())))

        callers = [threading.Thread(target=call) for _ in range(2)]
        for caller in callers:
            caller.start()
        eventually(lambda: _running(env, headers) == 2, timeout=30, what="both jobs running")
        os.kill(gateway_pid(up.pid), signal.SIGTERM)
        for caller in callers:
            caller.join(30)
        assert [status for status, _, _ in answers] == [201, 201], log.read_text()[-2000:]
        for _, answer_headers, job in answers:
            assert answer_headers["Location"] == f"/v1/jobs/{job['id']}"
            assert job["status"] == "running"
    finally:
        stop(up)
        delete_queues(Settings.from_env(env))


def _running(env: dict, headers: dict) -> int:
    request = urllib.request.Request(
        f"{env['SLUICE_URL']}/v1/jobs?function=slow&status=running", headers=headers)
    with urllib.request.urlopen(request, timeout=30) as answer:
        return len(json.loads(answer.read())["jobs"])
