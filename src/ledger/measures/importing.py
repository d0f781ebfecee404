"""The project-library spreadsheet (项目库导入模板) as filings: pure, no I/O.

An office keeps today's project library in Excel, one sheet per kind of fact. This module knows
the template — its sheets, their Chinese column headers and what each cell may hold — and turns
the rows of a filled-in copy into the filings they describe: event type, the role that files it,
the historical ``effective`` date, and the payload, which cites the spreadsheet itself (stored as
a document) wherever the event asks for a document the office kept on paper. Reading the file,
choosing the actor who signs and appending belong to :mod:`ledger.service.importer`.

Money is written in 万元 as officials write it and converted exactly to integer fen (1 万元 =
1,000,000 分; at most six decimals); a cell written in 元 (``"350000元"``) or a figure of 10 亿元 or
more is refused as a likely 元/万元 mix-up. A row's nonce is derived from the project's id and the
row's own values, not from its position or the file's bytes, so a corrected copy of the
spreadsheet files only the rows not yet recorded, and two identical rows are one fact.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from ledger.errors import ValidationFailedError
from ledger.log.canonical import JSONValue, canonical_bytes
from ledger.measures.catalogue import spec_for, validate_payload
from ledger.measures.roles import Role

Cell = str | int | float | bool | date | datetime | None
"""A spreadsheet cell as read: text, a number, a boolean, a date, or empty."""

CellKind = Literal["text", "date", "wan", "year", "bool", "choice"]

FEN_PER_WAN = 1_000_000
"""1 万元 = 10,000 元 = 1,000,000 分."""

WAN_CEILING = 100_000
"""A figure of 100,000 万元 (10 亿元) or more is taken for one written in 元: the zone's projects
are orders of magnitude smaller."""

IMPORT_NAMESPACE = uuid.UUID("5b0f6a52-8a4e-5d3c-9a51-6c1e3f0d2b47")
"""The UUID namespace of imported projects' ids and rows' nonces (RFC 9562 version 5)."""

_CN_DIGITS = "零一二三四五六七八九"


def article_zh(article: str | int) -> str:
    """``"Art. 13"`` or ``13`` → ``第十三条``; ``"Art. 22(1)"`` → ``第二十二条第一款``."""
    text = str(article)
    match = re.fullmatch(r"(?:Art\. )?(\d+)(?:\((\d+)\))?", text)
    if match is None:
        return text
    number = int(match.group(1))
    tens, ones = divmod(number, 10)
    words = ("" if tens == 0 else ("十" if tens == 1 else _CN_DIGITS[tens] + "十")) + (
        _CN_DIGITS[ones] if ones or not tens else "")
    clause = f"第{_CN_DIGITS[int(match.group(2))]}款" if match.group(2) else ""
    return f"第{words}条{clause}"


# --- the template --------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of a sheet: its Chinese header, the key the row builder reads, what it holds."""

    header: str
    key: str
    kind: CellKind = "text"
    required: bool = True
    choices: Mapping[str, str] = field(default_factory=dict)
    """For ``choice``: the words an official writes → the catalogue's value."""
    example: Cell = None


@dataclass(frozen=True)
class SheetSpec:
    """One sheet of the template: a kind of fact, the event it becomes and who files it."""

    name: str
    event_type: str
    role: Role
    columns: tuple[Column, ...]
    effective: str
    """The key of the column that gives the filing's ``effective`` date."""
    received: str | None = None
    """The key of the column that gives the day the Office received the filing (受理日期, from
    its own register), which the import's history attestation states; ``None``: the sheet has
    no such column and its rows are judged on the day the ledger records them."""

    @property
    def articles(self) -> tuple[int, ...]:
        """The articles the event serves (cited by a problem with no article of its own)."""
        return spec_for(self.event_type).articles

    def column(self, key: str) -> Column:
        """The column read as ``key``."""
        return next(c for c in self.columns if c.key == key)


_YES_NO = {"是": "true", "否": "false", "Y": "true", "N": "false"}
_KINDS = {"新建": "new", "扩建": "expansion", "升级改造": "upgrade",
          "运维服务": "operation_maintenance"}
_DECISIONS = {"通过": "approved", "有条件通过": "approved_with_conditions",
              "修改后重新报审": "revise", "不予通过": "rejected"}
