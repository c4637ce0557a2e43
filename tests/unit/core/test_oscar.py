"""OSCAR service definitions, translated: what OSCAR's own sources say it reads, as they say
it (pkg/types/service.go at grycap/oscar 7ade09e, the v3.3.0 struct oscar-cli sends)."""

import pytest

from core import oscar
from core.errors import Invalid
from core.functions import Function
from core.jobs import Job, JobStatus, Trigger
from core.triggers import OutputSpec

STORE = {"endpoint": "https://s3.example.org", "region": "eu-west-1"}
# Every field oscar-cli v1 marshals from OSCAR v3.3.0's types.Service (pkg/types/service.go
# lines 114-266 at tag v3.3.0), at Go's zero value but for those the FDL set.
OSCAR_CLI_BODY = {
    "name": "grayify", "cluster_id": "oscar-cluster", "memory": "1Gi", "cpu": "1.0",
    "total_memory": "", "total_cpu": "", "enable_gpu": False, "enable_sgx": False,
    "image_prefetch": False, "synchronous": {"min_scale": 0, "max_scale": 0},
    "delegation": "", "rescheduler_threshold": 0, "log_level": "", "image": "ghcr.io/x",
    "alpine": False, "token": "", "file_stage_in": False,
    "input": [{"storage_provider": "minio", "path": "grayify/in"}],
    "output": [{"storage_provider": "minio", "path": "grayify/out"}], "script": "echo hi",
    "expose": {"min_scale": 0, "max_scale": 0, "cpu_threshold": 0, "rewrite_target": False,
               "nodePort": 0, "default_command": False, "set_auth": False},
    "environment": {"Variables": None}, "annotations": None, "vo": "", "labels": None,
    "storage_providers": {}, "clusters": {"oscar-cluster": {"endpoint": "https://o.example",
                                                            "auth_user": "oscar"}},
    "owner": "", "interlink_node_name": "", "allowed_users": None,
    "mount": {"storage_provider": "", "path": ""},
}


def function(service: dict) -> Function:
    return Function.from_spec(oscar.to_spec(service)).resolved("data")


def test_the_zero_values_oscar_cli_sends_for_every_field_are_accepted():
    fn = function(OSCAR_CLI_BODY)
    assert [(i.bucket, i.prefix) for i in fn.input] == [("grayify", "in/")]
    assert [(o.bucket, o.prefix, o.layout) for o in fn.outputs] == [("grayify", "out", "flat")]


@pytest.mark.parametrize("field, value", [
    ("expose", {"api_port": 5000}), ("kserve", {"type": "inference"}),
    ("volume", {"size": "1Gi", "mount_path": "/data"}), ("file_stage_in", True),
    ("interlink_node_name", "vega-new-vk"), ("mount", {"path": "b/middle"}),
    ("replicas", [{"type": "oscar"}]), ("image_pull_secrets", ["regcred"])])
def test_what_sluice_does_not_do_is_refused_by_name_once_set(field, value):
    with pytest.raises(Invalid) as caught:
        oscar.to_spec(OSCAR_CLI_BODY | {field: value})
    assert [e["path"] for e in caught.value.errors] == [field]


def test_keys_match_whatever_their_case_as_go_encoding_json_matches_them():
    """OSCAR's examples write `environment: {Variables: ...}` (examples/cowsay/cowsay.yaml);
    encoding/json "prefer[s] an exact match but also accept[s] a case-insensitive match"
    (https://pkg.go.dev/encoding/json#Unmarshal)."""
    fn = function({"Name": "cowsay", "Script": "cowsay", "environment": {
        "Variables": {"INPUT_TYPE": "json", "SEND": False}}})
    assert fn.name == "cowsay" and fn.environment == {"INPUT_TYPE": "json", "SEND": "false"}
    exact = function({"name": "e", "script": "x", "environment": {
        "variables": {"A": "exact"}, "VARIABLES": {"A": "case"}}})
    assert exact.environment == {"A": "exact"}


