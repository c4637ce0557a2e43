"""`sluice invoke` sends text as text/plain, a file with the type its name suggests, and
each --param NAME=VALUE as a query parameter that the function sees as $PARAM_NAME."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from sluice import cli

SHOWS = 'printf "%s|%s|%s|%s" "$MESSAGE_CONTENT_TYPE" "$MESSAGE" "$PARAM_size" "$PARAM_name"'


async def sluice(api, *argv: str) -> int:
    line = [*argv, "--url", str(api.client.make_url("")).rstrip("/"), "--token", api.token]
    with ThreadPoolExecutor(1) as pool:
        return await asyncio.get_running_loop().run_in_executor(pool, cli.main, line)


@pytest.fixture
async def shows(local_api):
    await local_api.deploy("shows", script=SHOWS)
    return local_api


async def test_text_is_a_message_and_params_become_variables(shows, capfd):
    code = await sluice(shows, "invoke", "shows", "--text", "héllo", "-p", "size=10",
                        "--param", "name=a b&c=d")
    assert (code, capfd.readouterr().out) == (
        0, "text/plain; charset=utf-8|héllo|10|a b&c=d")


async def test_a_file_goes_with_the_type_its_name_suggests_unless_one_is_given(
        shows, capfd, tmp_path):
    document = tmp_path / "in.json"
    document.write_text('{"a": 1}')
    assert await sluice(shows, "invoke", "shows", "--input", str(document)) == 0
    assert capfd.readouterr().out == 'application/json|{"a": 1}||'
    assert await sluice(shows, "invoke", "shows", "--input", str(document),
                        "--content-type", "application/octet-stream") == 0
    assert capfd.readouterr().out == "application/octet-stream|||"


async def test_a_bad_parameter_is_refused_by_its_name(shows, capfd):
    assert await sluice(shows, "invoke", "shows", "-p", "1st=x") == 1
    assert "query.1st: is not a parameter name" in capfd.readouterr().err
    assert await sluice(shows, "invoke", "shows", "-p", "novalue") == 1
    assert "--param 'novalue' must be NAME=VALUE" in capfd.readouterr().err
