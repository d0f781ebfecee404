"""The Measures as rules: each rule lives here once and serves both sides.

* Guards (``check_*``) refuse what an actor may not do now (docs/design.md §2 principle 3) by
  raising :class:`RuleViolationError` with the rule id, the article, the article's own words
  and the entries that cause it.
* Evaluations (:func:`eligibility`, :func:`obligations`, :func:`flags`, :func:`unit_standing`)
  read the same :class:`~ledger.measures.facts.ProjectFacts` at an evaluation date D and explain
  every "no" with ``{rule, article, quote_zh, since, caused_by}``; the arrangement and
  disbursement guards *are* the eligibility evaluation, on today and on the filing's date.

Every rule is decided on the dates the facts state (``effective``, ``signed_on``,
``completed_on``, ``accepted_on``...) as well as on what has been recorded, so no rule depends
on the order the filings arrive in; when the event that would start a rule's clock is missing,
a later fact that implies it starts the clock instead (docs/design.md §4.6). The article, quote
and documentation of each rule are in :mod:`ledger.measures.articles`.

Dates are ISO strings in the facts; the working-day calendar decides statutory deadlines, and a
deadline beyond the calendar's known years is ``pending_calendar`` naming the missing year —
unless the obligation was met on or before the earliest day the deadline can fall on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from ledger.errors import AuthorisationError, RuleViolationError
from ledger.log.canonical import JSONValue
from ledger.log.entries import Filing
from ledger.measures.articles import rule_spec
from ledger.measures.calendar import CalendarYearMissingError, WorkingCalendar, default_calendar
from ledger.measures.facts import Contract, ProjectFacts, Ref
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
# Arts. 22 and 26 say 不安排 / 不再安排 (no O&M funds *arranged*); Art. 19 says 不得拨付 (not
# *paid*) and Art. 30 suspends payment: these are the reasons that refuse an O&M arrangement.
NOT_ARRANGED = frozenset({"project_terminated", "approval_required", "sharing_non_compliance",
                          "security_non_compliance", "security_assessment_failed",
                          "catalogue_not_completed"})


@dataclass(frozen=True)
class Reason:
    """Why something is not allowed or not in order: the rule, its article and the article's
    own words, since when, by what."""

    rule: str
    article: str
    detail: str
    since: str | None = None
    caused_by: tuple[str, ...] = ()
    quote_zh: str = ""

    def to_json(self) -> dict[str, JSONValue]:
        """Plain JSON."""
        return {"rule": self.rule, "article": self.article, "detail": self.detail,
                "quote_zh": self.quote_zh, "since": self.since,
                "caused_by": list(self.caused_by)}

    def refuse(self) -> RuleViolationError:
        """The guard error for this reason."""
        return RuleViolationError(self.rule, self.article, self.detail, self.caused_by,
                                  self.quote_zh)


def reason(rule: str, detail: str, since: str | None = None, caused_by: tuple[str, ...] = (),
           article: str | None = None) -> Reason:
    """A :class:`Reason` under ``rule``, citing its article and words from the rules table
    (``<rule>_late`` cites its deadline's)."""
    spec = rule_spec(rule)
    return Reason(rule, article or spec.article, detail, since, caused_by, spec.quote_zh)


def refusal(rule: str, detail: str, caused_by: tuple[str, ...] = (),
            article: str | None = None) -> RuleViolationError:
    """The guard error under ``rule``, citing its article and words from the rules table."""
    return reason(rule, detail, None, caused_by, article).refuse()


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
    Judged on the dates the facts state: an opinion that takes effect after ``on`` does not
    approve on ``on``; an acceptance dated after ``on`` has not yet happened on ``on``.
    """
    reasons: list[Reason] = []
    if facts.terminated is not None:
        reasons.append(reason("project_terminated", "the project is terminated (终止)",
                              facts.terminated.recorded_on, _hashes(facts.terminated)))
    reasons.extend(_approval_reasons(facts, on))
    suspension = facts.suspended(kind)
    if suspension is not None:
        reasons.append(reason("funding_suspended", f"{kind} funds are suspended (暂缓拨付)",
                              suspension.ref.recorded_on, _hashes(suspension.ref)))
    reasons.extend(_acceptance_reasons(facts, kind, on))
    if kind == CONSTRUCTION:
        reasons.extend(_early_procurement(facts))
    else:
        reasons.extend(_om_reasons(facts, on, calendar or default_calendar()))
    headroom = remaining_fen(facts, kind)
    if headroom <= 0 and facts.approved:
        reasons.append(reason(
            "no_headroom",
            f"nothing left within the arranged and approved {kind} amounts (超支不补)",
            None, _hashes(facts.opinion)))
    return Eligibility(kind, not reasons, tuple(reasons), max(headroom, 0))


def _approval_reasons(facts: ProjectFacts, on: date) -> list[Reason]:
    approved_on = facts.approved_on
    if approved_on is None:
        cause = facts.opinion or facts.application
        return [reason("approval_required",
                       "no approving review opinion (审核意见) — the premise of any funding",
                       cause.recorded_on if cause else None, _hashes(cause))]
    if _d(approved_on) > on:
        return [reason("approval_required",
                       f"the approving review opinion takes effect on {approved_on}, after"
                       f" {on.isoformat()} — the premise of any funding",
                       approved_on, _hashes(facts.approved_since))]
    return []


def _acceptance_reasons(facts: ProjectFacts, kind: str, on: date) -> list[Reason]:
    """Art. 19: 对未经验收的项目，不得拨付后续建设资金和运行维护经费."""
    if facts.acceptance is not None and _d(facts.acceptance.accepted_on) <= on:
        return []
    completed_by = facts.completed_by
    if completed_by is not None and _d(completed_by) <= on:
        cause = facts.completed or facts.preliminary
        how = "" if facts.completed is not None else (
            f" (completion not filed; the preliminary acceptance on {completed_by} shows it)")
        return [reason(
            "acceptance_required",
            f"construction is complete{how} but not accepted: no further construction funds"
            " and no O&M funds until the acceptance report is filed (未经验收不得拨付)",
            cause.recorded_on if cause else None, _hashes(cause))]
    if kind == OPERATION_MAINTENANCE and facts.kind in BARRED_KINDS:
        return [reason(
            "acceptance_required",
            f"a construction project ({facts.kind}) gets no O&M funds before its acceptance"
            " report (未经验收的项目不得拨付运行维护经费), whether or not completion was filed",
            None, _hashes(facts.application))]
    return []


def _signed_early(contract: Contract) -> bool:
    return contract.approved_on is not None and contract.signed_on < contract.approved_on


def _early_procurement(facts: ProjectFacts) -> list[Reason]:
    """Art. 9: no construction funds on a procurement that preceded its premise, until the
    Office has dealt with it (ComplianceRestored citing the contract)."""
    return [reason(
        "procurement_before_opinion",
        f"contract {c.contract_no} was signed on {c.signed_on}, before the approving review"
        f" opinion took effect on {c.approved_on}: no construction funds until the Office"
        f" restores compliance citing seq {c.ref.seq} (ComplianceRestored)",
        c.ref.recorded_on, _hashes(c.ref, facts.approved_since))
        for c in facts.contracts if _signed_early(c) and c.cleared is None]


def _om_reasons(facts: ProjectFacts, on: date, calendar: WorkingCalendar) -> list[Reason]:
    reasons: list[Reason] = []
    for finding in facts.active_findings("sharing"):
        reasons.append(reason("sharing_non_compliance",
                              "data resources not shared as required: no O&M funds",
                              finding.ref.recorded_on, _hashes(finding.ref)))
    for finding in facts.active_findings("security"):
        reasons.append(reason("security_non_compliance",
                              "cryptography/security requirements not met: no O&M funds",
                              finding.ref.recorded_on, _hashes(finding.ref)))
    if facts.security_assessment is not None and facts.security_assessment_passed is False:
        reasons.append(reason(
            "security_assessment_failed",
            "the latest security assessment (Arts. 27, 28) concludes non_compliant: no O&M"
            " funds until a later assessment passes",
            facts.security_assessment.recorded_on, _hashes(facts.security_assessment)))
    catalogue = catalogue_obligation(facts, on, calendar)
    if catalogue is not None and catalogue.status == "overdue":
        reasons.append(reason(
            "catalogue_not_completed",
            "catalogue and data collection not completed within 10 working days of preliminary"
            " acceptance (目录编制及数据归集): no O&M funds", catalogue.due, catalogue.caused_by))
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


def _met_before_any_due(rule: str, article: str, detail: str, *,
                        error: CalendarYearMissingError, met_by: str,
                        caused_by: tuple[str, ...]) -> Obligation:
    """Met on or before the earliest day the deadline can fall on: a holiday only ever moves a
    deadline later, so "met" needs no calendar (the due date itself does)."""
    return Obligation(rule, article, f"{detail} (met before the earliest possible due date; the"
                      f" {error.year} holiday calendar, not loaded, would fix the date itself)",
                      None, "met", met_by, error.year, caused_by)


def _working_deadline(rule: str, article: str, detail: str, *, calendar: WorkingCalendar,
                      start: date, days: int, done: Ref | None, on: date,
                      caused_by: tuple[str, ...]) -> Obligation:
    """An obligation due ``days`` working days after ``start``, met by ``done``'s recording."""
    try:
        due = calendar.add_working_days(start, days)
    except CalendarYearMissingError as exc:
        # The n-th working day after a day is at least n calendar days after it.
        if done is not None and _d(done.recorded_on) <= start + timedelta(days=days):
            return _met_before_any_due(rule, article, detail, error=exc, met_by=done.hash,
                                       caused_by=caused_by)
        return _pending(rule, article, detail, exc, caused_by)
    return Obligation(rule, article, detail, due.isoformat(),
                      _deadline_status(due, done.recorded_on if done else None, on),
                      done.hash if done else None, caused_by=caused_by)


def _catalogue_start(facts: ProjectFacts) -> tuple[str, Ref, str] | None:
    """Art. 26's period starts at the preliminary acceptance; without one on file, at the final
    acceptance (a preliminary acceptance cannot come later): the earlier of those filed."""
    starts: list[tuple[str, Ref, str]] = []
    if facts.preliminary is not None and facts.preliminary_on is not None:
        starts.append((facts.preliminary_on, facts.preliminary, ""))
    if facts.acceptance is not None:
        starts.append((facts.acceptance.accepted_on, facts.acceptance.ref,
                       f"; no preliminary acceptance on file, so counted from the acceptance on"
                       f" {facts.acceptance.accepted_on}"))
    return min(starts, key=lambda start: start[0]) if starts else None


def catalogue_obligation(facts: ProjectFacts, on: date,
                         calendar: WorkingCalendar | None = None) -> Obligation | None:
    """Art. 26: catalogue and data collection within 10 working days of preliminary acceptance
    (or of the acceptance, when no preliminary acceptance was filed)."""
    start = _catalogue_start(facts)
    if start is None:
        return None
    started_on, started_by, how = start
    detail = f"catalogue compiled and data collected on the zone platform (Art. 26{how})"
    done = facts.catalogue if facts.catalogue and facts.catalogue.data_collected else None
    return _working_deadline("catalogue", "Art. 26", detail,
                             calendar=calendar or default_calendar(), start=_d(started_on),
                             days=10, done=done.ref if done else None, on=on,
                             caused_by=_hashes(started_by))


def obligations(facts: ProjectFacts, on: date,
                calendar: WorkingCalendar | None = None) -> tuple[Obligation, ...]:
    """Every deadline of the project with its status on ``on`` (docs/design.md §4.3)."""
    calendar = calendar or default_calendar()
    found: list[Obligation] = []
    if facts.application is not None:
        found.append(_application_window(facts))
    found.extend(_contract_obligations(facts, calendar, on))
    found.extend(_annual_reports(facts, on))
    for obligation in (_acceptance_obligation(facts, calendar, on),
                       catalogue_obligation(facts, on, calendar),
                       _self_evaluation(facts, calendar, on)):
        if obligation is not None:
            found.append(obligation)
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
    return [_working_deadline(
        "contract_filing", "Art. 13",
        f"contract {c.contract_no} filed within 5 working days of signing", calendar=calendar,
        start=_d(c.signed_on), days=5, done=c.ref, on=on, caused_by=_hashes(c.ref))
        for c in facts.contracts]


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
    """Art. 19: 3 months after completion (or an approved extension's deadline). Without a
    completion on file, 3 months after the preliminary acceptance that shows it."""
    completed = facts.completed_by
    if completed is None:
        return None
    if facts.extension_deadline is not None:
        return _d(facts.extension_deadline)
    return calendar.month_period_end(_d(completed), 3)


def _acceptance_obligation(facts: ProjectFacts, calendar: WorkingCalendar,
                           on: date) -> Obligation | None:
    completed = facts.completed_by
    cause = facts.completed or facts.preliminary
    if completed is None or cause is None:
        return None
    detail = "completion acceptance within 3 months of completing construction"
    if facts.completed is None:
        detail += f" (completion not filed: counted from the preliminary acceptance on {completed})"
    met_by = facts.acceptance.ref.hash if facts.acceptance else None
    met_on = facts.acceptance.accepted_on if facts.acceptance else None
    try:
        due = acceptance_due(facts, calendar)
    except CalendarYearMissingError as exc:
        if met_by is not None and met_on is not None and _d(met_on) <= (
                calendar.add_months_raw(_d(completed), 3)):
            return _met_before_any_due("acceptance", "Art. 19", detail, error=exc,
                                       met_by=met_by, caused_by=_hashes(cause))
        return _pending("acceptance", "Art. 19", detail, exc, _hashes(cause))
    assert due is not None
    return Obligation("acceptance", "Art. 19", detail, due.isoformat(),
                      _deadline_status(due, met_on, on), met_by, caused_by=_hashes(cause))


def _self_evaluations(facts: ProjectFacts) -> tuple[Ref, ...]:
    if facts.self_evaluations:
        return facts.self_evaluations
    return (facts.self_evaluation,) if facts.self_evaluation else ()


def _self_evaluation(facts: ProjectFacts, calendar: WorkingCalendar,
                     on: date) -> Obligation | None:
    # Art. 20: self-evaluation 12 to 24 months after acceptance and going into use. One filed
    # before the window does not meet it (flags() flags it); one filed after is met late.
    if facts.acceptance is None:
        return None
    accepted = _d(facts.acceptance.accepted_on)
    opens = calendar.add_months_raw(accepted, 12)
    raw_end = calendar.add_months_raw(accepted, 24)
    detail = f"self-evaluation report 12–24 months after acceptance (window opens {opens})"
    caused_by = _hashes(facts.acceptance.ref)
    submitted = [r for r in _self_evaluations(facts) if _d(r.recorded_on) >= opens]
    within = next((r for r in submitted if _d(r.recorded_on) <= raw_end), None)
    if within is not None:
        # Within the window's unmoved end: met, whatever a holiday does to the end (the end
        # only ever moves later), so no calendar year is needed to say so.
        return Obligation("self_evaluation", "Art. 20", detail, raw_end.isoformat(), "met",
                          within.hash, caused_by=caused_by)
    try:
        due = calendar.month_period_end(accepted, 24)
    except CalendarYearMissingError as exc:
        return _pending("self_evaluation", "Art. 20", detail, exc, caused_by)
    first = submitted[0] if submitted else None
    return Obligation("self_evaluation", "Art. 20", detail, due.isoformat(),
                      _deadline_status(due, first.recorded_on if first else None, on),
                      first.hash if first else None, caused_by=caused_by)


def _rectifications(facts: ProjectFacts, on: date) -> list[Obligation]:
    # Art. 30: rectify within the period set (限期整改).
    return [Obligation(
        "rectification", "Art. 30", f"rectification report for order at seq {o.seq}",
        o.deadline, _deadline_status(_d(o.deadline),
                                     o.reported.recorded_on if o.reported else None, on),
        o.reported.hash if o.reported else None, caused_by=_hashes(o.ref))
        for o in facts.orders]


# --- flags (docs/design.md §4.1) ---------------------------------------------------------------


def flags(facts: ProjectFacts, calendar: WorkingCalendar | None = None) -> tuple[Reason, ...]:
    """What was recorded but is out of order (docs/design.md §2 principle 3: record, and flag).

    Late or out-of-window reports (Arts. 6, 13, 14, 19, 20, 26, 30), Art. 8 categories without
    special circumstances, and what the dates of the facts show happened out of order: a
    contract signed before the approving opinion (Art. 9), a declaration without consent
    (Art. 10), contracts beyond the approved budget (Art. 15), an extension requested after the
    deadline (Art. 19), a self-evaluation before its window (Art. 20). Independent of the
    evaluation date: a late report stays late.
    """
    calendar = calendar or default_calendar()
    found: list[Reason] = []
    if facts.art8_categories and not facts.special_circumstances and facts.application:
        found.append(reason("art8_review",
                            "falls in an Art. 8 category (不再单独建设) without special"
                            " circumstances: for review", facts.application.recorded_on,
                            _hashes(facts.application)))
    found.extend(_dated_flags(facts, calendar))
    # "met late" does not depend on the evaluation date; any date after every report will do,
    # and a near one keeps Art. 14 from listing thousands of future years.
    after_everything = date(max((r.year for r in facts.progress), default=2000) + 1, 12, 31)
    for obligation in obligations(facts, after_everything, calendar):
        if obligation.status == "met_late":
            found.append(reason(f"{obligation.rule}_late",
                                f"late or out of window: {obligation.detail}",
                                obligation.due, obligation.caused_by
                                + ((obligation.met_by,) if obligation.met_by else ()),
                                obligation.article))
    return tuple(found)


def _dated_flags(facts: ProjectFacts, calendar: WorkingCalendar) -> list[Reason]:
    found = _declaration_flags(facts)
    budgeted = 0
    for c in facts.contracts:
        if _signed_early(c):
            after = (f"; the Office restored compliance at seq {c.cleared.seq}"
                     if c.cleared else "")
            found.append(reason(
                "procurement_before_opinion",
                f"contract {c.contract_no} was signed on {c.signed_on}, before the approving"
                f" review opinion took effect on {c.approved_on}"
                f" (filed {c.ref.recorded_on}){after}",
                c.ref.recorded_on, _hashes(c.ref, facts.approved_since)))
        budgeted += c.amount_fen
        if c.budget_fen is not None and budgeted > c.budget_fen:
            found.append(reason(
                "contract_over_budget",
                f"with contract {c.contract_no} the contracts total {budgeted} fen, beyond the"
                f" approved budget of {c.budget_fen} fen in force when it was filed (超支不补)",
                c.ref.recorded_on, _hashes(c.ref)))
    found.extend(_extension_flags(facts, calendar))
    found.extend(_early_self_evaluations(facts, calendar))
    return found


def _declaration_flags(facts: ProjectFacts) -> list[Reason]:
    found = []
    for approval in facts.higher_level_approvals:
        consented = any(c.level == approval.level and c.ref.effective <= approval.ref.effective
                        for c in facts.higher_level_consents)
        if not consented:
            found.append(reason(
                "declaration_without_consent",
                f"the {approval.level} approval (effective {approval.ref.effective}) has no"
                f" consent of the Office to declare at that level taking effect on or before"
                f" it (HigherLevelDeclarationConsented)",
                approval.ref.recorded_on, _hashes(approval.ref)))
    return found


def _extension_flags(facts: ProjectFacts, calendar: WorkingCalendar) -> list[Reason]:
    # Art. 19: 未按期组织验收的，应提出延期验收申请 — the request comes before the deadline passes.
    if facts.completed_on is None:
        return []
    found = []
    for request in facts.extension_requests:
        asked = _d(request.ref.recorded_on)
        if request.deadline_then is not None:
            deadline = _d(request.deadline_then)
        elif asked <= calendar.add_months_raw(_d(facts.completed_on), 3):
            continue  # before the earliest day the 3 months can end
        else:
            try:
                deadline = calendar.month_period_end(_d(facts.completed_on), 3)
            except CalendarYearMissingError:
                continue  # cannot say yet; the acceptance obligation is pending_calendar
        if asked > deadline:
            found.append(reason(
                "extension_requested_late",
                f"acceptance extension requested on {request.ref.recorded_on}, after the"
                f" deadline of {deadline.isoformat()} it would extend",
                request.ref.recorded_on, _hashes(request.ref, facts.completed)))
    return found


def _early_self_evaluations(facts: ProjectFacts, calendar: WorkingCalendar) -> list[Reason]:
    # Art. 20: a self-evaluation filed before its window (even before acceptance) is out of it.
    accepted = facts.acceptance
    opens = calendar.add_months_raw(_d(accepted.accepted_on), 12) if accepted else None
    found = []
    for submitted in _self_evaluations(facts):
        if opens is not None and _d(submitted.recorded_on) >= opens:
            continue
        when = (f"before its window opens on {opens}" if opens is not None
                else "before the project was accepted")
        found.append(reason(
            "self_evaluation_late",
            f"out of window: self-evaluation filed on {submitted.recorded_on}, {when}"
            " (12–24 months after acceptance)", submitted.recorded_on,
            _hashes(submitted, accepted.ref if accepted else None), "Art. 20"))
    return found


# --- unit standing (docs/design.md §4.4, Art. 22)
# ---------------------------------------------------


def unit_standing(unit: str, projects: Iterable[ProjectFacts]) -> tuple[Reason, ...]:
    """Why ``unit`` may not build new, altered or expanded systems (empty: in good standing)."""
    reasons: list[Reason] = []
    for facts in projects:
        for finding in facts.active_findings():
            rule = f"{finding.kind}_non_compliance"
            what = ("data not shared as required" if finding.kind == "sharing"
                    else "security or cryptography requirements not met")
            reasons.append(reason(rule,
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
        raise refusal(
            "unit_barred",
            f"unit {unit} may not apply for a {payload.get('kind')} project: {first.detail}",
            tuple(h for r in standing for h in r.caused_by), first.article)


def check_filing(facts: ProjectFacts, filing: Filing, today: date,
                 calendar: WorkingCalendar | None = None) -> None:
    """Every write-side rule for a filing on an existing project (Arts. 9, 15, 16, 17, 19,
    22, 26, 30), on what has been recorded and on the dates the filing and the facts state."""
    calendar = calendar or default_calendar()
    if facts.terminated is not None and filing.type not in SUPERVISION_EVENTS:
        raise refusal("project_terminated",
                      f"project {facts.project_id} is terminated; {filing.type} cannot be"
                      " filed", _hashes(facts.terminated))
    check = _CHECKS.get(filing.type)
    if check is not None:
        check(facts, filing, today, calendar)


def check_attestation(facts: ProjectFacts, filing: Filing, *, recorded: Iterable[str],
                      in_batch: bool, opened_here: bool, last: bool) -> None:
    """The history attestation (历史记录确认) rules on one filing of a group commit (Arts. 6,
    13, 14, 19: the Office receives these filings, so only it attests the day it did).

    ``facts`` are the stream's facts before ``filing`` (with the batch's earlier filings when
    ``in_batch``), ``recorded`` the nonces already on the stream or earlier in the batch,
    ``opened_here`` whether the project's application is in this batch and ``last`` whether
    ``filing`` is the stream's last filing in it. An attestation names only entries not yet
    recorded, save the opening application filed just before it in the same batch; its entries
    must all follow it in the same batch; and a nonce an attestation named is accepted only
    there. (That no attested day is after today is the dated-facts rule.)
    """
    nonce = str(filing.nonce)
    pending = {a.nonce for a in facts.attesting} if in_batch else set()
    if nonce in facts.attested_nonces and nonce not in pending:
        raise refusal("history_attestation",
                      f"nonce {nonce} was named by an earlier history attestation: an entry it"
                      " names may be filed only in that attestation's group commit")
    if filing.type == "HistoryAttested":
        named = [str(item["nonce"]).lower() for item in filing.payload["entries"]]
        done = set(recorded)
        opener_ok = opened_here and facts.entries == 1
        stale = [n for n in named if n in done and not (
            opener_ok and n == facts.application_nonce)]
        if stale:
            raise refusal("history_attestation",
                          f"entries already on the ledger cannot be attested: {', '.join(stale)}")
        if last and [n for n in named if n not in done]:
            raise refusal("history_attestation",
                          "the attested entries must follow the attestation in its group commit")
        return
    if last and pending - {nonce}:
        raise refusal("history_attestation",
                      "some entries the attestation names do not follow it in its group commit")


_Check = Callable[[ProjectFacts, Filing, date, WorkingCalendar], None]
"""A write-side rule for one event type: returns None or raises RuleViolationError."""


def _require_approval(facts: ProjectFacts, what: str) -> None:
    if not facts.approved:
        cause = facts.opinion or facts.application
        raise refusal("approval_required",
                      f"{what} requires an approving review opinion (审核意见) first",
                      _hashes(cause))


def _check_contract(facts: ProjectFacts, filing: Filing, today: date,
                    calendar: WorkingCalendar) -> None:
    # Signed before the opinion took effect but filed after it: recorded, and flagged by date
    # (procurement_before_opinion); filed while no approving opinion stands: refused.
    _require_approval(facts, "a contract filing")


def _funding_days(filing: Filing, today: date) -> tuple[date, ...]:
    """The days a funding act is judged on: today, and the day it states it took effect."""
    return (today,) if filing.effective >= today else (today, filing.effective)


def _check_arranged(facts: ProjectFacts, filing: Filing, today: date,
                    calendar: WorkingCalendar) -> None:
    _require_approval(facts, "arranging funds")
    kind = filing.payload["kind"]
    for day in _funding_days(filing, today):
        verdict = eligibility(facts, kind, day, calendar)
        blocking = [r for r in verdict.reasons if r.rule == "approval_required" or (
            kind == OPERATION_MAINTENANCE and r.rule in NOT_ARRANGED)]
        if blocking:
            raise _dated(blocking[0], filing, day, today).refuse()


def _check_disbursed(facts: ProjectFacts, filing: Filing, today: date,
                     calendar: WorkingCalendar) -> None:
    kind, amount = filing.payload["kind"], filing.payload["amount_fen"]
    verdict = eligibility(facts, kind, today, calendar)
    for day in _funding_days(filing, today):
        found = verdict if day == today else eligibility(facts, kind, day, calendar)
        blocking = [r for r in found.reasons if r.rule != "no_headroom"]
        if blocking:
            raise _dated(blocking[0], filing, day, today).refuse()
    if amount > verdict.headroom_fen:
        raise refusal(
            "exceeds_arranged_or_approved",
            f"disbursing {amount} fen exceeds what remains within the arranged and approved"
            f" {kind} amounts ({verdict.headroom_fen} fen; 超支不补)", _hashes(facts.opinion))


def _dated(found: Reason, filing: Filing, day: date, today: date) -> Reason:
    """A reason found on the filing's own date says so."""
    if day == today:
        return found
    return Reason(found.rule, found.article,
                  f"{filing.type} is dated {day.isoformat()}, when: {found.detail}",
                  found.since, found.caused_by, found.quote_zh)


def _refer(facts: ProjectFacts, seq: int, what: str, article: str) -> RuleViolationError:
    return refusal("unknown_reference", f"seq {seq} of project {facts.project_id} is not {what}",
                   article=article)


def _check_change_decided(facts: ProjectFacts, filing: Filing, today: date,
                          calendar: WorkingCalendar) -> None:
    seq = filing.payload["request_seq"]
    request = facts.change(seq)
    if request is None or request.decision is not None:
        raise _refer(facts, seq, "an undecided change request", "Art. 16")


def _check_rectification(facts: ProjectFacts, filing: Filing, today: date,
                         calendar: WorkingCalendar) -> None:
    seq = filing.payload["order_seq"]
    order = facts.order(seq)
    if order is None or order.outcome is not None:
        raise _refer(facts, seq, "an open rectification order", "Art. 30")


def _check_resumed(facts: ProjectFacts, filing: Filing, today: date,
                   calendar: WorkingCalendar) -> None:
    if facts.construction_suspended is None:
        raise refusal("not_suspended", "construction is not suspended, so it cannot resume",
                      article="Art. 17")


def _check_reinstated(facts: ProjectFacts, filing: Filing, today: date,
                      calendar: WorkingCalendar) -> None:
    scope = filing.payload["scope"]
    if not any(scope in (s.scope, "all") for s in facts.funding_suspensions):
        raise refusal("not_suspended",
                      f"{scope} funding is not suspended, so it cannot be reinstated",
                      article="Art. 30")


def _check_extension_decided(facts: ProjectFacts, filing: Filing, today: date,
                             calendar: WorkingCalendar) -> None:
    seq = filing.payload["request_seq"]
    if facts.extension_requested is None or facts.extension_requested.seq != seq:
        raise _refer(facts, seq, "an acceptance extension request", "Art. 19")


def _check_acceptance(facts: ProjectFacts, filing: Filing, today: date,
                      calendar: WorkingCalendar) -> None:
    if facts.completed is None or facts.completed_on is None:
        raise refusal("not_completed",
                      "an acceptance report needs the construction completed first"
                      " (ConstructionCompleted)")
    accepted_on = str(filing.payload["accepted_on"])
    if accepted_on < facts.completed_on:
        raise refusal("not_completed",
                      f"the acceptance is dated {accepted_on}, before construction was"
                      f" completed on {facts.completed_on}", _hashes(facts.completed))


def _check_restored(facts: ProjectFacts, filing: Filing, today: date,
                    calendar: WorkingCalendar) -> None:
    seq = filing.payload["finding_seq"]
    finding = facts.finding(seq)
    order = facts.order(seq)
    contract = next((c for c in facts.contracts if c.ref.seq == seq), None)
    if not ((finding and finding.lifted is None) or (order and order.outcome == "failed") or (
            contract and _signed_early(contract) and contract.cleared is None)):
        raise _refer(facts, seq, "an active non-compliance finding, a failed rectification or a"
                     " contract signed before the approving opinion", "Art. 22")


def _check_exemption(facts: ProjectFacts, filing: Filing, today: date,
                     calendar: WorkingCalendar) -> None:
    seq = filing.payload.get("finding_seq")
    if seq is None:
        return  # granted in advance: covers findings of data not shared (not_shared) only
    finding = facts.finding(seq)
    if finding is None or finding.kind != "sharing" or finding.lifted is not None:
        raise _refer(facts, seq, "an active sharing non-compliance finding", "Art. 22")
    if finding.issue != "not_shared":
        raise refusal(
            "exemption_not_applicable",
            f"the finding at seq {seq} is {finding.issue}, not data that cannot be shared: an"
            " exemption excuses a legal bar to sharing (不能进行信息共享), not duplicate"
            " collection, selective sharing or untimely updates", _hashes(finding.ref))


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
    "SharingExemptionGranted": _check_exemption,
}
