"""Job manifests, validated offline and strictly against the API schemas of Kubernetes 1.29
to 1.33 (kubernetes-validate rejects any field the API does not know)."""

import json

import kubernetes_validate
import pytest

from core.functions import Function
from core.settings import KubernetesSettings
from workers.executors.job_manifest import job_manifest, job_name
from workers.pod_staging import StagingPlan

VERSIONS = ("1.29", "1.30", "1.31", "1.32", "1.33")
JOB_ID = "01m82ej0z3g7ksj8gzanfqj9jv"
PLAN = StagingPlan(job=JOB_ID, input_name="photo.jpg", input_bucket="in", input_key="a/photo.jpg",
                   outputs=[{"bucket": "out", "prefix": f"thumbs/{JOB_ID}", "layout": "flat"}],
                   metadata={"sluice-job": JOB_ID, "sluice-depth": "1"}, result_bucket="sys",
                   result_key=f"pods/{JOB_ID}/2/result.json", stdout_key=f"stdout/{JOB_ID}")
FULL = {"name": "resize", "image": "registry.example/imagemagick:7", "command": ["mogrify", "x"],
        "memory": "512Mi", "cpu": "1500m", "timeout": "10m", "gpu": 2,
        "kubernetes": {"service_account": "resizer", "node_selector": {"gpu.example/kind": "a100"},
                       "tolerations": [{"key": "gpu", "operator": "Exists",
                                        "effect": "NoExecute", "toleration_seconds": 60},
                                       {"operator": "Exists"}]}}


def manifest(spec=FULL, **cluster):
    fn = Function.from_spec(spec)
    return job_manifest(job_id=JOB_ID, attempt=2, fn=fn, plan=PLAN,
                        environment={"INPUT_FILE_PATH": "/sluice/input/photo.jpg", "JOB_ID": JOB_ID},
                        cluster=KubernetesSettings(namespace="jobs", **cluster),
                        pull_policy="if-not-present", worker="host/42")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("spec", [FULL, {"name": "tiny", "image": "busybox", "script": "true"}],
                         ids=["every-field", "minimal"])
def test_manifests_are_valid_kubernetes_jobs(version, spec):
    kubernetes_validate.validate(manifest(spec), version, strict=True)


def test_an_unknown_field_would_be_caught():
    broken = manifest()
    broken["spec"]["template"]["spec"]["containers"][0]["memoryLimit"] = "1Gi"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.33", strict=True)


def test_the_job_is_not_retried_by_kubernetes_and_ends_with_the_timeout():
    spec = manifest(ttl_seconds=600, staging_seconds=120)["spec"]
    assert spec["backoffLimit"] == 0
    assert spec["activeDeadlineSeconds"] == 600 + 120
    assert spec["ttlSecondsAfterFinished"] == 600
    assert spec["template"]["spec"]["restartPolicy"] == "Never"


def test_the_pod_runs_the_staging_protocol_around_the_function():
    pod = manifest()["spec"]["template"]["spec"]
    init, stdout = pod["initContainers"]
    function, uploader = pod["containers"]
    assert init["command"] == ["sluice", "stage-in"] and uploader["command"] == ["sluice", "stage-out"]
    assert init["image"] == uploader["image"] == stdout["image"] == KubernetesSettings.image
    assert function["image"] == "registry.example/imagemagick:7"
    assert function["command"] == ["/bin/sh", "/sluice/run", "mogrify", "x"]
    plan = {e["name"]: e["value"] for e in uploader["env"]}["SLUICE_STAGING"]
    assert StagingPlan.from_json(plan) == PLAN
    assert init["envFrom"] == [{"secretRef": {"name": "sluice-s3"}}]
    assert "envFrom" not in function, "the function must not see the storage credentials"
    mounts = {c["name"]: c["volumeMounts"] for c in (init, stdout, function, uploader)}
    assert all(m == [{"name": "sluice", "mountPath": "/sluice"}] for m in mounts.values())
    assert pod["volumes"] == [{"name": "sluice", "emptyDir": {}}]


def test_a_native_sidecar_without_credentials_makes_stdout_a_container_log():
    """An init container with `restartPolicy: Always` is a sidecar: it starts before the
    function and is stopped after it, without holding the Job back
    (https://kubernetes.io/docs/concepts/workloads/pods/sidecar-containers/, "Jobs with
    sidecar containers"); the chart requires Kubernetes 1.29, where it is on by default."""
    stdout = manifest()["spec"]["template"]["spec"]["initContainers"][1]
    assert (stdout["name"], stdout["restartPolicy"]) == ("stdout", "Always")
    assert stdout["command"] == ["sluice", "follow-stdout"]
    assert "envFrom" not in stdout and stdout["env"] == [{"name": "SLUICE_DIR",
                                                          "value": "/sluice"}]


def test_resources_gpus_and_placement_come_from_the_function():
    metadata = manifest()["metadata"]
    pod = manifest()["spec"]["template"]["spec"]
    resources = pod["containers"][0]["resources"]
    assert resources["limits"] == {"memory": str(512 * 1024**2), "cpu": "1500m",
                                   "nvidia.com/gpu": "2"}
    assert resources["requests"] == resources["limits"]
    assert pod["serviceAccountName"] == "resizer"
    assert pod["nodeSelector"] == {"gpu.example/kind": "a100"}
    assert pod["tolerations"] == [{"key": "gpu", "operator": "Exists", "effect": "NoExecute",
                                   "tolerationSeconds": 60}, {"operator": "Exists"}]
    assert metadata["name"] == job_name(JOB_ID, 2) == f"sluice-{JOB_ID}-2"
    assert metadata["namespace"] == "jobs"
    assert metadata["labels"]["sluice.dev/function"] == "resize"


def test_without_a_service_account_no_token_is_mounted():
    pod = manifest({"name": "tiny", "image": "busybox", "script": "true"})["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False and "serviceAccountName" not in pod


def test_the_staging_plan_refuses_hostile_values():
    from core.errors import Invalid
    bad = json.loads(PLAN.to_json()) | {"input_name": "../../etc/passwd"}
    with pytest.raises(Invalid):
        StagingPlan.from_json(json.dumps(bad))
    with pytest.raises(Invalid):
        StagingPlan.from_json('{"job": 1}')
