"""The Helm chart, rendered and linted offline with Helm's own Go code (helm-python-sdk). Every
rendered built-in manifest is validated strictly against Kubernetes 1.29 to 1.33; KEDA's
ScaledObject and the Prometheus Operator's ServiceMonitor against models generated from their
CRDs (cloudcoil-models-*), for types and, strictly, for unknown fields. The chart is also
checked against the code it configures: queue names, settings, metrics."""

from __future__ import annotations

import json
import re
import types
import typing
from pathlib import Path

import helm_python as helm
import kubernetes_validate
import pydantic
import pytest
import yaml
from cloudcoil.models.keda.v1alpha1 import ScaledObject
from cloudcoil.models.prometheus_operator.v1 import ServiceMonitor

from broker.publishing import function_queue
from core import metrics
from core.functions import parse_document
from core.runnable import executors_for
from core.settings import Settings

CHART = Path(__file__).parents[2] / "charts" / "sluice"
VERSIONS = ("1.29", "1.30", "1.31", "1.32", "1.33")
CUSTOM = {"keda.sh/v1alpha1/ScaledObject": ScaledObject,
          "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor}
REQUIRED = {"rabbitmq": {"url": "amqp://sluice:secret@rabbitmq:5672/"},
            "database": {"url": "postgresql://sluice:secret@postgres/sluice"},
            "s3": {"url": "https://s3.example.org", "accessKey": "ak", "secretKey": "sk"}}
EVERYTHING = {
    **REQUIRED,
    "rabbitmq": {"url": "amqp://sluice:secret@rabbitmq:5672/",
                 "managementUrl": "http://sluice:secret@rabbitmq:15672/", "queue": "prod-jobs"},
    "imagePullSecrets": [{"name": "registry"}],
    "ingress": {"enabled": True, "className": "nginx", "host": "sluice.example.org",
                "tls": [{"secretName": "sluice-tls", "hosts": ["sluice.example.org"]}]},
    "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
    "grafanaDashboard": {"enabled": True},
    "kubernetesExecutor": {"namespace": "sluice-jobs"},
    "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/s"}},
    "listener": {"s3EventsExchange": "minio-events"},
    "functions": {"resize": {"image": "registry.example.org/imagemagick:7",
                             "script": 'mogrify -resize 50% "$INPUT_FILE_PATH"',
                             "memory": "512Mi", "gpu": 1}},
    "workers": {"shutdownSeconds": 120, "pools": [
        {"name": "default", "executor": "kubernetes", "threads": 16,
         "keda": {"enabled": True, "minReplicas": 1, "maxReplicas": 20}},
        {"name": "gpu", "functions": ["resize", "ocr"], "executor": "kubernetes",
         "nodeSelector": {"gpu": "true"},
         "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
         "keda": {"enabled": True, "minReplicas": 0, "maxReplicas": 4, "queueLength": 2}},
        {"name": "local", "functions": ["hello"], "executor": "process", "replicas": 3}]},
}
EXISTING = {"rabbitmq": {"existingSecret": "mq"}, "database": {"existingSecret": "db"},
            "s3": {"existingSecret": "s3"}, "auth": {"existingSecret": "tokens"}}


def render(values: dict) -> list[dict]:
    manifests = helm.Chart.load(CHART).render(values, name="prod", namespace="sluice")
    documents = []
    for path, text in manifests.items():
        if path.endswith(".yaml"):
            documents.extend(d for d in yaml.safe_load_all(text) if d)
    return documents


def by_kind(documents: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in documents if d["kind"] == kind}


