"""gm profile (SM3 + SM2): append and ``ledger verify`` throughput next to intl, in one run.

Target (the gm issue): ``verify_ledger(..., workers=2)`` under gm >= 3,000 entries/s on 2 cores;
one core's SM2 verify rate (GmSSL, about 550 us) is the limit, since every entry carries one
author signature.

Per profile (``intl`` = SHA-256 + Ed25519, ``gm`` = SM3 + SM2), on a fresh ledger each:
1. one core's primitive costs on real filing bytes, in CPU time of this process (so that other
   load on the machine does not inflate them): signature verify through the profile's suite
   (and, for gm, GmSSL's bare ``sm2_verify_sm3_digest``, to show the suite's own overhead),
   custodial sign, and the entry hash;
2. append: ``--n`` entries over ``--projects`` projects, group commits of ``--batch`` (100;
   every commit signs one checkpoint, which ``ledger verify`` checks) (``prepare`` =
   custodial signing, ``submit_many`` = decide incl. the author-signature check, seal, Merkle,
   commit), timed separately (wall clock);
3. ``verify_ledger(ledger.log, ledger.identity, workers=W)``: median wall time of ``--repeat``
   runs, and the CPU time of the main process and of the worker processes per entry
   (``getrusage``). From those: the rate the same run reaches on 2 idle cores, as
   ``ledger.evidence.verify`` schedules it (the main process reads and does the sequential checks
   while the workers check entries and signatures, all at once: the cores are shared, no
   worker can use more than one, and the main process can go no faster than its own share),
   and the limit (one core's verify rate x min(W, cores)).

Building takes a while (SM2 signs and verifies every filing); to iterate on ``ledger verify``,
build once with ``--backend postgres --keep`` (the schemas are kept, their URLs printed) and
pass them to later runs as ``--reuse gm=URL --reuse intl=URL`` (a profile not named is built).
"""

from __future__ import annotations

import gc
import os
import resource
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

from ledger.app import Ledger
from ledger.crypto.suites import GM, INTL, Profile
from ledger.evidence.verify import verify_ledger
from ledger.measures.catalogue import example_documents
from ledger.measures.roles import Role
from ledger.settings import Settings

TARGET = 3000.0
"""entries/s that ``ledger verify`` must reach under gm on 2 cores (the issue)."""
PROFILES = (INTL, GM)


def kept_url() -> str:
    """A fresh PostgreSQL schema the backend will not drop (``--keep``); its database URL."""
    import psycopg  # noqa: PLC0415

    schema = f"bench_kept_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(c.PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return f"{c.PG_URL}?schema={schema}"


def new_ledger(b: c.Backend, profile: Profile, *, keep: bool = False) -> Ledger:
    """A fresh initialised ledger of ``profile`` with the benchmark's unit actor."""
    url = kept_url() if keep and b.name == "postgres" else b.ours_url()
    if keep and b.name == "postgres":
        print(f"  {b.name}/{profile.name}: kept; rerun with --reuse '{profile.name}={url}'",
              flush=True)
    settings = Settings(database_url=url, environment="test", profile=profile.name)
    ledger = Ledger(settings)
    ledger.initialise(profile=profile.name)
    for content in example_documents().values():  # what the example payloads reference
        ledger.add_document(content, "text/plain")
    ledger.register_actor(c.ACTOR, Role.UNIT, "edu", "Benchmark unit 基准")
    return ledger


# --- one core -----------------------------------------------------------------------------------


def cpu_us(fn: Callable[[int], object], count: int, repeat: int) -> float:
    """Median CPU microseconds of one ``fn(i)`` (``count`` calls per run, ``repeat`` runs)."""
    for i in range(min(count, 100)):
        fn(i)  # warm caches (the Z value, the lru caches)
    runs = []
    for _ in range(repeat):
        gc.collect()
        start = time.process_time()
        for i in range(count):
            fn(i)
        runs.append((time.process_time() - start) / count * 1e6)
    return statistics.median(runs)


