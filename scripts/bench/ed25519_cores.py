"""How far two cores go for ``ledger verify``'s signatures: Ed25519 verifications a second by one
process, and by two processes at once, in turns (the ``Ed25519 limit`` of ``bench_verify.py``
is one core's rate times two, which assumes the two cores do not share one physical core).

    .venv/bin/python scripts/bench/ed25519_cores.py [--rounds 6] [--n 6000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

from ledger.crypto.suites import INTL


def verifications(n: int, results: multiprocessing.Queue[float]) -> None:
    """Put this process's verifications a second over ``n`` of one 700-byte message."""
    signer = INTL.signature.generate()
    message = b"x" * 700
    signature = signer.sign(message)
    verify = INTL.signature.verify
    start = time.perf_counter()
    for _ in range(n):
        verify(signer.public_key, message, signature)
    results.put(n / (time.perf_counter() - start))


def rate(processes: int, n: int) -> float:
    """Verifications a second of ``processes`` processes running together."""
    results: multiprocessing.Queue[float] = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=verifications, args=(n, results))
               for _ in range(processes)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(results.get() for _ in workers)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--n", type=int, default=6000)
    args = p.parse_args()
    one: list[float] = []
    two: list[float] = []
    for _ in range(args.rounds):
        one.append(rate(1, args.n))
        two.append(rate(2, args.n))
    alone, together = statistics.median(one), statistics.median(two)
    c.table(f"Ed25519 verifications a second, one process and two at once (median of"
            f" {args.rounds} rounds in turns)",
            ["one process", "two processes together", "two / one"],
            [[f"{alone:,.0f}", f"{together:,.0f}", f"{together / alone:.2f}x"]])


if __name__ == "__main__":
    main()