def custom_resource_problems(resource: dict) -> list[str]:
    """What the API server would refuse in a custom resource: wrong types, missing fields,
    and (as kubectl's strict field validation does) fields its CRD does not define."""
    model = CUSTOM.get(f"{resource['apiVersion']}/{resource['kind']}")
    if model is None:
        return [f"no schema for {resource['apiVersion']}/{resource['kind']}"]
    try:
        model.model_validate(resource)
    except pydantic.ValidationError as exc:
        return [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
    return [f"{path}: unknown field" for path in _unknown_fields(model, resource)]


def _unknown_fields(model: type[pydantic.BaseModel], data, path: str = "") -> list[str]:
    if not isinstance(data, dict):
        return []
    fields = {**{f.alias or n: f for n, f in model.model_fields.items()}, **model.model_fields}
    found = []
    for key, value in data.items():
        field = fields.get(key)
        found += ([f"{path}{key}"] if field is None
                  else _unknown_in(field.annotation, value, f"{path}{key}."))
    return found


def _unknown_in(annotation, value, path: str) -> list[str]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = [_unknown_in(a, value, path) for a in typing.get_args(annotation)
                   if a is not type(None)]
        return min(options, key=len, default=[])
    if origin is typing.Annotated:
        return _unknown_in(typing.get_args(annotation)[0], value, path)
    if origin is list and isinstance(value, list):
        (item,) = typing.get_args(annotation)
        return [p for i, v in enumerate(value) for p in _unknown_in(item, v, f"{path}{i}.")]
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return _unknown_fields(annotation, value, path)
    return []


@pytest.mark.parametrize("values", [REQUIRED, EVERYTHING, {**REQUIRED, **EXISTING}],
                         ids=["required-only", "everything", "existing-secrets"])
def test_every_rendered_manifest_is_valid(values):
    documents = render(values)
    custom = [d for d in documents if f"{d['apiVersion']}/{d['kind']}" in CUSTOM]
    for version in VERSIONS:
        for document in documents:
            if document not in custom:
                kubernetes_validate.validate(document, version, strict=True)
    assert [p for d in custom for p in custom_resource_problems(d)] == []
    if values is EVERYTHING:
        assert {d["kind"] for d in custom} == {"ScaledObject", "ServiceMonitor"}


def test_a_broken_custom_resource_would_be_caught():
    scaled = next(iter(by_kind(render(EVERYTHING), "ScaledObject").values()))
    scaled["spec"]["minReplicaCount"] = "zero"
    scaled["spec"]["triggers"][0]["metdata"] = {}
    problems = custom_resource_problems(scaled)
    assert any(p.startswith("spec.minReplicaCount") for p in problems), problems
    del scaled["spec"]["minReplicaCount"]
    assert custom_resource_problems(scaled) == ["spec.triggers.0.metdata: unknown field"]


@pytest.mark.parametrize("values", [REQUIRED, EVERYTHING], ids=["required-only", "everything"])
def test_the_chart_lints_cleanly(values):
    report = helm.lint(str(CHART), values, strict=True, kube_version="v1.33.0")
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert not problems and not report["errors"], report


def test_missing_endpoints_are_named():
    with pytest.raises(helm.HelmRenderError, match="rabbitmq.url"):
        render({})
    with pytest.raises(helm.HelmRenderError, match="database.url"):
        render({"rabbitmq": REQUIRED["rabbitmq"]})


def test_bad_pools_are_refused():
    with pytest.raises(helm.HelmRenderError, match="not a pool name"):
        render({**REQUIRED, "workers": {"pools": [{"name": "GPU pool"}]}})
    with pytest.raises(helm.HelmRenderError, match="executor must be"):
        render({**REQUIRED, "workers": {"pools": [{"name": "a", "executor": "docker"}]}})
    with pytest.raises(helm.HelmRenderError, match="managementUrl"):
        render({**REQUIRED, "workers": {"pools": [{"name": "a", "keda": {"enabled": True}}]}})


def test_keda_scales_each_pool_on_the_queues_its_workers_consume():
    scaled = by_kind(render(EVERYTHING), "ScaledObject")
    gpu = scaled["prod-sluice-worker-gpu"]
    queues = [t["metadata"]["queueName"] for t in gpu["spec"]["triggers"]]
    assert queues == [function_queue("prod-jobs", "resize"), function_queue("prod-jobs", "ocr")]
    assert gpu["spec"]["scaleTargetRef"]["name"] == "prod-sluice-worker-gpu"
    assert gpu["spec"]["minReplicaCount"] == 0
    (everything,) = by_kind(render(EVERYTHING), "ScaledObject")["prod-sluice-worker-default"][
        "spec"]["triggers"]
    pattern = re.compile(everything["metadata"]["queueName"])
    assert pattern.match(function_queue("prod-jobs", "any-function"))
    assert not pattern.match(function_queue("prod-jobs", "resize") + ".DQ")
    deployments = by_kind(render(EVERYTHING), "Deployment")
    assert "replicas" not in deployments["prod-sluice-worker-gpu"]["spec"]
    assert deployments["prod-sluice-worker-local"]["spec"]["replicas"] == 3


def test_worker_pods_configure_the_worker_the_chart_describes():
    deployments = by_kind(render(EVERYTHING), "Deployment")
    pod = deployments["prod-sluice-worker-gpu"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"] == ["worker", "--functions=resize,ocr"]
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    settings = Settings.from_env(env)
    assert settings.worker.executor == "kubernetes" and settings.metrics_port == 9090
    assert settings.worker.kubernetes.namespace == "sluice-jobs"
    assert settings.worker.kubernetes.s3_secret == "prod-sluice-s3"
    assert settings.worker.shutdown_seconds == 120
    assert pod["terminationGracePeriodSeconds"] > settings.worker.shutdown_seconds
    assert pod["nodeSelector"] == {"gpu": "true"}
    secrets = {(d["metadata"].get("namespace"), d["metadata"]["name"])
               for d in render(EVERYTHING) if d["kind"] == "Secret"}
    assert ("sluice-jobs", "prod-sluice-s3") in secrets, "Job pods read it in their namespace"
    roles = by_kind(render(EVERYTHING), "Role")
    assert roles["prod-sluice-jobs"]["metadata"]["namespace"] == "sluice-jobs"
    rules = {r["resources"][0]: set(r["verbs"]) for r in roles["prod-sluice-jobs"]["rules"]}
    assert {"create", "watch", "delete"} <= rules["jobs"] and rules["pods/log"] == {"get"}


@pytest.mark.parametrize("pools, served", [
    (EVERYTHING["workers"]["pools"], {"resize": ("kubernetes",), "hello": ("process",
                                                                         "kubernetes"),
                                      "other": ("kubernetes",)}),
    ([{"name": "a", "functions": ["f"], "executor": "kubernetes"},
      {"name": "b", "executor": "process"}], {"f": ("kubernetes", "process"),
                                              "other": ("process",)}),
    ([{"name": "a", "functions": ["f"], "executor": "process"}], {"f": ("process",),
                                                                  "other": ()}),
])
def test_the_gateway_knows_which_executors_may_run_each_function(pools, served):
    """A pool's functions run on its executor, and on the executor of the pool that serves
    every function (its workers consume every queue); the gateway refuses at deploy what
    one of them cannot run, or what no pool serves (core/runnable.py)."""
    values = {**EVERYTHING, "workers": {"pools": pools}}
    container = by_kind(render(values), "Deployment")["prod-sluice-gateway"]["spec"][
        "template"]["spec"]["containers"][0]
    settings = Settings.from_env({e["name"]: e["value"] for e in container["env"]
                                  if "value" in e})
    assert {name: executors_for(settings, name) for name in served} == served


def test_the_gateway_gives_clients_the_public_store_address():
    values = {**EVERYTHING, "s3": {**REQUIRED["s3"], "publicUrl": "https://s3.public.example"}}
    container = by_kind(render(values), "Deployment")["prod-sluice-gateway"]["spec"][
        "template"]["spec"]["containers"][0]
    settings = Settings.from_env({e["name"]: e["value"] for e in container["env"]
                                  if "value" in e})
    assert settings.s3.client_url == "https://s3.public.example"


def test_existing_secrets_replace_the_charts_own():
    documents = render({**REQUIRED, **EXISTING})
    assert not by_kind(documents, "Secret")
    env = by_kind(documents, "Deployment")["prod-sluice-gateway"]["spec"]["template"]["spec"][
        "containers"][0]["env"]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in env if "valueFrom" in e}
    assert refs == {"SLUICE_BROKER_URL": "mq", "SLUICE_DATABASE_URL": "db"}


def test_the_functions_config_map_is_a_deployment_document():
    config = by_kind(render(EVERYTHING), "ConfigMap")["prod-sluice-functions"]
    (fn,) = parse_document(yaml.safe_load(config["data"]["functions.yaml"]))
    assert fn.name == "resize" and fn.placement.gpu == 1


def test_the_dashboard_plots_metrics_sluice_exports():
    dashboard = json.loads((CHART / "dashboards" / "sluice.json").read_text())
    exported = {m._name for m in vars(metrics).values() if hasattr(m, "_name")}
    used = {name for panel in dashboard["panels"] for target in panel["targets"]
            for name in re.findall(r"\b(sluice_[a-z_]+?)(?:_total|_bucket)?\b", target["expr"])}
    assert used and used <= exported, used - exported
