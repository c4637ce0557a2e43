"""Where a function's Kubernetes Job may run: GPUs, service account, node selector and
tolerations. Validated here, to the rules the API server would apply, so that a bad spec is
refused at deploy rather than when a Job is created."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
FIELDS = ("service_account", "node_selector", "tolerations")
TOLERATION_FIELDS = ("key", "operator", "value", "effect", "toleration_seconds")
OPERATORS = ("Equal", "Exists")
EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
MAX_GPUS = 64


@dataclasses.dataclass(frozen=True)
class Toleration:
    key: str | None = None
    operator: str = "Equal"
    value: str | None = None
    effect: str | None = None
    toleration_seconds: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclasses.dataclass(frozen=True)
class Placement:
    gpu: int = 0
    service_account: str | None = None
    node_selector: Mapping[str, str] = dataclasses.field(default_factory=dict)
    tolerations: tuple[Toleration, ...] = ()

    def kubernetes_spec(self) -> dict[str, Any] | None:
        """The spec's `kubernetes:` section, or None when it would be empty."""
        spec: dict[str, Any] = {}
        if self.service_account:
            spec["service_account"] = self.service_account
        if self.node_selector:
            spec["node_selector"] = dict(self.node_selector)
        if self.tolerations:
            spec["tolerations"] = [t.to_dict() for t in self.tolerations]
        return spec or None


def parse_placement(gpu: Any, kubernetes: Any, bad) -> Placement:
    """Read `gpu: N` and `kubernetes: {service_account, node_selector, tolerations}`,
    reporting each bad field through `bad(path, message)`."""
    if gpu is None:
        gpu = 0
    if isinstance(gpu, bool) or not isinstance(gpu, int) or not 0 <= gpu <= MAX_GPUS:
        bad("gpu", f"must be a whole number of GPUs from 0 to {MAX_GPUS}")
        gpu = 0
    if kubernetes is None:
        return Placement(gpu=gpu)
    if not isinstance(kubernetes, Mapping):
        bad("kubernetes", "must be an object with service_account, node_selector, tolerations")
        return Placement(gpu=gpu)
    for key in kubernetes:
        if key not in FIELDS:
            bad(f"kubernetes.{key}", "unknown field")
    account = kubernetes.get("service_account")
    if account is not None and (not isinstance(account, str) or len(account) > 253
                                or not _DNS_SUBDOMAIN.match(account)):
        bad("kubernetes.service_account", "must be a service account name (DNS subdomain)")
        account = None
    return Placement(gpu=gpu, service_account=account,
                     node_selector=_node_selector(kubernetes.get("node_selector"), bad),
                     tolerations=_tolerations(kubernetes.get("tolerations"), bad))


def _label_key_problem(key: Any) -> str | None:
    if not isinstance(key, str):
        return "label keys are strings"
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return "the prefix of a label key must be a DNS subdomain"
    if not _LABEL_NAME.match(name):
        return ("a label name is 1 to 63 letters, digits, '-', '_' or '.', beginning and "
                "ending with a letter or digit")
    return None


def _node_selector(value: Any, bad) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        bad("kubernetes.node_selector", "must be a map of node label keys to values")
        return {}
    selector = {}
    for key, label in value.items():
        problem = _label_key_problem(key)
        if problem is None and (not isinstance(label, str) or not _LABEL_VALUE.match(label)):
            problem = "a label value is at most 63 letters, digits, '-', '_' or '.'"
        if problem:
            bad(f"kubernetes.node_selector.{key}", problem)
        else:
            selector[key] = label
    return selector


def _tolerations(value: Any, bad) -> tuple[Toleration, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        bad("kubernetes.tolerations", "must be a list of tolerations")
        return ()
    tolerations = []
    for index, item in enumerate(value):
        path = f"kubernetes.tolerations.{index}"
        if not isinstance(item, Mapping):
            bad(path, "must be an object with key, operator, value, effect")
            continue
        problems = [(k, "unknown field") for k in item if k not in TOLERATION_FIELDS]
        operator = item.get("operator", "Equal")
        key, label, effect = item.get("key"), item.get("value"), item.get("effect")
        seconds = item.get("toleration_seconds")
        if operator not in OPERATORS:
            problems.append(("operator", "must be Equal or Exists"))
        if key is not None and _label_key_problem(key):
            problems.append(("key", _label_key_problem(key)))
        if key is None and operator != "Exists":
            problems.append(("operator", "a toleration without a key must use Exists"))
        if label is not None and (operator == "Exists" or not isinstance(label, str)
                                  or not _LABEL_VALUE.match(label)):
            problems.append(("value", "must be a label value, and only with Equal"))
        if effect is not None and effect not in EFFECTS:
            problems.append(("effect", f"must be one of {', '.join(EFFECTS)}"))
        if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int)
                                    or effect != "NoExecute"):
            problems.append(("toleration_seconds", "a whole number, only with NoExecute"))
        for field, message in problems:
            bad(f"{path}.{field}", message)
        if not problems:
            tolerations.append(Toleration(key=key, operator=operator, value=label,
                                          effect=effect, toleration_seconds=seconds))
    return tuple(tolerations)
