"""Wall-clock breakdown of ours' write and read paths by phase (no profiler overhead).

Wraps (in this process only; src is not changed) the methods each filing goes through and
accumulates their inclusive wall time, then prints microseconds per filing for each phase next
to the number of SQL statements and server round trips. Used to explain figures 1-3.

    .venv/bin/python scripts/bench/phases.py [--backend sqlite|postgres|both] [--n N]
"""

from __future__ import annotations

import functools
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

TOTALS: dict[str, float] = defaultdict(float)
CALLS: dict[str, int] = defaultdict(int)


def wrap(cls: Any, name: str, label: str) -> None:
    """Accumulate the inclusive wall time of ``cls.name`` under ``label``."""
    original = getattr(cls, name)

    @functools.wraps(original)
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            TOTALS[label] += time.perf_counter() - start
            CALLS[label] += 1

    setattr(cls, name, timed)


def instrument() -> None:
    """Wrap the phases of ours' write and read paths, and psycopg's / sqlite's statements."""
    import psycopg  # noqa: PLC0415
    from eventsourcing.application import Repository  # noqa: PLC0415

    from ledger.log import merkle, sealing  # noqa: PLC0415
    from ledger.log import writer as logwriter  # noqa: PLC0415
    from ledger.log.heads import CurrentHeads  # noqa: PLC0415
    from ledger.service.authentication import Authenticator  # noqa: PLC0415
    from ledger.service.cache import AggregateCache  # noqa: PLC0415
    from ledger.service.decisions import Decider  # noqa: PLC0415
    from ledger.service.filing import FilingPipeline  # noqa: PLC0415
    from ledger.service.mapper import EntryMapper  # noqa: PLC0415
    from ledger.service.proofs import LogProofs  # noqa: PLC0415
    from ledger.service.reads import VerifiedReads  # noqa: PLC0415
    from ledger.store.postgres import PostgresLedgerRecorder, PostgresLogTransaction  # noqa: PLC0415
    from ledger.store.sqlite import SQLiteLedgerRecorder, SQLiteLogTransaction  # noqa: PLC0415

    # Ledger's methods only delegate: the collaborators' are wrapped, as they call each other.
    wrap(FilingPipeline, "file", "file (total)")
    wrap(FilingPipeline, "prepare", "  prepare")
    wrap(FilingPipeline, "submit_many", "  submit_many")
    wrap(AggregateCache, "registry", "    registry() [cached or fresh]")
    wrap(AggregateCache, "current", "    current [stream state: cache, or cache + database]")
    wrap(Authenticator, "authenticate_all", "    authenticate_all [key, role, signature]")
    wrap(Decider, "decide", "    decide [payload, documents, rules]")
    wrap(FilingPipeline, "_cache_appended", "    _cache_appended")
    wrap(EntryMapper, "to_stored_event", "    mapper.to_stored_event")
    wrap(EntryMapper, "to_domain_event", "    mapper.to_domain_event (parse+hash)")
    wrap(Repository, "get", "repository.get (any)")
    wrap(PostgresLedgerRecorder, "append", "    log.append (txn incl. commit)")
    wrap(SQLiteLedgerRecorder, "append", "    log.append (txn incl. commit)")
    wrap(logwriter, "write_batch", "      write_batch")
    for tx in (PostgresLogTransaction, SQLiteLogTransaction):
        for name in ("lock_and_read", "write"):
            wrap(tx, name, f"        tx.{name}")
    wrap(sealing.EntrySealer, "read", "        sealer.read")
    wrap(sealing.EntrySealer, "seal", "        sealer.seal")
    wrap(merkle, "append_leaves", "        merkle.append_leaves")
    wrap(CurrentHeads, "plan", "        heads.plan [the stream heads map's new version]")
    wrap(VerifiedReads, "project", "project (total)")
    wrap(LogProofs, "check_head", "  check_head")
    wrap(LogProofs, "trusted_checkpoint", "    trusted_checkpoint")
    wrap(LogProofs, "inclusion_proof", "    inclusion_proof")
    wrap(psycopg.Cursor, "execute", "psycopg Cursor.execute (count = statements)")
    logwriter.merkle = merkle  # write_batch looks merkle.append_leaves up at call time


def report(label: str, filings: int, backend: str) -> None:
    """Print µs per filing for every phase seen."""
    rows = [[backend, k, CALLS[k] / filings, TOTALS[k] / filings * 1e6]
            for k in TOTALS]
    c.table(f"{label} on {backend}: inclusive wall time per filing",
            ["backend", "phase", "calls/filing", "us/filing"], rows)
    TOTALS.clear()
    CALLS.clear()


def main() -> None:
    p = c.parser(__doc__.splitlines()[0], n=500, quick_n=200)
    args = p.parse_args()
    n = c.size(args)
    c.header("phases (wall-time breakdown of ours)", args)
    for name in c.backends(args.backend):
        with c.backend(name) as b:
            ledger = b.ours()
            streams = c.open_projects(ledger, 50)
            for i in range(100):  # warm-up
                ledger.file(c.ACTOR, "MaterialsSupplemented", c.PAYLOAD, stream=streams[i % 50])
            instrument_once()
            TOTALS.clear()
            CALLS.clear()
            start = time.perf_counter()
            for i in range(n):
                ledger.file(c.ACTOR, "MaterialsSupplemented", c.PAYLOAD, stream=streams[i % 50])
            wall = time.perf_counter() - start
            print(f"\n{name}: {n} x file() in {wall:.3f} s = {wall / n * 1e6:.0f} us/filing "
                  "(instrumented)")
            report("figure 1: ledger.file()", n, name)
            batch = [ledger.prepare(c.ACTOR, "MaterialsSupplemented", c.PAYLOAD, stream=s)
                     for s in c.open_projects(ledger, 100)]
            TOTALS.clear()
            CALLS.clear()
            c.submit_all(ledger, batch)
            report("figure 2: one submit_many() of 100", 100, name)
            version = ledger.project(streams[0]).version
            TOTALS.clear()
            CALLS.clear()
            ledger.project(streams[0])
            report(f"figure 3: one project() of {version} entries (per call)", 1, name)


_DONE: list[bool] = []


def instrument_once() -> None:
    """Instrument at most once per process."""
    if not _DONE:
        instrument()
        _DONE.append(True)


if __name__ == "__main__":
    main()
