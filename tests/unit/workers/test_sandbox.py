"""A function cannot reach the platform's secrets, and cannot harm the worker: it runs as
an unprivileged user, in bubblewrap where installed (`make test` installs it), within
process and file-size limits (workers/executors/sandbox.py). Through the whole in-process
stack, with the sandbox and without it."""

from __future__ import annotations

import dataclasses
import os
import pwd
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from core.settings import ProcessSettings
from tests.fixtures.services import unavailable
from tests.fixtures.signals import eventually, wait_status
from tests.fixtures.stack import ADMIN
from workers.executors import standing
from workers.executors.sandbox import Sandbox
from workers.workdir import Workdir

RUN_AS = "sluice-fn"
EVENTS_TOKEN = "unit-events-token-" + "y" * 16
S3_SECRET = "s3-secret-that-must-not-leak-1234567890"


def run_as_uid() -> int:
    if os.geteuid() != 0 or shutil.which("bwrap") is None:
        unavailable("root and bubblewrap (make test installs it)")
    try:
        return pwd.getpwnam(RUN_AS).pw_uid
    except KeyError:
        unavailable(f"the user {RUN_AS} (make test creates it)")


@pytest.fixture(params=["bwrap", "none"])
def local_settings(request, local_settings, monkeypatch):
    """The worker holds the secrets in its environment and its data directory, as a real
    one does; its functions may have 64 processes and files of 1 MiB."""
    run_as_uid()
    for name, value in (("SLUICE_ADMIN_TOKEN", ADMIN), ("SLUICE_EVENTS_TOKEN", EVENTS_TOKEN),
                        ("SLUICE_S3_SECRET_KEY", S3_SECRET)):
        monkeypatch.setenv(name, value)
    (local_settings.data_dir / "admin-token").write_text(ADMIN)
    (local_settings.data_dir / "admin-token").chmod(0o600)
    process = dataclasses.replace(local_settings.worker.process, sandbox=request.param,
                                  max_processes=64, max_file_size=1024**2)
    return dataclasses.replace(local_settings, worker=dataclasses.replace(
        local_settings.worker, process=process))


async def answer(api, name: str, script: str, **spec) -> tuple[int, str, dict]:
    await api.deploy(name, script=script, **spec)
    response = await api.request("POST", f"/v1/functions/{name}/invocations")
    job = await wait_status(api, response.headers["Sluice-Job-Id"], "succeeded", "failed")
    return response.status, await response.text(), job


def functions_running() -> list[str]:
    """The commands of the processes of the functions' user still alive."""
    uid, found = pwd.getpwnam(RUN_AS).pw_uid, []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and os.stat(f"/proc/{entry}").st_uid == uid:
                found.append(open(f"/proc/{entry}/cmdline", "rb").read().decode(errors="replace"))
        except OSError:
            continue
    return found


async def test_a_function_runs_as_its_own_user(local_api):
    status, body, _ = await answer(local_api, "whoami", "id -un")
    assert (status, body.strip()) == (200, RUN_AS)


async def test_the_workers_environment_and_files_are_out_of_reach(local_api, local_settings):
    data = local_settings.data_dir
    script = f"""
        for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < "$f"; done 2>/dev/null | grep SLUICE_
        cat ../../admin-token {data}/admin-token {data}/sluice.db 2>/dev/null | head -c 200
        ln {data}/admin-token "$TMP_OUTPUT_DIR/stolen" 2>/dev/null
        env | grep SLUICE_
        echo looked"""
    status, body, job = await answer(local_api, "nosy", script)
    for secret in (ADMIN, EVENTS_TOKEN, S3_SECRET, "SLUICE_"):
        assert secret not in body
    assert body.endswith("looked\n") and job["outputs"] == []


