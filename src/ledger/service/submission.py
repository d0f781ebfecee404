"""What a filing carries into the ledger (:class:`SignedFiling`) and what it gets back
(:class:`Receipt`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from ledger.log.entries import Filing
from ledger.measures.catalogue import Payload


@dataclass(frozen=True)
class SignedFiling:
    """A filing and its author's signature (standard base64), as submitted."""

    filing: Filing
    signature: str
    # Set by :meth:`Ledger.prepare` only: the payload as validated there (the filing's payload
    # is ``payload_json`` of it), so that the append does not validate it a second time.
    payload_model: Payload | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Receipt:
    """Where an accepted filing landed in the ledger."""

    stream: UUID
    seq: int
    type: str
    entry_hash: str
    leaf_index: int
    recorded_at: str
    nonce: str


__all__ = ["Receipt", "SignedFiling"]
