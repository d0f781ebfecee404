"""The audit trail (DESIGN §4.5): per project, every entry with who, what, which article, its
signature and chain status, and what it changed — a pure fold over the project's entries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

from ledger.aggregates import fact_entry
from ledger.canonical import JSONValue
from ledger.catalogue import spec_for
from ledger.events import EntryEvent
from ledger.facts import ProjectFacts, empty_facts, fold

# What "changed" reports: every fact but the bookkeeping counters.
_FACT_FIELDS = tuple(f.name for f in fields(ProjectFacts)
                     if f.name not in ("entries", "last_hash", "last_recorded_at"))


@dataclass(frozen=True)
class TrailActor:
    """The registered role and unit of an entry's author."""

    role: str
    unit: str | None


def trail(events: Sequence[EntryEvent], actors: Mapping[str, TrailActor],
          signature_ok: Mapping[int, bool] | None = None) -> list[JSONValue]:
    """Rows in stream order. ``signature_ok`` maps seq → checked; absent means not checked.

    The chain is checked while reading (a broken chain never gets this far), so each row says
    ``chain: "linked"``.
    """
    rows: list[JSONValue] = []
    facts: ProjectFacts = empty_facts(str(events[0].originator_id) if events else "")
    for event in events:
        before = facts
        facts = fold(facts, fact_entry(event))
        changed = sorted(name for name in _FACT_FIELDS
                         if getattr(facts, name) != getattr(before, name))
        actor = actors.get(event.filing.actor)
        spec = spec_for(event.filing.type)
        checked = None if signature_ok is None else signature_ok.get(event.originator_version)
        rows.append({
            "seq": event.originator_version, "type": event.filing.type,
            "summary_zh": spec.summary_zh, "articles": [f"Art. {a}" for a in spec.articles],
            "effective": event.filing.effective.isoformat(),
            "recorded_at": event.recorded_at, "actor": event.filing.actor,
            "role": actor.role if actor else None, "unit": actor.unit if actor else None,
            "key": event.filing.key, "entry_hash": event.entry_hash, "prev": event.prev,
            "chain": "linked",
            "signature": "unchecked" if checked is None else ("valid" if checked else "invalid"),
            "changed": changed,
        })
    return rows
