"""Callbacks against the real stack: an aiohttp server receives the POST of each job's final
record, signed with the secret its function's owner can read, sent again after refusals and
given up after the deadline, while the job keeps its own outcome.

What the POST says of itself follows OpenFaaS's asynchronous callbacks, as its queue worker
sends them (openfaas/nats-queue-worker, `postResult` in main.go; docs.openfaas.com/reference/
async/): the caller names the URL with `X-Callback-Url`; the callback is a POST carrying
`X-Call-Id` (here the job's id), `X-Function-Name`, `X-Function-Status` (the function's HTTP
status: here the one a synchronous invocation of the job answers) and `X-Duration-Seconds`.
Its body is Sluice's job record rather than the function's bare output, and it is signed."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import socket
import time

import pytest
from aiohttp import web

from core.callbacks import CallbackState
from core.ids import new_id
from core.jobs import Job, JobStatus, Outcome, Trigger
from core.settings import CallbackSettings
from core.store import JobStore
from tests.fixtures.signals import job as get_job
from tests.fixtures.signals import until, wait_status

QUICK = CallbackSettings(deadline_seconds=3, timeout_seconds=2, interval_seconds=0.1,
                         backoff_seconds=0.1, backoff_max_seconds=0.4)


@pytest.fixture
def settings(settings):
    """The stack's settings with callbacks retried within moments and given up in 3 s."""
    return dataclasses.replace(settings, worker=dataclasses.replace(settings.worker,
                                                                    callback=QUICK))


@dataclasses.dataclass
class Receiver:
    """A callback receiver: it keeps every POST and answers with `answers` in turn, then
    200."""

    url: str
    answers: list[int]
    posts: list[tuple[dict[str, str], bytes]] = dataclasses.field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.posts.append((dict(request.headers), await request.read()))
        return web.Response(status=self.answers.pop(0) if self.answers else 200)

    async def received(self, count: int = 1) -> list[tuple[dict[str, str], bytes]]:
        await until(lambda: len(self.posts) >= count, timeout=20,
                    what=f"{count} callback(s) reaching the receiver")
        return self.posts


@pytest.fixture
def receiver(aiohttp_server):
    async def start(*answers: int) -> Receiver:
        app = web.Application()
        found = Receiver(url="", answers=list(answers))
        app.router.add_post("/hook", found.handle)
        server = await aiohttp_server(app)
        found.url = str(server.make_url("/hook"))
        return found
    return start