def test_a_path_of_one_part_is_a_folder_of_the_bucket_named_for_the_service():
    """normalizeStoragePaths, pkg/handlers/create.go lines 574-607."""
    fn = function({"name": "svc", "script": "x", "input": [{"path": "in"}],
                   "output": [{"path": "/out/"}]})
    assert (fn.input[0].bucket, fn.input[0].prefix) == ("svc", "in/")
    assert (fn.outputs[0].bucket, fn.outputs[0].prefix) == ("svc", "out")


def test_several_outputs_keep_their_name_filters():
    """The FaaS Supervisor uploads a file to each output whose prefixes and suffixes it
    matches (faassupervisor/storage/config.py, upload_output)."""
    fn = function({"name": "two", "script": "x", "output": [
        {"path": "bk1/images", "suffix": [".png"]},
        {"path": "bk1/reports", "prefix": ["report-"], "suffix": [".txt", ".csv"]}]})
    images, reports = fn.outputs
    assert images.takes("a/x.png") and not images.takes("x.txt")
    assert reports.takes("report-1.csv") and not reports.takes("other.csv")
    assert not reports.takes("report-1.png")


def test_output_layouts_name_keys_flat_or_under_the_job():
    flat, per_job = OutputSpec("b", "out", "flat"), OutputSpec("b", "out")
    assert flat.key("J1", "x/y.png") == "out/x/y.png"
    assert per_job.key("J1", "x/y.png") == "out/J1/x/y.png"
    assert OutputSpec("b", "", "flat").key("J1", "y") == "y"


def test_a_function_without_output_writes_flat_under_the_conventional_folder():
    [output] = function({"name": "plain", "script": "x"}).outputs
    assert (output.bucket, output.prefix, output.layout) == ("data", "plain/output", "flat")


def test_refusals_of_the_translated_spec_name_oscar_s_fields():
    spec = oscar.to_spec({"name": "bad", "environment": {"variables": {"1X": "y"}},
                          "input": [{"path": "UPPER/in"}], "enable_gpu": "yes"})
    with pytest.raises(Invalid) as caught:
        Function.from_spec(spec)
    paths = {e["path"] for e in oscar.in_oscar_terms(caught.value).errors}
    assert paths == {"script", "environment.variables.1X", "input.0.path", "enable_gpu"}


def test_secrets_notset_and_unknown_fields():
    with pytest.raises(Invalid) as caught:
        oscar.to_spec({"name": "s", "script": "x", "surprise": 1,
                       "environment": {"secrets": {"K": "v"}, "extra": {}}})
    assert {e["path"] for e in caught.value.errors} == {
        "surprise", "environment.secrets", "environment.extra"}
    assert function({"name": "n", "script": "x", "log_level": "NOTSET"}).log_level == "DEBUG"


def test_a_service_is_shown_with_its_quantities_as_given_and_oscar_s_storage_provider():
    """checkValues, pkg/handlers/create.go lines 509-516: the default MinIO provider, its
    keys "hidden"."""
    fn = function({"name": "q", "script": "x", "memory": "300Mi", "cpu": "0.5",
                   "enable_gpu": True})
    shown = oscar.from_function(fn, with_token=True, store=STORE)
    assert (shown["memory"], shown["cpu"], shown["enable_gpu"]) == ("300Mi", "0.5", True)
    assert shown["storage_providers"] == {"minio": {"default": {
        "endpoint": "https://s3.example.org", "verify": True, "access_key": "hidden",
        "secret_key": "hidden", "region": "eu-west-1"}}}
    assert len(shown["token"]) == 64 and int(shown["token"], 16) >= 0
    again = function({k: v for k, v in shown.items() if k != "token"})
    assert again.to_spec() == fn.to_spec()


def test_a_job_is_summed_up_with_only_the_times_it_has():
    job = Job(id="01m82ej0z3g7ksj8gzanfqj9jv", function="f", revision=1,
              trigger=Trigger.HTTP, status=JobStatus.QUEUED, created_at=1764000000.5)
    assert oscar.job_summary(job) == {"status": "Pending",
                                      "creation_time": "2025-11-24T16:00:00.500Z"}
