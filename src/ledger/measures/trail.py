"""The audit trail (docs/design.md §4.5): per project, every entry with who, what, which article,
its
signature and chain status, and what it changed — a pure fold over the project's entries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from functools import cache

from ledger.log.canonical import JSONValue
from ledger.measures.aggregates import fact_entry
from ledger.measures.catalogue import spec_for
from ledger.measures.events import EntryEvent
from ledger.measures.facts import ProjectFacts, empty_facts, fold

# What "changed" reports, in the order it reports them: every fact but the bookkeeping counters.
# Bookkeeping, not facts an official reads: the counters, and what ties a history attestation
# to the entries it dates (which nonce opened the project, which nonces it named).
_FACT_FIELDS = tuple(sorted(f.name for f in fields(ProjectFacts)
                            if f.name not in ("entries", "last_hash", "last_recorded_at",
                                              "application_nonce", "attested_nonces",
                                              "attesting")))


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
    return trail_and_facts(events, actors, signature_ok)[0]


def trail_and_facts(events: Sequence[EntryEvent], actors: Mapping[str, TrailActor],
                    signature_ok: Mapping[int, bool] | None = None,
                    ) -> tuple[list[JSONValue], ProjectFacts]:
    """:func:`trail`, and the facts after the last of ``events``: the trail folds every entry
    anyway, so a replay need not fold the stream a second time."""
    rows: list[JSONValue] = []
    facts: ProjectFacts = empty_facts(str(events[0].originator_id) if events else "")
    for event in events:
        before = facts
        facts = fold(facts, fact_entry(event))
        actor = actors.get(event.filing.actor)
        summary_zh, articles = _spec_of(event.filing.type)
        checked = None if signature_ok is None else signature_ok.get(event.originator_version)
        rows.append({
            "seq": event.originator_version, "type": event.filing.type,
            "summary_zh": summary_zh, "articles": list(articles),
            "effective": event.filing.effective.isoformat(),
            "recorded_at": event.recorded_at, "actor": event.filing.actor,
            "role": actor.role if actor else None, "unit": actor.unit if actor else None,
            "key": event.filing.key, "entry_hash": event.entry_hash, "prev": event.prev,
            "chain": "linked",
            "signature": "unchecked" if checked is None else ("valid" if checked else "invalid"),
            "changed": _changed(before, facts),
        })
    return rows, facts


def _changed(before: ProjectFacts, after: ProjectFacts) -> list[str]:
    """The facts an entry changed, by name (``_FACT_FIELDS`` is sorted).

    Reads the instances' ``__dict__`` (see ``facts.evolve``): a fold shares every field it did
    not touch, so the identity test answers most fields without comparing values.
    """
    old, new = before.__dict__, after.__dict__
    return [name for name in _FACT_FIELDS
            if new[name] is not old[name] and new[name] != old[name]]


@cache
def _spec_of(event_type: str) -> tuple[str, tuple[str, ...]]:
    """An event type's summary and cited articles as the trail shows them."""
    spec = spec_for(event_type)
    return spec.summary_zh, tuple(f"Art. {a}" for a in spec.articles)