def signed(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The check a receiver makes, written from the README's recipe."""
    timestamp = headers["X-Sluice-Timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(headers["X-Sluice-Signature"], f"sha256={expected.hexdigest()}")


def closed_port() -> int:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        return free.getsockname()[1]


async def test_the_job_record_is_posted_signed_with_the_secret_its_owner_can_read(api, receiver):
    hook = await receiver()
    fn = await api.deploy("greet", script='printf "hi %s" "$(cat "$INPUT_FILE_PATH")"',
                          callback=hook.url)
    answer = await api.request("POST", "/v1/functions/greet/invocations", data=b"you")
    assert await answer.text() == "hi you"
    [(headers, body)] = await hook.received()

    owner = await api.request("GET", "/v1/functions/greet/callback-secret", token=fn["token"])
    secret = (await owner.json())["secret"]
    assert secret == fn["callback_secret"] and signed(secret, headers, body)
    assert not signed(secret, headers, body + b" ")
    job_id = answer.headers["Sluice-Job-Id"]
    assert (headers["X-Call-Id"], headers["X-Function-Name"], headers["X-Function-Status"]) \
        == (job_id, "greet", "200")
    assert float(headers["X-Duration-Seconds"]) > 0
    assert abs(int(headers["X-Sluice-Timestamp"]) - time.time()) < 60

    record = await until(lambda: _callback_state(api, job_id, "delivered"),
                         what="the callback shown delivered")
    posted = json.loads(body)
    assert {**posted, "callback": None} == {**record, "callback": None}
    assert posted["callback"] == {**record["callback"], "state": "pending",
                                  "delivered_at": None}
    assert record["callback"]["url"] == hook.url and record["callback"]["attempts"] == 1
    assert record["callback"]["delivered_at"] is not None and record["status"] == "succeeded"


async def _callback_state(api, job_id: str, state: str) -> dict | None:
    """The job's record once its callback is in `state`."""
    record = await get_job(api, job_id)
    return record if record["callback"]["state"] == state else None


async def test_another_functions_token_may_not_read_the_secret(api):
    await api.deploy("mine", command=["true"])
    other = await api.deploy("theirs", command=["true"])
    refused = await api.request("GET", "/v1/functions/mine/callback-secret",
                                token=other["token"])
    assert refused.status == 403
    assert refused.content_type == "application/problem+json"
    listed = await (await api.request("GET", "/v1/functions/theirs", token=other["token"])).json()
    assert "callback_secret" not in listed and "token" not in listed


async def test_x_callback_url_on_an_async_invocation_is_called_in_place_of_the_functions(
        api, receiver):
    spec_hook, own_hook = await receiver(), await receiver()
    await api.deploy("later", script="sleep 0.2; echo done", callback=spec_hook.url)
    accepted = await api.request("POST", "/v1/functions/later/invocations",
                                 headers={"Prefer": "respond-async",
                                          "X-Callback-Url": own_hook.url})
    assert accepted.status == 201
    job = await accepted.json()
    assert job["callback"] == {"url": own_hook.url, "on": ["succeeded", "failed", "cancelled"],
                               "state": "waiting", "attempts": 0, "last_error": None,
                               "delivered_at": None}
    [(headers, body)] = await own_hook.received()
    assert json.loads(body)["status"] == "succeeded" and headers["X-Call-Id"] == job["id"]
    assert not spec_hook.posts


async def test_a_callback_on_failures_only_is_skipped_for_a_success(api, receiver):
    hook = await receiver()
    await api.deploy("maybe", script='test "$(cat "$INPUT_FILE_PATH")" = ok || exit 3',
                     callback={"url": hook.url, "on": ["failed"]})
    good = await api.request("POST", "/v1/functions/maybe/invocations", data=b"ok")
    assert good.status == 200
    record = await get_job(api, good.headers["Sluice-Job-Id"])
    assert record["callback"]["state"] == "skipped" and record["callback"]["attempts"] == 0
    bad = await api.request("POST", "/v1/functions/maybe/invocations", data=b"no")
    assert bad.status == 502
    [(headers, body)] = await hook.received()
    assert headers["X-Call-Id"] == bad.headers["Sluice-Job-Id"]
    assert headers["X-Function-Status"] == "502" and json.loads(body)["exit_code"] == 3


async def test_a_refused_callback_is_delivered_on_a_later_try_and_the_job_is_unchanged(
        api, receiver):
    hook = await receiver(500, 500)
    await api.deploy("steady", command=["true"], callback=hook.url)
    answer = await api.request("POST", "/v1/functions/steady/invocations")
    job_id = answer.headers["Sluice-Job-Id"]
    posts = await hook.received(3)
    record = await until(lambda: _callback_state(api, job_id, "delivered"),
                         what="the callback shown delivered")
    assert [json.loads(body)["callback"]["attempts"] for _, body in posts] == [1, 2, 3]
    assert record["status"] == "succeeded" and record["callback"]["attempts"] == 3
    assert record["callback"]["last_error"] == "the receiver answered 500"


async def test_a_receiver_that_is_down_fails_the_callback_after_the_deadline_not_the_job(api):
    url = f"http://127.0.0.1:{closed_port()}/hook"
    await api.deploy("lonely", command=["true"], callback=url)
    answer = await api.request("POST", "/v1/functions/lonely/invocations")
    job_id = answer.headers["Sluice-Job-Id"]
    record = await until(lambda: _callback_state(api, job_id, "failed"),
                         timeout=QUICK.deadline_seconds + 10, what="the callback given up")
    assert record["status"] == "succeeded" and record["exit_code"] == 0
    assert record["callback"]["attempts"] >= 2 and record["callback"]["delivered_at"] is None
    assert "could not be reached" in record["callback"]["last_error"]


async def test_a_cancelled_job_calls_back_with_its_record(api, receiver):
    hook = await receiver()
    await api.deploy("slow", command=["sleep", "30"], callback=hook.url, mode="async")
    job = await (await api.request("POST", "/v1/functions/slow/invocations")).json()
    await wait_status(api, job["id"], "running")
    cancelled = await api.request("POST", f"/v1/jobs/{job['id']}/cancel")
    assert (await cancelled.json())["status"] == "cancelled"
    [(headers, body)] = await hook.received()
    assert headers["X-Function-Status"] == "409" and json.loads(body)["status"] == "cancelled"
    assert headers["Sluice-Job-Status"] == "cancelled"


@pytest.mark.parametrize("url", [
    "ftp://example.org/hook", "not a url", "http://", "https://user:secret@example.org/hook",
    "http://example.org:99999/", "https://example.org/" + "a" * 2048])
async def test_a_bad_x_callback_url_is_a_400_problem(api, url):
    await api.deploy("any", command=["true"])
    answer = await api.request("POST", "/v1/functions/any/invocations",
                               headers={"X-Callback-Url": url})
    assert answer.status == 400 and answer.content_type == "application/problem+json"
    problem = await answer.json()
    assert problem["detail"].startswith("X-Callback-Url ")
    assert "secret" not in problem["detail"]
    listed = await (await api.request("GET", "/v1/jobs?function=any")).json()
    assert listed["jobs"] == []


async def test_a_bad_callback_in_a_spec_is_refused_with_the_path_of_each_field(api):
    answer = await api.request("PUT", "/v1/functions/bad", json={
        "command": ["true"], "callback": {"url": "ftp://example.org/", "on": ["done", "failed"]}})
    assert answer.status == 422 and answer.content_type == "application/problem+json"
    errors = {e["path"]: e["message"] for e in (await answer.json())["errors"]}
    assert set(errors) == {"callback.url", "callback.on.0"}
    assert "http" in errors["callback.url"]
    answer = await api.request("PUT", "/v1/functions/bad", json={
        "command": ["true"], "callback": {"url": "https://u:p@example.org/", "when": 1}})
    assert {e["path"] for e in (await answer.json())["errors"]} == {"callback"}


@pytest.fixture
def store(database_url):
    store = JobStore(database_url)
    store.migrate()
    yield store
    store.close()


def test_two_senders_never_hold_one_delivery_and_a_lapsed_claim_records_nothing(store):
    """On SQLite and PostgreSQL: the compare-and-set claim is what keeps two workers from
    sending one callback at once."""
    now = time.time()
    job = Job(id=new_id(), function="f", revision=1, trigger=Trigger.HTTP,
              status=JobStatus.QUEUED, created_at=now, callback_url="http://127.0.0.1:9/",
              callback_on=("succeeded",))
    store.create_job(job)
    claimed = store.claim(job.id, "w", now)
    assert store.finish(claimed, "w", Outcome(exit_code=0), now).callback_state == "pending"
    [due] = store.due_callbacks(now, 10)
    first, second = store.claim_callback(due, now + 1), store.claim_callback(due, now + 1)
    assert first is not None and second is None and first.callback_attempts == 1
    assert store.due_callbacks(now + 0.5, 10) == []
    [lapsed] = store.due_callbacks(now + 2, 10)
    taken_over = store.claim_callback(lapsed, now + 30)
    assert not store.end_callback(first, CallbackState.DELIVERED, delivered_at=now)
    assert store.end_callback(taken_over, CallbackState.DELIVERED, delivered_at=now + 3)
    ended = store.get_job(job.id)
    assert (ended.callback_state, ended.callback_attempts, ended.status) == \
        ("delivered", 2, JobStatus.SUCCEEDED)
    assert store.due_callbacks(now + 60, 10) == []


def test_a_job_run_again_calls_back_again_when_it_ends_again(store):
    now = time.time()
    job = Job(id=new_id(), function="f", revision=1, trigger=Trigger.HTTP,
              status=JobStatus.QUEUED, created_at=now, callback_url="http://127.0.0.1:9/",
              callback_on=("failed",))
    store.create_job(job)
    failed = store.finish(store.claim(job.id, "w", now), "w", Outcome(exit_code=3), now)
    sent = store.claim_callback(failed, now + 1)
    assert store.end_callback(sent, CallbackState.DELIVERED, delivered_at=now)
    queued = store.redrive(job.id, 1, now + 2)
    assert (queued.callback_state, queued.callback_attempts) == (None, 0)
    assert queued.to_dict()["callback"]["state"] == "waiting"
    again = store.finish(store.claim(job.id, "w", now + 3), "w", Outcome(exit_code=3), now + 4)
    assert (again.callback_state, again.callback_due_at) == ("pending", now + 4)
