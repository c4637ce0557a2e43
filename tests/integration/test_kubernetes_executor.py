"""The Kubernetes executor through its narrow cluster interface, against a local kubelet
that runs each Job's pod for real as processes (tests/fixtures/kubelet.py): the staging
protocol, the outputs in real S3 (SeaweedFS), and what the worker makes of OOM kills,
deadlines, cancellation and images that cannot be pulled. There is no Kubernetes API server
on these machines; the client behind the interface is not exercised here."""

from __future__ import annotations

import threading
import time

import pytest

from core.errors import CannotRun, Unavailable
from core.ids import new_id
from core.jobs import Reason
from core.settings import KubernetesSettings
from tests.fixtures.kubelet import MISSING_IMAGE
from tests.fixtures.signals import eventually
from workers.executors.kubernetes import KubernetesExecutor
from workers.staging import captured


@pytest.fixture
def run(kubelet, attempts):
    def run(script: str, *, body: bytes = b"", source: str | None = None, kill_after=None,
            staging_seconds: int = 60, job_id: str | None = None, attempt: int = 1,
            wait: bool = True, content_type: str | None = None, params: dict | None = None,
            **spec):
        attempt = attempts.make({"image": "busybox:1.36", "script": script, **spec},
                                body=body, source=source, job_id=job_id, attempt=attempt,
                                content_type=content_type, params=params)
        executor = KubernetesExecutor(
            kubelet, attempts.objects, attempts.blobs,
            cluster=KubernetesSettings(staging_seconds=staging_seconds),
            pull_policy="if-not-present", worker="test-worker")
        running = executor.start(attempt)
        if not wait:
            return None, running.name
        if kill_after is not None:
            threading.Timer(kill_after, running.kill, args=(Reason.CANCELLED,)).start()
        return running.wait(), running.name
    return run


def test_what_the_function_prints_is_copied_out_as_it_runs(kubelet, attempts):
    """For the log shipper: stderr from the function's container log, stdout from the log
    of the pod's stdout sidecar. The attempt keeps what the pod kept."""
    attempt = attempts.make({"image": "busybox:1.36", "script":
                             "echo out; echo first >&2; sleep 3; echo second >&2; echo more"})
    running = KubernetesExecutor(kubelet, attempts.objects, attempts.blobs,
                                 cluster=KubernetesSettings(), pull_policy="if-not-present",
                                 worker="test-worker").start(attempt)
    ended = []
    waiter = threading.Thread(target=lambda: ended.append(running.wait()))
    waiter.start()
    workdir = attempt.workdir
    eventually(lambda: (captured(workdir.stdout), captured(workdir.stderr)) == (
        b"out\n", b"first\n"), timeout=30, what="the first lines in the scratch directory")
    assert not ended, "the lines were there before the attempt ended"
    waiter.join(60)
    assert attempts.log(ended[0], "stderr") == b"first\nsecond\n"
    assert attempts.log(ended[0], "stdout") == b"out\nmore\n"
    stdout = kubelet.pods[running.name].containers["stdout"]
    assert (stdout.terminated, stdout.exit_code) == (True, 0), "stopped by SIGTERM, at the end"


def test_a_job_stages_its_input_runs_and_uploads_its_outputs(run, attempts, objects,
                                                             s3_settings):
    objects.put_bytes(s3_settings.bucket, "fn/input/photo one.txt", b"from the bucket\n")
    outcome, _ = run(
        'tr a-z A-Z < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/upper.txt"; '
        'mkdir -p "$TMP_OUTPUT_DIR/nested"; echo deep > "$TMP_OUTPUT_DIR/nested/n.txt"; '
        'echo "job $JOB_ID in $(basename "$INPUT_FILE_PATH")"; echo a warning >&2',
        source="fn/input/photo one.txt")
    assert (outcome.exit_code, outcome.reason, outcome.error) == (0, None, None)
    by_name = {o.name: o for o in outcome.outputs}
    assert sorted(by_name) == ["nested/n.txt", "upper.txt"]
    upper = by_name["upper.txt"]
    assert objects.get_bytes(upper.bucket, upper.key) == b"FROM THE BUCKET\n"
    info = objects.stat(upper.bucket, upper.key)
    assert info.metadata.get("sluice-depth") == "1" and upper.etag == info.etag
    assert attempts.log(outcome, "stdout").endswith(b"in photo one.txt\n")
    assert attempts.log(outcome, "stderr") == b"a warning\n"


def test_a_request_body_in_the_job_store_reaches_the_pod(run, attempts):
    outcome, _ = run('wc -c < "$INPUT_FILE_PATH"', body=b"twelve bytes")
    assert outcome.exit_code == 0
    assert attempts.log(outcome, "stdout").strip() == b"12"


def test_a_message_and_its_parameters_reach_the_pod(run, attempts):
    body = bytes(range(256)) + "é text".encode()
    outcome, _ = run('cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/copy"; printf "%s|%s|%s" '
                     '"$MESSAGE_CONTENT_TYPE" "${MESSAGE-unset}" "$PARAM_n"', body=body,
                     content_type="application/octet-stream", params={"n": "1"})
    assert attempts.output(outcome, "copy") == body
    assert attempts.log(outcome, "stdout") == b"application/octet-stream|unset|1"
    outcome, _ = run('printf "%s|%s" "$MESSAGE_CONTENT_TYPE" "$MESSAGE"', body=b"hello",
                     content_type="text/plain")
    assert attempts.log(outcome, "stdout") == b"text/plain|hello"


