"""The canonical JSON encoding, byte for byte (docs/audit.md, db/canonical.py)."""

from __future__ import annotations

import hashlib
import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from db import canonical

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def test_keys_sorted_no_whitespace_utf8_as_written() -> None:
    assert canonical.encode({"b": 1, "a": [True, None, "é"]}) == '{"a":[true,null,"é"],"b":1}'


def test_keys_sort_by_code_point() -> None:
    assert canonical.encode({"é": 1, "z": 2, "Z": 3, "10": 4, "9": 5}) == (
        '{"10":4,"9":5,"Z":3,"z":2,"é":1}'
    )


def test_only_quote_backslash_and_control_characters_are_escaped() -> None:
    text = 'a"b\\c\nd\te\x00f\x1fg\x7fh\u2028i'
    assert canonical.encode(text) == '"a\\"b\\\\c\\nd\\te\\u0000f\\u001fg\x7fh\u2028i"'


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (100.0, "100.0"),
        (0.1, "0.1"),
        (-0.0, "-0.0"),
        (1e-05, "1e-05"),
        (0.0001, "0.0001"),
        (1.5e16, "1.5e+16"),
        (1e15, "1000000000000000.0"),
        (2**70, "1180591620717411303424"),
        (-7, "-7"),
    ],
)
def test_numbers(value: float, text: str) -> None:
    assert canonical.encode(value) == text


@pytest.mark.parametrize(
    "value",
    [math.nan, math.inf, -math.inf, {1, 2}, b"x", {1: "a"}, {"a": [{10: 1, 9: 2}]}, [math.nan]],
)
def test_values_without_a_canonical_form_are_refused(value: object) -> None:
    # integer keys: json writes {10: 1, 9: 2} as {"9":2,"10":1} (sorted as numbers), which
    # reads back as string keys whose canonical order is "10" before "9"
    with pytest.raises(canonical.NotCanonical):
        canonical.encode(value)


def test_digest_is_the_sha256_of_the_utf8_text() -> None:
    assert canonical.digest({"é": 1}) == hashlib.sha256('{"é":1}'.encode()).hexdigest()


@given(JSON)
def test_encoding_round_trips_and_is_a_fixed_point(value: object) -> None:
    text = canonical.encode(value)
    assert json.loads(text) == value or value != value
    assert canonical.is_canonical(text)
    assert canonical.encode(json.loads(text)) == text


def test_other_spellings_are_not_canonical() -> None:
    assert canonical.is_canonical('{"a":1,"b":2}')
    assert not canonical.is_canonical('{"b":2,"a":1}')
    assert not canonical.is_canonical('{"a": 1}')
    assert not canonical.is_canonical('{"a":1,"a":1}')
    assert not canonical.is_canonical('"\\u00e9"')
    assert not canonical.is_canonical("1.0e2")
