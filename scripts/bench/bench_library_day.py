"""The library's first view of a new day with 10,000 projects (target: server time <= 150 ms).

A process keeps each day's library; on a new day the rows are made again for the new
evaluation date. Only the shown page's rows are judged for that date (eligibility, overdue
obligations, flags); a filter or order by one of those columns judges every row, once that day.
Measured in-process through the ASGI app (``TestClient``), signed in as the Integrated
Management Office, on SQLite, over the library of ``bench_library.py`` (``--n`` projects of 8
units): the ledger's calendar clock is moved one day before each timed view. Wall time and the
process's CPU time are reported (the machine is shared).
"""

from __future__ import annotations

import inspect
import re
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c
import bench_library
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.app import Ledger

TARGET_MS = 150.0
DAYS = 5


def main() -> None:
    """Build the library, then time the first views of ``DAYS`` new days, per kind of view."""
    args = c.parser(__doc__.splitlines()[0], n=10_000, quick_n=500).parse_args()
    n = c.size(args)
    c.header("bench_library_day (first library view of a new day)", args)
    rows: list[list[object]] = []
    with c.backend("sqlite") as b:
        ledger = Ledger(c.Settings(database_url=b.ours_url(), environment="test"))
        b._apps.append(ledger)  # closed with the backend
        ledger.initialise()
        build: Any = bench_library.build_library
        if "approved_on" in inspect.signature(build).parameters:  # the shared builder's dates
            build(ledger, n, approved_on=bench_library.APPROVED_ON,
                  arranged_on=bench_library.ARRANGED_ON)
        else:
            build(ledger, n)
        shift = [timedelta(0)]
        # Only the day the pages evaluate on moves (sessions and tokens keep the real clock).
        book = ledger.calendar_book
        book._clock = lambda: datetime.now(UTC) + shift[0]
        with TestClient(create_app(ledger=ledger)) as client:
            sign_in(client, ledger.tokens.issue("office-li"))
            assert client.get("/projects").status_code == 200  # the read model caught up
            for label, path in (("first view of a new day, page 1 of 100", "/projects"),
                                ("first view of a new day, sorted by title, page 20",
                                 "/projects?sort=title&page=20"),
                                ("first eligibility filter of a new day",
                                 "/projects?elig=construction")):
                runs, cpu = [], []
                for _ in range(DAYS):
                    shift[0] += timedelta(days=1)
                    wall, used = _timed(lambda path=path: client.get(path).status_code)
                    runs.append(wall)
                    cpu.append(used)
                then = _timed(lambda path=path: client.get(path).status_code)[0]
                rows.append([label, statistics.median(runs), max(runs),
                             statistics.median(cpu), then, TARGET_MS,
                             "met" if max(runs) <= TARGET_MS else "NOT met"])
    c.table(f"Library of {n} projects: first view of each of {DAYS} new days (ms)",
            ["view", "median", "max", "CPU (median)", "the same view again", "target",
             "verdict"], rows)


def sign_in(client: TestClient, token: str) -> None:
    """Sign in through the form (the session cookie stays with the client)."""
    page = client.get("/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    response = client.post("/signin", data={"csrf": csrf.group(1), "token": token},
                           follow_redirects=False)
    assert response.status_code == 303


def _timed(get: Callable[[], int]) -> tuple[float, float]:
    """Wall time and this process's CPU time (the server is a thread of it), in ms: on a
    shared machine the CPU time is what the view costs, the wall time what a reader waits."""
    started, cpu = time.perf_counter(), time.process_time()
    assert get() == 200
    return (time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000


if __name__ == "__main__":
    main()
