"""``ledger verify``: the whole ledger checked from the stored rows, trusting nothing cached.

Checks, in one pass over the log in leaf order (with the per-entry work in worker processes):
1. leaves are dense 0..n−1 and each has its stored entry (and no entry lacks a leaf);
2. each entry's bytes hash to its leaf, are canonical JCS, and sit at their stream and seq;
3. each stream's chain: seq 1, 2, … with ``prev`` = the previous entry's hash;
4. ``recorded_at`` never decreases along the log, and equals the leaf's;
5. each author signature verifies under a key that was valid at the entry's ``recorded_at``
   (registry entries under the pinned root key);
6. the Merkle tree recomputed from the leaves equals every stored node (each stored once),
   its root equals every stored checkpoint's (so each checkpoint's log extends the one
   before: both are roots of one append-only tree), and each checkpoint's signature verifies
   under the log key;
7. the stream heads map recomputed from the leaves (one version per checkpoint, from the map's
   first version on) equals every stored node version (each position stored once), and its
   root equals the ``heads`` line of every checkpoint, which every checkpoint after the map's
   first version must carry.

How the work is split (docs/performance.md, figure 4): the main process reads the log in pages
and keeps only what is sequential — leaf density, the key registry (registry entries are few
and parsed here, so that every page goes out with the keys registered so far), the Merkle tree
(one append per run of leaves between checkpoints, each checkpoint's root and consistency
checked as the tree reaches it), and, as the pages come back, the chains and the time order.
Everything that depends on one entry alone (hash, strict parse, canonical form, position,
signature) runs in :mod:`ledger.log.verify_worker` on the pool's processes, which return one small
tuple per entry; a thread reads the stored tree meanwhile (:mod:`ledger.log.verify_tree`). Keys'
validity windows are judged once the whole log is read, against the final registry, so that
a revocation recorded later but effective earlier is honoured.
"""

from __future__ import annotations

import gc
import os
import pickle
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from sys import intern
from typing import TYPE_CHECKING, Any, TypeVar

from ledger.crypto.suites import Profile
from ledger.errors import IntegrityFailedError, LedgerError, StoredValueError
from ledger.log.checkpoint import SignedNote
from ledger.log.entries import ZERO_HASH, Entry
from ledger.log.headmap import EXTENSION_KEYWORD, heads_root
from ledger.log.heads import LAYOUT, GroupKey
from ledger.log.merkle import NodeId
from ledger.log.verify_heads import HeadsProblem, RecomputedHeads
from ledger.log.verify_tree import RecomputedTree, compare_nodes, runs_equal
from ledger.log.verify_worker import (
    NOT_ROOT,
    OK,
    UNKNOWN_KEY,
    PageContext,
    Result,
    Row,
    check_page,
    check_signatures,
    verifies,
)
from ledger.log.writer import LogRow
from ledger.measures.aggregates import KeyRecord, registered_key

if TYPE_CHECKING:
    from ledger.log.identity import LedgerIdentity
    from ledger.log.store import LogSnapshot, LogStore, StoredCheckpoint

_PAGE = 1000
"""Rows per page sent to a worker: large enough that pickling and scheduling amortise, small
enough that the last pages leave no worker idle for long."""
_AHEAD_PER_WORKER = 4
"""Pages in flight per worker: enough to keep every worker busy while the main process reads,
few enough to bound memory (a page is about 1 MB of entry bytes)."""

_T = TypeVar("_T")
_NO_HEAD = (0, ZERO_HASH)
"""A stream's (seq, hash) before its first entry."""


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
    documents: int = 0
    """Stored documents, each hashed against its name."""
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


