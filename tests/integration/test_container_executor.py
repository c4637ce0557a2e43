"""The container executor against real Podman, with an image built without any registry."""

import dataclasses
import shutil
import socket
import subprocess
import threading
import time

import pytest

from bench.podman import busybox_rootfs
from core.errors import CannotRun
from core.jobs import Reason
from tests.fixtures.signals import eventually
from tests.fixtures.usage import ALLOCATE, BURN, MiB, write
from workers.executors.container import MANAGED, WORKER, ContainerExecutor
from workers.staging import LocalStaging, captured


@pytest.fixture
def executor(podman, attempts):
    return ContainerExecutor(podman.url, "never", LocalStaging(attempts.objects, attempts.blobs))


@pytest.fixture
def run(podman, executor, attempts):
    def run(script: str | None, *, kill_after: float | None = None, image: str = podman.image,
            body: bytes = b"from the host\n", **spec):
        program = {"script": script} if script is not None else {}
        attempt = attempts.make({"image": image, **program, "timeout": 30, **spec}, body=body)
        running = executor.start(attempt)
        if kill_after is not None:
            threading.Timer(kill_after, running.kill, args=(Reason.CANCELLED,)).start()
        return running.wait()
    return run


def test_a_function_reads_its_input_and_writes_outputs(run, attempts):
    outcome = run('tr a-z A-Z < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/out.txt"; '
                  'echo "job $JOB_ID"; echo note >&2')
    assert (outcome.exit_code, outcome.reason) == (0, None)
    assert attempts.output(outcome, "out.txt") == b"FROM THE HOST\n"
    assert attempts.log(outcome, "stdout").startswith(b"job ")
    assert attempts.log(outcome, "stderr") == b"note\n"


def test_what_a_long_running_container_prints_is_copied_out_as_it_comes(podman, executor,
                                                                         attempts):
    """For the log shipper, which reads the scratch directory while the attempt runs."""
    attempt = attempts.make({"image": podman.image, "script": "echo first; sleep 3; "
                             "echo second; echo err >&2", "timeout": 30})
    running = executor.start(attempt)
    ended = []
    waiter = threading.Thread(target=lambda: ended.append(running.wait()))
    waiter.start()
    eventually(lambda: captured(attempt.workdir.stdout) == b"first\n", timeout=15,
               what="the first line in the scratch directory")
    assert not ended, "the line was there before the container ended"
    waiter.join(30)
    assert attempts.log(ended[0], "stdout") == b"first\nsecond\n"
    assert attempts.log(ended[0], "stderr") == b"err\n"


def test_a_container_reports_the_cpu_and_peak_memory_of_its_cgroup(run):
    """Read from the container's cgroup as it ends: the figures hold its init and runc's
    start of it too (about 35 ms of CPU and 4 MiB here), and nothing of conmon's. The files
    as the kernel documents them: Documentation/admin-guide/cgroup-v1/cpuacct.rst
    (`cpuacct.usage`, nanoseconds) and cgroup-v1/memory.rst, section 2 (`memory.
    max_usage_in_bytes`, "max memory usage recorded"); v2: cgroup-v2.rst, "cpu.stat"
    (`usage_usec`), "memory.peak", "io.stat"."""
    outcome = run(f"{ALLOCATE}; {BURN}")
    assert (outcome.exit_code, outcome.reason) == (0, None)
    assert 0.5 <= outcome.cpu_seconds < 1.0
    assert 50 * MiB <= outcome.peak_memory < 60 * MiB


def test_a_container_that_ends_at_once_is_measured_too(run):
    """Its cgroup is watched from before the function starts: Podman's init "performs all
    tasks necessary for starting the container ... but does not start the container"
    (https://docs.podman.io/en/v4.3/markdown/podman-init.1.html, Description; the API's
    `POST /libpod/containers/{name}/init`), and a pidfd "indicates as readable" when the
    process ends (pidfd_open(2), Use cases for PID file descriptors)."""
    outcome = run("true")
    assert 0 < outcome.cpu_seconds < 0.3 and 0 < outcome.peak_memory < 10 * MiB


def test_a_container_killed_at_its_timeout_reports_what_it_used(run):
    outcome = run(f"{ALLOCATE}; while :; do :; done", timeout=1)
    assert outcome.reason is Reason.TIMEOUT
    assert outcome.cpu_seconds > 0 and outcome.peak_memory >= 50 * MiB


def test_a_containers_block_io_is_its_cgroups_or_none_on_cgroups_v1(podman, run):
    """cgroups v1's blkio counts only on devices with a throttling rule, so there is no
    figure (workers/executors/cgroups.py); v2's io.stat has one."""
    outcome = run(write("/tmp/written"))
    assert outcome.exit_code == 0
    if podman.client.info()["CgroupVersion"] == "1":
        assert (outcome.io_read_bytes, outcome.io_write_bytes) == (None, None)
    else:
        assert outcome.io_write_bytes >= 20 * MiB


def test_a_failing_function_reports_its_exit_code(run):
    outcome = run("exit 3")
    assert (outcome.exit_code, outcome.reason) == (3, Reason.ERROR)


def test_the_input_is_read_only(run, attempts):
    outcome = run('echo changed > "$INPUT_FILE_PATH" || { cat "$INPUT_FILE_PATH"; exit 9; }')
    assert outcome.exit_code == 9
    assert attempts.log(outcome, "stdout") == b"from the host\n"


def test_exceeding_the_memory_limit_is_reported_as_oom(run):
    outcome = run("x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo ${#x}", memory="32Mi")
    assert (outcome.exit_code, outcome.reason) == (137, Reason.OOM)


