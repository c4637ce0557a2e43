"""Handing a job on when it ends: a function's `on_failure` is invoked with the record of
each of its jobs that fails, its `on_end` with the record of each that ends (succeeded,
failed or cancelled), as Abaco hands an actor's executions to its `link`. A chain of
`on_end` may not come back to where it started: that would run for ever."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from core.errors import Invalid

HANDOFFS = ("on_failure", "on_end")
Bad = Callable[[str, str], None]


def parse_handoff(spec: Mapping, field: str, name: str | None, name_rule: re.Pattern,
                  bad: Bad) -> str | None:
    """The function named by `field`, another than the spec's own."""
    target = spec.get(field)
    if target is None:
        return None
    if not isinstance(target, str) or not name_rule.match(target):
        bad(field, "must be the name of a function")
        return None
    if target == spec.get("name", name):
        bad(field, "must name another function: a function handed its own jobs would run "
                   "itself for ever")
        return None
    return target


def check_no_cycle(name: str, on_end: str | None,
                   on_end_of: Callable[[str], str | None]) -> None:
    """Refuse an `on_end` that leads back to `name` through the functions' own (`on_end_of`
    gives a function's, None for none or no such function), as Abaco refuses a link that
    makes a cycle of actors."""
    seen, target = [name], on_end
    while target is not None:
        if target in seen:
            path = " -> ".join([*seen, target])
            raise Invalid("the function spec is invalid", errors=[{
                "path": "on_end", "message": f"would hand its jobs round a cycle: {path}"}])
        seen.append(target)
        target = on_end_of(target)
