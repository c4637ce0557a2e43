"""Results: the small pieces of bytes a function publishes while it runs (Abaco's actor
results), each kept in the job store until it expires, readable by every gateway and
poppable one at a time, the oldest first."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

from core.times import rfc3339

# Abaco's largest result frame (`MAX_RESULT_FRAME_SIZE`, actors/docker_utils.py).
MAX_BYTES = 128 * 1024
# Results a job keeps at once; past it, what it sends is dropped, and its log says so.
MAX_PER_JOB = 1000
DEFAULT_TTL_SECONDS = 3600.0


@dataclasses.dataclass(frozen=True)
class Result:
    job_id: str
    sequence: int
    """Increasing in the order the results arrived (across all jobs): a page's cursor."""
    data: bytes = dataclasses.field(repr=False)
    created_at: float
    expires_at: float

    def to_dict(self) -> dict[str, Any]:
        return {"sequence": self.sequence, "size": len(self.data),
                "created_at": rfc3339(self.created_at), "expires_at": rfc3339(self.expires_at),
                "data": base64.b64encode(self.data).decode("ascii")}
