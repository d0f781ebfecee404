"""Rules on the dates of the facts, and missing starting events (docs/design.md §4.6).

Pure: facts folded from scripted filings (``rulebook.Script``), judged by ``ledger.measures.rules``.
The same situations through the HTTP API on both backends: tests/api/test_rules_by_date.py.
"""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from rulebook import Script

from ledger.errors import RuleViolationError
from ledger.log.entries import Filing
from ledger.measures import rules
from ledger.measures.articles import RULES
from ledger.measures.facts import ProjectFacts

ON = date(2026, 11, 25)


def _reasons(facts: ProjectFacts, kind: str, on: date = ON) -> list[str]:
    return [r.rule for r in rules.eligibility(facts, kind, on).reasons]


def _flags(script: Script) -> dict[str, rules.Reason]:
    return {f.rule: f for f in rules.flags(script.facts)}


def test_art09_an_opinion_taking_effect_after_d_does_not_approve_on_d() -> None:
    script = Script()
    script.file("ApplicationFiled", "2024-10-15")
    # Recorded on 2024-11-20, taking effect on 2024-11-20: on 2024-11-19 nothing was approved.
    script.file("ReviewOpinionIssued", "2024-11-20", actor="office", decision="approved",
                approved_budget_fen=300_000_000, conditions=None)
    script.file("FundingArranged", "2024-11-21", kind="construction", amount_fen=1)
    assert _reasons(script.facts, rules.CONSTRUCTION, date(2024, 11, 19)) == [
        "approval_required"]
    assert _reasons(script.facts, rules.CONSTRUCTION, date(2024, 11, 21)) == []


def test_art09_a_second_approving_opinion_keeps_the_first_ones_date() -> None:
    script = Script().approved("2024-11-20")
    script.file("ReviewOpinionIssued", "2025-02-01", actor="office", decision="approved",
                approved_budget_fen=300_000_000, conditions=None)
    assert script.facts.approved_on == "2024-11-20"
    script.file("ContractFiled", "2024-12-05", signed_on="2024-12-01")
    assert "procurement_before_opinion" not in _flags(script)


def test_art09_contract_signed_before_the_opinion_names_both_dates_and_both_entries() -> None:
    script = Script().approved("2024-11-20")
    contract = script.file("ContractFiled", "2024-11-22", signed_on="2024-11-18")
    flag = _flags(script)["procurement_before_opinion"]
    assert (flag.article, flag.quote_zh) == ("Art. 9", RULES["approval_required"].quote_zh)
    assert "2024-11-18" in flag.detail
    assert "2024-11-20" in flag.detail
    assert contract.entry_hash in flag.caused_by
    assert _reasons(script.facts, rules.CONSTRUCTION)[0] == "procurement_before_opinion"
    assert "procurement_before_opinion" not in _reasons(script.facts,
                                                        rules.OPERATION_MAINTENANCE)


def test_art09_restoring_compliance_needs_an_uncleared_early_contract() -> None:
    script = Script().approved("2024-11-20")
    on_time = script.file("ContractFiled", "2024-11-22", signed_on="2024-11-21")
    with pytest.raises(RuleViolationError) as caught:
        rules.check_filing(script.facts, _filing("ComplianceRestored",
                                                 {"finding_seq": on_time.seq}), ON)
    assert caught.value.rule == "unknown_reference"


def test_art13_contract_filed_within_five_calendar_days_is_met_without_the_calendar() -> None:
    script = Script().approved()
    # Due on the 5th working day after 2026-12-28, which needs 2027's calendar; filed on the
    # 31st, before the earliest day it can fall on (5 calendar days later).
    script.file("ContractFiled", "2026-12-31", signed_on="2026-12-28")
    [contract] = [o for o in rules.obligations(script.facts, ON) if o.rule == "contract_filing"]
    assert (contract.status, contract.due, contract.missing_year) == ("met", None, 2027)