_FUNDING_KINDS = {"建设资金": "construction", "运行维护经费": "operation_maintenance"}
_SOURCES = {"区级财政预算": "district_budget", "上级补助": "higher_level_funds",
            "自筹资金": "self_raised", "其他": "other"}
_FORMATS = {"数据库": "database", "电子表格": "spreadsheet", "电子文件": "document",
            "图形图像": "image", "流媒体": "streaming_media", "自描述格式": "structured_file",
            "服务接口": "service_api", "其他": "other"}
_FREQUENCIES = {"实时": "real_time", "每日": "daily", "每周": "weekly", "每月": "monthly",
                "每季度": "quarterly", "每半年": "semiannual", "每年": "annual",
                "不定期": "irregular"}
_SHARING = {"无条件共享": "unconditional", "有条件共享": "conditional", "不予共享": "not_shared"}
_OPENNESS = {"无条件开放": "unconditional", "有条件开放": "conditional", "不予开放": "not_open"}
_METHODS = {"公开招标": "public_tender", "邀请招标": "invited_tender",
            "竞争性谈判": "competitive_negotiation", "竞争性磋商": "competitive_consultation",
            "单一来源采购": "single_source", "询价": "request_for_quotation",
            "框架协议采购": "framework_agreement", "限额以下自行采购": "below_threshold"}

_CODE = Column("项目编号", "project", example="GX-2024-001")

SHEETS: tuple[SheetSpec, ...] = (
    SheetSpec("项目", "ApplicationFiled", Role.UNIT, (
        _CODE,
        Column("建设单位", "unit", example="edu"),
        Column("项目名称", "title", example="智慧校园一期"),
        Column("项目类别", "kind", "choice", choices=_KINDS, example="新建"),
        Column("申报年度", "fiscal_year", "year", example=2025),
        Column("申报金额（万元）", "estimate", "wan", example=350),
        Column("申报日期", "filed_on", "date", example=date(2024, 10, 9)),
        Column("涉及新建土建工程", "civil_works", "bool", required=False, example="否"),
        Column("信息资源名称", "resource", example="学生学籍信息"),
        Column("数据来源", "resource_source", example="本单位业务采集"),
        Column("资源格式", "resource_format", "choice", choices=_FORMATS, example="数据库"),
        Column("更新周期", "resource_update", "choice", choices=_FREQUENCIES, example="每日"),
        Column("共享属性", "sharing", "choice", choices=_SHARING, example="有条件共享"),
        Column("开放属性", "openness", "choice", choices=_OPENNESS, example="不予开放"),
        Column("共享依据", "sharing_basis", required=False, example="《个人信息保护法》"),
        Column("原建设项目编号", "related", required=False),
    ), "filed_on", "filed_on"),
    SheetSpec("评审意见", "ReviewOpinionIssued", Role.OFFICE, (
        _CODE,
        Column("评审结论", "decision", "choice", choices=_DECISIONS, example="通过"),
        Column("核定预算（万元）", "budget", "wan", required=False, example=320),
        Column("通过条件", "conditions", required=False),
        Column("意见摘要", "summary", required=False, example="同意立项"),
        Column("意见日期", "issued_on", "date", example=date(2024, 11, 20)),
    ), "issued_on", "issued_on"),
    SheetSpec("资金安排", "FundingArranged", Role.FINANCE, (
        _CODE,
        Column("预算年度", "fiscal_year", "year", example=2025),
        Column("资金类型", "kind", "choice", choices=_FUNDING_KINDS, example="建设资金"),
        Column("金额（万元）", "amount", "wan", example=320),
        Column("资金来源", "source", "choice", choices=_SOURCES, example="区级财政预算"),
        Column("来源说明", "source_detail", required=False, example="2025年区级信息化专项"),
        Column("安排日期", "arranged_on", "date", example=date(2025, 1, 15)),
    ), "arranged_on", "arranged_on"),
    SheetSpec("合同备案", "ContractFiled", Role.UNIT, (
        _CODE,
        Column("合同编号", "contract_no", example="HT-2025-001"),
        Column("供应商", "supplier", example="聊城智联信息技术有限公司"),
        Column("统一社会信用代码", "credit_code", required=False, example="91371500MA3D2K7P4N"),
        Column("合同金额（万元）", "amount", "wan", example=298.5),
        Column("签订日期", "signed_on", "date", example=date(2025, 3, 3)),
        Column("采购方式", "method", "choice", choices=_METHODS, example="公开招标"),
        Column("备案日期", "filed_on", "date", example=date(2025, 3, 6)),
    ), "filed_on", "filed_on"),
    SheetSpec("资金拨付", "FundsDisbursed", Role.FINANCE, (
        _CODE,
        Column("资金类型", "kind", "choice", choices=_FUNDING_KINDS, example="建设资金"),
        Column("金额（万元）", "amount", "wan", example=89.55),
        Column("合同编号", "contract_no", required=False, example="HT-2025-001"),
        Column("拨付日期", "paid_on", "date", example=date(2025, 3, 20)),
    ), "paid_on", "paid_on"),
    SheetSpec("年度报告", "ProgressReported", Role.UNIT, (
        _CODE,
        Column("报告年度", "year", "year", example=2025),
        Column("建设进度", "summary", example="完成需求调研和系统部署"),
        Column("预算执行金额（万元）", "executed", "wan", example=89.55),
        Column("报告日期", "reported_on", "date", example=date(2025, 12, 20)),
        Column("报送日期", "received_on", "date", required=False, example=date(2025, 12, 22)),
    ), "reported_on", "received_on"),
    SheetSpec("建设完成", "ConstructionCompleted", Role.UNIT, (
        _CODE,
        Column("完成日期", "completed_on", "date", example=date(2026, 3, 31)),
        Column("说明", "summary", required=False, example="完成全部建设任务"),
    ), "completed_on"),
    SheetSpec("验收", "AcceptanceReportFiled", Role.UNIT, (
        _CODE,
        Column("验收日期", "accepted_on", "date", example=date(2026, 5, 20)),
        Column("纳入共享目录", "included", "bool", example="是"),
        Column("目录编码", "codes", required=False, example="GX-EDU-0001"),
        Column("未纳入原因", "remarks", required=False),
        Column("软硬件产品安全可靠", "secure", "bool", example="是"),
        Column("通过安全审查", "reviewed", "bool", example="是"),
        Column("备案日期", "filed_on", "date", example=date(2026, 5, 25)),
    ), "filed_on", "filed_on"),
)
"""The template's sheets in the order a project's life fills them (also the order of filings of
one project that state the same date)."""

