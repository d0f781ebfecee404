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

import gc
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypedDict

from eventsourcing.persistence import StoredEvent

from ledger import merkle
from ledger.aggregates import KeyRecord, registered_key
from ledger.canonical import canonical_bytes
from ledger.checkpoint import SignedNote
from ledger.entries import ZERO_HASH, Entry, b64decode
from ledger.errors import BadSignatureError, IntegrityFailedError, LedgerError
from ledger.logwriter import LeafRow
from ledger.merkle import NodeId
from ledger.suites import Profile, profile_named

if TYPE_CHECKING:
    from ledger.app import LedgerIdentity
    from ledger.logstore import LogStore, StoredCheckpoint

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
    seq: int | None
    suite_profile: str
    public_key: bytes
    message: bytes
    signature: bytes
    checkpoint: int | None = None  # set for a checkpoint's log signature


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
            self.keys[payload["key_id"]] = registered_key(payload, entry.recorded_at)
        elif entry.filing.type == "KeyRevoked" and payload["key_id"] in self.keys:
            self.keys[payload["key_id"]] = replace(self.keys[payload["key_id"]],
                                                   revoked_from=payload["revoked_from"])


class _Where(TypedDict):
    leaf_index: int | None
    stream: str | None
    seq: int | None


@dataclass(frozen=True)
class _AuthorCheck:
    """An author signature to judge once the whole registry is known."""

    leaf_index: int
    stream: str
    seq: int
    key_id: str
    actor: str
    recorded_at: str
    message: bytes
    signature: bytes


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
        self._registry = _Registry()
        self._registry_stream = identity.registry_stream  # a uuid5: derive it once
        self._signed_for: Entry | None = None
        self._signed_bytes = b""
        self._heads: dict[str, tuple[int, str]] = {}
        self._size = 0
        self._expected_index = 0
        self._right_edge: dict[NodeId, bytes] = {}
        self._nodes: dict[NodeId, bytes] = {}
        self._roots: dict[int, bytes] = {}
        self._last_time = ""
        self._tasks: list[_SignatureTask] = []
        self._deferred: list[_AuthorCheck] = []
        self._futures: list[tuple[list[_SignatureTask], Any]] = []

    def fail(self, check: str, message: str, *, leaf_index: int | None = None,
             stream: str | None = None, seq: int | None = None) -> None:
        """Record one failure."""
        self.report.failures.append(Failure(check, message, leaf_index, stream, seq))

    def run(self) -> VerifyReport:
        """Verify everything; never raises for a failed check, only records it."""
        total = self.store.tree_size()
        checkpoints = {cp.size: cp for cp in self.store.iter_checkpoints()}
        self._check_checkpoint_signatures(checkpoints)
        executor: Any = (ProcessPoolExecutor(max_workers=self.workers) if self.workers > 1
                         else _Inline())
        with executor as pool:
            for leaf, stored in self.store.iter_log():
                self._visit(leaf, stored, checkpoints)
                self._flush(pool, _CHUNK)
                if self.progress is not None and self._size % 1000 == 0:
                    self.progress(self._size, total)
            # Author signatures are judged against the final registry, so that a revocation
            # recorded later but effective earlier (a compromised key) is honoured.
            for check in self._deferred:
                self._author_window(check)
                self._flush(pool, _CHUNK)
            self._flush(pool, 1)
            for chunk, future in self._futures:
                self.report.signatures += sum(1 for t in chunk if t.checkpoint is None)
                for bad in future.result():
                    task = chunk[bad]
                    if task.checkpoint is not None:
                        self.fail("checkpoint", f"checkpoint {task.checkpoint}: the log key's"
                                  " signature does not verify", leaf_index=task.leaf_index)
                    else:
                        self.fail("signature", "the signature does not verify",
                                  leaf_index=task.leaf_index, stream=task.stream, seq=task.seq)
        if self.progress is not None:
            self.progress(self._size, total)
        self.report.entries = self._size
        self.report.streams = len(self._heads)
        self._check_tree(checkpoints)
        events = self.store.count_events()
        if events != self._size:
            self.fail("entry", f"{events} stored entries but {self._size} log leaves"
                      " (an entry without a leaf was inserted, or leaves were deleted)")
        return self.report

    def _signed(self, entry: Entry) -> bytes:
        """JCS(filing) of the entry being visited, encoded once for both of its uses."""
        if self._signed_for is not entry:
            self._signed_for, self._signed_bytes = entry, entry.filing.signing_bytes()
        return self._signed_bytes

    def _flush(self, pool: Any, at_least: int) -> None:
        if len(self._tasks) >= at_least:
            self._futures.append((self._tasks, pool.submit(_check_signatures, self._tasks)))
            self._tasks = []

    def _visit(self, leaf: LeafRow, stored: StoredEvent | None,
               checkpoints: Mapping[int, StoredCheckpoint]) -> None:
        index = leaf.leaf_index
        if index != self._expected_index:
            self.fail("leaves", f"leaves {self._expected_index}..{index - 1} are missing",
                      leaf_index=self._expected_index)
        self._expected_index = index + 1
        stream, seq = str(leaf.originator_id), leaf.originator_version
        if stored is None:
            self.fail("entry", "the entry of this leaf is missing", leaf_index=index,
                      stream=stream, seq=seq)
        else:
            entry = self._check_entry(leaf, stored)
            if entry is not None:
                self._check_signature_later(entry, index)
        new_nodes, self._right_edge = merkle.append_leaves(
            self.profile.hash, self._size, self._right_edge, [leaf.entry_hash])
        self._nodes.update(new_nodes)
        self._size += 1
        if self._size in checkpoints:
            self._roots[self._size] = merkle.root_from_right_edge(
                self.profile.hash, self._size, self._right_edge)

    def _check_signature_later(self, entry: Entry, index: int) -> None:
        stream, seq = str(entry.filing.stream), entry.seq
        if entry.filing.stream != self._registry_stream:
            check = _AuthorCheck(index, stream, seq, entry.filing.key, entry.filing.actor,
                                 entry.recorded_at, self._signed(entry),
                                 _b64_or_empty(entry.signature))
            key = self._registry.keys.get(check.key_id)
            if key is not None and key.actor == check.actor:
                # The key is registered before its first use, so the signature can be checked
                # now, in parallel with the pass; only its validity window waits for the end.
                self._tasks.append(_SignatureTask(index, stream, seq, self.profile.name,
                                                  key.public_key, check.message,
                                                  check.signature))
            self._deferred.append(check)
            return
        self._registry.apply(entry)
        if entry.filing.key != self.identity.root_key_id:
            self.fail("signature", f"registry entry signed with {entry.filing.key!r}, not the"
                      " pinned root key", leaf_index=index, stream=stream, seq=seq)
            return
        self._tasks.append(_SignatureTask(index, stream, seq, self.profile.name,
                                          self.identity.root_public_key,
                                          self._signed(entry),
                                          _b64_or_empty(entry.signature)))

    def _check_checkpoint_signatures(self, checkpoints: Mapping[int, StoredCheckpoint]) -> None:
        """Parse every checkpoint; queue its log-key signature for the worker pool."""
        log_key = self.identity.log_key
        for size, stored in checkpoints.items():
            try:
                note = SignedNote.parse(stored.note)
            except LedgerError as exc:
                what = exc.what if isinstance(exc, IntegrityFailedError) else str(exc)
                self.fail("checkpoint", f"checkpoint {size}: {what}", leaf_index=size - 1)
                continue
            signature = next((s for s in note.signatures if s.name == log_key.name
                              and s.key_id == log_key.key_id), None)
            if signature is None:
                self.fail("checkpoint", f"checkpoint {size}: not signed by the log key",
                          leaf_index=size - 1)
                continue
            if note.checkpoint.origin != self.identity.origin:
                self.fail("checkpoint", f"checkpoint {size} names origin "
                          f"{note.checkpoint.origin!r}", leaf_index=size - 1)
            if note.checkpoint.size != size or note.checkpoint.root != stored.root:
                self.fail("checkpoint", f"checkpoint {size}: the stored size/root differ from"
                          " the signed note", leaf_index=size - 1)
            self._tasks.append(_SignatureTask(size - 1, "", None, self.profile.name,
                                              log_key.public_key, note.checkpoint.body(),
                                              signature.signature, checkpoint=size))
            self.report.checkpoints += 1

    def _check_entry(self, leaf: LeafRow, stored: StoredEvent) -> Entry | None:
        index, stream, seq = leaf.leaf_index, str(leaf.originator_id), leaf.originator_version
        where = _Where(leaf_index=index, stream=stream, seq=seq)
        digest = self.profile.digest(stored.state)
        if digest != leaf.entry_hash:
            self.fail("hash", "the entry's bytes do not hash to its log leaf (edited?)", **where)
        try:
            entry = Entry.parse(stored.state, stream=stream, seq=seq)
        except IntegrityFailedError as exc:
            self.fail("entry", exc.what, **where)
            return None
        if _entry_bytes(entry, self._signed(entry)) != stored.state:
            self.fail("entry", "the stored bytes are not the entry's canonical JCS form", **where)
        if entry.seq != seq or str(entry.filing.stream) != stream or (
            entry.filing.type != stored.topic
        ):
            self.fail("entry", f"the entry says stream {entry.filing.stream} seq {entry.seq}"
                      f" type {entry.filing.type}", **where)
        if entry.filing.ledger != self.identity.origin:
            self.fail("entry", f"filed for ledger {entry.filing.ledger!r}", **where)
        if entry.recorded_at != leaf.recorded_at:
            self.fail("time", f"recorded_at {entry.recorded_at} differs from its leaf's"
                      f" {leaf.recorded_at}", **where)
        if entry.recorded_at < self._last_time:
            self.fail("time", f"recorded_at {entry.recorded_at} is before the previous"
                      f" entry's {self._last_time}", **where)
        self._last_time = max(self._last_time, entry.recorded_at)
        last_seq, last_hash = self._heads.get(stream, (0, ZERO_HASH))
        if entry.seq != last_seq + 1:
            self.fail("chain", f"seq {entry.seq} follows seq {last_seq} (missing or reordered"
                      " entries)", **where)
        if entry.prev != last_hash:
            self.fail("chain", f"prev {entry.prev[:16]}… is not the hash of the entry before"
                      f" ({last_hash[:16]}…)", **where)
        self._heads[stream] = (entry.seq, digest.hex())
        return entry

    def _author_window(self, check: _AuthorCheck) -> None:
        """With the final registry: the key existed, was the author's, and was valid then."""
        where = _Where(leaf_index=check.leaf_index, stream=check.stream, seq=check.seq)
        key = self._registry.keys.get(check.key_id)
        if key is None:
            self.fail("key", f"signed with {check.key_id!r}, which is not in the registry",
                      **where)
            return
        if key.actor != check.actor:
            self.fail("key", f"key {check.key_id!r} belongs to {key.actor!r}, not"
                      f" {check.actor!r}", **where)
            return
        if not key.valid_at(check.recorded_at):
            reason = (f"revoked from {key.revoked_from}" if key.revoked_from
                      and check.recorded_at >= key.revoked_from
                      else f"registered at {key.registered_at}")
            self.fail("key", f"key {check.key_id!r} was not valid at {check.recorded_at}"
                      f" ({reason})", **where)

    def _check_tree(self, checkpoints: Mapping[int, StoredCheckpoint]) -> None:
        size, recomputed = self._size, self._nodes
        stored_nodes = dict(self.store.iter_nodes())
        self.report.nodes = len(stored_nodes)
        for node, stored in stored_nodes.items():
            expected = recomputed.get(node)
            if expected is None:
                self.fail("tree", f"stored node {node} lies beyond the log's {size} leaves")
            elif expected != stored:
                self.fail("tree", f"stored node {node} differs from the recomputed one",
                          leaf_index=_lowest_differing(node, stored_nodes, recomputed).start)
        if self.report.nodes != len(recomputed):
            self.fail("tree", f"{len(recomputed)} nodes expected, {self.report.nodes} stored")
        previous: int | None = None
        for cp_size in sorted(checkpoints):
            cp_root = checkpoints[cp_size].root
            if cp_size > size:
                self.fail("checkpoint", f"checkpoint {cp_size} is beyond the log's {size}"
                          " leaves (entries deleted?)")
                continue
            if self._roots.get(cp_size) != cp_root:
                self.fail("checkpoint", f"checkpoint {cp_size}'s root differs from the root"
                          " recomputed from the entries", leaf_index=cp_size - 1)
                continue
            if previous is not None:
                ranges = merkle.consistency_ranges(previous, cp_size)
                proof = [merkle.range_hash(self.profile.hash, a, b, recomputed)
                         for a, b in ranges]
                try:
                    merkle.verify_consistency(self.profile.hash, previous, cp_size,
                                              self._roots[previous], cp_root, proof)
                except IntegrityFailedError as exc:
                    self.fail("checkpoint", f"checkpoints {previous}→{cp_size}: {exc.what}")
            previous = cp_size


