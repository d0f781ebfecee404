"""Shared plumbing for the benchmark scripts in ``scripts/bench/``.

Every figure is measured as *ours* (``ledger.app.Ledger``) against a *baseline* measured in the
same process run, on the same database server or disk: bare eventsourcing 9.5.6
(``eventsourcing.application.Application``) with a plain ``Aggregate`` whose events carry the
same payload dict as ours (``ledger.measures.catalogue.EXAMPLES["MaterialsSupplemented"]``).

Backends: ``sqlite`` (a fresh database file per application, in one fresh temp directory) and
``postgres`` (a fresh schema per application in the ``test`` database, dropped afterwards).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import os
import platform
import pstats
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from ledger.app import Ledger
from ledger.measures.catalogue import EXAMPLES
from ledger.measures.roles import Role
from ledger.settings import Settings

PG_URL = os.environ.get("LEDGER_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
PAYLOAD: dict[str, Any] = dict(EXAMPLES["MaterialsSupplemented"])
OPEN_PAYLOAD: dict[str, Any] = dict(EXAMPLES["ApplicationFiled"])
ACTOR = "bench-unit"
CACHE_SIZE = "5000"
"""The aggregate cache both sides use (ours hard-codes ``AGGREGATE_CACHE_MAXSIZE=5000``)."""


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # so that ``finally`` drops the schemas and files made


signal.signal(signal.SIGTERM, _exit_on_sigterm)


# --- the baseline: bare eventsourcing ------------------------------------------------------


class BareProject(Aggregate):
    """A plain eventsourcing aggregate whose events carry the same payload dict as ours."""

    @event("Opened")
    def __init__(self, payload: dict[str, Any]) -> None:
        self.count = 1

    @event("MaterialsSupplemented")
    def supplement(self, payload: dict[str, Any]) -> None:
        self.count += 1


class BareApp(Application[uuid.UUID]):
    """The baseline application."""

    name = "BareBench"


# --- backends --------------------------------------------------------------------------------


@dataclass
class Backend:
    """One database backend: fresh ours/bare stores on the same server or disk."""

    name: str
    _tmp: Path | None = None
    _schemas: list[str] = field(default_factory=list)
    _apps: list[Application[Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.name == "sqlite":
            self._tmp = Path(tempfile.mkdtemp(prefix="ledger-bench-"))

    def _new_schema(self, prefix: str) -> str:
        schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        self._schemas.append(schema)
        return schema

    def analyze(self, url: str) -> None:
        """Gather the planner's statistics on the tables of the PostgreSQL ledger at ``url``
        (nothing on SQLite), as autovacuum does on a live database: a table just filled in
        bulk has none yet, and the planner's defaults then choose other plans (reading the
        heads map's rows by version, a bitmap scan and a sort instead of the index's order)."""
        if self.name == "sqlite":
            return
        schema = url.partition("?schema=")[2] or "public"
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            tables = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s",
                                  (schema,)).fetchall()
            for (table,) in tables:
                conn.execute(f'ANALYZE "{schema}"."{table}"')

    def ours_url(self) -> str:
        """A database URL for a fresh ledger."""
        if self.name == "sqlite":
            assert self._tmp is not None
            return f"sqlite:///{self._tmp / f'ours-{uuid.uuid4().hex[:8]}.db'}"
        return f"{PG_URL}?schema={self._new_schema('bench_ours')}"

    def bare_env(self, *, cache: bool) -> dict[str, str]:
        """eventsourcing's environment for a fresh baseline store on this backend."""
        env: dict[str, str] = {"CREATE_TABLE": "y"}
        if cache:
            env["AGGREGATE_CACHE_MAXSIZE"] = CACHE_SIZE
        if self.name == "sqlite":
            assert self._tmp is not None
            env |= {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                    "SQLITE_DBNAME": str(self._tmp / f"bare-{uuid.uuid4().hex[:8]}.db"),
                    "SQLITE_LOCK_TIMEOUT": "30"}
        else:
            env |= {"PERSISTENCE_MODULE": "eventsourcing.postgres",
                    "POSTGRES_DBNAME": "test", "POSTGRES_HOST": "127.0.0.1",
                    "POSTGRES_PORT": "5432", "POSTGRES_USER": "postgres",
                    "POSTGRES_PASSWORD": "", "POSTGRES_POOL_SIZE": "5",
                    "POSTGRES_MAX_OVERFLOW": "10", "POSTGRES_CONN_MAX_AGE": "3600",
                    "POSTGRES_LOCK_TIMEOUT": "30",
                    "POSTGRES_SCHEMA": self._new_schema("bench_bare")}
        return env

    def bare(self, *, cache: bool = True, env: dict[str, str] | None = None) -> BareApp:
        """A baseline application on a fresh store (or on ``env``'s store)."""
        app = BareApp(env=env or self.bare_env(cache=cache))
        self._apps.append(app)
        return app

    def empty(self, url: str | None = None) -> Ledger:
        """An initialised ledger with nothing registered (fresh store unless ``url``), closed
        with the backend."""
        ledger = Ledger(Settings(database_url=url or self.ours_url(), environment="test"))
        ledger.initialise()
        self._apps.append(ledger)
        return ledger

    def ours(self, url: str | None = None) -> Ledger:
        """An initialised ledger with one unit actor registered (fresh store unless ``url``)."""
        ledger = self.empty(url)
        if ACTOR not in ledger.registry().actors:
            ledger.register_actor(ACTOR, Role.UNIT, "edu", "Benchmark unit 基准")
        upload_example_documents(ledger)
        return ledger

    def close(self) -> None:
        """Close every application and drop every schema / file made."""
        for app in self._apps:
            with contextlib.suppress(Exception):
                app.close()
        self._apps.clear()
        if self._schemas:
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                for schema in self._schemas:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            self._schemas.clear()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)


