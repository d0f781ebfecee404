"""Figure 2: group commit of 100 filings (target: ours >= 5,000 entries/s on PostgreSQL).

Ours:  ``ledger.submit_many(batch)`` where ``batch`` is 100 filings, one for each of 100
       different projects, signed with ``ledger.prepare`` OUTSIDE the timed region (so the
       timing covers deciding: key, role, signature check, payload, rules, aggregate read; and
       the one-transaction append: sealing, leaves, Merkle nodes, signed checkpoint).
Bare:  (a) get the 100 aggregates from the repository, trigger one event on each, and
       ``app.save(*aggregates)`` in one call - the same shape of work as ``submit_many``;
       (b) ``app.save(*aggregates)`` alone (gets and triggers outside the timing), as the
       issue words the baseline.
Both run with ``AGGREGATE_CACHE_MAXSIZE=5000`` and eventsourcing's default fast-forwarding.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

BATCH = 100


def main() -> None:
    p = c.parser(__doc__.splitlines()[0], n=20, quick_n=5)
    args = p.parse_args()
    batches = c.size(args)
    c.header("bench_group (figure 2: group commit of 100)", args)
    print(f"timed run: {batches} group commits of {BATCH} filings across {BATCH} projects; "
          f"repeat: {args.repeat}; prepare() outside the timing; "
          "cache AGGREGATE_CACHE_MAXSIZE=5000 on both")
    rows = []
    for name in c.backends(args.backend):
        with c.backend(name) as b:
            ledger = b.ours()
            streams = c.open_projects(ledger, BATCH)
            app = b.bare(cache=True)
            ids = c.open_bare(app, BATCH)
            prepared: list[list] = []

            def prepare(count: int = batches) -> None:
                prepared[:] = [[ledger.prepare(c.ACTOR, "MaterialsSupplemented", c.PAYLOAD,
                                               stream=s) for s in streams]
                               for _ in range(count)]

            def ours_run() -> None:
                for batch in prepared:
                    c.submit_all(ledger, batch)

            def bare_full(count: int = batches) -> None:
                for _ in range(count):
                    aggs = [app.repository.get(i) for i in ids]
                    for agg in aggs:
                        agg.supplement(payload=c.PAYLOAD)
                    app.save(*aggs)

            staged: list[list] = []

            def bare_stage(count: int = batches) -> None:
                # Aggregates kept in memory: each round triggers one more event on each.
                aggs = [app.repository.get(i) for i in ids]
                staged[:] = [aggs] * count

            def bare_save_only() -> None:
                # Triggering is cheap (µs) next to saving; it is done per round inside the
                # loop only because a saved aggregate's pending events are gone.
                for aggs in staged:
                    for agg in aggs:
                        agg.supplement(payload=c.PAYLOAD)
                    app.save(*aggs)

            # Warm-up.
            prepare(2)
            ours_run()
            bare_full(2)
            bare_stage(2)
            bare_save_only()

            t: dict[str, list[float]] = {"ours": [], "bare": [], "save": []}
            for _ in range(args.repeat):
                prepare()
                t["ours"].append(c.timed(ours_run))
                t["bare"].append(c.timed(bare_full))
                bare_stage()
                t["save"].append(c.timed(bare_save_only))
            entries = batches * BATCH
            rate = {k: entries / sorted(v)[len(v) // 2] for k, v in t.items()}
            best = {k: entries / min(v) for k, v in t.items()}
            target = c.verdict(rate["ours"], 5000) if name == "postgres" else "(PG only)"
            rows.append([name, rate["ours"], 1e3 * BATCH / rate["ours"], rate["bare"],
                         f"{rate['ours'] / rate['bare']:.2f}x", rate["save"],
                         f"{rate['ours'] / rate['save']:.2f}x", target, best["ours"],
                         f"{best['ours'] / best['bare']:.2f}x"])
            if args.profile is not None:
                prepare(3)
                c.profile_call(ours_run, args.profile,
                               f"figure 2 ours submit_many(100) x3 on {name}")
                c.profile_call(lambda: bare_full(3), args.profile,
                               f"figure 2 bare get+trigger+save(*100) x3 on {name}")
    c.table("Figure 2 - group commit of 100 filings across 100 projects (median; target "
            ">= 5,000 entries/s on PostgreSQL)",
            ["backend", "ours entries/s", "ours ms/commit", "bare get+save entries/s",
             "ours/bare", "bare save-only entries/s", "ours/save-only", "target 5,000/s",
             "ours best run entries/s", "ours/bare best runs"], rows)


if __name__ == "__main__":
    main()
