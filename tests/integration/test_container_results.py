"""Results from a container, through real Podman: a function sends datagrams to
`/_abaco_results.sock`, where Abaco mounts an actor's results socket (TACC/abaco at 9e83e1c,
actors/worker.py lines 354-356: `'container_path': '/_abaco_results.sock', 'format':
'ro'`), or to `$RESULTS_SOCKET`, and writes files to `$RESULTS_DIR`; a worker of the
container executor keeps them as they come."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
import uuid

import pytest

from bench.podman import busybox_rootfs
from tests.fixtures.results import pop, sent, started, until_sent
from tests.fixtures.services import unavailable
from tests.fixtures.signals import job as job_record

# What abacopy's send_bytes_result does, for an image with no Python: each argument after
# the socket's path is one datagram.
SENDER = r"""
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

int main(int argc, char **argv) {
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    if (argc < 2 || strlen(argv[1]) >= sizeof address.sun_path)
        return 2;
    strcpy(address.sun_path, argv[1]);
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    for (int i = 2; i < argc; i++)
        if (sendto(s, argv[i], strlen(argv[i]), 0, (struct sockaddr *)&address,
                   sizeof address) < 0)
            return 1;
    return 0;
}
"""


@pytest.fixture(scope="module")
def sender_image(podman, tmp_path_factory):
    """The busybox image with `send-result` in /bin, built with a static C compiler."""
    compiler = shutil.which("cc")
    if compiler is None:
        unavailable("a C compiler (cc)")
    base = tmp_path_factory.mktemp("sender")
    (base / "send-result.c").write_text(SENDER)
    subprocess.run([compiler, "-static", "-Os", "-o", str(base / "send-result"),
                    str(base / "send-result.c")], check=True, capture_output=True)
    rootfs = io.BytesIO(busybox_rootfs(shutil.which("busybox")))
    with tarfile.open(fileobj=rootfs, mode="a") as tar:
        tar.add(base / "send-result", arcname="bin/send-result")
    image = f"localhost/sluice-test-sender:{uuid.uuid4().hex[:8]}"
    subprocess.run(["podman", "import", "-", image], input=rootfs.getvalue(), env=podman.env,
                   cwd=podman.directory, check=True, capture_output=True)
    yield image
    subprocess.run(["podman", "rmi", "-f", image], env=podman.env, capture_output=True)


async def test_results_sent_to_abacos_socket_are_read_while_the_container_runs(
        gateway_only, container_worker, sender_image):
    job_id = await started(gateway_only, "boxed-publisher",
                           "send-result /_abaco_results.sock one two; sleep 60",
                           image=sender_image, timeout=90)
    assert await until_sent(gateway_only, job_id, 2) == [b"one", b"two"]
    assert (await job_record(gateway_only, job_id))["status"] == "running"
    assert [await pop(gateway_only, job_id) for _ in range(3)] == [b"one", b"two", b""]
    await gateway_only.request("POST", f"/v1/jobs/{job_id}/cancel")


async def test_a_container_finds_the_socket_at_results_socket_and_writes_to_results_dir(
        gateway_only, container_worker, sender_image):
    await gateway_only.deploy("boxed-answerer", image=sender_image, script=(
        'send-result "$RESULTS_SOCKET" "sent to $RESULTS_SOCKET"; '
        'printf written > "$RESULTS_DIR/file"'))
    response = await gateway_only.request("POST", "/v1/functions/boxed-answerer/invocations")
    assert response.status == 200, await response.text()
    assert await response.read() == b"sent to /sluice/results.sock"
    assert await sent(gateway_only, response.headers["Sluice-Job-Id"]) == [
        b"sent to /sluice/results.sock", b"written"]
