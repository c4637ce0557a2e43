"""Documents clients send, parsed strictly: JSON without NaN or Infinity (not JSON, and no
strict parser reads them back), and without duplicate keys; YAML without aliases (which
can expand a small body into a huge one) or duplicate keys; neither nested deeper than
Python can follow. What does not parse is `BadRequest`."""

from __future__ import annotations

import json
from typing import Any

import yaml

from core.errors import BadRequest


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body, parse_constant=_no_constant, object_pairs_hook=_unique_pairs)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise BadRequest("the body nests too deeply") from None


def parse_yaml(body: bytes) -> Any:
    try:
        return yaml.load(body, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None)
        raise BadRequest(f"the body is not valid YAML{where}"
                         + (f": {problem}" if problem else "")) from None
    except RecursionError:
        raise BadRequest("the body nests too deeply") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = {}
    for key, value in pairs:
        if key in document:
            raise ValueError(f"duplicate key {key!r}")
        document[key] = value
    return document


class _StrictLoader(yaml.SafeLoader):
    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases are not accepted",
                                              event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)) or key is None:
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep)
