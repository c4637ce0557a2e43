"""`sluice up` as a user runs it, driven by the `sluice` command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from core.settings import Settings
from sluice.ports import free_port_block
from tests.fixtures.signals import eventually, running
from tests.fixtures.stack import delete_queues
from tests.fixtures.up import start_up, stop

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture
def stack(tmp_path, rabbitmq_url):
    env, up, log = start_up(tmp_path, SLUICE_BROKER_URL=rabbitmq_url)
    yield env, up, log
    stop(up)
    delete_queues(Settings.from_env(env))


def sluice(env, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "sluice.cli", *args], env=env,
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError):
                continue
    return found


def test_the_quick_start_works_from_the_command_line(stack):
    env, up, log = stack
    banner = log.read_text()
    assert f"API          {env['SLUICE_URL']}" in banner
    s3_port = tomllib.loads(Path(env["SLUICE_CONFIG"]).read_text())["s3_port"]
    assert f"S3           http://127.0.0.1:{s3_port}" in banner
    assert Path(env["SLUICE_DATA_DIR"], "admin-token").stat().st_mode & 0o777 == 0o600
    assert "hello: created" in sluice(env, "deploy", "-f", "examples/hello.yaml").stdout
    assert sluice(env, "invoke", "hello", "--text", "world").stdout == "Hello, world!\n"
    job_id = sluice(env, "invoke", "hello", "--text", "world", "--async").stdout.strip()
    shown = sluice(env, "job", job_id, "--wait").stdout
    for field in ("status       succeeded", "exit code    0", "runtime", "CPU", "peak memory"):
        assert field in shown
    assert sluice(env, "logs", job_id).stdout == "Hello, world!\n"
    record = json.loads(sluice(env, "--json", "job", job_id).stdout)
    assert record["attempts"] == 1 and record["peak_memory"] < 50 * 1024**2
    listed = sluice(env, "jobs").stdout
    assert job_id in listed and "hello" in listed
    failed = sluice(env, "invoke", "nope", check=False)
    assert failed.returncode == 1 and "does not exist" in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1


def test_a_killed_worker_is_replaced_and_its_job_finishes(stack, tmp_path):
    env, up, log = stack
    (tmp_path / "sleepy.yaml").write_text(
        "functions:\n  sleepy:\n    command: [sh, -c, 'sleep 5; echo rested']\n    mode: async\n")
    sluice(env, "deploy", "-f", str(tmp_path / "sleepy.yaml"))
    job_id = sluice(env, "invoke", "sleepy").stdout.strip()
    deadline = time.monotonic() + 30
    while json.loads(sluice(env, "--json", "job", job_id).stdout)["status"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    owner = json.loads(sluice(env, "--json", "job", job_id).stdout)
    workers = [pid for pid in children_of(up.pid)
               if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[-2] == b"worker"]
    assert len(workers) == 1, owner
    os.kill(workers[0], signal.SIGKILL)
    done = json.loads(sluice(env, "--json", "job", job_id, "--wait", check=False).stdout)
    assert done["status"] == "succeeded" and done["attempts"] == 2
    assert sluice(env, "logs", job_id).stdout == "rested\n"
    assert "starting another" in log.read_text()


def test_ctrl_c_stops_every_process_and_a_second_start_keeps_the_data(stack, tmp_path):
    env, up, log = stack
    sluice(env, "deploy", "-f", "examples/hello.yaml")
    processes = children_of(up.pid)
    assert len(processes) >= 3
    os.killpg(up.pid, signal.SIGINT)
    assert up.wait(60) == 0
    eventually(lambda: not [p for p in processes if running(p)], timeout=10,
               what="every process of the stack ending")
    again = subprocess.Popen([sys.executable, "-m", "sluice.cli", "up", "--workers", "1"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             cwd=tmp_path, start_new_session=True, text=True)
    try:
        for line in again.stdout:
            if "Sluice is up" in line:
                break
        assert "hello" in sluice(env, "functions").stdout
        assert sluice(env, "invoke", "hello", "--text", "again").stdout == "Hello, again!\n"
    finally:
        os.killpg(again.pid, signal.SIGINT)
        again.wait(60)


def test_without_rabbitmq_the_stack_runs_in_one_process_and_says_so(tmp_path):
    closed = free_port_block(1)
    env, up, log = start_up(tmp_path, SLUICE_BROKER_URL=f"amqp://guest:guest@127.0.0.1:{closed}/")
    try:
        text = log.read_text()
        assert "IN-PROCESS broker" in text and "Traceback" not in text
        sluice(env, "deploy", "-f", "examples/hello.yaml")
        assert sluice(env, "invoke", "hello", "--text", "alone").stdout == "Hello, alone!\n"
        job_id = sluice(env, "invoke", "wordcount", "--text", "one two three").stdout.strip()
        record = json.loads(sluice(env, "--json", "job", job_id, "--wait").stdout)
        assert record["status"] == "succeeded" and record["bytes_out"] == 2
    finally:
        stop(up)


def test_a_second_stack_on_the_same_ports_is_refused_in_one_line(stack, tmp_path):
    env, up, log = stack
    second = subprocess.run([sys.executable, "-m", "sluice.cli", "up"],
                            env=dict(env, SLUICE_DATA_DIR=str(tmp_path / "other")),
                            capture_output=True, text=True, timeout=60)
    assert second.returncode == 1
    assert "already in use" in second.stderr and "Traceback" not in second.stderr
    assert sluice(env, "functions").returncode == 0


def test_an_upload_starts_the_function_through_the_seaweedfs_webhook(stack, tmp_path):
    env, up, log = stack
    (tmp_path / "shout.yaml").write_text(
        "functions:\n  shout:\n    script: tr a-z A-Z < \"$INPUT_FILE_PATH\" > "
        "\"$TMP_OUTPUT_DIR/$(basename \"$INPUT_FILE_PATH\")\"\n")
    sluice(env, "deploy", "-f", str(tmp_path / "shout.yaml"))
    for name in ("one.txt", "two words.txt"):
        (tmp_path / name).write_text(f"file {name}\n")
    sluice(env, "put", str(tmp_path / "one.txt"), str(tmp_path / "two words.txt"),
           "sluice-data/shout/input/")
    deadline = time.monotonic() + 30
    while True:
        listing = json.loads(sluice(env, "--json", "ls", "sluice-data/shout/output/").stdout)
        outputs = [o["key"] for o in listing if o["key"].endswith(".txt")]
        if len(outputs) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(outputs) == 2, listing
    [two] = [o for o in outputs if o.endswith("two words.txt")]
    assert sluice(env, "get", f"sluice-data/{two}", "-o", "-").stdout == "FILE TWO WORDS.TXT\n"
    bad = sluice(env, "get", "19  sluice-data/x", check=False)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    scanned = sluice(env, "scan", "shout")
    assert "2 object(s): 0 job(s) started, 2 already had one" in scanned.stderr
    jobs = json.loads(sluice(env, "--json", "jobs", "--function", "shout").stdout)
    assert len(jobs) == 2 and {j["trigger"] for j in jobs} == {"storage"}


def _identify(path: Path) -> str:
    return subprocess.run(["identify", "-format", "%wx%h %[colorspace]", str(path)],
                          capture_output=True, text=True, check=True).stdout


def test_the_thumbnail_pipeline_turns_every_photo_into_a_gray_thumbnail(stack, tmp_path):
    env, up, log = stack
    sluice(env, "deploy", "-f", "examples/thumbnails.yaml")
    photos = sorted(str(p) for p in (ROOT / "examples" / "photos").glob("*.jpg"))
    sluice(env, "put", *photos, "thumbnails/in/")
    deadline = time.monotonic() + 60
    while True:
        listing = json.loads(sluice(env, "--json", "ls", "thumbnails/out/").stdout)
        outputs = [o["key"] for o in listing if o["key"].endswith(".jpg")]
        if len(outputs) >= len(photos) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert sorted(Path(k).name for k in outputs) == sorted(Path(p).name for p in photos)
    sluice(env, "get", f"thumbnails/{outputs[0]}", "-o", str(tmp_path / "thumb.jpg"))
    assert _identify(tmp_path / "thumb.jpg") == "256x192 Gray"
    for function in ("resize", "grayscale"):
        jobs = json.loads(sluice(env, "--json", "jobs", "--function", function).stdout)
        assert len(jobs) == len(photos) and {j["status"] for j in jobs} == {"succeeded"}


def test_oscars_curl_recipe_works_unchanged(stack, tmp_path):
    env, up, log = stack
    token = Path(env["SLUICE_DATA_DIR"], "admin-token").read_text().strip()
    service = {"name": "thumb", "image": "imagemagick", "script":
               'mogrify -resize 64x64 "$INPUT_FILE_PATH" && '
               'cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/result.png"'}
    subprocess.run(["curl", "-sf", "-X", "POST", "-H", f"Authorization: Bearer {token}",
                    "-H", "Content-Type: application/json", "-d", json.dumps(service),
                    f"{env['SLUICE_URL']}/system/services"], check=True, capture_output=True)
    subprocess.run(["convert", "-size", "300x200", "xc:orange", str(tmp_path / "input.png")],
                   check=True)
    recipe = (f"base64 input.png | curl -s -X POST -H \"Authorization: Bearer {token}\" "
              f"-d @- {env['SLUICE_URL']}/run/thumb | base64 -d > result.png")
    subprocess.run(["bash", "-c", recipe], cwd=tmp_path, check=True)
    assert _identify(tmp_path / "result.png").startswith("64x43")