@contextlib.contextmanager
def backend(name: str) -> Iterator[Backend]:
    """A backend whose stores are removed afterwards."""
    b = Backend(name)
    try:
        yield b
    finally:
        b.close()


def backends(choice: str) -> list[str]:
    """``sqlite``, ``postgres`` or ``both``."""
    return ["sqlite", "postgres"] if choice == "both" else [choice]


def upload_example_documents(ledger: Ledger) -> None:
    """Upload the documents the example payloads reference (filings must cite uploaded ones)."""
    add = getattr(ledger, "add_document", None)
    if add is None:  # older ledgers without a document store
        return
    from ledger.measures.catalogue import example_documents  # noqa: PLC0415

    for content in example_documents().values():
        add(content, "text/plain")


# --- building data -----------------------------------------------------------------------------


def open_projects(ledger: Ledger, count: int, *, batch: int = 100) -> list[uuid.UUID]:
    """Open ``count`` projects (ApplicationFiled) with group commits; return their ids."""
    streams: list[uuid.UUID] = []
    for start in range(0, count, batch):
        signed = [ledger.prepare(ACTOR, "ApplicationFiled", OPEN_PAYLOAD)
                  for _ in range(min(batch, count - start))]
        for result in ledger.submit_many(signed):
            if isinstance(result, Exception):
                raise result
            streams.append(result.stream)
    return streams


