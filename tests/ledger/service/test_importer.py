"""``ledger import`` on SQLite and PostgreSQL: the template round trip, a 1,000-row library with 50
spoilt rows reported exactly, dry runs that write nothing, and re-runs that file only what is
missing."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
import typer
from importbook import Book, library
from typer.testing import CliRunner

from api import cli_import
from ledger.app import Ledger
from ledger.errors import ValidationFailedError
from ledger.measures import rules
from ledger.measures.importing import SHEETS, project_stream
from ledger.service.importer import Importer, read_workbook, write_template

UNITS = ("edu", "health")


def _statuses(report_rows: object) -> dict[tuple[str, int], tuple[str, str]]:
    found = {}
    for row in report_rows:  # type: ignore[attr-defined]
        if row.status not in ("filed", "would_file", "recorded"):
            found[(row.ref.sheet, row.ref.row)] = (row.status, row.problems[0].rule)
    return found


def test_the_template_round_trip(ledger: Ledger, tmp_path: Path) -> None:
    path = tmp_path / "项目库导入模板.xlsx"
    write_template(path, examples=True)
    data = path.read_bytes()
    sheets = read_workbook(data, path.name)
    assert list(sheets)[1:] == [spec.name for spec in SHEETS]
    for spec in SHEETS:
        ((number, cells),) = sheets[spec.name]
        assert number == 2
        assert list(cells) == [c.header for c in spec.columns]
    report = Importer(ledger).run(data, path.name)
    assert report.counts()["filed"] == len(SHEETS)
    project = ledger.project(project_stream(ledger.identity.origin, "GX-2024-001"))
    facts = project.facts
    assert facts.title == "智慧校园一期"
    assert facts.budget_estimate_fen == 350_000_000
    assert facts.approved_budget_fen == 320_000_000
    assert [c.amount_fen for c in facts.contracts] == [298_500_000]
    assert facts.disbursed_construction_fen == 89_550_000
    # Every entry is the unit's or the office's own, dated as the sheet says, citing the sheet.
    sha = hashlib.sha256(data).hexdigest()
    events = ledger.events_of(project.id)
    # The Office's history attestation follows the opening application and names the others.
    assert [e.filing.actor for e in events] == [
        "edu-wang", "office-li", "office-li", "finance-zhao", "edu-wang", "finance-zhao",
        "edu-wang", "edu-wang", "edu-wang"]
    attestation = events[1].filing
    assert attestation.type == "HistoryAttested"
    assert [e.filing.effective.isoformat() for e in events][::2][:2] == [
        "2024-10-09", "2024-11-20"]
    assert all(sha in json.dumps(e.filing.payload) for e in events
               if e.filing.type != "ConstructionCompleted")
    # Every row whose sheet gives the Office's date of receipt is attested with it; completion
    # has none.
    named = {item["nonce"]: item["received_on"] for item in attestation.payload["entries"]}
    assert named == {str(e.filing.nonce): e.filing.effective.isoformat() if
                     e.filing.type != "ProgressReported" else "2025-12-22"
                     for e in events if e.filing.type not in (
                         "HistoryAttested", "ConstructionCompleted")}
    assert [(a.status, a.entries) for a in report.attestations] == [("filed", 7)]
    assert facts.application is not None
    assert facts.application.recorded_on == "2024-10-09"
    assert facts.application.ledger_recorded_on == ledger.today().isoformat()
    assert ledger.log.get_document(sha) is not None
    again = Importer(ledger).run(data, path.name)
    assert again.counts()["recorded"] == len(SHEETS)
    assert again.counts()["filed"] == 0
    assert again.attestations == ()


def test_a_thousand_rows_with_fifty_spoilt(ledger: Ledger, tmp_path: Path) -> None:
    book = library(200, UNITS, spoil=True)
    assert book.rows() == 1000
    assert len([e for e in book.expected.values()
                                        if e[0] != "held"]) == 50
    path = book.write_xlsx(tmp_path / "library.xlsx")
    data = path.read_bytes()
    size = ledger.log.tree_size()

    dry = Importer(ledger).run(data, path.name, dry_run=True)
    assert dry.counts() == {"filed": 0, "would_file": 790, "recorded": 0, "duplicate": 10,
                            "refused": 40, "held": 160}
    assert _statuses(dry.rows) == book.expected
    # The sheet's contracts were filed within 5 working days of signing and its applications in
    # October, as the Office's attestation (one per project that goes in) says: no lateness.
    assert Counter((a.status, a.entries) for a in dry.attestations) == {
        ("would_file", 5): 150, ("would_file", 4): 10, ("held", 5): 15}
    assert not [f for r in dry.rows for f in r.flags]
    assert ledger.log.tree_size() == size
    assert ledger.log.get_document(dry.source_sha256) is None  # a dry run writes nothing

    report = Importer(ledger).run(data, path.name)
    assert report.counts() == {"filed": 790, "would_file": 0, "recorded": 0, "duplicate": 10,
                               "refused": 40, "held": 160}
    assert _statuses(report.rows) == book.expected
    assert report.projects() == {"filed": 160, "held": 40}
    assert Counter(a.status for a in report.attestations) == {"filed": 160, "held": 15}
    assert ledger.log.tree_size() == size + 790 + 160
    assert not [f for r in report.rows for f in r.flags]
    project = ledger.project(project_stream(ledger.identity.origin, "GX-00199"))
    assert {o.rule: o.status for o in rules.obligations(project.facts, date(2025, 12, 1))
            if o.rule in ("application_window", "contract_filing")} == {
        "application_window": "met", "contract_filing": "met"}
    refusals = {(r.ref.sheet, r.ref.row): r.problems[0] for r in report.rows
                if r.status == "refused"}
    approval = next(p for p in refusals.values() if p.rule == "approval_required")
    assert approval.article == "第九条"
    assert "评审意见是项目立项" in approval.message_zh
    # A project with a refused row has no entry at all.
    assert ledger.log.leaf_for_nonce(str(next(
        r for r in report.rows if r.status == "held").ref)) is None
    held_project = next(r.project for r in report.rows if r.status == "held")
    assert ledger.cache.current(project_stream(ledger.identity.origin, str(held_project)),
                                fresh=True) is None

    rerun = Importer(ledger).run(data, path.name)
    assert rerun.counts()["filed"] == 0
    assert rerun.counts()["recorded"] == 790
    assert {a.status for a in rerun.attestations} == {"held"}
    assert ledger.log.tree_size() == size + 790 + 160

    # The office corrects the ten unknown units and runs the corrected copy: only they go in.
    for row in book.sheets["项目"]:
        if row["建设单位"] == "不存在的单位":
            row["建设单位"] = "教育和体育部"
    fixed = Importer(ledger).run(book.write_xlsx(tmp_path / "fixed.xlsx").read_bytes(),
                                 "fixed.xlsx")
    assert fixed.counts()["filed"] == 50
    assert fixed.counts()["recorded"] == 790
    assert ledger.log.tree_size() == size + 840 + 170


def test_a_csv_sheet_adds_to_an_imported_project(ledger: Ledger, tmp_path: Path) -> None:
    first = library(1, UNITS)
    Importer(ledger).run(first.write_xlsx(tmp_path / "a.xlsx").read_bytes(), "a.xlsx")
    headers = [c.header for c in SHEETS[3].columns]
    text = (",".join(headers) + "\n"
            + "GX-00000,HT-9,山东瀚海数据服务有限公司,,12.3456,2025-05-06,竞争性磋商,2025-05-07\n")
    report = Importer(ledger).run(text.encode("utf-8-sig"), "合同备案.csv")
    assert [r.status for r in report.rows] == ["filed"]
    facts = ledger.project(project_stream(ledger.identity.origin, "GX-00000")).facts
    assert [c.amount_fen for c in facts.contracts] == [298_500_000, 12_345_600]
    with pytest.raises(ValidationFailedError, match="UTF-8"):
        Importer(ledger).run(text.encode("gb18030"), "合同备案.csv")


def _cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _group() -> None:
        """Test app."""

    cli_import.register(app)
    return app


def test_the_command_reports_and_exits_1_on_refusals(ledger: Ledger, tmp_path: Path) -> None:
    book: Book = library(60, UNITS, spoil=True)
    path = book.write_xlsx(tmp_path / "library.xlsx")
    env = {"LEDGER_DATABASE_URL": ledger.settings.database_url, "LEDGER_ENVIRONMENT": "test"}
    runner = CliRunner()
    result = runner.invoke(_cli(), ["import", str(path), "--dry-run", "--json"], env=env)
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert report["dry_run"] is True
    statuses = Counter(r["status"] for r in report["rows"])
    assert {k: v for k, v in report["counts"].items() if v} == dict(statuses)
    assert report["counts"]["would_file"] == 90
    assert report["counts"]["refused"] == 40
    assert [a["status"] for a in report["attestations"]].count("would_file") == 20
    table = runner.invoke(_cli(), ["import", str(path)], env=env)
    assert table.exit_code == 1
    assert "不予登记" in table.output
    assert "第九条" in table.output
    assert "历史记录确认" in table.output
    template = runner.invoke(_cli(), ["import", "--template", str(tmp_path / "t.xlsx")], env=env)
    assert template.exit_code == 0
    assert (tmp_path / "t.xlsx").exists()
