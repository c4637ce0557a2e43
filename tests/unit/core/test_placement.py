"""GPUs and Kubernetes placement in the function spec."""

import pytest

from core.errors import Invalid
from core.functions import Function


def paths(spec):
    with pytest.raises(Invalid) as caught:
        Function.from_spec({"name": "f", "script": "true", **spec})
    return {e["path"] for e in caught.value.errors}


def test_placement_round_trips_through_the_spec():
    spec = {"name": "f", "script": "true", "gpu": 1,
            "kubernetes": {"service_account": "runner", "node_selector": {"pool": "gpu"},
                           "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists",
                                            "effect": "NoSchedule"}]}}
    fn = Function.from_spec(spec)
    assert fn.placement.gpu == 1 and fn.placement.node_selector == {"pool": "gpu"}
    assert Function.from_spec(fn.to_spec(), token=fn.token) == fn


@pytest.mark.parametrize("spec, path", [
    ({"gpu": -1}, "gpu"),
    ({"gpu": 1.5}, "gpu"),
    ({"gpu": True}, "gpu"),
    ({"kubernetes": "yes"}, "kubernetes"),
    ({"kubernetes": {"nodes": {}}}, "kubernetes.nodes"),
    ({"kubernetes": {"service_account": "Not_Valid"}}, "kubernetes.service_account"),
    ({"kubernetes": {"node_selector": {"bad key!": "x"}}}, "kubernetes.node_selector.bad key!"),
    ({"kubernetes": {"node_selector": {"pool": "a b"}}}, "kubernetes.node_selector.pool"),
    ({"kubernetes": {"tolerations": {"key": "x"}}}, "kubernetes.tolerations"),
    ({"kubernetes": {"tolerations": [{"key": "x", "operator": "Maybe"}]}},
     "kubernetes.tolerations.0.operator"),
    ({"kubernetes": {"tolerations": [{"key": "x", "effect": "Sometimes"}]}},
     "kubernetes.tolerations.0.effect"),
    ({"kubernetes": {"tolerations": [{"value": "x"}]}}, "kubernetes.tolerations.0.operator"),
    ({"kubernetes": {"tolerations": [{"key": "x", "toleration_seconds": 5}]}},
     "kubernetes.tolerations.0.toleration_seconds"),
    ({"kubernetes": {"tolerations": [{"key": "x", "extra": 1}]}},
     "kubernetes.tolerations.0.extra"),
])
def test_bad_placement_is_refused_with_its_path(spec, path):
    assert path in paths(spec)
