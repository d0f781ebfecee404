"""A/B of two commits in short turns: two long-lived processes, one per commit, append in turns.

    .venv/bin/python scripts/bench/ab_turns.py OLD_REF [--new NEW_REF] --mode group --pairs 30 --per-turn 2
    .venv/bin/python scripts/bench/ab_turns.py OLD_REF [--new NEW_REF] --mode single --pairs 30 --per-turn 40
    .venv/bin/python scripts/bench/ab_turns.py HEAD --old-patch scripts/bench/patches/without-heads-map.patch --mode group --pairs 100

The last form measures one feature: the same commit with and without it. The patch
``patches/without-heads-map.patch`` switches the stream heads map off (no map update computed,
no node groups written, an empty root in the checkpoint): "the same run without the map".

``ab.py`` runs a whole benchmark from each tree in turn; on a machine whose load changes from
one minute to the next, a round of one side can meet another machine than the other's. Here
each commit (checked out into a temporary git worktree; NEW_REF default: the working tree)
opens its own ledger on a fresh PostgreSQL schema with 100 projects, in a process that stays
up, and the two processes take turns of a few commits each (``--per-turn`` group commits of 100
filings over the 100 projects, or as many single filings over 50 of them), the order alternating
from pair to pair. Each turn's wall time and the process's own CPU time (``getrusage``) are
kept; printed: each side's rate (median turn and total over all turns), its CPU per filing, and
new/old (throughput: above 1 is faster) as the median of the pairs' ratios and the ratio of the
totals. Filings are signed outside the timed part of a group turn (``prepare``), and custodial
(``file``) in a single turn, as in ``bench_group.py`` and ``bench_single.py``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ab import build_native

ROOT = Path(__file__).resolve().parents[2]


def worker(tree: Path, mode: str) -> None:
    """One side: a ledger of ``tree``'s code, taking ``K`` (a turn) on stdin, answering
    ``wall cpu`` on stdout."""
    sys.path.insert(0, str(tree / "scripts" / "bench"))
    import _common as c  # noqa: PLC0415 - the tree's own helpers, found only now

    with c.backend("postgres") as b:
        ledger = b.ours()
        streams = c.open_projects(ledger, 100)
        turn = 0
        print("ready", flush=True)
        for line in sys.stdin:
            k = int(line)
            if mode == "group":
                batches = [[ledger.prepare(c.ACTOR, "MaterialsSupplemented", c.PAYLOAD,
                                           stream=s) for s in streams] for _ in range(k)]
                before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
                for batch in batches:
                    c.submit_all(ledger, batch)
            else:
                before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
                for i in range(k):
                    ledger.file(c.ACTOR, "MaterialsSupplemented", c.PAYLOAD,
                                stream=streams[(turn + i) % 50])
                turn += k
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_SELF)
            cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
            print(f"{wall} {cpu}", flush=True)


def main() -> None:
    """Check the trees out, run the pairs of turns, print the comparison."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("old", nargs="?", help="the commit to compare against (e.g. a sha)")
    p.add_argument("--new", default=None, help="the commit to compare (default: working tree)")
    p.add_argument("--mode", choices=["group", "single"], default="group")
    p.add_argument("--pairs", type=int, default=30)
    p.add_argument("--per-turn", type=int, default=None,
                   help="group commits (default 2) or single filings (default 40) per turn")
    p.add_argument("--old-patch", metavar="FILE", default=None,
                   help="apply this patch to OLD_REF's tree first (e.g. patches/"
                        "without-heads-map.patch: OLD_REF with the heads map switched off)")
    p.add_argument("--worker", metavar="TREE", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        worker(Path(a.worker), a.mode)
        return
    if a.old is None:
        p.error("OLD_REF is required")
    per_turn = a.per_turn or (2 if a.mode == "group" else 40)
    with tempfile.TemporaryDirectory(prefix="ab-turns-") as tmp:
        trees = {"old": Path(tmp) / "old", "new": ROOT}
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(trees["old"]), a.old],
                       cwd=ROOT, check=True)
        if a.old_patch is not None:
            subprocess.run(["git", "apply", str(Path(a.old_patch).resolve())],
                           cwd=trees["old"], check=True)
        if a.new is not None:
            trees["new"] = Path(tmp) / "new"
            subprocess.run(["git", "worktree", "add", "--detach", "-q", str(trees["new"]),
                            a.new], cwd=ROOT, check=True)
        for tree in set(trees.values()) - {ROOT}:
            build_native(tree)
        try:
            results = run_pairs(trees, a.mode, a.pairs, per_turn)
        finally:
            for tree in set(trees.values()) - {ROOT}:
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT,
                               check=False)
    report(results, a, per_turn)


def run_pairs(trees: dict[str, Path], mode: str, pairs: int, per_turn: int,
              ) -> dict[str, list[tuple[float, float]]]:
    """Start both sides, then ``pairs`` pairs of turns, the order alternating."""
    procs = {}
    for side, tree in trees.items():
        env = dict(os.environ, PYTHONPATH=str(tree / "src"))
        procs[side] = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker", str(tree), "--mode",
             mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    for proc in procs.values():
        assert proc.stdout is not None
        while proc.stdout.readline().strip() != "ready":
            if proc.poll() is not None:
                raise SystemExit("a side failed to start")
    results: dict[str, list[tuple[float, float]]] = {"old": [], "new": []}
    try:
        for pair in range(pairs):
            for side in (("old", "new") if pair % 2 == 0 else ("new", "old")):
                proc = procs[side]
                assert proc.stdin is not None and proc.stdout is not None
                proc.stdin.write(f"{per_turn}\n")
                proc.stdin.flush()
                wall, cpu = map(float, proc.stdout.readline().split())
                results[side].append((wall, cpu))
    finally:
        for proc in procs.values():
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout=60)
    return results


def report(results: dict[str, list[tuple[float, float]]], a: argparse.Namespace,
           per_turn: int) -> None:
    """The comparison as a markdown table."""
    unit = per_turn * (100 if a.mode == "group" else 1)
    patched = "" if a.old_patch is None else f" with {Path(a.old_patch).name}"
    print(f"\n## A/B in turns: {a.mode}, {a.pairs} pairs of turns of {unit} filings;"
          f" old = {a.old}{patched}, new = {a.new or 'working tree'}\n")
    print("| side | filings/s (median turn) | filings/s (total) | CPU per filing (µs, median) |")
    print("|---|---|---|---|")
    for side in ("old", "new"):
        walls = [w for w, _ in results[side]]
        cpus = [c for _, c in results[side]]
        print(f"| {side} | {unit / statistics.median(walls):,.0f} |"
              f" {unit * len(walls) / sum(walls):,.0f} |"
              f" {statistics.median(cpus) / unit * 1e6:,.0f} |")
    ratios = [o[0] / n[0] for o, n in zip(results["old"], results["new"], strict=True)]
    total = sum(w for w, _ in results["old"]) / sum(w for w, _ in results["new"])
    print(f"\nnew/old throughput: median of the pairs' ratios {statistics.median(ratios):.3f},"
          f" ratio of the totals {total:.3f}; the pairs' ratios range"
          f" {min(ratios):.2f}–{max(ratios):.2f}")


if __name__ == "__main__":
    main()