def test_art15_the_budget_in_force_when_the_contract_was_filed_decides() -> None:
    script = Script().approved(budget_fen=100_000_000)
    request = script.file("ChangeRequested", "2025-03-01",
                          new_values={"budget_fen": 140_000_000})
    script.file("ChangeDecided", "2025-03-20", actor="office", request_seq=request.seq,
                decision="approved", approved_budget_fen=140_000_000)
    script.file("ContractFiled", "2025-04-02", signed_on="2025-04-01", amount_fen=130_000_000)
    assert "contract_over_budget" not in _flags(script)
    script.file("ContractFiled", "2025-05-02", signed_on="2025-05-01", amount_fen=20_000_000,
                contract_no="GXQ-CG-2025-0502")
    flag = _flags(script)["contract_over_budget"]
    assert "150000000 fen" in flag.detail


def test_art17_resuming_construction_that_is_not_suspended_is_refused() -> None:
    script = Script().approved()
    with pytest.raises(RuleViolationError) as caught:
        rules.check_filing(script.facts, _filing("ConstructionResumed", {"reason": "x"}), ON)
    assert (caught.value.rule, caught.value.article) == ("not_suspended", "Art. 17")
    assert "暂停建设" in caught.value.quote_zh
    script.file("ConstructionSuspended", "2025-05-01", actor="office")
    rules.check_filing(script.facts, _filing("ConstructionResumed", {"reason": "x"}), ON)


def test_art19_om_funds_of_an_unaccepted_construction_project_are_blocked() -> None:
    script = Script().approved()
    script.file("FundingArranged", "2025-01-10", kind="operation_maintenance", amount_fen=10)
    assert _reasons(script.facts, rules.OPERATION_MAINTENANCE) == ["acceptance_required"]
    assert _reasons(script.facts, rules.CONSTRUCTION) == ["no_headroom"]  # construction goes on
    om = Script()
    om.file("ApplicationFiled", "2024-10-15", kind="operation_maintenance")
    assert om.facts.kind == "operation_maintenance"
    assert "acceptance_required" not in _reasons(om.facts, rules.OPERATION_MAINTENANCE)


def test_art19_acceptance_after_d_has_not_yet_happened_on_d() -> None:
    script = Script().approved().accepted("2025-06-30", "2025-09-01")
    assert "acceptance_required" in _reasons(script.facts, rules.CONSTRUCTION, date(2025, 8, 1))
    assert "acceptance_required" not in _reasons(script.facts, rules.CONSTRUCTION,
                                                 date(2025, 9, 1))


def test_art19_extension_requested_before_the_deadline_is_not_flagged() -> None:
    script = Script().approved()
    script.file("ConstructionCompleted", "2025-03-14", completed_on="2025-03-14")
    script.file("AcceptanceExtensionRequested", "2025-06-16", new_deadline="2025-08-29")
    assert "extension_requested_late" not in _flags(script)  # due 2025-06-16 (carried)
    script.file("AcceptanceExtensionRequested", "2025-06-17", new_deadline="2025-09-30")
    assert "extension_requested_late" in _flags(script)


def test_art19_second_extension_is_judged_against_the_approved_extension() -> None:
    script = Script().approved()
    script.file("ConstructionCompleted", "2025-03-14", completed_on="2025-03-14")
    request = script.file("AcceptanceExtensionRequested", "2025-06-01",
                          new_deadline="2025-08-29")
    script.file("AcceptanceExtensionDecided", "2025-06-05", actor="office",
                request_seq=request.seq, decision="approved", new_deadline="2025-08-29")
    script.file("AcceptanceExtensionRequested", "2025-08-28", new_deadline="2025-10-31")
    assert "extension_requested_late" not in _flags(script)
    script.file("AcceptanceExtensionRequested", "2025-09-02", new_deadline="2025-11-28")
    assert "extension_requested_late" in _flags(script)


