"""The log shipper: about once a second, one thread sends what the attempts of this process
have printed since its last round to the job store, in one transaction, so that any gateway
can follow them (`GET /v1/jobs/{id}/logs?follow=1`) whichever worker runs them. An attempt
is shipped from its first second on: one that ends sooner costs no write at all, and its
followers get its log once it is kept."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from pathlib import Path

from core.periodic import Recurring
from core.store import JobStore
from workers.staging import captured

log = logging.getLogger(__name__)
SHIP_SECONDS = 1.0
# Per stream of an attempt: at most this much in one round, this much in all, and in so
# many chunks (an hour of rounds). Past either, the stream is marked as shipped no further:
# the rest comes with the attempt's log.
ROUND_BYTES = 256 * 1024
LIMIT_BYTES = 1024 * 1024
LIMIT_CHUNKS = 3600


@dataclasses.dataclass(eq=False)
class Shipment:
    """One running attempt's output files, and how far they were shipped."""

    job_id: str
    attempt: int
    files: dict[str, Path]
    since: float
    offsets: dict[str, int] = dataclasses.field(default_factory=dict)
    chunks: dict[str, int] = dataclasses.field(default_factory=dict)
    stopped: set[str] = dataclasses.field(default_factory=set)
    shipped: bool = False
    """Something was sent (or may have been): the attempt's chunks are to be deleted."""
    in_flight: bool = False

    def chunk(self, stream: str) -> dict | None:
        """The row of what `stream` printed since the last round, or of its end marker."""
        if stream in self.stopped:
            return None
        offset, path = self.offsets.get(stream, 0), self.files[stream]
        if offset >= LIMIT_BYTES or self.chunks.get(stream, 0) >= LIMIT_CHUNKS - 1:
            return self._row(stream, offset, b"") if _size(path) > offset else None
        data = captured(path, min(ROUND_BYTES, LIMIT_BYTES - offset), offset)
        return self._row(stream, offset, data) if data else None

    def _row(self, stream: str, position: int, data: bytes) -> dict:
        return {"job_id": self.job_id, "attempt": self.attempt, "stream": stream,
                "position": position, "data": data}

    def shipped_row(self, row: dict) -> None:
        stream = row["stream"]
        if not row["data"]:
            self.stopped.add(stream)
        self.offsets[stream] = row["position"] + len(row["data"])
        self.chunks[stream] = self.chunks.get(stream, 0) + 1


class LogShipper(Recurring):
    def __init__(self, store: JobStore, interval: float = SHIP_SECONDS):
        super().__init__("sluice-log-shipper", interval, self.ship)
        self.store, self.interval = store, interval
        self._watched: dict[tuple[str, int], Shipment] = {}
        self._changed = threading.Condition()

    def watch(self, job_id: str, attempt: int, stdout: Path, stderr: Path) -> Shipment:
        """Ship what attempt `attempt` of the job prints to these files, from now on."""
        shipment = Shipment(job_id, attempt, {"stdout": stdout, "stderr": stderr},
                            time.monotonic())
        with self._changed:
            self._watched[(job_id, attempt)] = shipment
        return shipment

    def unwatch(self, shipment: Shipment) -> bool:
        """Ship the attempt no more (it is over): once this returns, no round writes for it.
        Whether its chunks are to be deleted with its outcome."""
        with self._changed:
            self._watched.pop((shipment.job_id, shipment.attempt), None)
            while shipment.in_flight:
                self._changed.wait()
        return shipment.shipped

    def ship(self) -> int:
        """One round: the new output of every attempt running for a round or more, in one
        transaction when there is any. How many chunks it wrote."""
        ready = time.monotonic() - self.interval
        with self._changed:
            due = [s for s in self._watched.values() if s.since <= ready]
            for shipment in due:
                shipment.in_flight = True
        try:
            rows = [(shipment, row) for shipment in due for stream in shipment.files
                    if (row := shipment.chunk(stream)) is not None]
            if rows:
                for shipment, _ in rows:
                    shipment.shipped = True
                self.store.append_log_chunks([row for _, row in rows])
                for shipment, row in rows:
                    shipment.shipped_row(row)
            return len(rows)
        finally:
            with self._changed:
                for shipment in due:
                    shipment.in_flight = False
                self._changed.notify_all()


def _size(path: Path) -> int:
    try:
        return path.lstat().st_size
    except OSError:
        return 0
