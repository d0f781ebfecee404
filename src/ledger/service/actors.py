"""The key registry's administration: actors and their keys, filed by the root key."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from ledger.crypto.suites import Signer
from ledger.errors import KeyNotValidError, LedgerError
from ledger.log.entries import b64encode, format_time
from ledger.log.identity import ROOT_ACTOR, key_id_for
from ledger.measures.aggregates import KeyRecord
from ledger.measures.roles import Role
from ledger.service.cache import AggregateCache
from ledger.service.custody import KeyCustody
from ledger.service.filing import FilingPipeline


class ActorAdmin:
    """Registers actors, registers, rotates and revokes their keys (``ledger actors``)."""

    def __init__(self, custody: KeyCustody, cache: AggregateCache, filings: FilingPipeline,
                 clock: Callable[[], datetime]) -> None:
        self._custody = custody
        self._cache = cache
        self._filings = filings
        self._clock = clock

    def register_actor(self, actor: str, role: Role, unit: str | None,
                       display_name: str) -> KeyRecord:
        """Register an actor and a custodial key for it (``ledger actors add``)."""
        registry = self._cache.registry()
        registry.require_new_actor(actor)
        profile = self._custody.profile
        signer = self._custody.generate(actor)
        key_id = key_id_for(actor, signer.public_key, profile)
        self._custody.keep(key_id, actor, signer)
        self._append_registry([
            ("ActorRegistered", {"actor": actor, "role": role.value, "unit": unit,
                                 "display_name": display_name}),
            ("KeyRegistered", _key_payload(key_id, actor, role, unit, signer)),
        ])
        return self._cache.registry().keys[key_id]

    def rotate_key(self, actor: str) -> KeyRecord:
        """Register a new custodial key for an actor; the old one stays valid until revoked."""
        record = self._cache.registry().actor(actor)
        profile = self._custody.profile
        signer = self._custody.generate(actor)
        key_id = key_id_for(actor, signer.public_key, profile)
        self._custody.keep(key_id, actor, signer)
        self._append_registry([("KeyRegistered", _key_payload(
            key_id, actor, record.role, record.unit, signer))])
        return self._cache.registry().keys[key_id]

    def register_public_key(self, actor: str, public_key: bytes, *, purpose: str = "filing",
                            suite: str | None = None) -> KeyRecord:
        """Register a client-held public key (the server never sees the private half) for one
        purpose: ``filing`` (default, of the profile's suite) or ``witness`` (an Ed25519
        cosigner key, whatever the profile). The log's and the root's public keys are refused:
        they can never sign filings, nor be anyone's key."""
        record = self._cache.registry().actor(actor)
        profile = self._custody.profile
        identity = self._custody.identity
        if public_key in (identity.log_key.public_key, identity.root_public_key):
            which = "log" if public_key == identity.log_key.public_key else "root"
            raise KeyNotValidError(f"<{which} key>", f"the ledger's {which} key cannot be"
                                   f" registered to {actor!r}: it never signs filings")
        key_id = key_id_for(actor, public_key, profile)
        known = self._cache.registry().keys.get(key_id)
        if known is not None and known.purpose != purpose:
            raise KeyNotValidError(key_id, f"already registered for {known.purpose!r}: a key"
                                   f" has one purpose, never also {purpose!r}")
        payload = {"key_id": key_id, "actor": actor, "role": record.role.value,
                   "unit": record.unit, "suite": suite or profile.signature.name,
                   "public_key": b64encode(public_key)}
        if purpose != "filing":  # absent means filing: the registry's form before purposes
            payload["purpose"] = purpose
        self._append_registry([("KeyRegistered", payload)])
        return self._cache.registry().keys[key_id]

    def revoke_key(self, key_id: str, *, revoked_from: str | None = None,
                   reason: str = "revoked by the administrator") -> KeyRecord:
        """Revoke a key from a moment (default now); entries from then on are refused."""
        if key_id not in self._cache.registry().keys:
            raise KeyNotValidError(key_id, "not in the key registry")
        self._append_registry([("KeyRevoked", {
            "key_id": key_id, "revoked_from": revoked_from or format_time(self._clock()),
            "reason": reason})])
        return self._cache.registry().keys[key_id]

    def _append_registry(self, items: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        signed = [self._filings.prepare(ROOT_ACTOR, event_type, payload)
                  for event_type, payload in items]
        for result in self._filings.submit_many(signed):
            if isinstance(result, LedgerError):
                raise result


def _key_payload(key_id: str, actor: str, role: Role, unit: str | None,
                 signer: Signer) -> dict[str, Any]:
    return {"key_id": key_id, "actor": actor, "role": role.value, "unit": unit,
            "suite": signer.suite, "public_key": b64encode(signer.public_key)}


__all__ = ["ActorAdmin"]