def primitive_rows(ledger: Ledger, profile: Profile, repeat: int, count: int) -> list[list[Any]]:
    """One core's cost of the profile's verify, sign and entry hash on real filing bytes."""
    signer = profile.signature.generate()
    messages = [ledger.prepare(c.ACTOR, "MaterialsSupplemented", c.PAYLOAD,
                               stream=uuid.uuid4()).filing.signing_bytes() for _ in range(100)]
    pairs = [(m, signer.sign(m)) for m in messages]
    public = signer.public_key
    verify = profile.signature.verify
    rows: list[list[Any]] = []
    us = cpu_us(lambda i: verify(public, *pairs[i % len(pairs)]), count, repeat)
    rows.append([profile.name, f"{profile.signature.name} verify (suite)", us, 1e6 / us])
    if profile is GM:
        from gmssl_pyx import gmsslext  # noqa: PLC0415

        from ledger.crypto.gm import message_digest  # noqa: PLC0415

        raw = [(message_digest(public, m), s) for m, s in pairs]
        xy = public[1:]
        us = cpu_us(lambda i: gmsslext.sm2_verify_sm3_digest(xy, *raw[i % len(raw)]), count,
                    repeat)
        rows.append([profile.name, "GmSSL sm2_verify_sm3_digest (bare)", us, 1e6 / us])
    us = cpu_us(lambda i: signer.sign(messages[i % len(messages)]), count, repeat)
    rows.append([profile.name, f"{profile.signature.name} sign (custodial key)", us, 1e6 / us])
    entry = messages[0] * 2  # about an entry's size
    us = cpu_us(lambda i: profile.digest(entry), count * 20, repeat)
    rows.append([profile.name, f"{profile.hash.name} of {len(entry)} bytes", us, 1e6 / us])
    return rows


# --- append -------------------------------------------------------------------------------------


def build(ledger: Ledger, n: int, projects: int, per_commit: int) -> tuple[float, float, int]:
    """Fill ``ledger`` to ``n`` leaves, ``per_commit`` filings a commit (one checkpoint each).

    Return (prepare s, submit_many s, leaves).
    """
    t_prepare = t_submit = 0.0
    t0 = time.perf_counter()
    streams = c.open_projects(ledger, projects)
    t_submit += time.perf_counter() - t0  # opening includes its own prepares
    remaining, cursor = n - ledger.log.tree_size(), 0
    while remaining > 0:
        count = min(per_commit, remaining)
        t0 = time.perf_counter()
        batch = [ledger.prepare(c.ACTOR, "MaterialsSupplemented", c.PAYLOAD,
                                stream=streams[(cursor + i) % projects]) for i in range(count)]
        t1 = time.perf_counter()
        c.submit_all(ledger, batch)
        t_prepare += t1 - t0
        t_submit += time.perf_counter() - t1
        cursor += count
        remaining -= count
    return t_prepare, t_submit, ledger.log.tree_size()


# --- verify -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyRun:
    """One ``verify_ledger``: wall seconds and CPU seconds of this process and its workers."""

    wall: float
    main_cpu: float
    worker_cpu: float


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def measure_verify(ledger: Ledger, workers: int) -> VerifyRun:
    """Run ``verify_ledger`` once; the pool's workers are joined when it returns."""
    gc.collect()
    main0, kids0 = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    report = verify_ledger(ledger.log, ledger.identity, workers=workers)
    wall = time.perf_counter() - start
    assert report.ok, [f.describe() for f in report.failures[:5]]
    return VerifyRun(wall, _cpu(resource.RUSAGE_SELF) - main0,
                     _cpu(resource.RUSAGE_CHILDREN) - kids0)


