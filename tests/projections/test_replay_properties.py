"""Property tests: rebuilt from zero == incrementally maintained == replayed as known at now,
and a fact recorded later never changes an earlier replay — on both backends."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.app import Ledger
from ledger.errors import LedgerError
from ledger.measures.catalogue import EXAMPLES
from ledger.measures.roles import Role
from ledger.settings import Settings
from ledgertest import upload_example_documents
from projections import views
from projections.replay import replay_library
from projections.runner import Library

ON = date(2026, 11, 25)

# (event type, actor, payload changes): filings a project can receive; guards refuse some.
ACTIONS: list[tuple[str, str, dict[str, Any]]] = [
    ("ReviewOpinionIssued", "office", {}),
    ("ReviewOpinionIssued", "office", {"decision": "rejected", "approved_budget_fen": None,
                                       "conditions": None}),
    ("FundingArranged", "finance", {}),
    ("FundingArranged", "finance", {"kind": "operation_maintenance", "amount_fen": 5_000_000}),
    ("FundsDisbursed", "finance", {"amount_fen": 1_000_000, "contract_no": None}),
    ("ContractFiled", "unit", {}),
    ("ProgressReported", "unit", {}),
    ("ConstructionCompleted", "unit", {"completed_on": "2026-01-10"}),
    ("PreliminaryAcceptanceCompleted", "unit", {"completed_on": "2026-02-02"}),
    ("CatalogCompleted", "unit", {}),
    ("SharingNonComplianceFound", "office", {}),
    ("FundingSuspended", "office", {"scope": "all"}),
    ("CriticismNotified", "office", {}),
    ("ProjectTerminated", "office", {}),
    ("AuditFindingRecorded", "audit", {}),
]


class StepClock:
    """A clock that moves one minute per reading (times strictly increase)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


def _payload(event_type: str, changes: dict[str, Any]) -> dict[str, Any]:
    payload = copy.deepcopy(dict(EXAMPLES[event_type]))
    for key, value in changes.items():
        if value is None:
            payload.pop(key, None)
        else:
            payload[key] = value
    return payload


def _run(ledger: Ledger, plan: list[tuple[int, int]], projects: int) -> list[tuple[str, str]]:
    """File the plan; return (recorded_at of the newest entry, library hash) checkpoints."""
    actors = {"unit": "unit-a", "office": "office", "finance": "finance", "audit": "audit"}
    streams = [ledger.file("unit-a", "ApplicationFiled", EXAMPLES["ApplicationFiled"]).stream
               for _ in range(projects)]
    library = Library(ledger)
    seen: list[tuple[str, str]] = []
    for step, (project, action) in enumerate(plan):
        event_type, actor, changes = ACTIONS[action]
        try:
            ledger.file(actors[actor], event_type, _payload(event_type, changes),
                        stream=streams[project])
        except LedgerError:
            continue  # refused by a rule: nothing was written, which is part of the property
        if step % 3 == 0:
            library.catch_up()
            state = library.state
            seen.append((state.last_recorded_at,
                         views.state_hash(views.library_view(state, ON))))
    library.catch_up()
    incremental = views.all_views(library.state, ON)
    rebuilt = views.all_views(Library(ledger).rebuild(), ON)
    replayed = views.all_views(replay_library(ledger), ON)
    for name in incremental:
        assert incremental[name]["state_hash"] == rebuilt[name]["state_hash"], name
        assert incremental[name]["state_hash"] == replayed[name]["state_hash"], name
    return seen


plans = st.lists(st.tuples(st.integers(0, 2), st.integers(0, len(ACTIONS) - 1)),
                 min_size=1, max_size=25)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=plans)
def test_rebuild_incremental_and_replay_agree(
        plan: list[tuple[int, int]], database_url: str,
        make_database: Callable[[str], str]) -> None:
    url = make_database(database_url)
    ledger = Ledger(Settings(database_url=url, environment="test"), clock=StepClock())
    try:
        ledger.initialise()
        upload_example_documents(ledger)
        for actor, role, unit in (("unit-a", Role.UNIT, "edu"), ("office", Role.OFFICE, None),
                                  ("finance", Role.FINANCE, None), ("audit", Role.AUDIT, None)):
            ledger.register_actor(actor, role, unit, actor)
        seen = _run(ledger, plan, projects=3)
        # A fact recorded later never changes an earlier replay.
        for recorded_at, library_hash in seen:
            earlier = replay_library(ledger, as_known_at=recorded_at)
            assert views.state_hash(views.library_view(earlier, ON)) == library_hash
    finally:
        ledger.close()
