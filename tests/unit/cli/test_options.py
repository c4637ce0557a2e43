"""The global options may come before or after the command, as users type them."""

import pytest

from sluice.cli import _parser


@pytest.mark.parametrize("argv", [
    ["--json", "--url", "http://gw", "invoke", "hello", "--async"],
    ["invoke", "hello", "--async", "--json", "--url", "http://gw"],
    ["--url", "http://gw", "invoke", "--json", "hello", "--async"],
])
def test_global_options_are_taken_anywhere_on_the_line(argv):
    args = _parser().parse_args(argv)
    assert (args.json, args.url, args.name, args.is_async) == (True, "http://gw", "hello", True)


def test_without_them_the_defaults_hold():
    args = _parser().parse_args(["jobs"])
    assert (args.json, args.url, args.token) == (False, None, None)