def main() -> None:
    p = c.parser(__doc__.splitlines()[0], n=20_000, quick_n=2_000)
    p.set_defaults(backend="sqlite")
    p.add_argument("--projects", type=int, default=None,
                   help="projects the entries spread over (default n/100)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch", type=int, default=100,
                   help="filings per commit: each commit signs one checkpoint (default 100)")
    p.add_argument("--keep", action="store_true",
                   help="PostgreSQL: keep the built ledgers' schemas and print their URLs")
    p.add_argument("--reuse", action="append", default=[], metavar="PROFILE=URL",
                   help="verify the ledger at URL (kept by --keep) for PROFILE, no build")
    args = p.parse_args()
    reuse = dict(item.split("=", 1) for item in args.reuse)
    n = c.size(args)
    projects = args.projects or max(1, n // 100)
    cores = os.cpu_count() or 1
    c.header("bench_gm (gm profile: append and ledger verify, next to intl)", args)
    print(f"entries: {n:,} over {projects:,} projects (group commits of {args.batch}); workers: "
          f"{args.workers} (os.cpu_count()={cores}); repeat: {args.repeat}; load average "
          f"before: {os.getloadavg()[0]:.2f}", flush=True)
    primitives: list[list[Any]] = []
    appends: list[list[Any]] = []
    verifies: list[list[Any]] = []
    for name in c.backends(args.backend):
        with c.backend(name) as b:
            for profile in PROFILES:
                reused = reuse.get(profile.name)
                ledger = (Ledger(Settings(database_url=reused, environment="test"))
                          if reused else new_ledger(b, profile, keep=args.keep))
                try:
                    if name == c.backends(args.backend)[0]:
                        primitives += primitive_rows(ledger, profile, args.repeat,
                                                     500 if args.quick else 2000)
                    if reused:
                        leaves = ledger.log.tree_size()
                        print(f"  {name}/{profile.name}: reusing {leaves:,} leaves", flush=True)
                    else:
                        t_prep, t_sub, leaves = build(ledger, n, projects, args.batch)
                        appends.append([name, profile.name, leaves, t_prep, t_sub,
                                        leaves / t_sub, leaves / (t_prep + t_sub)])
                        print(f"  {name}/{profile.name}: built {leaves:,} leaves in "
                              f"{t_prep + t_sub:.1f} s", flush=True)
                    measure_verify(ledger, args.workers)  # warm-up (and a first check)
                    runs = sorted((measure_verify(ledger, args.workers)
                                   for _ in range(args.repeat)), key=lambda r: r.wall)
                    run = runs[len(runs) // 2]
                    print(f"  {name}/{profile.name}: verify {[round(r.wall, 2) for r in runs]} s"
                          f" wall, load average {os.getloadavg()[0]:.2f}", flush=True)
                    core_us = next(r[2] for r in primitives
                                   if r[0] == profile.name and r[1].endswith("(suite)"))
                    limit = 1e6 / core_us * min(args.workers, cores)
                    main_us = run.main_cpu / leaves * 1e6
                    worker_us = run.worker_cpu / leaves * 1e6
                    if args.workers == 1:
                        idle_rate = 1e6 / main_us
                    else:  # all at once: shared cores, one core per worker, main's own share
                        idle_rate = min(1e6 * cores / (main_us + worker_us),
                                        1e6 * min(args.workers, cores) / worker_us,
                                        1e6 / main_us)
                    verifies.append([
                        name, profile.name, leaves, args.workers, run.wall, leaves / run.wall,
                        main_us, worker_us, idle_rate, limit, f"{idle_rate / limit:.2f}",
                        c.verdict(idle_rate, TARGET) if profile is GM else "-"])
                finally:
                    ledger.close()
    c.table("gm vs intl - one core, real filing bytes (median CPU time)",
            ["profile", "operation", "CPU us/op", "ops/s per core"], primitives)
    c.table(f"gm vs intl - append (wall clock; group commits of {args.batch}, one checkpoint "
            "each; prepare = custodial signing)",
            ["backend", "profile", "entries", "prepare s", "submit_many s",
             "submit entries/s", "end-to-end entries/s"], appends)
    c.table(f"gm vs intl - ledger verify (median of {args.repeat}; target under gm >= "
            f"{TARGET:,.0f} entries/s on 2 cores)",
            ["backend", "profile", "entries", "workers", "wall s", "wall entries/s",
             "main CPU us/entry", "workers CPU us/entry", "entries/s on idle cores",
             "limit/s (verify x cores)", "idle/limit", "target (idle)"], verifies)


if __name__ == "__main__":
    main()
