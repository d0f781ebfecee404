"""A ``ledger verify`` worker's non-signature work on real entries, CPU µs per entry, side by
side with the standard library's parse in the same run.

Rows are read as verify reads them (``LogSnapshot.iter_log``) from a PostgreSQL ledger kept by
``bench_verify.py --keep`` (``--reuse URL``), or from a SQLite ledger of ``--n`` entries built
here. Timed in this process (CPU time, fastest of ``--repeat``, garbage collector off as in
verify):

1. **parse and canonical check**: the compiled scan (``native.SCAN_ENTRY``, ``_canonical.c``:
   the envelope and filing, the payload checked but not built) and
   ``verify_worker.load_canonical`` (msgspec decode, orjson re-encode) against
   ``_load_exactly`` (the ``json`` scanner and encoder, the exact path);
2. **a worker's page without the signature**: ``check_page`` with the signature check replaced
   by a constant, as it runs (the scan first), without the scan, and with the exact parse.

    .venv/bin/python scripts/bench/bench_verify_worker.py [--reuse URL] [--n 5000]
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c
from bench_verify import build_ours

from ledger.evidence import verify as verify_pass
from ledger.log import native
from ledger.log import verify_worker as worker
from ledger.log.verify_tree import RecomputedTree


def rows_of(ledger, limit: int) -> tuple[list[worker.Row], worker.PageContext, bytes]:  # type: ignore[no-untyped-def]
    """Up to ``limit`` rows as verify hands them to a worker, its context and key table."""
    rows: list[worker.Row] = []
    with ledger.log.snapshot() as view:
        verifier = verify_pass.LedgerVerifier(view, ledger.identity, workers=1)
        tree = RecomputedTree(verifier.profile.hash, [])
        for page in view.log_pages(batch=2000):
            rows += verifier._read(page, tree)
            if len(rows) >= limit:
                break
    return rows[:limit], verifier._context, verifier._registry.table()


def cpu_per_row(run: Callable[[], object], rows: int, repeat: int) -> float:
    """The fastest of ``repeat`` runs, CPU µs per row."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best / rows * 1e6


def main() -> None:
    p = c.parser(__doc__.splitlines()[0], n=5_000, quick_n=1_000)
    p.add_argument("--reuse", metavar="URL", default=None)
    args = p.parse_args()
    c.header("bench_verify_worker.py", args)
    backend = c.Backend("postgres" if args.reuse else "sqlite")
    try:
        ledger = backend.ours(args.reuse)
        if not args.reuse:
            n = c.size(args)
            build_ours(ledger, n, max(1, n // 100), 100)
        rows, context, keys = rows_of(ledger, 20_000)
        gc.disable()
        datas = [row[6] for row in rows]
        scan = native.SCAN_ENTRY
        scanned = (cpu_per_row(lambda: [scan(d) for d in datas], len(rows), args.repeat)
                   if scan is not None else float("nan"))
        fast = cpu_per_row(lambda: [worker.load_canonical(d) for d in datas], len(rows), args.repeat)
        exact = cpu_per_row(lambda: [worker._load_exactly(d) for d in datas], len(rows), args.repeat)
        real_verifies, real_load = worker.verifies, worker.load_canonical
        worker.verifies = lambda *_: True  # type: ignore[assignment]

        def page() -> object:
            return worker.check_page(context, "t", keys, rows)

        try:
            page_scanned = (cpu_per_row(page, len(rows), args.repeat) if scan is not None
                            else float("nan"))
            native.SCAN_ENTRY = None  # type: ignore[misc]  # the worker reads it at each row
            page_fast = cpu_per_row(page, len(rows), args.repeat)
            worker.load_canonical = worker._load_exactly  # type: ignore[assignment]
            page_exact = cpu_per_row(page, len(rows), args.repeat)
        finally:
            worker.verifies, worker.load_canonical = real_verifies, real_load
            native.SCAN_ENTRY = scan  # type: ignore[misc]
        gc.enable()
        size = sum(len(d) for d in datas) / len(datas)
        c.table(f"A verify worker's non-signature CPU, µs an entry ({len(rows):,} entries of"
                f" {size:,.0f} bytes on average; fastest of {args.repeat})",
                ["step", "C scan (_canonical.c)", "C parse (msgspec + orjson)",
                 "exact path (json)", "scan / exact", "C parse / exact"],
                [["parse and canonical check", f"{scanned:.2f}", f"{fast:.2f}", f"{exact:.2f}",
                  f"{scanned / exact:.2f}x", f"{fast / exact:.2f}x"],
                 ["check_page without the signature", f"{page_scanned:.2f}", f"{page_fast:.2f}",
                  f"{page_exact:.2f}", f"{page_scanned / page_exact:.2f}x",
                  f"{page_fast / page_exact:.2f}x"]])
    finally:
        backend.close()


if __name__ == "__main__":
    main()
