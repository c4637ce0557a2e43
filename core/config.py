"""The config file named by `SLUICE_CONFIG`: the settings of the `SLUICE_*` environment
variables, in TOML, named without the prefix and in lower case:

    database_url = "postgresql://sluice@db/sluice"
    worker_threads = 16

A variable set in the environment wins over the file."""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
from collections.abc import Iterable, Mapping

from core.errors import Invalid

VARIABLE = "SLUICE_CONFIG"
PREFIX = "SLUICE_"


@dataclasses.dataclass(frozen=True)
class Sources:
    """Every `SLUICE_*` value, from the file and then the environment, and which setting
    names the file gave (to refuse the ones nothing reads)."""

    values: Mapping[str, str]
    path: str | None = None
    from_file: frozenset[str] = frozenset()

    def check_known(self, known: Iterable[str]) -> None:
        known = set(known)
        unknown = sorted(self.from_file - known)
        if unknown:
            name = unknown[0]
            close = difflib.get_close_matches(name.lower(), [k.lower() for k in known], n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise Invalid(f"{self.path}: unknown setting {name.lower()!r}{hint}")


def load(environ: Mapping[str, str] | None = None) -> Sources:
    environ = os.environ if environ is None else environ
    path = environ.get(VARIABLE)
    if not path:
        return Sources(values=dict(environ))
    try:
        with open(path, "rb") as file:
            document = tomllib.load(file)
    except OSError as exc:
        raise Invalid(f"{VARIABLE} names {path}, which cannot be read: "
                      f"{exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise Invalid(f"{path} is not valid TOML: {exc}") from None
    from_file = {}
    for key, value in document.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int | float | str):
            value = str(value)
        else:
            raise Invalid(f"{path}: {key} must be a string, a number or a boolean")
        from_file[f"{PREFIX}{key.upper()}"] = value
    return Sources(values=from_file | dict(environ), path=path,
                   from_file=frozenset(name.removeprefix(PREFIX) for name in from_file))
