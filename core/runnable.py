"""What each executor needs of a function, said once: the gateway refuses at deploy a
function that the configured executor cannot run, and each executor checks again before an
attempt (a function deployed while another executor was configured)."""

from __future__ import annotations

from core.errors import CannotRun, Invalid
from core.functions import Function


def problems(fn: Function, executor: str) -> list[dict[str, str]]:
    """Why `executor` cannot run `fn`, as (path, message) errors; empty when it can."""
    found = []
    if executor in ("container", "kubernetes") and not fn.image:
        found.append({"path": "image", "message": f"the {executor} executor runs functions "
                                                  "in their image; give one"})
    if executor == "process" and not fn.argv():
        found.append({"path": "command", "message": "the process executor runs a command or "
                      "a script; an image's own command runs only in a container"})
    if executor == "kubernetes" and not fn.argv():
        found.append({"path": "command", "message": "the kubernetes executor runs the "
                      "function's command or script through Sluice's wrapper; give one"})
    return found


def check_deployable(fn: Function, executor: str, path: str = "") -> None:
    """Raise `Invalid` (a 422 at deploy) when `executor` cannot run `fn`."""
    found = problems(fn, executor)
    if found:
        raise Invalid(f"function {fn.name!r} cannot run on the {executor} executor",
                      errors=[{**e, "path": f"{path}{e['path']}"} for e in found])


def check_runnable(fn: Function, executor: str) -> None:
    """Raise `CannotRun` (the attempt fails at once) when `executor` cannot run `fn`."""
    found = problems(fn, executor)
    if found:
        raise CannotRun("; ".join(e["message"] for e in found))