def test_a_large_stdout_stays_where_the_pod_uploaded_it(run, attempts, objects, s3_settings):
    outcome, _ = run("yes sluice | head -c 5000")
    assert outcome.exit_code == 0
    bucket, _, key = outcome.stdout_ref.removeprefix("s3:").partition("/")
    assert bucket == s3_settings.system_bucket
    assert objects.get_bytes(bucket, key) == (b"sluice\n" * 715)[:5000]
    small, _ = run("echo small")
    assert small.stdout_ref.startswith("db:") and attempts.log(small, "stdout") == b"small\n"


def test_what_a_pods_function_used_is_null_for_nothing_honest_reports_it(run):
    """A pod's status tells how each container ended (ContainerStateTerminated: exitCode,
    reason, startedAt, finishedAt..., https://kubernetes.io/docs/reference/kubernetes-api/
    workload-resources/pod-v1/#PodStatus), not what it used; metrics.k8s.io samples only
    running pods. So CPU, peak memory and block I/O stay null, even for a function that
    used plenty of each."""
    outcome, _ = run("x=$(head -c 20000000 /dev/zero | tr '\\0' a); echo ${#x}")
    assert outcome.exit_code == 0
    assert (outcome.cpu_seconds, outcome.peak_memory, outcome.io_read_bytes,
            outcome.io_write_bytes) == (None, None, None, None)


def test_a_failing_function_reports_its_exit_code_and_still_uploads(run, attempts):
    outcome, _ = run('echo partial > "$TMP_OUTPUT_DIR/p.txt"; echo boom >&2; exit 3')
    assert (outcome.exit_code, outcome.reason) == (3, Reason.ERROR)
    assert [o.name for o in outcome.outputs] == ["p.txt"]
    assert attempts.log(outcome, "stderr") == b"boom\n"


def test_an_output_whose_name_is_not_utf8_fails_the_attempt_and_keeps_the_log(run, attempts):
    outcome, _ = run("""printf x > "$TMP_OUTPUT_DIR/$(printf 'bad\\377.txt')"; echo said""")
    assert outcome.reason == Reason.ERROR and outcome.outputs == ()
    assert "is not UTF-8" in outcome.error
    assert attempts.log(outcome, "stdout") == b"said\n"


def test_an_oom_killed_container_is_reported_as_oom(run, kubelet):
    kubelet.oom_after = 0.5
    execution, name = run("echo started; sleep 30", memory="64Mi")
    assert (execution.exit_code, execution.reason) == (137, Reason.OOM)
    assert not kubelet.running(name), "the uploader must notice the killed container"


def test_the_jobs_deadline_is_a_timeout(run, kubelet):
    started = time.monotonic()
    execution, name = run("sleep 30", timeout=1, staging_seconds=1)
    assert execution.reason == Reason.TIMEOUT
    assert time.monotonic() - started < 10
    assert not kubelet.running(name)


def test_cancelling_deletes_the_job_and_its_processes(run, kubelet):
    execution, name = run("sleep 30", kill_after=1.0)
    assert execution.reason == Reason.CANCELLED
    assert kubelet.pods[name].deleted and not kubelet.running(name)


def test_a_new_attempt_deletes_the_job_of_the_attempt_before(run, kubelet):
    """The worker of attempt 1 died; its Job must not go on beside attempt 2's."""
    job_id = new_id()
    _, first = run("sleep 30", job_id=job_id, wait=False)
    execution, second = run("echo second", job_id=job_id, attempt=2)
    assert (first, second) == (f"sluice-{job_id}-1", f"sluice-{job_id}-2")
    assert kubelet.pods[first].deleted and not kubelet.running(first)
    assert execution.exit_code == 0


def test_an_image_that_cannot_be_pulled_fails_the_attempt_at_once(run, kubelet):
    started = time.monotonic()
    execution, name = run("true", image=MISSING_IMAGE)
    assert execution.reason == Reason.ERROR
    assert "ErrImagePull" in execution.error
    assert kubelet.pods[name].deleted and time.monotonic() - started < 10


def test_a_failed_stage_in_says_why(run):
    execution, _ = run("true", source="fn/input/gone.txt")
    assert execution.reason == Reason.ERROR and execution.outputs == ()
    assert execution.error.startswith("stage-in failed (exit 1): ")
    assert "fn/input/gone.txt" in execution.error and "does not exist" in execution.error


def test_functions_without_an_image_are_refused(run):
    with pytest.raises(CannotRun, match="image"):
        run("true", image=None)



def test_losing_the_api_while_watching_deletes_the_job_and_is_a_passing_failure(
        kubelet, attempts, monkeypatch):
    """The attempt is tried again (workers/failures.py): it must not run on unwatched."""
    watch = kubelet.watch_job

    def interrupted(name, timeout):
        yield next(watch(name, timeout))
        raise Unavailable("could not watch the Job's pod: 503 Service Unavailable")
    monkeypatch.setattr(kubelet, "watch_job", interrupted)
    executor = KubernetesExecutor(kubelet, attempts.objects, attempts.blobs,
                                  cluster=KubernetesSettings(), pull_policy="if-not-present",
                                  worker="test-worker")
    running = executor.start(attempts.make({"image": "busybox:1.36", "script": "sleep 30"}))
    with pytest.raises(Unavailable):
        running.wait()
    assert kubelet.pods[running.name].deleted and not kubelet.running(running.name)