def _entry_bytes(entry: Entry, filing_bytes: bytes) -> bytes:
    """JCS(entry) assembled around the already-encoded filing (RFC 8785 key order: filing,
    prev, recorded_at, seq, signature); equal to ``entry.canonical()``, without encoding the
    filing twice. ``prev`` and ``recorded_at`` passed ``Entry.parse``'s ASCII checks."""
    return b"".join((
        b'{"filing":', filing_bytes, b',"prev":"', entry.prev.encode(), b'","recorded_at":"',
        entry.recorded_at.encode(), b'","seq":', str(entry.seq).encode(), b',"signature":',
        canonical_bytes(entry.signature), b"}"))


def _lowest_differing(node: NodeId, stored: Mapping[NodeId, bytes],
                      recomputed: Mapping[NodeId, bytes]) -> NodeId:
    """Descend to the lowest stored node that also differs, to name the leaf at fault."""
    while node.level > 0:
        children = (NodeId(node.level - 1, 2 * node.index),
                    NodeId(node.level - 1, 2 * node.index + 1))
        bad = [c for c in children if stored.get(c) != recomputed.get(c)]
        if not bad:
            break
        node = bad[0]
    return node


class _Inline:
    """A stand-in executor for one worker (no processes)."""

    def __enter__(self) -> _Inline:
        return self

    def __exit__(self, *args: object) -> None:
        return None

    def submit(self, fn: Callable[[Sequence[_SignatureTask]], list[int]],
               tasks: Sequence[_SignatureTask]) -> _Done:
        """Run ``fn`` now."""
        return _Done(fn(tasks))


@dataclass(frozen=True)
class _Done:
    value: list[int]

    def result(self) -> list[int]:
        """The value computed at submission."""
        return self.value


def _b64_or_empty(text: str) -> bytes:
    try:
        return b64decode(text)
    except ValueError:
        return b""


def verify_ledger(store: LogStore, identity: LedgerIdentity, *, workers: int | None = None,
                  progress: Callable[[int, int], None] | None = None) -> VerifyReport:
    """Verify the whole ledger; see the module docstring for the checks."""
    # The pass allocates millions of short-lived objects and no cycles worth collecting:
    # measured, the cyclic collector alone took a third of a 100k-entry run.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return LedgerVerifier(store, identity, workers=workers, progress=progress).run()
    finally:
        if enabled:
            gc.enable()
