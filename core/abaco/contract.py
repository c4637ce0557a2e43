"""A function spec's `abaco`: that its jobs see Abaco's context variables besides Sluice's,
with what they need that a job does not hold: the actor's name (Abaco's `name`, a label
apart from its id) and the server its actor was registered through (`_abaco_api_server`,
which Abaco records on the actor when it is made: controllers.py, `ActorsResource.post`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from core.callbacks import url_problem

MAX_NAME = 256
Bad = Callable[[str, str], None]


@dataclasses.dataclass(frozen=True)
class AbacoContract:
    name: str | None = None
    api_server: str = ""

    def to_spec(self) -> dict[str, Any]:
        return {"name": self.name, "api_server": self.api_server}


def parse_contract(value: Any, bad: Bad) -> AbacoContract | None:
    """`abaco: {name, api_server}`, either left out; None when the spec has no `abaco`."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(value) - {"name", "api_server"}:
        bad("abaco", "must be {name: TEXT, api_server: URL}, either left out")
        return None
    name, server = value.get("name"), value.get("api_server") or ""
    if name is not None and (not isinstance(name, str) or len(name) > MAX_NAME):
        bad("abaco.name", f"must be text of at most {MAX_NAME} characters")
        return None
    if server and (problem := url_problem(server)):
        bad("abaco.api_server", problem)
        return None
    return AbacoContract(name=name, api_server=server)
