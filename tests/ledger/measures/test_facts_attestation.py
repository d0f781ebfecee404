"""The fold with history attestations (历史记录确认): deterministic, and it moves the day of an
entry only when an attestation of the entry's own group commit names it, and never later than the
ledger's own day."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.measures.facts import FactEntry, ProjectFacts, empty_facts, fold, recorded_on

_START = date(2025, 1, 6)

# A commit: its day offset and, per entry, (named by the commit's attestation?, days before the
# ledger's day it is attested as received — negative: after it), plus nonces of other commits'
# entries the attestation also names.
_commit = st.tuples(
    st.integers(min_value=1, max_value=3),
    st.lists(st.tuples(st.booleans(), st.integers(min_value=-3, max_value=400)),
             min_size=1, max_size=5),
    st.booleans(),
    st.lists(st.integers(min_value=0, max_value=30), max_size=3),
)


def _nonce(n: int) -> str:
    return str(uuid.UUID(int=n + 1))


def _history(commits: list[tuple[int, list[tuple[bool, int]], bool, list[int]]],
             ) -> tuple[list[FactEntry], dict[int, str]]:
    """The entries, and for each incident (by its number) the day the fold must give it."""
    entries: list[FactEntry] = []
    expected: dict[int, str] = {}
    day = _START
    number = 0
    seq = 0
    for gap, rows, attest, foreign in commits:
        day += timedelta(days=gap)
        stamp = f"{day.isoformat()}T02:00:00.000000Z"
        numbers = list(range(number, number + len(rows)))
        number += len(rows)
        named = [{"nonce": _nonce(n), "received_on": (day - timedelta(days=back)).isoformat()}
                 for n, (name, back) in zip(numbers, rows, strict=True) if name]
        named += [{"nonce": _nonce(n), "received_on": day.isoformat()} for n in foreign
                  if n not in numbers]
        if attest and named:
            seq += 1
            entries.append(FactEntry("HistoryAttested", {"source": "a" * 64, "entries": named},
                                     seq, f"h{seq}", stamp, day.isoformat(), "office-li",
                                     str(uuid.uuid4())))
        for n, (name, back) in zip(numbers, rows, strict=True):
            seq += 1
            entries.append(FactEntry("IncidentReported", {}, seq, f"h{seq}", stamp,
                                     day.isoformat(), "edu-wang", _nonce(n)))
            attested = day - timedelta(days=back)
            expected[seq] = (attested.isoformat() if attest and name and back >= 0
                             else recorded_on(stamp))
    return entries, expected


def _fold_all(entries: list[FactEntry]) -> ProjectFacts:
    facts = empty_facts("p")
    for entry in entries:
        facts = fold(facts, entry)
    return facts


@settings(max_examples=150, deadline=None)
@given(st.lists(_commit, min_size=1, max_size=6))
def test_attested_days_move_only_entries_their_own_commit_names(
        commits: list[tuple[int, list[tuple[bool, int]], bool, list[int]]]) -> None:
    entries, expected = _history(commits)
    facts = _fold_all(entries)
    assert facts == _fold_all(entries)  # deterministic
    assert {ref.seq: ref.recorded_on for ref in facts.incidents} == expected
    for ref, entry in zip(facts.incidents, [e for e in entries if e.type != "HistoryAttested"],
                          strict=True):
        ledger_day = recorded_on(entry.recorded_at)
        assert ref.recorded_on <= ledger_day
        assert ref.ledger_recorded_on in (None, ledger_day)
        if ref.ledger_recorded_on is None:
            assert ref.recorded_on == ledger_day
    # What an attestation named that did not follow in its commit never dates a later entry.
    assert all(a.at == entries[-1].recorded_at for a in facts.attesting)
