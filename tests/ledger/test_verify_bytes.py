"""verify assembles JCS(entry) around the filing's bytes; it must equal the one encoder."""

from __future__ import annotations

import uuid
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.canonical import JSONValue
from ledger.entries import Entry, Filing
from ledger.errors import NotCanonicalError
from ledger.verify import _entry_bytes

texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=8)


@settings(max_examples=300, deadline=None)
@given(signature=texts, seq=st.integers(1, 2**40),
       payload=st.dictionaries(texts, texts | st.integers(-(2**53) + 1, 2**53 - 1), max_size=4))
def test_assembled_entry_bytes_equal_canonical(signature: str, seq: int,
                                               payload: dict[str, JSONValue]) -> None:
    filing = Filing("o", uuid.uuid4(), "T", date(2025, 1, 1), payload, "a", "k", uuid.uuid4())
    entry = Entry(filing, signature, seq, "0" * 64, "2026-01-01T00:00:00.000000Z")
    try:
        expected = entry.canonical()
    except NotCanonicalError:
        return
    assert _entry_bytes(entry, filing.signing_bytes()) == expected
