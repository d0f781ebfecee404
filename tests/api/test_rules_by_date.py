"""The rules decided on the dates of the facts, through the HTTP API, on SQLite and PostgreSQL.

Each test is named after the article it applies and written from its Chinese text
(docs/design.md §4.6, docs/rules.md). The ledger's clock is the test's: it is set to Beijing
moments of the story, so "today" is what the story says.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.app import Ledger
from ledger.log.entries import b64encode
from ledger.measures.catalogue import EXAMPLES
from ledger.measures.roles import Role
from ledgertest import upload_example_documents

CST = timezone(timedelta(hours=8))
ACTORS = (("office-li", Role.OFFICE, None), ("finance-zhao", Role.FINANCE, None),
          ("edu-wang", Role.UNIT, "edu"), ("cdr-qian", Role.CDR, None))


def _cst(moment: str) -> datetime:
    return datetime.strptime(moment, "%Y-%m-%d %H:%M").replace(tzinfo=CST).astimezone(UTC)


class Clock:
    """The ledger clock: set to a Beijing moment, one millisecond later on every read."""

    def __init__(self, moment: str) -> None:
        self.now = _cst(moment)

    def at(self, moment: str) -> None:
        self.now = max(self.now, _cst(moment))

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


def payload(event_type: str, **changes: Any) -> dict[str, Any]:
    """The catalogue's example payload with ``changes`` (``None`` removes a field)."""
    body = copy.deepcopy(dict(EXAMPLES[event_type]))
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


@dataclass
class Court:
    """A ledger on a test clock behind the HTTP API, with a token per actor."""

    ledger: Ledger
    client: TestClient
    clock: Clock
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, actor: str) -> dict[str, str]:
        if actor not in self.tokens:
            self.tokens[actor] = self.ledger.tokens.issue(actor)
        return {"Authorization": f"Bearer {self.tokens[actor]}"}

    def file(self, when: str, actor: str, event_type: str, body: dict[str, Any],
             project: str | None = None, effective: str | None = None) -> httpx.Response:
        self.clock.at(when)
        envelope: dict[str, Any] = {"payload": body}
        if effective is not None:
            envelope["effective"] = effective
        if project is None:
            return self.client.post("/api/v1/projects", json=envelope,
                                    headers=self.headers(actor))
        return self.client.post(f"/api/v1/projects/{project}/events",
                                json={"type": event_type, **envelope},
                                headers=self.headers(actor))

    def ok(self, when: str, actor: str, event_type: str, body: dict[str, Any],
           project: str | None = None, effective: str | None = None) -> dict[str, Any]:
        response = self.file(when, actor, event_type, body, project, effective)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def apply(self, when: str = "2024-10-15 10:00", **changes: Any) -> str:
        return str(self.ok(when, "edu-wang", "ApplicationFiled",
                           payload("ApplicationFiled", **changes))["stream"])

    def approved(self, when: str = "2025-03-18 15:00", **changes: Any) -> str:
        """An application in October 2024 and an approving opinion taking effect ``when``."""
        project = self.apply(**changes)
        self.ok(when, "office-li", "ReviewOpinionIssued", payload("ReviewOpinionIssued"), project)
        return project

    def views(self, project: str) -> dict[str, Any]:
        response = self.client.get(f"/api/v1/projects/{project}",
                                   headers=self.headers("office-li"))
        assert response.status_code == 200, response.text
        return dict(response.json())

    def flags(self, project: str) -> dict[str, dict[str, Any]]:
        return {flag["rule"]: flag for flag in self.views(project)["flags"]}

    def reasons(self, project: str, kind: str) -> dict[str, dict[str, Any]]:
        state = self.views(project)["views"]["eligibility"]["state"][kind]
        return {reason["rule"]: reason for reason in state["reasons"]}

    def obligation(self, project: str, rule: str) -> dict[str, Any]:
        [found] = [o for o in self.views(project)["views"]["obligations"]["state"]
                   if o["rule"] == rule]
        return dict(found)


