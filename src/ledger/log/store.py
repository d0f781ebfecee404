"""The storage interface of the log, shared by the SQLite and PostgreSQL recorders.

Each recorder is at once an eventsourcing ``ApplicationRecorder`` (stored events, notification
ids, subscriptions) and a :class:`LogStore`: dense leaves, Merkle nodes, signed checkpoints,
ledger metadata and the sealed custody of private keys, all in the same database so that one
backup holds everything.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from ledger.crypto.suites import Profile
from ledger.log.documents import Document
from ledger.log.entries import PendingEntry
from ledger.log.headmap import HeadProof, StreamHead
from ledger.log.heads import GroupKey, HeadRow
from ledger.log.merkle import NodeId
from ledger.log.sealing import Sealer
from ledger.log.writer import BatchOutcome, CheckpointSigner, LeafRow, LogRow


@dataclass(frozen=True)
class StoredCheckpoint:
    """A signed checkpoint as stored: its size, root and the full signed-note text."""

    size: int
    root: bytes
    note: str


@dataclass(frozen=True)
class CustodyRecord:
    """A private key held by the server, sealed (AES-GCM) under the master key."""

    key_id: str
    actor: str
    sealed: bytes


class LogSnapshot(Protocol):
    """What ``ledger verify`` reads, all from one consistent snapshot of the database.

    A :meth:`LogStore.snapshot` answers every call as of the moment it was opened, whatever
    is appended meanwhile (PostgreSQL: one ``REPEATABLE READ`` read-only transaction, which
    threads of the same reader join by importing its snapshot; SQLite: one read transaction),
    so that the leaves, entries, nodes, checkpoints and heads map versions it sees belong to
    one log. A :class:`LogStore` offers the same methods, each read on its own, but for
    :meth:`iter_head_groups` (it has :meth:`LogStore.iter_head_nodes`, row by row) and
    :meth:`log_pages`.
    """

    def tree_size(self) -> int:
        """Number of leaves in the log."""
        ...

    def iter_log(self, start: int = 0, stop: int | None = None,
                 batch: int = 2000) -> Iterator[tuple[LeafRow, StoredEvent | None]]:
        """Leaves in order with their stored events (None where the event row is gone)."""
        ...

    def log_pages(self, start: int = 0, stop: int | None = None,
                  batch: int = 2000) -> Iterator[list[LogRow]]:
        """The same rows as :meth:`iter_log`, as plain tuples, ``batch`` leaves a list."""
        ...

    def iter_nodes(self) -> Iterator[tuple[tuple[int, int], bytes]]:
        """Every stored Merkle node as ``((level, index), hash)``, in no particular order (may
        run on another thread). Keyed as :attr:`RecomputedTree.nodes` is, so that verify
        compares the two dictionaries whole; a :class:`NodeId` per node cost more than that."""
        ...

    def node_runs(self) -> list[tuple[int, list[int], list[object]]]:
        """Every stored Merkle node, a run per level: ``(level, indexes, hashes)``, the
        indexes increasing, in parallel lists, the levels increasing (may run on another
        thread). For comparing the store's tree with the recomputed one a list at a time;
        values stored as the wrong type are handed on as stored (they differ, and verify then
        reads :meth:`iter_nodes`, which names them)."""
        ...

    def count_events(self) -> int:
        """Number of stored event rows (may run on another thread)."""
        ...

    def check_documents(self) -> tuple[int, int, list[str]]:
        """Every stored document hashed where it is stored: how many there are, how many do not
        hash to their name, and the first hundred of those (may run on another thread)."""
        ...

    def iter_checkpoints(self) -> Iterator[StoredCheckpoint]:
        """Every stored checkpoint by increasing size."""
        ...

    def heads_map_start(self) -> int | None:
        """The log size of the stream heads map's first version; None without a map."""
        ...

    def heads_map_layout(self) -> str | None:
        """How the heads map's rows are stored (:data:`ledger.log.heads.LAYOUT`); None for
        the first layout (one node per row), which ``ledger init`` converts."""
        ...

    def iter_head_packed(self, after: int, upto: int) -> Iterator[tuple[int, object, int]]:
        """The heads map's stored rows with ``after < version ≤ upto``, a version at a time:
        (version, its rows packed as ``verify_heads.pack_groups`` packs a version's groups,
        its number of rows), ordered by version; a value of another type where a stored one
        is (it then differs, and verify reads :meth:`iter_head_groups`, which names it)."""
        ...

    def iter_head_groups(self, after: int, upto: int,
                         ) -> Iterator[tuple[int, dict[GroupKey, bytes], int]]:
        """The heads map's stored rows with ``after < version ≤ upto``, a version at a time:
        (version, its node groups by position, its number of rows), ordered by version (more
        rows than positions: two rows for one position, the table's key removed)."""
        ...


