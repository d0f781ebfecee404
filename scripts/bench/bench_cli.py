"""How long the ``ledger`` command takes from a cold process: ``ledger --help`` (target
<= 300 ms; the commands of other modules are imported only when run, and every command imports
what it needs inside its body) and ``ledger projects`` on the demo ledger (target <= 1 s).

Each figure is a fresh process (the console script, as an operator runs it), timed from spawn
to exit; the two commands are run in turns so outside load skews both alike. The demo is
loaded into a temporary SQLite file first and its read model caught up once (as a running
server or ``ledger catch-up`` leaves it).

Run: ``.venv/bin/python scripts/bench/bench_cli.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LEDGER = str(Path(sys.executable).parent / "ledger")


def _timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([LEDGER, *args], env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def main() -> None:
    """Load the demo, then time the commands in turns and print median, min and max."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "LEDGER_DATABASE_URL": f"sqlite:///{folder}/ledger.db",
               "LEDGER_ENVIRONMENT": "development"}
        subprocess.run([LEDGER, "demo"], env=env, stdout=subprocess.DEVNULL, check=True)
        subprocess.run([LEDGER, "catch-up"], env=env, stdout=subprocess.DEVNULL, check=True)
        commands = {"ledger --help": ["--help"], "ledger projects (demo)": ["projects"],
                    "ledger projects --json (demo)": ["projects", "--json"]}
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(runs):
            for name, args in commands.items():
                times[name].append(_timed(args, env))
    print(f"{'command':32} {'median':>8} {'min':>8} {'max':>8}   ({runs} runs each, in turns)")
    for name, values in times.items():
        print(f"{name:32} {statistics.median(values) * 1000:7.0f}ms"
              f" {min(values) * 1000:7.0f}ms {max(values) * 1000:7.0f}ms")


if __name__ == "__main__":
    main()