@pytest.fixture
def court(make_ledger: Callable[..., Ledger]) -> Iterator[Court]:
    clock = Clock("2024-10-08 09:00")
    ledger = make_ledger(clock=clock)
    ledger.initialise()
    upload_example_documents(ledger)
    for actor, role, unit in ACTORS:
        ledger.register_actor(actor, role, unit, actor)
    with TestClient(create_app(ledger=ledger)) as client:
        yield Court(ledger, client, clock)


def _refused(response: httpx.Response, rule: str, article: str, words: str) -> dict[str, Any]:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = dict(response.json())
    assert (body["rule"], body["article"]) == (rule, article)
    assert words in body["quote_zh"]
    return body


# --- Art. 9: 评审意见是项目立项、资金安排、政府采购等工作的前提和依据


def test_art09_contract_signed_before_opinion_filed_after_it_is_recorded_flagged_and_blocks_funds(
        court: Court) -> None:
    project = court.approved("2025-03-18 15:00")
    contract = court.ok("2025-03-19 10:00", "edu-wang", "ContractFiled",
                        payload("ContractFiled", signed_on="2025-03-14"), project,
                        effective="2025-03-14")
    flags = court.flags(project)
    assert flags["procurement_before_opinion"]["article"] == "Art. 9"
    assert "前提和依据" in flags["procurement_before_opinion"]["quote_zh"]
    assert contract["entry_hash"] in flags["procurement_before_opinion"]["caused_by"]
    assert "contract_filing_late" not in flags  # on time for Art. 13: only Art. 9 is broken
    blocked = court.reasons(project, "construction")["procurement_before_opinion"]
    assert "2025-03-14" in blocked["detail"]
    court.ok("2025-03-25 10:00", "finance-zhao", "FundingArranged", payload("FundingArranged"),
             project)
    _refused(court.file("2025-03-26 10:00", "finance-zhao", "FundsDisbursed",
                        payload("FundsDisbursed"), project),
             "procurement_before_opinion", "Art. 9", "政府采购")
    court.ok("2025-04-20 10:00", "office-li", "ComplianceRestored",
             payload("ComplianceRestored", finding_seq=contract["seq"]), project)
    court.ok("2025-04-21 10:00", "finance-zhao", "FundsDisbursed", payload("FundsDisbursed"),
             project)
    assert "procurement_before_opinion" in court.flags(project)  # it happened; it stays flagged
    assert "procurement_before_opinion" not in court.reasons(project, "construction")


def test_art09_contract_filed_while_no_approving_opinion_stands_is_refused(court: Court) -> None:
    project = court.apply()
    body = _refused(court.file("2024-11-01 10:00", "edu-wang", "ContractFiled",
                               payload("ContractFiled", signed_on="2024-10-30"), project),
                    "approval_required", "Art. 9", "前提和依据")
    assert body["type"].endswith("/rule-violation")


def test_art09_funds_dated_before_the_opinion_took_effect_are_refused(court: Court) -> None:
    project = court.approved("2025-03-18 15:00")
    _refused(court.file("2025-03-20 10:00", "finance-zhao", "FundingArranged",
                        payload("FundingArranged"), project, effective="2025-03-10"),
             "approval_required", "Art. 9", "资金安排")
    court.ok("2025-03-20 11:00", "finance-zhao", "FundingArranged", payload("FundingArranged"),
             project)
    refused = _refused(court.file("2025-03-21 10:00", "finance-zhao", "FundsDisbursed",
                                  payload("FundsDisbursed"), project, effective="2025-03-17"),
                       "approval_required", "Art. 9", "前提和依据")
    assert "2025-03-17" in refused["detail"]


