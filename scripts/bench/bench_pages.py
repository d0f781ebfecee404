"""Web pages: server render of the library with 2,000 projects (target: median <= 150 ms) and of
the project page of a 500-entry project (target: median <= 100 ms).

Measured in-process through the ASGI app (``TestClient``: the whole request, routing, session
check, read model, rendering; no network), signed in as the Integrated Management Office.

Data: ``--n`` projects (default 2,000) of 8 units, a realistic mix filed through the ordinary
write path with group commits: every project applied for; 60% approved by a review opinion and
funded; 40% with a contract; 20% with a payment. One more project has 500 entries (approval,
funds, 100 contracts, 100 payments, progress reports and supplements).

Library: ``GET /projects`` (a page of 100 rows; totals and filters over all rows) and
``GET /projects?per=all`` (every row in the HTML). The rows come from the library read model
(caught up, in memory); each row is computed once per project state and evaluation date
(``api.pages.model``), so the *first* render of a day is the cold one: it is reported too.
Project: ``GET /projects/{id}``; the first view replays the stream and checks 500 signatures
(cold), later views of the same log prefix reuse that (warm).
"""

from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.app import Ledger
from ledger.measures.catalogue import EXAMPLES
from ledger.measures.roles import Role

UNITS = [f"unit-{i}" for i in range(8)]
OPINION: dict[str, Any] = dict(EXAMPLES["ReviewOpinionIssued"])
ARRANGED: dict[str, Any] = dict(EXAMPLES["FundingArranged"])
CONTRACT: dict[str, Any] = dict(EXAMPLES["ContractFiled"])
PAID: dict[str, Any] = dict(EXAMPLES["FundsDisbursed"])


def build_library(ledger: Ledger, n: int, *, approved_on: date | None = None,
                  arranged_on: date | None = None) -> None:
    """``n`` projects of 8 units: all applied for, 60% approved and funded, 40% with a
    contract, 20% paid (the opinion and the funds effective on the dates given, if any)."""
    for unit in UNITS:
        ledger.register_actor(unit, Role.UNIT, unit, f"建设单位 {unit}")
    ledger.register_actor("office-li", Role.OFFICE, None, "综合管理办公室 李")
    ledger.register_actor("finance-zhao", Role.FINANCE, None, "财政管理部 赵")
    c.upload_example_documents(ledger)
    streams: list[Any] = []
    for start in range(0, n, 100):
        signed = [ledger.prepare(UNITS[i % len(UNITS)], "ApplicationFiled",
                                 EXAMPLES["ApplicationFiled"] | {"title": f"项目 {i:05d}"},
                                 effective=approved_on)
                  for i in range(start, min(n, start + 100))]
        streams.extend(r.stream for r in ledger.submit_many(signed)
                       if not isinstance(r, Exception))
    approved = streams[: int(n * 0.6)]
    owner = {s: UNITS[i % len(UNITS)] for i, s in enumerate(streams)}
    for step, (actor, event, payload, share, on) in enumerate((
            ("office-li", "ReviewOpinionIssued", OPINION, 1.0, approved_on),
            ("finance-zhao", "FundingArranged", ARRANGED, 1.0, arranged_on),
            (None, "ContractFiled", CONTRACT, 4 / 6, None),
            ("finance-zhao", "FundsDisbursed", PAID, 2 / 6, None))):
        chosen = approved[: int(len(approved) * share)]
        for start in range(0, len(chosen), 100):
            c.submit_all(ledger, [
                ledger.prepare(actor or owner[s], event, payload, stream=s, effective=on)
                for s in chosen[start:start + 100]])
        print(f"  built step {step + 1}/4", flush=True)


def build(ledger: Ledger, n: int) -> Any:
    """The library mix and the 500-entry project; returns the big project's id."""
    # The opinions and the funds take effect before the example contracts were signed
    # (2026-04-17): no funds for a contract signed before its approving opinion (Art. 9).
    approved = date(2026, 4, 1)
    build_library(ledger, n, approved_on=approved, arranged_on=approved)
    filings: list[c.Filing] = [
        ("office-li", "ReviewOpinionIssued", OPINION | {"approved_budget_fen": 9_000_000_000},
         approved),
        ("finance-zhao", "FundingArranged", ARRANGED | {"amount_fen": 9_000_000_000}, approved)]
    for i in range(100):
        filings.append((UNITS[0], "ContractFiled", CONTRACT | {
            "contract_no": f"GXQ-CG-2026-{i:04d}", "amount_fen": 1_000_000}, None))
        filings.append(("finance-zhao", "FundsDisbursed", PAID | {
            "contract_no": f"GXQ-CG-2026-{i:04d}", "amount_fen": 500_000}, None))
    while len(filings) < 499:
        filings.append((UNITS[0], "MaterialsSupplemented", c.PAYLOAD, None))
    return c.file_project(ledger, UNITS[0], "500 条目项目", filings)


def main() -> None:
    p = c.parser(__doc__.splitlines()[0], n=2000, quick_n=300)
    p.set_defaults(backend="sqlite", repeat=15)
    args = p.parse_args()
    n = c.size(args)
    c.header("bench_pages (library page with N projects; project page of 500 entries)", args)
    rows = []
    for name in c.backends(args.backend):
        with c.backend(name) as b:
            ledger = b.empty()
            started = time.perf_counter()
            stream = build(ledger, n)
            print(f"{name}: built {n} projects + 1 of 500 entries in"
                  f" {time.perf_counter() - started:.0f} s", flush=True)
            with TestClient(create_app(ledger=ledger)) as client:
                c.sign_in(client, ledger.tokens.issue("office-li"))
                for label, path, target in (
                        ("library, page of 100", "/projects", 0.150),
                        ("library, all rows", "/projects?per=all", 0.150),
                        ("project, 500 entries", f"/projects/{stream}", 0.100)):
                    def get(path: str = path) -> None:
                        response = client.get(path)
                        assert response.status_code == 200, response.text[:500]

                    cold = c.timed(get)
                    median, runs = c.median_of(get, args.repeat)
                    if args.profile is not None:
                        c.profile_call(get, args.profile, f"{name} {label}")
                    rows.append([name, label, n, cold * 1000, median * 1000,
                                 min(runs) * 1000, target * 1000,
                                 "met" if median <= target else "NOT met"])
    c.table("Page render (ms; median of warm runs, the first run reported as cold)",
            ["backend", "page", "projects", "cold", "median", "best", "target", "verdict"],
            rows)


if __name__ == "__main__":
    main()
