"""A synthetic project-library spreadsheet for the import tests and the import benchmark.

:func:`library` builds ``projects`` projects of five rows each (项目, 评审意见, 资金安排, 合同备案,
资金拨付) and, when asked, spoils 50 of the rows on purpose, ten of each kind, recording what the
import must say about each: :data:`Spoilt`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ledger.measures.importing import SHEETS

Row = dict[str, Any]


@dataclass
class Book:
    """Sheet name → data rows (header → value), and what each spoilt row must report."""

    sheets: dict[str, list[Row]] = field(default_factory=dict)
    expected: dict[tuple[str, int], tuple[str, str]] = field(default_factory=dict)
    """(sheet, row number) → (status, rule) for every row that is not simply filed."""

    def add(self, sheet: str, row: Row) -> int:
        """Append a row; its row number as the spreadsheet shows it (headers are row 1)."""
        rows = self.sheets.setdefault(sheet, [])
        rows.append(row)
        return len(rows) + 1

    def rows(self) -> int:
        """Data rows in all."""
        return sum(len(rows) for rows in self.sheets.values())

    def write_xlsx(self, path: Path) -> Path:
        """Write the book as the template's sheets (every header, in the template's order)."""
        from openpyxl import Workbook  # noqa: PLC0415

        book = Workbook()
        book.remove(book.active)
        for spec in SHEETS:
            ws = book.create_sheet(spec.name)
            headers = [c.header for c in spec.columns]
            ws.append(headers)
            for row in self.sheets.get(spec.name, []):
                ws.append([row.get(h) for h in headers])
        book.save(path)
        return path


def library(projects: int, units: Sequence[str], *, spoil: bool = False,
            prefix: str = "GX") -> Book:
    """``projects`` projects, five rows each; with ``spoil``, 50 rows spoilt (projects 0–49):

    * 0–4 a contract signed on 30 February (bad date), 5–9 one signed in 2099 (future date);
    * 10–19 a contract signed and filed before the approving opinion (approval_required);
    * 20–29 a unit that is not registered;
    * 30–34 a contract amount written in 元 (``"2985000元"``), 35–39 a 元 figure typed as 万元;
    * 40–49 the contract row twice (the disbursement row left out, so the count stays).
    A spoilt row refuses its project: its other rows are held (duplicates hold nothing).
    """
    book = Book()
    for n in range(projects):
        code = f"{prefix}-{n:05d}"
        unit = units[n % len(units)]
        bad = n if spoil and n < 50 else None
        contract_no = f"HT-{n:05d}"
        refused: tuple[str, int] | None = None
        application = book.add("项目", {
            "项目编号": code, "建设单位": "不存在的单位" if bad is not None and 20 <= bad < 30
            else unit, "项目名称": f"信息化项目 {n}", "项目类别": "新建", "申报年度": 2025,
            "申报金额（万元）": 350, "申报日期": date(2024, 10, 9), "涉及新建土建工程": "否",
            "信息资源名称": "业务数据", "数据来源": "本单位业务采集", "资源格式": "数据库",
            "更新周期": "每日", "共享属性": "无条件共享", "开放属性": "不予开放"})
        if bad is not None and 20 <= bad < 30:
            refused = ("项目", application)
            book.expected[refused] = ("refused", "import_unknown_unit")
        opinion = book.add("评审意见", {
            "项目编号": code, "评审结论": "通过", "核定预算（万元）": 320, "意见摘要": "同意立项",
            "意见日期": date(2024, 11, 20)})
        arranged = book.add("资金安排", {
            "项目编号": code, "预算年度": 2025, "资金类型": "建设资金", "金额（万元）": 320,
            "资金来源": "区级财政预算", "安排日期": date(2025, 1, 15)})
        contract: Row = {
            "项目编号": code, "合同编号": contract_no, "供应商": "聊城智联信息技术有限公司",
            "合同金额（万元）": 298.5, "签订日期": date(2025, 3, 3), "采购方式": "公开招标",
            "备案日期": date(2025, 3, 6)}
        rule = None
        if bad is not None and bad < 5:
            contract["签订日期"], rule = "2025-02-30", "import_bad_date"
        elif bad is not None and bad < 10:
            contract["签订日期"], rule = "2099-03-03", "future_date"
        elif bad is not None and bad < 20:
            contract["签订日期"], contract["备案日期"] = date(2024, 11, 1), date(2024, 11, 5)
            rule = "approval_required"
        elif bad is not None and 30 <= bad < 35:
            contract["合同金额（万元）"], rule = "2985000元", "import_amount_unit"
        elif bad is not None and 35 <= bad < 40:
            contract["合同金额（万元）"], rule = 2985000, "import_amount_unit"
        row = book.add("合同备案", contract)
        if rule is not None:
            refused = ("合同备案", row)
            book.expected[refused] = ("refused", rule)
        if bad is not None and 40 <= bad < 50:
            again = book.add("合同备案", dict(contract))
            book.expected[("合同备案", again)] = ("duplicate", "import_duplicate_row")
            continue
        paid = book.add("资金拨付", {
            "项目编号": code, "资金类型": "建设资金", "金额（万元）": 89.55,
            "合同编号": contract_no, "拨付日期": date(2025, 3, 20)})
        if refused is not None:
            for where in (("项目", application), ("评审意见", opinion), ("资金安排", arranged),
                          ("合同备案", row), ("资金拨付", paid)):
                if where != refused:
                    book.expected[where] = ("held", "import_project_held")
    return book
