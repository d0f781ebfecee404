"""Filings and entries parse strictly and serialise exactly as docs/design.md §5 shows."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import MalformedEntryError
from ledger.log.canonical import canonical_bytes
from ledger.log.entries import ZERO_HASH, Entry, Filing, PendingEntry, format_time, parse_time

STREAM = uuid.UUID("6f1d2c1e-3b0a-5d7e-9a4b-8c2f0e1d3a5b")
FILING = Filing(ledger="o", stream=STREAM, type="ContractFiled",
                effective=date(2026, 3, 2), payload={"amount_fen": 5}, actor="a", key="k",
                nonce=uuid.UUID(int=2))


def test_filing_json_has_exactly_the_design_fields() -> None:
    assert FILING.to_json() == {
        "v": 1, "ledger": "o", "stream": str(STREAM), "type": "ContractFiled",
        "effective": "2026-03-02", "payload": {"amount_fen": 5}, "actor": "a", "key": "k",
        "nonce": str(uuid.UUID(int=2))}
    assert Filing.from_json(json.loads(FILING.signing_bytes())) == FILING


def test_entry_round_trips_through_its_canonical_bytes() -> None:
    entry = Entry(FILING, "c2ln", 1, ZERO_HASH, "2026-03-02T01:02:03.000004Z")
    data = entry.canonical()
    assert data == canonical_bytes(entry.to_json())
    assert Entry.parse(data) == entry


@pytest.mark.parametrize("change", [
    {"seq": 0}, {"seq": True}, {"prev": "AB" * 32}, {"prev": "0" * 63},
    {"recorded_at": "2026-03-02T01:02:03Z"}, {"extra": 1}, {"signature": 5},
])
def test_malformed_entries_are_refused(change: dict[str, object]) -> None:
    entry = Entry(FILING, "c2ln", 1, ZERO_HASH, "2026-03-02T01:02:03.000004Z").to_json()
    entry.update(change)  # type: ignore[arg-type]
    with pytest.raises(MalformedEntryError):
        Entry.parse(json.dumps(entry).encode(), stream="s", seq=1)


def test_filing_refuses_non_canonical_uuid_and_date_forms() -> None:
    data = FILING.to_json()
    for key, value in (("stream", str(STREAM).upper()), ("effective", "2026-3-2"),
                       ("v", 2)):
        with pytest.raises(ValueError, match=r"."):
            Filing.from_json(dict(data, **{key: value}))


def test_times_are_utc_microseconds_and_sort_as_strings() -> None:
    moment = datetime(2026, 3, 2, 9, 2, 3, 4, tzinfo=timezone(timedelta(hours=8)))
    assert format_time(moment) == "2026-03-02T01:02:03.000004Z"
    assert parse_time(format_time(moment)) == moment.astimezone(UTC)
    earlier, later = format_time(moment), format_time(moment + timedelta(microseconds=1))
    assert earlier < later


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12)


@given(payload=st.dictionaries(st.text(), _JSON, max_size=5), signature=st.text(),
       seq=st.integers(1, 2**53 - 1), recorded_at=st.text())
def test_spliced_canonical_bytes_equal_jcs_of_the_whole(
        payload: dict[str, object], signature: str, seq: int, recorded_at: str) -> None:
    # Entries are assembled around the filing's cached bytes; the result must be JCS itself.
    filing = Filing(ledger="o", stream=STREAM, type="ContractFiled",
                    effective=date(2026, 3, 2), payload=payload, actor="a", key="k",
                    nonce=uuid.UUID(int=2))
    entry = Entry(filing, signature, seq, ZERO_HASH, recorded_at)
    assert entry.canonical() == canonical_bytes(entry.to_json())
    pending = PendingEntry(filing, signature, seq)
    assert pending.canonical() == canonical_bytes(pending.to_json())
    assert filing.signing_bytes() == canonical_bytes(filing.to_json())


@pytest.mark.parametrize("stored", [1.5, 7, "text", None])
def test_an_entry_stored_as_another_type_is_malformed(stored: object) -> None:
    """SQLite keeps any type in a blob column: an edited row is named, not an AttributeError."""
    with pytest.raises(MalformedEntryError, match="not bytes"):
        Entry.parse(stored)  # type: ignore[arg-type]
