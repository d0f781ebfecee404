"""Issue 3 figures: rebuild all projections, replay one 1,000-entry project, eligibility of a
10,000-project library — next to a bare read-and-decode of the same rows in the same run.

    .venv/bin/python scripts/bench/bench_projections.py --backend both --entries 100000
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg

from ledger.app import Ledger
from ledger.measures import rules
from ledger.measures.catalogue import EXAMPLES, example_documents
from ledger.measures.roles import Role
from ledger.measures.views import library_row
from ledger.settings import Settings
from projections.replay import replay_project
from projections.runner import Library

PG = "postgresql://postgres@127.0.0.1:5432/test"


def _build(url: str, entries: int, projects: int, long_stream: int) -> tuple[Ledger, uuid.UUID,
                                                                             float]:
    ledger = Ledger(Settings(database_url=url, environment="test"))
    ledger.initialise()
    for content in example_documents().values():
        ledger.add_document(content, "text/plain")
    units = [f"unit-{i:02d}" for i in range(20)]
    for unit in units:
        ledger.register_actor(unit, Role.UNIT, unit, unit)
    started = time.perf_counter()
    opened: list[uuid.UUID] = []
    batch = []
    for i in range(projects):
        batch.append(ledger.prepare(units[i % 20], "ApplicationFiled",
                                    EXAMPLES["ApplicationFiled"]))
        if len(batch) == 100 or i == projects - 1:
            opened += [r.stream for r in ledger.submit_many(batch)]  # type: ignore[union-attr]
            batch = []
    # opened[i] was opened by units[i % 20]; later filings come from the same unit (Art. scope).
    long_id = opened[0]
    for _ in range(long_stream - 1):  # one project with a long stream, appended in batches of 1
        batch.append(ledger.prepare(units[0], "MaterialsSupplemented",
                                    EXAMPLES["MaterialsSupplemented"], stream=long_id))
        if len(batch) == 1:
            ledger.submit_many(batch)
            batch = []
    remaining = entries - ledger.log.tree_size()
    i = 0
    while remaining > 0:
        size = min(100, remaining)
        targets = [1 + (i + k) % (len(opened) - 1) for k in range(size)]
        batch = [ledger.prepare(units[t % 20], "MaterialsSupplemented",
                                EXAMPLES["MaterialsSupplemented"], stream=opened[t])
                 for t in targets]
        refused = [r for r in ledger.submit_many(batch) if isinstance(r, Exception)]
        if refused:
            raise RuntimeError(f"bench filings refused: {refused[0]}")
        remaining -= size
        i += size
    return ledger, long_id, time.perf_counter() - started


def _bare_read(ledger: Ledger) -> float:
    started, start, count = time.perf_counter(), 1, 0
    while True:
        page = ledger.recorder.select_notifications(start=start, limit=2000)
        if not page:
            break
        for n in page:
            json.loads(n.state)
            count += 1
        start = page[-1].id + 1
    return count / (time.perf_counter() - started)


def _timed(times: int, action: Callable[[], object]) -> list[float]:
    """Seconds taken by each of ``times`` runs of ``action``."""
    taken = []
    for _ in range(times):
        started = time.perf_counter()
        action()
        taken.append(time.perf_counter() - started)
    return taken


def run(backend: str, entries: int, projects: int, long_stream: int) -> dict[str, object]:
    tmp = tempfile.TemporaryDirectory()
    schema = f"bp_{uuid.uuid4().hex[:10]}"
    if backend == "sqlite":
        url = f"sqlite:///{Path(tmp.name) / 'l.db'}"
    else:
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        url = f"{PG}?schema={schema}"
    try:
        ledger, long_id, build = _build(url, entries, projects, long_stream)
        total = ledger.log.tree_size()
        bare = _bare_read(ledger)
        library = Library(ledger)
        started = time.perf_counter()
        state = library.rebuild()
        rebuild = total / (time.perf_counter() - started)
        events = ledger.events_of(long_id)
        middle = events[len(events) // 2].recorded_at
        on = ledger.today()
        replays = _timed(5, lambda: replay_project(ledger, long_id, as_known_at=middle, on=on))
        # The worst case of "as known at any T": T = now, all 1,000 entries.
        replays_now = _timed(5, lambda: replay_project(ledger, long_id, on=on))
        calendar = ledger.calendar
        elig = []
        for _ in range(5):
            t = time.perf_counter()
            for facts in state.projects.values():
                rules.eligibility(facts, rules.CONSTRUCTION, on, calendar)
                rules.eligibility(facts, rules.OPERATION_MAINTENANCE, on, calendar)
            elig.append(time.perf_counter() - t)
        rows = []
        for _ in range(3):
            t = time.perf_counter()
            for facts in state.projects.values():
                library_row(facts, state.unit_of(facts), on, calendar)
            rows.append(time.perf_counter() - t)
        ledger.close()
        return {"backend": backend, "entries": total, "projects": len(state.projects),
                "build_s": round(build, 1), "bare_read_per_s": round(bare),
                "rebuild_per_s": round(rebuild), "rebuild_vs_bare": round(rebuild / bare, 2),
                "replay_1000_ms_median": round(statistics.median(replays) * 1000, 1),
                "replay_1000_ms_best": round(min(replays) * 1000, 1),
                "replay_1000_now_ms_median": round(statistics.median(replays_now) * 1000, 1),
                "eligibility_all_ms_median": round(statistics.median(elig) * 1000, 1),
                "library_rows_all_ms_median": round(statistics.median(rows) * 1000, 1)}
    finally:
        tmp.cleanup()
        if backend == "postgres":
            with psycopg.connect(PG, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--projects", type=int, default=10_000)
    parser.add_argument("--long-stream", type=int, default=1_000)
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    for backend in backends:
        result = run(backend, args.entries, args.projects, args.long_stream)
        print(json.dumps(result), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
