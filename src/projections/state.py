"""The library state: every project's facts and every actor's unit, folded from the log.

Folding one entry is deterministic and depends only on the entries before it, so the state
rebuilt from zero, kept up to date one batch at a time, and replayed as known at now are equal
(the property tests check exactly that, through the state hashes of :mod:`projections.views`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias
from uuid import UUID

from ledger.errors import EntryHashMismatchError, StoredValueError
from ledger.log.entries import Entry
from ledger.measures.facts import FactEntry, ProjectFacts, empty_facts, fold

# One log leaf and its entry, as a rebuild reads them: (leaf index, leaf entry hash, notification
# id, stored entry bytes, or None where the event row is gone). Plain tuples, not ``LeafRow`` and
# ``StoredEvent`` objects: a rebuild reads every row of the log, and building those objects (and
# a UUID per stream id) cost about as much as folding the entry.
LogRow: TypeAlias = tuple[int, bytes, int, "bytes | None"]

# Entries are UTF-8 canonical JSON: decoding the text ourselves skips ``json.loads``'s encoding
# sniffing, a fifth of the decode.
_decode = json.JSONDecoder().decode


@dataclass(frozen=True)
class ActorUnit:
    """An actor's role and unit, as the key registry recorded them."""

    role: str
    unit: str | None


@dataclass
class LibraryState:
    """Facts by project and actors by id; ``apply`` folds one entry in place."""

    registry_stream: str
    projects: dict[str, ProjectFacts] = field(default_factory=dict)
    actors: dict[str, ActorUnit] = field(default_factory=dict)
    entries: int = 0
    last_recorded_at: str = ""

    def apply(self, entry: Entry, entry_hash: str) -> str | None:
        """Fold one sealed entry; return the project id it changed (None for the registry)."""
        filing = entry.filing
        return self._apply(str(filing.stream), FactEntry(
            filing.type, filing.payload, entry.seq, entry_hash, entry.recorded_at,
            filing.effective.isoformat(), filing.actor, str(filing.nonce)))

    def apply_json(self, entry: Mapping[str, Any], entry_hash: str) -> str | None:
        """Fold one sealed entry given as parsed JSON (rebuilds: the caller checked its hash
        against the log leaf, so the strict parse of :meth:`Entry.parse` is not repeated)."""
        filing = entry["filing"]
        return self._apply(filing["stream"], FactEntry(
            filing["type"], filing["payload"], entry["seq"], entry_hash, entry["recorded_at"],
            filing["effective"], filing["actor"], str(filing["nonce"]).lower()))

    def apply_log(self, rows: Iterable[LogRow], digest: Callable[[bytes], bytes]) -> int:
        """Fold log rows in leaf order, each after checking that its stored bytes hash to its
        leaf (so the strict parse is not needed: see :meth:`apply_json`); return the largest
        notification id folded, 0 for none."""
        last_id = 0
        for leaf_index, leaf_hash, notification_id, stored in rows:
            if stored is not None and not (type(stored) is bytes and type(leaf_hash) is bytes
                                           and type(notification_id) is int):
                raise StoredValueError(
                    "the entry, its leaf's hash or its notification id is stored as another"
                    " type (run `ledger verify`)", leaf_index=leaf_index)
            if stored is None or digest(stored) != leaf_hash:
                raise EntryHashMismatchError(
                    "the entry does not match its log leaf (run `ledger verify`)",
                    leaf_index=leaf_index)
            self.apply_json(_decode(stored.decode()), leaf_hash.hex())
            last_id = max(last_id, notification_id)
        return last_id

    def _apply(self, stream: str, entry: FactEntry) -> str | None:
        self.entries += 1
        self.last_recorded_at = entry.recorded_at
        if stream == self.registry_stream:
            if entry.type == "ActorRegistered":
                payload = entry.payload
                self.actors[payload["actor"]] = ActorUnit(payload["role"], payload.get("unit"))
            return None
        facts = self.projects.get(stream) or empty_facts(stream)
        self.projects[stream] = fold(facts, entry)
        return stream

    def unit_of(self, facts: ProjectFacts) -> str | None:
        """The construction unit that opened a project."""
        actor = self.actors.get(facts.opened_by)
        return actor.unit if actor else None

    def projects_of(self, unit: str) -> list[ProjectFacts]:
        """A unit's projects, by id."""
        return [f for _, f in sorted(self.projects.items()) if self.unit_of(f) == unit]

    def units(self) -> list[str]:
        """Every unit that has an actor, sorted."""
        return sorted({a.unit for a in self.actors.values() if a.unit})


def load_state(registry_stream: UUID | str, projects: Iterable[Mapping[str, Any]],
               actors: Mapping[str, ActorUnit], entries: int,
               last_recorded_at: str) -> LibraryState:
    """Rebuild the in-memory state from persisted read-model rows."""
    state = LibraryState(str(registry_stream))
    for row in projects:
        facts = ProjectFacts.from_json(row)
        state.projects[facts.project_id] = facts
    state.actors.update(actors)
    state.entries, state.last_recorded_at = entries, last_recorded_at
    return state