@dataclass
class _Registry:
    """The key registry folded from registry entries (verify trusts no aggregate).

    Each change bumps ``version``; the workers cache the pickled key table per version.
    """

    keys: dict[str, KeyRecord] = field(default_factory=dict)
    version: int = 0
    _blob: bytes | None = None

    def apply(self, entry: Entry) -> None:
        """Fold one registry entry."""
        payload = entry.filing.payload
        if entry.filing.type == "KeyRegistered":
            self.keys[payload["key_id"]] = registered_key(payload, entry.recorded_at)
        elif entry.filing.type == "KeyRevoked" and payload["key_id"] in self.keys:
            self.keys[payload["key_id"]] = replace(self.keys[payload["key_id"]],
                                                   revoked_from=payload["revoked_from"])
        else:
            return
        self.version += 1
        self._blob = None

    def table(self) -> bytes:
        """The keys as the workers need them (key id -> (actor, public key)), pickled once."""
        if self._blob is None:
            self._blob = pickle.dumps({key_id: (key.actor, key.public_key)
                                       for key_id, key in self.keys.items()})
        return self._blob


_AuthorUse = tuple[int, str, int, str, str, str, str, tuple[bytes, bytes] | None]
"""An author's signature, its key judged against the final registry at the end: leaf index,
stream, seq, key id, actor, recorded_at, the worker's verdict and its deferred check (a plain
tuple: there is one per entry)."""


