"""verify's shortcuts on entry bytes must agree with the one encoder and the strict parser.

``ledger.log.verify_worker`` decodes each entry once and decides canonical form, the signed bytes
and the parse from that one decoding; each shortcut is compared here with the slow, obvious
way (``canonical_bytes``, ``Filing.signing_bytes``, ``Entry.parse``).
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from datetime import date
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import MalformedEntryError, NotCanonicalError
from ledger.log.canonical import JSONValue, canonical_bytes
from ledger.log.entries import TOO_DEEP, Entry, Filing
from ledger.log.verify_worker import (
    EntryFields,
    entry_fields,
    entry_from_json,
    load_canonical,
    signed_bytes,
)

texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=8)
numbers = st.integers(-(2**53) + 1, 2**53 - 1)
json_values = st.recursive(
    st.none() | st.booleans() | numbers | st.integers() | st.floats() | texts,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(texts, children, max_size=4),
    max_leaves=20,
)


def _slow_flag(data: bytes) -> bool:
    """What load_canonical's flag must equal."""
    try:
        return canonical_bytes(json.loads(data)) == data
    except NotCanonicalError:
        return False


def _encodings(value: Any) -> list[bytes]:
    """The value's JCS (where it has one) and several near misses."""
    out = [json.dumps(value).encode(), json.dumps(value, ensure_ascii=False).encode("utf-8",
                                                                                       "replace"),
           json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
           .encode("utf-8", "surrogatepass")]
    with contextlib.suppress(NotCanonicalError):
        out.append(canonical_bytes(value))
    # orjson's own sorted form: what load_canonical's fast path compares with, so these
    # reach it with orjson's way of writing floats and large integers.
    with contextlib.suppress(orjson.JSONEncodeError):
        out.append(orjson.dumps(value, option=orjson.OPT_SORT_KEYS))
    return out


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_canonical_flag_equals_the_encoder(value: Any) -> None:
    for data in _encodings(value):
        try:
            expected_value = json.loads(data)
        except ValueError as exc:
            with pytest.raises(ValueError, match=re.escape(str(exc))):
                load_canonical(data)
            continue
        parsed, canonical = load_canonical(data)
        assert canonical == _slow_flag(data), data
        assert json.dumps(parsed) == json.dumps(expected_value)


@pytest.mark.parametrize("data", [
    # RFC 8785 §3.2.3: the emoji key sorts before U+FB33 in UTF-16, after it by code point.
    '{"\U0001f600":1,"\ufb33":2}'.encode(), '{"\ufb33":2,"\U0001f600":1}'.encode(),
    b'{"a":1.0}', b'{"a":NaN}', b'{"a":9007199254740992}', b'{"a":9007199254740991}',
    b'{"a":-0}', b'{"a":"\\ud800"}', b'{"a":"\\u00e9"}', '{"a":"é"}'.encode(),
    b'\xef\xbb\xbf{"a":1}', b'{"a":1,"a":1}', b'{"b":1,"a":2}', b' {"a":1}', b'{"a":"\\/"}',
    b'{"a":"\\u001f"}', b'{"a":"\\u001F"}', b'{"a":"\x7f"}',
    b'{"a":1} ', b'{"a":1}\n', b'\t{"a":1}', b'1', b'"a"',
    # Numbers the fast path's C decoder and encoder write as they read them: JCS refuses them.
    b'{"a":-9007199254740992}', b'{"a":-9007199254740991}', b'{"a":18446744073709551617}',
    b'{"a":123456789012345678901234567890}', b'1.0', b'1e5', b'-0.0', b'[1.5]', b'{"a":[0.1]}',
    b'{"a":1E+2}', b'{"a":"\\ud800\\udc00"}', '{"a":"\U00010000"}'.encode(),
])
def test_canonical_flag_edge_cases(data: bytes) -> None:
    assert load_canonical(data)[1] == _slow_flag(data)


@pytest.mark.parametrize("depth", [10, 500])
def test_nesting_within_the_stack_parses(depth: int) -> None:
    data = b'{"filing":' + b"[" * depth + b"]" * depth + b"}"
    assert load_canonical(data) == (json.loads(data), True)


@pytest.mark.parametrize("depth", [5_000, 100_000])
def test_nesting_past_the_stack_is_malformed_not_a_crash(depth: int) -> None:
    """An edited row nested deeper than the parsers' stacks is a malformed entry (a
    ValueError naming it), never a RecursionError that would stop ``ledger verify``."""
    data = b'{"filing":' + b"[" * depth + b"]" * depth + b"}"
    with pytest.raises(ValueError, match=TOO_DEEP):
        load_canonical(data)
    with pytest.raises(MalformedEntryError, match=TOO_DEEP):
        Entry.parse(data)


@pytest.mark.parametrize("data", [b"", b"{", b"\xff", b'{"a":}', b"[1,]", b'{"a":1}x',
                                  b'{"a":1}{}', b"   "])
def test_not_json_raises_as_json_loads(data: bytes) -> None:
    try:
        json.loads(data)
    except ValueError as exc:
        message = str(exc)
    with pytest.raises(ValueError, match=re.escape(message)):
        load_canonical(data)


