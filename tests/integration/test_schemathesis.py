"""Schemathesis, from the API's own OpenAPI document, against a live `sluice up`: its
stateless phases (examples, coverage, fuzzing), bounded in examples and time, find no
server error, no answer off the schema (status, content type, headers, body) and no crash.

A function that fails answers its invocation with 502, or 504 when it ran out of time, by
OSCAR's rule (gateway/responses.py); schemathesis registers functions of every shape and
invokes them, so those two answers are expected there, and only there."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import Settings
from tests.fixtures.stack import delete_queues
from tests.fixtures.up import start_up, stop

pytestmark = pytest.mark.slow
MAX_SECONDS = 150
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_headers_conformance,response_schema_conformance")
CONFIG = """
headers = { Authorization = "Bearer ${SLUICE_TOKEN}" }
seed = 20261201
# One worker: with two threads, hypothesis's ast.parse of its filters can fail in this
# CPython 3.11 ("AST constructor recursion depth mismatch", python/cpython#106905), which
# schemathesis reports as a runtime error and the run fails without a fault of Sluice's.
workers = 1
request-timeout = 60

[generation]
max-examples = 12

[[operations]]
include-path-regex = "^/(run/\\\\{name\\\\}|v1/functions/\\\\{name\\\\}/invocations)$"
checks.not_a_server_error.expected-statuses = ["2XX", "3XX", "4XX", "502", "504"]
"""


@pytest.mark.timeout(MAX_SECONDS + 120)
def test_schemathesis_finds_no_server_error_and_no_answer_off_the_schema(tmp_path,
                                                                          rabbitmq_url):
    schemathesis = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert schemathesis, "schemathesis is installed with the test extras (make test)"
    env, up, log = start_up(tmp_path, SLUICE_BROKER_URL=rabbitmq_url)
    try:
        token = (Path(env["SLUICE_DATA_DIR"]) / "admin-token").read_text().strip()
        config = tmp_path / "schemathesis.toml"
        config.write_text(CONFIG)
        report = tmp_path / "schemathesis.txt"
        with open(report, "w") as out:
            ended = subprocess.run(
                [schemathesis, "--config-file", str(config), "run",
                 f"{env['SLUICE_URL']}/openapi.json", "--checks", CHECKS,
                 "--phases", "examples,coverage,fuzzing", "--max-time", str(MAX_SECONDS)],
                env={**os.environ, "SLUICE_TOKEN": token, "NO_COLOR": "1"}, stdout=out,
                stderr=subprocess.STDOUT, timeout=MAX_SECONDS + 60, cwd=tmp_path)
        printed = report.read_text()
        assert "Test cases:" in printed and "generated" in printed, printed[-3000:]
        assert ended.returncode == 0, printed[-6000:]
        for phase in ("Examples", "Coverage", "Fuzzing"):
            assert f"✅ {phase}" in printed, printed[-3000:]
        assert "unexpected error" not in log.read_text(), log.read_text()[-4000:]
    finally:
        stop(up)
        delete_queues(Settings.from_env(env))