def csrf_of(html: str) -> str:
    """The CSRF token of the form on a page."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, "no CSRF field on the page"
    return found.group(1)


def sign_in(client: Any, token: str, *, follow: bool = False) -> None:
    """Sign a ``TestClient`` of the app in through the sign-in form; with ``follow``, the page
    it is sent on to is fetched too, as a browser does."""
    page = client.get("/signin")
    response = client.post("/signin", data={"csrf": csrf_of(page.text), "token": token},
                           follow_redirects=follow)
    assert response.status_code == (200 if follow else 303), response.text[:300]


def submit_all(ledger: Ledger, signed: Sequence[Any]) -> None:
    """Group-commit prepared filings, raising the first refusal."""
    for result in ledger.submit_many(signed):
        if isinstance(result, Exception):
            raise result


Filing = tuple[str, str, dict[str, Any], date | None]
"""actor, event type, payload, effective date (None: the day it is filed)."""


def file_project(ledger: Ledger, unit: str, title: str, filings: Sequence[Filing], *,
                 applied_on: date | None = None) -> uuid.UUID:
    """One project applied for by ``unit``, then ``filings`` on it in group commits of 50;
    its id (asserts it has every entry)."""
    (first,) = list(ledger.submit_many([ledger.prepare(
        unit, "ApplicationFiled", EXAMPLES["ApplicationFiled"] | {"title": title},
        effective=applied_on)]))
    assert not isinstance(first, Exception), first
    stream: uuid.UUID = first.stream
    for start in range(0, len(filings), 50):
        submit_all(ledger, [ledger.prepare(a, e, p, stream=stream, effective=on)
                            for a, e, p, on in filings[start:start + 50]])
    assert ledger.project(stream).version == len(filings) + 1
    return stream


def open_bare(app: BareApp, count: int, *, batch: int = 100) -> list[uuid.UUID]:
    """Create ``count`` baseline aggregates, saved in batches."""
    ids: list[uuid.UUID] = []
    for start in range(0, count, batch):
        aggs = [BareProject(payload=OPEN_PAYLOAD) for _ in range(min(batch, count - start))]
        app.save(*aggs)
        ids.extend(a.id for a in aggs)
    return ids


# --- timing ------------------------------------------------------------------------------------


QUIET_WAIT = float(os.environ.get("BENCH_QUIET_WAIT", "90"))
"""Seconds a timed run waits for the machine to be quiet (0: never wait)."""
CONTENDED: list[float] = []
"""Busy fraction of the machine (other processes) seen before each run that started anyway."""


def _busy_fraction(interval: float = 0.2) -> float:
    """Share of all cores busy over ``interval`` (from /proc/stat; 0.0 where unavailable)."""
    def sample() -> tuple[int, int]:
        with open("/proc/stat") as fh:
            fields = [int(x) for x in fh.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return idle, sum(fields)
    try:
        idle0, total0 = sample()
        time.sleep(interval)
        idle1, total1 = sample()
    except OSError:
        return 0.0
    return 1.0 - (idle1 - idle0) / max(1, total1 - total0)


def wait_quiet(limit: float = 0.25) -> float:
    """Wait (up to QUIET_WAIT s) until other processes use < ``limit`` of the machine.

    Other sessions run tests and benchmarks on this machine; a timed run started while they
    hold the cores measures them, not us. Returns the busy fraction seen last.
    """
    if QUIET_WAIT <= 0:
        return 0.0
    deadline = time.monotonic() + QUIET_WAIT
    busy = _busy_fraction()
    while busy >= limit and time.monotonic() < deadline:
        time.sleep(2)
        busy = _busy_fraction()
    if busy >= limit:
        CONTENDED.append(busy)
    return busy


def timed(fn: Callable[[], Any]) -> float:
    """Seconds one call of ``fn`` takes (after waiting for a quiet machine; GC collected)."""
    wait_quiet()
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def timed_without_gc(fn: Callable[[], Any]) -> float:
    """:func:`timed` with the cyclic garbage collector off during the call."""
    gc.disable()
    try:
        return timed(fn)
    finally:
        gc.enable()


def median_of(fn: Callable[[], Any], repeat: int) -> tuple[float, list[float]]:
    """Median seconds of ``repeat`` calls, and all of them."""
    runs = [timed(fn) for _ in range(repeat)]
    return statistics.median(runs), runs


def profile_call(fn: Callable[[], Any], out: Path | None, title: str,
                 *, top: int = 25) -> str:
    """cProfile one call of ``fn``; write a report (cumulative and tottime) and return it."""
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.strip_dirs()
    buf.write(f"===== {title}: by cumulative time =====\n")
    stats.sort_stats("cumulative").print_stats(top)
    buf.write(f"===== {title}: by own time =====\n")
    stats.sort_stats("tottime").print_stats(top)
    text = buf.getvalue()
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("a") as fh:
            fh.write(text)
    return text


# --- reporting -----------------------------------------------------------------------------------


def machine() -> str:
    """One line naming the machine."""
    model = "?"
    with contextlib.suppress(Exception):
        for line in subprocess.run(["lscpu"], capture_output=True, text=True,
                                   check=False).stdout.splitlines():
            if line.startswith("Model name"):
                model = line.split(":", 1)[1].strip()
    pg = "?"
    with contextlib.suppress(Exception), psycopg.connect(PG_URL, connect_timeout=3) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        pg = row[0] if row else "?"
    return (f"{os.cpu_count()} cores, {model}; Python {platform.python_version()}; "
            f"PostgreSQL {pg}; SQLite {__import__('sqlite3').sqlite_version}")


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured markdown table, printed and returned."""
    cells = [[str(c) for c in header]] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [f"\n### {title}\n"]
    lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(cells[0], widths, strict=False)) + " |")
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in cells[1:]:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + " |")
    lines.append(f"\n(load average after: {load()}; timed runs started on a busy machine: "
                 f"{len(CONTENDED)}{' ' + str([round(b, 2) for b in CONTENDED]) if CONTENDED else ''})")
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def _fmt(value: object) -> str:
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.3g}" if value < 1 else f"{value:.2f}"
    return str(value)


def verdict(value: float, target: float) -> str:
    """``met`` / ``NOT met`` against a lower bound."""
    return "met" if value >= target else "NOT met"


def parser(description: str, *, n: int, quick_n: int) -> argparse.ArgumentParser:
    """The common command line of every benchmark script."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument("--n", type=int, default=None,
                   help=f"size (default {n}; {quick_n} with --quick)")
    p.add_argument("--quick", action="store_true", help="small sizes (whole run < 60 s)")
    p.add_argument("--repeat", type=int, default=3, help="timed repetitions (median reported)")
    p.add_argument("--profile", type=Path, default=None,
                   help="append cProfile reports of ours to this file")
    p.set_defaults(default_n=n, quick_n=quick_n)
    return p


def size(args: argparse.Namespace) -> int:
    """The size asked for, or the default for the mode."""
    if args.n is not None:
        return int(args.n)
    return int(args.quick_n if args.quick else args.default_n)


def header(name: str, args: argparse.Namespace) -> None:
    """Print what is being run, on which machine."""
    print(f"# {name}  ({' '.join(sys.argv[1:]) or 'defaults'})")
    print(f"machine: {machine()}", flush=True)
    print(f"load average at start: {load()} (other processes on the machine skew absolute"
          " figures; ours and bare are interleaved so ratios suffer less)", flush=True)


def load() -> str:
    """The 1/5/15-minute load averages."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())
