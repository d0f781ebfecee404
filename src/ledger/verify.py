"""``ledger verify``: the whole ledger checked from the stored rows, trusting nothing cached.

Checks, in one pass over the log in leaf order (with signatures checked in parallel):
1. leaves are dense 0..n−1 and each has its stored entry (and no entry lacks a leaf);
2. each entry's bytes hash to its leaf, are canonical JCS, and sit at their stream and seq;
3. each stream's chain: seq 1, 2, … with ``prev`` = the previous entry's hash;
4. ``recorded_at`` never decreases along the log, and equals the leaf's;
5. each author signature verifies under a key that was valid at the entry's ``recorded_at``
   (registry entries under the pinned root key);
6. the Merkle tree recomputed from the leaves equals every stored node, its root equals every
   stored checkpoint's, each checkpoint's signature verifies under the log key, and each
   consecutive pair of checkpoints has a valid RFC 9162 consistency proof.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ledger import merkle
from ledger.aggregates import KeyRecord
from ledger.checkpoint import SignedNote, verify_note
from ledger.entries import ZERO_HASH, Entry, b64decode
from ledger.errors import BadSignatureError, IntegrityFailedError, LedgerError
from ledger.merkle import NodeId
from ledger.roles import Role
from ledger.suites import Profile, profile_named

if TYPE_CHECKING:
    from ledger.app import LedgerIdentity
    from ledger.logstore import LogStore

_CHUNK = 1000


@dataclass(frozen=True)
class Failure:
    """One failed check, naming where it failed."""

    check: str
    message: str
    leaf_index: int | None = None
    stream: str | None = None
    seq: int | None = None

    def describe(self) -> str:
        """One line for people."""
        where = [f"leaf {self.leaf_index}" if self.leaf_index is not None else "",
                 f"stream {self.stream}" if self.stream else "",
                 f"seq {self.seq}" if self.seq is not None else ""]
        place = ", ".join(w for w in where if w) or "ledger"
        return f"[{self.check}] {place}: {self.message}"


@dataclass
class VerifyReport:
    """What ``ledger verify`` found."""

    entries: int = 0
    streams: int = 0
    signatures: int = 0
    checkpoints: int = 0
    nodes: int = 0
    failures: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True iff every check held."""
        return not self.failures

    @property
    def first(self) -> Failure | None:
        """The first failure in log order (the one to investigate first)."""
        return min(self.failures, key=lambda f: (f.leaf_index is None, f.leaf_index or 0),
                   default=None)


@dataclass(frozen=True)
class _SignatureTask:
    leaf_index: int
    stream: str
    seq: int
    suite_profile: str
    public_key: bytes
    message: bytes
    signature: bytes


def _check_signatures(tasks: Sequence[_SignatureTask]) -> list[int]:
    """Worker: indexes (into ``tasks``) of signatures that do not verify."""
    bad: list[int] = []
    for index, task in enumerate(tasks):
        profile = profile_named(task.suite_profile)
        try:
            profile.signature.verify(task.public_key, task.message, task.signature)
        except BadSignatureError:
            bad.append(index)
    return bad


@dataclass
class _Registry:
    """The key registry folded from registry entries (verify trusts no aggregate)."""

    keys: dict[str, KeyRecord] = field(default_factory=dict)

    def apply(self, entry: Entry) -> None:
        payload = entry.filing.payload
        if entry.filing.type == "KeyRegistered":
            self.keys[payload["key_id"]] = KeyRecord(
                payload["key_id"], payload["actor"], Role(payload["role"]), payload.get("unit"),
                payload["suite"], b64decode(payload["public_key"]), entry.recorded_at)
        elif entry.filing.type == "KeyRevoked" and payload["key_id"] in self.keys:
            old = self.keys[payload["key_id"]]
            self.keys[payload["key_id"]] = KeyRecord(
                old.key_id, old.actor, old.role, old.unit, old.suite, old.public_key,
                old.registered_at, payload["revoked_from"])


