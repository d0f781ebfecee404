"""Spreadsheet rows as filings (pure): 万元 to fen exactly, dates, nonces, problems in Chinese."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from ledger.measures.catalogue import validate_payload
from ledger.measures.importing import (
    SHEET_BY_NAME,
    Context,
    DuplicateRow,
    PlannedRow,
    RejectedRow,
    _CellError,
    article_zh,
    fen_to_wan,
    plan_import,
    project_stream,
    read_date,
    wan_to_fen,
)

SOURCE = "ab" * 32
CTX = Context("ledger.test/projects", SOURCE, {"edu": "edu", "教育和体育部": "edu"})


@pytest.mark.parametrize(("cell", "fen"), [
    (350, 350_000_000), (12.5, 12_500_000), (298.5, 298_500_000), ("0.000001", 1),
    ("1,234.5万元", 1_234_500_000), ("89.55万", 89_550_000), (0.1, 100_000),
    (99_999.999999, 99_999_999_999), ("  7 ", 7_000_000),
])
def test_wan_becomes_fen_exactly(cell: object, fen: int) -> None:
    assert wan_to_fen(cell) == fen  # type: ignore[arg-type]
    assert wan_to_fen(fen_to_wan(fen)) == fen


@pytest.mark.parametrize(("cell", "rule", "words"), [
    ("2985000元", "import_amount_unit", "以元填写"),
    (2_985_000, "import_amount_unit", "疑为以元填写"),
    (100_000, "import_amount_unit", "疑为以元填写"),
    ("0.0000001", "import_bad_amount", "精确不到分"),
    (0, "import_bad_amount", "应大于零"),
    ("-3", "import_bad_amount", "应大于零"),
    ("三百万", "import_bad_amount", "不是数字金额"),
    (True, "import_bad_amount", "不是数字"),
])
def test_amounts_that_are_not_wan_are_refused(cell: object, rule: str, words: str) -> None:
    with pytest.raises(_CellError) as caught:
        wan_to_fen(cell)  # type: ignore[arg-type]
    assert caught.value.rule == rule
    assert words in caught.value.message_zh


@pytest.mark.parametrize("cell", ["2024-10-09", "2024/10/9", "2024.10.09", "2024年10月9日",
                                  date(2024, 10, 9), datetime(2024, 10, 9)])
def test_dates_in_the_forms_officials_write(cell: object) -> None:
    assert read_date(cell) == date(2024, 10, 9)  # type: ignore[arg-type]


@pytest.mark.parametrize("cell", ["2025-02-30", "20241009", "10/9/2024", datetime(2024, 10, 9, 9)])
def test_bad_dates_are_refused(cell: object) -> None:
    with pytest.raises(_CellError) as caught:
        read_date(cell)  # type: ignore[arg-type]
    assert caught.value.rule == "import_bad_date"


def test_articles_in_chinese() -> None:
    assert [article_zh(n) for n in (6, 9, 10, 13, 20, 22, 34)] == [
        "第六条", "第九条", "第十条", "第十三条", "第二十条", "第二十二条", "第三十四条"]
    assert article_zh("Art. 22(1)") == "第二十二条第一款"


def _contract(**changes: object) -> dict[str, object]:
    row: dict[str, object] = {"项目编号": "GX-1", "合同编号": "HT-1",
                              "供应商": "聊城智联信息技术有限公司",
                              "合同金额（万元）": 298.5, "签订日期": date(2025, 3, 3),
                              "采购方式": "公开招标", "备案日期": date(2025, 3, 6)}
    row.update(changes)
    return row


def test_a_contract_row_is_the_contract_filing_it_describes() -> None:
    plan = plan_import({"合同备案": [(2, _contract())]}, CTX)  # type: ignore[dict-item]
    (row,) = plan.rows
    assert isinstance(row, PlannedRow)
    assert row.event_type == "ContractFiled"
    assert row.effective == date(2025, 3, 6)
    assert row.stream == project_stream(CTX.origin, "GX-1")
    assert row.payload == {"contract_no": "HT-1", "supplier": "聊城智联信息技术有限公司",
                           "amount_fen": 298_500_000, "signed_on": "2025-03-03",
                           "procurement_method": "public_tender", "document": SOURCE}
    validate_payload("ContractFiled", row.payload)


def test_a_rows_nonce_is_its_project_and_values_not_its_place_or_file() -> None:
    first = plan_import({"合同备案": [(2, _contract())]}, CTX).rows[0]  # type: ignore[dict-item]
    moved = plan_import({"合同备案": [(9, _contract())]},  # type: ignore[dict-item]
                        Context(CTX.origin, "cd" * 32, CTX.units)).rows[0]
    changed = plan_import({"合同备案": [(2, _contract(合同编号="HT-2"))]}, CTX).rows[0]  # type: ignore[dict-item]
    assert isinstance(first, PlannedRow)
    assert isinstance(moved, PlannedRow)
    assert isinstance(changed, PlannedRow)
    assert first.nonce == moved.nonce != changed.nonce


def test_the_same_row_twice_is_one_fact() -> None:
    plan = plan_import({"合同备案": [(2, _contract()), (3, _contract())]}, CTX)  # type: ignore[dict-item]
    assert isinstance(plan.rows[1], DuplicateRow)
    assert str(plan.rows[1].first) == "合同备案!2"


def test_problems_name_the_column_rule_and_article_in_chinese() -> None:
    plan = plan_import({"合同备案": [(2, _contract(签订日期="2025-02-30", 采购方式="拍卖"))]},  # type: ignore[dict-item]
                       CTX)
    (row,) = plan.rows
    assert isinstance(row, RejectedRow)
    assert [(p.rule, p.article, p.column) for p in row.problems] == [
        ("import_bad_date", "第十三条", "签订日期"), ("import_bad_choice", "第十三条", "采购方式")]
    assert "不是有效日期" in row.problems[0].message_zh


def test_an_unknown_unit_and_a_missing_cell_are_refused() -> None:
    spec = SHEET_BY_NAME["项目"]
    cells = {c.header: c.example for c in spec.columns}
    plan = plan_import({"项目": [(2, {**cells, "建设单位": "无此单位"}),  # type: ignore[dict-item]
                                 (3, {**cells, "项目编号": "GX-2", "项目名称": None}),
                                 (4, {**cells, "项目编号": "GX-3", "建设单位": "教育和体育部"})]},
                       CTX)
    unknown, missing, named = plan.rows
    assert isinstance(unknown, RejectedRow)
    assert unknown.problems[0].rule == "import_unknown_unit"
    assert isinstance(missing, RejectedRow)
    assert missing.problems[0].rule == "import_missing"
    assert isinstance(named, PlannedRow)
    assert named.unit == "edu"


def test_every_template_example_row_is_a_valid_filing() -> None:
    sheets = {spec.name: [(2, {c.header: c.example for c in spec.columns})]
              for spec in SHEET_BY_NAME.values()}
    plan = plan_import(sheets, CTX)  # type: ignore[arg-type]
    assert len(plan.rows) == len(SHEET_BY_NAME)
    assert all(isinstance(row, PlannedRow) for row in plan.rows), plan.rows


def test_sheets_outside_the_template_are_named() -> None:
    assert plan_import({"其他": [(2, {"a": 1})]}, CTX).unknown_sheets == ("其他",)
