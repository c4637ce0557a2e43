"""A worker's functions die with it, however it dies, and its lock is free only once they
have (issue 11, part 9: no takeover beside a dead worker's attempt)."""

import os
import signal
import subprocess
import sys

from tests.fixtures.signals import eventually, running
from workers.reaper import lock_taken

# A stand-in worker: its reaper watches one function's process group, then it waits.
WORKER = """
import subprocess, sys, time
from workers.reaper import Reaper
reaper = Reaper(sys.argv[1])
function = subprocess.Popen(["/bin/sh", "-c", "sleep 60 & echo $!; wait"],
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
reaper.watch(function.pid)
print(function.pid, function.stdout.readline().strip(), flush=True)
time.sleep(60)
"""


def start_worker(owner: str) -> tuple[subprocess.Popen, list[int]]:
    """The worker, and the pids of its function and of what the function started."""
    worker = subprocess.Popen([sys.executable, "-c", WORKER, owner], stdout=subprocess.PIPE,
                              text=True, start_new_session=True)
    return worker, [int(pid) for pid in worker.stdout.readline().split()]


def test_a_killed_worker_s_function_group_is_killed_before_its_lock_is_free():
    owner = f"host/1/reaper-test-{os.getpid()}"
    worker, pids = start_worker(owner)
    try:
        assert all(running(pid) for pid in pids) and lock_taken(owner) is True
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        eventually(lambda: lock_taken(owner) is False, timeout=10, what="the lock freed")
        assert not any(running(pid) for pid in pids)
    finally:
        if worker.poll() is None:
            worker.kill()


def test_a_worker_with_no_lock_file_is_not_known_to_the_reaper():
    assert lock_taken("host/1/never-started") is None
