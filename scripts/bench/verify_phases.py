"""``ledger verify``'s main-process CPU by phase, µs an entry, with its recomputations in C
(``ledger.log.native``) and in Python, side by side in turns.

Wraps (in the measuring process only; src is not changed) the pass's calls and accumulates the
main thread's CPU time (``time.thread_time``) inside each: the Merkle tree's growth, the heads
map's (leaves gathered, versions applied), the map's stored rows read and compared, the
workers' results taken in. Each side is a child process of this script, with
``LEDGER_NATIVE_REPLAY`` set to ``1`` or ``0``, verifying a ledger kept by ``bench_verify.py
--keep`` with two workers; the rounds alternate the sides and the medians are printed.

    .venv/bin/python scripts/bench/verify_phases.py --reuse URL [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

PHASES = ("tree", "map", "map rows", "results", "pass", "run")


def child(url: str) -> None:
    """One side: verify the kept ledger once to warm up, then once timed; print a JSON line."""
    from ledger.evidence import verify as v  # noqa: PLC0415 - after the environment is set
    from ledger.evidence.verify import verify_ledger  # noqa: PLC0415
    from ledger.log import native  # noqa: PLC0415
    from ledger.log import verify_heads as vh  # noqa: PLC0415
    from ledger.log import verify_tree as vt  # noqa: PLC0415

    spent: dict[str, float] = dict.fromkeys(PHASES, 0.0)
    main = threading.get_ident()

    def wrap(cls: Any, name: str, label: str) -> None:
        original = getattr(cls, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() != main:
                return original(*args, **kwargs)
            t0 = time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                spent[label] += time.thread_time() - t0

        setattr(cls, name, timed)

    wrap(vt.RecomputedTree, "extend", "tree")
    wrap(vh.RecomputedHeads, "extend", "map")
    wrap(v.LedgerVerifier, "_check_heads", "map rows")
    wrap(v.LedgerVerifier, "_consume", "results")
    wrap(v.LedgerVerifier, "_pass", "pass")
    wrap(v.LedgerVerifier, "run", "run")
    with c.backend("postgres") as b:
        ledger = b.ours(url)
        verify_ledger(ledger.log, ledger.identity, workers=2)
        for label in spent:
            spent[label] = 0.0
        t0 = time.perf_counter()
        report = verify_ledger(ledger.log, ledger.identity, workers=2)
        seconds = time.perf_counter() - t0
    assert report.ok, [f.describe() for f in report.failures[:3]]
    n = report.entries
    print(json.dumps({"c": native.REPLAY is not None, "rate": n / seconds,
                      **{label: spent[label] / n * 1e6 for label in PHASES}}))


def main() -> None:
    """Run the sides in turns and print the medians."""
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reuse", metavar="URL", required=True)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        child(a.reuse)
        return
    print(c.machine())
    sides: dict[str, list[dict[str, float]]] = {"C": [], "Python": []}
    for _ in range(a.rounds):
        for side, flag in (("C", "1"), ("Python", "0")):
            c.wait_quiet()
            out = subprocess.run(
                [sys.executable, __file__, "--child", "--reuse", a.reuse],
                env=dict(os.environ, LEDGER_NATIVE_REPLAY=flag), capture_output=True,
                text=True, check=True)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            if result["c"] != (side == "C"):
                sys.exit(f"the {side} side ran {'C' if result['c'] else 'Python'}: is the C"
                         " extension built (setup.py)?")
            sides[side].append(result)
    rows = []
    for label in ("rate", *PHASES):
        ours, base = (statistics.median(r[label] for r in sides[s]) for s in ("C", "Python"))
        fmt = "{:,.0f}" if label == "rate" else "{:.2f}"
        rows.append([label if label != "rate" else "entries/s", fmt.format(ours),
                     fmt.format(base), f"{ours / base:.2f}x"])
    c.table(f"ledger verify, main thread CPU µs an entry by phase (medians of {a.rounds} rounds"
            " in turns; 'pass' includes tree, map, map rows and results, 'run' everything)",
            ["phase", "C (native)", "Python", "C / Python"], rows)


if __name__ == "__main__":
    main()
