"""CPU cost of the hot per-entry steps found by the profiles, next to cheaper alternatives.

Times are CPU time of this process (``time.process_time``), median of ``--repeat`` runs of
``--n`` calls, so that other processes on the machine disturb them little. Everything runs on
real objects from a small SQLite ledger built here (one project of 1,000 entries).

    .venv/bin/python scripts/bench/micro.py [--n 2000]
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

from ledger.crypto.suites import INTL
from ledger.log import merkle
from ledger.log.canonical import canonical_bytes
from ledger.log.entries import Entry, PendingEntry, b64decode, parse_time
from ledger.measures.catalogue import validate_payload

_PLAIN = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def cpu_us(fn: Callable[[], Any], n: int, repeat: int) -> float:
    """Median CPU microseconds per call."""
    fn()
    runs = []
    for _ in range(repeat):
        start = time.process_time()
        for _ in range(n):
            fn()
        runs.append((time.process_time() - start) / n * 1e6)
    return statistics.median(runs)


def main() -> None:
    p = c.parser(__doc__.splitlines()[0], n=2000, quick_n=300)
    args = p.parse_args()
    n, repeat = c.size(args), max(3, args.repeat)
    c.header("micro (CPU cost of hot steps)", args)
    with c.backend("sqlite") as b:
        ledger = b.ours()
        stream = c.open_projects(ledger, 1)[0]
        for _ in range(10):
            c.submit_all(ledger, [ledger.prepare(c.ACTOR, "MaterialsSupplemented", c.PAYLOAD,
                                                 stream=stream) for _ in range(100)])
        small = c.open_projects(ledger, 1)[0]
        c.submit_all(ledger, [ledger.prepare(c.ACTOR, "MaterialsSupplemented", c.PAYLOAD,
                                             stream=small) for _ in range(19)])
        stored = list(ledger.events.recorder.select_events(stream))
        state = stored[-1].state
        entry = Entry.parse(state)
        signed = ledger.prepare(c.ACTOR, "MaterialsSupplemented", c.PAYLOAD, stream=stream)
        pending = canonical_bytes(PendingEntry(signed.filing, signed.signature, 2).to_json())
        signer = INTL.signature.generate()
        message = entry.filing.signing_bytes()
        signature = signer.sign(message)
        registry = ledger.repository.get(ledger.identity.registry_stream)
        project20 = ledger.repository.get(small)
        project1000 = ledger.repository.get(stream)
        facts = getattr(project1000, "facts", None)
        digests = [hashlib.sha256(bytes([i % 256, i // 256])).digest() for i in range(n)]
        event = ledger.mapper.to_domain_event(stored[-1])
        from eventsourcing.domain import CanMutateProtocol  # noqa: PLC0415

        tail = (f',"prev":"{entry.prev}","recorded_at":"{entry.recorded_at}","seq":'
                f'{entry.seq},"signature":"{entry.signature}"}}').encode()
        rows: list[list[object]] = []

        def add(step: str, fn: Callable[[], Any], note: str = "") -> None:
            rows.append([step, cpu_us(fn, n, repeat), note])

        add("mapper.to_domain_event (whole, per entry read)",
            lambda: ledger.mapper.to_domain_event(stored[-1]))
        add("  Entry.parse(state)", lambda: Entry.parse(state))
        add("  json.loads(state) alone", lambda: json.loads(state))
        add("  parse_time(recorded_at) [strptime]", lambda: parse_time(entry.recorded_at))
        add("  datetime.fromisoformat(recorded_at) [alternative]",
            lambda: datetime.fromisoformat(entry.recorded_at), "3.11 reads the Z")
        add("  sha256(state)", lambda: hashlib.sha256(state).digest())
        add("eventsourcing assert isinstance(event, CanMutateProtocol)",
            lambda: isinstance(event, CanMutateProtocol), "both sides, per event replayed")
        if facts is not None:
            add("dataclasses.replace(ProjectFacts, entries=+1) [fold, per entry]",
                lambda: dataclasses.replace(facts, entries=facts.entries + 1))

            def cheap_replace() -> Any:
                new = copy.copy(facts)
                object.__setattr__(new, "entries", facts.entries + 1)
                return new
            add("  copy.copy + object.__setattr__ [alternative]", cheap_replace)
        add("entry.canonical() [canonical_bytes, with _check walk]", entry.canonical)
        add("  plain sorted-keys json encode of the same [no _check]",
            lambda: _PLAIN.encode(entry.to_json()).encode())
        add("filing.signing_bytes() [re-encode]", entry.filing.signing_bytes)
        add("  slice of the canonical entry bytes [alternative]",
            lambda: state[10:len(state) - len(tail)])
        add("PendingEntry.from_bytes(pending) [sealer.nonces + sealer.seal, each]",
            lambda: PendingEntry.from_bytes(pending))
        add("validate_payload(MaterialsSupplemented) [prepare + _decide, each]",
            lambda: validate_payload("MaterialsSupplemented", c.PAYLOAD))
        add("Ed25519 sign (custodial prepare)", lambda: signer.sign(message))
        add("Ed25519 verify (INTL.signature.verify)",
            lambda: INTL.signature.verify(signer.public_key, message, signature))
        add("b64decode(signature)", lambda: b64decode(entry.signature))
        add("deepcopy(KeyRegistry) [every registry() read]", lambda: copy.deepcopy(registry))
        add("deepcopy(Project, 20 entries) [every repository.get]",
            lambda: copy.deepcopy(project20))
        add("deepcopy(Project, 1,000 entries) [every repository.get]",
            lambda: copy.deepcopy(project1000))
        state_edge: dict[str, Any] = {"size": 0, "edge": {}}

        def one_leaf() -> None:
            i = state_edge["size"] % n
            _, state_edge["edge"] = merkle.append_leaves(INTL.hash, state_edge["size"],
                                                         state_edge["edge"], [digests[i]])
            state_edge["size"] += 1
        add("merkle.append_leaves, one leaf per call [verify]", one_leaf)
        batch = digests[:100]
        rows.append(["  append_leaves, 100 leaves per call, per leaf [alternative]",
                     cpu_us(lambda: merkle.append_leaves(INTL.hash, 0, {}, batch), max(1, n // 100),
                            repeat) / 100, ""])
        add("ledger.identity.registry_stream [uuid5 per call; verify, per entry]",
            lambda: ledger.identity.registry_stream)
    c.table("Micro - CPU microseconds per call (median)", ["step", "CPU us/call", "note"], rows)
    nodes_scaling(repeat)


def nodes_scaling(repeat: int) -> None:
    """SQLite ``log.nodes()`` (every append, every inclusion proof) against the node table size.

    Synthetic node rows (levels 40+, never asked for) are added straight into a real ledger's
    table; the query asks for the right-edge nodes an append of a 100,000-leaf log needs.
    """
    import sqlite3  # noqa: PLC0415

    rows_out: list[list[object]] = []
    with c.backend("sqlite") as b:
        url = b.ours_url()
        ledger = b.ours(url)
        path = url.removeprefix("sqlite:///")
        wanted = merkle.root_nodes(100_000)
        params = [v for node in wanted for v in (node.level, node.index)]
        ors = " OR ".join("(level = ? AND idx = ?)" for _ in wanted)
        added = 0
        for target in (1_000, 10_000, 100_000, 200_000):
            with sqlite3.connect(path) as raw:
                raw.executemany("INSERT INTO log_nodes VALUES (?,?,?)",
                                [(40 + (i % 8), added + i, b"x" * 32)
                                 for i in range(target - added)])
            added = target
            ledger_us = statistics.median(
                _wall_us(lambda: ledger.log.nodes(wanted)) for _ in range(repeat))
            with sqlite3.connect(path) as raw:
                plan = raw.execute("EXPLAIN QUERY PLAN SELECT level, idx, hash FROM log_nodes"
                                   " WHERE (level, idx) IN (VALUES (?,?))", [0, 0]).fetchall()
                or_us = statistics.median(_wall_us(
                    lambda: raw.execute(f"SELECT level, idx, hash FROM log_nodes WHERE {ors}",
                                        params).fetchall()) for _ in range(repeat))
            rows_out.append([f"{target:,}", len(wanted), ledger_us, or_us,
                             " / ".join(str(p[-1]) for p in plan)])
    c.table("Micro - SQLite log.nodes() vs size of log_nodes (wall us per query)",
            ["node rows", "nodes asked", "ledger.log.nodes() [(level, idx) IN (VALUES ...)]",
             "same nodes, OR of (level = ? AND idx = ?)", "plan of the VALUES form"], rows_out)


def _wall_us(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1e6


if __name__ == "__main__":
    main()