class AccessRecords(Protocol):
    """The records beside the log that say who may do what: bearer tokens, pages sessions,
    documents and who uploaded them (kept in the same database, so a backup holds them)."""

    def put_token(self, token_hash: str, actor: str, created_at: str,
                  expires_at: str | None = None) -> None:
        """Store an API token's hash, with its own expiry if one was chosen."""
        ...

    def actor_for_token(self, token_hash: str, issued_after: str = "",
                        now: str = "") -> str | None:
        """The actor of a live token (unrevoked; before its own expiry, later than ``now``,
        or without one issued after ``issued_after``)."""
        ...

    def tokens_of(self, actor: str) -> list[tuple[str, str, bool, str | None]]:
        """An actor's tokens as (hash, issued at, revoked, own expiry), oldest first."""
        ...

    def put_session(self, session_hash: str, token_hash: str, actor: str,
                    created_at: str) -> None:
        """Store a pages session's hash, bound to its bearer token."""
        ...

    def actor_for_session(self, session_hash: str, started_after: str,
                          token_issued_after: str, now: str = "") -> str | None:
        """The actor of a live session whose token is live too."""
        ...

    def end_session(self, session_hash: str) -> int:
        """End a session; how many were live."""
        ...

    def take_allowance(self, bucket: str, now: int, interval: int, window: int) -> int:
        """Spend one upload of a shared allowance (microseconds); 0, or the wait until one."""
        ...

    def put_document_owner(self, sha256: str, owner: str, actor: str, added_at: str) -> str:
        """Record an uploader of a document; when that uploader first uploaded it."""
        ...

    def document_owned_by(self, sha256: str, owner: str) -> bool:
        """Whether ``owner`` uploaded the document."""
        ...

    def revoke_tokens(self, actor: str) -> int:
        """Revoke every token of an actor; return how many."""
        ...

    def put_document(self, document: Document) -> None:
        """Store a document (idempotent)."""
        ...

    def get_document(self, sha256: str) -> Document | None:
        """A stored document."""
        ...

    def existing_documents(self, hashes: Sequence[str]) -> set[str]:
        """Those of ``hashes`` that are stored."""
        ...


