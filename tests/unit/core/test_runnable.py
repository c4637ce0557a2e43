"""What each executor needs of a function, checked at deploy against every executor that may
run it."""

import pytest

from core.errors import CannotRun, Invalid
from core.functions import Function
from core.runnable import check_deployable, check_runnable
from core.settings import Settings, WorkerSettings

IMAGE_ONLY = Function.from_spec({"name": "boxed", "image": "alpine:3"})
SCRIPT_ONLY = Function.from_spec({"name": "plain", "script": "true"})


def paths(exc: Invalid) -> list[str]:
    return [e["path"] for e in exc.errors]


@pytest.mark.parametrize("fn, executor, path", [
    (IMAGE_ONLY, "process", "command"),
    (SCRIPT_ONLY, "container", "image"),
    (SCRIPT_ONLY, "kubernetes", "image"),
    (IMAGE_ONLY, "kubernetes", "command"),
])
def test_each_executor_refuses_what_it_cannot_run(fn, executor, path):
    settings = Settings(worker=WorkerSettings(executor=executor))
    with pytest.raises(Invalid) as caught:
        check_deployable(fn, settings)
    assert paths(caught.value) == [path]
    with pytest.raises(CannotRun):
        check_runnable(fn, executor)


def test_with_pools_every_executor_that_may_run_a_function_is_asked():
    settings = Settings(deploy_executors={"boxed": ("container",), "*": ("process",)})
    with pytest.raises(Invalid) as caught:
        check_deployable(IMAGE_ONLY, settings, "functions.boxed.")
    assert paths(caught.value) == ["functions.boxed.command"]
    check_deployable(SCRIPT_ONLY, settings)


def test_a_function_no_pool_serves_is_refused():
    settings = Settings(deploy_executors={"plain": ("process",)})
    check_deployable(SCRIPT_ONLY, settings)
    with pytest.raises(Invalid, match="no worker pool serves function 'boxed'"):
        check_deployable(IMAGE_ONLY, settings)


def test_the_table_comes_from_one_setting():
    settings = Settings.from_env({"SLUICE_DEPLOY_EXECUTORS": "a=process, a=container,*=kubernetes"})
    assert settings.deploy_executors == {"a": ("process", "container"), "*": ("kubernetes",)}
    with pytest.raises(Invalid, match="SLUICE_DEPLOY_EXECUTORS"):
        Settings.from_env({"SLUICE_DEPLOY_EXECUTORS": "a=docker"})
