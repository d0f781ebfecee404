"""Library and project pages at size: the library with 10,000 projects (target: server time p95
<= 150 ms, paged) and the project page of a 1,000-entry project (target: <= 200 ms).

Measured in-process through the ASGI app (``TestClient``: routing, session, read model, search,
filters, sorting, totals, rendering; no network), signed in as the Integrated Management
Office. Each path is fetched once cold (the first render of a day computes every row), then
``--repeat`` times warm; the median and p95 of the warm runs are reported.

Data: ``--n`` projects (default 10,000) of 8 units filed through the ordinary write path, the
mix of ``bench_pages.py`` (60% approved and funded, 40% with a contract, 20% paid), and one
project with ``--entries`` entries (default 1,000: approval, funds, contracts, payments and
supplements).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c
from bench_pages import ARRANGED, CONTRACT, OPINION, PAID, UNITS, build_library
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.app import Ledger
from ledger.measures.catalogue import EXAMPLES

# The example contract is signed on 2026-04-17: the opinion takes effect before it (Art. 9).
APPROVED_ON = date(2026, 1, 5)
ARRANGED_ON = date(2026, 1, 10)


def big_project(ledger: Ledger, entries: int) -> Any:
    """One project with ``entries`` entries."""
    filings: list[c.Filing] = [
        ("office-li", "ReviewOpinionIssued", OPINION | {
            "approved_budget_fen": 90_000_000_000}, APPROVED_ON),
        ("finance-zhao", "FundingArranged", ARRANGED | {"amount_fen": 90_000_000_000},
         ARRANGED_ON)]
    pairs = (entries - 3) // 3
    for i in range(pairs):
        filings.append((UNITS[0], "ContractFiled", CONTRACT | {
            "contract_no": f"GXQ-QT-{i:05d}", "amount_fen": 1_000_000}, None))
        filings.append(("finance-zhao", "FundsDisbursed", PAID | {
            "contract_no": f"GXQ-QT-{i:05d}", "amount_fen": 500_000}, None))
    while len(filings) < entries - 1:
        filings.append((UNITS[0], "MaterialsSupplemented", c.PAYLOAD, None))
    return c.file_project(ledger, UNITS[0], "千条目项目", filings, applied_on=APPROVED_ON)


def p95(runs: list[float]) -> float:
    """The 95th percentile (nearest rank)."""
    ordered = sorted(runs)
    return ordered[max(0, -(-len(ordered) * 95 // 100) - 1)]


def main() -> None:
    p: argparse.ArgumentParser = c.parser(__doc__.splitlines()[0], n=10_000, quick_n=500)
    p.add_argument("--entries", type=int, default=1000, help="entries of the big project")
    p.set_defaults(backend="sqlite", repeat=30)
    args = p.parse_args()
    n = c.size(args)
    c.header("bench_library (library with N projects; project page of M entries)", args)
    rows = []
    for name in c.backends(args.backend):
        with c.backend(name) as b:
            ledger = b.empty()
            started = time.perf_counter()
            build_library(ledger, n, approved_on=APPROVED_ON, arranged_on=ARRANGED_ON)
            stream = big_project(ledger, args.entries)
            print(f"{name}: built {n} projects + 1 of {args.entries} entries in"
                  f" {time.perf_counter() - started:.0f} s", flush=True)
            with TestClient(create_app(ledger=ledger)) as client:
                c.sign_in(client, ledger.tokens.issue("office-li"))
                for label, path, target in (
                        ("library, page of 100", "/projects", 0.150),
                        ("library, search + sort", "/projects?q=项目 01&sort=approved&dir=desc",
                         0.150),
                        ("library, filter + page 20", "/projects?elig=construction&page=20",
                         0.150),
                        (f"project, {args.entries} entries", f"/projects/{stream}", 0.200)):
                    def get(path: str = path) -> None:
                        response = client.get(path)
                        assert response.status_code == 200, response.text[:500]

                    cold = c.timed(get)
                    median, runs = c.median_of(get, args.repeat)
                    rows.append([name, label, n, cold * 1000, median * 1000,
                                 p95(runs) * 1000, target * 1000,
                                 "met" if p95(runs) <= target else "NOT met"])
                # After a filing the read model has moved on: the next view walks every row
                # again (each row kept per project state; only the new project is computed).
                after = []
                for i in range(max(3, args.repeat // 5)):
                    c.submit_all(ledger, [ledger.prepare(
                        UNITS[0], "ApplicationFiled",
                        EXAMPLES["ApplicationFiled"] | {"title": f"新项目 {i}"},
                        effective=APPROVED_ON)])

                    def get_library() -> None:
                        assert client.get("/projects").status_code == 200

                    after.append(c.timed(get_library))
                rows.append([name, "library, first view after a filing", n, "",
                             sorted(after)[len(after) // 2] * 1000, max(after) * 1000, 150,
                             "met" if max(after) <= 0.150 else "NOT met"])
    c.table("Page render (ms; warm runs: median and p95; the first run reported as cold)",
            ["backend", "page", "projects", "cold", "median", "p95", "target", "verdict"], rows)


if __name__ == "__main__":
    main()