SHEET_BY_NAME: Mapping[str, SheetSpec] = {sheet.name: sheet for sheet in SHEETS}


# --- problems and outcomes ------------------------------------------------------------------


@dataclass(frozen=True)
class RowRef:
    """Where a row is: the sheet and its row number as the spreadsheet shows it."""

    sheet: str
    row: int

    def __str__(self) -> str:
        return f"{self.sheet}!{self.row}"


@dataclass(frozen=True)
class Problem:
    """Why a row cannot be filed: a rule id, the article (Chinese), and a Chinese message."""

    rule: str
    article: str
    message_zh: str
    column: str | None = None

    def to_json(self) -> dict[str, JSONValue]:
        """Plain JSON."""
        return {"rule": self.rule, "article": self.article, "message_zh": self.message_zh,
                "column": self.column}


@dataclass(frozen=True)
class PlannedRow:
    """A row that parsed: the filing it describes, not yet signed."""

    ref: RowRef
    project_code: str
    stream: uuid.UUID
    event_type: str
    role: Role
    unit: str | None
    """The construction unit written in the row (the 项目 sheet only)."""
    effective: date
    payload: Mapping[str, JSONValue]
    nonce: uuid.UUID
    order: int
    """The sheet's position in :data:`SHEETS` (orders one project's filings of the same date)."""
    received_on: date | None = None
    """The day the Office received the filing, from its register (see
    :attr:`SheetSpec.received`); the import's history attestation states it."""


@dataclass(frozen=True)
class RejectedRow:
    """A row that cannot be filed as written."""

    ref: RowRef
    project_code: str | None
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class DuplicateRow:
    """A row identical to an earlier one: the same fact, filed once."""

    ref: RowRef
    project_code: str
    first: RowRef


RowOutcome = PlannedRow | RejectedRow | DuplicateRow


