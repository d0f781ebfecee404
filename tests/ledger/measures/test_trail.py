"""The audit trail's fold gives the same facts as folding the stream."""

from __future__ import annotations

from dataclasses import fields

from ledger.app import Ledger
from ledger.measures.aggregates import fact_entry
from ledger.measures.catalogue import EXAMPLES
from ledger.measures.facts import ProjectFacts, empty_facts, fold
from ledger.measures.trail import TrailActor, trail, trail_and_facts


def test_trail_and_facts_fold_once_and_report_changes(ledger: Ledger) -> None:
    stream = ledger.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"]).stream
    ledger.file("office-li", "ReviewOpinionIssued", EXAMPLES["ReviewOpinionIssued"],
                stream=stream)
    ledger.file("edu-wang", "MaterialsSupplemented", EXAMPLES["MaterialsSupplemented"],
                stream=stream)
    events = ledger.events_of(stream)
    actors = {"edu-wang": TrailActor("unit", "edu")}
    rows, facts = trail_and_facts(events, actors)
    expected = empty_facts(str(stream))
    for event in events:
        expected = fold(expected, fact_entry(event))
    assert facts == expected
    assert rows == trail(events, actors)
    changed: list[list[str]] = [row["changed"] for row in rows]  # type: ignore[index, call-overload, misc]
    assert changed[2] == []  # supplementing materials changes no fact
    assert changed[1] == sorted(changed[1])
    assert "decision" in changed[1]
    names = {f.name for f in fields(ProjectFacts)}
    assert set(changed[0]) <= names - {"entries", "last_hash", "last_recorded_at"}
    first: dict[str, object] = rows[0]  # type: ignore[assignment]
    assert first["articles"]
    assert first["summary_zh"]
