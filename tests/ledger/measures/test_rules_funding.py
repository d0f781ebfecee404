"""Funding eligibility and the disbursement guard: Arts. 9, 11, 15, 19, 22, 26, 30."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from rulebook import Script

from ledger.errors import RuleViolationError
from ledger.log.entries import Filing
from ledger.measures import rules

ON = date(2026, 11, 25)


def _filing(event_type: str, payload: dict[str, object]) -> Filing:
    return Filing(ledger="o", stream=uuid.uuid4(), type=event_type, effective=ON,
                  payload=payload, actor="finance", key="k", nonce=uuid.uuid4())


def test_art9_no_funding_without_an_approving_opinion() -> None:
    script = Script()
    application = script.file("ApplicationFiled", "2024-10-15")
    verdict = rules.eligibility(script.facts, rules.CONSTRUCTION, ON)
    assert not verdict.eligible
    assert verdict.reasons[0].article == "Art. 9"
    assert verdict.reasons[0].caused_by == (application.entry_hash,)
    with pytest.raises(RuleViolationError) as caught:
        rules.check_filing(script.facts, _filing("FundingArranged", {"kind": "construction",
                                                                     "amount_fen": 1}), ON)
    assert caught.value.article == "Art. 9"


def test_art9_rejected_opinion_names_the_opinion() -> None:
    script = Script()
    script.file("ApplicationFiled", "2024-10-15")
    opinion = script.file("ReviewOpinionIssued", "2024-11-20", decision="rejected",
                          approved_budget_fen=None, conditions=None)
    reason = rules.eligibility(script.facts, rules.CONSTRUCTION, ON).reasons[0]
    assert (reason.rule, reason.caused_by) == ("approval_required", (opinion.entry_hash,))


def test_art15_disbursement_within_arranged_and_approved_amounts() -> None:
    script = Script().approved(budget_fen=300_000_000)
    script.file("FundingArranged", "2025-01-10", kind="construction", amount_fen=200_000_000)
    assert rules.eligibility(script.facts, rules.CONSTRUCTION, ON).headroom_fen == 200_000_000
    rules.check_filing(script.facts, _filing("FundsDisbursed", {
        "kind": "construction", "amount_fen": 200_000_000}), ON)
    with pytest.raises(RuleViolationError) as caught:
        rules.check_filing(script.facts, _filing("FundsDisbursed", {
            "kind": "construction", "amount_fen": 200_000_001}), ON)
    assert (caught.value.rule, caught.value.article) == ("exceeds_arranged_or_approved",
                                                         "Art. 15")


def test_art15_approved_budget_caps_even_when_more_is_arranged() -> None:
    script = Script().approved(budget_fen=100_000_000)
    script.file("FundingArranged", "2025-01-10", kind="construction", amount_fen=150_000_000)
    assert rules.remaining_fen(script.facts, rules.CONSTRUCTION) == 100_000_000


def test_art16_decided_budget_change_replaces_the_approved_budget() -> None:
    script = Script().approved(budget_fen=100_000_000)
    request = script.file("ChangeRequested", "2025-03-01",
                          new_values={"budget_fen": 140_000_000})
    script.file("ChangeDecided", "2025-03-20", actor="office", request_seq=request.seq,
                decision="approved", approved_budget_fen=140_000_000)
    assert script.facts.approved_budget_fen == 140_000_000


def test_art19_completed_but_not_accepted_blocks_construction_and_om_funds() -> None:
    script = Script().approved()
    script.file("FundingArranged", "2025-01-10", kind="construction", amount_fen=100_000_000)
    completed = script.file("ConstructionCompleted", "2025-06-30", completed_on="2025-06-30")
    for kind in rules.FUNDING_KINDS:
        reasons = {r.rule: r for r in rules.eligibility(script.facts, kind, ON).reasons}
        assert reasons["acceptance_required"].article == "Art. 19"
        assert reasons["acceptance_required"].caused_by == (completed.entry_hash,)
    script.file("AcceptanceReportFiled", "2025-09-01", accepted_on="2025-09-01")
    assert "acceptance_required" not in {
        r.rule for r in rules.eligibility(script.facts, rules.CONSTRUCTION, ON).reasons}


def test_art22_sharing_non_compliance_blocks_om_funds_until_restored() -> None:
    script = Script().approved().accepted()
    script.file("FundingArranged", "2025-01-10", kind="operation_maintenance",
                amount_fen=10_000_000)
    finding = script.file("SharingNonComplianceFound", "2025-05-01", actor="office")
    verdict = rules.eligibility(script.facts, rules.OPERATION_MAINTENANCE, ON)
    assert [(r.rule, r.article) for r in verdict.reasons] == [
        ("sharing_non_compliance", "Art. 22(1)")]
    assert rules.eligibility(script.facts, rules.CONSTRUCTION, ON).reasons[0].rule != (
        "sharing_non_compliance")
    script.file("ComplianceRestored", "2025-06-01", actor="office", finding_seq=finding.seq)
    assert rules.eligibility(script.facts, rules.OPERATION_MAINTENANCE, ON).eligible


def test_art22_security_non_compliance_blocks_om_funds() -> None:
    script = Script().approved().accepted()
    script.file("FundingArranged", "2025-01-10", kind="operation_maintenance",
                amount_fen=10_000_000)
    script.file("SecurityNonComplianceFound", "2025-05-01", actor="office")
    reasons = rules.eligibility(script.facts, rules.OPERATION_MAINTENANCE, ON).reasons
    assert [r.article for r in reasons] == ["Art. 22(2)"]


def test_art26_catalogue_late_blocks_om_funds_until_completed() -> None:
    script = Script().approved()
    script.file("FundingArranged", "2025-01-10", kind="operation_maintenance",
                amount_fen=10_000_000)
    script.file("ConstructionCompleted", "2025-10-10", completed_on="2025-10-10")
    script.file("PreliminaryAcceptanceCompleted", "2025-11-03", completed_on="2025-11-03")
    script.file("AcceptanceReportFiled", "2025-11-10", accepted_on="2025-11-10")
    # 10 working days after 2025-11-03 (a Monday) is 2025-11-17.
    assert rules.eligibility(script.facts, rules.OPERATION_MAINTENANCE,
                             date(2025, 11, 17)).eligible
    late = rules.eligibility(script.facts, rules.OPERATION_MAINTENANCE, date(2025, 11, 18))
    assert [(r.rule, r.article) for r in late.reasons] == [("catalogue_not_completed", "Art. 26")]
    script.file("CatalogCompleted", "2025-12-01")
    assert rules.eligibility(script.facts, rules.OPERATION_MAINTENANCE, ON).eligible


def test_art30_funding_suspension_and_reinstatement() -> None:
    script = Script().approved()
    script.file("FundingArranged", "2025-01-10", kind="construction", amount_fen=100_000_000)
    script.file("FundingSuspended", "2025-04-01", actor="office", scope="all")
    reasons = rules.eligibility(script.facts, rules.CONSTRUCTION, ON).reasons
    assert [(r.rule, r.article) for r in reasons] == [("funding_suspended", "Art. 30")]
    script.file("FundingReinstated", "2025-05-01", actor="office", scope="all")
    assert rules.eligibility(script.facts, rules.CONSTRUCTION, ON).eligible


def test_art30_terminated_project_takes_no_filing_but_supervision() -> None:
    script = Script().approved()
    terminated = script.file("ProjectTerminated", "2025-08-01", actor="office")
    with pytest.raises(RuleViolationError) as caught:
        rules.check_filing(script.facts, _filing("ProgressReported", {}), ON)
    assert (caught.value.article, caught.value.caused_by) == ("Art. 30",
                                                              (terminated.entry_hash,))
    rules.check_filing(script.facts, _filing("AuditFindingRecorded", {}), ON)  # Art. 31
    assert not rules.eligibility(script.facts, rules.CONSTRUCTION, ON).eligible
