"""Figure 1: one filing per commit, ours vs bare eventsourcing (target: ours >= 0.85x bare).

Ours, custodial:  ``ledger.file(actor, "MaterialsSupplemented", payload, stream=project)``.
Ours, pre-signed: ``ledger.prepare(...)`` outside the timing, then ``ledger.submit(signed)``.
Bare:             ``agg = app.repository.get(id); agg.supplement(payload=...); app.save(agg)``.

Filings go round-robin over ``--projects`` projects (default 50). Caches: both applications run
with ``AGGREGATE_CACHE_MAXSIZE=5000`` and eventsourcing's default fast-forwarding (ours sets it
in ``ledger.app._persistence_env``; the baseline gets the same value in its env).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c


def main() -> None:
    p = c.parser(__doc__.splitlines()[0], n=1000, quick_n=150)
    p.add_argument("--projects", type=int, default=50)
    args = p.parse_args()
    n, projects = c.size(args), args.projects
    c.header("bench_single (figure 1: one filing per commit)", args)
    print(f"filings per timed run: {n}; projects: {projects}; repeat: {args.repeat}; "
          "aggregate cache: AGGREGATE_CACHE_MAXSIZE=5000 on both, fast-forward on")
    rows = []
    for name in c.backends(args.backend):
        with c.backend(name) as b:
            ledger = b.ours()
            streams = c.open_projects(ledger, projects)
            app = b.bare(cache=True)
            ids = c.open_bare(app, projects)
            position = {"ours": 0, "bare": 0}

            def bare_run(count: int = n) -> None:
                start = position["bare"]
                for i in range(start, start + count):
                    agg = app.repository.get(ids[i % projects])
                    agg.supplement(payload=c.PAYLOAD)
                    app.save(agg)
                position["bare"] = start + count

            def custodial_run(count: int = n) -> None:
                start = position["ours"]
                for i in range(start, start + count):
                    ledger.file(c.ACTOR, "MaterialsSupplemented", c.PAYLOAD,
                                stream=streams[i % projects])
                position["ours"] = start + count

            prepared: list = []

            def prepare(count: int = n) -> None:
                start = position["ours"]
                prepared[:] = [ledger.prepare(c.ACTOR, "MaterialsSupplemented", c.PAYLOAD,
                                              stream=streams[i % projects])
                               for i in range(start, start + count)]
                position["ours"] = start + count

            def presigned_run() -> None:
                for signed in prepared:
                    ledger.submit(signed)

            # Warm-up: a few rounds of each, untimed.
            warm = max(projects, 50)
            bare_run(warm)
            custodial_run(warm)
            prepare(warm)
            presigned_run()

            times: dict[str, list[float]] = {"bare": [], "custodial": [], "presigned": []}
            for _ in range(args.repeat):  # interleaved so drift hits all three alike
                times["bare"].append(c.timed(bare_run))
                times["custodial"].append(c.timed(custodial_run))
                prepare()
                times["presigned"].append(c.timed(presigned_run))
            med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
            rate = {k: n / v for k, v in med.items()}
            best = {k: n / min(v) for k, v in times.items()}
            for label, key in (("ours custodial (file)", "custodial"),
                               ("ours pre-signed (submit)", "presigned")):
                ratio = rate[key] / rate["bare"]
                rows.append([name, label, rate[key], 1e6 / rate[key], rate["bare"],
                             1e6 / rate["bare"], f"{ratio:.2f}x", c.verdict(ratio, 0.85),
                             f"{best[key] / best['bare']:.2f}x"])
            if args.profile is not None:
                c.profile_call(lambda: custodial_run(200), args.profile,
                               f"figure 1 ours custodial file() x200 on {name}")
                prepare(200)
                c.profile_call(presigned_run, args.profile,
                               f"figure 1 ours pre-signed submit() x200 on {name}")
                c.profile_call(lambda: bare_run(200), args.profile,
                               f"figure 1 bare get+trigger+save x200 on {name}")
    c.table("Figure 1 - one filing per commit (median of runs; target ours >= 0.85x bare)",
            ["backend", "ours", "ours filings/s", "ours us/filing", "bare filings/s",
             "bare us/filing", "ours/bare", "target 0.85x", "ours/bare best runs"], rows)


if __name__ == "__main__":
    main()