async def test_an_output_hard_linked_to_a_file_elsewhere_is_not_uploaded(local_api):
    """A function can link only what its user may; the link is refused all the same."""
    script = ('echo mine > "$TMP_OUTPUT_DIR/../mine"; '
              'ln "$TMP_OUTPUT_DIR/../mine" "$TMP_OUTPUT_DIR/linked"')
    status, body, job = await answer(local_api, "linker", script)
    assert (status, job["outputs"]) == (502, [])
    assert "'linked' is a hard link to a file outside the output directory" in body


@pytest.mark.parametrize("local_settings", ["bwrap"], indirect=True)
async def test_without_network_nothing_listening_is_reached(local_api):
    """Only bubblewrap can take the network away (without it, the README says so)."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        reach = (f"/usr/bin/python3 -c \"import socket; socket.create_connection("
                 f"('127.0.0.1', {port}), 2); print('reached')\"")
        status, body, _ = await answer(local_api, "offline", reach)
        assert status == 502 and "reached" not in body
        status, body, _ = await answer(local_api, "online", reach, network=True)
        assert (status, body) == (200, "reached\n")
    # Nor any Unix socket of the machine's (PostgreSQL's, say, which trusts local users):
    # only its own results socket.
    status, body, _ = await answer(local_api, "sockets", "ls -A /run; find /run /var/run "
                                   '/tmp -type s ! -path "$RESULTS_SOCKET"')
    assert (status, body) == (200, "")


async def test_a_fork_bomb_ends_with_its_job_and_the_worker_goes_on(local_api):
    status, _, job = await answer(local_api, "bomb", "bomb() { bomb | bomb & }; bomb; sleep 3",
                                  timeout=3)
    assert job["status"] == "failed" and job["reason"] in ("timeout", "error")
    eventually(lambda: not functions_running(), timeout=10, what="the bomb's processes ending")
    status, body, _ = await answer(local_api, "after", "echo fine")
    assert (status, body) == (200, "fine\n")


async def test_filling_the_disk_stops_at_the_file_size_limit(local_api):
    _, _, job = await answer(local_api, "filler",
                             'head -c 10000000 /dev/zero > "$TMP_OUTPUT_DIR/big"')
    assert (job["status"], job["reason"], job["exit_code"]) == ("failed", "error", 153)


async def test_nothing_a_function_starts_outlives_it(local_api):
    await answer(local_api, "leaver", "sleep 300 & sleep 300 & echo left")
    eventually(lambda: not functions_running(), timeout=10, what="its children ending")


async def test_a_function_that_kills_itself_fails_and_the_worker_goes_on(local_api):
    _, _, job = await answer(local_api, "suicide", "kill -9 $$")
    assert (job["status"], job["exit_code"]) == ("failed", 137)
    status, body, _ = await answer(local_api, "after", "echo fine")
    assert (status, body) == (200, "fine\n")


async def test_secrets_stay_out_of_logs_and_job_records(local_api, caplog):
    _, body, job = await answer(local_api, "plain", "echo hi; exit 3")
    records = await (await local_api.request("GET", "/v1/jobs?limit=50")).text()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (ADMIN, EVENTS_TOKEN, S3_SECRET):
        assert secret not in body + records + logged


async def test_a_function_gets_the_signals_any_program_gets(local_api):
    """Python ignores SIGPIPE; a function must not inherit that: `yes` ends quietly."""
    status, body, job = await answer(local_api, "piped", "yes | head -n 1")
    assert (status, body) == (200, "y\n")


async def test_a_function_that_removes_its_own_log_files_still_ends_once(local_api):
    """The files it prints to lie in its own directory; their absence is no error of the
    platform's, so no attempt is tried again."""
    _, _, job = await answer(local_api, "tidy", 'rm -f "$HOME/stdout" "$HOME/stderr"; exit 4')
    assert (job["status"], job["exit_code"], job["attempts"]) == ("failed", 4, 1)


