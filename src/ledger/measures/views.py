"""Per-project views of docs/design.md §4 evaluated at a date, and state hashes (pure: the offline
bundle verifier recomputes them).

``state_hash`` = the profile's hash (SHA-256 for ``intl``) of the RFC 8785 bytes of the view, so
two parties that computed the same view from the same entries get the same hash.
"""

from __future__ import annotations

from datetime import date

from ledger.crypto.suites import INTL, Profile
from ledger.log.canonical import JSONValue, canonical_bytes
from ledger.measures import rules
from ledger.measures.calendar import WorkingCalendar, default_calendar
from ledger.measures.facts import ProjectFacts


def state_hash(view: JSONValue, profile: Profile = INTL) -> str:
    """Hex hash of the view's canonical bytes."""
    return profile.digest(canonical_bytes(view)).hex()


def undated_library_row(facts: ProjectFacts, unit: str | None) -> dict[str, JSONValue]:
    """What a library row (项目库, Art. 12) says without judging any rule on a date: what a
    library shows, sorts and totals before the day's eligibility, overdue count and flags."""
    return {
        "id": facts.project_id, "title": facts.title, "unit": unit, "kind": facts.kind,
        "stage": facts.stage, "fiscal_year": facts.fiscal_year,
        "budget_estimate_fen": facts.budget_estimate_fen,
        "approved_budget_fen": facts.approved_budget_fen,
        "arranged_fen": facts.arranged_construction_fen + facts.arranged_om_fen,
        "contracted_fen": sum(c.amount_fen for c in facts.contracts),
        "disbursed_fen": facts.disbursed_construction_fen + facts.disbursed_om_fen,
        "entries": facts.entries, "last_recorded_at": facts.last_recorded_at,
    }


def library_row(facts: ProjectFacts, unit: str | None, on: date,
                calendar: WorkingCalendar | None = None) -> dict[str, JSONValue]:
    """One row of the project library (项目库, Art. 12): :func:`undated_library_row` with the
    eligibility, overdue count and flags judged on ``on``."""
    calendar = calendar or default_calendar()
    construction = rules.eligibility(facts, rules.CONSTRUCTION, on, calendar)
    om = rules.eligibility(facts, rules.OPERATION_MAINTENANCE, on, calendar)
    due = rules.obligations(facts, on, calendar)
    return undated_library_row(facts, unit) | {
        "eligible": {"construction": construction.eligible,
                     "operation_maintenance": om.eligible},
        "overdue": sum(1 for o in due if o.status == "overdue"),
        "flags": sorted({f.rule for f in rules.flags(facts, calendar)}),
    }


def eligibility_view(facts: ProjectFacts, on: date,
                     calendar: WorkingCalendar | None = None) -> dict[str, JSONValue]:
    """Funding eligibility of both kinds, with the article behind every "no"."""
    return {kind: rules.eligibility(facts, kind, on, calendar).to_json()
            for kind in rules.FUNDING_KINDS}


def obligations_view(facts: ProjectFacts, on: date,
                     calendar: WorkingCalendar | None = None) -> list[JSONValue]:
    """The project's compliance calendar at ``on``."""
    return [o.to_json() for o in rules.obligations(facts, on, calendar or default_calendar())]


def project_view(facts: ProjectFacts, unit: str | None, on: date,
                 calendar: WorkingCalendar | None = None) -> dict[str, JSONValue]:
    """Everything the office sees of one project at ``on``."""
    calendar = calendar or default_calendar()
    return {
        "project": library_row(facts, unit, on, calendar),
        "eligibility": eligibility_view(facts, on, calendar),
        "obligations": obligations_view(facts, on, calendar),
        "flags": [f.to_json() for f in rules.flags(facts, calendar)],
        "facts": facts.to_json(),
    }


def yuan(fen: object, symbol: str = "") -> str:
    """Integer fen as yuan with thousands separators (``123456789`` → ``1,234,567.89``).

    Integer arithmetic only; anything that is not an integer shows as ``—``.
    """
    if not isinstance(fen, int) or isinstance(fen, bool):
        return "—"
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{symbol}{whole:,}.{cents:02d}"
