"""Builds project facts from short scripts of filings, for the rule tests (no database)."""

from __future__ import annotations

import copy
from typing import Any

from ledger.measures.catalogue import EXAMPLES
from ledger.measures.facts import FactEntry, ProjectFacts, empty_facts, fold


class Script:
    """Fold filings into facts: ``Script().file("ContractFiled", "2024-10-09", signed_on=…)``."""

    def __init__(self) -> None:
        self.facts: ProjectFacts = empty_facts("p-1")
        self.seq = 0

    def file(self, event_type: str, recorded_on: str, actor: str = "unit-a", *,
             effective: str | None = None, **changes: Any) -> FactEntry:
        """Record one filing on ``recorded_on`` (China date) with payload changes; its
        ``effective`` date is ``recorded_on`` unless given."""
        payload = copy.deepcopy(dict(EXAMPLES[event_type]))
        for key, value in changes.items():
            if value is None:
                payload.pop(key, None)
            else:
                payload[key] = value
        self.seq += 1
        # 10:00 China time is 02:00 UTC the same day.
        entry = FactEntry(event_type, payload, self.seq, f"h{self.seq:02d}",
                          f"{recorded_on}T02:00:00.000000Z", effective or recorded_on, actor)
        self.facts = fold(self.facts, entry)
        return entry

    def approved(self, recorded_on: str = "2024-11-20", budget_fen: int = 300_000_000) -> Script:
        """Application in October 2024 and an approving opinion."""
        self.file("ApplicationFiled", "2024-10-15")
        self.file("ReviewOpinionIssued", recorded_on, actor="office", decision="approved",
                  approved_budget_fen=budget_fen, conditions=None)
        return self

    def accepted(self, completed_on: str = "2025-06-30", accepted_on: str = "2025-09-01",
                 catalogue_on: str | None = None) -> Script:
        """Construction completed and accepted (Art. 19), so O&M funds may flow; a catalogue
        with data collected on ``catalogue_on`` (Art. 26), by default the acceptance day."""
        self.file("ConstructionCompleted", completed_on, completed_on=completed_on)
        self.file("AcceptanceReportFiled", accepted_on, accepted_on=accepted_on)
        self.file("CatalogCompleted", catalogue_on or accepted_on)
        return self
