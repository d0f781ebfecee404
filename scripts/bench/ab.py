"""A/B of two commits in one run: the same benchmark from an old commit and from this tree, in turns.

    .venv/bin/python scripts/bench/ab.py OLD_REF [--new NEW_REF] [--rounds 3] bench_group.py -- --backend both
    .venv/bin/python scripts/bench/ab.py HEAD --old-patch scripts/bench/patches/verify-without-heads-map.patch bench_verify.py -- --reuse URL --no-bare

``--old-patch`` applies a patch of ``patches/`` to OLD_REF's tree: the same commit less one
feature (``verify-without-heads-map.patch``: ``ledger verify`` without recomputing the stream
heads map; ``without-heads-map.patch``: appends without the map).

OLD_REF (and NEW_REF, if given; else the working tree) is checked out into a temporary git
worktree; each round runs the old tree's copy of the
script (with ``PYTHONPATH`` on the old ``src/``) and then this tree's copy, so both see the same
machine at nearly the same moment. Every numeric cell of the tables the scripts print is
collected, and the median of each side is printed with the ratio new/old (for throughput 1.00x
is parity and above 1 is faster; for times and latencies below 1 is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_NUMBER = re.compile(r"^-?[\d,]*\.?\d+x?$")


def build_native(tree: Path) -> None:
    """Build a checked-out tree's C extension in place (a worktree has the sources only), so
    that its side runs its own compiled code as an install would; quietly, and never fatal: a
    tree that cannot build it runs its Python fallback, as such an install would."""
    if (tree / "setup.py").exists():
        subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=tree,
                       capture_output=True, check=False)


def run(tree: Path, script: str, args: list[str]) -> str:
    """Run ``script`` from ``tree``'s scripts/bench with ``tree``'s sources first on the path."""
    env = dict(os.environ, PYTHONPATH=str(tree / "src"))
    out = subprocess.run([sys.executable, str(tree / "scripts" / "bench" / script), *args],
                         env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.stderr.write(out.stdout + out.stderr)
        raise SystemExit(f"{script} failed in {tree}")
    return out.stdout


def _json_cells(line: str) -> dict[tuple[str, str, str], float]:
    """A line that is a JSON object (``bench_http.py`` prints one): each number in it, by its
    path (``ours_custodial``, ``per_s``)."""
    found: dict[tuple[str, str, str], float] = {}

    def walk(value: object, path: tuple[str, ...]) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, (*path, str(key)))
        elif isinstance(value, int | float) and not isinstance(value, bool) and path:
            found[("json", ".".join(path[:-1]) or "-", path[-1])] = float(value)

    try:
        walk(json.loads(line), ())
    except ValueError:
        return {}
    return found


def cells(output: str) -> dict[tuple[str, str, str], float]:
    """(table title, row label, column) → value, for every numeric cell of the markdown tables
    (and every number of a line that is a JSON object)."""
    found: dict[tuple[str, str, str], float] = {}
    title, header = "", []
    for line in output.splitlines():
        if line.startswith("{"):
            found.update(_json_cells(line))
        elif line.startswith("### "):
            title, header = line[4:].strip(), []
        elif line.startswith("|") and not set(line) <= {"|", "-", " "}:
            row = [c.strip() for c in line.strip().strip("|").split("|")]
            if not header:
                header = row
                continue
            for column, value in zip(header[1:], row[1:], strict=False):
                if _NUMBER.match(value):
                    found[(title, row[0], column)] = float(value.rstrip("x").replace(",", ""))
        elif not line.strip():
            continue
    return found


def main() -> None:
    """Parse arguments, run the rounds, print the comparison."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("old", help="the commit to compare against (e.g. HEAD~5, a sha)")
    p.add_argument("--new", default=None, help="the commit to compare (default: working tree)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--old-patch", metavar="FILE", default=None,
                   help="apply this patch to OLD_REF's tree first (patches/: OLD_REF less one"
                        " feature)")
    p.add_argument("script", help="a script of scripts/bench, e.g. bench_group.py")
    p.add_argument("args", nargs=argparse.REMAINDER, help="its arguments (after --)")
    a = p.parse_args()
    args = [x for x in a.args if x != "--"]
    with tempfile.TemporaryDirectory(prefix="ab-") as tmp:
        old = Path(tmp) / "old"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(old), a.old], cwd=ROOT,
                       check=True)
        if a.old_patch is not None:
            subprocess.run(["git", "apply", str(Path(a.old_patch).resolve())], cwd=old,
                           check=True)
        new = ROOT
        if a.new is not None:
            new = Path(tmp) / "new"
            subprocess.run(["git", "worktree", "add", "--detach", "-q", str(new), a.new],
                           cwd=ROOT, check=True)
        for tree in {old, new} - {ROOT}:
            build_native(tree)
        try:
            sides: dict[str, dict[tuple[str, str, str], list[float]]] = {
                "old": defaultdict(list), "new": defaultdict(list)}
            for round_ in range(a.rounds):
                for side, tree in (("old", old), ("new", new)):
                    print(f"# round {round_ + 1}/{a.rounds}: {side} ({a.script})", flush=True)
                    for key, value in cells(run(tree, a.script, args)).items():
                        sides[side][key].append(value)
        finally:
            for tree in {old, new} - {ROOT}:
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT,
                               check=False)
    print(f"\n## A/B: {a.script} {' '.join(args)}; old = {a.old}, new = {a.new or 'working tree'};"
          f" {a.rounds} rounds in turns, medians\n")
    print("| table | row | column | old | new | new/old |")
    print("|---|---|---|---|---|---|")
    for key in sorted(set(sides["old"]) & set(sides["new"])):
        o, n = statistics.median(sides["old"][key]), statistics.median(sides["new"][key])
        ratio = f"{n / o:.3f}" if o else "-"
        print(f"| {key[0][:60]} | {key[1]} | {key[2]} | {o:,.3f} | {n:,.3f} | {ratio} |")


if __name__ == "__main__":
    main()
