"""The stdout sidecar of a Kubernetes Job's pod (`sluice follow-stdout`, workers/pod_staging.py)
as the real process it is: what it prints is its container log, which the worker follows as
the function's stdout."""

from __future__ import annotations

import select
import signal
import subprocess
import sys

COMMAND = [sys.executable, "-m", "sluice.cli", "follow-stdout", "--dir"]


def test_the_sidecar_prints_the_stdout_file_as_it_grows_and_what_is_left_when_stopped(
        tmp_path):
    """The kubelet sends SIGTERM once the function and the uploader have ended
    (https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#termination-with-sidecars):
    the bytes written just before it must still reach the log, and nothing else may."""
    sidecar = subprocess.Popen([*COMMAND, str(tmp_path)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    try:
        # The wrapper makes the file only when the function starts.
        with open(tmp_path / "stdout", "ab", buffering=0) as stdout:
            stdout.write(b"first\n")
            ready, _, _ = select.select([sidecar.stdout], [], [], 30)
            assert ready, "the first line did not come while the sidecar ran"
            assert sidecar.stdout.read1(64) == b"first\n"
            stdout.write(b"last, without a line break")
        sidecar.send_signal(signal.SIGTERM)
        out, err = sidecar.communicate(timeout=30)
    finally:
        if sidecar.poll() is None:
            sidecar.kill()
            sidecar.wait()
    assert (sidecar.returncode, out, err) == (0, b"last, without a line break", b"")