class LedgerVerifier:
    """Runs the checks of this module over one :class:`LogSnapshot` (or a whole store, read
    statement by statement: exact only on a log nobody appends to meanwhile)."""

    def __init__(self, store: LogSnapshot, identity: LedgerIdentity, *,
                 workers: int | None = None,
                 progress: Callable[[int, int], None] | None = None) -> None:
        self.store = store
        self.identity = identity
        self.profile: Profile = identity.profile
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self.progress = progress
        self.report = VerifyReport()
        self._registry = _Registry()
        self._token = uuid.uuid4().hex  # names this run's key tables in the workers' cache
        registry_stream = str(identity.registry_stream)  # a uuid5: derive it once
        self._context = PageContext(self.profile.name, identity.origin, registry_stream,
                                    identity.root_key_id, identity.root_public_key)
        self._heads: dict[str, tuple[int, str]] = {}
        # Each stream's id as text, by its UUID's integer: made once a stream, not once an
        # entry (``UUID.__str__`` is Python), and one object, which a page pickles once.
        self._names: dict[int, str] = {}
        self._expected_index = 0
        self._last_time = ""
        self._uses: list[_AuthorUse] = []
        self._pending: deque[tuple[list[Row], Future[list[Result]]]] = deque()
        # Failures by phase; concatenated in this order at the end (see _failures).
        self._in_pass: list[Failure] = []
        self._key_failures: list[Failure] = []
        self._signature_failures: list[Failure] = []
        self._tree_failures: list[Failure] = []
        self._checkpoint_failures: list[Failure] = []
        self._count_failures: list[Failure] = []
        self._next_checkpoint = 0  # index into the sorted checkpoint sizes
        self._heads_lines: dict[int, bytes] = {}  # checkpoint size -> its heads root
        self._unreadable: set[int] = set()  # checkpoint sizes whose note did not parse
        self._heads_failures: list[Failure] = []
        self._map = RecomputedHeads(self.profile, None, ())
        self._map_compared = -1  # stored node versions up to this one are compared
        self._rows_compared = True  # False for rows of a layout this code does not compare

    def fail(self, check: str, message: str, *, leaf_index: int | None = None,
             stream: str | None = None, seq: int | None = None) -> None:
        """Record one failure of the pass over the log."""
        self._in_pass.append(Failure(check, message, leaf_index, stream, seq))

    def run(self) -> VerifyReport:
        """Verify everything; never raises for a failed check, only records it."""
        total = self.store.tree_size()
        checkpoints = {cp.size: cp for cp in self.store.iter_checkpoints()}
        notes = self._parse_checkpoints(checkpoints)
        tree = RecomputedTree(self.profile.hash, sorted(checkpoints))
        self._start_heads(sorted(checkpoints))
        executor: Any = (ProcessPoolExecutor(max_workers=self.workers) if self.workers > 1
                         else _Inline())
        with executor as pool:
            # The first submission forks every worker: before the reader thread starts, so
            # that no thread's locks are copied into them.
            signed_notes = pool.submit(check_signatures, self.profile.name,
                                       [task for _, task in notes])
            # The stored tree (~2n nodes) and the count of stored entries are read by a
            # thread during the pass, overlapping the workers' checks instead of following
            # them; and the node stream is read without pauses (a transaction left idle
            # would be ended by PostgreSQL's idle-in-transaction timeout).
            with ThreadPoolExecutor(max_workers=1) as reader:
                stored_nodes = reader.submit(self.store.node_runs)
                stored_events = reader.submit(self.store.count_events)
                self._pass(pool, tree, checkpoints, total)
                # The documents are hashed where they are stored, after the pass: their query
                # holds the snapshot's connection for as long as the hashing takes, which would
                # stall the pass's reads and leave the workers idle.
                documents = reader.submit(self.store.check_documents)
                # The log is read: the registry is final and the tree complete. Judge the
                # keys used so far and check the tree while the workers finish their pages.
                self._map.finish(tree.size)
                self._check_heads()
                self._judge_authors()
                self._check_checkpoints(tree, checkpoints, final=True)
                # Every committed batch signs its checkpoint in the same transaction: leaves
                # after the newest one mean its checkpoint was deleted (with its cosignatures).
                newest = max(checkpoints, default=0)
                if tree.size > newest:
                    self._checkpoint_failures.append(Failure(
                        "checkpoint", f"{tree.size - newest} entries (leaves {newest}.."
                        f"{tree.size - 1}) are after the newest signed checkpoint"
                        f" ({newest or 'none'}): the checkpoint of size {tree.size} is missing",
                        newest))
                if runs_equal(tree, stored_nodes.result()):  # the usual case
                    self.report.nodes = tree.node_count
                else:  # read again, node by node, to name what differs
                    self._check_nodes(tree, reader.submit(
                        lambda: list(self.store.iter_nodes())).result())
                self._count_events(tree.size, stored_events.result())
                self._check_documents(*documents.result())
            while self._pending:
                self._consume(*self._pending.popleft())
                self._judge_authors()
            self._checkpoint_signatures(notes, signed_notes.result())
        if self.progress is not None:
            self.progress(tree.size, total)
        self.report.entries = tree.size
        self.report.streams = len(self._heads)
        self.report.failures = self._failures()
        return self.report

    def _pass(self, pool: Any, tree: RecomputedTree,
              checkpoints: Mapping[int, StoredCheckpoint], total: int) -> None:
        """Read the log a page at a time, keeping the workers a few pages ahead."""
        ahead = _AHEAD_PER_WORKER * max(1, self.workers)
        for page in self.store.log_pages(batch=_PAGE):
            rows = self._read(page, tree)
            self._check_checkpoints(tree, checkpoints, final=False)
            self._check_heads()
            self._pending.append((rows, pool.submit(
                check_page, self._context, (self._token, self._registry.version),
                self._registry.table(), rows)))
            while len(self._pending) > ahead:
                self._consume(*self._pending.popleft())
            if self.progress is not None:
                self.progress(tree.size, total)

    def _failures(self) -> list[Failure]:
        """All failures: the pass's in log order, then keys, signatures, tree and counts."""
        in_log_order = sorted(self._in_pass, key=lambda f: f.leaf_index or 0)  # stable
        return (in_log_order + self._key_failures + self._signature_failures
                + self._tree_failures + self._checkpoint_failures + self._heads_failures
                + self._count_failures)

    # --- the main process's share of the pass ----------------------------------------------

    def _read(self, page: Sequence[LogRow], tree: RecomputedTree) -> list[Row]:
        """Density, missing entries, registry entries and the tree; the rows for a worker."""
        rows: list[Row] = []
        registry, names = self._context.registry_stream, self._names
        for index, stream_id, seq, entry_hash, recorded_at, _, _, stored_topic, data in page:
            if index != self._expected_index:
                self.fail("leaves", f"leaves {self._expected_index}..{index - 1} are missing",
                          leaf_index=self._expected_index)
            self._expected_index = index + 1
            if type(stream_id) is uuid.UUID:
                stream = names.get(stream_id.int)
                if stream is None:
                    stream = names[stream_id.int] = str(stream_id)
            else:
                stream = str(stream_id)
            # A few types: one object each, pickled once a page, not once a row.
            topic = intern(stored_topic) if type(stored_topic) is str else stored_topic
            if data is None:
                self.fail("entry", "the entry of this leaf is missing", leaf_index=index,
                          stream=stream, seq=seq)
                continue
            if stream == registry:
                self._apply_registry_entry(data)
            rows.append((index, stream, seq, entry_hash, recorded_at, topic, data))
        tree.extend([row[3] for row in page])
        self._map.extend(page)
        return rows

    def _apply_registry_entry(self, data: bytes) -> None:
        """Fold a registry entry now, so that the pages after it carry its key.

        A malformed one is skipped here; its worker reports it.
        """
        try:
            entry = Entry.parse(data)
        except IntegrityFailedError:
            return
        if str(entry.filing.stream) == self._context.registry_stream:
            self._registry.apply(entry)

    def _consume(self, rows: Sequence[Row], future: Future[list[Result]]) -> None:
        """A worker's results, in log order: its failures, then chains and time order."""
        for row, result in zip(rows, future.result(), strict=True):
            digest, entry_seq, prev, recorded_at, key_id, actor, verdict, problems, deferred = (
                result)
            for check, message in problems:
                self.fail(check, message, leaf_index=row[0], stream=row[1], seq=row[2])
            if entry_seq is None or prev is None or recorded_at is None or key_id is None:
                continue  # did not parse: reported above
            last_seq, last_hash = self._heads.get(row[1], _NO_HEAD)
            if entry_seq == last_seq + 1 and prev == last_hash and (
                    recorded_at >= self._last_time):
                self._last_time = recorded_at  # the usual case, tested inline
            else:
                self._check_order(row, entry_seq, prev, recorded_at)
            self._heads[row[1]] = (entry_seq, digest)
            if actor is not None:
                self._uses.append((row[0], row[1], row[2], key_id, actor, recorded_at, verdict,
                                   deferred))
            elif verdict == NOT_ROOT:
                self.fail("signature", f"registry entry signed with {key_id!r}, not the"
                          " pinned root key", leaf_index=row[0], stream=row[1], seq=row[2])
            else:
                self._signature_checked(verdict == OK, row[0], row[1], row[2])

    def _check_order(self, row: Row, entry_seq: int, prev: str, recorded_at: str) -> None:
        """Time order along the log and the stream's chain link."""
        index, stream, seq = row[0], row[1], row[2]
        if recorded_at < self._last_time:
            self.fail("time", f"recorded_at {recorded_at} is before the previous"
                      f" entry's {self._last_time}", leaf_index=index, stream=stream, seq=seq)
        else:
            self._last_time = recorded_at
        last_seq, last_hash = self._heads.get(stream, _NO_HEAD)
        if entry_seq != last_seq + 1:
            self.fail("chain", f"seq {entry_seq} follows seq {last_seq} (missing or reordered"
                      " entries)", leaf_index=index, stream=stream, seq=seq)
        if prev != last_hash:
            self.fail("chain", f"prev {prev[:16]}… is not the hash of the entry before"
                      f" ({last_hash[:16]}…)", leaf_index=index, stream=stream, seq=seq)

    def _signature_checked(self, valid: bool, index: int, stream: str, seq: int) -> None:
        self.report.signatures += 1
        if not valid:
            self._signature_failures.append(Failure(
                "signature", "the signature does not verify", index, stream, seq))

    # --- after the pass ----------------------------------------------------------------------

    def _judge_authors(self) -> None:
        """With the final registry: each author's key existed, was theirs and valid then.

        Called once the whole log is read (only then is the registry final, so that a
        revocation recorded later but effective earlier is honoured), for the uses gathered.
        """
        keys = self._registry.keys
        uses, self._uses = self._uses, []
        checked = 0
        for use in uses:
            index, stream, seq, key_id, actor, recorded_at, verdict, deferred = use
            key = keys.get(key_id)
            if key is None:
                self._key_failure(use, f"signed with {key_id!r}, which is not in the registry")
                continue
            if key.actor != actor:
                self._key_failure(use, f"key {key_id!r} belongs to {key.actor!r}, not"
                                  f" {actor!r}")
                continue
            if key.purpose != "filing":
                self._key_failure(use, f"key {key_id!r} has purpose {key.purpose!r}: only a"
                                  " filing key signs filings")
                continue
            if not key.valid_at(recorded_at):
                reason = (f"revoked from {key.revoked_from}" if key.revoked_from
                          and recorded_at >= key.revoked_from
                          else f"registered at {key.registered_at}")
                self._key_failure(use, f"key {key_id!r} was not valid at {recorded_at}"
                                  f" ({reason})")
            checked += 1
            if verdict == OK:
                continue
            if verdict == UNKNOWN_KEY and deferred is not None and verifies(
                    self.profile.name, key.public_key, *deferred):
                continue  # registered after this entry in log order (same batch and time)
            self._signature_failures.append(Failure(
                "signature", "the signature does not verify", index, stream, seq))
        self.report.signatures += checked

    def _key_failure(self, use: _AuthorUse, message: str) -> None:
        self._key_failures.append(Failure("key", message, use[0], use[1], use[2]))

    def _parse_checkpoints(self, checkpoints: Mapping[int, StoredCheckpoint]
                           ) -> list[tuple[int, tuple[bytes, bytes, bytes]]]:
        """Parse every checkpoint; return its log-key signature task for the worker pool."""
        log_key = self.identity.log_key
        tasks: list[tuple[int, tuple[bytes, bytes, bytes]]] = []
        for size, stored in checkpoints.items():
            try:
                note = SignedNote.parse(stored.note)
            except LedgerError as exc:
                what = exc.what if isinstance(exc, IntegrityFailedError) else str(exc)
                self.fail("checkpoint", f"checkpoint {size}: {what}", leaf_index=size - 1)
                self._unreadable.add(size)  # its heads line is not missing: it is unread
                continue
            # The line is compared whoever signed the note: a bad signature fails on its own.
            self._read_heads_line(size, note.checkpoint.extensions)
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
            tasks.append((size, (log_key.public_key, note.checkpoint.body(),
                                 signature.signature)))
            self.report.checkpoints += 1
        return tasks

    def _read_heads_line(self, size: int, extensions: Sequence[str]) -> None:
        """Keep a checkpoint's ``heads`` root, if it has a line; a malformed one fails."""
        if not any(line.split(" ", 1)[0] == EXTENSION_KEYWORD for line in extensions):
            return
        try:
            self._heads_lines[size] = heads_root(extensions)
        except IntegrityFailedError as exc:
            self.fail("checkpoint", f"checkpoint {size}: {exc.what}", leaf_index=size - 1)
            self._unreadable.add(size)

    # --- the stream heads map ----------------------------------------------------------------

    def _start_heads(self, sizes: Sequence[int]) -> None:
        """Set up the heads map's recomputation from where the database says it starts; a
        checkpoint before that start must have no ``heads`` line, each one after it must."""
        start = self.store.heads_map_start()
        self._map = RecomputedHeads(self.profile, start, sizes)
        fail = self._heads_failures.append
        if start is not None and self.store.heads_map_layout() != LAYOUT:
            # Rows of the first layout (one node per row) are not compared; the roots are.
            self._rows_compared = False
            fail(Failure("heads", "the heads map is stored one node per row, an earlier"
                         " layout: run `ledger init` to convert it to node groups (its rows are"
                         " not compared until then)"))
        for size in sizes:
            has_line = size in self._heads_lines
            if has_line and (start is None or size < start):
                since = ("the database records no heads map" if start is None
                         else f"the heads map starts at {start}")
                fail(Failure("heads", f"checkpoint {size} has a heads line but {since}",
                             size - 1))
            elif (not has_line and start is not None and size > start
                  and size not in self._unreadable):
                fail(Failure("heads", f"checkpoint {size} has no heads line, though the heads"
                             f" map started at {start}", size - 1))

    def _check_heads(self) -> None:
        """Compare the versions recomputed since the last call with their stored rows and
        their checkpoints' ``heads`` lines (one query for the rows of all of them).

        Rows at a version that is not one of the map's versions (its start and the checkpoint
        sizes after it) are failures too; rows beyond the newest version read are left alone
        (appends after verify started).
        """
        versions = self._map.take()
        if not versions:
            return
        upto = versions[-1].version
        stored: dict[int, tuple[object, int]] = {}
        problems: list[HeadsProblem] = [*self._map.problems]
        self._map.problems.clear()
        if self._rows_compared:
            # Each version's rows packed whole: the usual case is one comparison a version.
            for version, packed, count in self.store.iter_head_packed(self._map_compared,
                                                                      upto):
                stored[version] = (packed, count)
        self._map_compared = upto
        for computed in versions:
            # None: not compared row by row (equal packed whole, or a layout not compared)
            rows: Mapping[GroupKey, bytes] | None = None
            if self._rows_compared and stored.pop(computed.version, (b"", 0)) != (
                    computed.packed, computed.count):
                rows = self._stored_groups(computed.version, problems)
            problems.extend(self._map.compare(computed, rows,
                                              self._heads_lines.get(computed.version)))
        for version, (_, count) in sorted(stored.items()):
            problems.append(HeadsProblem(
                f"{count} stored heads map node(s) at version {version}, which is not a"
                " version of the map (its start or a checkpoint size after it)", version))
        for problem in problems:
            self._heads_failures.append(Failure(
                "heads", problem.message, max(problem.size - 1, 0),
                problem.streams[0] if len(problem.streams) == 1 else None))

    def _stored_groups(self, version: int, problems: list[HeadsProblem]
                       ) -> dict[GroupKey, bytes]:
        """A version's stored rows by position, read again to name what differs from the
        recomputed version; two rows for one position is a problem of its own."""
        for _, groups, count in self.store.iter_head_groups(version - 1, version):
            if count != len(groups):  # proofs at that position may read either row
                problems.append(HeadsProblem(
                    f"{count - len(groups)} stored heads map row(s) at version {version}"
                    " repeat another's position (two rows for one node group)", version))
            return groups
        return {}

    def _checkpoint_signatures(self, notes: Sequence[tuple[int, tuple[bytes, bytes, bytes]]],
                               bad: Iterable[int]) -> None:
        """Record the checkpoints whose log-key signature did not verify (before entries')."""
        failures = [Failure("checkpoint", f"checkpoint {notes[i][0]}: the log key's signature"
                            " does not verify", leaf_index=notes[i][0] - 1) for i in bad]
        self._signature_failures[:0] = failures

    def _check_checkpoints(self, tree: RecomputedTree,
                           checkpoints: Mapping[int, StoredCheckpoint], *, final: bool) -> None:
        """The roots of the checkpoints the tree has reached.

        Every root is compared with the one tree recomputed from the leaves, so two checkpoints
        whose roots hold are consistent by construction: the later one's log extends the
        earlier one's. (Building an RFC 9162 consistency proof from that same tree and checking
        it, as this once did, could only fail on a fault in the proof code itself, which the
        Merkle tests cover; it was 40 % of the main process's CPU on a ledger of one filing a
        commit.)

        Called after every page (so the roots are checked during the pass, not after it); with
        ``final``, the checkpoints still unreached lie beyond the log.
        """
        sizes, fail = tree.checkpoint_sizes, self._checkpoint_failures.append
        while self._next_checkpoint < len(sizes):
            cp_size = sizes[self._next_checkpoint]
            if cp_size > tree.size:
                if not final:
                    return
                fail(Failure("checkpoint", f"checkpoint {cp_size} is beyond the log's"
                             f" {tree.size} leaves (entries deleted?)"))
            elif tree.roots.get(cp_size) != checkpoints[cp_size].root:
                fail(Failure("checkpoint", f"checkpoint {cp_size}'s root differs from the root"
                             " recomputed from the entries", cp_size - 1))
            self._next_checkpoint += 1

    def _check_nodes(self, tree: RecomputedTree,
                     rows: Sequence[tuple[tuple[int, int], bytes]]) -> None:
        """Every stored node against the complete recomputed tree; a position stored twice
        fails too (a proof may read either row)."""
        stored = dict(rows)
        if len(stored) != len(rows):
            count = Counter(position for position, _ in rows)
            twice = sorted((NodeId(*position) for position, n in count.items()
                            if n > 1 and tree.at(*position) is not None),
                           key=lambda node: (node.start, node.level))
            for node in twice:
                self._tree_failures.append(Failure(
                    "tree", f"stored node {node} is stored twice (two rows for one position)",
                    node.start))
        findings = compare_nodes(tree, stored)
        fail = self._tree_failures.append
        for level, index in findings.beyond:
            fail(Failure("tree", f"stored node at level {level}, index {index} lies beyond"
                         f" the log's {tree.size} leaves"))
        for node in findings.differing:
            fail(Failure("tree", f"stored node {node} differs from the recomputed one",
                         _lowest_differing(node, stored, tree).start))
        self.report.nodes = findings.count
        if findings.count != tree.node_count:
            fail(Failure("tree", f"{tree.node_count} nodes expected, {findings.count}"
                         " stored"))

    def _check_documents(self, count: int, altered: int, named: Sequence[str]) -> None:
        """Every stored document hashes to the name filings cite it by."""
        self.report.documents = count
        for sha256 in named:
            self._count_failures.append(Failure(
                "document", f"document {sha256} does not hash to its name: its stored copy was"
                " altered beneath the ledger"))
        if altered > len(named):
            self._count_failures.append(Failure(
                "document", f"and {altered - len(named)} more documents do not hash to their"
                " names"))

    def _count_events(self, leaves: int, events: int) -> None:
        """Every stored entry has a leaf (the pass saw every leaf's entry)."""
        if events != leaves:
            self._count_failures.append(Failure(
                "entry", f"{events} stored entries but {leaves} log leaves"
                " (an entry without a leaf was inserted, or leaves were deleted)"))


