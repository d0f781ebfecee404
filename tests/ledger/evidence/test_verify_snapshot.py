"""``ledger verify`` on a live ledger: it reads one snapshot, so filings committed while it runs
never make it fail, and a real defect is still found while others file.

Read statement by statement, a run that overlaps appends sees leaves beyond the checkpoints it
read, Merkle nodes beyond the leaves, or more entries than leaves; read from one snapshot
(PostgreSQL ``REPEATABLE READ``, one SQLite read transaction) it sees one log.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from uuid import UUID

from tampering import Tamperer
from test_tamper import build_history

from ledger.app import Ledger
from ledger.evidence.verify import verify_ledger
from ledger.measures.catalogue import EXAMPLES
from ledger.settings import Settings

RUNS = 20


@contextmanager
def filing_meanwhile(make_ledger: Callable[..., Ledger], streams: list[UUID],
                     ) -> Iterator[list[int]]:
    """File into ``streams`` from another ledger object (as another process would), one
    filing and then a group commit of three in turn, until the block ends; yields the count
    of filings made so far (one cell, updated as they land)."""
    filer = make_ledger()
    stop = threading.Event()
    count = [0]
    failures: list[BaseException] = []
    payload = EXAMPLES["MaterialsSupplemented"]

    def run() -> None:
        try:
            turn = 0
            while not stop.is_set():
                turn += 1
                if turn % 2:
                    filer.file("edu-wang", "MaterialsSupplemented", payload,
                               stream=streams[turn % len(streams)])
                    count[0] += 1
                else:
                    batch = [filer.prepare("edu-wang", "MaterialsSupplemented", payload,
                                           stream=stream) for stream in streams]
                    count[0] += sum(1 for r in filer.submit_many(batch)
                                    if not isinstance(r, BaseException))
        except BaseException as exc:  # reported by the test, not lost in the thread
            failures.append(exc)

    thread = threading.Thread(target=run, name="filer", daemon=True)
    thread.start()
    try:
        yield count
    finally:
        stop.set()
        thread.join(timeout=60)
        assert not failures, failures
        assert not thread.is_alive()


def _wait_for(count: list[int], at_least: int) -> None:
    """Let the filer get going before a run starts."""
    for _ in range(2000):
        if count[0] >= at_least:
            return
        threading.Event().wait(0.005)
    raise AssertionError(f"the filer made only {count[0]} filings")


def test_verify_during_filing_never_fails_falsely(ledger: Ledger,
                                                  make_ledger: Callable[..., Ledger]) -> None:
    """20 runs while another ledger object files (single filings and group commits), two of
    them with worker processes: every run is exact about the log it saw, and the runs saw
    the log grow (they did overlap the filing)."""
    history = build_history(ledger)
    streams = [history.stream(name) for name in ("A", "C")]  # edu-wang's projects
    sizes: list[int] = []
    with filing_meanwhile(make_ledger, streams) as count:
        _wait_for(count, 2)
        for run in range(RUNS):
            report = verify_ledger(ledger.log, ledger.identity,
                                   workers=2 if run % 10 == 0 else 1)
            assert report.ok, (run, [f.describe() for f in report.failures[:5]])
            # Exact about its snapshot: every leaf read had its checkpoint and tree nodes.
            assert report.checkpoints >= 1
            assert report.nodes >= report.entries - 1
            sizes.append(report.entries)
        filed = count[0]
    assert filed >= RUNS, f"only {filed} filings were made during {RUNS} runs"
    assert len(set(sizes)) >= RUNS // 2, f"the runs did not overlap the filing: {sizes}"
    assert sizes == sorted(sizes)
    final = verify_ledger(ledger.log, ledger.identity, workers=1)
    assert final.ok
    assert final.entries == ledger.log.tree_size() >= sizes[-1]


def test_verify_during_filing_still_finds_a_tampered_entry(
        ledger: Ledger, make_ledger: Callable[..., Ledger], settings: Settings) -> None:
    """A payload byte edited in the database is found, and named, while others file."""
    history = build_history(ledger)
    tampered = history.stream("B")
    Tamperer(settings.database_url, ledger.identity.profile).edit_payload_byte(tampered, 2)
    with filing_meanwhile(make_ledger, [history.stream("A"), history.stream("C")]) as count:
        _wait_for(count, 2)
        for run in range(3):
            report = verify_ledger(ledger.log, ledger.identity, workers=1 + run % 2)
            assert not report.ok
            first = report.first
            assert first is not None
            assert (first.check, first.stream, first.seq, first.leaf_index) == (
                "hash", str(tampered), 2, history.leaf("B", 2)), first.describe()
            # Nothing else is reported: the concurrent filings add no false failure.
            assert {f.stream for f in report.failures} == {str(tampered)}, [
                f.describe() for f in report.failures]