@dataclass(frozen=True)
class ImportPlan:
    """Every data row of the spreadsheet with what it becomes, in sheet and row order."""

    rows: tuple[RowOutcome, ...]
    unknown_sheets: tuple[str, ...] = ()

    def projects(self) -> dict[str, list[RowOutcome]]:
        """The rows of each project code, in the order its first row appears."""
        found: dict[str, list[RowOutcome]] = {}
        for row in self.rows:
            code = row.project_code
            if code:
                found.setdefault(code, []).append(row)
        return found


# --- reading cells ----------------------------------------------------------------------------


class _CellError(ValueError):
    def __init__(self, rule: str, message_zh: str) -> None:
        self.rule = rule
        self.message_zh = message_zh
        super().__init__(message_zh)


_DATE_FORMS = tuple(re.compile(r"(\d{4})" + sep1 + r"(\d{1,2})" + sep2 + r"(\d{1,2})" + end)
                    for sep1, sep2, end in (("-", "-", ""), ("/", "/", ""), (r"\.", r"\.", ""),
                                            ("年", "月", "日")))
_AMOUNT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


def read_date(value: Cell) -> date:
    """A date cell: a spreadsheet date, or ``2024-10-09``, ``2024/10/9``, ``2024.10.9`` or
    ``2024年10月9日``."""
    if isinstance(value, datetime):
        if value.time() != datetime.min.time():
            raise _CellError("import_bad_date", f"“{value}”带有时刻，应只填日期")
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip() if value is not None else ""
    for form in _DATE_FORMS:
        match = form.fullmatch(text)
        if match:
            try:
                return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
            except ValueError:
                break
    raise _CellError("import_bad_date", f"“{text}”不是有效日期（应如 2024-10-09）")


def wan_to_fen(value: Cell) -> int:
    """万元 → integer fen, exactly. ``350`` → 350,000,000 分; ``12.5`` → 12,500,000 分.

    Refuses a value written in 元 (``"350000元"``), more than six decimals (finer than a fen),
    zero or a negative amount, and a figure of :data:`WAN_CEILING` 万元 or more (a 元 figure
    typed into a 万元 column).
    """
    if isinstance(value, bool) or value is None:
        raise _CellError("import_bad_amount", "金额为空或不是数字")
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        amount = Decimal(repr(value))  # the shortest decimal that reads back as this double
    else:
        text = str(value).strip().replace(",", "").replace("，", "")
        if text.endswith("元") and not text.endswith("万元"):
            raise _CellError("import_amount_unit",
                             f"“{value}”以元填写：本列金额单位为万元（1万元=10000元）")
        text = text.removesuffix("万元").removesuffix("万").strip()
        if not _AMOUNT.fullmatch(text):
            raise _CellError("import_bad_amount", f"“{value}”不是数字金额（单位：万元）")
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise _CellError("import_bad_amount", f"“{value}”不是数字金额（单位：万元）") from None
    if amount <= 0:
        raise _CellError("import_bad_amount", f"金额“{value}”应大于零")
    if amount >= WAN_CEILING:
        raise _CellError("import_amount_unit",
                         f"金额“{value}”万元即 {amount / 10000:f} 亿元，"
                         "疑为以元填写（本列单位为万元）")
    fen = amount * FEN_PER_WAN
    if fen != fen.to_integral_value():
        raise _CellError("import_bad_amount", f"金额“{value}”万元精确不到分（万元最多六位小数）")
    return int(fen)


def fen_to_wan(fen: int) -> str:
    """Integer fen as 万元 text, exact (``12500000`` → ``"12.5"``): what the template shows."""
    whole, rest = divmod(fen, FEN_PER_WAN)
    return f"{whole}.{rest:06d}".rstrip("0").rstrip(".") if rest else str(whole)


def _read_year(value: Cell) -> int:
    if isinstance(value, bool):
        raise _CellError("import_bad_year", "年度应为四位数字")
    text = str(value).strip().removesuffix("年") if value is not None else ""
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    if not re.fullmatch(r"\d{4}", text):
        raise _CellError("import_bad_year", f"“{value}”不是四位年度（如 2025）")
    return int(text)


def _read_text(value: Cell) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip() if value is not None else ""


def _read_choice(value: Cell, column: Column) -> str:
    text = _read_text(value)
    if text in column.choices:
        return column.choices[text]
    raise _CellError("import_bad_choice",
                     f"“{text}”不是可选值，应为：{'、'.join(column.choices)}")


