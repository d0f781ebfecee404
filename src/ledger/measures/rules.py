"""The Measures as rules: each rule lives here once and serves both sides.

* Guards (``check_*``) refuse what an actor may not do now (docs/design.md §2 principle 3) by
raising
  :class:`RuleViolationError` with the rule id, the article and the entries that cause it.
* Evaluations (:func:`eligibility`, :func:`obligations`, :func:`flags`, :func:`unit_standing`)
  read the same :class:`~ledger.measures.facts.ProjectFacts` at an evaluation date D and explain
  every "no" with ``{rule, article, since, caused_by}``; the disbursement guard *is* the eligibility
  evaluation at today's date.

Dates are ISO strings in the facts; the working-day calendar decides statutory deadlines, and a
deadline beyond the calendar's known years is ``pending_calendar`` naming the missing year.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from ledger.errors import AuthorisationError, RuleViolationError
from ledger.log.canonical import JSONValue
from ledger.log.entries import Filing
from ledger.measures.calendar import CalendarYearMissingError, WorkingCalendar, default_calendar
from ledger.measures.facts import ProjectFacts, Ref
from ledger.measures.roles import Role

if TYPE_CHECKING:
    from ledger.measures.aggregates import KeyRecord, KeyRegistry

CONSTRUCTION = "construction"
OPERATION_MAINTENANCE = "operation_maintenance"
FUNDING_KINDS = (CONSTRUCTION, OPERATION_MAINTENANCE)

# Arts. 31–35: supervision goes on after termination (an audit of a terminated project is the
# normal case), so these are the only filings a terminated project still takes.
SUPERVISION_EVENTS = frozenset({
    "AuditFindingRecorded", "InformationWithheldRecorded", "FundsMisappropriationFound",
    "DisciplinaryReferralMade", "CriticismNotified",
})
# Art. 22: the entries that can bar a unit (the guard looks only at projects that have one).
FINDING_EVENTS = ("SharingNonComplianceFound", "SecurityNonComplianceFound")
# Art. 22: a barred unit may not build new, altered or expanded systems (新建、改建、扩建).
BARRED_KINDS = frozenset({"new", "expansion", "upgrade"})


@dataclass(frozen=True)
class Reason:
    """Why something is not allowed or not in order: the rule, its article, since when, by what."""

    rule: str
    article: str
    detail: str
    since: str | None = None
    caused_by: tuple[str, ...] = ()

    def to_json(self) -> dict[str, JSONValue]:
        """Plain JSON."""
        return {"rule": self.rule, "article": self.article, "detail": self.detail,
                "since": self.since, "caused_by": list(self.caused_by)}

    def refuse(self) -> RuleViolationError:
        """The guard error for this reason."""
        return RuleViolationError(self.rule, self.article, self.detail, self.caused_by)


@dataclass(frozen=True)
class Eligibility:
    """Funding eligibility (资金拨付条件) of one kind of funds at one date."""

    kind: str
    eligible: bool
    reasons: tuple[Reason, ...]
    headroom_fen: int

    def to_json(self) -> dict[str, JSONValue]:
        """Plain JSON."""
        return {"kind": self.kind, "eligible": self.eligible, "headroom_fen": self.headroom_fen,
                "reasons": [r.to_json() for r in self.reasons]}


@dataclass(frozen=True)
class Obligation:
    """A deadline of the compliance calendar and its status at the evaluation date."""

    rule: str
    article: str
    detail: str
    due: str | None
    status: str  # open | met | met_late | overdue | pending_calendar
    met_by: str | None = None
    missing_year: int | None = None
    caused_by: tuple[str, ...] = ()

    def to_json(self) -> dict[str, JSONValue]:
        """Plain JSON."""
        return {"rule": self.rule, "article": self.article, "detail": self.detail,
                "due": self.due, "status": self.status, "met_by": self.met_by,
                "missing_year": self.missing_year, "caused_by": list(self.caused_by)}


def _hashes(*refs: Ref | None) -> tuple[str, ...]:
    return tuple(r.hash for r in refs if r is not None)


def _d(text: str) -> date:
    return date.fromisoformat(text)


# --- eligibility (docs/design.md §4.2)
# ----------------------------------------------------------------


def eligibility(facts: ProjectFacts, kind: str, on: date,
                calendar: WorkingCalendar | None = None) -> Eligibility:
    """Whether ``kind`` funds may be disbursed to the project on date ``on``, and why not.

    Mandatory rules (不得/不安排): Art. 9, Art. 15, Art. 19, Art. 22(1)/(2), Art. 26, Art. 30.
    """
    reasons: list[Reason] = []
    if facts.terminated is not None:
        reasons.append(Reason("project_terminated", "Art. 30", "the project is terminated (终止)",
                              facts.terminated.recorded_on, _hashes(facts.terminated)))
    if not facts.approved:
        cause = facts.opinion or facts.application
        reasons.append(Reason(
            "approval_required", "Art. 9",
            "no approving review opinion (审核意见) — the premise of any funding",
            cause.recorded_on if cause else None, _hashes(cause)))
    suspension = facts.suspended(kind)
    if suspension is not None:
        reasons.append(Reason("funding_suspended", "Art. 30",
                              f"{kind} funds are suspended (暂缓拨付)",
                              suspension.ref.recorded_on, _hashes(suspension.ref)))
    if facts.completed is not None and facts.acceptance is None:
        reasons.append(Reason(
            "acceptance_required", "Art. 19",
            "construction is complete but not accepted: no further construction funds and no"
            " O&M funds until the acceptance report is filed (未经验收不得拨付)",
            facts.completed.recorded_on, _hashes(facts.completed)))
    if kind == OPERATION_MAINTENANCE:
        reasons.extend(_om_reasons(facts, on, calendar or default_calendar()))
    headroom = remaining_fen(facts, kind)
    if headroom <= 0 and facts.approved:
        reasons.append(Reason(
            "no_headroom", "Art. 15",
            f"nothing left within the arranged and approved {kind} amounts (超支不补)",
            None, _hashes(facts.opinion)))
    return Eligibility(kind, not reasons, tuple(reasons), max(headroom, 0))


def _om_reasons(facts: ProjectFacts, on: date, calendar: WorkingCalendar) -> list[Reason]:
    reasons: list[Reason] = []
    for finding in facts.active_findings("sharing"):
        reasons.append(Reason("sharing_non_compliance", "Art. 22(1)",
                              "data resources not shared as required: no O&M funds",
                              finding.ref.recorded_on, _hashes(finding.ref)))
    for finding in facts.active_findings("security"):
        reasons.append(Reason("security_non_compliance", "Art. 22(2)",
                              "cryptography/security requirements not met: no O&M funds",
                              finding.ref.recorded_on, _hashes(finding.ref)))
    catalogue = catalogue_obligation(facts, on, calendar)
    if catalogue is not None and catalogue.status == "overdue":
        reasons.append(Reason(
            "catalogue_not_completed", "Art. 26",
            "catalogue and data collection not completed within 10 working days of preliminary"
            " acceptance (目录编制及数据归集): no O&M funds",
            catalogue.due, catalogue.caused_by))
    return reasons


def remaining_fen(facts: ProjectFacts, kind: str) -> int:
    """What may still be disbursed of ``kind`` within arranged (and approved) amounts (Art. 15)."""
    if kind == CONSTRUCTION:
        ceiling = facts.arranged_construction_fen
        if facts.approved_budget_fen is not None:
            ceiling = min(ceiling, facts.approved_budget_fen)
        return ceiling - facts.disbursed_construction_fen
    return facts.arranged_om_fen - facts.disbursed_om_fen


# --- obligations (docs/design.md §4.3) ------------------------------------------------------------


def _deadline_status(due: date, met_on: str | None, on: date) -> str:
    if met_on is not None:
        return "met" if _d(met_on) <= due else "met_late"
    return "overdue" if on > due else "open"


def _pending(rule: str, article: str, detail: str, error: CalendarYearMissingError,
             caused_by: tuple[str, ...]) -> Obligation:
    return Obligation(rule, article, f"{detail} (the {error.year} holiday calendar is not"
                      " loaded yet: `ledger calendar add`)", None, "pending_calendar",
                      missing_year=error.year, caused_by=caused_by)


def catalogue_obligation(facts: ProjectFacts, on: date,
                         calendar: WorkingCalendar | None = None) -> Obligation | None:
    """Art. 26: catalogue and data collection within 10 working days of preliminary acceptance."""
    if facts.preliminary is None or facts.preliminary_on is None:
        return None
    calendar = calendar or default_calendar()
    detail = "catalogue compiled and data collected on the zone platform (Art. 26)"
    try:
        due = calendar.add_working_days(_d(facts.preliminary_on), 10)
    except CalendarYearMissingError as exc:
        return _pending("catalogue", "Art. 26", detail, exc, _hashes(facts.preliminary))
    done = facts.catalogue if facts.catalogue and facts.catalogue.data_collected else None
    status = _deadline_status(due, done.ref.recorded_on if done else None, on)
    return Obligation("catalogue", "Art. 26", detail, due.isoformat(), status,
                      done.ref.hash if done else None,
                      caused_by=_hashes(facts.preliminary))


def obligations(facts: ProjectFacts, on: date,
                calendar: WorkingCalendar | None = None) -> tuple[Obligation, ...]:
    """Every deadline of the project with its status on ``on`` (docs/design.md §4.3)."""
    calendar = calendar or default_calendar()
    found: list[Obligation] = []
    if facts.application is not None:
        found.append(_application_window(facts))
    found.extend(_contract_obligations(facts, calendar, on))
    found.extend(_annual_reports(facts, on))
    acceptance = _acceptance_obligation(facts, calendar, on)
    if acceptance is not None:
        found.append(acceptance)
    catalogue = catalogue_obligation(facts, on, calendar)
    if catalogue is not None:
        found.append(catalogue)
    evaluation = _self_evaluation(facts, calendar, on)
    if evaluation is not None:
        found.append(evaluation)
    found.extend(_rectifications(facts, on))
    return tuple(found)


def _application_window(facts: ProjectFacts) -> Obligation:
    # Art. 6: applications are filed in October (每年10月份提报).
    assert facts.application is not None
    filed = _d(facts.application.recorded_on)
    due = date(filed.year, 10, 31)
    status = "met" if filed.month == 10 else "met_late"
    return Obligation("application_window", "Art. 6", "application filed in October",
                      due.isoformat(), status, facts.application.hash,
                      caused_by=_hashes(facts.application))


def _contract_obligations(facts: ProjectFacts, calendar: WorkingCalendar,
                          on: date) -> list[Obligation]:
    found = []
    for contract in facts.contracts:
        detail = f"contract {contract.contract_no} filed within 5 working days of signing"
        try:
            due = calendar.add_working_days(_d(contract.signed_on), 5)
        except CalendarYearMissingError as exc:
            found.append(_pending("contract_filing", "Art. 13", detail, exc,
                                  _hashes(contract.ref)))
            continue
        found.append(Obligation("contract_filing", "Art. 13", detail, due.isoformat(),
                                _deadline_status(due, contract.ref.recorded_on, on),
                                contract.ref.hash, caused_by=_hashes(contract.ref)))
    return found


def _annual_reports(facts: ProjectFacts, on: date) -> list[Obligation]:
    # Art. 14: a progress report by 31 December of each year from approval until acceptance.
    if not facts.approved or facts.opinion is None or facts.terminated is not None:
        return []
    first = _d(facts.opinion.recorded_on).year
    last = _d(facts.acceptance.ref.recorded_on).year - 1 if facts.acceptance else on.year
    found = []
    for year in range(first, last + 1):
        due = date(year, 12, 31)
        report = next((r for r in facts.progress if r.year == year), None)
        found.append(Obligation(
            "annual_report", "Art. 14", f"progress and budget execution report for {year}",
            due.isoformat(), _deadline_status(due, report.ref.recorded_on if report else None,
                                              on),
            report.ref.hash if report else None, caused_by=_hashes(facts.opinion)))
    return found


def acceptance_due(facts: ProjectFacts, calendar: WorkingCalendar) -> date | None:
    """Art. 19: 3 months after completion (or an approved extension's deadline)."""
    if facts.completed_on is None:
        return None
    if facts.extension_deadline is not None:
        return _d(facts.extension_deadline)
    return calendar.month_period_end(_d(facts.completed_on), 3)


def _acceptance_obligation(facts: ProjectFacts, calendar: WorkingCalendar,
                           on: date) -> Obligation | None:
    if facts.completed is None:
        return None
    detail = "completion acceptance within 3 months of completing construction"
    try:
        due = acceptance_due(facts, calendar)
    except CalendarYearMissingError as exc:
        return _pending("acceptance", "Art. 19", detail, exc, _hashes(facts.completed))
    assert due is not None
    met_on = facts.acceptance.accepted_on if facts.acceptance else None
    return Obligation("acceptance", "Art. 19", detail, due.isoformat(),
                      _deadline_status(due, met_on, on),
                      facts.acceptance.ref.hash if facts.acceptance else None,
                      caused_by=_hashes(facts.completed))


def _self_evaluation(facts: ProjectFacts, calendar: WorkingCalendar,
                     on: date) -> Obligation | None:
    # Art. 20: self-evaluation 12 to 24 months after acceptance and going into use.
    if facts.acceptance is None:
        return None
    accepted = _d(facts.acceptance.accepted_on)
    detail = "self-evaluation report 12–24 months after acceptance"
    opens = calendar.add_months_raw(accepted, 12)
    submitted = facts.self_evaluation
    if submitted is not None and opens <= _d(submitted.recorded_on) <= (
        calendar.add_months_raw(accepted, 24)
    ):
        # Within the window's unmoved end: met, whatever a holiday does to the end (the end
        # only ever moves later), so no calendar year is needed to say so.
        return Obligation("self_evaluation", "Art. 20", f"{detail} (window opens {opens})",
                          calendar.add_months_raw(accepted, 24).isoformat(), "met",
                          submitted.hash, caused_by=_hashes(facts.acceptance.ref))
    try:
        due = calendar.month_period_end(accepted, 24)
    except CalendarYearMissingError as exc:
        return _pending("self_evaluation", "Art. 20", detail, exc,
                        _hashes(facts.acceptance.ref))
    if submitted is not None:
        when = _d(submitted.recorded_on)
        status = "met" if opens <= when <= due else "met_late"
    else:
        status = "overdue" if on > due else "open"
    return Obligation("self_evaluation", "Art. 20", f"{detail} (window opens {opens})",
                      due.isoformat(), status, submitted.hash if submitted else None,
                      caused_by=_hashes(facts.acceptance.ref))


def _rectifications(facts: ProjectFacts, on: date) -> list[Obligation]:
    # Art. 30: rectify within the period set (限期整改).
    return [Obligation(
        "rectification", "Art. 30", f"rectification report for order at seq {o.seq}",
        o.deadline, _deadline_status(_d(o.deadline),
                                     o.reported.recorded_on if o.reported else None, on),
        o.reported.hash if o.reported else None, caused_by=_hashes(o.ref))
        for o in facts.orders]


def flags(facts: ProjectFacts, calendar: WorkingCalendar | None = None) -> tuple[Reason, ...]:
    """What was recorded but is out of order (docs/design.md §2 principle 3: record, and flag).

    Late or out-of-window reports (Arts. 6, 13, 14, 19, 20, 26, 30) and Art. 8 categories
    without special circumstances. Independent of the evaluation date: a late report stays late.
    """
    calendar = calendar or default_calendar()
    found: list[Reason] = []
    if facts.art8_categories and not facts.special_circumstances and facts.application:
        found.append(Reason("art8_review", "Art. 8",
                            "falls in an Art. 8 category (不再单独建设) without special"
                            " circumstances: for review", facts.application.recorded_on,
                            _hashes(facts.application)))
    # "met late" does not depend on the evaluation date; any date after every report will do,
    # and a near one keeps Art. 14 from listing thousands of future years.
    after_everything = date(max((r.year for r in facts.progress), default=2000) + 1, 12, 31)
    for obligation in obligations(facts, after_everything, calendar):
        if obligation.status == "met_late":
            found.append(Reason(f"{obligation.rule}_late", obligation.article,
                                f"late or out of window: {obligation.detail}",
                                obligation.due, obligation.caused_by
                                + ((obligation.met_by,) if obligation.met_by else ())))
    return tuple(found)


# --- unit standing (docs/design.md §4.4, Art. 22)
# ---------------------------------------------------


def unit_standing(unit: str, projects: Iterable[ProjectFacts]) -> tuple[Reason, ...]:
    """Why ``unit`` may not build new, altered or expanded systems (empty: in good standing)."""
    reasons: list[Reason] = []
    for facts in projects:
        for finding in facts.active_findings():
            article = "Art. 22(1)" if finding.kind == "sharing" else "Art. 22(2)"
            what = ("data not shared as required" if finding.kind == "sharing"
                    else "security or cryptography requirements not met")
            reasons.append(Reason(f"{finding.kind}_non_compliance", article,
                                  f"{what} on project {facts.project_id} ({facts.title}):"
                                  f" unit {unit} may not build new, altered or expanded systems",
                                  finding.ref.recorded_on, (finding.ref.hash,)))
    return tuple(sorted(reasons, key=lambda r: (r.since or "", r.caused_by)))


# --- guards -----------------------------------------------------------------------------------


def unit_of_opener(facts: ProjectFacts, registry: KeyRegistry) -> str | None:
    """The construction unit (项目建设单位) of the actor that opened the project."""
    opener = registry.actors.get(facts.opened_by)
    return opener.unit if opener else None


def check_unit_scope(facts: ProjectFacts, filing: Filing, key: KeyRecord,
                     registry: KeyRegistry) -> None:
    """A unit files only for its own projects (docs/design.md §3, last line)."""
    if key.role is Role.UNIT and facts.opened_by and unit_of_opener(facts, registry) != key.unit:
        raise AuthorisationError(filing.actor,
                                 f"file for project {facts.project_id} of another unit")


def check_application(payload: Mapping[str, Any], unit: str | None,
                      standing: tuple[Reason, ...]) -> None:
    """Art. 22: a barred unit may not apply for a new, expansion or upgrade project."""
    if payload.get("kind") in BARRED_KINDS and standing:
        first = standing[0]
        raise RuleViolationError(
            "unit_barred", first.article,
            f"unit {unit} may not apply for a {payload.get('kind')} project: {first.detail}",
            tuple(h for r in standing for h in r.caused_by))


def check_filing(facts: ProjectFacts, filing: Filing, today: date,
                 calendar: WorkingCalendar | None = None) -> None:
    """Every write-side rule for a filing on an existing project (Arts. 9, 15, 16, 17, 19,
    22, 26, 30)."""
    kind, payload = filing.type, filing.payload
    calendar = calendar or default_calendar()
    if facts.terminated is not None and kind not in SUPERVISION_EVENTS:
        raise RuleViolationError("project_terminated", "Art. 30",
                                 f"project {facts.project_id} is terminated; {kind} cannot be"
                                 " filed", _hashes(facts.terminated))
    check = _CHECKS.get(kind)
    if check is not None:
        check(facts, payload, today, calendar)


_Check = Callable[[ProjectFacts, Mapping[str, Any], date, WorkingCalendar], None]
"""A write-side rule for one event type: returns None or raises RuleViolationError."""


def _require_approval(facts: ProjectFacts, what: str, article: str = "Art. 9") -> None:
    if not facts.approved:
        cause = facts.opinion or facts.application
        raise RuleViolationError(
            "approval_required", article,
            f"{what} requires an approving review opinion (审核意见) first", _hashes(cause))


def _check_contract(facts: ProjectFacts, payload: Mapping[str, Any], today: date,
        calendar: WorkingCalendar) -> None:
    _require_approval(facts, "a contract filing")


def _check_arranged(facts: ProjectFacts, payload: Mapping[str, Any], today: date,
        calendar: WorkingCalendar) -> None:
    _require_approval(facts, "arranging funds", "Art. 9")


def _check_disbursed(facts: ProjectFacts, payload: Mapping[str, Any], today: date,
                     calendar: WorkingCalendar) -> None:
    kind, amount = payload["kind"], payload["amount_fen"]
    verdict = eligibility(facts, kind, today, calendar)
    blocking = [r for r in verdict.reasons if r.rule != "no_headroom"]
    if blocking:
        raise blocking[0].refuse()
    if amount > verdict.headroom_fen:
        raise RuleViolationError(
            "exceeds_arranged_or_approved", "Art. 15",
            f"disbursing {amount} fen exceeds what remains within the arranged and approved"
            f" {kind} amounts ({verdict.headroom_fen} fen; 超支不补)", _hashes(facts.opinion))


def _refer(facts: ProjectFacts, seq: int, what: str, article: str) -> RuleViolationError:
    return RuleViolationError("unknown_reference", article,
                              f"seq {seq} of project {facts.project_id} is not {what}")


def _check_change_decided(facts: ProjectFacts, payload: Mapping[str, Any], today: date,
        calendar: WorkingCalendar) -> None:
    request = facts.change(payload["request_seq"])
    if request is None or request.decision is not None:
        raise _refer(facts, payload["request_seq"], "an undecided change request", "Art. 16")


def _check_rectification(facts: ProjectFacts, payload: Mapping[str, Any], today: date,
        calendar: WorkingCalendar) -> None:
    order = facts.order(payload["order_seq"])
    if order is None or order.outcome is not None:
        raise _refer(facts, payload["order_seq"], "an open rectification order", "Art. 30")


def _check_resumed(facts: ProjectFacts, payload: Mapping[str, Any], today: date,
        calendar: WorkingCalendar) -> None:
    if facts.construction_suspended is None:
        raise RuleViolationError("not_suspended", "Art. 17",
                                 "construction is not suspended, so it cannot resume")


def _check_reinstated(facts: ProjectFacts, payload: Mapping[str, Any], today: date,
        calendar: WorkingCalendar) -> None:
    scope = payload["scope"]
    if not any(scope in (s.scope, "all") for s in facts.funding_suspensions):
        raise RuleViolationError("not_suspended", "Art. 30",
                                 f"{scope} funding is not suspended, so it cannot be reinstated")


def _check_extension_decided(facts: ProjectFacts, payload: Mapping[str, Any],
                             today: date, calendar: WorkingCalendar) -> None:
    if facts.extension_requested is None or (
        facts.extension_requested.seq != payload["request_seq"]
    ):
        raise _refer(facts, payload["request_seq"], "an acceptance extension request",
                     "Art. 19")


def _check_acceptance(facts: ProjectFacts, payload: Mapping[str, Any], today: date,
        calendar: WorkingCalendar) -> None:
    if facts.completed is None:
        raise RuleViolationError("not_completed", "Art. 19",
                                 "an acceptance report needs the construction completed first"
                                 " (ConstructionCompleted)")


def _check_restored(facts: ProjectFacts, payload: Mapping[str, Any], today: date,
        calendar: WorkingCalendar) -> None:
    seq = payload["finding_seq"]
    finding = facts.finding(seq)
    order = facts.order(seq)
    if not ((finding and finding.lifted is None) or (order and order.outcome == "failed")):
        raise _refer(facts, seq, "an active non-compliance finding or failed rectification",
                     "Art. 22")


_CHECKS: dict[str, _Check] = {
    "ContractFiled": _check_contract,
    "FundsDisbursed": _check_disbursed,
    "FundingArranged": _check_arranged,
    "ChangeDecided": _check_change_decided,
    "RectificationReported": _check_rectification,
    "RectificationConcluded": _check_rectification,
    "ConstructionResumed": _check_resumed,
    "FundingReinstated": _check_reinstated,
    "AcceptanceExtensionDecided": _check_extension_decided,
    "AcceptanceReportFiled": _check_acceptance,
    "ComplianceRestored": _check_restored,
}
