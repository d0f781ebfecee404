"""The write path: sign custodially (:meth:`FilingPipeline.prepare`), authenticate, decide, and
append through the recorder, which seals each entry and extends the Merkle log under one lock
in one transaction. Many filings are decided and committed together (group commit); a refusal
fails only its own filing.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import Mapper, StoredEvent

from ledger.errors import (
    AuthorisationError,
    ConflictError,
    KeyNotValidError,
    LedgerError,
    StaleStreamError,
    ValidationFailedError,
)
from ledger.log.entries import Filing, b64encode, format_time, parse_time
from ledger.log.identity import ROOT_ACTOR
from ledger.log.store import LogStore
from ledger.log.writer import Appended, BatchOutcome
from ledger.measures.catalogue import payload_json, spec_for, validate_payload
from ledger.measures.events import EntryEvent
from ledger.measures.facts import today_in_china
from ledger.service.authentication import Authenticator, check_role
from ledger.service.cache import AggregateCache
from ledger.service.custody import KeyCustody
from ledger.service.decisions import Batch, Decider
from ledger.service.submission import Receipt, SignedFiling

_STALE_RETRIES = 5


class FilingPipeline:
    """Prepares, checks, decides and appends filings; keeps the cache current after appends."""

    def __init__(self, *, custody: KeyCustody, cache: AggregateCache, authenticator: Authenticator,
                 decider: Decider, log: LogStore, mapper: Mapper[UUID],
                 clock: Callable[[], datetime]) -> None:
        self._custody = custody
        self._cache = cache
        self._authenticator = authenticator
        self._decider = decider
        self._log = log
        self._mapper = mapper
        self._clock = clock

    def prepare(self, actor: str, event_type: str, payload: Mapping[str, Any], *,
                stream: UUID | None = None, effective: date | None = None,
                nonce: UUID | None = None, fresh: bool = False) -> SignedFiling:
        """Build and sign a filing with the actor's custodial key (custodial signing).

        The key is chosen from the cached registry unless ``fresh``; the append re-checks it.
        Who may file comes first: the actor's role is checked against the event's "filed by"
        (403) before the payload is validated (422). ``effective`` defaults to today in
        Beijing.
        """
        identity = self._custody.identity
        spec = spec_for(event_type)
        if spec.stream == "registry":
            if actor != ROOT_ACTOR:
                raise AuthorisationError(actor, f"file {event_type} (root key only)")
            stream, key_id = identity.registry_stream, identity.root_key_id
        else:
            registry = self._cache.registry(fresh=fresh)
            check_role(actor, spec, registry.actor(actor).role)
            key_id = registry.current_key(actor, format_time(self._clock()),
                                          lambda key: self._custody.holds(key.key_id)).key_id
        model = validate_payload(event_type, payload)
        if stream is None:
            if not spec.opens_project:
                raise ValidationFailedError(event_type, [("stream", "a project id is required")])
            stream = uuid.uuid4()
        filing = Filing(
            ledger=identity.origin, stream=stream, type=event_type,
            effective=effective or today_in_china(self._clock()), payload=payload_json(model),
            actor=actor, key=key_id, nonce=nonce or uuid.uuid4(),
        )
        signature = self._custody.signer(key_id).sign(filing.signing_bytes())
        return SignedFiling(filing, b64encode(signature), model)

    def file(self, actor: str, event_type: str, payload: Mapping[str, Any], *,
             stream: UUID | None = None, effective: date | None = None) -> Receipt:
        """Sign custodially and append one filing; raises its refusal."""
        registry_version = self.registry_version
        signed = self.prepare(actor, event_type, payload, stream=stream, effective=effective)
        result = self.submit_prepared([signed], registry_version)[0]
        if isinstance(result, LedgerError):
            raise result
        return result

    @property
    def registry_version(self) -> int:
        """The key registry's version as this process holds it (no database read): what
        :meth:`prepare` chooses custodial keys from unless asked for a fresh read."""
        return self._cache.registry(fresh=False).version

    def submit_prepared(self, filings: Sequence[SignedFiling],
                        registry_version: int) -> list[Receipt | LedgerError]:
        """:meth:`submit_many` for filings that may have been signed here (:meth:`prepare`)
        with keys chosen from the registry at ``registry_version``.

        If another process changed the registry meanwhile (rotated or revoked the key chosen
        from the cache), a filing refused for its key that the server signed — it holds the
        key — is signed again with the key chosen now and appended once more: its author chose
        no key, so that refusal would be ours. Client-signed filings are never re-signed.
        """
        results = self.submit_many(filings)
        again = [i for i, result in enumerate(results)
                 if isinstance(result, KeyNotValidError)
                 and self._custody.holds(filings[i].filing.key)]
        if not again or self._cache.registry().version == registry_version:
            return results
        fresh: list[tuple[int, SignedFiling]] = []
        for i in again:
            first = filings[i].filing
            try:
                fresh.append((i, self.prepare(
                    first.actor, first.type, first.payload, stream=first.stream,
                    effective=first.effective, nonce=first.nonce, fresh=True)))
            except LedgerError as exc:
                results[i] = exc
        if fresh:
            retried = self.submit_many([signed for _, signed in fresh])
            for (i, _), result in zip(fresh, retried, strict=True):
                results[i] = result
        return results

    def submit(self, signed: SignedFiling) -> Receipt:
        """Append one signed filing; raises its refusal."""
        result = self.submit_many([signed])[0]
        if isinstance(result, LedgerError):
            raise result
        return result

    def submit_many(self, filings: Sequence[SignedFiling]) -> list[Receipt | LedgerError]:
        """Group commit: decide every filing, then append all accepted ones in one transaction.

        Each position gets its own receipt or its own error; one refusal never fails another
        filing (except later filings of the same project in the batch, decided on top of it).
        Decisions are taken on cached aggregates; a filing whose stream another writer moved
        meanwhile (a conflict under the lock) is decided once more on a fresh read.
        """
        results = self._submit_retrying(filings, fresh=False)
        again = [i for i, result in enumerate(results) if isinstance(result, ConflictError)]
        if again:
            retried = self._submit_retrying([filings[i] for i in again], fresh=True)
            for position, result in zip(again, retried, strict=True):
                results[position] = result
        return results

    def _submit_retrying(self, filings: Sequence[SignedFiling], *,
                         fresh: bool) -> list[Receipt | LedgerError]:
        for attempt in range(_STALE_RETRIES):
            try:
                return self._submit_once(filings, fresh=fresh or attempt > 0)
            except StaleStreamError:
                continue  # the registry moved under us: re-read it and decide again
        raise StaleStreamError(str(self._custody.identity.registry_stream), -1, -1)

    def _submit_once(self, filings: Sequence[SignedFiling], *,
                     fresh: bool) -> list[Receipt | LedgerError]:
        identity = self._custody.identity
        registry = self._cache.registry(fresh=fresh)
        moment = self._clock()
        now = format_time(moment)
        results: list[Receipt | LedgerError | None] = [None] * len(filings)
        batch = Batch(registry=registry, fresh=fresh, today=today_in_china(moment),
                      left=Counter(signed.filing.stream for signed in filings))
        pending: list[tuple[int, EntryEvent]] = []
        refusals = self._authenticator.authenticate_all(filings, identity, registry, now)
        for position, signed in enumerate(filings):
            if (refusal := refusals[position]) is not None:
                results[position] = refusal
                continue
            try:
                event = self._decider.decide(signed, registry, batch)
            except LedgerError as exc:
                results[position] = exc
            else:
                pending.append((position, event))
        if pending:
            stored: list[StoredEvent] = [self._mapper.to_stored_event(e) for _, e in pending]
            entries = [e.pending() for _, e in pending]  # the sealer need not parse them back
            expected = {} if any(
                e.originator_id == identity.registry_stream for _, e in pending
            ) else {str(identity.registry_stream): registry.version}
            outcome = self._log.append(stored, expected_heads=expected, pending=entries)
            for batch_position, error in outcome.rejected.items():
                results[pending[batch_position][0]] = error
            for appended in outcome.appended:
                position, event = pending[appended.position]
                results[position] = Receipt(
                    stream=event.originator_id, seq=event.originator_version,
                    type=event.filing.type, entry_hash=appended.entry_hash.hex(),
                    leaf_index=appended.leaf_index, recorded_at=appended.recorded_at,
                    nonce=str(event.filing.nonce))
            self._cache_appended(pending, outcome, batch)
        return [cast(Receipt | LedgerError, r) for r in results]

    def _cache_appended(self, pending: Sequence[tuple[int, EntryEvent]], outcome: BatchOutcome,
                        batch: Batch) -> None:
        """Put each stream's state after the append in the cache: its state before the batch
        plus its entries as sealed (the same events a rebuild from the database reads back).
        A stream whose entry was refused keeps its state before the batch — if another
        process moved it (a conflict), the next fresh read fast-forwards from there — unless
        the refusal was anything but a conflict: then it is evicted, to be read afresh."""
        refused = {pending[i][1].originator_id for i in outcome.rejected}
        for i, error in outcome.rejected.items():
            if not isinstance(error, ConflictError):
                self._cache.evict(pending[i][1].originator_id)
        sealed: dict[UUID, list[EntryEvent]] = {}
        for appended in outcome.appended:
            event = pending[appended.position][1]
            if event.originator_id not in refused:
                sealed.setdefault(event.originator_id, []).append(_sealed(event, appended))
        for stream, events in sealed.items():
            base = batch.bases.get(stream)
            aggregate: Any = base.fork() if base is not None else None
            try:
                for event in events:
                    aggregate = event.mutate(aggregate)
            except LedgerError:  # the cached state was not what the log holds: read it anew
                self._cache.evict(stream)  # (the filings are committed; only the cache is at stake)
                continue
            self._cache.remember(aggregate)


def _sealed(event: EntryEvent, appended: Appended) -> EntryEvent:
    """The pending event as the log sealed it: what the mapper reads back from the database."""
    cls: Any = type(event)
    return cast(EntryEvent, cls(
        originator_id=event.originator_id, originator_version=event.originator_version,
        timestamp=parse_time(appended.recorded_at), filing=event.filing,
        signature=event.signature, prev=appended.prev, recorded_at=appended.recorded_at,
        entry_hash=appended.entry_hash.hex()))


__all__ = ["FilingPipeline"]
