"""The demo shows adoption: an imported batch (one project held by a refused row) and a
reminder log, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

from ledger.app import Ledger
from ledger.demo import load_demo
from ledger.measures import rules
from ledger.measures.importing import project_stream
from ledger.service.reminders import ReminderBook
from ledger.service.sidetables import SideTables
from ledger.settings import Settings


def test_the_demo_imports_a_batch_and_keeps_a_reminder_log(settings: Settings) -> None:
    result = load_demo(settings)
    assert {k: v for k, v in result.imported.items() if v} == {
        "filed": 10, "refused": 1, "held": 2}
    ledger = Ledger(settings)
    try:
        origin = ledger.identity.origin
        imported = {k: v for k, v in result.projects.items() if k.startswith("import:")}
        assert imported == {f"import:{code}": project_stream(origin, code)
                            for code in ("DR-2024-07", "DR-2024-09")}
        facts = ledger.project(imported["import:DR-2024-07"]).facts
        assert facts.approved_budget_fen == 168_800_000
        assert facts.disbursed_construction_fen == 47_580_000
        # The Office's history attestation dates each imported filing as its register does:
        # an on-time contract is met, a late one still flagged, the report received in time.
        on = date(2026, 11, 2)
        statuses = {o.rule: o.status for o in rules.obligations(facts, on, ledger.calendar)}
        assert statuses["application_window"] == statuses["contract_filing"] == "met"
        assert [(o.due, o.status) for o in rules.obligations(facts, on, ledger.calendar)
                if o.rule == "annual_report"] == [("2024-12-31", "overdue"),
                                                  ("2025-12-31", "met"), ("2026-12-31", "open")]
        late = ledger.project(imported["import:DR-2024-09"]).facts
        assert "contract_filing_late" in {f.rule for f in rules.flags(late, ledger.calendar)}
        assert "application_window_late" not in {f.rule for f in rules.flags(late,
                                                                              ledger.calendar)}
        # The project whose contract came before its review opinion is not in the ledger.
        assert ledger.cache.current(project_stream(origin, "DR-2024-12"), fresh=True) is None
    finally:
        ledger.close()
    log = ReminderBook(SideTables(settings.database_url)).log()
    assert len(log) == result.reminders > 0
    assert all(row["status"] == "sent" and row["at"].startswith("2026-11-24") for row in log)
    assert {row["stage"] for row in log} <= {"due_soon", "due_today", "overdue"}