def test_a_timeout_kills_the_container_and_is_told_apart_from_oom(run):
    started = time.monotonic()
    outcome = run("sleep 30", timeout=1, memory="64Mi")
    assert outcome.reason is Reason.TIMEOUT
    assert time.monotonic() - started < 15


def test_cancel_stops_the_container(run):
    assert run("sleep 30", kill_after=0.5).reason is Reason.CANCELLED


def test_an_output_whose_name_is_not_utf8_fails_the_attempt_and_keeps_the_log(run, attempts):
    outcome = run("""printf x > "$TMP_OUTPUT_DIR/$(printf 'bad\\377.txt')"; echo said""")
    assert outcome.reason is Reason.ERROR and outcome.outputs == ()
    assert "is not UTF-8" in outcome.error
    assert attempts.log(outcome, "stdout") == b"said\n"


def test_there_is_no_network_unless_the_function_asks(run, attempts):
    outcome = run("cat /proc/net/dev")
    interfaces = [line.split(":")[0].strip()
                  for line in attempts.log(outcome, "stdout").decode().splitlines()[2:]]
    assert interfaces == ["lo"]


def test_containers_of_dead_workers_are_removed(podman, executor):
    orphan = podman.client.containers.create(
        podman.image, ["sleep", "60"],
        labels={MANAGED: "1", WORKER: f"{socket.gethostname()}/999999999"})
    assert executor.remove_orphans() == 1
    assert orphan.id not in [c.id for c in podman.client.containers.list(all=True)]


def test_a_missing_image_with_pull_policy_never_cannot_run(run):
    with pytest.raises(CannotRun, match="pull policy"):
        run("true", image="localhost/not-there:1")


def test_a_command_missing_from_the_image_fails_as_the_functions_own_failure(run):
    outcome = run(None, command=["/no/such/program"])
    assert outcome.exit_code != 0 and outcome.reason is Reason.ERROR


def test_a_container_the_engine_refuses_to_start_cannot_run_and_is_removed(
        podman, executor, attempts):
    """runc cannot hold a container to 1 MiB (below what it uses to start), and Podman
    answers the start with an error; specs ask for 4 MiB at least, so the limit is set here."""
    attempt = attempts.make({"image": podman.image, "script": "true"})
    attempt = dataclasses.replace(attempt, function=dataclasses.replace(
        attempt.function, memory=1024 * 1024))
    with pytest.raises(CannotRun, match="could not start the container: .*memory limit"):
        executor.start(attempt)
    assert not podman.client.containers.list(all=True, filters={"label": MANAGED})


def test_an_image_that_cannot_be_pulled_cannot_run(podman, attempts):
    """Podman answers the pull with an error: trying again would not help."""
    executor = ContainerExecutor(podman.url, "if-not-present",
                                 LocalStaging(attempts.objects, attempts.blobs))
    with pytest.raises(CannotRun, match="pull image 'localhost:1/nowhere:1'"):
        executor.start(attempts.make({"image": "localhost:1/nowhere:1", "script": "true"}))


async def test_a_function_with_an_image_runs_in_a_container_end_to_end(
        gateway_only, container_worker, podman):
    await gateway_only.deploy("boxed", image=podman.image, script=(
        'cat /etc/hostname > /dev/null; tr a-z A-Z < "$INPUT_FILE_PATH" > '
        '"$TMP_OUTPUT_DIR/out.txt"'))
    response = await gateway_only.request("POST", "/v1/functions/boxed/invocations",
                                          data=b"in a box")
    assert response.status == 200, await response.text()
    assert await response.read() == b"IN A BOX"


async def test_an_image_that_cannot_be_pulled_fails_the_job_at_once(gateway_only,
                                                                    container_worker):
    await gateway_only.deploy("unpullable", image="localhost:1/nowhere:1", script="true")
    response = await gateway_only.request("POST", "/v1/functions/unpullable/invocations")
    assert response.status == 502, await response.text()
    job = await (await gateway_only.request(
        "GET", f"/v1/jobs/{response.headers['Sluice-Job-Id']}")).json()
    assert (job["status"], job["reason"], job["attempts"]) == ("failed", "error", 1)
    assert job["error"].startswith("could not pull image 'localhost:1/nowhere:1': ")
    assert job["error"] in await response.text()


def test_a_function_that_is_only_an_image_runs_the_images_own_command(podman, run, attempts):
    image = f"{podman.image}-with-cmd"
    subprocess.run(["podman", "import", "--change",
                    'CMD ["/bin/sh", "-c", "echo the image decides: $FUNCTION_NAME"]',
                    "-", image], input=busybox_rootfs(shutil.which("busybox")), env=podman.env,
                   cwd=podman.directory, check=True, capture_output=True)
    try:
        outcome = run(None, image=image)
        assert (outcome.exit_code, outcome.reason) == (0, None)
        assert attempts.log(outcome, "stdout") == b"the image decides: fn\n"
    finally:
        subprocess.run(["podman", "rmi", "-f", image], env=podman.env, capture_output=True)


async def test_an_abaco_actors_container_reads_its_message_in_msg(gateway_only,
                                                                  container_worker, podman):
    """The Abaco sample's test.sh (TACC/abaco docs/user_docs.md:40-56), in a container,
    given the message as Abaco gives it (docker_utils.py:541-542, worker.py:416-422)."""
    created = await gateway_only.request("POST", "/actors/v2", json={
        "image": podman.image, "script": 'echo "Contents of MSG: $MSG"; echo "$_abaco_actor_id"'})
    actor = (await created.json())["result"]
    response = await gateway_only.request(
        "POST", f"/actors/v2/{actor['id']}/messages?_abaco_synchronous=true",
        data={"message": "in a box"})
    assert response.status == 200, await response.text()
    assert await response.text() == f"Contents of MSG: in a box\n{actor['id']}\n"
