"""Abaco's actors and executions as Sluice translates them (`core.abaco`), against what
TACC/abaco at 9e83e1c does: the lines are cited in each test."""

from __future__ import annotations

import json

import pytest

from core.abaco import actors, context, executions
from core.errors import Invalid
from core.functions import Function
from core.handoffs import check_no_cycle
from core.jobs import Job, JobStatus, Reason, Trigger

SERVER = "http://abaco.example:8080"


def job(**fields) -> Job:
    return Job(**{"id": "j1", "function": "a1", "revision": 3, "trigger": Trigger.HTTP,
                  "status": JobStatus.SUCCEEDED, "created_at": 100.0, "started_at": 101.0,
                  "finished_at": 103.5, "exit_code": 0, "owner": "host:1:w",
                  "content_type": "text/plain; charset=utf-8", **fields})


def actor_function(**actor) -> Function:
    return Function.from_spec(actors.to_spec(actor, "a1", SERVER))


def test_an_actor_description_becomes_a_spec_in_either_case():
    """models.py:734-775 names the fields; under_to_camel (55-62) reads snake_case ones as
    the hosted API's camelCase; form fields come as text (controllers.py:823-853)."""
    spec = actors.to_spec({
        "name": "my actor", "image": "abacosamples/test", "default_environment": {"k": "v"},
        "maxWorkers": "2", "memLimit": "512m", "max_cpus": 500_000_000, "logEx": 3600,
        "link": "", "webhook": "https://hooks.example/a", "stateless": "False",
        "cronOn": "true"}, "a1", SERVER)
    assert spec == {
        "name": "a1", "image": "abacosamples/test", "environment": {"k": "v"},
        "concurrency": 2, "memory": 512 * 1024**2, "cpu": 0.5, "retention": 3600,
        "callback": "https://hooks.example/a", "schedule_enabled": True,
        "abaco": {"name": "my actor", "api_server": SERVER}}


def test_unknown_fields_and_fields_given_twice_are_refused_by_name():
    with pytest.raises(Invalid) as caught:
        actors.to_spec({"script": "true", "imgae": "x", "maxWorkers": 1, "max_workers": 2},
                       "a1", SERVER)
    assert {e["path"] for e in caught.value.errors} == {"imgae", "maxWorkers"}


def test_a_put_keeps_the_actors_name():
    """controllers.py:1147 drops `name` from a PUT's parser."""
    spec = actors.to_spec({"script": "true", "name": "new"}, "a1", SERVER, name="old",
                          keep_name=True)
    assert spec["abaco"]["name"] == "old"


def test_refusals_of_the_spec_are_told_by_the_actors_field_names():
    with pytest.raises(Invalid) as caught:
        actor_function(script="true", defaultEnvironment={"1x": "y"}, link="Not A Name",
                       webhook="ftp://x", maxWorkers=0, name=7)
    refused = actors.refused(caught.value)
    assert {e["path"] for e in refused.errors} == {
        "defaultEnvironment.1x", "link", "webhook", "maxWorkers", "name"}
    assert refused.detail == "Invalid actor description: the function spec is invalid"


def test_an_actor_reads_back_as_it_was_described():
    fn = actor_function(name="n", description="d", script="echo", defaultEnvironment={"k": "v"},
                        maxWorkers=3, memLimit="1g", maxCpus=2_000_000_000, logEx=60,
                        webhook="https://hooks.example/a")
    shown = actors.from_function(fn)
    assert {k: shown[k] for k in ("id", "name", "description", "script", "defaultEnvironment",
                                  "maxWorkers", "memLimit", "maxCpus", "logEx", "webhook",
                                  "link", "owner", "image")} == {
        "id": "a1", "name": "n", "description": "d", "script": "echo",
        "defaultEnvironment": {"k": "v"}, "maxWorkers": 3, "memLimit": str(1024**3),
        "maxCpus": 2_000_000_000, "logEx": 60, "webhook": "https://hooks.example/a",
        "link": "", "owner": "admin", "image": None}


def test_new_ids_are_function_names_like_abacos_ids():
    """Abaco's ids are 13-character hashids (models.py:705-708): here DNS labels."""
    made = {actors.new_id() for _ in range(200)}
    assert len(made) == 200
    assert all(Function.from_spec({"name": i, "script": "true"}).name == i for i in made)


@pytest.mark.parametrize("fields, status", [
    ({"status": JobStatus.QUEUED, "started_at": None, "exit_code": None}, "SUBMITTED"),
    ({"status": JobStatus.RUNNING, "exit_code": None}, "RUNNING"),
    ({"status": JobStatus.FAILED, "exit_code": 3, "reason": Reason.ERROR}, "COMPLETE"),
    ({"status": JobStatus.FAILED, "exit_code": None, "reason": Reason.TIMEOUT}, "COMPLETE"),
    ({"status": JobStatus.FAILED, "exit_code": None, "reason": Reason.UNAVAILABLE}, "ERROR"),
    ({"status": JobStatus.CANCELLED, "exit_code": None, "reason": Reason.CANCELLED},
     "COMPLETE"),
    ({"status": JobStatus.CANCELLED, "started_at": None, "exit_code": None,
      "reason": Reason.CANCELLED}, "ERROR")])