def _lowest_differing(node: NodeId, stored: Mapping[tuple[int, int], bytes],
                      tree: RecomputedTree) -> NodeId:
    """Descend to the lowest stored node that also differs, to name the leaf at fault."""
    while node.level > 0:
        children = (NodeId(node.level - 1, 2 * node.index),
                    NodeId(node.level - 1, 2 * node.index + 1))
        bad = [c for c in children if stored.get((c.level, c.index)) != tree.get(c)]
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

    def submit(self, fn: Callable[..., _T], /, *args: Any) -> Future[_T]:
        """Run ``fn`` now."""
        done: Future[_T] = Future()
        done.set_result(fn(*args))
        return done


def verify_ledger(store: LogStore, identity: LedgerIdentity, *, workers: int | None = None,
                  progress: Callable[[int, int], None] | None = None) -> VerifyReport:
    """Verify the whole ledger, as of one snapshot taken at the start (exact while others
    append); see the module docstring for the checks."""
    # The pass allocates millions of short-lived objects and no cycles worth collecting:
    # measured, the cyclic collector alone took a third of a 100k-entry run. (The pool's
    # processes are forked from here, so they run without it too.)
    enabled = gc.isenabled()
    gc.disable()
    try:
        # One consistent snapshot: an append committing during the run must not show as
        # leaves without their checkpoint, nodes beyond the leaves read, or entries counted
        # after the leaves were. The run verifies the log exactly as it was at its start.
        with store.snapshot() as view:
            try:
                return LedgerVerifier(view, identity, workers=workers, progress=progress).run()
            except StoredValueError as exc:  # nothing read after it can be checked
                return VerifyReport(failures=[Failure(
                    "store", f"{exc.what}: the database was edited beneath its schema;"
                    " verification stopped there", exc.leaf_index)])
    finally:
        if enabled:
            gc.enable()
