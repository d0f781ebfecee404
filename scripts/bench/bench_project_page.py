"""The project page of a 1,000-entry project (target: <= 200 ms), on SQLite, in-process.

One project of 1,000 entries filed through the ordinary write path (an application, an
approving review opinion, funds arranged, 200 contracts with 200 payments, and supplements of
materials), then ``GET /projects/{id}`` through the ASGI app (``TestClient``: routing, session,
read model, the timeline, every entry's card, rendering; no network), signed in as the
Integrated Management Office:

* **first view**: replays the stream, checks 1,000 signatures, draws every timeline row and
  renders every entry's card (once per process);
* **warm**: the same log prefix again (``--repeat`` views);
* **after a filing**: one more entry filed before each view (``--n`` times): the stream is
  replayed again, the new entry's row and card drawn, the others reused.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.app import Ledger
from ledger.measures.catalogue import EXAMPLES
from ledger.measures.roles import Role
from ledger.settings import Settings

TARGET_MS = 200.0
UNIT = "unit-0"


def build(ledger: Ledger) -> Any:
    """The 1,000-entry project; returns its id."""
    ledger.register_actor(UNIT, Role.UNIT, UNIT, "建设单位 0")
    ledger.register_actor("office-li", Role.OFFICE, None, "综合管理办公室 李")
    ledger.register_actor("finance-zhao", Role.FINANCE, None, "财政管理部 赵")
    c.upload_example_documents(ledger)
    today = ledger.today().isoformat()
    filings: list[c.Filing] = [
        ("office-li", "ReviewOpinionIssued",
         dict(EXAMPLES["ReviewOpinionIssued"]) | {"approved_budget_fen": 9_000_000_000}, None),
        ("finance-zhao", "FundingArranged",
         dict(EXAMPLES["FundingArranged"]) | {"amount_fen": 9_000_000_000}, None)]
    for i in range(200):
        number = f"GXQ-CG-2026-{i:04d}"
        filings.append((UNIT, "ContractFiled", dict(EXAMPLES["ContractFiled"]) | {
            "contract_no": number, "amount_fen": 1_000_000, "signed_on": today}, None))
        filings.append(("finance-zhao", "FundsDisbursed", dict(EXAMPLES["FundsDisbursed"]) | {
            "contract_no": number, "amount_fen": 500_000}, None))
    while len(filings) < 999:
        filings.append((UNIT, "MaterialsSupplemented", c.PAYLOAD, None))
    return c.file_project(ledger, UNIT, "1000 条目项目", filings)


def main() -> None:
    """Build, then time the three kinds of view."""
    args = c.parser(__doc__ or "", n=20, quick_n=5).parse_args()
    n = c.size(args)
    repeat = max(args.repeat, 10)
    c.header("bench_project_page", args)
    folder = Path(tempfile.mkdtemp(prefix="project-page-"))
    ledger = Ledger(Settings(database_url=f"sqlite:///{folder}/ledger.db", environment="test"))
    ledger.initialise()
    stream = build(ledger)
    with TestClient(create_app(ledger=ledger)) as client:
        c.sign_in(client, ledger.tokens.issue("office-li"), follow=True)

        def view() -> float:
            start = time.perf_counter()
            response = client.get(f"/projects/{stream}")
            assert response.status_code == 200, response.text[:300]
            return (time.perf_counter() - start) * 1000

        first = view()
        warm = [view() for _ in range(repeat)]
        after = []
        for _ in range(n):
            c.submit_all(ledger, [ledger.prepare(UNIT, "MaterialsSupplemented", c.PAYLOAD,
                                                 stream=stream)])
            after.append(view())
    ledger.close()
    rows = [["first view (once per process)", first, first, ""],
            [f"warm (n={repeat})", statistics.median(warm), max(warm),
             "met" if statistics.median(warm) <= TARGET_MS else "NOT met"],
            [f"after a filing (n={n})", statistics.median(after), max(after),
             "met" if statistics.median(after) <= TARGET_MS else "NOT met"]]
    print(c.table("Project page of a 1,000-entry project, SQLite (ms)",
                  ["view", "median", "max", f"target {TARGET_MS:.0f} ms"], rows))


if __name__ == "__main__":
    main()
