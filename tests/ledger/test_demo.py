"""``ledger demo``: the data set holds every situation it promises, read through the read side.

One load per backend (it is the slow part); every situation is then checked at the evaluation
date 2026-11-25 through ``replay_library`` + ``projections.views`` / ``ledger.measures.rules``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any
from uuid import UUID

import pytest

from ledger.app import Ledger
from ledger.demo import ACTORS, UNITS, DemoResult, load_demo
from ledger.errors import LedgerError
from ledger.evidence.verify import verify_ledger
from ledger.log.entries import Entry
from ledger.measures import rules
from ledger.measures.calendar import default_calendar
from ledger.measures.catalogue import CATALOGUE
from ledger.measures.facts import ProjectFacts
from ledger.settings import Settings
from projections import views
from projections.replay import replay_library, replay_project
from projections.state import LibraryState

ON = date(2026, 11, 25)
END_OF_2024 = "2024-12-31T16:00:00.000000Z"  # 2025-01-01 00:00 China Standard Time


@contextmanager
def _opened(settings: Settings) -> Iterator[Ledger]:
    ledger = Ledger(settings)
    try:
        yield ledger
    finally:
        ledger.close()


class Demo:
    """The loaded demo, read back: facts by project key, and the raw entries."""

    def __init__(self, ledger: Ledger, result: DemoResult) -> None:
        self.ledger = ledger
        self.result = result
        self.state: LibraryState = replay_library(ledger)
        self.calendar = ledger.calendar
        self.log: list[tuple[str, Entry]] = [
            (leaf.recorded_at, Entry.parse(stored.state))
            for leaf, stored in ledger.log.iter_log() if stored is not None]

    def facts(self, key: str) -> ProjectFacts:
        return self.state.projects[str(self.result.projects[key])]

    def entries(self, key: str) -> list[Entry]:
        stream = self.result.projects[key]
        return [entry for _, entry in self.log if entry.filing.stream == stream]

    def entry(self, key: str, event_type: str, nth: int = 0) -> Entry:
        return [e for e in self.entries(key) if e.filing.type == event_type][nth]

    def obligations(self, key: str, rule: str) -> list[rules.Obligation]:
        return [o for o in rules.obligations(self.facts(key), ON, self.calendar)
                if o.rule == rule]

    def flags(self, key: str) -> dict[str, str]:
        return {f.rule: f.article for f in rules.flags(self.facts(key), self.calendar)}

    def reasons(self, key: str, kind: str) -> dict[str, str]:
        verdict = rules.eligibility(self.facts(key), kind, ON, self.calendar)
        return {r.rule: r.article for r in verdict.reasons}


def test_demo_data_set(database_url: str) -> None:
    settings = Settings(database_url=database_url, environment="test")
    result = load_demo(settings)
    with _opened(settings) as ledger:
        demo = Demo(ledger, result)
        _check_shape(demo)
        _check_contracts_and_applications(demo)
        _check_acceptance_and_catalogue(demo)
        _check_sharing_security_and_units(demo)
        _check_supervision(demo)
        _check_budget_change_and_refusals(demo)
        _check_other_filings(demo)
        _check_dates_whatever_the_order(demo)
        _check_as_known_at(demo)
        size = ledger.log.tree_size()
        with pytest.raises(LedgerError) as caught:
            load_demo(settings)
        assert type(caught.value) is LedgerError
        assert "the demo needs an empty database" in str(caught.value)
        assert ledger.log.tree_size() == size


def _check_shape(demo: Demo) -> None:
    ledger, result = demo.ledger, demo.result
    assert verify_ledger(ledger.log, ledger.identity, workers=1).ok
    # Every event type of the catalogue (docs/design.md §3, and the registry's) occurs.
    seen = {entry.filing.type for _, entry in demo.log}
    assert set(CATALOGUE) <= seen, sorted(set(CATALOGUE) - seen)
    # At least 12 projects of at least 5 units, the result naming each.
    assert len(demo.state.projects) == len(result.projects) >= 12
    assert {str(p) for p in result.projects.values()} == set(demo.state.projects)
    units = {demo.state.unit_of(f) for f in demo.state.projects.values()}
    assert len(units) >= 5
    assert units <= set(result.units) == set(UNITS)
    assert {actor for actor, *_ in ACTORS} <= set(ledger.registry().actors)
    # Past times only, 2023-09 to 2026-11, never decreasing along the log.
    times = [recorded_at for recorded_at, _ in demo.log]
    assert times == sorted(times)
    assert times[0] >= "2023-09-01T00:00:00"
    assert times[-1] < "2026-11-25T00:00:00"
    assert (result.started_at, result.finished_at, result.entries) == (
        times[0], times[-1], len(times))
    stages = {f.stage for f in demo.state.projects.values()}
    assert {"filed", "rejected", "in_construction", "suspended", "completed", "accepted",
            "in_operation", "terminated"} <= stages


def _check_contracts_and_applications(demo: Demo) -> None:
    calendar = default_calendar()
    # Art. 13 on time across National Day 2024: signed Fri 27 Sep, due Thu 10 Oct.
    contract = demo.facts("bigdata-cloud").contracts[0]
    assert contract.signed_on == "2024-09-27"
    assert calendar.add_working_days(date(2024, 9, 27), 5) == date(2024, 10, 10)
    assert "2024-10-07" < contract.ref.recorded_on <= "2024-10-10"
    [on_time] = demo.obligations("bigdata-cloud", "contract_filing")
    assert (on_time.due, on_time.status) == ("2024-10-10", "met")
    assert "contract_filing_late" not in demo.flags("bigdata-cloud")
    # Art. 13 late across National Day 2025: signed Fri 26 Sep, due Fri 10 Oct, filed 14 Oct.
    contract = demo.facts("health-platform").contracts[0]
    assert contract.signed_on == "2025-09-26"
    assert calendar.add_working_days(date(2025, 9, 26), 5) == date(2025, 10, 10)
    assert contract.ref.recorded_on == "2025-10-14"
    [late] = demo.obligations("health-platform", "contract_filing")
    assert (late.due, late.status) == ("2025-10-10", "met_late")
    assert demo.flags("health-platform")["contract_filing_late"] == "Art. 13"
    # Art. 6: an application filed in March, not October, is flagged.
    application = demo.facts("emergency-command").application
    assert application is not None
    assert application.recorded_on[5:7] != "10"
    assert demo.flags("emergency-command")["application_window_late"] == "Art. 6"
    assert "application_window_late" not in demo.flags("campus")
    # Art. 8: a category without special circumstances is flagged (and was rejected).
    assert demo.flags("health-telemedicine")["art8_review"] == "Art. 8"
    assert demo.facts("health-telemedicine").stage == "rejected"
    # Art. 14: annual reports on time, one filed in January.
    assert [o.status for o in demo.obligations("campus", "annual_report")] == ["met"]
    reports = {o.due: o.status for o in demo.obligations("bigdata-exchange", "annual_report")}
    assert reports == {"2025-12-31": "met_late", "2026-12-31": "open"}
    assert demo.flags("bigdata-exchange")["annual_report_late"] == "Art. 14"


def _check_acceptance_and_catalogue(demo: Demo) -> None:
    # Art. 19: acceptance overdue, so neither construction nor O&M funds.
    [acceptance] = demo.obligations("hanji-grid", "acceptance")
    assert (acceptance.due, acceptance.status) == ("2026-03-16", "overdue")
    for kind in rules.FUNDING_KINDS:
        assert demo.reasons("hanji-grid", kind).get("acceptance_required") == "Art. 19"
    refusal = demo.result.refusal("acceptance_required")
    assert (refusal.project, refusal.event_type) == ("hanji-grid", "FundsDisbursed")
    # Art. 26: preliminary acceptance, no catalogue: overdue and no O&M funds.
    facts = demo.facts("market-credit")
    assert facts.preliminary is not None
    assert facts.catalogue is None
    [catalogue] = demo.obligations("market-credit", "catalogue")
    assert catalogue.status == "overdue"
    assert demo.reasons("market-credit", "operation_maintenance") == {
        "catalogue_not_completed": "Art. 26"}
    assert demo.reasons("market-credit", "construction") == {}
    assert demo.result.refusal("catalogue_not_completed").project == "market-credit"
    # Art. 19 extension: requested, approved, and accepted within it.
    facts = demo.facts("hanji-service")
    requested = demo.entry("hanji-service", "AcceptanceExtensionRequested")
    decided = demo.entry("hanji-service", "AcceptanceExtensionDecided")
    assert decided.filing.payload["request_seq"] == requested.seq
    assert decided.filing.payload["decision"] == "approved"
    assert facts.extension_deadline == "2025-12-31"
    [acceptance] = demo.obligations("hanji-service", "acceptance")
    assert (acceptance.due, acceptance.status) == ("2025-12-31", "met")
    assert facts.completed_on is not None
    assert default_calendar().month_period_end(date.fromisoformat(facts.completed_on), 3) < (
        date(2025, 12, 26))  # without the extension it would have been late
    # Art. 20: self-evaluation within its 12–24-month window, and a third-party evaluation.
    facts = demo.facts("campus")
    [evaluation] = demo.obligations("campus", "self_evaluation")
    assert evaluation.status == "met"
    assert facts.acceptance is not None
    assert facts.self_evaluation is not None
    accepted = date.fromisoformat(facts.acceptance.accepted_on)
    submitted = date.fromisoformat(facts.self_evaluation.recorded_on)
    assert default_calendar().add_months_raw(accepted, 12) <= submitted
    assert submitted <= date.fromisoformat(evaluation.due or "")
    assert facts.third_party_evaluation is not None


def _check_sharing_security_and_units(demo: Demo) -> None:
    # Art. 22(1): a sharing non-compliance bars the unit, on the read and the write side.
    standing = views.unit_standing_view(demo.state, "civil")
    assert standing["barred"] is True
    reasons = rules.unit_standing("civil", demo.state.projects_of("civil"))
    assert [(r.rule, r.article) for r in reasons] == [("sharing_non_compliance", "Art. 22(1)")]
    assert demo.ledger.unit_standing("civil")
    assert demo.reasons("civil-elderly", "operation_maintenance") == {
        "sharing_non_compliance": "Art. 22(1)"}
    refusal = demo.result.refusal("unit_barred")
    assert (refusal.project, refusal.actor, refusal.event_type, refusal.article) == (
        None, "civil-he", "ApplicationFiled", "Art. 22(1)")
    titles = {f.title for f in demo.state.projects.values()}
    assert "社区居家养老服务补贴智能审核系统建设项目" not in titles  # the refused application
    assert demo.facts("civil-om").kind == "operation_maintenance"  # O&M is not barred
    barred = {u for u in demo.state.units() if views.unit_standing_view(demo.state, u)["barred"]}
    assert barred == {"civil"}
    # Art. 22(2): a security non-compliance lifted by ComplianceRestored.
    facts = demo.facts("bigdata-cloud")
    [finding] = facts.findings
    assert finding.kind == "security"
    assert finding.lifted is not None
    restored = demo.entry("bigdata-cloud", "ComplianceRestored")
    assert restored.filing.payload["finding_seq"] == finding.seq
    assert demo.entry("bigdata-cloud", "SecurityNonComplianceFound").seq == finding.seq
    assert rules.unit_standing("bigdata", demo.state.projects_of("bigdata")) == ()
    assert demo.reasons("bigdata-cloud", "operation_maintenance") == {}
    # Art. 22: the Chief Data Representative's exemption.
    exemption = demo.entry("health-records", "SharingExemptionGranted")
    assert exemption.filing.actor == "cdr-wu"
    assert demo.state.actors["cdr-wu"].role == "cdr"
    assert demo.facts("health-records").exemptions


def _check_supervision(demo: Demo) -> None:
    # Arts. 17/30: a failed rectification, then construction and all funds suspended.
    facts = demo.facts("emergency-command")
    [order] = facts.orders
    assert order.outcome == "failed"
    assert order.concluded is not None
    suspended = demo.entry("emergency-command", "ConstructionSuspended")
    assert suspended.filing.payload["order_seq"] == order.seq
    assert suspended.seq > order.concluded.seq
    assert facts.construction_suspended is not None
    assert facts.stage == "suspended"
    for kind in rules.FUNDING_KINDS:
        assert demo.reasons("emergency-command", kind).get("funding_suspended") == "Art. 30"
    assert demo.entry("emergency-command", "FundingSuspended").filing.payload["scope"] == "all"
    assert demo.result.refusal("funding_suspended").project == "emergency-command"
    # Art. 17: suspended then resumed; funding suspended then reinstated.
    types = [e.filing.type for e in demo.entries("edu-resources")]
    for first, then in (("ConstructionSuspended", "ConstructionResumed"),
                        ("FundingSuspended", "FundingReinstated")):
        assert types.index(first) < types.index(then)
    facts = demo.facts("edu-resources")
    assert facts.construction_suspended is None
    assert facts.funding_suspensions == ()
    assert types[-1] == "FundsDisbursed"  # paid after reinstatement
    assert demo.reasons("edu-resources", "construction") == {}
    # Arts. 30–34: audit finding, information withheld, misappropriation, criticism,
    # termination and a referral citing the findings; then a filing refused.
    facts = demo.facts("market-kitchen")
    assert facts.audit_findings
    assert facts.information_withheld
    assert facts.misappropriations
    assert facts.criticisms
    assert facts.terminated is not None
    assert facts.stage == "terminated"
    referral = demo.entry("market-kitchen", "DisciplinaryReferralMade")
    assert referral.filing.payload["finding_seqs"] == [
        demo.entry("market-kitchen", t).seq for t in (
            "AuditFindingRecorded", "InformationWithheldRecorded", "FundsMisappropriationFound")]
    assert referral.seq > facts.terminated.seq  # supervision goes on after termination
    refusal = demo.result.refusal("project_terminated")
    assert (refusal.project, refusal.article) == ("market-kitchen", "Art. 30")
    after = [e.filing.type for e in demo.entries("market-kitchen") if e.seq > facts.terminated.seq]
    assert set(after) <= rules.SUPERVISION_EVENTS
    assert "project_terminated" in demo.reasons("market-kitchen", "construction")


def _check_budget_change_and_refusals(demo: Demo) -> None:
    # Art. 16: a decided change raises the approved budget; Art. 15 then allows more.
    facts = demo.facts("health-platform")
    old_budget = demo.entry("health-platform", "ReviewOpinionIssued").filing.payload[
        "approved_budget_fen"]
    requested = demo.entry("health-platform", "ChangeRequested")
    decided = demo.entry("health-platform", "ChangeDecided")
    assert decided.filing.payload["request_seq"] == requested.seq
    assert "budget" in requested.filing.payload["aspects"]
    assert facts.approved_budget_fen == decided.filing.payload["approved_budget_fen"] > old_budget
    paid = 0
    beyond: list[Entry] = []
    for entry in demo.entries("health-platform"):
        if entry.filing.type == "FundsDisbursed":
            paid += entry.filing.payload["amount_fen"]
            if paid > old_budget:
                beyond.append(entry)
    assert beyond
    assert beyond[0].seq > decided.seq  # the old budget would have refused it (Art. 15)
    arranged_after = [e for e in demo.entries("health-platform")
                      if e.filing.type == "FundingArranged" and e.seq > decided.seq]
    assert arranged_after
    assert arranged_after[0].seq < beyond[0].seq
    assert facts.approved_budget_fen is not None
    assert facts.disbursed_construction_fen == paid <= facts.approved_budget_fen
    # Art. 15: a payment beyond the arranged funds was refused, and is not in the log.
    refusal = demo.result.refusal("exceeds_arranged_or_approved")
    assert (refusal.project, refusal.event_type, refusal.article) == (
        "health-platform", "FundsDisbursed", "Art. 15")
    assert all(e.filing.payload.get("amount_fen") != 35_000_000
               for e in demo.entries("health-platform"))
    # Art. 9: a contract before an approving opinion was refused, and is not in the log.
    refusal = demo.result.refusal("approval_required")
    assert (refusal.project, refusal.event_type, refusal.article) == (
        "bigdata-exchange", "ContractFiled", "Art. 9")
    contracts = [c.contract_no for c in demo.facts("bigdata-exchange").contracts]
    assert contracts == ["GXQ-DSJ-2025-009"]
    opinions = [e.filing.payload["decision"]
                for e in demo.entries("bigdata-exchange") if e.filing.type == "ReviewOpinionIssued"]
    assert opinions == ["revise", "approved"]
    assert {"unit_barred", "project_terminated", "approval_required",
            "exceeds_arranged_or_approved"} <= {r.rule for r in demo.result.refusals}
    for refusal in demo.result.refusals:
        assert "2023-09-01" <= refusal.attempted_at < "2026-11-25"


def _check_other_filings(demo: Demo) -> None:
    # Art. 10: consent to a provincial declaration, then the province's approval on file.
    facts = demo.facts("emergency-command")
    assert facts.higher_level
    assert facts.higher_level_consent is not None
    consent = demo.entry("emergency-command", "HigherLevelDeclarationConsented")
    approval = demo.entry("emergency-command", "HigherLevelApprovalRecorded")
    assert consent.seq < approval.seq
    # Art. 5: the fixed-asset approval by the Administrative Approval Service Dept.
    fixed = demo.entry("hanji-service", "FixedAssetApprovalIssued")
    assert demo.state.actors[fixed.filing.actor].role == "approval"
    # The key registry: a rotated key and the old one revoked.
    revoked = [k for k in demo.ledger.registry().keys.values() if k.revoked_from]
    assert [k.actor for k in revoked] == ["office-li"]


def _check_dates_whatever_the_order(demo: Demo) -> None:
    """hanji-village: the violations its dates show are recorded, flagged and have their
    consequence, whatever the order the filings came in (docs/design.md §4.6)."""
    facts = demo.facts("hanji-village")
    flags = demo.flags("hanji-village")
    quotes = {f.rule: f.quote_zh for f in rules.flags(facts, demo.calendar)}
    # Art. 10: a provincial approval recorded with no consent to declare: flagged.
    assert [a.level for a in facts.higher_level_approvals] == ["provincial"]
    assert facts.higher_level_consents == ()
    assert flags["declaration_without_consent"] == "Art. 10"
    assert "须取得综合管理办公室同意申报的审核意见" in quotes["declaration_without_consent"]
    # Art. 9: signed before the opinion took effect, filed after it was recorded, on time for
    # Art. 13: recorded and flagged under Art. 9; the first payment was refused until the Office
    # restored compliance citing the contract.
    [contract] = facts.contracts
    opinion = demo.entry("hanji-village", "ReviewOpinionIssued")
    assert contract.signed_on < opinion.filing.effective.isoformat() <= contract.ref.recorded_on
    assert flags["procurement_before_opinion"] == "Art. 9"
    assert "前提和依据" in quotes["procurement_before_opinion"]
    assert "contract_filing_late" not in flags
    refusal = demo.result.refusal("procurement_before_opinion")
    assert (refusal.project, refusal.event_type, refusal.article) == (
        "hanji-village", "FundsDisbursed", "Art. 9")
    restored = demo.entry("hanji-village", "ComplianceRestored")
    assert restored.filing.payload["finding_seq"] == contract.ref.seq
    assert contract.cleared is not None
    assert demo.reasons("hanji-village", "construction") == {}
    # Art. 15: the contract is far beyond the approved budget: flagged; payments stay capped.
    assert facts.approved_budget_fen is not None
    assert contract.amount_fen > facts.approved_budget_fen >= facts.disbursed_construction_fen
    assert flags["contract_over_budget"] == "Art. 15"
    # Art. 26 with no preliminary acceptance on file and the resources not in the catalogue:
    # the ten working days run from the acceptance, and O&M funds were not arranged.
    assert facts.preliminary is None
    assert facts.acceptance is not None
    assert facts.acceptance.sharing_catalogue_included is False
    [catalogue] = demo.obligations("hanji-village", "catalogue")
    assert (catalogue.due, catalogue.status) == ("2026-06-03", "overdue")
    assert demo.reasons("hanji-village", "operation_maintenance") == {
        "catalogue_not_completed": "Art. 26", "no_headroom": "Art. 15"}
    refused = [(r.event_type, r.article) for r in demo.result.refusals
               if r.project == "hanji-village" and r.rule == "catalogue_not_completed"]
    assert refused == [("FundingArranged", "Art. 26")]
    assert facts.arranged_om_fen == 0


def _check_as_known_at(demo: Demo) -> None:
    early = replay_library(demo.ledger, as_known_at=END_OF_2024)
    assert early.last_recorded_at <= END_OF_2024 < demo.state.last_recorded_at
    kitchen = str(demo.result.projects["market-kitchen"])
    assert early.projects[kitchen].terminated is None  # terminated only in Sep 2025
    assert demo.state.projects[kitchen].terminated is not None
    assert str(demo.result.projects["health-records"]) not in early.projects  # filed Oct 2025
    health = early.projects[str(demo.result.projects["health-platform"])]
    assert health.approved_budget_fen == 280_000_000
    assert not health.changes
    assert views.unit_standing_view(early, "civil")["barred"] is False
    replayed: Any = replay_project(demo.ledger, UUID(kitchen), as_known_at=END_OF_2024,
                                   on=ON).views
    assert replayed["project"]["state"]["stage"] == "in_construction"
