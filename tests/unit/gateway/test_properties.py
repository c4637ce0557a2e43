"""Generated hostile input against a gateway served for real (in-process broker, SQLite, an
object store in memory): specs, storage events, headers, object keys and query strings.
Whatever arrives, the answer is never a 5xx; every error is problem+json; every JSON answer
parses with a strict parser; and a refused request writes nothing."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import threading
import urllib.parse
import uuid

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from broker.events import LocalEvents
from broker.setup import in_process_broker
from core.functions import FIELDS
from gateway import serving
from gateway.app import create_app
from sluice.ports import free_port_block
from tests.fixtures.stack import ADMIN

EXAMPLES = settings(max_examples=int(os.environ.get("SLUICE_PROPERTY_EXAMPLES", 300)),
                    deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


class Live:
    """The gateway on a port of its own, served from a thread, for a synchronous client."""

    def __init__(self, app):
        self.port = free_port_block(1)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="live-gateway",
                                       daemon=True)
        self.thread.start()
        self.runner = asyncio.run_coroutine_threadsafe(
            serving.start(app, "127.0.0.1", self.port), self.loop).result(30)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, str, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers={
                "Authorization": f"Bearer {ADMIN}", **(headers or {})})
            answer = connection.getresponse()
            return answer.status, answer.getheader("Content-Type", ""), answer.read()
        finally:
            connection.close()


@pytest.fixture
def live(local_settings, memory_objects):
    gateway = Live(create_app(local_settings, broker=in_process_broker(), events=LocalEvents(),
                              object_store=memory_objects))
    yield gateway
    gateway.close()


def strict_json(body: bytes):
    def refuse(constant: str):
        raise ValueError(f"{constant} is not JSON")
    return json.loads(body, parse_constant=refuse)


def well_answered(status: int, content_type: str, body: bytes) -> None:
    assert status < 500, body[:300]
    if status >= 400:
        assert content_type.startswith("application/problem+json"), (status, content_type)
        assert strict_json(body)["status"] == status
    elif content_type.startswith("application/json"):
        strict_json(body)


scalars = (st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=40))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=12), inner, max_size=4),
                      max_leaves=12)
specs = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=12), values, max_size=6)


def as_json(document) -> bytes:
    """JSON as a client may send it, NaN and unpaired surrogates included."""
    return json.dumps(document, allow_nan=True).encode()


@EXAMPLES
@given(spec=specs)
def test_generated_specs(live, spec):
    name = f"f-{uuid.uuid4().hex[:12]}"
    status, content_type, body = live.request(
        "PUT", f"/v1/functions/{name}", as_json(spec), {"Content-Type": "application/json"})
    well_answered(status, content_type, body)
    if status >= 400:
        assert live.request("GET", f"/v1/functions/{name}")[0] == 404


objects = st.fixed_dictionaries({}, optional={
    "key": values | st.text(max_size=60), "eTag": values, "size": values,
    "versionId": values, "userMetadata": values})
records = st.fixed_dictionaries({"eventName": st.sampled_from(
    ["ObjectCreated:Put", "s3:ObjectCreated:Post", "ObjectRemoved:Delete"]) | values}, optional={
    "s3": st.fixed_dictionaries({}, optional={
        "bucket": st.fixed_dictionaries({}, optional={"name": st.just("prop-in") | values}),
        "object": objects}) | values})
notifications = st.fixed_dictionaries({}, optional={"Records": st.lists(records, max_size=3)
                                                    | values}) | values


@EXAMPLES
@given(document=notifications)
def test_generated_storage_events(live, document):
    live.request("PUT", "/v1/functions/prop-watcher", as_json(
        {"command": ["true"], "input": [{"bucket": "prop-in"}]}),
        {"Content-Type": "application/json"})
    jobs = strict_json(live.request("GET", "/v1/jobs?limit=500")[2])["jobs"]
    status, content_type, body = live.request("POST", "/v1/events/s3", as_json(document),
                                              {"Content-Type": "application/json"})
    well_answered(status, content_type, body)
    if status >= 400:
        after = strict_json(live.request("GET", "/v1/jobs?limit=500")[2])["jobs"]
        assert len(after) == len(jobs), "a refused notification started a job"


header_text = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=80)


@EXAMPLES
@given(prefer=header_text, key=header_text)
def test_generated_headers(live, prefer, key):
    live.request("PUT", "/v1/functions/prop-headers", as_json({"command": ["true"]}),
                 {"Content-Type": "application/json"})
    status, content_type, body = live.request(
        "POST", "/v1/functions/prop-headers/invocations", b"",
        {"Prefer": f"respond-async, {prefer}", "Idempotency-Key": key})
    well_answered(status, content_type, body)


@EXAMPLES
@given(key=st.text(max_size=80))
def test_generated_object_keys(live, memory_objects, key):
    memory_objects.ensure_bucket("prop-keys")
    path = "/v1/objects/prop-keys/" + urllib.parse.quote(key.encode("utf-8", "surrogatepass"))
    status, content_type, body = live.request("PUT", path, b"data")
    well_answered(status, content_type, body)
    if status >= 400:
        assert ("prop-keys", key) not in memory_objects.objects


query_values = st.text(max_size=30) | st.integers().map(str) | st.sampled_from(
    ["nan", "inf", "-1", "0", "²", "9" * 400, "queued", "01m825rjbh4000000000000000"])


@EXAMPLES
@given(query=st.dictionaries(st.sampled_from(["limit", "status", "cursor", "function", "wait",
                                               "stream", "prefix"]) | st.text(max_size=8),
                             query_values, max_size=4),
       path=st.sampled_from(["/v1/jobs", "/v1/jobs/01m825rjbh4000000000000000",
                             "/v1/jobs/01m825rjbh4000000000000000/logs", "/v1/functions",
                             "/v1/objects/prop-keys", "/system/logs/prop-headers"]))
def test_generated_query_strings(live, query, path):
    query_string = urllib.parse.urlencode(
        {k.encode("utf-8", "surrogatepass"): v.encode("utf-8", "surrogatepass")
         for k, v in query.items()})
    well_answered(*live.request("GET", f"{path}?{query_string}"))


services = st.dictionaries(st.sampled_from(["name", "image", "script", "memory", "cpu",
                                            "environment", "input", "output", "log_level"])
                           | st.text(max_size=10), values, max_size=6)


@EXAMPLES
@given(service=services)
def test_generated_oscar_services(live, service):
    status, content_type, body = live.request("POST", "/system/services", as_json(service),
                                              {"Content-Type": "application/json"})
    well_answered(status, content_type, body)
