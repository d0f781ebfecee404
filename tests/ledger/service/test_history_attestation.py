"""History attestations (历史记录确认) on SQLite and PostgreSQL: the Office states the day it
received each imported filing, deadlines and the October window judge the entry on that day, a
late filing per the sheet stays flagged, and nobody else, nothing already recorded and no day
after the ledger's own can be attested."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
from importbook import library

from ledger.app import Ledger
from ledger.errors import (
    FutureDateError,
    ProjectNotFoundError,
    RoleNotPermittedError,
    RuleViolationError,
)
from ledger.measures import rules
from ledger.measures.catalogue import EXAMPLES
from ledger.measures.importing import project_stream
from ledger.service.importer import Importer
from projections.replay import replay_project

UNITS = ("edu", "health")
CODE = "GX-00000"


def _import(ledger: Ledger, tmp_path: Path, **changes: dict[str, object]) -> uuid.UUID:
    """Import one project of the library, its rows changed as ``changes`` says (sheet → cells)."""
    book = library(1, UNITS)
    for sheet, cells in changes.items():
        book.sheets[sheet][0].update(cells)
    path = book.write_xlsx(tmp_path / "library.xlsx")
    report = Importer(ledger).run(path.read_bytes(), path.name)
    assert {r.status for r in report.rows} == {"filed"}, report.rows
    return project_stream(ledger.identity.origin, CODE)


def _obligation(ledger: Ledger, stream: uuid.UUID, rule: str) -> str:
    facts = ledger.project(stream).facts
    return next(o.status for o in rules.obligations(facts, date(2025, 6, 1), ledger.calendar)
                if o.rule == rule)


def _flags(ledger: Ledger, stream: uuid.UUID) -> set[str]:
    return {f.rule for f in rules.flags(ledger.project(stream).facts, ledger.calendar)}


def test_art13_a_contract_filed_within_5_working_days_per_the_sheet_is_met(
        ledger: Ledger, tmp_path: Path) -> None:
    stream = _import(ledger, tmp_path)  # signed 2025-03-03, received 2025-03-06
    assert _obligation(ledger, stream, "contract_filing") == "met"
    assert "contract_filing_late" not in _flags(ledger, stream)
    contract = ledger.project(stream).facts.contracts[0]
    assert contract.ref.recorded_on == "2025-03-06"
    assert contract.ref.ledger_recorded_on == ledger.today().isoformat()  # kept beside it


def test_art13_a_contract_filed_late_per_the_sheet_is_flagged(ledger: Ledger,
                                                               tmp_path: Path) -> None:
    stream = _import(ledger, tmp_path, 合同备案={"备案日期": date(2025, 3, 20)})
    assert _obligation(ledger, stream, "contract_filing") == "met_late"
    assert "contract_filing_late" in _flags(ledger, stream)


def test_art6_an_application_received_in_october_per_the_sheet_is_in_the_window(
        ledger: Ledger, tmp_path: Path) -> None:
    stream = _import(ledger, tmp_path)  # 申报日期 2024-10-09
    assert _obligation(ledger, stream, "application_window") == "met"
    assert "application_window_late" not in _flags(ledger, stream)


def test_art6_an_application_received_in_november_per_the_sheet_is_flagged(
        ledger: Ledger, tmp_path: Path) -> None:
    stream = _import(ledger, tmp_path, 项目={"申报日期": date(2024, 11, 4)},
                     评审意见={"意见日期": date(2024, 11, 20)})
    assert _obligation(ledger, stream, "application_window") == "met_late"
    assert "application_window_late" in _flags(ledger, stream)


def test_art14_annual_reports_are_owed_from_the_year_of_the_attested_opinion(
        ledger: Ledger, tmp_path: Path) -> None:
    stream = _import(ledger, tmp_path)  # opinion 2024-11-20
    facts = ledger.project(stream).facts
    owed = [o.due for o in rules.obligations(facts, date(2025, 6, 1), ledger.calendar)
            if o.rule == "annual_report"]
    assert owed[0] == "2024-12-31"


def test_an_attestation_is_the_offices_own_entry_citing_the_spreadsheet(
        ledger: Ledger, tmp_path: Path) -> None:
    stream = _import(ledger, tmp_path)
    events = ledger.events_of(stream)
    attestation = next(e for e in events if e.filing.type == "HistoryAttested")
    assert attestation.filing.actor == "office-li"
    assert attestation.filing.payload["source"] in {
        e.filing.payload.get("document") for e in events}
    assert ledger.project(stream).facts.attestations[0].hash == attestation.entry_hash
    assert ledger.project(stream).facts.attesting == ()  # nothing left pending


def test_replay_as_known_before_the_import_shows_nothing_of_it(ledger: Ledger,
                                                                tmp_path: Path) -> None:
    before = ledger.now()
    stream = _import(ledger, tmp_path)
    with pytest.raises(ProjectNotFoundError):  # neither the rows nor the attestation
        ledger.events_of(stream, as_known_at=before)
    now = replay_project(ledger, stream)
    assert now.flags == [f.to_json() for f in rules.flags(ledger.project(stream).facts,
                                                          ledger.calendar)]


def _contract_with_attestation(ledger: Ledger, stream: uuid.UUID, received_on: str,
                               *, actor: str = "office-li") -> list[object]:
    contract = dict(EXAMPLES["ContractFiled"], contract_no="HT-LATE", signed_on="2025-03-03")
    nonce = uuid.uuid4()
    filing = ledger.prepare("edu-wang", "ContractFiled", contract, stream=stream, nonce=nonce)
    attestation = ledger.prepare(actor, "HistoryAttested", {
        "source": EXAMPLES["ContractFiled"]["document"],
        "entries": [{"nonce": str(nonce), "received_on": received_on}]}, stream=stream)
    return list(ledger.submit_many([attestation, filing]))


def test_art13_an_attested_day_after_today_is_refused(ledger: Ledger, tmp_path: Path) -> None:
    stream = _import(ledger, tmp_path)
    size = ledger.log.tree_size()
    tomorrow = (ledger.today() + timedelta(days=1)).isoformat()
    results = _contract_with_attestation(ledger, stream, tomorrow)
    assert isinstance(results[0], FutureDateError)
    # Each filing of a group commit stands alone: the contract goes in, judged on its own day.
    assert ledger.log.tree_size() == size + 1
    late = ledger.project(stream).facts.contracts[-1]
    assert (late.contract_no, late.ref.recorded_on) == ("HT-LATE", ledger.today().isoformat())
    assert late.ref.ledger_recorded_on is None
    # Today is the ledger's own day for an entry appended now: the latest it may be attested.
    results = _contract_with_attestation(ledger, stream, ledger.today().isoformat())
    assert not [r for r in results if isinstance(r, Exception)]
    assert ledger.log.tree_size() == size + 3


def test_art13_a_unit_cannot_attest_its_own_filing(ledger: Ledger, tmp_path: Path) -> None:
    stream = _import(ledger, tmp_path)
    with pytest.raises(RoleNotPermittedError, match=r"filed by office; Art\. 6, 13, 14, 19"):
        _contract_with_attestation(ledger, stream, "2025-03-04", actor="edu-wang")


def test_art13_an_entry_already_recorded_cannot_be_attested(ledger: Ledger,
                                                            tmp_path: Path) -> None:
    stream = _import(ledger, tmp_path, 合同备案={"备案日期": date(2025, 3, 20)})
    contract = next(e for e in ledger.events_of(stream) if e.filing.type == "ContractFiled")
    attestation = ledger.prepare("office-li", "HistoryAttested", {
        "source": EXAMPLES["ContractFiled"]["document"],
        "entries": [{"nonce": str(contract.filing.nonce), "received_on": "2025-03-06"}]},
        stream=stream)
    with pytest.raises(RuleViolationError, match="already on the ledger") as refused:
        ledger.submit(attestation)
    assert refused.value.rule == "history_attestation"
    assert "contract_filing_late" in _flags(ledger, stream)  # the record stands as it was


def test_art13_an_attestation_whose_entries_do_not_follow_is_refused(
        ledger: Ledger, tmp_path: Path) -> None:
    stream = _import(ledger, tmp_path)
    size = ledger.log.tree_size()
    attestation = ledger.prepare("office-li", "HistoryAttested", {
        "source": EXAMPLES["ContractFiled"]["document"],
        "entries": [{"nonce": str(uuid.uuid4()), "received_on": "2025-03-06"}]}, stream=stream)
    with pytest.raises(RuleViolationError, match="follow"):
        ledger.submit(attestation)
    # Nor can it be filed alone now and the entry it names later (by a unit that picks that
    # nonce, say): the entries must follow in the same group commit.
    contract = dict(EXAMPLES["ContractFiled"], contract_no="HT-2", signed_on="2025-03-03")
    named = uuid.uuid4()
    attestation = ledger.prepare("office-li", "HistoryAttested", {
        "source": EXAMPLES["ContractFiled"]["document"],
        "entries": [{"nonce": str(named), "received_on": "2025-03-06"},
                    {"nonce": str(uuid.uuid4()), "received_on": "2025-03-06"}]},
        stream=stream)
    filing = ledger.prepare("edu-wang", "ContractFiled", contract, stream=stream, nonce=named)
    results = ledger.submit_many([attestation, filing])
    assert isinstance(results[1], RuleViolationError)
    assert ledger.log.tree_size() == size + 1  # the attestation alone, which dates nothing
    # A later filing under a nonce it named (a unit may choose its nonces) is refused, and
    # could not be dated by it anyway: it dates only entries of its own commit.
    again = ledger.prepare("edu-wang", "ContractFiled", contract, stream=stream, nonce=named)
    with pytest.raises(RuleViolationError, match="earlier history attestation"):
        ledger.submit(again)
    other = dict(contract, contract_no="HT-3")
    ledger.submit(ledger.prepare("edu-wang", "ContractFiled", other, stream=stream))
    facts = ledger.project(stream).facts
    assert facts.attesting == ()
    assert facts.contracts[-1].ref.ledger_recorded_on is None