@settings(max_examples=300, deadline=None)
@given(signature=texts, seq=st.integers(1, 2**40),
       payload=st.dictionaries(texts, texts | numbers, max_size=4))
def test_signed_bytes_equal_the_filings_jcs(signature: str, seq: int,
                                            payload: dict[str, JSONValue]) -> None:
    filing = Filing("o", uuid.uuid4(), "T", date(2025, 1, 1), payload, "a", "k", uuid.uuid4())
    entry = Entry(filing, signature, seq, "0" * 64, "2026-01-01T00:00:00.000000Z")
    try:
        data = entry.canonical()
    except NotCanonicalError:
        return
    fields = entry_fields(json.loads(data), stream="s", seq=1)
    assert signed_bytes(fields, data, True) == filing.signing_bytes()
    assert signed_bytes(fields, data + b" ", True) == filing.signing_bytes()  # no blind slice
    assert signed_bytes(fields, data, False) == filing.signing_bytes()


@pytest.mark.parametrize("signature", ['c2ln,"prev":"', "c2ln", '",\\"prev\\":"'])
def test_signed_bytes_with_prev_inside_the_filing(signature: str) -> None:
    """The filing is cut where the entry's own ``"prev"`` member begins, not at a payload
    member of that name, nor at those bytes inside a string."""
    payload: dict[str, JSONValue] = {"prev": "x", "z": {"prev": ',"prev":"'}, "a": ["prev"]}
    filing = Filing("o", uuid.uuid4(), "T", date(2025, 1, 1), payload, "a", "k", uuid.uuid4())
    data = Entry(filing, signature, 3, "ab" * 32, "2026-01-01T00:00:00.000000Z").canonical()
    assert data.count(b'"prev":') >= 3
    fields = entry_fields(json.loads(data), stream="s", seq=3)
    assert signed_bytes(fields, data, True) == filing.signing_bytes()


def _entry_json() -> dict[str, Any]:
    filing = Filing("o", uuid.uuid4(), "T", date(2025, 1, 1), {"x": 1}, "a", "k", uuid.uuid4())
    entry = Entry(filing, "c2ln", 3, "ab" * 32, "2026-01-01T00:00:00.000000Z")
    return json.loads(entry.canonical())  # type: ignore[no-any-return]


# Fixed ids: parameter ids must be the same in every pytest-xdist worker.
_U1, _U2 = uuid.UUID(int=0x1234_5678_9ABC_DEF0), uuid.UUID(int=0xFEDC_BA98_7654_3210)

MUTATIONS: list[tuple[str, Any]] = [
    ("", None), ("seq", 0), ("seq", True), ("seq", "3"), ("seq", 2**60), ("seq", 1.0),
    ("prev", "AB" * 32), ("prev", 1), ("prev", "ab" * 32 + "\n"),
    ("recorded_at", "2026-01-01T00:00:00Z"), ("recorded_at", "２026-01-01T00:00:00.000000Z"),
    ("signature", 5), ("signature", ""), ("filing", []), ("filing", None),
    ("filing.v", 2), ("filing.v", True), ("filing.v", 1.0), ("filing.v", "1"),
    ("filing.stream", "NOT-A-UUID"), ("filing.stream", str(_U1).replace("-", "")),
    ("filing.stream", "{" + str(_U1) + "}"), ("filing.stream", 7),
    ("filing.nonce", str(_U2).upper()), ("filing.nonce", "urn:uuid:" + str(_U2)),
    ("filing.effective", "2025-1-1"), ("filing.effective", "2025-02-30"),
    ("filing.effective", "20250101"), ("filing.effective", "2025-W01-1"),
    ("filing.effective", "２０２５-01-01"), ("filing.effective", "0000-01-01"),
    ("filing.payload", []), ("filing.payload", None), ("filing.actor", ""), ("filing.key", None),
    ("filing.ledger", ["o"]), ("filing.type", ""), ("filing.extra", 1),
    ("extra", 1), ("-signature", None), ("-filing.key", None), ("-filing.v", None),
]


@pytest.mark.parametrize(("path", "value"), MUTATIONS)
def test_entry_from_json_equals_entry_parse(path: str, value: Any) -> None:
    obj = _entry_json()
    if path:
        target, name = obj, path.lstrip("-")
        if "." in name:
            head, name = name.split(".", 1)
            target = obj[head]
        if path.startswith("-"):
            del target[name]
        else:
            target[name] = value
    data = json.dumps(obj).encode()
    try:
        expected: Entry | str = Entry.parse(data, stream="s", seq=1)
    except MalformedEntryError as exc:
        expected = exc.what
    try:
        got: Entry | str = entry_from_json(json.loads(data), stream="s", seq=1)
    except MalformedEntryError as exc:
        got = exc.what
    assert got == expected
    try:
        fields: EntryFields | str = entry_fields(json.loads(data), stream="s", seq=1)
    except MalformedEntryError as exc:
        fields = exc.what
    if isinstance(expected, str):
        assert fields == expected
    else:
        assert isinstance(fields, EntryFields)
        filing = expected.filing
        assert fields[:9] == (expected.seq, expected.prev, expected.recorded_at,
                              expected.signature, str(filing.stream), filing.type, filing.ledger,
                              filing.key, filing.actor)
        assert Filing.from_json(fields.filing) == filing
