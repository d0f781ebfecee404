"""How many ``add-checkpoint`` requests the Audit Branch's witness (``src/witness/``) handles a second.

Checkpoints, signatures and consistency proofs are made beforehand (a log in memory that grows by
``--step`` leaves per checkpoint, with a ``heads`` extension line), so only the witness is timed:

* ``in-process``: :meth:`witness.service.Witness.add_checkpoint` in a loop (parse, log signature,
  RFC 6962 proof, one SQLite ``BEGIN IMMEDIATE`` … ``COMMIT`` with ``synchronous=FULL``, the
  cosignature), in this process pinned to one core;
* ``http``: ``ledger witness serve`` (uvicorn) pinned to core 0, fed over one keep-alive
  connection by a client pinned to core 1: what a log sees.

Both for an ``intl`` log (Ed25519, SHA-256) and a ``gm`` log (SM2, SM3). The state lives in a
temporary directory (``--dir`` to put it elsewhere, e.g. on the disk the witness would use).

    .venv/bin/python scripts/bench/bench_witness.py [--requests 2000] [--step 10] [--dir DIR]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ledger.crypto.suites import GM, INTL, Profile
from ledger.log.checkpoint import Checkpoint, VerifierKey, sign_checkpoint
from ledger.log.merkle import MemoryTree
from witness.keys import generate_cosigner_key, write_key_file
from witness.protocol import encode_request
from witness.service import Witness
from witness.store import WitnessStore

ROOT = Path(__file__).resolve().parents[2]
HEADS = "heads " + base64.b64encode(bytes(32)).decode()


def _requests(profile: Profile, origin: str, count: int, step: int) -> tuple[str, list[bytes]]:
    """The log's vkey and ``count`` add-checkpoint bodies, each growing the tree by ``step``."""
    signer = profile.signature.generate()
    tree = MemoryTree(profile.hash)
    bodies, old = [], 0
    for _ in range(count):
        tree.extend(os.urandom(32) for _ in range(step))
        checkpoint = Checkpoint(origin, tree.size, tree.root(), (HEADS,))
        note = sign_checkpoint(checkpoint, origin, signer).text()
        proof = tree.consistency_proof(old, tree.size) if old else []
        bodies.append(encode_request(old, proof, note))
        old = tree.size
    return VerifierKey.for_signer(origin, signer).encode(), bodies


def _state(directory: Path, vkey: str) -> Path:
    key = generate_cosigner_key("audit.gaoxin.example/bench")
    path = directory / f"w-{time.monotonic_ns()}.db"
    write_key_file(path.with_name(path.name + ".key"), key)
    store = WitnessStore.create(path, key.name, key.verifier_key.encode())
    store.add_log_key(VerifierKey.parse(vkey))
    store.close()
    return path


def in_process(directory: Path, vkey: str, bodies: list[bytes]) -> float:
    """Requests per second of Witness.add_checkpoint on this (pinned) process."""
    from witness.cli import open_witness  # noqa: PLC0415

    witness: Witness = open_witness(_state(directory, vkey))
    start = time.perf_counter()
    for body in bodies:
        witness.add_checkpoint(body)
    elapsed = time.perf_counter() - start
    witness.store.close()
    return len(bodies) / elapsed


def over_http(directory: Path, vkey: str, bodies: list[bytes]) -> float:
    """Requests per second of ``ledger witness serve`` on core 0, one keep-alive client."""
    state = _state(directory, vkey)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        ["taskset", "-c", "0", sys.executable, "-m", "api.cli", "witness", "serve", "--state",
         str(state), "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                connection.request("GET", "/")
                connection.getresponse().read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        start = time.perf_counter()
        for body in bodies:
            connection.request("POST", "/add-checkpoint", body=body)
            response = connection.getresponse()
            response.read()
            assert response.status == 200, response.status
        elapsed = time.perf_counter() - start
        connection.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return len(bodies) / elapsed


def main() -> None:
    """Print a table of add-checkpoint/s."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--step", type=int, default=10, help="leaves added per checkpoint")
    parser.add_argument("--dir", type=Path, default=None, help="where the state files go")
    args = parser.parse_args()
    os.sched_setaffinity(0, {1})  # this process (the client, or the in-process witness): core 1
    with tempfile.TemporaryDirectory(dir=args.dir) as scratch:
        directory = Path(scratch)
        print(f"{args.requests} add-checkpoint requests, +{args.step} leaves each, state in"
              f" {directory}")
        print(f"{'log':<5} {'in-process /s':>14} {'http /s':>9}")
        for profile in (INTL, GM):
            vkey, bodies = _requests(profile, f"bench-{profile.name}.example/log",
                                     args.requests, args.step)
            local = in_process(directory, vkey, bodies)
            remote = over_http(directory, vkey, bodies)
            print(f"{profile.name:<5} {local:>14.0f} {remote:>9.0f}")


if __name__ == "__main__":
    main()
