"""The witness's checks, in the order c2sp.org/tlog-witness §add-checkpoint gives them.

1. the body parses (else 400); 2. the origin has pinned log keys (else 404); 3. a pinned key
signed the checkpoint and no pinned key's line fails (else 403); 4. ``old`` ≤ the checkpoint's
size (else 400); then, atomically with the update (one ``BEGIN IMMEDIATE`` transaction):
5. ``old`` is the size cosigned last for the origin, 0 if none (else 409 naming that size);
6. a size-0 checkpoint has the empty tree's root, a request from ``old`` 0 has no proof, the
RFC 6962 §2.1.2 consistency proof from the cosigned (size, root) verifies, and at the cosigned
size the root is the same (else 422); and this witness's own rule: at the cosigned size the
note body is the same, extension lines included (else 422: the log shows two views of one
tree, and a cosignature covers the whole body); 7. the clock is not behind the last
cosignature of the origin (else 503). Then the new (size, root, body) and the cosignature are
committed, and only then is the ``cosignature/v1`` line returned.

The log's signature may be Ed25519 (``intl``) or SM2 (``gm``); the consistency proof uses the
hash of that profile (SHA-256 or SM3). The cosignature is Ed25519 over the body either way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ledger.crypto.interface import HashSuite
from ledger.crypto.suites import INTL, PROFILES
from ledger.errors import CheckpointError, ProofError
from ledger.log import merkle
from ledger.log.checkpoint import VerifierKey, verify_note
from witness.errors import (
    ClockBehindError,
    InconsistentCheckpointError,
    LogSignatureError,
    MalformedRequestError,
    OldSizeMismatchError,
    UnknownOriginError,
    WitnessSetupError,
)
from witness.keys import CosignerKey
from witness.protocol import AddCheckpoint, cosignature_body, origin_hash, parse_add_checkpoint
from witness.store import Cosigned, WitnessStore


def _hash_for(key: VerifierKey) -> HashSuite:
    """The Merkle hash of a log signing with ``key``'s suite (SHA-256 unless the suite is a
    profile's with another hash, as ``gm``'s SM2 is with SM3)."""
    for profile in PROFILES.values():
        if profile.signature.name == key.suite:
            return profile.hash
    return INTL.hash


@dataclass(frozen=True)
class Verified:
    """A request whose format, origin and log signature were checked (steps 1–4)."""

    request: AddCheckpoint
    log_key: VerifierKey
    log_lines: str


class Witness:
    """A C2SP tlog-witness over one state file and one cosigner key."""

    def __init__(self, store: WitnessStore, key: CosignerKey,
                 clock: Callable[[], float] = time.time) -> None:
        name, vkey = store.identity()
        if (name, vkey) != (key.name, key.verifier_key.encode()):
            raise WitnessSetupError(
                f"the key file holds {key.verifier_key.encode()}, but the state {store.path} was"
                f" made for {vkey}: a witness's state and key belong together")
        self.store = store
        self.key = key
        self.clock = clock
        self.log_keys = store.log_keys()
        self._by_hash = {origin_hash(origin): origin for origin in self.log_keys}
        self._lock = threading.Lock()

    @property
    def vkey(self) -> str:
        """The witness's ``cosignature/v1`` verifier key."""
        return self.key.verifier_key.encode()

    def check(self, data: bytes) -> Verified:
        """Steps 1–4: format, origin, log signature and the old size against the checkpoint."""
        request = parse_add_checkpoint(data)
        checkpoint = request.note.checkpoint
        keys = self.log_keys.get(checkpoint.origin)
        if not keys:
            raise UnknownOriginError(f"unknown log origin {checkpoint.origin!r}")
        try:
            verified = verify_note(request.note, keys)
        except CheckpointError as exc:
            raise LogSignatureError(f"the checkpoint is not signed by a pinned log key:"
                                    f" {exc.what}") from None
        if request.old > checkpoint.size:
            raise MalformedRequestError(f"old size {request.old} exceeds the checkpoint's size"
                                        f" {checkpoint.size}")
        trusted = {(key.name, key.key_id) for key in verified}
        lines = "".join(s.line() for s in request.note.signatures
                        if (s.name, s.key_id) in trusted)
        return Verified(request, verified[0], lines)

    def _consistent(self, verified: Verified, latest: Cosigned | None) -> None:
        """Steps 5 and 6 against the stored state; raise 409 or 422."""
        request = verified.request
        checkpoint = request.note.checkpoint
        size = 0 if latest is None else latest.size
        if request.old != size:
            raise OldSizeMismatchError(size, request.old)
        h = _hash_for(verified.log_key)
        if checkpoint.size == 0 and checkpoint.root != merkle.empty_root(h):
            raise InconsistentCheckpointError("a checkpoint of size 0 must have the empty tree's"
                                              " root (RFC 6962 §2.1)")
        if request.old == 0 and request.proof:
            raise InconsistentCheckpointError("a request from old size 0 must carry no proof")
        if latest is not None and checkpoint.size == latest.size:
            if checkpoint.root != latest.root:
                raise InconsistentCheckpointError(
                    f"size {latest.size} was cosigned with another root hash: the log shows"
                    " two trees of one size")
            if request.proof:
                raise InconsistentCheckpointError("a proof between equal sizes must be empty")
            if request.body != latest.body:
                raise InconsistentCheckpointError(
                    f"size {latest.size} and this root were cosigned under another note body"
                    " (other extension lines): this witness cosigns one body per tree")
        elif latest is not None and latest.size > 0:
            try:
                merkle.verify_consistency(h, latest.size, checkpoint.size, latest.root,
                                          checkpoint.root, request.proof)
            except ProofError as exc:
                raise InconsistentCheckpointError(
                    f"the consistency proof from size {latest.size} to {checkpoint.size} does"
                    f" not verify: {exc.what}") from None

    def add_checkpoint(self, data: bytes) -> str:
        """Handle one ``add-checkpoint`` body; return the 200 answer (cosignature lines).

        Raises an :class:`~witness.errors.AddCheckpointError` whose ``status`` is the answer.
        """
        verified = self.check(data)
        checkpoint = verified.request.note.checkpoint
        try:
            with self._lock, self.store.transaction() as db:
                latest = WitnessStore.latest_in(db, checkpoint.origin)
                self._consistent(verified, latest)
                now = int(self.clock())
                if latest is not None and now < latest.time:
                    raise ClockBehindError(
                        f"the clock reads {now}, before this witness's last cosignature of"
                        f" {checkpoint.origin!r} at {latest.time}: fix the clock")
                line = self.key.cosign(verified.request.body, now)
                text = (checkpoint.body().decode("utf-8") + "\n" + verified.log_lines
                        + line.line())
                WitnessStore.put_in(db, Cosigned(checkpoint.origin, checkpoint.size,
                                                 checkpoint.root, verified.request.body, text,
                                                 now))
        except InconsistentCheckpointError as exc:
            self.store.add_evidence(checkpoint.origin, exc.message, data)
            raise
        return cosignature_body((line,))

    def monitored(self, hashed_origin: str) -> str | None:
        """The latest cosigned checkpoint of the origin with that hash (monitoring API)."""
        origin = self._by_hash.get(hashed_origin)
        latest = None if origin is None else self.store.latest(origin)
        return None if latest is None else latest.note


__all__ = ["Verified", "Witness"]
