import pytest

from core.errors import Invalid
from core.functions import Function
from core.keys import check_key, file_name


@pytest.mark.parametrize("key", ["../etc/passwd", "a/../../b", "/abs/path", "a/./b", "nul\0x",
                                 "dir/", "", "x" * 2000])
def test_hostile_keys_are_refused(key):
    with pytest.raises(Invalid):
        check_key(key)


@pytest.mark.parametrize("key, name", [("in/a b+ü.txt", "a b+ü.txt"), ("plain", "plain"),
                                       ("deep/er/x..y", "x..y")])
def test_files_are_named_by_the_last_part_of_the_key(key, name):
    assert file_name(key) == name


def test_functions_without_folders_get_scar_conventions():
    fn = Function.from_spec({"name": "resize", "script": "true"}).resolved("data")
    [trigger] = fn.input
    assert (trigger.bucket, trigger.prefix) == ("data", "resize/input/")
    [output] = fn.outputs
    assert (output.bucket, output.prefix) == ("data", "resize/output")
    assert output.key("J1", "a/b.png") == "resize/output/J1/a/b.png"


def test_an_empty_input_list_means_http_only():
    fn = Function.from_spec({"name": "h", "script": "true", "input": []}).resolved("data")
    assert fn.input == ()


def test_triggers_match_bucket_prefix_and_suffix():
    fn = Function.from_spec({"name": "t", "script": "true", "input": [
        {"bucket": "pics", "prefix": "in/", "suffix": [".jpg", ".png"]}]}).resolved("data")
    [trigger] = fn.input
    assert trigger.matches("pics", "in/a.jpg") and trigger.matches("pics", "in/x/b.png")
    assert not trigger.matches("pics", "in/a.gif")
    assert not trigger.matches("other", "in/a.jpg") and not trigger.matches("pics", "out/a.jpg")


def test_outputs_that_trigger_the_function_itself_need_a_guard():
    spec = {"name": "loop", "script": "true", "input": [{"bucket": "bk1", "prefix": "x/"}],
            "output": {"bucket": "bk1", "prefix": "x/done"}}
    with pytest.raises(Invalid) as caught:
        Function.from_spec(spec).resolved("data")
    assert caught.value.errors[0]["path"] == "output"
    guarded = Function.from_spec(spec | {"guard": {"max_depth": 3}}).resolved("data")
    assert guarded.guard_depth == 3


@pytest.mark.parametrize("bad, path", [
    ({"input": [{"bucket": "UP"}]}, "input.0.bucket"),
    ({"input": [{"prefix": "../x"}]}, "input.0.prefix"),
    ({"input": [{"suffix": [""]}]}, "input.0.suffix"),
    ({"input": [{"scan_interval": 1}]}, "input.0.scan_interval"),
    ({"input": [{"colour": 1}]}, "input.0.colour"),
    ({"input": "x"}, "input"),
    ({"guard": {"max_depth": 0}}, "guard"),
])
def test_bad_triggers_are_reported_by_path(bad, path):
    with pytest.raises(Invalid) as caught:
        Function.from_spec({"name": "t", "script": "true", **bad})
    assert [e["path"] for e in caught.value.errors] == [path]