def _read(value: Cell, column: Column) -> JSONValue | date:
    if column.kind == "date":
        return read_date(value)
    if column.kind == "wan":
        return wan_to_fen(value)
    if column.kind == "year":
        return _read_year(value)
    if column.kind == "bool":
        return _read_choice(value, Column(column.header, column.key, choices=_YES_NO)) == "true"
    if column.kind == "choice":
        return _read_choice(value, column)
    return _read_text(value)


def _empty(value: Cell) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# --- rows to filings ------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What the rows need besides their own cells."""

    origin: str
    """The ledger's origin: an imported project's id is derived from it and the project code."""
    source_sha256: str
    """The stored spreadsheet, cited by every imported entry."""
    units: Mapping[str, str]
    """Every way a unit may be written (its id, its Chinese name) → its unit id."""


def project_stream(origin: str, code: str) -> uuid.UUID:
    """The id of the project a spreadsheet's 项目编号 names: the same in every run and file."""
    return uuid.uuid5(IMPORT_NAMESPACE, f"{origin}\n{code}")


Values = Mapping[str, Any]
_Builder = Callable[[Values, Context], dict[str, JSONValue]]


def _opt(values: Values, key: str) -> JSONValue | date:
    return values.get(key)


def _application(values: Values, ctx: Context) -> dict[str, JSONValue]:
    source = ctx.source_sha256
    kind = str(values["kind"])
    civil = values.get("civil_works") is True
    # The spreadsheet stands for the materials the office holds on paper (Art. 7).
    documents: dict[str, JSONValue] = {"declaration_form": source, "performance_targets": source,
                                       "basis_documents": [source]}
    if kind == "operation_maintenance":
        documents |= {"prior_contract": source, "prior_performance_report": source}
    else:
        documents["construction_plan"] = source
    if civil:
        documents |= {"feasibility_study": source, "preliminary_design": source,
                      "investment_estimate": source}
    resource: dict[str, JSONValue] = {
        "name": str(values["resource"]), "source": str(values["resource_source"]),
        "format": str(values["resource_format"]),
        "update_frequency": str(values["resource_update"]),
        "sharing": str(values["sharing"]), "openness": str(values["openness"])}
    if _opt(values, "sharing_basis"):
        resource["sharing_basis"] = str(values["sharing_basis"])
    payload: dict[str, JSONValue] = {
        "title": str(values["title"]), "kind": kind, "fiscal_year": values["fiscal_year"],
        "budget_estimate_fen": values["estimate"], "civil_works": civil,
        "documents": documents, "data_resources": [resource]}
    related = _opt(values, "related")
    if related:
        payload["related_project"] = str(project_stream(ctx.origin, str(related)))
    return payload


_CRITERIA = ("resource_sharing", "design_feasibility", "security_solution",
             "cryptography_compliance", "plan_and_budget")


def _opinion(values: Values, ctx: Context) -> dict[str, JSONValue]:
    decision = str(values["decision"])
    payload: dict[str, JSONValue] = {
        "decision": decision, "document": ctx.source_sha256,
        # The library records the conclusion, not each of Art. 9's five contents.
        "criteria": {name: {"passed": True, "remarks": "" if decision == "approved"
                            else "导入：原台账未逐项记录评审内容"} for name in _CRITERIA}}
    if _opt(values, "budget") is not None:
        payload["approved_budget_fen"] = values["budget"]
    if _opt(values, "conditions"):
        payload["conditions"] = [c.strip() for c in re.split(r"[;；\n]", str(values["conditions"]))
                                 if c.strip()]
    if _opt(values, "summary"):
        payload["summary"] = str(values["summary"])
    return payload


def _arranged(values: Values, ctx: Context) -> dict[str, JSONValue]:
    payload: dict[str, JSONValue] = {
        "fiscal_year": values["fiscal_year"], "kind": values["kind"],
        "amount_fen": values["amount"], "source": values["source"],
        "document": ctx.source_sha256}
    if _opt(values, "source_detail"):
        payload["source_detail"] = str(values["source_detail"])
    return payload


