"""A SKETCH (not product code) of a pipelined ``ledger verify``, to size figure 4's headroom.

Historical: ``src/ledger/verify.py`` (with ``verify_worker.py`` and ``verify_tree.py``) now
does what this sketch sketched, and more (see docs/performance.md, figure 4); the script is
kept to compare the two on one ledger.

It runs the same per-entry work as ``ledger.evidence.verify`` (hash vs leaf, strict ``Entry.parse``,
canonical-JCS equality, Ed25519 author signature, stream chain, ``recorded_at`` order, key
validity window against the final registry, Merkle tree vs every stored node, checkpoint roots,
checkpoint signatures, consistency between consecutive checkpoints), but arranged the way
docs/performance.md suggests for ``src/ledger/verify.py``:

* the per-entry work (hash, parse, canonical check, Ed25519) runs in the worker processes on
  pages of 2,000 rows, WHILE the main process reads the next pages; signatures are checked as
  soon as the key is known (a valid entry's key precedes it in the log, or is registered in the
  same batch: those few wait for the end) and only the cheap validity-window test waits for
  the final registry;
* the signed bytes are sliced out of the (already proven canonical) entry bytes instead of
  re-encoding the filing;
* the main process only does what must be sequential, on small tuples: chain links, time order,
  registry entries, and the Merkle tree, one ``append_leaves`` call per segment between
  checkpoints instead of one per leaf.

It builds its own ledger (like bench_verify.py) and times ``verify_ledger`` and the sketch on
the same data, checking that both report the ledger intact.

    .venv/bin/python scripts/bench/verify_sketch.py [--backend postgres] [--n 100000]
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c
from bench_verify import build_ours

from ledger.crypto.suites import INTL
from ledger.errors import BadSignatureError, IntegrityFailedError, LedgerError
from ledger.evidence.verify import verify_ledger
from ledger.log import merkle
from ledger.log.checkpoint import SignedNote, verify_note
from ledger.log.entries import ZERO_HASH, Entry, b64decode

PAGE = 2000
_PREFIX = len(b'{"filing":')

Row = tuple[int, str, int, bytes, str, str, bytes]  # index, stream, seq, leaf hash, time, topic, state


def check_page(rows: list[Row], keys: dict[str, bytes]) -> list[tuple[Any, ...]]:
    """Worker: the per-entry checks of one page; small tuples back to the main process."""
    verify = INTL.signature.verify
    out: list[tuple[Any, ...]] = []
    for index, stream, seq, leaf_hash, leaf_time, topic, state in rows:
        problems: list[str] = []
        digest = hashlib.sha256(state).digest()
        if digest != leaf_hash:
            problems.append("hash")
        try:
            entry = Entry.parse(state, stream=stream, seq=seq)
        except IntegrityFailedError:
            out.append((index, stream, seq, None, digest.hex(), leaf_time, None, None, False,
                        ["entry"]))
            continue
        if entry.canonical() != state:
            problems.append("canonical")
            message = entry.filing.signing_bytes()
        else:  # canonical: the filing's JCS is a slice of the entry's (keys sort "filing" first)
            tail = (f',"prev":"{entry.prev}","recorded_at":"{entry.recorded_at}","seq":'
                    f'{entry.seq},"signature":"{entry.signature}"}}').encode()
            message = state[_PREFIX:len(state) - len(tail)]
        filing = entry.filing
        if entry.seq != seq or str(filing.stream) != stream or filing.type != topic:
            problems.append("position")
        if entry.recorded_at != leaf_time:
            problems.append("leaf time")
        key = keys.get(filing.key)
        signed: bool | tuple[bytes, str] = False
        if key is None:
            # Not registered yet in log order: only possible for a key registered with the same
            # recorded_at later in the batch (valid per docs/design.md §5). Judge it at the end.
            signed = (message, entry.signature)
        else:
            try:
                verify(key, message, b64decode(entry.signature))
                signed = True
            except (ValueError, BadSignatureError):
                problems.append("signature")
        out.append((index, stream, seq, entry.prev, digest.hex(), entry.recorded_at,
                    filing.key, filing.actor, signed, problems))
    return out


def sketch_verify(ledger: Any, workers: int = 2) -> dict[str, Any]:
    """Verify ``ledger`` the pipelined way; return counts and failures."""
    store, identity = ledger.log, ledger.identity
    registry_stream = str(identity.registry_stream)
    failures: list[tuple[Any, ...]] = []
    checkpoints = {cp.size: cp for cp in store.iter_checkpoints()}
    for size, cp in checkpoints.items():
        try:
            note = SignedNote.parse(cp.note)
            verify_note(note, [identity.log_key])
            if note.checkpoint.size != size or note.checkpoint.root != cp.root:
                failures.append(("checkpoint", size))
        except LedgerError:
            failures.append(("checkpoint", size))
    cuts = sorted(checkpoints)
    # Registry: key id -> (actor, public key, registered_at, revoked_from)
    keys: dict[str, list[Any]] = {identity.root_key_id: ["root", identity.root_public_key, "",
                                                         None]}
    pubkeys = {identity.root_key_id: identity.root_public_key}
    heads: dict[str, tuple[int, str]] = {}
    uses: list[tuple[int, str, str, str, Any]] = []  # index, key, actor, time, signature ok
    last_time = ""
    size, edge = 0, {}
    nodes: dict[Any, bytes] = {}
    roots: dict[int, bytes] = {}
    cut = 0

    def consume(results: list[tuple[Any, ...]]) -> None:
        nonlocal last_time, size, edge, cut
        digests = []
        for index, stream, seq, prev, digest, when, key, actor, signed, problems in results:
            if index != size + len(digests):
                failures.append(("leaves", index))
            if problems:
                failures.append((tuple(problems), index))
            digests.append(bytes.fromhex(digest))
            if prev is None:
                continue
            last_seq, last_hash = heads.get(stream, (0, ZERO_HASH))
            if seq != last_seq + 1 or prev != last_hash:
                failures.append(("chain", index))
            heads[stream] = (seq, digest)
            if when < last_time:
                failures.append(("time", index))
            last_time = max(last_time, when)
            uses.append((index, key, actor, when, signed))
        # Merkle: one append per segment between checkpoints.
        start = 0
        while start < len(digests):
            while cut < len(cuts) and cuts[cut] <= size:
                cut += 1
            stop = len(digests) if cut == len(cuts) else min(len(digests),
                                                              start + cuts[cut] - size)
            new, edge = merkle.append_leaves(INTL.hash, size, edge, digests[start:stop])
            nodes.update(new)
            size += stop - start
            start = stop
            if size in checkpoints:
                roots[size] = merkle.root_from_right_edge(INTL.hash, size, edge)

    pending: deque[Any] = deque()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        page: list[Row] = []

        def send() -> None:
            pending.append(pool.submit(check_page, list(page), dict(pubkeys)))
            page.clear()
            while len(pending) > 2 * workers:
                consume(pending.popleft().result())

        for leaf, stored in store.iter_log():
            stream = str(leaf.originator_id)
            if stored is None:
                failures.append(("entry missing", leaf.leaf_index))
                state, topic = b"", ""
            else:
                state, topic = stored.state, stored.topic
            if stream == registry_stream and stored is not None:
                entry = Entry.parse(state)  # registry entries are few: apply them here
                payload = entry.filing.payload
                if entry.filing.type == "KeyRegistered":
                    keys[payload["key_id"]] = [payload["actor"], b64decode(payload["public_key"]),
                                               entry.recorded_at, None]
                    pubkeys[payload["key_id"]] = keys[payload["key_id"]][1]
                elif entry.filing.type == "KeyRevoked" and payload["key_id"] in keys:
                    keys[payload["key_id"]][3] = payload["revoked_from"]
            page.append((leaf.leaf_index, stream, leaf.originator_version, leaf.entry_hash,
                         leaf.recorded_at, topic, state))
            if len(page) >= PAGE:
                send()
        if page:
            send()
        while pending:
            consume(pending.popleft().result())
    # Key windows against the final registry (cheap: no crypto left here).
    for index, key_id, actor, when, signed in uses:
        record = keys.get(key_id)
        if record is None or (record[0] != actor and key_id != identity.root_key_id):
            failures.append(("key", index))
        elif key_id != identity.root_key_id and not (
            record[2] <= when and (record[3] is None or when < record[3])
        ):
            failures.append(("key window", index))
        elif isinstance(signed, tuple):  # key unknown when read: check it now
            try:
                INTL.signature.verify(record[1], signed[0], b64decode(signed[1]))
            except (ValueError, BadSignatureError):
                failures.append(("signature", index))
        elif not signed:
            failures.append(("signature", index))
    # Tree: every stored node, every checkpoint root, consecutive consistency proofs.
    stored_nodes = 0
    for node, value in store.iter_nodes():
        stored_nodes += 1
        if nodes.get(node) != value:
            failures.append(("node", node))
    if stored_nodes != len(nodes):
        failures.append(("node count", stored_nodes))
    previous = None
    for cp_size in cuts:
        if roots.get(cp_size) != checkpoints[cp_size].root:
            failures.append(("checkpoint root", cp_size))
            continue
        if previous is not None:
            ranges = merkle.consistency_ranges(previous, cp_size)
            proof = [merkle.range_hash(INTL.hash, a, b, nodes) for a, b in ranges]
            try:
                merkle.verify_consistency(INTL.hash, previous, cp_size, roots[previous],
                                          roots[cp_size], proof)
            except IntegrityFailedError:
                failures.append(("consistency", cp_size))
        previous = cp_size
    if store.count_events() != size:
        failures.append(("event count", size))
    return {"entries": size, "streams": len(heads), "failures": failures}


def main() -> None:
    p = c.parser(__doc__.splitlines()[0], n=100_000, quick_n=5_000)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()
    n = c.size(args)
    c.header("verify_sketch (figure 4 headroom: pipelined verify sketch)", args)
    rows = []
    for name in c.backends(args.backend):
        with c.backend(name) as b:
            ledger = b.ours()
            _, _, leaves = build_ours(ledger, n, max(1, n // 100))
            result = sketch_verify(ledger, args.workers)
            assert not result["failures"], result["failures"][:5]
            assert result["entries"] == leaves
            report = verify_ledger(ledger.log, ledger.identity, workers=args.workers)
            assert report.ok
            assert report.entries == leaves
            t: dict[str, list[float]] = {"ours": [], "sketch": []}
            for _ in range(args.repeat):
                t["ours"].append(c.timed(lambda: verify_ledger(ledger.log, ledger.identity,
                                                               workers=args.workers)))
                t["sketch"].append(c.timed(lambda: sketch_verify(ledger, args.workers)))
            med = {k: sorted(v)[len(v) // 2] for k, v in t.items()}
            nogc = c.timed_without_gc(lambda: verify_ledger(ledger.log, ledger.identity,
                                                            workers=args.workers))
            print(f"  {name}: verify_ledger with the cyclic GC disabled (one run): {nogc:.2f} s"
                  f" = {leaves / nogc:,.0f} entries/s", flush=True)
            rows.append([name, leaves, med["ours"], leaves / med["ours"], med["sketch"],
                         leaves / med["sketch"], f"{med['ours'] / med['sketch']:.2f}x",
                         c.verdict(leaves / med["sketch"], 15000)])
    c.table(f"Figure 4 headroom - verify_ledger vs the pipelined sketch (workers={args.workers},"
            f" {os.cpu_count()} cores, median)",
            ["backend", "entries", "verify_ledger s", "entries/s", "sketch s", "sketch entries/s",
             "speed-up", "sketch vs 15,000/s"], rows)


if __name__ == "__main__":
    main()
