"""Invocation parameters: the query parameters of an invocation, kept on its job and given
to its function as `PARAM_<NAME>` variables. They are read from the query string as sent,
so that a value that is not UTF-8 is refused instead of silently changed, and bounded so
that they always fit in a process's environment."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping

from core.errors import Invalid

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PREFIX = "PARAM_"
MAX_PARAMS = 64
MAX_NAME = 64
MAX_VALUE_BYTES = 4096
MAX_TOTAL_BYTES = 16 * 1024


def parse_query(raw: str) -> dict[str, str]:
    """The parameters of a raw (percent-encoded) query string, split and decoded as the
    URL Standard's application/x-www-form-urlencoded parser does (`+` is a space, `a`
    alone is `a=`). Raises `Invalid` naming each bad parameter as `query.<name>`."""
    params: dict[str, str] = {}
    errors: list[dict[str, str]] = []

    def bad(where: str, message: str) -> None:
        errors.append({"path": f"query.{where}"[:100], "message": message})

    pairs = [pair for pair in raw.split("&") if pair]
    if len(pairs) > MAX_PARAMS:
        raise Invalid(f"an invocation takes at most {MAX_PARAMS} query parameters",
                      errors=[{"path": "query", "message": f"{len(pairs)} parameters, more "
                                                           f"than {MAX_PARAMS}"}])
    for pair in pairs:
        raw_name, _, raw_value = pair.partition("=")
        name, value = _decoded(raw_name), _decoded(raw_value)
        where = name if name is not None else raw_name
        problem = _problem(name, value, params)
        if problem:
            bad(where, problem)
        else:
            params[name] = value
    total = sum(len(name) + len(value.encode()) for name, value in params.items())
    if not errors and total > MAX_TOTAL_BYTES:
        errors.append({"path": "query", "message": f"the parameters hold {total} bytes "
                                                   f"together, more than {MAX_TOTAL_BYTES}"})
    if errors:
        raise Invalid("the invocation's query parameters are refused", errors=errors)
    return params


def _decoded(text: str) -> str | None:
    """Percent-decoded UTF-8, or None when the bytes are not UTF-8."""
    try:
        return urllib.parse.unquote_to_bytes(text.replace("+", " ")).decode()
    except UnicodeDecodeError:
        return None


def _problem(name: str | None, value: str | None, seen: Mapping[str, str]) -> str | None:
    if name is None or not NAME.fullmatch(name) or len(name) > MAX_NAME:
        return (f"is not a parameter name: 1 to {MAX_NAME} letters, digits and '_', not "
                "starting with a digit")
    if name in seen:
        return "is given more than once"
    if value is None:
        return "must be UTF-8 text"
    if "\0" in value:
        return "must not hold NUL"
    if len(value.encode()) > MAX_VALUE_BYTES:
        return f"must be at most {MAX_VALUE_BYTES} bytes"
    return None


def variables(params: Mapping[str, str]) -> dict[str, str]:
    """The environment variables the parameters become."""
    return {f"{PREFIX}{name}": value for name, value in params.items()}
