"""Free ports on 127.0.0.1: whether one is taken, and a block of free ones (for stacks
started beside others: the tests' and the benches')."""

from __future__ import annotations

import socket


def in_use(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def free_port_block(size: int, *, also_plus: int = 0) -> int:
    """A base port such that base..base+size-1 (and the same plus `also_plus`) are free."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + size + also_plus > 65000:
            continue
        ports = [base + i for i in range(size)]
        ports += [port + also_plus for port in ports] if also_plus else []
        if not any(in_use(port) for port in ports):
            return base
    raise RuntimeError("no free block of ports on 127.0.0.1")
