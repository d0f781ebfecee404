"""Figure 4: ``ledger verify`` of the whole ledger (target: >= 15,000 entries/s on 2 cores, 100k).

Ours:     ``ledger.evidence.verify.verify_ledger(ledger.log, ledger.identity, workers=2)`` over a ledger
          of ``--n`` entries built with group commits of ``--batch`` (100) across ``--projects`` projects
          (build time reported too: custodial ``prepare`` and ``submit_many`` separately).
Limit:    one core's ``ledger.crypto.suites.INTL.signature.verify`` rate (Ed25519 via PyNaCl) measured
          in the same run on real filing bytes; the 2-core limit is twice that (every entry
          carries one author signature, so verify can never beat it).
Baseline: bare eventsourcing reading its whole log of the same number of events (same payload):
          ``recorder.select_notifications`` in pages of 2,000 + ``mapper.to_domain_event`` each.

Under load (``--under-load``): the same verify while another process files into the ledger at
``--load-rate`` filings a second (one filing per commit, custodial), as a live ledger would be;
``ledger verify`` reads one snapshot, so it stays exact, and the figure is its rate under that
load against its idle rate (target: at least 0.5x), with the filings the load made meanwhile.

Building 100,000 entries takes minutes; to iterate on ``ledger verify``, build once with
``--keep`` (PostgreSQL: the ledger's schema is kept and its URL printed) and pass that URL to
later runs with ``--reuse URL`` (no build; ``--no-bare`` also skips the baseline). Drop a kept
schema yourself when done (``DROP SCHEMA ... CASCADE``).
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

from ledger.crypto.suites import INTL
from ledger.evidence.verify import verify_ledger


def ed25519_rate(ledger, repeat: int, count: int = 4000) -> float:  # type: ignore[no-untyped-def]
    """Verifications per second on one core: real filing bytes, a fresh Ed25519 key."""
    signer = INTL.signature.generate()
    messages = [ledger.prepare(c.ACTOR, "MaterialsSupplemented", c.PAYLOAD,
                               stream=c.uuid.uuid4()).filing.signing_bytes()
                for _ in range(200)]
    pairs = [(m, signer.sign(m)) for m in messages]
    public = signer.public_key
    verify = INTL.signature.verify

    def run() -> None:
        for i in range(count):
            message, signature = pairs[i % len(pairs)]
            verify(public, message, signature)

    run()
    best, _ = c.median_of(run, repeat)
    return count / best


def ed25519_cpu_us(ledger, repeat: int, count: int = 4000) -> float:  # type: ignore[no-untyped-def]
    """CPU µs of one Ed25519 verification (the fastest of ``repeat`` rounds): the signature's
    share of an entry in the same units as verify's CPU per entry (a wall-clock rate on a
    shared machine also counts the time other processes held the core)."""
    signer = INTL.signature.generate()
    message = ledger.prepare(c.ACTOR, "MaterialsSupplemented", c.PAYLOAD,
                             stream=c.uuid.uuid4()).filing.signing_bytes()
    signature, public, verify = signer.sign(message), signer.public_key, INTL.signature.verify
    best = float("inf")
    for _ in range(repeat + 1):
        t0 = time.process_time()
        for _ in range(count):
            verify(public, message, signature)
        best = min(best, time.process_time() - t0)
    return best / count * 1e6


def heads_map_us(ledger) -> float:  # type: ignore[no-untyped-def]
    """CPU µs per entry of the stream heads map's recomputation alone (``RecomputedHeads``
    over every leaf, one version per checkpoint: what ``ledger verify``'s main process spends
    on it, without comparing the stored rows), on one core, GC off as in verify."""
    import gc  # noqa: PLC0415

    from ledger.log.verify_heads import RecomputedHeads  # noqa: PLC0415

    with ledger.log.snapshot() as view:
        sizes = sorted(cp.size for cp in view.iter_checkpoints())
        start = view.heads_map_start()
        leaves = [row for page in view.log_pages(batch=2000) for row in page]
    heads = RecomputedHeads(ledger.identity.profile, start, sizes)
    gc.disable()
    try:
        t0 = time.process_time()
        heads.extend(leaves)
        heads.finish(len(leaves))
        heads.take()
        return (time.process_time() - t0) / max(1, len(leaves)) * 1e6
    finally:
        gc.enable()


def breakdown(ledger, leaves: int, name: str) -> None:  # type: ignore[no-untyped-def]
    """Single-core cost per entry of each step ``ledger verify`` does (unprofiled)."""
    import hashlib  # noqa: PLC0415

    from ledger.log import merkle  # noqa: PLC0415
    from ledger.log.entries import Entry, b64decode  # noqa: PLC0415

    t0 = time.perf_counter()
    rows = list(ledger.log.iter_log())
    t_read = time.perf_counter() - t0
    states = [s.state for _, s in rows if s is not None]
    t0 = time.perf_counter()
    for state in states:
        hashlib.sha256(state).digest()
    t_hash = time.perf_counter() - t0
    t0 = time.perf_counter()
    entries = [Entry.parse(state) for state in states]
    t_parse = time.perf_counter() - t0
    t0 = time.perf_counter()
    for e in entries:
        e.canonical()
    t_canon = time.perf_counter() - t0
    t0 = time.perf_counter()
    messages = [e.filing.signing_bytes() for e in entries]
    t_sign_bytes = time.perf_counter() - t0
    t0 = time.perf_counter()
    for e in entries:
        b64decode(e.signature)
    t_b64 = time.perf_counter() - t0
    digests = [leaf.entry_hash for leaf, _ in rows]
    t0 = time.perf_counter()
    size, edge = 0, {}
    for d in digests:
        _, edge = merkle.append_leaves(INTL.hash, size, edge, [d])
        size += 1
    t_merkle1 = time.perf_counter() - t0
    t0 = time.perf_counter()
    merkle.append_leaves(INTL.hash, 0, {}, digests)
    t_merkle_batch = time.perf_counter() - t0
    one = ed25519_rate(ledger, 1, 2000)
    del messages
    n = len(states)
    c.table(f"Figure 4 breakdown - single-core cost per entry of verify's steps on {name}"
            f" ({n:,} entries, unprofiled)",
            ["step", "us/entry"],
            [["iter_log (DB read + LeafRow/StoredEvent)", t_read / n * 1e6],
             ["sha256(state)", t_hash / n * 1e6],
             ["Entry.parse (json + strict checks)", t_parse / n * 1e6],
             ["entry.canonical() (JCS re-encode to compare)", t_canon / n * 1e6],
             ["filing.signing_bytes() (JCS of filing)", t_sign_bytes / n * 1e6],
             ["b64decode(signature)", t_b64 / n * 1e6],
             ["merkle.append_leaves one leaf at a time", t_merkle1 / n * 1e6],
             ["merkle.append_leaves all leaves in one call", t_merkle_batch / n * 1e6],
             ["Ed25519 verify (INTL.signature.verify)", 1e6 / one]])


def build_ours(ledger, n: int, projects: int,  # type: ignore[no-untyped-def]
               per_commit: int = 100) -> tuple[float, float, int]:
    """Fill a ledger to ``n`` leaves in commits of ``per_commit`` (each a checkpoint, and so a
    version of the heads map); return (prepare seconds, submit seconds, leaves)."""
    t_prepare = t_submit = 0.0
    start = time.perf_counter()
    streams = c.open_projects(ledger, projects)
    t_submit += time.perf_counter() - start  # opening includes its own prepares
    remaining = n - ledger.log.tree_size()
    cursor = 0
    last = time.perf_counter()
    while remaining > 0:
        count = min(per_commit, remaining)
        t0 = time.perf_counter()
        batch = [ledger.prepare(c.ACTOR, "MaterialsSupplemented", c.PAYLOAD,
                                stream=streams[(cursor + i) % projects]) for i in range(count)]
        t1 = time.perf_counter()
        c.submit_all(ledger, batch)
        t2 = time.perf_counter()
        t_prepare += t1 - t0
        t_submit += t2 - t1
        cursor += count
        remaining -= count
        if t2 - last > 15:
            print(f"  build: {n - remaining:,}/{n:,} leaves", flush=True)
            last = t2
    return t_prepare, t_submit, ledger.log.tree_size()


def build_bare(app, n: int, projects: int) -> None:  # type: ignore[no-untyped-def]
    """A bare log of ``n`` events over ``projects`` aggregates, saved 100 at a time."""
    aggs = []
    for start in range(0, projects, 100):
        batch = [c.BareProject(payload=c.OPEN_PAYLOAD) for _ in range(min(100, projects - start))]
        app.save(*batch)
        aggs.extend(batch)
    done, cursor = projects, 0
    while done < n:
        count = min(100, n - done)
        batch = [aggs[(cursor + i) % projects] for i in range(count)]
        for agg in batch:
            agg.supplement(payload=c.PAYLOAD)
        app.save(*batch)
        cursor += count
        done += count


def bare_read_all(app) -> int:  # type: ignore[no-untyped-def]
    """Read and deserialise every event of the bare log; return how many."""
    seen, start = 0, 1
    while True:
        page = app.recorder.select_notifications(start=start, limit=2000)
        if not page:
            return seen
        for notification in page:
            app.mapper.to_domain_event(notification)
        seen += len(page)
        start = page[-1].id + 1


def cpu_seconds() -> tuple[float, float, float]:
    """CPU seconds so far of this process, of its (joined) children, and of every PostgreSQL
    server process on this machine (all sessions: other load on the server counts too)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return (own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime, postgres_cpu())


