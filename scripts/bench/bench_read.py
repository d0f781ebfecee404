"""Figure 3: verified read of a 1,000-entry stream (target: ours >= 0.5x bare, both backends).

Ours:  ``ledger.project(stream)``: rebuilds the project from its stream without the cache
       (every entry parsed, its hash recomputed, every ``prev`` link checked), then proves the
       newest entry's leaf is in the latest signed checkpoint (checkpoint signature checked
       once per new size, inclusion proof from stored nodes).
Bare:  ``app.repository.get(id)`` on an application WITHOUT an aggregate cache
       (``AGGREGATE_CACHE_MAXSIZE`` unset), so every get replays all events.
Streams: one stream of ``--n`` entries on each side, built with group commits of 100.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c


def main() -> None:
    p = c.parser(__doc__.splitlines()[0], n=1000, quick_n=1000)
    p.add_argument("--reads", type=int, default=5, help="reads per timed run")
    args = p.parse_args()
    n = c.size(args)
    reads = 2 if args.quick and args.reads == 5 else args.reads
    c.header("bench_read (figure 3: verified read of one stream)", args)
    print(f"stream length: {n}; reads per timed run: {reads}; repeat: {args.repeat}; "
          "ours: project() (uncached by design); bare: repository.get with no cache")
    rows = []
    for name in c.backends(args.backend):
        with c.backend(name) as b:
            ledger = b.ours()
            stream = c.open_projects(ledger, 1)[0]
            done = 1
            while done < n:
                count = min(100, n - done)
                c.submit_all(ledger, [ledger.prepare(c.ACTOR, "MaterialsSupplemented",
                                                     c.PAYLOAD, stream=stream)
                                      for _ in range(count)])
                done += count
            app = b.bare(cache=False)
            assert app.repository.cache is None
            agg = c.BareProject(payload=c.OPEN_PAYLOAD)
            done = 1
            while done < n:
                for _ in range(min(100, n - done)):
                    agg.supplement(payload=c.PAYLOAD)
                    done += 1
                app.save(agg)
            agg_id = agg.id
            assert ledger.project(stream).version == n
            assert app.repository.get(agg_id).version == n

            def ours_run() -> None:
                for _ in range(reads):
                    ledger.project(stream)

            def bare_run() -> None:
                for _ in range(reads):
                    app.repository.get(agg_id)

            ours_run()
            bare_run()  # warm-up
            t: dict[str, list[float]] = {"ours": [], "bare": []}
            for _ in range(args.repeat):
                t["bare"].append(c.timed(bare_run))
                t["ours"].append(c.timed(ours_run))
            ms = {k: 1e3 * sorted(v)[len(v) // 2] / reads for k, v in t.items()}
            ratio = ms["bare"] / ms["ours"]
            best = {k: 1e3 * min(v) / reads for k, v in t.items()}
            rows.append([name, ms["ours"], n / ms["ours"] * 1e3, ms["bare"],
                         n / ms["bare"] * 1e3, f"{ratio:.2f}x", c.verdict(ratio, 0.5),
                         f"{best['bare'] / best['ours']:.2f}x"])
            if args.profile is not None:
                c.profile_call(ours_run, args.profile,
                               f"figure 3 ours project() of {n} entries x{reads} on {name}")
                c.profile_call(bare_run, args.profile,
                               f"figure 3 bare repository.get of {n} events x{reads} on {name}")
    c.table(f"Figure 3 - verified read of a {n}-entry stream (median; target ours >= 0.5x bare)",
            ["backend", "ours ms/read", "ours entries/s", "bare ms/read", "bare events/s",
             "ours/bare (speed)", "target 0.5x", "ours/bare best runs"], rows)


if __name__ == "__main__":
    main()
