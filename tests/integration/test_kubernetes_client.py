"""`KubernetesApi`, the Kubernetes client behind the executor's cluster interface, against a
small stand-in for the API server's HTTP endpoints that it uses (Jobs, pods, a pod watch,
logs), configured from a kubeconfig as a user's would be. The stand-in serves scripted
states; it checks what the client sends, not what a cluster would do with it."""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kubernetes.client.rest import ApiException

from core.errors import CannotRun, Unavailable
from workers.executors.kubernetes_api import KubernetesApi

NAMESPACE = "jobs"
NAME = "sluice-01m82ej0z3g7ksj8gzanfqj9jv-1"


def pod(phase: str, **function_state) -> dict:
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": f"{NAME}-x7k2p", "namespace": NAMESPACE,
                         "labels": {"job-name": NAME}},
            "status": {"phase": phase,
                       "initContainerStatuses": [_status("stage-in", terminated={
                           "exitCode": 0, "reason": "Completed"})],
                       "containerStatuses": [_status("function", **function_state),
                                             _status("stage-out", running={})]}}


def _status(name: str, **state) -> dict:
    return {"name": name, "image": "x", "imageID": "", "ready": False, "restartCount": 0,
            "state": state}


class FakeApiServer(ThreadingHTTPServer):
    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.created: list[dict] = []
        self.deleted: list[str] = []
        self.pod_events: list[dict] = []
        self.job_conditions: list[dict] = []
        self.conditions_from_read = 1
        self.status_reads = 0
        self.requests: list[str] = []


class Handler(BaseHTTPRequestHandler):
    server: FakeApiServer

    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, body: dict | bytes, content_type="application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        self.server.requests.append(f"POST {self.path}")
        if not self.path.startswith(f"/apis/batch/v1/namespaces/{NAMESPACE}/"):
            return self._send(403, {"kind": "Status", "code": 403, "reason": "Forbidden"})
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.created.append(body)
        self._send(201, body)

    def do_DELETE(self) -> None:
        self.server.requests.append(f"DELETE {self.path}")
        name = self.path.split("?")[0].rsplit("/", 1)[1]
        if name in self.server.deleted:
            return self._send(404, {"kind": "Status", "code": 404, "reason": "NotFound"})
        self.server.deleted.append(name)
        self._send(200, {"kind": "Status", "status": "Success"})

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        self.server.requests.append(f"GET {url.path}?{url.query}")
        if url.path == f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs/{NAME}/status":
            if NAME in self.server.deleted:
                return self._send(404, {"kind": "Status", "code": 404, "reason": "NotFound"})
            # The Job's condition shows once its pod has ended: from the read that follows
            # the pod's last event.
            self.server.status_reads += 1
            ended = self.server.status_reads >= self.server.conditions_from_read
            return self._send(200, {"kind": "Job", "apiVersion": "batch/v1",
                                    "metadata": {"name": NAME}, "status": {
                                        "conditions": self.server.job_conditions if ended
                                        else []}})
        if url.path == f"/api/v1/namespaces/{NAMESPACE}/pods" and "watch" in query:
            lines = b"".join(json.dumps(e).encode() + b"\n" for e in self.server.pod_events)
            return self._send(200, lines)
        if url.path == f"/api/v1/namespaces/{NAMESPACE}/pods":
            items = [e["object"] for e in self.server.pod_events[-1:]]
            return self._send(200, {"kind": "PodList", "apiVersion": "v1", "metadata": {},
                                    "items": items})
        if url.path == f"/api/v1/namespaces/{NAMESPACE}/pods/{NAME}-x7k2p/log":
            # The API server reads a boolean query parameter with Go's strconv.ParseBool,
            # which takes any of these; clients differ in which they send.
            followed = "followed " if query.get("follow", [""])[0] in (
                "1", "t", "T", "true", "TRUE", "True") else ""
            return self._send(200, f"{followed}log of {query['container'][0]}\n".encode(),
                              "text/plain")
        self._send(500, {"kind": "Status", "code": 500, "reason": "InternalError"})