def postgres_cpu() -> float:
    """CPU seconds of the local processes named ``postgres`` (0.0 where /proc is not there)."""
    total = 0
    for pid in (p for p in os.listdir("/proc") if p.isdigit()) if os.path.isdir("/proc") else ():
        try:
            with open(f"/proc/{pid}/comm") as fh:
                if not fh.read().startswith("postgres"):
                    continue
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def _file_meanwhile(url: str, rate: float, stop: Any, filed: Any) -> None:
    """A filing load in its own process: one custodial filing per commit into the ledger's
    projects, paced at ``rate`` a second, until ``stop`` is set; counts into ``filed``."""
    from ledger.app import Ledger  # noqa: PLC0415
    from ledger.settings import Settings  # noqa: PLC0415

    ledger = Ledger(Settings(database_url=url, environment="test"))
    try:
        streams = [s for s in ledger.log.stream_ids() if s != ledger.identity.registry_stream]
        started, turn = time.perf_counter(), 0
        while not stop.is_set():
            ledger.file(c.ACTOR, "MaterialsSupplemented", c.PAYLOAD,
                        stream=streams[turn % len(streams)])
            turn += 1
            filed.value = turn
            pause = started + turn / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
    finally:
        ledger.close()


def verify_under_load(ledger, args, leaves: int, idle: float) -> list[object]:  # type: ignore[no-untyped-def]
    """Time verify runs while another process files; the row of the under-load table."""
    context = multiprocessing.get_context("spawn")
    stop, filed = context.Event(), context.Value("l", 0)
    load = context.Process(target=_file_meanwhile, args=(
        ledger.settings.database_url, args.load_rate, stop, filed))
    load.start()
    try:
        while filed.value < 10:  # the load is running before the first timed run
            time.sleep(0.05)
        runs, rates, entries = [], [], []
        for _ in range(args.repeat):
            before, t0 = filed.value, time.perf_counter()
            report = verify_ledger(ledger.log, ledger.identity, workers=args.workers)
            seconds = time.perf_counter() - t0
            assert report.ok, [f.describe() for f in report.failures[:5]]
            runs.append(report.entries / seconds)
            rates.append((filed.value - before) / seconds)
            entries.append(report.entries)
    finally:
        stop.set()
        load.join(timeout=30)
    rate = sorted(runs)[len(runs) // 2]
    return [leaves, max(entries), sorted(rates)[len(rates) // 2], idle, rate,
            f"{rate / idle:.2f}x", c.verdict(rate / idle, 0.5)]


def kept_url() -> str:
    """A fresh PostgreSQL schema the backend will not drop (``--keep``); its database URL."""
    schema = f"bench_kept_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(c.PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return f"{c.PG_URL}?schema={schema}"


def ledger_for(b: c.Backend, args, n: int, projects: int):  # type: ignore[no-untyped-def]
    """The ledger to verify: reused (``--reuse``), or built (kept with ``--keep``).

    Returns (ledger, build row or None when reused, leaves).
    """
    if args.reuse:
        ledger = b.ours(args.reuse)
        leaves = ledger.log.tree_size()
        print(f"  {b.name}: reusing {leaves:,} leaves at {args.reuse}", flush=True)
        return ledger, None, leaves
    url = kept_url() if args.keep and b.name == "postgres" else None
    if url is None:
        url = b.ours_url()
    ledger = b.ours(url)
    t_prep, t_sub, leaves = build_ours(ledger, n, projects, args.batch)
    b.analyze(url)  # statistics, as a live database has them (not timed)
    print(f"  {b.name}: built {leaves:,} leaves in {t_prep + t_sub:.1f} s", flush=True)
    if args.keep and b.name == "postgres":
        print(f"  {b.name}: kept; rerun with --reuse '{url}'", flush=True)
    row = [b.name, leaves, t_prep + t_sub, t_prep, t_sub, (leaves / t_sub) if t_sub else 0.0]
    return ledger, row, leaves


def main() -> None:
    p = c.parser(__doc__.splitlines()[0], n=100_000, quick_n=5_000)
    p.add_argument("--projects", type=int, default=None,
                   help="projects the entries spread over (default n/100)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch", type=int, default=100,
                   help="filings a commit when building (each commit is a checkpoint and a"
                        " heads map version; 1: a quiet ledger's one filing per commit)")
    p.add_argument("--gc-experiment", action="store_true",
                   help="also time one verify with Python's cyclic GC disabled")
    p.add_argument("--breakdown", action="store_true",
                   help="also time each verify step on one core (unprofiled)")
    p.add_argument("--keep", action="store_true",
                   help="PostgreSQL: keep the built ledger's schema and print its URL")
    p.add_argument("--reuse", metavar="URL", default=None,
                   help="verify the ledger at URL (kept by --keep) instead of building one")
    p.add_argument("--no-bare", action="store_true",
                   help="skip the bare eventsourcing baseline (quicker iterations)")
    p.add_argument("--under-load", action="store_true",
                   help="also time verify while another process files (see the docstring)")
    p.add_argument("--load-rate", type=float, default=100.0,
                   help="filings a second of the --under-load filing process (default 100)")
    args = p.parse_args()
    n = c.size(args)
    projects = args.projects or max(1, n // 100)
    c.header("bench_verify (figure 4: ledger verify)", args)
    print(f"entries: {n:,} over {projects:,} projects (group commits of 100); workers: "
          f"{args.workers} (os.cpu_count()={os.cpu_count()}); repeat: {args.repeat}", flush=True)
    rows, builds, cpu_rows, load_rows, budget_rows = [], [], [], [], []
    for name in c.backends(args.backend):
        with c.backend(name) as b:
            ledger, build_row, leaves = ledger_for(b, args, n, projects)
            if build_row is not None:
                builds.append(build_row)
            app = None if args.no_bare else b.bare(cache=True)
            if app is not None:
                t0 = time.perf_counter()
                build_bare(app, leaves, projects)
                print(f"  {name}: bare log of {leaves:,} events built in "
                      f"{time.perf_counter() - t0:.1f} s", flush=True)

            report = verify_ledger(ledger.log, ledger.identity, workers=args.workers)  # warm-up
            assert report.ok, [f.describe() for f in report.failures[:5]]
            assert report.entries == leaves and report.signatures == leaves, report
            t: dict[str, list[float]] = {"ours": [], "bare": []}
            cpu: list[tuple[float, float, float]] = []
            for _ in range(args.repeat):
                before = cpu_seconds()
                t["ours"].append(c.timed(lambda: verify_ledger(ledger.log, ledger.identity,
                                                               workers=args.workers)))
                cpu.append(tuple(b - a for a, b in zip(before, cpu_seconds(), strict=True)))
                if app is not None:
                    t["bare"].append(c.timed(lambda: bare_read_all(app)))
            t["bare"] = t["bare"] or [float("nan")]
            med = {k: sorted(v)[len(v) // 2] for k, v in t.items()}
            one_core = ed25519_rate(ledger, args.repeat)
            cores = min(args.workers, os.cpu_count() or 1)  # the limit's and verify's cores
            limit = one_core * cores
            ours_rate = leaves / med["ours"]
            best_rate = leaves / min(t["ours"])
            rows.append([name, leaves, med["ours"], ours_rate, leaves / med["bare"],
                         f"{ours_rate / (leaves / med['bare']):.2f}x", one_core, limit,
                         f"{ours_rate / limit:.2f}", c.verdict(ours_rate, 15000), best_rate])
            print(f"  {name}: verify runs {[round(x, 2) for x in t['ours']]} s", flush=True)
            main_us, workers_us, pg_us = (sorted(x[i] for x in cpu)[len(cpu) // 2] / leaves * 1e6
                                          for i in range(3))
            idle = min(1e6 * (os.cpu_count() or 1) / (main_us + workers_us + pg_us),
                       1e6 * cores / workers_us, 1e6 / main_us)
            cpu_rows.append([name, leaves, main_us, workers_us, pg_us, idle,
                             c.verdict(idle, 15000)])
            # The bound on ours/limit: on the same cores, a rate of cores / (CPU per entry)
            # against cores / (signature CPU) is at most signature / total, whatever the split.
            total_us = main_us + workers_us + pg_us
            sig_us = ed25519_cpu_us(ledger, args.repeat)
            map_us = heads_map_us(ledger)
            budget_rows.append([name, cores, total_us, sig_us, total_us - sig_us, map_us,
                                f"{sig_us / total_us:.2f}", sig_us / 0.6 - sig_us])
            if args.under_load:
                load_rows.append([name, *verify_under_load(ledger, args, leaves, ours_rate)])
            if args.gc_experiment:
                t_nogc = c.timed_without_gc(lambda: verify_ledger(
                    ledger.log, ledger.identity, workers=args.workers))
                print(f"  {name}: verify with the cyclic GC disabled: {t_nogc:.2f} s = "
                      f"{leaves / t_nogc:,.0f} entries/s (vs {med['ours']:.2f} s)", flush=True)
            if args.breakdown:
                breakdown(ledger, leaves, name)
            if args.profile is not None:
                c.profile_call(lambda: verify_ledger(ledger.log, ledger.identity,
                                                     workers=args.workers), args.profile,
                               f"figure 4 verify_ledger workers={args.workers} (main process"
                               f" only) of {leaves} on {name}", top=35)
                t1 = c.timed(lambda: verify_ledger(ledger.log, ledger.identity, workers=1))
                print(f"  {name}: verify with workers=1 (inline, one core): {t1:.2f} s = "
                      f"{leaves / t1:,.0f} entries/s", flush=True)
    c.table("Figure 4 - build (group commits of 100, prepare = custodial signing)",
            ["backend", "leaves", "build s", "prepare s", "submit_many s",
             "submit entries/s"], builds)
    c.table("Figure 4 - ledger verify (median; target >= 15,000 entries/s on 2 cores)",
            ["backend", "entries", "verify s", "ours entries/s", "bare read-all events/s",
             "ours/bare", "Ed25519 verify/s 1 core", "Ed25519 limit/s (x cores)",
             "ours/limit", "target 15,000/s", "ours best run entries/s"], rows)
    c.table("Figure 4 - ledger verify, CPU per entry (median; the rate on idle cores is what"
            " that CPU allows when the main process, the workers and PostgreSQL share the"
            " cores, each worker using at most one)",
            ["backend", "entries", "main process CPU us", "workers CPU us",
             "PostgreSQL CPU us (all sessions)", "entries/s on idle cores", "target 15,000/s"],
            cpu_rows)
    c.table("Figure 4 - ledger verify against the Ed25519 limit, CPU per entry (median runs;"
            " the limit and verify use the same cores: verify's main process and its workers"
            " share them, the limit is one core's verify rate times their number)",
            ["backend", "cores", "CPU us/entry (main + workers + PostgreSQL)",
             "signature us (one Ed25519 verify's CPU)", "non-signature us", "of which heads map"
             " recomputation us (one core, alone)", "ours/limit that CPU allows",
             "non-signature us allowed for 0.6"], budget_rows)
    if load_rows:
        c.table(f"ledger verify under a filing load ({args.load_rate:g} filings/s asked, one"
                " per commit, from another process; target: at least 0.5x the idle rate)",
                ["backend", "entries at start", "entries verified (largest snapshot)",
                 "filings/s made meanwhile", "idle entries/s", "under load entries/s",
                 "under load / idle", "target 0.5x"], load_rows)


if __name__ == "__main__":
    main()
