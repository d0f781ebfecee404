"""Canonical bytes: RFC 8785 vectors, and the fast path equals the rfc8785 library."""

from __future__ import annotations

import json

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import NotCanonicalError
from ledger.log.canonical import _check, _scan, canonical_bytes

# RFC 8785 §3.2.3 (sorting example): keys sort by UTF-16 code units, so the emoji's high
# surrogate (U+D83D) sorts before U+FB33 although its code point is larger.
SORTING_INPUT = ('{"\\u20ac":"Euro Sign","\\r":"Carriage Return","\\ufb33":"Hebrew Letter Dalet'
                 ' With Dagesh","1":"One","\\ud83d\\ude00":"Emoji: Grinning Face","\\u0080":'
                 '"Control","\\u00f6":"Latin Small Letter O With Diaeresis"}')
SORTING_KEYS = ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]

# RFC 8785 §3.2.2.2 (string serialisation), from the §3.2.3 example without its numbers,
# which our data never contains (no floats are hashed).
STRING_INPUT = ('{"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
                '"literals":[null,true,false]}')
STRING_OUTPUT = '{"literals":[null,true,false],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'


def test_rfc8785_sorting_vector() -> None:
    out = canonical_bytes(json.loads(SORTING_INPUT)).decode("utf-8")
    assert list(json.loads(out)) == SORTING_KEYS
    assert out == rfc8785.dumps(json.loads(SORTING_INPUT)).decode("utf-8")


def test_rfc8785_string_vector() -> None:
    assert canonical_bytes(json.loads(STRING_INPUT)).decode("utf-8") == STRING_OUTPUT


@pytest.mark.parametrize("value", [1.5, {"a": [0.0]}, 2**53, {"a": -(2**53)}, {1: "x"},
                                   {"bytes": b"x"}, "\ud800"])
def test_refuses_what_jcs_cannot_hash(value: object) -> None:
    with pytest.raises(NotCanonicalError):
        canonical_bytes(value)  # type: ignore[arg-type]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.text(st.characters(exclude_categories=("Cs",))),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(st.characters(exclude_categories=("Cs",)), max_size=6),
                      children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_equals_rfc8785_library(value: object) -> None:
    assert canonical_bytes(value) == rfc8785.dumps(value)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e),
                               max_size=8), json_values, max_size=6))
def test_ascii_keys_fast_path_equals_rfc8785(value: dict[str, object]) -> None:
    assert canonical_bytes(value) == rfc8785.dumps(value)  # type: ignore[arg-type]


anything = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.floats(allow_nan=False)
    | st.text(max_size=4) | st.binary(max_size=2),
    lambda children: st.lists(children, max_size=3) | st.tuples(children)
    | st.dictionaries(st.text(max_size=3) | st.integers(0, 3), children, max_size=3),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(anything)
def test_lean_scan_agrees_with_the_careful_check(value: object) -> None:
    # The lean scan decides alone only where it is sure; elsewhere the careful check decides.
    scanned = _scan(value)
    try:
        careful: bool | None = _check(value, "$")
    except NotCanonicalError:
        careful = None
    if scanned is not None:
        assert scanned == careful
