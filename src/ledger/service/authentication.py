"""Who may file what: each filing's ledger, author, key, role and signature."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from ledger.errors import (
    AuthorisationError,
    BadSignatureError,
    LedgerError,
    RoleNotPermittedError,
    ValidationFailedError,
)
from ledger.log.entries import Filing, b64decode
from ledger.log.identity import ROOT_ACTOR, LedgerIdentity
from ledger.measures.aggregates import KeyRegistry
from ledger.measures.catalogue import EventSpec, spec_for
from ledger.measures.roles import Role
from ledger.service.custody import KeyCustody
from ledger.service.submission import SignedFiling

# Signature checks of a group commit this large are shared with worker threads.
_PARALLEL_CHECKS_FROM = 16
_WORKERS = min(3, (os.cpu_count() or 1) - 1)


class Authenticator:
    """Checks filings' authors against the key registry, a large batch on worker threads."""

    def __init__(self, custody: KeyCustody) -> None:
        self._custody = custody
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def close(self) -> None:
        """Stop the signature-check threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=False)

    def authenticate_all(self, filings: Sequence[SignedFiling], identity: LedgerIdentity,
                         registry: KeyRegistry, now: str) -> list[LedgerError | None]:
        """Each filing's author check (or its refusal). A large batch is shared with worker
        threads: the signature check, most of the cost, releases the GIL."""
        def check(chunk: Sequence[SignedFiling]) -> list[LedgerError | None]:
            verdicts: list[LedgerError | None] = []
            for signed in chunk:
                try:
                    self.authenticate(signed, identity, registry, now)
                except LedgerError as exc:
                    verdicts.append(exc)
                else:
                    verdicts.append(None)
            return verdicts

        pool = self._checkers()
        if pool is None or len(filings) < _PARALLEL_CHECKS_FROM:
            return check(filings)
        parts = _WORKERS + 1  # the calling thread takes a share too
        size = -(-len(filings) // parts)
        chunks = [filings[i:i + size] for i in range(0, len(filings), size)]
        futures = [pool.submit(check, chunk) for chunk in chunks[1:]]
        verdicts = check(chunks[0])
        for future in futures:
            verdicts += future.result()
        return verdicts

    def _checkers(self) -> ThreadPoolExecutor | None:
        if _WORKERS < 1:
            return None
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(_WORKERS, "ledger-signatures")
            return self._pool

    def authenticate(self, signed: SignedFiling, identity: LedgerIdentity,
                     registry: KeyRegistry, now: str) -> None:
        """This ledger, a known type, the right author and role, a valid signature."""
        filing = signed.filing
        if filing.ledger != identity.origin:
            raise ValidationFailedError(
                filing.type, [("ledger", f"expected {identity.origin!r}, got {filing.ledger!r}")])
        public_key = author_key(filing, spec_for(filing.type), identity, registry, now)
        try:
            signature = b64decode(signed.signature)
        except ValueError:
            raise BadSignatureError("the signature is not standard base64") from None
        self._custody.profile.signature.verify(public_key, filing.signing_bytes(), signature)


def author_key(filing: Filing, spec: EventSpec, identity: LedgerIdentity,
               registry: KeyRegistry, now: str) -> bytes:
    """The public key the filing must be signed with; refuses the wrong actor or role."""
    if spec.stream == "registry":
        if filing.stream != identity.registry_stream or filing.actor != ROOT_ACTOR or (
            filing.key != identity.root_key_id
        ):
            raise AuthorisationError(filing.actor, f"file {filing.type} (root key only)")
        return identity.root_public_key
    if filing.stream == identity.registry_stream:
        raise AuthorisationError(filing.actor, f"file {filing.type} on the registry")
    key = registry.key_for(filing.key, filing.actor, now)
    check_role(filing.actor, spec, key.role)
    return key.public_key


def check_role(actor: str, spec: EventSpec, role: Role) -> None:
    """Refuse (403) a role not in the event's "filed by" (docs/design.md §3). Checked before
    the payload is looked at, so a wrong role is told so whatever it sent."""
    if role not in spec.filed_by:
        raise RoleNotPermittedError(actor, spec.name, str(role), sorted(spec.filed_by),
                                    spec.articles)


__all__ = ["Authenticator", "author_key", "check_role"]
