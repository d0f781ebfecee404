"""The log's identity: what ``ledger init`` fixed (origin, profile, log key, root key).

Kept below the application so that a verifier, which never opens a database, can name it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cached_property
from uuid import UUID

from ledger.crypto.suites import Profile
from ledger.log.checkpoint import VerifierKey

ROOT_ACTOR = "root"
"""The registry's author: the pinned root admin key signs every registry entry."""

_REGISTRY_NAMESPACE = UUID("6f1d2c1e-3b0a-5d7e-9a4b-8c2f0e1d3a5b")


def registry_stream_id(origin: str) -> UUID:
    """The key registry's stream id, derived from the ledger's origin."""
    return uuid.uuid5(_REGISTRY_NAMESPACE, origin)


def key_id_for(actor: str, public_key: bytes, profile: Profile) -> str:
    """A readable, URL-safe key id: ``actor:`` + 12 hex of the key's hash."""
    return f"{actor}:{profile.digest(public_key).hex()[:12]}"


@dataclass(frozen=True)
class LedgerIdentity:
    """What ``ledger init`` fixed: origin, profile, and the public keys verifiers pin."""

    origin: str
    profile: Profile
    log_key: VerifierKey
    root_key_id: str
    root_public_key: bytes

    @cached_property
    def registry_stream(self) -> UUID:
        """The key registry's stream id."""
        return registry_stream_id(self.origin)


__all__ = ["ROOT_ACTOR", "LedgerIdentity", "key_id_for", "registry_stream_id"]