@pytest.fixture
def server(tmp_path, monkeypatch):
    server = FakeApiServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "test", "cluster": {"server": f"http://{host}:{port}"}}],
        "users": [{"name": "worker", "user": {"token": "not-a-real-token"}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "worker"}}]}))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    yield server
    server.shutdown()
    server.server_close()


def test_creating_a_job_posts_the_manifest(server):
    manifest = {"apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": NAME, "namespace": NAMESPACE}, "spec": {"template": {}}}
    KubernetesApi(NAMESPACE).create_job(manifest)
    assert server.requests == [f"POST /apis/batch/v1/namespaces/{NAMESPACE}/jobs"]
    assert server.created == [manifest]


def test_watching_follows_the_pod_until_the_job_has_ended(server):
    server.pod_events = [
        {"type": "ADDED", "object": pod("Pending", waiting={"reason": "ContainerCreating"})},
        {"type": "MODIFIED", "object": pod("Running", running={})},
        {"type": "MODIFIED", "object": pod("Failed", terminated={
            "exitCode": 137, "reason": "OOMKilled", "message": "memory"})}]
    server.job_conditions = [{"type": "Failed", "status": "True",
                              "reason": "BackoffLimitExceeded"}]
    server.conditions_from_read = len(server.pod_events)
    states = list(KubernetesApi(NAMESPACE).watch_job(NAME, timeout=10))
    assert states[-1].finished and states[-1].condition == "BackoffLimitExceeded"
    function = states[-1].container("function")
    assert (function.terminated, function.exit_code, function.reason) == (True, 137, "OOMKilled")
    assert states[-1].container("stage-in").exit_code == 0
    watches = [r for r in server.requests if "watch=true" in r.lower()]
    assert watches and f"labelSelector=job-name%3D{NAME}" in watches[0]


def test_a_pod_that_cannot_pull_its_image_is_reported_while_waiting(server):
    server.pod_events = [{"type": "ADDED", "object": pod(
        "Pending", waiting={"reason": "ErrImagePull", "message": "not found"})}]
    first = next(KubernetesApi(NAMESPACE).watch_job(NAME, timeout=10))
    assert not first.finished and first.stuck().waiting == "ErrImagePull"


def test_a_deleted_job_ends_the_watch(server):
    server.pod_events = [{"type": "DELETED", "object": pod("Running", running={})}]
    server.deleted = [NAME]
    states = list(KubernetesApi(NAMESPACE).watch_job(NAME, timeout=10))
    assert states[-1].finished and states[-1].condition == "Deleted"


def test_logs_come_from_the_jobs_pod(server):
    server.pod_events = [{"type": "ADDED", "object": pod("Running", running={})}]
    assert KubernetesApi(NAMESPACE).pod_log(NAME, "function", 1024) == b"log of function\n"
    followed = KubernetesApi(NAMESPACE).follow_log(NAME, "function")
    assert b"".join(followed) == b"followed log of function\n"


def test_deleting_is_idempotent(server):
    api = KubernetesApi(NAMESPACE)
    api.delete_job(NAME)
    api.delete_job(NAME)
    assert server.deleted == [NAME]
    deletes = [r for r in server.requests if r.startswith("DELETE")]
    assert len(deletes) == 2
    assert "propagationPolicy=Background" in deletes[0], "the pod must go with the Job"


def test_a_refusal_says_what_failed_and_is_not_tried_again(server):
    """The API server answered 403: the same request would be refused again."""
    with pytest.raises(CannotRun) as caught:
        KubernetesApi("elsewhere").create_job({"metadata": {"name": "x"}})
    assert caught.value.detail == "could not create the Job: 403 Forbidden"
    assert isinstance(caught.value.__cause__, ApiException)


def test_without_a_cluster_the_error_is_clear(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(Unavailable, match="no Kubernetes API"):
        KubernetesApi(NAMESPACE)
