"""Keys in a PKCS#11 token (SoftHSM2) against software keys, side by side in one run.

Three figures, each as software | token | ratio (token / software for costs; token's rate over
software's for throughput), software and token runs interleaved so outside load skews both:

1. the cost of one Ed25519 signature: over a checkpoint's body (what the log key signs at every
   commit) and over a filing's signing bytes (what a custodial key signs);
2. a custodial filing: ``prepare`` (the server signs for the author) per filing, and a one-filing
   commit (``file``: the custodial signature, deciding, the append and its checkpoint);
3. group commit of 100 filings across 100 projects, ``prepare`` outside the timing (as
   ``bench_group.py``): entries/s with the log key in the token against software
   (target: the token's rate >= 0.8x software's).

The token is a fresh SoftHSM2 token in a temporary folder (``softhsm2-util --init-token``), made
before the module is loaded; SoftHSM2 runs in this process, so its CPU is part of the figures.
"""

from __future__ import annotations

import base64
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

from ledger.app import Ledger
from ledger.crypto.pkcs11 import open_token, parse_pkcs11_uri
from ledger.crypto.suites import Ed25519Suite, Signer
from ledger.log.checkpoint import Checkpoint
from ledger.measures.roles import Role
from ledger.settings import Settings

MODULE = os.environ.get("LEDGER_BENCH_SOFTHSM_MODULE", "/usr/lib/softhsm/libsofthsm2.so")
BATCH = 100


def make_token(folder: Path) -> str:
    """A fresh SoftHSM2 token in ``folder``; the ``LEDGER_KEYS`` URI naming it."""
    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\n"
                    "log.level = ERROR\n", encoding="utf-8")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "bench", "--pin",
                    "1234", "--so-pin", "12345678"], check=True, capture_output=True)
    return f"pkcs11:token=bench?module-path={MODULE}&pin-value=1234"


def per_call_us(fn: Callable[[], object], count: int) -> float:
    t0 = time.perf_counter()
    for _ in range(count):
        fn()
    return (time.perf_counter() - t0) / count * 1e6


def interleaved(runs: dict[str, Callable[[], float]], repeat: int) -> dict[str, float]:
    """Median of ``repeat`` runs of each, alternating which goes first."""
    got: dict[str, list[float]] = {name: [] for name in runs}
    for turn in range(repeat):
        order = list(runs) if turn % 2 == 0 else list(reversed(runs))
        for name in order:
            got[name].append(runs[name]())
    return {name: statistics.median(values) for name, values in got.items()}


def signature_rows(software: Signer, token: Signer, filing: bytes, count: int,
                   repeat: int) -> list[list[Any]]:
    body = Checkpoint("ledger.gaoxin.example/projects", 123456, os.urandom(32),
                      (f"heads {base64.b64encode(os.urandom(32)).decode()}",)).body()
    Ed25519Suite().verify(token.public_key, body, token.sign(body))
    rows = []
    for what, message in (("checkpoint body", body), ("filing", filing)):
        got = interleaved({
            "software": lambda m=message: per_call_us(lambda: software.sign(m), count),
            "token": lambda m=message: per_call_us(lambda: token.sign(m), count)}, repeat)
        rows.append([f"one signature: {what} ({len(message)} B)", f"{got['software']:.1f} µs",
                     f"{got['token']:.1f} µs", f"{got['token'] / got['software']:.2f}x cost"])
    return rows


def ledger_for(b: c.Backend, keys: str) -> Ledger:
    settings = Settings(database_url=b.ours_url(), environment="test", keys=keys,
                        master_key=base64.b64encode(os.urandom(32)).decode())
    ledger = Ledger(settings)
    ledger.initialise()
    ledger.register_actor(c.ACTOR, Role.UNIT, "edu", "Benchmark unit 基准")
    c.upload_example_documents(ledger)
    b._apps.append(ledger)  # closed with the backend
    return ledger


def filing_rows(ledgers: dict[str, Ledger], streams: dict[str, list[Any]], count: int,
                repeat: int) -> list[list[Any]]:
    def prepare(name: str) -> float:
        ledger, stream = ledgers[name], streams[name][0]
        return per_call_us(lambda: ledger.prepare(c.ACTOR, "MaterialsSupplemented", c.PAYLOAD,
                                                  stream=stream), count)

    def one_commit(name: str) -> float:
        ledger, stream = ledgers[name], streams[name][1]
        return per_call_us(lambda: ledger.file(c.ACTOR, "MaterialsSupplemented", c.PAYLOAD,
                                               stream=stream), max(count // 10, 20))

    rows = []
    for what, fn in (("custodial filing: prepare (server signs)", prepare),
                     ("custodial filing: one-filing commit (file)", one_commit)):
        got = interleaved({name: lambda n=name, f=fn: f(n) for name in ledgers}, repeat)
        rows.append([what, f"{got['software']:.0f} µs", f"{got['token']:.0f} µs",
                     f"{got['token'] / got['software']:.2f}x cost"])
    return rows


def group_rows(ledgers: dict[str, Ledger], streams: dict[str, list[Any]], batches: int,
               repeat: int) -> list[list[Any]]:
    def run(name: str) -> float:
        ledger = ledgers[name]
        prepared = [[ledger.prepare(c.ACTOR, "MaterialsSupplemented", c.PAYLOAD, stream=s)
                     for s in streams[name]] for _ in range(batches)]
        t0 = time.perf_counter()
        for batch in prepared:
            c.submit_all(ledger, batch)
        return batches * BATCH / (time.perf_counter() - t0)

    got = interleaved({name: lambda n=name: run(n) for name in ledgers}, repeat)
    return [[f"group commit of {BATCH} (entries/s; log key signs each commit)",
             f"{got['software']:,.0f}", f"{got['token']:,.0f}",
             f"{got['token'] / got['software']:.2f}x rate"]]


def main() -> None:
    p = c.parser(__doc__.splitlines()[0], n=20, quick_n=5)
    p.add_argument("--signatures", type=int, default=2000, help="signatures per timed run")
    args = p.parse_args()
    batches = c.size(args)
    c.header("bench_keys (PKCS#11 token vs software keys)", args)
    folder = Path(tempfile.mkdtemp(prefix="ledger-bench-hsm-"))
    try:
        uri = make_token(folder)
        token = open_token(parse_pkcs11_uri(uri))
        print(f"token: SoftHSM2 {token.label!r} via {MODULE}; group commits: {batches} x"
              f" {BATCH}; repeat {args.repeat} (median), software and token interleaved",
              flush=True)
        software_signer = Ed25519Suite().generate()
        token_signer = token.generate("bench")
        rows: list[list[Any]] = []
        for name in c.backends(args.backend):
            with c.backend(name) as b:
                ledgers = {"software": ledger_for(b, "software"), "token": ledger_for(b, uri)}
                streams = {k: c.open_projects(v, BATCH) for k, v in ledgers.items()}
                if not rows:
                    filing = ledgers["software"].prepare(
                        c.ACTOR, "MaterialsSupplemented", c.PAYLOAD,
                        stream=streams["software"][0]).filing.signing_bytes()
                    rows += [["(any)", *row] for row in signature_rows(
                        software_signer, token_signer, filing, args.signatures, args.repeat)]
                rows += [[name, *row] for row in filing_rows(
                    ledgers, streams, max(args.signatures // 4, 100), args.repeat)]
                rows += [[name, *row] for row in group_rows(
                    ledgers, streams, batches, args.repeat)]
        c.table("PKCS#11 token (SoftHSM2) vs software keys, one run",
                ["backend", "what", "software", "token", "ratio"], rows)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