def test_art09_a_unit_sending_a_bare_review_opinion_gets_403_not_422(court: Court) -> None:
    project = court.apply()
    custodial = court.file("2024-10-16 10:00", "edu-wang", "ReviewOpinionIssued", {}, project)
    assert custodial.status_code == 403, custodial.text
    assert custodial.json()["article"] == "Art. 9"
    assert custodial.json()["filed_by"] == ["office"]
    key = court.ledger.registry().current_key("edu-wang", court.ledger.now()).key_id
    signed = court.client.post(f"/api/v1/projects/{project}/events", json={
        "type": "ReviewOpinionIssued", "payload": {}, "effective": "2024-10-16", "key": key,
        "nonce": str(uuid.uuid4()), "signature": b64encode(bytes(64))},
        headers=court.headers("edu-wang"))
    assert signed.status_code == 403, signed.text
    # The office gets the payload's problems (422) for the same body.
    office = court.file("2024-10-16 11:00", "office-li", "ReviewOpinionIssued", {}, project)
    assert office.status_code == 422


# --- Art. 10: 组织申报前，须取得综合管理办公室同意申报的审核意见


def test_art10_higher_level_approval_without_consent_is_recorded_and_flagged(
        court: Court) -> None:
    project = court.apply(higher_level={"level": "provincial", "programme": "数字政府强基工程"})
    approval = court.ok("2025-01-16 10:00", "edu-wang", "HigherLevelApprovalRecorded",
                        payload("HigherLevelApprovalRecorded"), project)
    flag = court.flags(project)["declaration_without_consent"]
    assert flag["article"] == "Art. 10"
    assert "须取得综合管理办公室同意申报的审核意见" in flag["quote_zh"]
    assert flag["caused_by"] == [approval["entry_hash"]]
    # A consent given only after the approval does not make the declaration consented.
    court.ok("2025-01-20 10:00", "office-li", "HigherLevelDeclarationConsented",
             payload("HigherLevelDeclarationConsented"), project)
    assert "declaration_without_consent" in court.flags(project)


def test_art10_consent_that_took_effect_before_the_approval_is_judged_by_its_date(
        court: Court) -> None:
    project = court.apply(higher_level={"level": "provincial", "programme": "数字政府强基工程"})
    court.ok("2025-01-16 10:00", "edu-wang", "HigherLevelApprovalRecorded",
             payload("HigherLevelApprovalRecorded"), project)
    # The Office consented in writing on 2024-11-05 and records it late: consent came first.
    court.ok("2025-01-20 10:00", "office-li", "HigherLevelDeclarationConsented",
             payload("HigherLevelDeclarationConsented"), project, effective="2024-11-05")
    assert "declaration_without_consent" not in court.flags(project)


# --- Art. 13, 14, 19, 30: a fact is never dated after today; deadlines may be -------------------


def test_art13_contract_signed_next_month_is_refused_422_naming_the_field(court: Court) -> None:
    project = court.approved("2025-03-18 15:00")
    response = court.file("2025-03-20 10:00", "edu-wang", "ContractFiled",
                          payload("ContractFiled", signed_on="2025-04-20"), project)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["type"].endswith("/future-date")
    assert [e["field"] for e in body["errors"]] == ["signed_on"]
    assert body["today"] == "2025-03-20"


def test_art14_progress_report_for_a_year_ahead_is_refused_422(court: Court) -> None:
    project = court.approved("2025-03-18 15:00")
    response = court.file("2025-12-20 10:00", "edu-wang", "ProgressReported",
                          payload("ProgressReported", year=2030), project)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["year"]
    court.ok("2025-12-20 11:00", "edu-wang", "ProgressReported",
             payload("ProgressReported", year=2025), project)


def test_art19_completion_dated_ahead_and_effective_tomorrow_are_refused_422(
        court: Court) -> None:
    project = court.approved("2025-03-18 15:00")
    response = court.file("2025-06-01 10:00", "edu-wang", "ConstructionCompleted",
                          payload("ConstructionCompleted", completed_on="2025-07-01"), project,
                          effective="2025-06-02")
    assert response.status_code == 422, response.text
    assert {e["field"] for e in response.json()["errors"]} == {"effective", "completed_on"}
    assert court.ledger.project(uuid.UUID(project)).version == 2  # nothing was written