class LogStore(AccessRecords, Protocol):
    """Read and write access to the log tables of one ledger database."""

    sealer: Sealer
    profile: Profile
    clock: Callable[[], datetime]
    sign_checkpoint: CheckpointSigner | None

    def create_table(self) -> None:
        """Create every table (``ledger init``; never by concurrently starting workers), and
        start the stream heads map if the database has none: at the log's current size,
        built from every stream's newest entry (an existing log is upgraded)."""
        ...

    def append(self, events: Sequence[StoredEvent],
               expected_heads: Mapping[str, int] | None = None,
               pending: Sequence[PendingEntry] | None = None) -> BatchOutcome:
        """Group commit: seal and insert ``events`` in one transaction; refusals fail alone.

        ``pending``: the pending entries the events' bytes were made from, if known."""
        ...

    def tree_size(self) -> int:
        """Number of leaves in the log."""
        ...

    def nodes(self, ids: Collection[NodeId]) -> dict[NodeId, bytes]:
        """Stored Merkle nodes by id (one query)."""
        ...

    def leaf(self, leaf_index: int) -> LeafRow | None:
        """The leaf at ``leaf_index``."""
        ...

    def leaf_for(self, stream: UUID, seq: int) -> LeafRow | None:
        """The leaf of a stream's entry."""
        ...

    def stream_head_leaf(self, stream: UUID, recorded_by: str | None = None) -> LeafRow | None:
        """The newest leaf of a stream (truncation shows as a leaf beyond the entries), or
        the newest recorded at or before ``recorded_by``."""
        ...

    def leaf_for_nonce(self, nonce: str) -> LeafRow | None:
        """The leaf of the filing with this nonce (idempotent retries)."""
        ...

    def iter_log(self, start: int = 0, stop: int | None = None,
                 batch: int = 2000) -> Iterator[tuple[LeafRow, StoredEvent | None]]:
        """Leaves in order with their stored events (None where the event row is gone)."""
        ...

    def iter_nodes(self) -> Iterator[tuple[NodeId, bytes]]:
        """Every stored Merkle node, in no particular order."""
        ...

    def stream_ids(self) -> list[UUID]:
        """Every stream in the order it was opened."""
        ...

    def streams_with_topics(self, topics: Sequence[str]) -> list[UUID]:
        """Streams having at least one event of the given types."""
        ...

    def count_events(self) -> int:
        """Number of stored event rows (to detect rows without a leaf)."""
        ...

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The checkpoint of the largest size."""
        ...

    def checkpoint_at_most(self, size: int) -> StoredCheckpoint | None:
        """The largest checkpoint whose size is ≤ ``size``."""
        ...

    def iter_checkpoints(self) -> Iterator[StoredCheckpoint]:
        """Every stored checkpoint by increasing size."""
        ...

    def get_meta(self, key: str) -> str | None:
        """A ledger metadata value (origin, profile, public keys)."""
        ...

    def put_meta(self, key: str, value: str) -> None:
        """Set a metadata value once; a different existing value is an error."""
        ...

    def put_custody(self, record: CustodyRecord) -> None:
        """Store a sealed private key."""
        ...

    def get_custody(self, key_id: str) -> CustodyRecord | None:
        """A sealed private key by key id."""
        ...

    def reseal_custody(self, reseal: Callable[[CustodyRecord], bytes | None]) -> int:
        """Replace custody records in one transaction (``ledger keys reseal``): ``reseal``
        gives each record's new bytes (None leaves it); if it raises, nothing changes. Returns
        how many were replaced."""
        ...

    def put_calendar_year(self, year: int, data: str, added_at: str) -> None:
        """Store (or replace) an operator-added holiday year."""
        ...

    def calendar_years(self) -> list[str]:
        """Operator-added holiday years (year-file JSON), by year."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...

    def put_cosignature(self, size: int, key_name: str, key_id: str, line: str,
                        added_at: str) -> None:
        """Store (or replace) a witness's cosignature line for the checkpoint of ``size``."""
        ...

    def cosignatures(self, size: int) -> list[str]:
        """The stored cosignature lines of the checkpoint of ``size``."""
        ...

    def cosigned_at_most(self, key_name: str, key_id: str, size: int) -> int | None:
        """The largest checkpoint size of at most ``size`` with a stored line of that key."""
        ...

    def leaf_for_hash(self, entry_hash: bytes) -> LeafRow | None:
        """The first leaf whose entry hash is ``entry_hash``."""
        ...

    def heads_map_start(self) -> int | None:
        """The log size at which the stream heads map starts (its first version); None if
        the database has no map yet (made before it: ``ledger init`` upgrades it)."""
        ...

    def head_proof(self, stream: UUID, tree_size: int, *, checkpointed: bool = False,
                   ) -> tuple[StreamHead | None, HeadProof]:
        """``stream``'s head in the heads map at log size ``tree_size`` and its proof, from
        the stored node versions; :class:`~ledger.errors.HeadsMapUnavailableError` if the
        map does not cover that size. ``checkpointed``: the caller holds a stored checkpoint
        of that size, so the log's size need not be read to know it has those leaves."""
        ...

    def heads_map_layout(self) -> str | None:
        """How the heads map's rows are stored (:data:`ledger.log.heads.LAYOUT`); None for
        the first layout (one node per row) or no map."""
        ...

    def latest_head_proof(self, stream: UUID,
                          ) -> tuple[StoredCheckpoint, StreamHead | None, HeadProof] | None:
        """The newest stored checkpoint with ``stream``'s head and proof at its size, read
        together; None if there is no checkpoint yet."""
        ...

    def iter_head_nodes(self, after: int, upto: int | None = None) -> Iterator[HeadRow]:
        """The heads map's stored node versions with ``after < version ≤ upto`` (no upper
        bound if None), ordered by version."""
        ...

    def snapshot(self) -> AbstractContextManager[LogSnapshot]:
        """One consistent read-only snapshot of the log for as long as the block runs (what
        ``ledger verify`` reads, so that concurrent appends never make it see half a batch)."""
        ...
