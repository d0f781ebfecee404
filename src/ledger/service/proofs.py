"""Proofs from the stored Merkle log: the trusted checkpoint, roots, RFC 9162 inclusion and
consistency proofs, the check that a stream's newest entry read is in the log, and proofs of a
stream's head from the stream heads map (docs/evidence-format.md, Stream heads map)."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from ledger.errors import (
    ChainBrokenError,
    CheckpointError,
    EntryHashMismatchError,
    IntegrityFailedError,
)
from ledger.log import merkle
from ledger.log.checkpoint import SignedNote, verify_note
from ledger.log.headmap import HeadProof, StreamHead
from ledger.log.store import LogStore, StoredCheckpoint
from ledger.log.writer import LeafRow
from ledger.service.custody import KeyCustody


class LogProofs:
    """Proofs computed from the stored nodes, against checkpoints signed by the log key."""

    def __init__(self, log: LogStore, custody: KeyCustody) -> None:
        self._log = log
        self._custody = custody
        self._trusted: StoredCheckpoint | None = None

    def trusted_checkpoint(self) -> StoredCheckpoint | None:
        """The latest checkpoint, its signature checked once per new size."""
        latest = self._log.latest_checkpoint()
        return None if latest is None else self._trust(latest)

    def _trust(self, latest: StoredCheckpoint) -> StoredCheckpoint:
        """``latest`` once its log-key signature holds (checked once per new size)."""
        if self._trusted is not None and self._trusted.size == latest.size and (
            self._trusted == latest
        ):
            return latest
        note = SignedNote.parse(latest.note)
        verify_note(note, [self._custody.identity.log_key])
        if note.checkpoint.size != latest.size or note.checkpoint.root != latest.root:
            raise CheckpointError("stored size/root disagree with the signed note",
                                  leaf_index=latest.size)
        self._trusted = latest
        return latest

    def root_at(self, size: int) -> bytes:
        """The Merkle root of the first ``size`` leaves (O(log n) stored nodes)."""
        if size == 0:
            return merkle.empty_root(self._custody.profile.hash)
        return self._range_hashes([(0, size)])[0]

    def inclusion_proof(self, leaf_index: int, tree_size: int) -> list[bytes]:
        """RFC 9162 §2.1.3.1 inclusion proof from stored nodes."""
        return self._range_hashes(merkle.inclusion_ranges(leaf_index, tree_size))

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        """RFC 9162 §2.1.4.1 consistency proof from stored nodes."""
        return self._range_hashes(merkle.consistency_ranges(size1, size2))

    def _range_hashes(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """Each range's hash from the stored nodes (:func:`merkle.stored_range_hashes`)."""
        nodes = self._log.nodes(merkle.nodes_needed(ranges))
        return merkle.stored_range_hashes(self._custody.profile.hash, ranges, nodes)

    def head_proof(self, stream: UUID, tree_size: int | None = None,
                   ) -> tuple[StreamHead | None, HeadProof]:
        """``stream``'s head in the stream heads map at ``tree_size`` (default: the newest
        checkpoint's size) and its proof, to verify with
        :func:`ledger.log.headmap.verify_head` against the ``heads`` line of the checkpoint
        of that size (size 0, the empty map, before the first checkpoint). ``None``: the
        stream had no entry then. Raises :class:`~ledger.errors.HeadsMapUnavailableError` for
        a size the map does not cover (before it started, or beyond the log)."""
        if tree_size is None:
            checkpoint = self.trusted_checkpoint()
            tree_size = 0 if checkpoint is None else checkpoint.size
        # A size within a stored checkpoint's needs no read of the log's size: the checkpoint
        # was stored in the transaction of its leaves (one round trip less per proof).
        trusted = self._trusted
        return self._log.head_proof(stream, tree_size, checkpointed=(
            trusted is not None and tree_size <= trusted.size))

    def latest_head_proof(self, stream: UUID,
                          ) -> tuple[StoredCheckpoint, StreamHead | None, HeadProof] | None:
        """The latest checkpoint (its signature checked) with ``stream``'s head and proof at
        its size, read together: one round trip where :meth:`trusted_checkpoint` and then
        :meth:`head_proof` take two. None before the first checkpoint; raises
        :class:`~ledger.errors.HeadsMapUnavailableError` if the map starts after it."""
        found = self._log.latest_head_proof(stream)
        if found is None:
            return None
        checkpoint, head, proof = found
        return self._trust(checkpoint), head, proof

    def check_head(self, stream: UUID, seq: int, head_hash: str,
                   newest: LeafRow | None) -> None:
        """The newest entry read must be in the log, and the stream must not be truncated.

        ``newest`` is the stream's newest leaf, read *before* the entries: the log only grows,
        so fewer entries than that leaf's seq means entries were deleted, while more means
        appends landed in between (normal traffic) — then the leaf of the entry read is used.
        """
        if newest is None or seq < newest.originator_version:
            found = ("no leaf" if newest is None
                     else f"its newest leaf is seq {newest.originator_version}")
            raise ChainBrokenError(
                f"the stream ends at seq {seq} but {found} (entries deleted)",
                stream=stream, seq=seq + 1 if newest else seq)
        leaf = newest if newest.originator_version == seq else self._log.leaf_for(stream, seq)
        if leaf is None:
            raise ChainBrokenError(f"entry seq {seq} has no log leaf (inserted outside the log)",
                                   stream=stream, seq=seq)
        if leaf.entry_hash.hex() != head_hash:
            raise EntryHashMismatchError(
                f"entry hashes to {head_hash} but its log leaf holds {leaf.entry_hash.hex()}",
                stream=stream, seq=seq, leaf_index=leaf.leaf_index)
        checkpoint = self.trusted_checkpoint()
        if checkpoint is not None and leaf.leaf_index < checkpoint.size:
            proof = self.inclusion_proof(leaf.leaf_index, checkpoint.size)
            try:
                merkle.verify_inclusion(self._custody.profile.hash, leaf.leaf_index,
                                        checkpoint.size, leaf.entry_hash, proof,
                                        checkpoint.root)
            except IntegrityFailedError as exc:
                raise type(exc)(f"newest entry not in checkpoint {checkpoint.size}: {exc.what}",
                                stream=stream, seq=seq, leaf_index=leaf.leaf_index) from None


__all__ = ["LogProofs"]