def test_art30_a_deadline_may_lie_ahead(court: Court) -> None:
    project = court.approved("2025-03-18 15:00")
    court.ok("2025-04-01 10:00", "office-li", "RectificationOrdered",
             payload("RectificationOrdered", deadline="2025-12-31"), project)
    court.ok("2025-04-02 10:00", "edu-wang", "AcceptanceExtensionRequested",
             payload("AcceptanceExtensionRequested", new_deadline="2026-01-31"), project)
    court.ok("2025-04-03 10:00", "finance-zhao", "FundingArranged",
             payload("FundingArranged", fiscal_year=2026), project)  # a plan


# --- Art. 15: 原则上超支不补


def test_art15_contract_far_beyond_the_approved_budget_is_recorded_and_flagged(
        court: Court) -> None:
    project = court.approved("2025-03-18 15:00")  # approved budget 2,580,000.00 yuan
    contract = court.ok("2025-03-20 10:00", "edu-wang", "ContractFiled",
                        payload("ContractFiled", signed_on="2025-03-19",
                                amount_fen=900_000_000), project)
    flag = court.flags(project)["contract_over_budget"]
    assert flag["article"] == "Art. 15"
    assert "超支不补" in flag["quote_zh"]
    assert flag["caused_by"] == [contract["entry_hash"]]
    court.ok("2025-03-25 10:00", "finance-zhao", "FundingArranged",
             payload("FundingArranged", amount_fen=900_000_000), project)
    # Payments stay within the approved budget whatever the contract says.
    _refused(court.file("2025-03-26 10:00", "finance-zhao", "FundsDisbursed",
                        payload("FundsDisbursed", amount_fen=258_000_001), project),
             "exceeds_arranged_or_approved", "Art. 15", "超支不补")


# --- Art. 19: 对未经验收的项目，不得拨付后续建设资金和运行维护经费


def test_art19_om_funds_need_the_acceptance_report_even_if_completion_is_never_filed(
        court: Court) -> None:
    project = court.approved("2025-03-18 15:00")
    court.ok("2025-04-01 10:00", "finance-zhao", "FundingArranged",
             payload("FundingArranged", kind="operation_maintenance", amount_fen=1_000_000),
             project)  # arranging is allowed: Art. 19 says 不得拨付 (not paid)
    _refused(court.file("2025-04-02 10:00", "finance-zhao", "FundsDisbursed",
                        payload("FundsDisbursed", kind="operation_maintenance",
                                amount_fen=500_000, contract_no=None), project),
             "acceptance_required", "Art. 19", "运行维护经费")


def test_art19_preliminary_acceptance_without_completion_starts_the_acceptance_rules(
        court: Court) -> None:
    project = court.approved("2025-03-18 15:00")
    court.ok("2025-04-01 10:00", "finance-zhao", "FundingArranged", payload("FundingArranged"),
             project)
    court.ok("2025-09-01 10:00", "edu-wang", "PreliminaryAcceptanceCompleted",
             payload("PreliminaryAcceptanceCompleted", completed_on="2025-09-01"), project)
    _refused(court.file("2025-09-05 10:00", "finance-zhao", "FundsDisbursed",
                        payload("FundsDisbursed"), project),
             "acceptance_required", "Art. 19", "后续建设资金")
    acceptance = court.obligation(project, "acceptance")
    assert acceptance["due"] == "2025-12-01"  # 3 months after the preliminary acceptance
    assert "preliminary acceptance" in acceptance["detail"]


