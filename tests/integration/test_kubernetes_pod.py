"""A Kubernetes executor Job's pod run for real in Podman (`podman kube play`): the Sluice
image built from the Dockerfile stages the input in an init container, a busybox image runs
the function through the wrapper, the stdout sidecar prints the function's stdout, and the
uploader sends the outputs to SeaweedFS. Podman plays Pods, not Jobs, so the test plays the
Job's pod template; it runs on the host's network to reach SeaweedFS, and with the S3
credentials as plain variables instead of a Secret. Podman 4.3 runs every init container to
its end before the others start, native sidecars too: the sidecar is played among the
containers, beside the function as Kubernetes runs it, and stopped with SIGTERM once the
uploader is done, as the kubelet stops it."""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from core.functions import Function
from core.ids import new_id
from core.settings import KubernetesSettings
from workers.executors.job_manifest import job_manifest
from workers.pod_staging import StagingPlan, parse_result

ROOT = Path(__file__).parents[2]
# The first test builds the Sluice image: on a fresh machine that means a Debian base made
# with debootstrap, then the install, several minutes on two cores.
pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="session")
def sluice_image(podman):
    tag = f"localhost/sluice:test-{secrets.token_hex(4)}"
    build = subprocess.run([ROOT / "scripts" / "build-image.sh", tag], env=podman.env,
                           capture_output=True, text=True, timeout=900)
    assert build.returncode == 0, f"the image did not build: {build.stderr[-3000:]}"
    yield tag
    subprocess.run(["podman", "rmi", "-f", tag], env=podman.env, capture_output=True)
    # The build stage is left untagged; only the final image is worth keeping.
    subprocess.run(["podman", "image", "prune", "-f", "--filter", "label=sluice.stage=build"],
                   env=podman.env, capture_output=True)


@pytest.fixture
def play(podman, sluice_image, s3_settings, objects, tmp_path):
    played = []

    def play(script: str, kill_function_after: float | None = None, **spec
             ) -> tuple[StagingPlan, dict[str, int], bytes]:
        job = new_id()
        fn = Function.from_spec({"name": "pod", "image": podman.image, "script": script,
                                 **spec}).resolved(s3_settings.bucket)
        plan = StagingPlan(
            job=job, input_name="in.txt", input_bucket=s3_settings.bucket,
            input_key="pod/input/in.txt",
            outputs=[output.for_job(job).to_dict() for output in fn.outputs],
            metadata={"sluice-job": job},
            result_bucket=s3_settings.system_bucket, result_key=f"pods/{job}/1/result.json",
            stdout_key=f"stdout/{job}")
        manifest = job_manifest(
            job_id=job, attempt=1, fn=fn, plan=plan, pull_policy="never", worker="test",
            cluster=KubernetesSettings(image=sluice_image),
            environment={"INPUT_FILE_PATH": "/sluice/input/in.txt",
                         "TMP_OUTPUT_DIR": "/sluice/output", "JOB_ID": job, "HOME": "/sluice"})
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": manifest["metadata"],
               "spec": manifest["spec"]["template"]["spec"]}
        credentials = [{"name": "SLUICE_S3_URL", "value": s3_settings.url},
                       {"name": "SLUICE_S3_ACCESS_KEY", "value": s3_settings.access_key.reveal()},
                       {"name": "SLUICE_S3_SECRET_KEY", "value": s3_settings.secret_key.reveal()}]
        for container in pod["spec"]["initContainers"] + pod["spec"]["containers"]:
            if container.pop("envFrom", None):
                container["env"] += credentials
        spec = pod["spec"]
        sidecars = [c for c in spec["initContainers"] if c.pop("restartPolicy", None)]
        spec["initContainers"] = [c for c in spec["initContainers"] if c not in sidecars]
        spec["containers"] = sidecars + spec["containers"]
        path = tmp_path / f"{job}.yaml"
        path.write_text(yaml.safe_dump(pod))
        played.append(path)
        played_out = subprocess.run(["podman", "kube", "play", "--network", "host", path],
                                    env=podman.env, cwd=podman.directory, capture_output=True,
                                    timeout=120)
        assert played_out.returncode == 0, played_out.stderr.decode()[-2000:]
        name = manifest["metadata"]["name"]
        if kill_function_after is not None:
            time.sleep(kill_function_after)
            subprocess.run(["podman", "kill", "--signal", "KILL", f"{name}-function"],
                           env=podman.env, check=True, capture_output=True)
        subprocess.run(["podman", "wait", f"{name}-stage-out"], env=podman.env, check=True,
                       capture_output=True, timeout=120)
        subprocess.run(["podman", "stop", "--time", "30", f"{name}-stdout"], env=podman.env,
                       check=True, capture_output=True, timeout=60)
        printed = subprocess.run(["podman", "logs", f"{name}-stdout"], env=podman.env,
                                 check=True, capture_output=True)
        assert printed.stderr == b"", "the sidecar's log is the function's stdout alone"
        states = {}
        for container in ("stdout", "function", "stage-out"):
            inspect = subprocess.run(["podman", "inspect", f"{name}-{container}"], env=podman.env,
                                     check=True, capture_output=True, text=True)
            states[container] = json.loads(inspect.stdout)[0]["State"]["ExitCode"]
        return plan, states, printed.stdout

    objects.ensure_bucket(s3_settings.bucket)
    objects.put_bytes(s3_settings.bucket, "pod/input/in.txt", b"staged by the init container\n")
    yield play
    for path in played:
        subprocess.run(["podman", "kube", "down", path], env=podman.env, capture_output=True)


def test_the_pod_stages_runs_and_uploads(play, objects):
    plan, states, stdout = play('tr a-z A-Z < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/loud.txt"; '
                                'echo "ran as $(id -u)"; exit 4')
    assert states == {"stdout": 0, "function": 4, "stage-out": 0}
    assert stdout == b"ran as 0\n"
    result = parse_result(objects.get_bytes(plan.result_bucket, plan.result_key))
    assert result.exit_code == 4
    assert objects.get_bytes(plan.result_bucket, plan.stdout_key) == b"ran as 0\n"
    assert result.stdout_size == len(b"ran as 0\n")
    (loud,) = result.outputs
    assert objects.get_bytes(loud.bucket, loud.key) == b"STAGED BY THE INIT CONTAINER\n"


def test_a_function_killed_for_its_memory_is_recorded_with_exit_137(play, objects):
    plan, states, _ = play('echo partial > "$TMP_OUTPUT_DIR/p.txt"; '
                           "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo ${#x}",
                           memory="32Mi")
    assert states == {"stdout": 0, "function": 137, "stage-out": 0}
    result = parse_result(objects.get_bytes(plan.result_bucket, plan.result_key))
    assert result.exit_code == 137
    assert [o.name for o in result.outputs] == ["p.txt"]


def test_the_uploader_notices_a_function_container_killed_outright(play, objects):
    """The wrapper dies with its container and records nothing; the end of its pipe tells
    the uploader, which uploads what there is instead of waiting for ever."""
    plan, states, stdout = play('echo partial > "$TMP_OUTPUT_DIR/p.txt"; echo before; '
                                'sleep 60', kill_function_after=3)
    assert states == {"stdout": 0, "function": 137, "stage-out": 0}
    assert stdout == b"before\n"
    result = parse_result(objects.get_bytes(plan.result_bucket, plan.result_key))
    assert result.exit_code is None
    assert [o.name for o in result.outputs] == ["p.txt"]