def _contract(values: Values, ctx: Context) -> dict[str, JSONValue]:
    payload: dict[str, JSONValue] = {
        "contract_no": str(values["contract_no"]), "supplier": str(values["supplier"]),
        "amount_fen": values["amount"], "signed_on": _iso(values["signed_on"]),
        "procurement_method": values["method"], "document": ctx.source_sha256}
    if _opt(values, "credit_code"):
        payload["supplier_credit_code"] = str(values["credit_code"])
    return payload


def _disbursed(values: Values, ctx: Context) -> dict[str, JSONValue]:
    payload: dict[str, JSONValue] = {"kind": values["kind"], "amount_fen": values["amount"],
                                     "voucher": ctx.source_sha256}
    if _opt(values, "contract_no"):
        payload["contract_no"] = str(values["contract_no"])
    return payload


def _progress(values: Values, ctx: Context) -> dict[str, JSONValue]:
    return {"year": values["year"], "summary": str(values["summary"]),
            "budget_executed_fen": values["executed"], "document": ctx.source_sha256}


def _completed(values: Values, ctx: Context) -> dict[str, JSONValue]:
    del ctx
    payload: dict[str, JSONValue] = {"completed_on": _iso(values["completed_on"])}
    if _opt(values, "summary"):
        payload["summary"] = str(values["summary"])
    return payload


def _acceptance(values: Values, ctx: Context) -> dict[str, JSONValue]:
    source = ctx.source_sha256
    catalogue: dict[str, JSONValue] = {
        "included": values["included"] is True,
        "catalogue_codes": [c for c in re.split(r"[,，;；\s]+", str(values.get("codes") or ""))
                            if c]}
    if _opt(values, "remarks"):
        catalogue["remarks"] = str(values["remarks"])
    return {
        "accepted_on": _iso(values["accepted_on"]),
        "documents": dict.fromkeys((
            "construction_summary", "financial_report", "audit_report",
            "security_risk_assessment", "cryptography_application"), source),
        "sharing_catalogue": catalogue,
        "product_security": {"products_secure_and_reliable": values["secure"] is True,
                             "security_review_passed": values["reviewed"] is True},
    }


def _iso(value: JSONValue | date) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


_BUILDERS: Mapping[str, _Builder] = {
    "ApplicationFiled": _application, "ReviewOpinionIssued": _opinion,
    "FundingArranged": _arranged, "ContractFiled": _contract, "FundsDisbursed": _disbursed,
    "ProgressReported": _progress, "ConstructionCompleted": _completed,
    "AcceptanceReportFiled": _acceptance,
}


def _row_nonce(stream: uuid.UUID, sheet: SheetSpec, values: Values) -> uuid.UUID:
    """The row's nonce: its project, its sheet and its values (never its position)."""
    plain: dict[str, JSONValue] = {k: _iso(v) if isinstance(v, date) else v
                                   for k, v in sorted(values.items()) if v is not None}
    text = canonical_bytes({"sheet": sheet.name, "values": plain}).decode()
    return uuid.uuid5(stream, text)


def _field_problems(error: ValidationFailedError, sheet: SheetSpec) -> list[Problem]:
    articles = error.articles or sheet.articles
    cited = "、".join(article_zh(a) for a in articles)
    return [Problem("import_invalid", cited, f"{path}：{message}")
            for path, message in error.problems]


def plan_row(sheet: SheetSpec, number: int, cells: Mapping[str, Cell], ctx: Context,
             ) -> PlannedRow | RejectedRow:
    """One data row (``cells``: header → value) as the filing it describes, or why not."""
    ref = RowRef(sheet.name, number)
    cited = "、".join(article_zh(a) for a in sheet.articles)
    problems: list[Problem] = []
    values: dict[str, JSONValue | date] = {}
    for column in sheet.columns:
        raw = cells.get(column.header)
        if _empty(raw):
            if column.required:
                problems.append(Problem("import_missing", cited, f"“{column.header}”不能为空",
                                        column.header))
            values[column.key] = None
            continue
        try:
            values[column.key] = _read(raw, column)
        except _CellError as exc:
            problems.append(Problem(exc.rule, cited, f"“{column.header}”：{exc.message_zh}",
                                    column.header))
    code = values.get("project")
    code_text = str(code) if code else None
    unit: str | None = None
    if sheet.event_type == "ApplicationFiled" and values.get("unit"):
        unit = ctx.units.get(str(values["unit"]))
        if unit is None:
            problems.append(Problem("import_unknown_unit", cited,
                                    f"建设单位“{values['unit']}”不是已登记的单位", "建设单位"))
    if problems or code_text is None:
        return RejectedRow(ref, code_text, tuple(problems))
    effective = values[sheet.effective]
    assert isinstance(effective, date)
    received = values.get(sheet.received) if sheet.received else None
    assert received is None or isinstance(received, date)
    if sheet.received and received is not None and received < effective:
        header = sheet.column(sheet.received).header
        return RejectedRow(ref, code_text, (Problem(
            "import_bad_date", cited, f"“{header}”早于该事项本身的日期", header),))
    stream = project_stream(ctx.origin, code_text)
    payload = _BUILDERS[sheet.event_type](values, ctx)
    try:
        validate_payload(sheet.event_type, payload)
    except ValidationFailedError as exc:
        return RejectedRow(ref, code_text, tuple(_field_problems(exc, sheet)))
    return PlannedRow(ref, code_text, stream, sheet.event_type, sheet.role, unit, effective,
                      payload, _row_nonce(stream, sheet, values), SHEETS.index(sheet), received)