def test_art20_a_report_in_the_window_after_an_early_one_meets_the_obligation() -> None:
    script = Script().approved().accepted("2024-06-01", "2024-08-20")
    script.file("SelfEvaluationSubmitted", "2024-12-01")
    within = script.file("SelfEvaluationSubmitted", "2025-10-01")
    [evaluation] = [o for o in rules.obligations(script.facts, ON)
                    if o.rule == "self_evaluation"]
    assert (evaluation.status, evaluation.met_by) == ("met", within.entry_hash)
    assert [f.rule for f in rules.flags(script.facts)].count("self_evaluation_late") == 1


def test_art22_failed_security_assessment_blocks_om_funds_until_a_later_one_passes() -> None:
    script = Script().approved().accepted()
    script.file("FundingArranged", "2025-10-01", kind="operation_maintenance", amount_fen=10)
    script.file("SecurityAssessmentRecorded", "2025-10-10", cryptography_assessment="non_compliant")
    reason = rules.eligibility(script.facts, rules.OPERATION_MAINTENANCE, ON).reasons[0]
    assert (reason.rule, reason.article) == ("security_assessment_failed", "Art. 22(2)")
    assert "不安排运行维护经费" in reason.quote_zh
    script.file("SecurityAssessmentRecorded", "2025-11-10")
    assert rules.eligibility(script.facts, rules.OPERATION_MAINTENANCE, ON).eligible


def test_art22_an_exemption_naming_no_finding_covers_data_not_shared_only() -> None:
    script = Script().approved()
    script.file("SharingExemptionGranted", "2025-04-01", actor="cdr")
    script.file("SharingNonComplianceFound", "2025-05-01", actor="office", issue="not_shared")
    assert script.facts.active_findings() == ()
    script.file("SharingNonComplianceFound", "2025-05-02", actor="office",
                issue="selective_sharing")
    assert [f.issue for f in script.facts.active_findings()] == ["selective_sharing"]


def test_art26_the_earlier_of_preliminary_acceptance_and_acceptance_starts_the_clock() -> None:
    script = Script().approved()
    script.file("ConstructionCompleted", "2025-06-30", completed_on="2025-06-30")
    script.file("AcceptanceReportFiled", "2025-09-01", accepted_on="2025-09-01")
    catalogue = rules.catalogue_obligation(script.facts, ON)
    assert catalogue is not None
    assert (catalogue.due, catalogue.status) == ("2025-09-15", "overdue")
    assert "counted from the acceptance" in catalogue.detail
    # A preliminary acceptance filed afterwards, dated earlier, moves the start earlier.
    script.file("PreliminaryAcceptanceCompleted", "2025-09-02", completed_on="2025-08-01")
    catalogue = rules.catalogue_obligation(script.facts, ON)
    assert catalogue is not None
    assert catalogue.due == "2025-08-15"


def test_art26_omitting_the_preliminary_acceptance_does_not_keep_om_funds_flowing() -> None:
    script = Script().approved()
    script.file("FundingArranged", "2025-01-10", kind="operation_maintenance", amount_fen=10)
    script.file("ConstructionCompleted", "2025-06-30", completed_on="2025-06-30")
    script.file("AcceptanceReportFiled", "2025-09-01", accepted_on="2025-09-01",
                sharing_catalogue={"included": False, "catalogue_codes": [],
                                   "remarks": "未纳入共享目录"})
    assert _reasons(script.facts, rules.OPERATION_MAINTENANCE, date(2025, 9, 15)) == []
    assert _reasons(script.facts, rules.OPERATION_MAINTENANCE, date(2025, 9, 16)) == [
        "catalogue_not_completed"]
    with pytest.raises(RuleViolationError) as caught:
        rules.check_filing(script.facts, _filing("FundingArranged", {
            "kind": "operation_maintenance", "amount_fen": 1}), date(2025, 9, 16))
    assert (caught.value.rule, caught.value.article) == ("catalogue_not_completed", "Art. 26")
    assert "不再安排项目运行维护经费" in caught.value.quote_zh


def _filing(event_type: str, payload: dict[str, object]) -> Filing:
    return Filing(ledger="o", stream=uuid.uuid4(), type=event_type, effective=ON,
                  payload=payload, actor="a", key="k", nonce=uuid.uuid4())