async def test_a_function_holds_no_privilege_and_no_descriptor_of_the_workers(local_api):
    """No capability, none to gain, no group of root's, and no open file but its own: its
    three, and GNU time's report, in its own directory (the launcher's channel to the
    worker is not among them). `ls` runs in the background, into a file, while the shell
    waits: a pipe, or a redirection the shell makes for itself, would be among the shell's
    own descriptors as `ls` reads them."""
    script = ("grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Groups):' /proc/self/status; "
              "ls -l /proc/$$/fd > \"$HOME/fds\" & wait; grep -o '[0-9]* -> .*' \"$HOME/fds\"")
    status, body, _ = await answer(local_api, "unprivileged", script)
    fields = dict(line.split(":", 1) for line in body.splitlines() if ":" in line)
    assert status == 200 and {k: v.strip() for k, v in fields.items()} == {
        "Groups": "", "NoNewPrivs": "1", **{f"Cap{c}": "0" * 16
                                             for c in ("Inh", "Prm", "Eff", "Bnd", "Amb")}}
    descriptors = dict(line.split(" -> ") for line in body.splitlines() if " -> " in line)
    assert descriptors.pop("0") == "/dev/null"
    assert {fd: Path(target).name for fd, target in descriptors.items()} in (
        {"1": "stdout", "2": "stderr"}, {"1": "stdout", "2": "stderr", "3": "rusage"})
    assert len({Path(target).parent for target in descriptors.values()}) == 1


def test_the_launcher_refuses_to_run_outside_a_pid_namespace_of_its_own(tmp_path):
    """In the worker's namespace its `kill(-1)` would reach the whole machine. Run here as
    the functions' user, so that even a launcher that did not refuse could harm nothing."""
    uid = run_as_uid()
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    config = {"workdir": str(tmp_path), "user": None, "limits": {}, "subreaper": False,
              "parent": os.getpid(), "worker_namespace": os.readlink("/proc/self/ns/pid")}
    with ours, theirs:
        ended = subprocess.run(
            [shutil.which("setpriv"), f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
             *standing.launcher_command(theirs.fileno(), config)],
            pass_fds=[theirs.fileno()], capture_output=True, timeout=30)
    assert ended.returncode == 1
    assert b"not in a PID namespace of its own; refusing to run" in ended.stderr


def test_a_standing_sandbox_stands_where_sluices_own_files_are_hidden(tmp_path):
    """Sluice and its virtual environment may lie in a place the sandbox empties or hides
    (a checkout in /tmp, say): the launcher needs neither."""
    run_as_uid()
    installed = Path(standing.__file__).parents[2]
    sandbox = Sandbox.configure(ProcessSettings(sandbox="bwrap"), installed)
    workdir = Workdir.for_thread(tmp_path)
    workdir.stdout.touch()
    sandbox.hand_over(workdir, workdir.stdout)
    sandboxed = standing.StandingSandbox(sandbox, workdir, network=False)
    try:
        sandboxed.run(["/bin/sh", "-c", f"test -e {installed}/pyproject.toml || echo hidden"],
                      {"PATH": "/bin"}, workdir.stdout, workdir.stderr, None)
        assert sandboxed.result()["status"] == 0
        assert workdir.stdout.read_text() == "hidden\n"
    finally:
        sandboxed.destroy()


@pytest.mark.parametrize("processes, file_size, shown", [
    (64, 1024**2, ["1048576", "64"]),
    (0, 0, None),
])
def test_limits_hold_and_a_limit_of_zero_is_not_set(tmp_path, processes, file_size, shown):
    """Without limits nothing runs before the function (the bench's unconfined baseline)."""
    sandbox = Sandbox.configure(ProcessSettings(run_as=None, sandbox="none",
                                                max_processes=processes,
                                                max_file_size=file_size), tmp_path)
    program = ["/usr/bin/awk", "/^Max (file size|processes)/ {print $(NF - 2)}",
               "/proc/self/limits"]
    argv = sandbox.command(program, Workdir.for_thread(tmp_path), network=False, memory=None)
    printed = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()
    if shown is None:
        assert argv == program
        own = subprocess.run(program, capture_output=True, text=True, check=True).stdout
        assert printed == own.split()
    else:
        assert printed == shown