def test_art19_acceptance_met_long_before_its_deadline_needs_no_calendar_year(
        court: Court) -> None:
    project = court.approved("2025-03-18 15:00")
    court.ok("2026-11-20 10:00", "edu-wang", "ConstructionCompleted",
             payload("ConstructionCompleted", completed_on="2026-11-20"), project)
    court.ok("2026-12-01 10:00", "edu-wang", "AcceptanceReportFiled",
             payload("AcceptanceReportFiled", accepted_on="2026-12-01"), project)
    acceptance = court.obligation(project, "acceptance")
    # Due 2027-02-20 or the next working day: 2027's holidays are not loaded, but a holiday
    # only moves a deadline later, so an acceptance on 2026-12-01 is met whatever they are.
    assert (acceptance["status"], acceptance["missing_year"]) == ("met", 2027)


def test_art19_extension_requested_after_the_deadline_is_recorded_and_flagged(
        court: Court) -> None:
    project = court.approved("2025-03-18 15:00")
    court.ok("2025-05-30 10:00", "edu-wang", "ConstructionCompleted",
             payload("ConstructionCompleted", completed_on="2025-05-30"), project)
    court.ok("2025-09-15 10:00", "edu-wang", "AcceptanceExtensionRequested",
             payload("AcceptanceExtensionRequested", new_deadline="2025-11-30"), project)
    flag = court.flags(project)["extension_requested_late"]
    assert flag["article"] == "Art. 19"
    assert "应提出延期验收申请" in flag["quote_zh"]
    assert "2025-09-01" in flag["detail"]  # 2025-08-30 is a Saturday: carried to Monday


def test_art19_acceptance_dated_before_completion_is_refused(court: Court) -> None:
    project = court.approved("2025-03-18 15:00")
    court.ok("2025-05-30 10:00", "edu-wang", "ConstructionCompleted",
             payload("ConstructionCompleted", completed_on="2025-05-30"), project)
    _refused(court.file("2025-06-10 10:00", "edu-wang", "AcceptanceReportFiled",
                        payload("AcceptanceReportFiled", accepted_on="2025-05-20"), project),
             "not_completed", "Art. 19", "竣工验收")


# --- Art. 20: 竣工验收并投入使用或运营后12至24个月内……开展自评价


def test_art20_self_evaluation_before_its_window_is_flagged_without_the_calendar_year(
        court: Court) -> None:
    project = court.approved("2025-03-18 15:00")
    court.ok("2026-03-31 10:00", "edu-wang", "ConstructionCompleted",
             payload("ConstructionCompleted", completed_on="2026-03-31"), project)
    court.ok("2026-06-01 10:00", "edu-wang", "AcceptanceReportFiled",
             payload("AcceptanceReportFiled", accepted_on="2026-06-01"), project)
    court.ok("2026-07-01 10:00", "edu-wang", "SelfEvaluationSubmitted",
             payload("SelfEvaluationSubmitted"), project)
    flag = court.flags(project)["self_evaluation_late"]
    assert flag["article"] == "Art. 20"
    assert "12至24个月内" in flag["quote_zh"]
    assert "2027-06-01" in flag["detail"]  # the window opens 12 months after acceptance
    evaluation = court.obligation(project, "self_evaluation")
    assert evaluation["met_by"] is None  # an early report does not meet the obligation


def test_art20_self_evaluation_before_acceptance_is_flagged(court: Court) -> None:
    project = court.approved("2025-03-18 15:00")
    court.ok("2025-06-01 10:00", "edu-wang", "SelfEvaluationSubmitted",
             payload("SelfEvaluationSubmitted"), project)
    assert "before the project was accepted" in court.flags(project)["self_evaluation_late"][
        "detail"]


# --- Art. 22: 不能进行信息共享……由……“首席数据代表”批准后,方可建设或者保留


