"""Invocation parameters read from the query string as sent. The split and the decoding
follow the URL Standard's application/x-www-form-urlencoded parser
(https://url.spec.whatwg.org/#urlencoded-parsing, steps 1 and 3: sequences split on `&`,
empty ones skipped; the first `=` divides name from value, a sequence without one is a name
with an empty value; `+` is a space, then percent-decoding), except that bytes that are not
UTF-8 are refused instead of replaced with U+FFFD."""

from __future__ import annotations

import pytest

from core.errors import Invalid
from core.params import MAX_PARAMS, MAX_VALUE_BYTES, parse_query, variables

NOT_A_NAME = "is not a parameter name: 1 to 64 letters, digits and '_', not starting with a digit"


def refusals(raw: str) -> dict[str, str]:
    with pytest.raises(Invalid) as refused:
        parse_query(raw)
    return {error["path"]: error["message"] for error in refused.value.errors}


def test_names_and_values_are_split_and_decoded_as_forms_are():
    assert parse_query("a=1&&b=x+y%20z&flag&eq=a=b&caf=%C3%A9&_n9=") == {
        "a": "1", "b": "x y z", "flag": "", "eq": "a=b", "caf": "é", "_n9": ""}
    assert parse_query("") == {}


def test_they_become_prefixed_variables():
    assert variables({"size": "10", "Name": "x"}) == {"PARAM_size": "10", "PARAM_Name": "x"}


@pytest.mark.parametrize("raw, path", [
    ("9lives=1", "query.9lives"), ("with-dash=1", "query.with-dash"), ("=1", "query."),
    ("caf%C3%A9=1", "query.café"), ("a%0A=1", "query.a\n"), ("%FF=1", "query.%FF"),
    (f"{'n' * 65}=1", f"query.{'n' * 65}"),
])
def test_a_name_that_cannot_be_a_variable_is_refused_by_its_path(raw, path):
    assert refusals(raw) == {path: NOT_A_NAME}


@pytest.mark.parametrize("raw, message", [
    ("v=a%00b", "must not hold NUL"),
    ("v=%FF%FE", "must be UTF-8 text"),
    ("v=%ED%A0%80", "must be UTF-8 text"),  # an encoded surrogate
    (f"v={'x' * (MAX_VALUE_BYTES + 1)}", f"must be at most {MAX_VALUE_BYTES} bytes"),
    ("v=1&v=2", "is given more than once"),
])
def test_a_bad_value_is_refused_by_its_name(raw, message):
    assert refusals(raw) == {"query.v": message}


def test_every_bad_parameter_is_named_at_once():
    assert refusals("ok=1&1=x&ok=2&n=%00") == {
        "query.1": NOT_A_NAME, "query.ok": "is given more than once",
        "query.n": "must not hold NUL"}


def test_their_count_and_their_size_together_are_bounded():
    assert len(parse_query("&".join(f"p{i}=1" for i in range(MAX_PARAMS)))) == MAX_PARAMS
    assert refusals("&".join(f"p{i}=1" for i in range(MAX_PARAMS + 1))) == {
        "query": f"{MAX_PARAMS + 1} parameters, more than {MAX_PARAMS}"}
    big = "&".join(f"p{i}={'x' * 4000}" for i in range(5))
    assert refusals(big) == {"query": "the parameters hold 20010 bytes together, more than "
                                      "16384"}