def test_statuses_are_abacos(fields, status):
    """codes.py's statuses: COMPLETE for a container that ran to its end, whatever its exit
    code, timed out or force quit (docker_utils.py:815-822, worker.py:551); ERROR for one
    that could not run (worker.py:491, 507, 527)."""
    assert executions.status(job(**fields)) == status


def test_an_execution_has_abacos_fields_and_units():
    """models.py:1444-1462; runtime in whole seconds (docker_utils.py:948), cpu in
    nanoseconds (754)."""
    record = executions.execution(job(cpu_seconds=0.25), SERVER)
    assert {k: record[k] for k in ("id", "actorId", "workerId", "runtime", "cpu", "exitCode",
                                   "status", "executor", "startTime")} == {
        "id": "j1", "actorId": "a1", "workerId": "host:1:w", "runtime": 2,
        "cpu": 250_000_000, "exitCode": 0, "status": "COMPLETE", "executor": "admin",
        "startTime": "1970-01-01T00:01:41.000Z"}
    assert record["finalState"]["ExitCode"] == 0 and record["io"] is None
    assert executions.execution(job(status=JobStatus.RUNNING), SERVER)["finalState"] is None


def test_the_context_of_a_text_message():
    """controllers.py:1794-1813, worker.py:416-422 and docker_utils.py:541-542."""
    fn = actor_function(name="n", script="true")
    env = context.variables(job(), fn, b"hello")
    assert env["MSG"] == "hello" and env["_abaco_Content_Type"] == "str"
    assert (env["_abaco_actor_name"], env["_abaco_api_server"], env["_abaco_username"]) == (
        "n", SERVER, "admin")
    assert (env["_abaco_actor_revision"], env["_abaco_worker_id"]) == ("3", "host:1:w")


@pytest.mark.parametrize("content_type, message, kind, msg", [
    ("application/json", b'{"a": 1}', "application/json", '{"a": 1}'),
    ("application/ld+json", b"[]", "application/json", "[]"),
    ("application/octet-stream", b"text", "application/octet-stream", None),
    ("text/plain", b"nul\0byte", "str", None),
    ("text/plain", b"\xff\xfe", "str", None),
    ("text/plain", b"x" * (context.MSG_MAX + 1), "str", None)])
def test_msg_holds_only_what_an_environment_can(content_type, message, kind, msg):
    """Binary messages are never in MSG (docker_utils.py:539-542); text that an environment
    cannot hold is not either. Every message is at INPUT_FILE_PATH."""
    env = context.variables(job(content_type=content_type), actor_function(script="t"), message)
    assert env["_abaco_Content_Type"] == kind and env.get("MSG") == msg


def test_cron_and_linked_executions_say_who_sent_them():
    """Cron's message (controllers.py:138-143) has no username; a link's is 'Abaco Event'
    (events.py:48-49)."""
    fn = actor_function(script="t")
    cron = context.variables(job(trigger=Trigger.CRON, content_type=None), fn, b"")
    assert (cron["MSG"], cron["_abaco_Content_Type"]) == ("This is your cron execution", "str")
    assert "_abaco_username" not in cron
    linked = context.variables(job(trigger=Trigger.END, content_type="application/json"),
                               fn, b"{}")
    assert linked["_abaco_username"] == "Abaco Event"


def test_a_link_gets_abacos_execution_complete_event():
    """models.py:496-514, 588-600 and 1618-1623."""
    fn = actor_function(script="t", link="b2", webhook="https://hooks.example/a")
    event = json.loads(context.link_message(job(exit_code=1, reason=Reason.ERROR,
                                                status=JobStatus.FAILED), fn))
    assert event == {
        "event_type": "EXECUTION_COMPLETE", "event_time_utc": "1970-01-01T00:01:43.500Z",
        "event_time_display": "1970-01-01T00:01:43.500Z", "actor_id": "a1",
        "actor_dbid": "a1", "_abaco_link": "b2", "_abaco_webhook": "https://hooks.example/a",
        "execution_id": "j1", "status": "COMPLETE", "exit_code": 1}


def test_a_chain_of_on_end_that_comes_back_is_refused():
    """controllers.py:691-740 (check_for_link_cycles, has_cycles)."""
    links = {"b": "c", "c": "a", "d": "gone"}
    with pytest.raises(Invalid) as caught:
        check_no_cycle("a", "b", links.get)
    assert caught.value.errors[0]["message"].endswith("a -> b -> c -> a")
    check_no_cycle("a", "d", links.get)
    check_no_cycle("a", None, links.get)
