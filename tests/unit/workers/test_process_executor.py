import os
import time

import pytest

from core.jobs import Reason
from core.settings import ProcessSettings
from tests.fixtures.signals import eventually, running
from tests.fixtures.usage import ALLOCATE, BURN, MiB, on_block_device, write
from workers.executors.measure import timed
from workers.executors.process import RunningProcess
from workers.executors.sandbox import Sandbox
from workers.workdir import Workdir


def gone(pid: int) -> None:
    """The process is killed (SIGKILL is sent, not waited for): it goes within moments."""
    eventually(lambda: not running(pid), timeout=5, what=f"process {pid} ending")


@pytest.fixture
def run(tmp_path):
    """A command limited as the sandbox limits it, run as the worker's user and without
    bubblewrap: what the process itself does (tests/unit/workers/test_sandbox.py has the
    rest)."""
    limits = Sandbox.configure(ProcessSettings(run_as=None, sandbox="none"), tmp_path / "data")

    def run(argv, *, timeout=10.0, env=None, memory=None, kill_after=None):
        dirs = Workdir.at(tmp_path)
        argv = limits.command(argv, dirs, network=False, memory=memory)
        running = RunningProcess(timed(argv, dirs.rusage), env or {"PATH": "/usr/bin:/bin"},
                                 cwd=tmp_path, stdout=tmp_path / "out", stderr=tmp_path / "err",
                                 timeout=timeout, rusage=dirs.rusage)
        if kill_after is not None:
            time.sleep(kill_after)
            running.kill(Reason.CANCELLED)
        return running.wait()
    return run


def test_exit_code_and_output_are_captured(run, tmp_path):
    result = run(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (result.exit_code, result.reason) == (3, Reason.ERROR)
    assert (tmp_path / "out").read_text() == "out\n"
    assert (tmp_path / "err").read_text() == "err\n"


def test_success_reports_cpu_and_a_peak_memory_of_the_function_not_the_worker(run):
    result = run(["/bin/true"])
    assert (result.exit_code, result.reason) == (0, None)
    assert result.cpu_seconds is not None and result.cpu_seconds >= 0
    assert 0 < result.peak_memory < 20 * 1024**2


def test_timeout_kills_the_whole_process_group(run, tmp_path):
    marker = tmp_path / "grandchild-pid"
    started = time.monotonic()
    result = run(["/bin/sh", "-c", f"sleep 30 & echo $! > {marker}; wait"], timeout=0.5)
    assert result.reason is Reason.TIMEOUT and result.exit_code == 137
    assert time.monotonic() - started < 5
    gone(int(marker.read_text()))


def test_a_function_killed_at_its_timeout_has_no_figures_rather_than_gnu_times_own(run):
    """The kill ends GNU time with the function, before it reports."""
    result = run(["/bin/sh", "-c", f"{ALLOCATE}; {BURN}; sleep 30"], timeout=1.5)
    assert result.reason is Reason.TIMEOUT
    assert (result.cpu_seconds, result.peak_memory, result.io_write_bytes) == (None,) * 3


def test_background_processes_do_not_outlive_the_function(run, tmp_path):
    marker = tmp_path / "pid"
    run(["/bin/sh", "-c", f"sleep 30 & echo $! > {marker}"])
    gone(int(marker.read_text()))


def test_cancel_reports_cancelled(run):
    result = run(["sleep", "30"], kill_after=0.2)
    assert result.reason is Reason.CANCELLED


def test_a_missing_command_fails_with_a_message(run):
    result = run(["/no/such/command"])
    assert result.exit_code == 127 and result.reason is Reason.ERROR


def test_only_the_given_environment_reaches_the_function(run, tmp_path, monkeypatch):
    monkeypatch.setenv("SLUICE_S3_SECRET_KEY", "must-not-leak")
    run(["/usr/bin/env"], env={"PATH": "/usr/bin:/bin", "A": "1"})
    assert "must-not-leak" not in (tmp_path / "out").read_text()
    assert "A=1" in (tmp_path / "out").read_text()


def test_memory_limit_stops_a_function_that_allocates_more(run):
    result = run(["/bin/sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo ${#x}"],
                 memory=64 * 1024**2)
    assert result.exit_code != 0


def test_the_peak_memory_and_cpu_are_the_functions_within_range(run):
    """GNU time's %M, the largest resident set of the processes it waited for."""
    result = run(["/bin/sh", "-c", f"{ALLOCATE}; {BURN}"])
    assert 50 * MiB <= result.peak_memory < 56 * MiB
    assert 0.5 <= result.cpu_seconds < 0.8


def test_writing_20_mib_with_fsync_shows_as_20_mib_written(run, tmp_path):
    """ru_oublock counts 512-byte blocks: Linux's task_io_get_oublock is write_bytes >> 9
    (torvalds/linux include/linux/task_io_accounting_ops.h, lines 34-37), and GNU time's
    %O reports it (time(1), FORMATTING THE OUTPUT)."""
    result = run(["/bin/sh", "-c", write(str(tmp_path / "written"))])
    assert result.exit_code == 0
    if on_block_device(tmp_path):
        assert 20 * MiB <= result.io_write_bytes < 21 * MiB
    else:
        assert result.io_write_bytes == 0


def test_reads_from_the_disk_count_and_reads_from_the_page_cache_do_not(run, tmp_path):
    """ru_inblock is read_bytes >> 9 (task_io_accounting_ops.h, lines 20-23): what was read
    from the device. O_DIRECT goes to it; the second, plain read finds the file cached."""
    data = tmp_path / "data"
    data.write_bytes(os.urandom(20 * MiB))
    cached = run(["dd", f"if={data}", "of=/dev/null", "bs=1M"])
    assert cached.exit_code == 0 and cached.io_read_bytes < MiB
    if on_block_device(tmp_path):
        direct = run(["dd", f"if={data}", "of=/dev/null", "bs=1M", "iflag=direct"])
        assert direct.exit_code == 0 and 20 * MiB <= direct.io_read_bytes < 21 * MiB
