import pytest
import yaml

from core.errors import Invalid
from core.functions import Function, parse_document


def paths(exc: Invalid) -> set[str]:
    return {e["path"] for e in exc.errors}


def test_minimal_command_spec_gets_defaults_and_a_token():
    fn = Function.from_spec({"name": "hello", "command": ["echo", "hi"]})
    assert fn.argv() == ["echo", "hi"]
    assert (fn.timeout, fn.mode, fn.log_level) == (300.0, "sync", "INFO")
    assert len(fn.token) >= 32


def test_script_runs_through_sh():
    fn = Function.from_spec({"name": "s", "script": "echo $JOB_ID"})
    assert fn.argv() == ["/bin/sh", "-c", "echo $JOB_ID"]


def test_quantities_are_parsed():
    fn = Function.from_spec({"name": "q", "command": ["x"], "timeout": "5m", "memory": "512Mi",
                             "cpu": "500m"})
    assert (fn.timeout, fn.memory, fn.cpu) == (300.0, 512 * 1024**2, 0.5)


def test_every_bad_field_is_reported_with_its_path():
    with pytest.raises(Invalid) as caught:
        Function.from_spec({"name": "Bad_Name", "command": "x", "script": "y", "timeout": "soon",
                            "memory": "lots", "cpu": 0, "mode": "later", "log_level": "LOUD",
                            "environment": {"1X": "a", "JOB_ID": "b"},
                            "output": {"bucket": "UP", "prefix": "../x"}, "colour": "red"})
    assert paths(caught.value) == {
        "name", "command", "timeout", "memory", "cpu", "mode", "log_level", "environment.1X",
        "environment.JOB_ID", "output.bucket", "output.prefix", "colour"}


def test_a_function_needs_something_to_run():
    with pytest.raises(Invalid) as caught:
        Function.from_spec({"name": "empty"})
    assert paths(caught.value) == {"command"}


def test_document_with_several_functions_reports_paths_under_each():
    with pytest.raises(Invalid) as caught:
        parse_document({"functions": {"a": {"command": ["x"]}, "b": {"timeout": -1}}})
    assert paths(caught.value) == {"functions.b.command", "functions.b.timeout"}


def test_document_names_functions_by_their_keys():
    functions = parse_document({"functions": {"a": {"command": ["x"]}, "b": {"script": "y"}}})
    assert [f.name for f in functions] == ["a", "b"]


def test_spec_round_trips_without_its_token():
    fn = Function.from_spec({"name": "r", "script": "true", "environment": {"A": 1},
                             "output": {"bucket": "results", "prefix": "/out/"},
                             "concurrency": 3, "max_queued": 10})
    spec = fn.to_spec()
    assert (spec["concurrency"], spec["max_queued"]) == (3, 10)
    assert "token" not in spec and spec["output"] == {"bucket": "results", "prefix": "out"}
    assert Function.from_spec(spec, token=fn.token) == fn


def test_token_is_not_in_repr():
    fn = Function.from_spec({"name": "r", "script": "true"})
    assert fn.token not in repr(fn)


def test_a_spec_that_is_not_an_object_is_refused():
    with pytest.raises(Invalid) as caught:
        parse_document(["not", "a", "function"])
    assert caught.value.errors[0]["path"] == "$"


def test_numbers_in_a_command_become_text_but_booleans_are_refused():
    assert Function.from_spec({"name": "n", "command": ["sleep", 5]}).argv() == ["sleep", "5"]
    with pytest.raises(Invalid):
        Function.from_spec({"name": "n", "command": [True]})


def test_a_callback_round_trips_and_a_bare_url_stands_for_every_ending():
    fn = Function.from_spec({"name": "c", "command": ["x"],
                             "callback": {"url": "https://example.org/h?k=1", "on": ["failed"]}})
    assert fn.to_spec()["callback"] == {"url": "https://example.org/h?k=1", "on": ["failed"]}
    assert Function.from_spec(fn.to_spec(), token=fn.token) == fn
    bare = Function.from_spec({"name": "c", "command": ["x"], "callback": "http://h:8080/"})
    assert bare.callback.on == ("succeeded", "failed", "cancelled")


@pytest.mark.parametrize("callback, where", [
    ({"url": "ftp://h/"}, "callback.url"), ({"url": "http://u:p@h/"}, "callback.url"),
    ({"url": "http://h/" + "x" * 2048}, "callback.url"), ({"url": "http://h/ x"}, "callback.url"),
    ({"on": ["failed"]}, "callback.url"), ({"url": "http://h/", "on": []}, "callback.on"),
    ({"url": "http://h/", "on": ["failed", "lost"]}, "callback.on.1"),
    ({"url": "http://h/", "retries": 3}, "callback"), (42, "callback")])
def test_a_bad_callback_is_reported_by_its_path(callback, where):
    with pytest.raises(Invalid) as caught:
        Function.from_spec({"name": "c", "command": ["x"], "callback": callback})
    assert paths(caught.value) == {where}


def test_a_bare_on_key_in_yaml_reads_as_on():
    spec = yaml.safe_load("name: c\ncommand: [x]\ncallback: {url: 'http://h/', on: [failed]}\n")
    assert Function.from_spec(spec).callback.on == ("failed",)


def test_a_synchronous_call_waits_behind_at_most_3_jobs_unless_the_function_says():
    """3, as Abaco refuses a synchronous message while more than 3 wait (TACC/abaco,
    actors/controllers.py, MessagesResource.post, line 1791: `if box_len > 3`)."""
    assert Function.from_spec({"name": "d", "command": ["x"]}).sync_queue_limit == 3
    for limit in (0, 1, 10_000_000):
        fn = Function.from_spec({"name": "d", "command": ["x"], "sync_queue_limit": limit})
        assert fn.sync_queue_limit == limit
        assert Function.from_spec(fn.to_spec(), token=fn.token) == fn


@pytest.mark.parametrize("limit", [-1, 10_000_001, "3", True, 2.5])
def test_a_bad_sync_queue_limit_is_reported_by_its_path(limit):
    with pytest.raises(Invalid) as caught:
        Function.from_spec({"name": "d", "command": ["x"], "sync_queue_limit": limit})
    assert caught.value.errors == [{"path": "sync_queue_limit",
                                    "message": "must be a whole number from 0 to 10000000"}]


def test_the_variables_of_messages_and_parameters_are_sluices_own():
    with pytest.raises(Invalid) as caught:
        Function.from_spec({"name": "e", "command": ["x"], "environment": {
            "MESSAGE": "a", "MESSAGE_CONTENT_TYPE": "b", "PARAM_size": "c", "PARAMS": "d"}})
    assert {e["path"]: e["message"] for e in caught.value.errors} == {
        "environment.MESSAGE": "is set by Sluice for every invocation",
        "environment.MESSAGE_CONTENT_TYPE": "is set by Sluice for every invocation",
        "environment.PARAM_size": "names starting PARAM_ are set from an invocation's query "
                                  "parameters"}