def test_art22_exemption_is_checked_against_the_finding_it_exempts(court: Court) -> None:
    project = court.approved("2025-03-18 15:00")
    duplicate = court.ok("2025-05-01 10:00", "office-li", "SharingNonComplianceFound",
                         payload("SharingNonComplianceFound"), project)  # duplicate collection
    _refused(court.file("2025-05-10 10:00", "cdr-qian", "SharingExemptionGranted",
                        payload("SharingExemptionGranted", finding_seq=duplicate["seq"]),
                        project),
             "exemption_not_applicable", "Art. 22", "首席数据代表")
    unknown = court.file("2025-05-10 11:00", "cdr-qian", "SharingExemptionGranted",
                         payload("SharingExemptionGranted", finding_seq=99), project)
    assert (unknown.status_code, unknown.json()["rule"]) == (409, "unknown_reference")
    # An exemption granted without naming a finding does not excuse duplicate collection.
    court.ok("2025-05-11 10:00", "cdr-qian", "SharingExemptionGranted",
             payload("SharingExemptionGranted"), project)
    standing = court.client.get("/api/v1/units/edu/standing", headers=court.headers("office-li"))
    assert standing.json()["barred"] is True
    not_shared = court.ok("2025-06-01 10:00", "office-li", "SharingNonComplianceFound",
                          payload("SharingNonComplianceFound", issue="not_shared"), project)
    court.ok("2025-06-10 10:00", "cdr-qian", "SharingExemptionGranted",
             payload("SharingExemptionGranted", finding_seq=not_shared["seq"]), project)
    reasons = [r["caused_by"] for r in court.views(project)["views"]["eligibility"]["state"][
        "operation_maintenance"]["reasons"] if r["rule"] == "sharing_non_compliance"]
    assert reasons == [[duplicate["entry_hash"]]]  # the not_shared one is exempted


# --- Art. 26: 未完成目录编制和数据归集工作……的，不再安排项目运行维护经费


def test_art26_no_preliminary_acceptance_filed_the_catalogue_clock_runs_from_acceptance(
        court: Court) -> None:
    project = court.approved("2025-03-18 15:00")
    court.ok("2025-06-30 10:00", "edu-wang", "ConstructionCompleted",
             payload("ConstructionCompleted", completed_on="2025-06-30"), project)
    report = payload("AcceptanceReportFiled", accepted_on="2025-09-01")
    report["sharing_catalogue"] = {"included": False, "catalogue_codes": [],
                                   "remarks": "信息资源尚未纳入共享目录"}
    accepted = court.ok("2025-09-01 10:00", "edu-wang", "AcceptanceReportFiled", report, project)
    catalogue = court.obligation(project, "catalogue")
    assert (catalogue["due"], catalogue["caused_by"]) == ("2025-09-15",
                                                          [accepted["entry_hash"]])
    # Within the ten working days O&M funds may still be arranged; after them, not.
    court.ok("2025-09-12 10:00", "finance-zhao", "FundingArranged",
             payload("FundingArranged", kind="operation_maintenance", amount_fen=1_000_000),
             project)
    _refused(court.file("2025-10-20 10:00", "finance-zhao", "FundingArranged",
                        payload("FundingArranged", kind="operation_maintenance",
                                amount_fen=1_000_000), project),
             "catalogue_not_completed", "Art. 26", "不再安排项目运行维护经费")
    _refused(court.file("2025-10-20 11:00", "finance-zhao", "FundsDisbursed",
                        payload("FundsDisbursed", kind="operation_maintenance",
                                amount_fen=500_000, contract_no=None), project),
             "catalogue_not_completed", "Art. 26", "不再安排项目运行维护经费")
    court.ok("2025-10-21 10:00", "edu-wang", "CatalogCompleted", payload("CatalogCompleted"),
             project)
    court.ok("2025-10-22 10:00", "finance-zhao", "FundsDisbursed",
             payload("FundsDisbursed", kind="operation_maintenance", amount_fen=500_000,
                     contract_no=None), project)
    assert court.obligation(project, "catalogue")["status"] == "met_late"
