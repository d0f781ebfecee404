"""``_canonical.scan_entry``: the compiled first look at an entry's bytes is never wrong.

It may only say "canonical" (returning the entry's envelope and filing) where the exact path
(:func:`ledger.log.verify_worker._load_exactly`, the standard library's parser and encoder)
says the bytes are the JCS form of their value, and what it returns must be that value, cut
below the filing. Everything else must be None, which sends the worker to the exact path. The
tests below generate values and their canonical bytes, edit canonical bytes one byte at a
time, and try the forms RFC 8785 rules out one by one.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import NotCanonicalError
from ledger.log import native
from ledger.log.canonical import canonical_bytes
from ledger.log.verify_worker import _load_exactly

pytestmark = pytest.mark.skipif(native.SCAN_ENTRY is None, reason="the compiled scan"
                                " (ledger/log/_canonical.c) is not built here: the exact path"
                                " decides every entry")


def scan(data: bytes) -> Any:
    assert native.SCAN_ENTRY is not None
    return native.SCAN_ENTRY(data)


def cut(value: Any, level: int = 2) -> Any:
    """``value`` as the scan builds it: containers below ``level`` stand empty."""
    if isinstance(value, dict):
        return {k: cut(v, level - 1) for k, v in value.items()} if level > 0 else {}
    if isinstance(value, list):
        return [cut(v, level - 1) for v in value] if level > 0 else []
    return value


def exact(data: bytes) -> tuple[Any, bool] | None:
    """The exact path's value and verdict; None where the bytes are not JSON at all."""
    try:
        return _load_exactly(data)
    except (ValueError, RecursionError):
        return None


def agrees(data: bytes) -> Any:
    """Assert the scan's answer is one the exact path allows; return it."""
    scanned = scan(data)
    if scanned is not None:
        found = exact(data)
        assert found is not None, data
        value, canonical = found
        assert canonical, data
        assert scanned == cut(value), data
        assert type(scanned) is dict
    return scanned


_KEYS = st.one_of(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=8),
                  st.text(max_size=4))
_SCALARS = st.one_of(st.none(), st.booleans(), st.text(), st.integers(-2**60, 2**60),
                     st.sampled_from([0, 2**53 - 1, -(2**53 - 1), 2**53, -(2**53)]))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(_KEYS, inner, max_size=5)), max_leaves=25)


def encoded(value: Any) -> bytes:
    """The value's canonical bytes where it has them, else its sorted compact JSON."""
    try:
        return canonical_bytes(value)
    except NotCanonicalError:
        return json.dumps(value, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode("utf-8", "surrogatepass")


def plain_keys(value: Any) -> bool:
    """Every key printable ASCII with nothing to escape (what the scan takes on)."""
    if isinstance(value, dict):
        return all(all(0x20 <= ord(c) <= 0x7E and c not in '"\\' for c in k)
                   and plain_keys(v) for k, v in value.items())
    if isinstance(value, list):
        return all(plain_keys(v) for v in value)
    return True


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(_KEYS, _VALUES, max_size=6))
def test_generated_values_are_scanned_as_the_exact_path_reads_them(value: dict[str, Any]) -> None:
    data = encoded(value)
    scanned = agrees(data)
    found = exact(data)
    if found is not None and found[1] and plain_keys(value):
        assert scanned is not None, data  # canonical with plain keys: the scan takes it


_ENTRY = canonical_bytes({
    "filing": {"actor": "unit-a", "effective": "2026-12-07", "key": "unit-a:1",
               "ledger": "ledger.example/projects", "nonce": "dd7c8695-6cd4-4516-878c-5eab157a2408",
               "payload": {"remarks": "按评审专家意见补充\u0001\"\\/\u007f 😀",
                           "n": [1, -2, 0, {"x": None}], "ok": True, "no": False,
                           "big": 2**53 - 1},
               "stream": "f7109c79-f0bc-4ac7-a392-30d4a61ee4d7", "type": "MaterialsSupplemented",
               "v": 1},
    "prev": "4b3257fb" * 8, "recorded_at": "2026-12-07T10:00:00.000000Z", "seq": 2,
    "signature": "c2lnbmF0dXJl"})


