"""Obligations and flags: Arts. 6, 8, 13, 14, 19, 20, 26, 30, and the calendar boundary."""

from __future__ import annotations

from datetime import date

from rulebook import Script

from ledger.measures import rules
from ledger.measures.calendar import default_calendar

ON = date(2026, 11, 25)


def _by_rule(script: Script, on: date = ON) -> dict[str, list[rules.Obligation]]:
    found: dict[str, list[rules.Obligation]] = {}
    for obligation in rules.obligations(script.facts, on):
        found.setdefault(obligation.rule, []).append(obligation)
    return found


def test_art6_application_outside_october_is_flagged() -> None:
    script = Script()
    script.file("ApplicationFiled", "2024-03-15")
    assert _by_rule(script)["application_window"][0].status == "met_late"
    assert [f.rule for f in rules.flags(script.facts)] == ["application_window_late"]


def test_art8_category_without_special_circumstances_is_flagged_for_review() -> None:
    script = Script()
    script.file("ApplicationFiled", "2024-10-15", special_circumstances=None)
    assert "art8_review" in {f.rule for f in rules.flags(script.facts)}


def test_art13_contract_filed_within_five_working_days_across_national_day() -> None:
    script = Script().approved()
    # Signed Friday 2024-09-27; 9-29 (a Sunday) was a working day, 10-1..10-7 a holiday:
    # the fifth working day after signing is 2024-10-10.
    script.file("ContractFiled", "2024-10-10", signed_on="2024-09-27")
    contract = _by_rule(script)["contract_filing"][0]
    assert (contract.due, contract.status) == ("2024-10-10", "met")


def test_art13_contract_filed_late_is_flagged() -> None:
    script = Script().approved()
    entry = script.file("ContractFiled", "2025-10-15", signed_on="2025-09-26")
    contract = _by_rule(script)["contract_filing"][0]
    assert (contract.due, contract.status) == ("2025-10-10", "met_late")
    flag = next(f for f in rules.flags(script.facts) if f.rule == "contract_filing_late")
    assert flag.article == "Art. 13"
    assert entry.entry_hash in flag.caused_by


def test_art14_annual_report_due_each_year_end_from_approval() -> None:
    script = Script().approved("2024-11-20")
    script.file("ProgressReported", "2024-12-20", year=2024)
    script.file("ProgressReported", "2026-01-10", year=2025)
    reports = {o.detail[-4:]: o.status for o in _by_rule(script)["annual_report"]}
    assert reports == {"2024": "met", "2025": "met_late", "2026": "open"}
    in_2027 = {o.detail[-4:]: o.status for o in _by_rule(script, date(2027, 1, 5))["annual_report"]}
    assert (in_2027["2026"], in_2027["2027"]) == ("overdue", "open")


def test_art19_acceptance_within_three_months_of_completion() -> None:
    script = Script().approved()
    script.file("ConstructionCompleted", "2025-03-14", completed_on="2025-03-14")
    acceptance = _by_rule(script, date(2025, 6, 1))["acceptance"][0]
    # 2025-06-14 is a Saturday: the period ends on Monday 2025-06-16 (Civil Code art. 203).
    assert (acceptance.due, acceptance.status) == ("2025-06-16", "open")
    assert _by_rule(script)["acceptance"][0].status == "overdue"


def test_art19_approved_extension_moves_the_deadline() -> None:
    script = Script().approved()
    script.file("ConstructionCompleted", "2025-03-14", completed_on="2025-03-14")
    request = script.file("AcceptanceExtensionRequested", "2025-06-01",
                          new_deadline="2025-08-29")
    script.file("AcceptanceExtensionDecided", "2025-06-05", actor="office",
                request_seq=request.seq, decision="approved", new_deadline="2025-08-29")
    script.file("AcceptanceReportFiled", "2025-08-20", accepted_on="2025-08-20")
    acceptance = _by_rule(script)["acceptance"][0]
    assert (acceptance.due, acceptance.status) == ("2025-08-29", "met")


def test_art20_self_evaluation_window_is_12_to_24_months_after_acceptance() -> None:
    script = Script().approved()
    script.file("ConstructionCompleted", "2024-06-01", completed_on="2024-06-01")
    script.file("AcceptanceReportFiled", "2024-08-20", accepted_on="2024-08-20")
    assert _by_rule(script, date(2025, 1, 1))["self_evaluation"][0].status == "open"
    script.file("SelfEvaluationSubmitted", "2025-10-01")
    assert _by_rule(script)["self_evaluation"][0].status == "met"


def test_art20_self_evaluation_before_the_window_is_flagged() -> None:
    script = Script().approved()
    script.file("ConstructionCompleted", "2024-06-01", completed_on="2024-06-01")
    script.file("AcceptanceReportFiled", "2024-08-20", accepted_on="2024-08-20")
    script.file("SelfEvaluationSubmitted", "2024-12-01")
    assert "self_evaluation_late" in {f.rule for f in rules.flags(script.facts)}


def test_art26_catalogue_due_ten_working_days_after_preliminary_acceptance() -> None:
    script = Script().approved()
    script.file("PreliminaryAcceptanceCompleted", "2025-09-26", completed_on="2025-09-26")
    catalogue = _by_rule(script, date(2025, 10, 1))["catalogue"][0]
    # 9-28 (Sunday) and 10-11 (Saturday) were working days; 10-1..10-8 a holiday.
    expected = default_calendar().add_working_days(date(2025, 9, 26), 10)
    assert catalogue.due == expected.isoformat()
    assert catalogue.status == "open"


def test_art30_rectification_report_due_by_the_order_deadline() -> None:
    script = Script().approved()
    order = script.file("RectificationOrdered", "2025-05-01", actor="office",
                        deadline="2025-06-30")
    assert _by_rule(script, date(2025, 6, 30))["rectification"][0].status == "open"
    assert _by_rule(script, date(2025, 7, 1))["rectification"][0].status == "overdue"
    script.file("RectificationReported", "2025-07-03", order_seq=order.seq)
    assert _by_rule(script)["rectification"][0].status == "met_late"


def test_deadline_beyond_the_known_calendar_is_pending_naming_the_year() -> None:
    script = Script().approved()
    # Filed eight days after signing: whether that is within 5 working days needs 2027's days.
    script.file("ContractFiled", "2027-01-05", signed_on="2026-12-28")
    contract = _by_rule(script)["contract_filing"][0]
    assert (contract.status, contract.missing_year) == ("pending_calendar", 2027)
