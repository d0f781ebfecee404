"""The aggregates: one per project stream, and the key registry stream.

Their state is what the write side needs to decide (guards); the read models live in
``src/projections``. Both evolve only through :class:`ledger.measures.events.EntryEvent`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from eventsourcing.domain import Aggregate

from ledger.errors import (
    DuplicateActorError,
    KeyNotValidError,
    UnknownActorError,
)
from ledger.log.entries import END_OF_TIME, ZERO_HASH, b64decode, format_time
from ledger.measures.catalogue import EventSpec
from ledger.measures.events import EntryEvent, register_aggregate
from ledger.measures.facts import FactEntry, empty_facts, fold
from ledger.measures.roles import Role

_A = TypeVar("_A", bound=Aggregate)


def _fork(aggregate: _A) -> _A:
    """A shallow twin with no pending events: cached aggregates are never mutated, so a
    decision (or a newer state) works on a twin. Shared parts must be immutable or replaced,
    never changed in place (facts are frozen; the registry's dicts are copy-on-write)."""
    twin = object.__new__(type(aggregate))  # copy.copy's generic protocol costs 4x more
    twin.__dict__.update(aggregate.__dict__)
    twin._pending_events = []
    return twin



class Project(Aggregate):
    """A project stream (项目): its :class:`~ledger.measures.facts.ProjectFacts`, folded per entry.

    The same fold feeds the read models, so a guard here and an explanation there read the
    same facts through the same rules (:mod:`ledger.measures.rules`).
    """

    def fork(self) -> Project:
        """A twin to evolve without touching this one (its nonce set is copied)."""
        twin = _fork(self)
        twin.nonces = set(self.nonces)
        return twin

    def __init__(self) -> None:
        self.head_hash = ZERO_HASH
        self.facts = empty_facts("")
        self.nonces: set[str] = set()

    def on_entry(self, event: EntryEvent) -> None:
        """Fold one entry into the facts."""
        if not self.facts.project_id:
            self.facts = empty_facts(str(self.id))
        self.facts = fold(self.facts, fact_entry(event))
        self.nonces.add(str(event.filing.nonce))


def fact_entry(event: EntryEvent) -> FactEntry:
    """What the fold needs of an event; a pending event is dated by its decision time."""
    return FactEntry(
        type=event.filing.type, payload=event.filing.payload, seq=event.originator_version,
        entry_hash=event.entry_hash or "", effective=event.filing.effective.isoformat(),
        recorded_at=event.recorded_at or format_time(event.timestamp), actor=event.filing.actor,
        nonce=str(event.filing.nonce))


@dataclass(frozen=True)
class ActorRecord:
    """A registered actor: who they are and which role (and unit) they act in."""

    actor: str
    role: Role
    unit: str | None
    display_name: str
    registered_at: str


@dataclass(frozen=True)
class KeyRecord:
    """A registered public key and its validity window (docs/design.md §5, Key registry)."""

    key_id: str
    actor: str
    role: Role
    unit: str | None
    suite: str
    public_key: bytes
    registered_at: str
    revoked_from: str | None = None
    purpose: str = "filing"
    """What the key may sign (``KeyRegistered.purpose``; absent in the payload: ``filing``)."""

    def valid_at(self, recorded_at: str) -> bool:
        """Valid iff registered at or before ``recorded_at`` and not yet revoked then."""
        if self.registered_at > recorded_at:
            return False
        return self.revoked_from is None or recorded_at < self.revoked_from


def registered_key(payload: Mapping[str, Any], recorded_at: str) -> KeyRecord:
    """The key a ``KeyRegistered`` payload registers, valid from its entry's ``recorded_at``."""
    return KeyRecord(payload["key_id"], payload["actor"], Role(payload["role"]),
                     payload.get("unit"), payload["suite"], b64decode(payload["public_key"]),
                     recorded_at, purpose=payload.get("purpose") or "filing")


class KeyRegistry(Aggregate):
    """The key registry stream (``ActorRegistered``, ``KeyRegistered``, ``KeyRevoked``)."""

    def __init__(self) -> None:
        self.head_hash = ZERO_HASH
        self.actors: dict[str, ActorRecord] = {}
        self.keys: dict[str, KeyRecord] = {}

    def fork(self) -> KeyRegistry:
        """A twin to evolve without touching this one (the dicts are copy-on-write)."""
        return _fork(self)

    def on_entry(self, event: EntryEvent) -> None:
        """Evolve by one registry entry."""
        payload = event.payload
        name = type(event).__name__
        # A pending (unsealed) event has no ledger time yet; the append stamps it, and
        # decisions were taken on the registry as of now, so "now" is the right reading.
        when = event.recorded_at or END_OF_TIME
        # Copy on write: the cached registry is read by many threads without a copy
        # (Ledger.registry), so a fast-forward must never change a dict someone iterates.
        if name == "ActorRegistered":
            self.actors = {**self.actors, payload["actor"]: ActorRecord(
                payload["actor"], Role(payload["role"]), payload.get("unit"),
                str(payload.get("display_name", payload["actor"])), when)}
        elif name == "KeyRegistered":
            self.keys = {**self.keys, payload["key_id"]: registered_key(payload, when)}
        elif name == "KeyRevoked":
            record = self.keys[payload["key_id"]]
            self.keys = {**self.keys, payload["key_id"]: replace(
                record, revoked_from=payload["revoked_from"])}

    # --- queries used by the guards --------------------------------------------------------

    def actor(self, actor_id: str) -> ActorRecord:
        """The registered actor, or :class:`UnknownActorError`."""
        try:
            return self.actors[actor_id]
        except KeyError:
            raise UnknownActorError(actor_id) from None

    def require_new_actor(self, actor_id: str) -> None:
        """Raise :class:`DuplicateActorError` if the id is taken."""
        if actor_id in self.actors:
            raise DuplicateActorError(actor_id)

    def key_for(self, key_id: str, actor_id: str, recorded_at: str) -> KeyRecord:
        """The key if it is ``actor_id``'s filing key, valid at ``recorded_at``; else raise."""
        record = self.keys.get(key_id)
        if record is None:
            raise KeyNotValidError(key_id, "not in the key registry")
        if record.actor != actor_id:
            raise KeyNotValidError(key_id, f"registered to {record.actor!r}, not {actor_id!r}")
        if record.purpose != "filing":
            raise KeyNotValidError(key_id, f"its purpose is {record.purpose!r}: only a filing"
                                   " key signs filings")
        if not record.valid_at(recorded_at):
            if record.revoked_from is not None and recorded_at >= record.revoked_from:
                raise KeyNotValidError(key_id, f"revoked from {record.revoked_from}")
            raise KeyNotValidError(key_id, f"registered only at {record.registered_at}")
        return record

    def current_key(self, actor_id: str, now: str,
                    usable: Callable[[KeyRecord], bool] = lambda _key: True) -> KeyRecord:
        """The actor's newest key valid at ``now`` (and ``usable``, e.g. held in custody)."""
        self.actor(actor_id)
        valid = [k for k in self.keys.values() if k.actor == actor_id and k.valid_at(now)
                 and k.purpose == "filing" and usable(k)]
        if not valid:
            raise KeyNotValidError(f"<any key of {actor_id}>", "the actor has no valid key")
        return max(valid, key=lambda k: (k.registered_at, k.key_id))


def aggregate_class_for(spec: EventSpec) -> Any:
    """The aggregate class a stream of this event kind belongs to."""
    return KeyRegistry if spec.stream == "registry" else Project


register_aggregate("registry", KeyRegistry)
register_aggregate("project", Project)


__all__ = ["ActorRecord", "KeyRecord", "KeyRegistry", "Project", "aggregate_class_for",
           "fact_entry"]
