"""The container executor against real Podman, with an image built without any registry."""

import dataclasses
import shutil
import socket
import subprocess
import threading
import time

import pytest

from core.errors import Invalid
from core.jobs import Reason
from workers.executors.base import Invocation
from tests.fixtures.podman import busybox_rootfs
from workers.executors.container import MANAGED, WORKER, ContainerExecutor


@pytest.fixture
def run(podman, tmp_path):
    executor = ContainerExecutor(podman.url, "never")
    (tmp_path / "input").mkdir()
    (tmp_path / "output").mkdir()
    (tmp_path / "input" / "in.txt").write_text("from the host\n")

    def run(script: str, *, kill_after: float | None = None, **options):
        invocation = Invocation(
            argv=("/bin/sh", "-c", script), workdir=tmp_path, stdout=tmp_path / "stdout",
            stderr=tmp_path / "stderr", image=podman.image,
            environment={"INPUT_FILE_PATH": str(tmp_path / "input" / "in.txt"),
                         "TMP_OUTPUT_DIR": str(tmp_path / "output"), "JOB_ID": "j1",
                         "PATH": "/usr/bin:/bin"},
            **({"timeout": 30} | options))
        running = executor.start(invocation)
        if kill_after is not None:
            threading.Timer(kill_after, running.kill, args=(Reason.CANCELLED,)).start()
        return running.wait()
    return run


def test_a_function_reads_its_input_and_writes_outputs(run, tmp_path):
    result = run('tr a-z A-Z < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/out.txt"; '
                 'echo "job $JOB_ID"; echo note >&2')
    assert (result.exit_code, result.reason) == (0, None)
    assert (tmp_path / "output" / "out.txt").read_text() == "FROM THE HOST\n"
    assert (tmp_path / "stdout").read_text() == "job j1\n"
    assert (tmp_path / "stderr").read_text() == "note\n"


def test_a_failing_function_reports_its_exit_code(run):
    result = run("exit 3")
    assert (result.exit_code, result.reason) == (3, Reason.ERROR)


def test_the_input_is_read_only(run, tmp_path):
    result = run('echo changed > "$INPUT_FILE_PATH"')
    assert result.exit_code != 0
    assert (tmp_path / "input" / "in.txt").read_text() == "from the host\n"


def test_exceeding_the_memory_limit_is_reported_as_oom(run):
    result = run("x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo ${#x}",
                 memory=32 * 1024**2)
    assert (result.exit_code, result.reason) == (137, Reason.OOM)


def test_a_timeout_kills_the_container_and_is_told_apart_from_oom(run):
    started = time.monotonic()
    result = run("sleep 30", timeout=1, memory=64 * 1024**2)
    assert result.reason is Reason.TIMEOUT
    assert time.monotonic() - started < 15


def test_cancel_stops_the_container(run):
    assert run("sleep 30", kill_after=0.5).reason is Reason.CANCELLED


def test_there_is_no_network_unless_the_function_asks(run, tmp_path):
    run('cat /proc/net/dev > "$TMP_OUTPUT_DIR/net"')
    interfaces = [line.split(":")[0].strip()
                  for line in (tmp_path / "output" / "net").read_text().splitlines()[2:]]
    assert interfaces == ["lo"]


def test_containers_of_dead_workers_are_removed(podman):
    orphan = podman.client.containers.create(
        podman.image, ["sleep", "60"],
        labels={MANAGED: "1", WORKER: f"{socket.gethostname()}/999999999"})
    executor = ContainerExecutor(podman.url, "never")
    assert executor.remove_orphans() == 1
    assert orphan.id not in [c.id for c in podman.client.containers.list(all=True)]


def test_a_missing_image_with_pull_policy_never_is_refused(podman, tmp_path):
    executor = ContainerExecutor(podman.url, "never")
    invocation = Invocation(argv=("true",), environment={}, workdir=tmp_path,
                            stdout=tmp_path / "o", stderr=tmp_path / "e", timeout=5,
                            image="localhost/not-there:1")
    with pytest.raises(Invalid, match="pull policy"):
        executor.start(invocation)


async def test_a_function_with_an_image_runs_in_a_container_end_to_end(
        gateway_only, settings, podman):
    from tests.fixtures.stack import start_worker
    container_settings = dataclasses.replace(settings, worker=dataclasses.replace(
        settings.worker, executor="container", container_host=podman.url,
        pull_policy="never"))
    worker = start_worker(container_settings)
    try:
        await gateway_only.deploy("boxed", image=podman.image, script=(
            'cat /etc/hostname > /dev/null; tr a-z A-Z < "$INPUT_FILE_PATH" > '
            '"$TMP_OUTPUT_DIR/out.txt"'))
        response = await gateway_only.request("POST", "/v1/functions/boxed/invocations",
                                              data=b"in a box")
        assert response.status == 200, await response.text()
        assert await response.read() == b"IN A BOX"
    finally:
        worker.stop()


def test_a_function_that_is_only_an_image_runs_the_images_own_command(podman, tmp_path):
    image = f"{podman.image}-with-cmd"
    subprocess.run(["podman", "import", "--change",
                    'CMD ["/bin/sh", "-c", "echo the image decides: $JOB_ID"]',
                    "-", image], input=busybox_rootfs(shutil.which("busybox")), env=podman.env,
                   cwd=podman.directory, check=True, capture_output=True)
    try:
        for name in ("input", "output"):
            (tmp_path / name).mkdir()
        invocation = Invocation(argv=(), environment={"JOB_ID": "j2"}, workdir=tmp_path,
                                stdout=tmp_path / "stdout", stderr=tmp_path / "stderr",
                                timeout=30, image=image)
        result = ContainerExecutor(podman.url, "never").start(invocation).wait()
        assert (result.exit_code, result.reason) == (0, None)
        assert (tmp_path / "stdout").read_text() == "the image decides: j2\n"
    finally:
        subprocess.run(["podman", "rmi", "-f", image], env=podman.env, capture_output=True)