class LedgerVerifier:
    """Runs the checks of this module over one :class:`LogStore`."""

    def __init__(self, store: LogStore, identity: LedgerIdentity, *,
                 workers: int | None = None,
                 progress: Callable[[int, int], None] | None = None) -> None:
        self.store = store
        self.identity = identity
        self.profile: Profile = identity.profile
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self.progress = progress
        self.report = VerifyReport()

    def fail(self, check: str, message: str, *, leaf_index: int | None = None,
             stream: str | None = None, seq: int | None = None) -> None:
        """Record one failure."""
        self.report.failures.append(Failure(check, message, leaf_index, stream, seq))

    def run(self) -> VerifyReport:
        """Verify everything; never raises for a failed check, only records it."""
        total = self.store.tree_size()
        checkpoints = {cp.size: cp for cp in self.store.iter_checkpoints()}
        self._check_checkpoint_signatures(checkpoints)
        tasks: list[_SignatureTask] = []
        deferred: list[tuple[int, str, int, str, str, str, bytes, bytes]] = []
        registry = _Registry()
        heads: dict[str, tuple[int, str]] = {}
        size, right_edge = 0, {}
        recomputed_nodes: dict[NodeId, bytes] = {}
        roots: dict[int, bytes] = {}
        last_time = ""
        with ProcessPoolExecutor(max_workers=self.workers) if self.workers > 1 else (
            _Inline()
        ) as pool:
            futures = []
            for leaf, stored in self.store.iter_log():
                index = leaf.leaf_index
                if index != size:
                    self.fail("leaves", f"expected leaf {size}, found leaf {index} (a gap)",
                              leaf_index=index)
                digest = leaf.entry_hash
                stream, seq = str(leaf.originator_id), leaf.originator_version
                if stored is None:
                    self.fail("entry", "the entry of this leaf is missing", leaf_index=index,
                              stream=stream, seq=seq)
                else:
                    entry = self._check_entry(index, stream, seq, leaf.entry_hash,
                                              leaf.recorded_at, stored.topic, stored.state,
                                              heads)
                    if entry is not None:
                        if entry.recorded_at < last_time:
                            self.fail("time", f"recorded_at {entry.recorded_at} is before the"
                                      f" previous entry's {last_time}", leaf_index=index,
                                      stream=stream, seq=seq)
                        last_time = max(last_time, entry.recorded_at)
                        if entry.filing.stream == self.identity.registry_stream:
                            self._registry_signature(entry, index, tasks)
                            registry.apply(entry)
                        else:
                            deferred.append((index, stream, seq, entry.filing.key,
                                             entry.filing.actor, entry.recorded_at,
                                             entry.filing.signing_bytes(),
                                             _b64_or_empty(entry.signature)))
                new_nodes, right_edge = merkle.append_leaves(
                    self.profile.hash, size, right_edge, [digest])
                recomputed_nodes.update(new_nodes)
                size += 1
                if size in checkpoints:
                    roots[size] = merkle.root_from_right_edge(self.profile.hash, size,
                                                              right_edge)
                if len(tasks) >= _CHUNK:
                    futures.append((tasks, pool.submit(_check_signatures, tasks)))
                    tasks = []
                if self.progress is not None and size % 1000 == 0:
                    self.progress(size, total)
            # Author signatures are judged against the final registry, so that a revocation
            # recorded later but effective earlier (a compromised key) is honoured.
            for index, stream, seq, key_id, actor, when, message, signature in deferred:
                task = self._author_task(registry, index, stream, seq, key_id, actor, when,
                                         message, signature)
                if task is not None:
                    tasks.append(task)
                if len(tasks) >= _CHUNK:
                    futures.append((tasks, pool.submit(_check_signatures, tasks)))
                    tasks = []
            if tasks:
                futures.append((tasks, pool.submit(_check_signatures, tasks)))
            for chunk, future in futures:
                self.report.signatures += len(chunk)
                for bad in future.result():
                    task = chunk[bad]
                    self.fail("signature", "the author's signature does not verify",
                              leaf_index=task.leaf_index, stream=task.stream, seq=task.seq)
        if self.progress is not None:
            self.progress(size, total)
        self.report.entries = size
        self.report.streams = len(heads)
        self._check_tree(size, recomputed_nodes, checkpoints, roots)
        events = self.store.count_events()
        if events != size:
            self.fail("entry", f"{events} stored entries but {size} log leaves"
                      " (an entry without a leaf was inserted, or leaves were deleted)")
        return self.report

    def _check_checkpoint_signatures(self, checkpoints: dict[int, object]) -> None:
        for size, cp in checkpoints.items():
            note_text = cp.note  # type: ignore[attr-defined]
            try:
                note = SignedNote.parse(note_text)
                verify_note(note, [self.identity.log_key])
            except LedgerError as exc:
                self.fail("checkpoint", f"checkpoint {size}: {exc}")
                continue
            if note.checkpoint.origin != self.identity.origin:
                self.fail("checkpoint", f"checkpoint {size} names origin "
                          f"{note.checkpoint.origin!r}")
            if note.checkpoint.size != size or note.checkpoint.root != cp.root:  # type: ignore[attr-defined]
                self.fail("checkpoint", f"checkpoint {size}: the stored size/root differ from"
                          " the signed note")
            self.report.checkpoints += 1

    def _check_entry(self, index: int, stream: str, seq: int, leaf_hash: bytes,
                     leaf_time: str, topic: str, state: bytes,
                     heads: dict[str, tuple[int, str]]) -> Entry | None:
        digest = self.profile.digest(state)
        if digest != leaf_hash:
            self.fail("hash", "the entry's bytes do not hash to its log leaf (edited?)",
                      leaf_index=index, stream=stream, seq=seq)
        try:
            entry = Entry.parse(state, stream=stream, seq=seq)
        except IntegrityFailedError as exc:
            self.fail("entry", exc.what, leaf_index=index, stream=stream, seq=seq)
            return None
        if entry.canonical() != state:
            self.fail("entry", "the stored bytes are not the entry's canonical JCS form",
                      leaf_index=index, stream=stream, seq=seq)
        if entry.seq != seq or str(entry.filing.stream) != stream or entry.filing.type != topic:
            self.fail("entry", f"the entry says stream {entry.filing.stream} seq {entry.seq}"
                      f" type {entry.filing.type}", leaf_index=index, stream=stream, seq=seq)
        if entry.filing.ledger != self.identity.origin:
            self.fail("entry", f"filed for ledger {entry.filing.ledger!r}", leaf_index=index,
                      stream=stream, seq=seq)
        if entry.recorded_at != leaf_time:
            self.fail("time", f"recorded_at {entry.recorded_at} differs from its leaf's"
                      f" {leaf_time}", leaf_index=index, stream=stream, seq=seq)
        last_seq, last_hash = heads.get(stream, (0, ZERO_HASH))
        if entry.seq != last_seq + 1:
            self.fail("chain", f"seq {entry.seq} follows seq {last_seq} (missing or reordered"
                      " entries)", leaf_index=index, stream=stream, seq=seq)
        if entry.prev != last_hash:
            self.fail("chain", f"prev {entry.prev[:16]}… is not the hash of the entry before"
                      f" ({last_hash[:16]}…)", leaf_index=index, stream=stream, seq=seq)
        heads[stream] = (entry.seq, digest.hex())
        return entry

    def _registry_signature(self, entry: Entry, index: int,
                            tasks: list[_SignatureTask]) -> None:
        stream, seq = str(entry.filing.stream), entry.seq
        if entry.filing.key != self.identity.root_key_id:
            self.fail("signature", f"registry entry signed with {entry.filing.key!r}, not the"
                      " pinned root key", leaf_index=index, stream=stream, seq=seq)
            return
        tasks.append(_SignatureTask(index, stream, seq, self.profile.name,
                                    self.identity.root_public_key,
                                    entry.filing.signing_bytes(),
                                    _b64_or_empty(entry.signature)))

    def _author_task(self, registry: _Registry, index: int, stream: str, seq: int,
                     key_id: str, actor: str, when: str, message: bytes,
                     signature: bytes) -> _SignatureTask | None:
        key = registry.keys.get(key_id)
        if key is None:
            self.fail("key", f"signed with {key_id!r}, which is not in the registry",
                      leaf_index=index, stream=stream, seq=seq)
            return None
        if key.actor != actor:
            self.fail("key", f"key {key_id!r} belongs to {key.actor!r}, not {actor!r}",
                      leaf_index=index, stream=stream, seq=seq)
            return None
        if not key.valid_at(when):
            reason = (f"revoked from {key.revoked_from}" if key.revoked_from
                      and when >= key.revoked_from else f"registered at {key.registered_at}")
            self.fail("key", f"key {key_id!r} was not valid at {when} ({reason})",
                      leaf_index=index, stream=stream, seq=seq)
            return None
        return _SignatureTask(index, stream, seq, self.profile.name, key.public_key, message,
                              signature)

    def _check_tree(self, size: int, recomputed: dict[NodeId, bytes],
                    checkpoints: dict[int, object], roots: dict[int, bytes]) -> None:
        for node, stored in self._stored_nodes():
            self.report.nodes += 1
            expected = recomputed.get(node)
            if expected is None:
                self.fail("tree", f"stored node {node} lies beyond the log's {size} leaves")
            elif expected != stored:
                self.fail("tree", f"stored node {node} differs from the recomputed one",
                          leaf_index=node.start)
        if self.report.nodes != len(recomputed):
            self.fail("tree", f"{len(recomputed)} nodes expected, {self.report.nodes} stored")
        previous: int | None = None
        for cp_size in sorted(checkpoints):
            cp_root = checkpoints[cp_size].root  # type: ignore[attr-defined]
            if cp_size > size:
                self.fail("checkpoint", f"checkpoint {cp_size} is beyond the log's {size} leaves"
                          " (entries deleted?)")
                continue
            if roots.get(cp_size) != cp_root:
                self.fail("checkpoint", f"checkpoint {cp_size}'s root differs from the root"
                          " recomputed from the entries", leaf_index=cp_size - 1)
                continue
            if previous is not None:
                ranges = merkle.consistency_ranges(previous, cp_size)
                proof = [merkle.range_hash(self.profile.hash, a, b, recomputed) for a, b in ranges]
                try:
                    merkle.verify_consistency(self.profile.hash, previous, cp_size,
                                              roots[previous], cp_root, proof)
                except IntegrityFailedError as exc:
                    self.fail("checkpoint", f"checkpoints {previous}→{cp_size}: {exc.what}")
            previous = cp_size

    def _stored_nodes(self) -> Iterator[tuple[NodeId, bytes]]:
        return self.store.iter_nodes()


class _Inline:
    """A stand-in executor for one worker (no processes)."""

    def __enter__(self) -> _Inline:
        return self

    def __exit__(self, *args: object) -> None:
        return None

    def submit(self, fn: Callable[[Sequence[_SignatureTask]], list[int]],
               tasks: Sequence[_SignatureTask]) -> _Done:
        return _Done(fn(tasks))


@dataclass(frozen=True)
class _Done:
    value: list[int]

    def result(self) -> list[int]:
        return self.value


def _b64_or_empty(text: str) -> bytes:
    try:
        return b64decode(text)
    except ValueError:
        return b""


def verify_ledger(store: LogStore, identity: LedgerIdentity, *, workers: int | None = None,
                  progress: Callable[[int, int], None] | None = None) -> VerifyReport:
    """Verify the whole ledger; see the module docstring for the checks."""
    return LedgerVerifier(store, identity, workers=workers, progress=progress).run()