def plan_import(sheets: Mapping[str, Sequence[tuple[int, Mapping[str, Cell]]]],
                ctx: Context) -> ImportPlan:
    """Every data row of a workbook (sheet name → (row number, header → value) rows) planned.

    Empty rows are skipped; a sheet the template does not know is named in
    :attr:`ImportPlan.unknown_sheets` and read no further. A row whose values repeat an earlier
    row's of the same sheet and project is a :class:`DuplicateRow`: the same fact, filed once.
    """
    outcomes: list[RowOutcome] = []
    seen: dict[uuid.UUID, RowRef] = {}
    unknown = tuple(name for name in sheets if name not in SHEET_BY_NAME and name != GUIDE_SHEET)
    for sheet in SHEETS:
        for number, cells in sheets.get(sheet.name, ()):
            if all(_empty(v) for v in cells.values()):
                continue
            planned = plan_row(sheet, number, cells, ctx)
            if isinstance(planned, PlannedRow):
                first = seen.get(planned.nonce)
                if first is not None:
                    outcomes.append(DuplicateRow(planned.ref, planned.project_code, first))
                    continue
                seen[planned.nonce] = planned.ref
            outcomes.append(planned)
    return ImportPlan(tuple(outcomes), unknown)


GUIDE_SHEET = "填写说明"
"""The template's first sheet: how to fill it in (never imported)."""

GUIDE_LINES: tuple[str, ...] = (
    "项目库导入模板（聊高新区管办发〔2023〕8号 信息化项目监管审计账本）",
    "每个工作表一类事项：项目（立项申请）、评审意见、资金安排、合同备案、资金拨付、年度报告、建设完成、验收。",
    "第一行为列名，请勿修改；从第二行起每行一件事项，用“项目编号”关联同一项目。",
    "金额一律以万元填写（如 298.5 表示 298.5 万元），最多六位小数；请勿填写以元为单位的金额。",
    "日期填写为 2024-10-09 或 Excel 日期；日期为事项实际发生或备案之日，不得晚于今天。",
    "建设单位填写单位代码或单位名称；选择项按列说明填写（如项目类别：新建、扩建、升级改造、运维服务）。",
    "导入前可先试运行（ledger import 文件 --dry-run），逐行查看将登记的事项或不予登记的原因。",
    "再次导入同一或改正后的表格，只登记尚未登记的行；同一项目的各行一并登记或一并不登记。",
    "申报日期、意见日期、安排日期、备案日期、拨付日期和年度报告的报送日期，是综合管理办公室台账记载的受理日期："
    "导入时由综合管理办公室以“历史记录确认”一并登记，期限和十月申报按该日期判断；未填报送日期的年度报告按导入之日判断。",
)


__all__ = [
    "FEN_PER_WAN", "GUIDE_LINES", "GUIDE_SHEET", "IMPORT_NAMESPACE", "SHEETS", "SHEET_BY_NAME",
    "WAN_CEILING", "Cell", "Column", "Context", "DuplicateRow", "ImportPlan", "PlannedRow",
    "Problem", "RejectedRow", "RowOutcome", "RowRef", "SheetSpec", "article_zh", "fen_to_wan",
    "plan_import", "plan_row", "project_stream", "read_date", "wan_to_fen",
]
