"""How `sluice up` and the servers notice Ctrl-C and SIGTERM."""

import os
import signal
import time

import pytest

from sluice.servers import StopSignals


@pytest.fixture
def signals():
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield StopSignals()
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_waiting_ends_soon_after_a_signal(signals):
    assert signals.wait(0.05) is False
    os.kill(os.getpid(), signal.SIGTERM)
    started = time.monotonic()
    assert signals.wait(30) is True
    assert time.monotonic() - started < 1