def test_a_canonical_entry_is_taken_with_its_payload_standing_empty() -> None:
    scanned = agrees(_ENTRY)
    assert scanned is not None
    assert scanned["filing"]["payload"] == {}
    assert scanned["seq"] == 2
    assert scanned["filing"]["actor"] == "unit-a"


@settings(max_examples=1500, deadline=None)
@given(at=st.integers(0, len(_ENTRY)), edit=st.sampled_from(["insert", "delete", "replace",
                                                             "swap"]),
       byte=st.one_of(st.sampled_from(b' \t\n\r",:{}[]\\-0.eE+u/'), st.integers(0, 255)))
def test_an_edited_entry_is_never_taken_for_what_it_is_not(at: int, edit: str,
                                                            byte: int) -> None:
    data = bytearray(_ENTRY)
    if edit == "insert":
        data.insert(at, byte)
    elif at < len(data):
        if edit == "delete":
            del data[at]
        elif edit == "replace":
            data[at] = byte
        elif at + 1 < len(data):
            data[at], data[at + 1] = data[at + 1], data[at]
    agrees(bytes(data))


@pytest.mark.parametrize("text", [
    '{"a":-0}', '{"a":1.0}', '{"a":1e3}', '{"a":1E3}', '{"a":01}', '{"a":9007199254740992}',
    '{"a":-9007199254740992}', '{"a":+1}', '{"a":"\\u001F"}', '{"a":"\\u0041"}',
    '{"a":"\\/"}', '{"a":"\\u000a"}', '{"a":"\\u007f"}', '{"a":"\\ud83d\\ude00"}',
    '{"a": 1}', ' {"a":1}', '{"a":1} ', '{"a":1}\n', '{"b":1,"a":2}', '{"a":1,"a":2}',
    '{"ab":1,"a":2}', '{"a":1,}', '{"a":[1,]}', '{"a":tru}', '{"a":nul}', '[1]', '"a"', '1',
    '{"\\u0061":1}', '{"é":1}', '{"a":"\x01"}', '{"a":"\n"}', '{}x', '{"a":1}{}',
])
def test_forms_jcs_rules_out_are_left_to_the_exact_path(text: str) -> None:
    assert scan(text.encode("utf-8")) is None


@pytest.mark.parametrize("data", [
    b'{"a":"\xc0\x80"}', b'{"a":"\xed\xa0\x80"}', b'{"a":"\xf4\x90\x80\x80"}', b'{"a":"\xff"}',
    b'{"a":"\xe6\x8c"}', b'\xef\xbb\xbf{"a":1}', b'{"a":"\xe0\x80\x80"}',
])
def test_bytes_that_are_not_shortest_utf8_are_left_to_the_exact_path(data: bytes) -> None:
    assert scan(data) is None


@pytest.mark.parametrize("text", [
    '{}', '{"a":0}', '{"a":-1}', '{"a":9007199254740991}', '{"a":-9007199254740991}',
    '{"a":"\\u001f\\b\\f\\n\\r\\t\\"\\\\"}', '{"a":"\x7f/"}', '{"":1,"a":{},"b":[]}',
    '{"a":"😀按"}', '{"a":[true,false,null,{"b":[{}]}]}',
])
def test_canonical_forms_are_taken(text: str) -> None:
    assert agrees(text.encode("utf-8")) is not None


def test_nesting_past_its_depth_is_left_to_the_exact_path() -> None:
    assert agrees(b'{"a":' + b"[" * 198 + b"]" * 198 + b"}") is not None
    assert scan(b'{"a":' + b"[" * 200 + b"]" * 200 + b"}") is None
    assert scan(b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}") is None
