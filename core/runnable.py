"""What each executor needs of a function, said once: the gateway refuses at deploy a
function that an executor that may run it cannot run, and each executor checks again before
an attempt (a function deployed while another executor was configured)."""

from __future__ import annotations

from core.errors import CannotRun, Invalid
from core.functions import Function
from core.settings import Settings


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


def executors_for(settings: Settings, name: str) -> tuple[str, ...]:
    """The executors whose workers may run function `name`: its pools' and the pool that
    serves every function; the one executor of a stack without pools."""
    table = settings.deploy_executors
    if table is None:
        return (settings.worker.executor,)
    return tuple(dict.fromkeys(table.get(name, ()) + table.get("*", ())))


def check_deployable(fn: Function, settings: Settings, path: str = "") -> None:
    """Raise `Invalid` (a 422 at deploy) when no worker may run `fn`, or one that may
    cannot."""
    executors = executors_for(settings, fn.name)
    if not executors:
        raise Invalid(f"no worker pool serves function {fn.name!r}", errors=[{
            "path": f"{path}name", "message": "no worker pool serves this function; add it "
                                              "to a pool's functions, or add a pool for all"}])
    found = [{**e, "path": f"{path}{e['path']}"} for executor in executors
             for e in problems(fn, executor)]
    if found:
        raise Invalid(f"function {fn.name!r} cannot run on the "
                      f"{' and '.join(executors)} executor", errors=found)


def check_runnable(fn: Function, executor: str) -> None:
    """Raise `CannotRun` (the attempt fails at once) when `executor` cannot run `fn`."""
    found = problems(fn, executor)
    if found:
        raise CannotRun("; ".join(e["message"] for e in found))
