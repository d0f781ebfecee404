"""``ledger demo``: a realistic data set — 17 projects of 7 units over 2023–2026.

Every filing goes through the ordinary write path (:meth:`Ledger.file`: custodial signature,
guards, group commit); only the clock is the demo's. A :class:`DemoClock` is injected into the
:class:`~ledger.app.Ledger`, so each entry's ``recorded_at`` is a past moment of the story
(China Standard Time in the script, RFC 3339 UTC in the log), each filing later than the one
before. Because the ledger never lets ``recorded_at`` go backwards, the demo initialises the
ledger itself and refuses a database that already holds one.

Each project is a *story*: a generator that yields its filings with their moments and receives
each filing's :class:`~ledger.app.Receipt` back, so later filings cite real ``seq`` numbers
(``request_seq``, ``order_seq``, ``finding_seq``, ``finding_seqs``). The stories are merged in
time order and filed one by one. Filings the regulation forbids are attempted on purpose and
their refusals are kept in :attr:`DemoResult.refusals` (a refused filing is not in the ledger).

What the data set shows at 2026-11-25 (the timeline of each story is in its docstring):

* Art. 6: an application filed in March instead of October (flagged);
* Art. 8: an Art. 8 category without special circumstances (flagged; rejected by review);
* Art. 9: a "revise" opinion, supplemented materials, a contract refused before approval; a
  contract signed before the opinion took effect but filed after it (recorded and flagged, a
  payment refused until the Office restores compliance);
* Art. 10 and Art. 5: a provincial declaration consented and approved, and one approved
  without consent (flagged); a fixed-asset approval;
* Art. 13: a contract signed before National Day 2024 filed on time, and one signed before
  National Day 2025 filed late (flagged);
* Art. 14: annual reports on time, and one filed in January (flagged);
* Art. 15/16: a budget raised by an approved change, funds arranged and paid beyond the old
  budget, and a payment beyond the arranged funds refused; a contract beyond the approved
  budget (flagged);
* Art. 17/30: an incident, a suspension and resumption of construction and of funding; a
  rectification that fails, followed by suspension of construction and of all funds;
* Art. 19: an approved acceptance extension; an overdue acceptance that blocks all funds;
* Art. 20: a self-evaluation in its 12–24-month window and a third-party evaluation;
* Art. 22: a security finding lifted by restored compliance; a sharing finding that bars its
  unit (a new application refused, an O&M application accepted); an exemption by the CDR;
* Art. 26: a catalogue never completed after preliminary acceptance (no O&M funds); one never
  completed by a project accepted with no preliminary acceptance on file (the period runs from
  the acceptance: an O&M arrangement refused);
* Arts. 30–34: an audit finding, information withheld, misappropriation, a criticism, a
  termination, a disciplinary referral, and a filing refused on the terminated project.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from types import MappingProxyType
from uuid import UUID

from ledger.app import Ledger, Receipt
from ledger.errors import LedgerError, LedgerNotInitialisedError, RuleViolationError
from ledger.log.canonical import JSONValue
from ledger.log.entries import format_time
from ledger.measures.catalogue import documents_referenced, validate_payload
from ledger.measures.roles import Role
from ledger.settings import Settings

CST = timezone(timedelta(hours=8), "CST")
"""China Standard Time: the demo's script is written in it."""

DEMO_START = "2023-09-01 09:00"
"""When the demo ledger is initialised and its actors registered."""

EVALUATION_DATE = date(2026, 11, 25)
"""The date the demo's situations are described at (see the module docstring)."""

UNITS: Mapping[str, str] = MappingProxyType({
    "edu": "教育和体育部",
    "health": "卫生健康部",
    "town-hanji": "韩集镇",
    "bigdata": "区大数据中心",
    "civil": "社会事务部",
    "emergency": "应急管理部",
    "market": "市场监管部",
})
"""The demo's construction units (项目建设单位): unit id → name."""

ACTORS: tuple[tuple[str, Role, str | None, str], ...] = (
    ("office-li", Role.OFFICE, None, "综合管理办公室 李主任"),
    ("finance-zhao", Role.FINANCE, None, "财政管理部 赵科长"),
    ("approval-qian", Role.APPROVAL, None, "行政审批服务部 钱科长"),
    ("audit-sun", Role.AUDIT, None, "审计分局 孙审计师"),
    ("cdr-wu", Role.CDR, None, "高新区首席数据代表 吴"),
    ("investigator-zhou", Role.INVESTIGATOR, None, "调查组 周"),
    ("edu-wang", Role.UNIT, "edu", "教育和体育部 王"),
    ("health-chen", Role.UNIT, "health", "卫生健康部 陈"),
    ("hanji-liu", Role.UNIT, "town-hanji", "韩集镇 刘"),
    ("bigdata-zhang", Role.UNIT, "bigdata", "区大数据中心 张"),
    ("civil-he", Role.UNIT, "civil", "社会事务部 何"),
    ("emergency-ma", Role.UNIT, "emergency", "应急管理部 马"),
    ("market-gao", Role.UNIT, "market", "市场监管部 高"),
)
"""The demo actors: (actor, role, unit, display name). ``scripts/serve`` issues their tokens."""

Payload = dict[str, JSONValue]


# --- the clock -----------------------------------------------------------------------------


def cst(moment: str) -> datetime:
    """``"2024-10-09 10:30"`` (China Standard Time) as an aware datetime."""
    return datetime.strptime(moment, "%Y-%m-%d %H:%M").replace(tzinfo=CST)


class DemoClock:
    """The ledger clock of the demo: set to story moments, strictly increasing.

    :meth:`at` moves the clock forward to a moment (never back); each call returns the
    current time and advances it by ``tick``, so every time the ledger reads is later than
    the one before.
    """

    def __init__(self, start: str, tick: timedelta = timedelta(seconds=3)) -> None:
        self._now = cst(start).astimezone(UTC)
        self._tick = tick

    def at(self, moment: str) -> None:
        """Move to ``moment`` (China Standard Time), unless the clock is already past it."""
        self._now = max(self._now, cst(moment).astimezone(UTC))

    def peek(self) -> datetime:
        """The current time, without advancing."""
        return self._now

    def today(self) -> date:
        """The current date in China."""
        return self._now.astimezone(CST).date()

    def __call__(self) -> datetime:
        current = self._now
        self._now += self._tick
        return current


# --- what the demo returns ------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """A filing the demo attempted on purpose and the ledger refused (it is not in the log)."""

    project: str | None
    """The short key of the project it was filed on (``None``: a new application)."""
    actor: str
    event_type: str
    rule: str
    article: str
    detail: str
    attempted_at: str
    """The demo time of the attempt (RFC 3339 UTC)."""


@dataclass(frozen=True)
class DemoResult:
    """What :func:`load_demo` filed."""

    projects: Mapping[str, UUID]
    """Project ids by short key (``"campus"``, ``"health-platform"``...), in filing order."""
    units: Mapping[str, str]
    """The construction units: unit id → name."""
    refusals: tuple[Refusal, ...]
    """The refusals demonstrated, in time order."""
    started_at: str
    finished_at: str
    """The demo times of the first and the last entry (RFC 3339 UTC)."""
    entries: int
    """The number of entries in the log (registry included)."""
    imported: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    """The imported batch (项目库导入): rows per outcome (``filed``, ``refused``, ``held``…)."""
    reminders: int = 0
    """Reminders the demo's reminder run sent (the reminder log)."""

    def refusal(self, rule: str) -> Refusal:
        """The first refusal under ``rule`` (``KeyError`` if none)."""
        for refusal in self.refusals:
            if refusal.rule == rule:
                return refusal
        raise KeyError(rule)


# --- stories ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One filing of a story at a moment (China Standard Time, ``YYYY-MM-DD HH:MM``)."""

    when: str
    actor: str
    event_type: str
    payload: Payload | Callable[[], Payload]
    effective: str | None = None
    """The date the fact took effect; default the filing's date in China."""
    refused: str | None = None
    """The rule the filing is expected to be refused under (a deliberate wrong filing)."""


@dataclass(frozen=True)
class Admin:
    """A key-registry action of the administrator at a moment."""

    when: str
    action: Callable[[Ledger], object]


Story = Generator[Step | Admin, Receipt | None, None]


def _seq(receipt: Receipt | None) -> int:
    """The seq of a filing the story needs to cite (it must have been accepted)."""
    if receipt is None:
        raise LedgerError("the demo cites a filing that was refused")
    return receipt.seq


_DOCUMENTS: dict[str, bytes] = {}
"""The demo's documents by SHA-256 (filled by :func:`_doc`, uploaded before each filing)."""


def _doc(label: str) -> str:
    """A document reference: the SHA-256 of a short placeholder text named by ``label``.

    The text says plainly that it is demo data, not an official document. The runner uploads
    it (:meth:`Ledger.add_document`) before the filing that references it.
    """
    data = (f"【演示文件】{label}\n\n本文件是“聊城高新区信息系统项目监管审计账本”演示数据"
            "（ledger demo）中的示意文本，不是真实公文。\n").encode()
    digest = hashlib.sha256(data).hexdigest()
    _DOCUMENTS.setdefault(digest, data)
    return digest


def _resource(name: str, source: str, attributes: str, basis: str | None = None) -> Payload:
    """A catalogue entry (Art. 24); ``attributes`` = "format update sharing openness"."""
    fmt, update, sharing, openness = attributes.split()
    resource: Payload = {"name": name, "source": source, "format": fmt,
                         "update_frequency": update, "sharing": sharing, "openness": openness}
    if basis is not None:
        resource["sharing_basis"] = basis
    return resource


def _application(title: str, kind: str, fiscal_year: int, estimate_fen: int,
                 resources: list[Payload], *, basis: tuple[str, ...],
                 civil_works: bool = False, art8: tuple[str, ...] = (),
                 special: str | None = None, co_builders: tuple[str, ...] = (),
                 fixed_asset: bool = False, higher_level: Payload | None = None,
                 related: UUID | None = None) -> Payload:
    documents: Payload = {
        "declaration_form": _doc(f"{title} 项目申报表"),
        "performance_targets": _doc(f"{title} 绩效目标及绩效指标"),
        "basis_documents": [_doc(label) for label in basis],
    }
    if kind == "operation_maintenance":
        documents["prior_contract"] = _doc(f"{title} 原建设项目合同")
        documents["prior_performance_report"] = _doc(f"{title} 前期项目绩效评估报告")
    else:
        documents["construction_plan"] = _doc(f"{title} 建设方案")
    if civil_works:
        documents["feasibility_study"] = _doc(f"{title} 可行性研究报告")
        documents["preliminary_design"] = _doc(f"{title} 初步设计方案")
        documents["investment_estimate"] = _doc(f"{title} 投资概算")
    payload: Payload = {
        "title": title, "kind": kind, "fiscal_year": fiscal_year,
        "budget_estimate_fen": estimate_fen, "civil_works": civil_works,
        "documents": documents, "data_resources": list(resources),
        "art8_categories": list(art8), "co_builders": list(co_builders),
        "fixed_asset_investment": fixed_asset,
    }
    if special is not None:
        payload["special_circumstances"] = special
    if higher_level is not None:
        payload["higher_level"] = higher_level
    if related is not None:
        payload["related_project"] = str(related)
    return payload


_CRITERIA = ("resource_sharing", "design_feasibility", "security_solution",
             "cryptography_compliance", "plan_and_budget")


def _opinion(decision: str, summary: str, budget_fen: int | None = None, *,
             remarks: Mapping[str, str] | None = None, failed: Mapping[str, str] | None = None,
             conditions: tuple[str, ...] = ()) -> Payload:
    remarks = remarks or {}
    failed = failed or {}
    criteria: Payload = {
        name: {"passed": name not in failed, "remarks": failed.get(name, remarks.get(name, ""))}
        for name in _CRITERIA
    }
    payload: Payload = {"decision": decision, "criteria": criteria, "summary": summary,
                        "conditions": list(conditions), "document": _doc(f"评审意见 {summary}")}
    if budget_fen is not None:
        payload["approved_budget_fen"] = budget_fen
    return payload


def _arranged(fiscal_year: int, kind: str, amount_fen: int, detail: str,
              source: str = "district_budget") -> Payload:
    return {"fiscal_year": fiscal_year, "kind": kind, "amount_fen": amount_fen,
            "source": source, "source_detail": detail, "document": _doc(f"预算指标 {detail}")}


def _paid(kind: str, amount_fen: int, contract_no: str | None, voucher: str) -> Payload:
    payload: Payload = {"kind": kind, "amount_fen": amount_fen, "voucher": _doc(voucher)}
    if contract_no is not None:
        payload["contract_no"] = contract_no
    return payload


SUPPLIERS: Mapping[str, str] = MappingProxyType({
    "聊城智联信息技术有限公司": "91371500MA3D2K7P4N",
    "山东鲁康数字科技有限公司": "91370100MA3C5R2H6G",
    "聊城市润邦建设工程有限公司": "91371502MA3EQ4WX8T",
    "山东瀚海数据服务有限公司": "91371500MA3F6B1L9J",
    "青岛海岳网络安全技术有限公司": "91370200MA3N7C3Y5R",
    "山东鲁数云科技有限公司": "91371000MA3K8T4U2D",
    "济南华衡软件有限公司": "91370100MA3C5R2H7K",
    "山东鲁安应急科技有限公司": "91370100MA3C5R2H8L",
})
"""The demo's (fictitious) suppliers and their unified social credit codes (GB 32100 form)."""


def _contract(contract_no: str, supplier: str, amount_fen: int, signed_on: str,
              method: str) -> Payload:
    return {"contract_no": contract_no, "supplier": supplier,
            "supplier_credit_code": SUPPLIERS[supplier], "amount_fen": amount_fen,
            "signed_on": signed_on, "procurement_method": method,
            "document": _doc(f"合同文本 {contract_no}")}


def _progress(year: int, summary: str, executed_fen: int,
              trial: tuple[str, str] | None = None) -> Payload:
    payload: Payload = {"year": year, "summary": summary, "budget_executed_fen": executed_fen,
                        "document": _doc(f"{year}年度建设进度和预算执行情况报告 {summary}")}
    if trial is not None:
        payload["trial_operation"] = {"effect": trial[0], "problems": trial[1]}
    return payload


def _acceptance(accepted_on: str, title: str, codes: tuple[str, ...],
                remarks: str | None = None) -> Payload:
    catalogue: Payload = {"included": bool(codes), "catalogue_codes": list(codes)}
    if remarks is not None:
        catalogue["remarks"] = remarks
    return {
        "accepted_on": accepted_on,
        "documents": {
            "construction_summary": _doc(f"{title} 项目建设总结"),
            "financial_report": _doc(f"{title} 财务报告"),
            "audit_report": _doc(f"{title} 竣工决算审计报告"),
            "security_risk_assessment": _doc(f"{title} 信息安全风险评估报告"),
            "cryptography_application": _doc(f"{title} 密码应用安全性评估报告"),
            "other_documents": [_doc(f"{title} 电子档案目录")],
        },
        "sharing_catalogue": catalogue,
        "product_security": {"products_secure_and_reliable": True,
                             "security_review_passed": True,
                             "remarks": "服务器操作系统、数据库采用国产自主可控产品"
                                        "（第二十九条）。"},
    }


def _catalogue(entries: tuple[tuple[str, str, str, str], ...], records: int) -> Payload:
    return {"entries": [{"code": code, "name": name, "sharing": sharing, "openness": openness}
                        for code, name, sharing, openness in entries],
            "data_collected": True, "records_collected": records}


def _fen(yuan: int) -> int:
    """Whole yuan (元) to fen (分)."""
    return yuan * 100


# Each story is one project; its docstring is its timeline. Amounts are fen.


def _campus(ids: Mapping[str, UUID]) -> Story:
    """教育和体育部 智慧校园统一身份认证平台: the whole life cycle, on time.

    Applied Oct 2023, approved Nov 2023; contract Mar 2024; completed Jul 2024, catalogue
    within 10 working days of the preliminary acceptance, accepted 2024-09-20; self-evaluation
    submitted 2026-03-17 in its window (2025-09-20 to 2026-09-20, Art. 20) and a third-party
    post-evaluation commissioned. Its 2026 O&M is the project campus-om.
    """
    title = "高新区智慧校园统一身份认证平台建设项目"
    contract_no = "GXQ-JT-2024-009"
    yield Step("2023-10-16 09:30", "edu-wang", "ApplicationFiled", _application(
        title, "new", 2024, _fen(1_860_000), [
            _resource("学校及教学点基础信息", "本单位业务采集",
                      "database monthly unconditional conditional"),
            _resource("师生身份认证信息", "本单位业务采集（学籍系统、人事系统）",
                      "database daily conditional not_open",
                      "《中华人民共和国个人信息保护法》第三十四条；涉及未成年人信息，仅限依法履职调用"),
        ], basis=("聊城高新区教育信息化2.0行动计划", "区教育和体育部党组会议纪要〔2023〕9号"),
        co_builders=("bigdata",)))
    yield Step("2023-11-20 15:00", "office-li", "ReviewOpinionIssued", _opinion(
        "approved", "项目依托区统一身份认证体系建设，必要性充分，核定预算168万元。",
        _fen(1_680_000), remarks={"resource_sharing": "复用区统一身份认证平台",
                                  "plan_and_budget": "核减服务器购置费用18万元，改用政务云资源"}))
    yield Step("2023-12-27 10:00", "edu-wang", "ProgressReported", _progress(
        2023, "已完成需求调研、招标文件编制，尚未签订采购合同。", 0))
    yield Step("2024-03-05 10:00", "finance-zhao", "FundingArranged", _arranged(
        2024, "construction", _fen(1_680_000), "2024年区级教育信息化专项资金"))
    yield Step("2024-03-20 10:30", "edu-wang", "ContractFiled", _contract(
        contract_no, "聊城智联信息技术有限公司", _fen(1_658_000),
        "2024-03-15", "public_tender"), effective="2024-03-15")
    yield Step("2024-03-29 14:00", "finance-zhao", "FundsDisbursed", _paid(
        "construction", _fen(497_400), contract_no, "智慧校园 拨款凭证第1期（预付30%）"))
    yield Step("2024-07-31 16:00", "edu-wang", "ConstructionCompleted", {
        "completed_on": "2024-07-31", "summary": "全部建设内容完成，系统在全区中小学上线运行。"},
        effective="2024-07-31")
    yield Step("2024-08-20 10:00", "edu-wang", "PreliminaryAcceptanceCompleted", {
        "completed_on": "2024-08-20", "report": _doc("智慧校园 初步验收意见")},
        effective="2024-08-20")
    yield Step("2024-08-29 15:00", "edu-wang", "CatalogCompleted", _catalogue((
        ("GXQ-JT-0001", "学校及教学点基础信息", "unconditional", "conditional"),
        ("GXQ-JT-0002", "师生身份认证信息", "conditional", "not_open"),
    ), 36_512))
    yield Step("2024-09-05 10:00", "edu-wang", "SecurityAssessmentRecorded", {
        "protection_level": 3, "risk_assessment": "compliant",
        "cryptography_assessment": "compliant", "assessor": "山东省某网络安全等级测评中心",
        "report": _doc("智慧校园 等级保护测评报告")})
    yield Step("2024-09-20 10:00", "edu-wang", "AcceptanceReportFiled", _acceptance(
        "2024-09-20", title, ("GXQ-JT-0001", "GXQ-JT-0002")), effective="2024-09-20")
    yield Step("2024-10-15 14:00", "finance-zhao", "FundsDisbursed", _paid(
        "construction", _fen(1_160_600), contract_no, "智慧校园 拨款凭证第2期（验收后结算）"))
    yield Step("2026-03-17 10:00", "edu-wang", "SelfEvaluationSubmitted", {
        "report": _doc("智慧校园 绩效自评价报告"), "score": 92,
        "summary": "全区师生统一账号覆盖率98%，教师日均登录系统数由4个降为1个。"})
    yield Step("2026-05-12 10:00", "office-li", "ThirdPartyEvaluationCommissioned", {
        "evaluator": "山东某工程咨询有限公司", "scope": "项目绩效后评价（第二十条）",
        "document": _doc("智慧校园 后评价委托书")})


def _campus_om(ids: Mapping[str, UUID]) -> Story:
    """教育和体育部 智慧校园平台2026年度运维服务: an O&M project citing the system it maintains.

    Applied Oct 2025, approved Dec 2025, O&M funds arranged, contract filed in time, half paid.
    """
    title = "智慧校园统一身份认证平台2026年度运维服务项目"
    contract_no = "GXQ-JT-2026-002"
    yield Step("2025-10-20 10:00", "edu-wang", "ApplicationFiled", lambda: _application(
        title, "operation_maintenance", 2026, _fen(135_000), [
            _resource("师生身份认证日志", "本系统运行产生",
                      "database real_time conditional not_open",
                      "《网络安全法》第二十一条，日志仅供安全审计使用"),
        ], basis=("智慧校园 竣工验收报告备案回执",), related=ids["campus"]))
    yield Step("2025-12-02 10:00", "office-li", "ReviewOpinionIssued", _opinion(
        "approved", "运维内容与原建设项目衔接，核定运维经费12万元。", _fen(120_000)))
    yield Step("2025-12-29 10:00", "edu-wang", "ProgressReported", _progress(
        2025, "运维服务采购文件已编制完成。", 0))
    yield Step("2026-01-06 10:00", "finance-zhao", "FundingArranged", _arranged(
        2026, "operation_maintenance", _fen(120_000), "2026年区级信息系统运维经费"))
    yield Step("2026-01-13 10:00", "edu-wang", "ContractFiled", _contract(
        contract_no, "聊城智联信息技术有限公司", _fen(118_000),
        "2026-01-09", "competitive_consultation"), effective="2026-01-09")
    yield Step("2026-04-10 10:00", "finance-zhao", "FundsDisbursed", _paid(
        "operation_maintenance", _fen(59_000), contract_no, "智慧校园运维 拨款凭证第1期"))


def _civil_elderly(ids: Mapping[str, UUID]) -> Story:
    """社会事务部 智慧养老服务信息系统: a sharing non-compliance that bars the unit (Art. 22).

    Built 2024–2025 and accepted Aug 2025; O&M funds paid in Feb 2026; in Mar 2026 the Office
    finds the system re-collects household and subsistence data instead of using the sharing
    platform and orders rectification by the end of 2026. In the October 2026 round the
    unit's new application is refused (unit_barred, Art. 22(1)); its O&M application is
    accepted (see civil-om).
    """
    title = "智慧养老服务信息系统建设项目"
    contract_no = "GXQ-SW-2024-011"
    yield Step("2023-10-19 10:00", "civil-he", "ApplicationFiled", _application(
        title, "new", 2024, _fen(800_000), [
            _resource("老年人基本信息", "区数据共享平台（公安户籍、民政低保数据）",
                      "service_api daily conditional not_open",
                      "《中华人民共和国个人信息保护法》第三十四条，仅限养老服务管理使用"),
            _resource("养老服务机构信息", "本单位业务采集",
                      "database monthly unconditional unconditional"),
        ], basis=("聊城高新区“十四五”养老服务体系规划",)))
    yield Step("2023-12-05 15:00", "office-li", "ReviewOpinionIssued", _opinion(
        "approved", "同意建设，老年人基本信息须通过区数据共享平台获取，核定预算74万元。",
        _fen(740_000)))
    yield Step("2023-12-27 11:00", "civil-he", "ProgressReported", _progress(
        2023, "已完成需求调研及采购需求论证。", 0))
    yield Step("2024-02-27 10:00", "finance-zhao", "FundingArranged", _arranged(
        2024, "construction", _fen(740_000), "2024年区级养老服务信息化资金"))
    yield Step("2024-04-17 10:00", "civil-he", "ContractFiled", _contract(
        contract_no, "山东鲁康数字科技有限公司", _fen(726_000),
        "2024-04-12", "competitive_consultation"), effective="2024-04-12")
    yield Step("2024-04-26 10:00", "finance-zhao", "FundsDisbursed", _paid(
        "construction", _fen(217_800), contract_no, "智慧养老 拨款凭证第1期"))
    yield Step("2024-12-19 10:00", "civil-he", "ProgressReported", _progress(
        2024, "完成居家养老服务、助餐补贴模块开发，试运行中。", _fen(217_800),
        ("3个街道试运行，累计服务老人1.1万人次。", "部分老人信息与户籍数据不一致，正在核对。")))
    yield Step("2025-05-30 16:00", "civil-he", "ConstructionCompleted", {
        "completed_on": "2025-05-30"}, effective="2025-05-30")
    yield Step("2025-06-24 10:00", "civil-he", "PreliminaryAcceptanceCompleted", {
        "completed_on": "2025-06-24"}, effective="2025-06-24")
    yield Step("2025-07-03 10:00", "civil-he", "CatalogCompleted", _catalogue((
        ("GXQ-SW-0001", "养老服务机构信息", "unconditional", "unconditional"),
        ("GXQ-SW-0002", "养老服务补贴发放信息", "conditional", "not_open"),
    ), 12_408))
    yield Step("2025-08-12 10:00", "civil-he", "AcceptanceReportFiled", _acceptance(
        "2025-08-12", title, ("GXQ-SW-0001", "GXQ-SW-0002")), effective="2025-08-12")
    yield Step("2025-09-09 10:00", "finance-zhao", "FundsDisbursed", _paid(
        "construction", _fen(508_200), contract_no, "智慧养老 拨款凭证第2期（验收后结算）"))
    yield Step("2026-01-15 10:00", "finance-zhao", "FundingArranged", _arranged(
        2026, "operation_maintenance", _fen(60_000), "2026年区级信息系统运维经费"))
    yield Step("2026-02-10 10:00", "finance-zhao", "FundsDisbursed", _paid(
        "operation_maintenance", _fen(30_000), None, "智慧养老 运维经费拨款凭证第1期"))
    yield Step("2026-03-17 10:00", "office-li", "SharingNonComplianceFound", {
        "issue": "duplicate_collection",
        "finding": "系统自建老年人户籍、低保信息采集表单，重复采集区数据共享平台已有数据，"
                   "未调用平台接口。",
        "document": _doc("智慧养老 监督检查记录")})
    yield Step("2026-03-24 10:00", "office-li", "RectificationOrdered", {
        "reason": "重复采集老年人户籍、低保数据，未按要求共享（第二十二条第一项、第二十五条）。",
        "cited_articles": [22, 25, 30], "deadline": "2026-12-31",
        "document": _doc("智慧养老 整改通知书")})
    yield Step("2026-10-12 09:30", "civil-he", "ApplicationFiled", _application(
        "社区居家养老服务补贴智能审核系统建设项目", "new", 2027, _fen(460_000), [
            _resource("养老服务补贴申请信息", "本单位业务采集",
                      "database daily conditional not_open", "《个人信息保护法》第三十四条"),
        ], basis=("社会事务部2027年信息化工作要点",)), refused="unit_barred")


def _civil_om(ids: Mapping[str, UUID]) -> Story:
    """社会事务部 智慧养老2027年度运维: O&M is not barred by Art. 22 (filed, awaiting review)."""
    yield Step("2026-10-12 14:00", "civil-he", "ApplicationFiled", lambda: _application(
        "智慧养老服务信息系统2027年度运维服务项目", "operation_maintenance", 2027, _fen(65_000), [
            _resource("养老服务机构信息", "本系统",
                      "database monthly unconditional unconditional"),
        ], basis=("智慧养老 竣工验收报告备案回执", "智慧养老 整改通知书"),
        related=ids["civil-elderly"]))


def _hanji_service(ids: Mapping[str, UUID]) -> Story:
    """韩集镇 便民服务中心智能化改造: civil works, a fixed-asset approval and an extension.

    Fixed-asset approval Nov 2023 (Art. 5), approved Dec 2023; completed 2025-07-31, so
    acceptance was due 2025-10-31; an extension to 2025-12-31 was requested and approved, and
    the project was accepted 2025-12-26 within it.
    """
    title = "韩集镇便民服务中心智能化改造项目"
    contract_no = "HJZ-2024-007"
    yield Step("2023-10-23 09:00", "hanji-liu", "ApplicationFiled", _application(
        title, "upgrade", 2024, _fen(1_250_000), [
            _resource("便民服务办件信息", "本单位业务采集",
                      "database real_time unconditional conditional"),
        ], basis=("韩集镇党委会议纪要〔2023〕15号", "聊城高新区镇街便民服务中心标准化建设方案"),
        civil_works=True, fixed_asset=True))
    yield Step("2023-11-14 10:00", "approval-qian", "FixedAssetApprovalIssued", {
        "approval_no": "聊高新审批投资〔2023〕17号",
        "document": _doc("韩集镇便民服务中心 固定资产投资项目批复"),
        "approved_investment_fen": _fen(1_250_000)})
    yield Step("2023-12-12 15:00", "office-li", "ReviewOpinionIssued", _opinion(
        "approved", "同意改造，自助终端接入区一体化政务服务平台，核定预算118万元。",
        _fen(1_180_000)))
    yield Step("2023-12-26 10:00", "hanji-liu", "ProgressReported", _progress(
        2023, "完成施工图设计及招标准备。", 0))
    yield Step("2024-03-12 10:00", "finance-zhao", "FundingArranged", _arranged(
        2024, "construction", _fen(1_180_000), "2024年区级镇街便民服务设施资金"))
    yield Step("2024-05-23 10:00", "hanji-liu", "ContractFiled", _contract(
        contract_no, "聊城市润邦建设工程有限公司", _fen(1_162_000),
        "2024-05-20", "public_tender"), effective="2024-05-20")
    yield Step("2024-06-05 10:00", "finance-zhao", "FundsDisbursed", _paid(
        "construction", _fen(348_600), contract_no, "韩集镇便民服务中心 拨款凭证第1期"))
    yield Step("2024-12-24 10:00", "hanji-liu", "ProgressReported", _progress(
        2024, "土建改造完成，智能排队叫号、自助终端设备进场安装。", _fen(348_600)))
    yield Step("2025-07-31 16:00", "hanji-liu", "ConstructionCompleted", {
        "completed_on": "2025-07-31"}, effective="2025-07-31")
    extension = yield Step("2025-10-20 10:00", "hanji-liu", "AcceptanceExtensionRequested", {
        "new_deadline": "2025-12-31",
        "reason": "竣工决算审计报告尚未出具，无法在3个月内组织竣工验收，申请延期验收。"})
    yield Step("2025-10-24 15:00", "office-li", "AcceptanceExtensionDecided", {
        "request_seq": _seq(extension), "decision": "approved", "new_deadline": "2025-12-31",
        "remarks": "同意延期至2025年12月31日。"})
    yield Step("2025-12-10 10:00", "hanji-liu", "PreliminaryAcceptanceCompleted", {
        "completed_on": "2025-12-10"}, effective="2025-12-10")
    yield Step("2025-12-19 10:00", "hanji-liu", "CatalogCompleted", _catalogue((
        ("GXQ-HJ-0001", "便民服务办件信息", "unconditional", "conditional"),
    ), 8_734))
    yield Step("2025-12-26 10:00", "hanji-liu", "AcceptanceReportFiled", _acceptance(
        "2025-12-26", title, ("GXQ-HJ-0001",)), effective="2025-12-26")
    yield Step("2026-01-20 10:00", "finance-zhao", "FundsDisbursed", _paid(
        "construction", _fen(813_400), contract_no, "韩集镇便民服务中心 拨款凭证第2期"))


def _hanji_grid(ids: Mapping[str, UUID]) -> Story:
    """韩集镇 网格化社会治理平台: an overdue acceptance that blocks all funds (Art. 19).

    Completed 2025-12-15; acceptance was due 2026-03-16 and never filed. A construction
    payment in May 2026 is refused (acceptance_required); O&M funds arranged in June 2026
    cannot be paid either.
    """
    contract_no = "HJZ-2025-003"
    yield Step("2024-10-10 10:00", "hanji-liu", "ApplicationFiled", _application(
        "韩集镇网格化社会治理平台建设项目", "new", 2025, _fen(1_020_000), [
            _resource("网格事件信息", "网格员移动端采集",
                      "database real_time unconditional not_open"),
            _resource("网格人口信息", "区数据共享平台",
                      "service_api daily conditional not_open",
                      "《个人信息保护法》第三十四条"),
        ], basis=("聊城高新区基层治理“一张网”建设方案",)))
    yield Step("2024-11-28 15:00", "office-li", "ReviewOpinionIssued", _opinion(
        "approved", "同意建设，网格人口信息调用区数据共享平台，核定预算96万元。",
        _fen(960_000)))
    yield Step("2024-12-26 11:00", "hanji-liu", "ProgressReported", _progress(
        2024, "完成需求调研。", 0))
    yield Step("2025-02-20 10:00", "finance-zhao", "FundingArranged", _arranged(
        2025, "construction", _fen(960_000), "2025年区级基层治理信息化资金"))
    yield Step("2025-04-11 10:00", "hanji-liu", "ContractFiled", _contract(
        contract_no, "山东瀚海数据服务有限公司", _fen(935_000),
        "2025-04-08", "competitive_consultation"), effective="2025-04-08")
    yield Step("2025-04-22 10:00", "finance-zhao", "FundsDisbursed", _paid(
        "construction", _fen(280_500), contract_no, "网格化平台 拨款凭证第1期"))
    yield Step("2025-12-15 16:00", "hanji-liu", "ConstructionCompleted", {
        "completed_on": "2025-12-15", "summary": "平台上线，全镇48个网格接入。"},
        effective="2025-12-15")
    yield Step("2025-12-26 10:00", "hanji-liu", "ProgressReported", _progress(
        2025, "建设任务完成，待组织竣工验收。", _fen(280_500)))
    yield Step("2026-05-12 10:00", "finance-zhao", "FundsDisbursed", _paid(
        "construction", _fen(374_000), contract_no, "网格化平台 拨款凭证第2期"),
        refused="acceptance_required")
    yield Step("2026-06-09 10:00", "finance-zhao", "FundingArranged", _arranged(
        2026, "operation_maintenance", _fen(60_000), "2026年区级信息系统运维经费"))


def _bigdata_cloud(ids: Mapping[str, UUID]) -> Story:
    """区大数据中心 政务云安全能力提升: on-time contract filing; a security finding lifted.

    The contract signed Fri 2024-09-27 is filed Wed 2024-10-09, within 5 working days across
    National Day (due 2024-10-10: 29 Sep and 12 Oct were adjusted working days, Art. 13). A
    cryptography assessment fails in Mar 2025; the Office finds the system non-compliant
    (the unit is barred meanwhile), orders rectification, accepts it and restores compliance
    in Jul 2025. Accepted Nov 2025; O&M funds paid in 2026.
    """
    title = "高新区政务云安全能力提升项目"
    contract_no = "GXQ-DSJ-2024-027"
    yield Step("2023-10-25 10:00", "bigdata-zhang", "ApplicationFiled", _application(
        title, "upgrade", 2024, _fen(1_680_000), [
            _resource("政务云资源使用台账", "本单位运维采集",
                      "spreadsheet monthly unconditional not_open"),
        ], basis=("聊城高新区数字政府建设规划", "区政务云等级保护测评整改意见"),
        art8=("hardware",),
        special="依托现有区政务云机房扩充安全资源池，不新建机房，硬件仅限密码机及安全网关。"))
    yield Step("2023-12-14 15:00", "office-li", "ReviewOpinionIssued", _opinion(
        "approved_with_conditions", "同意建设，核定预算156万元。", _fen(1_560_000),
        conditions=("采购的密码产品须取得商用密码产品认证证书",)))
    yield Step("2023-12-28 10:00", "bigdata-zhang", "ProgressReported", _progress(
        2023, "完成安全现状评估。", 0))
    yield Step("2024-03-19 10:00", "finance-zhao", "FundingArranged", _arranged(
        2024, "construction", _fen(1_560_000), "2024年区级数字政府建设资金"))
    yield Step("2024-10-09 10:30", "bigdata-zhang", "ContractFiled", _contract(
        contract_no, "青岛海岳网络安全技术有限公司", _fen(1_524_000),
        "2024-09-27", "public_tender"), effective="2024-09-27")
    yield Step("2024-10-22 10:00", "finance-zhao", "FundsDisbursed", _paid(
        "construction", _fen(457_200), contract_no, "政务云安全 拨款凭证第1期"))
    yield Step("2024-12-26 15:00", "bigdata-zhang", "ProgressReported", _progress(
        2024, "安全网关设备到货安装，日志审计系统部署中。", _fen(457_200)))
    yield Step("2025-03-14 10:00", "bigdata-zhang", "SecurityAssessmentRecorded", {
        "protection_level": 3, "risk_assessment": "basically_compliant",
        "cryptography_assessment": "non_compliant",
        "assessor": "山东省某商用密码应用安全性评估机构",
        "report": _doc("政务云安全 密评报告（初评）")})
    finding = yield Step("2025-03-20 10:00", "office-li", "SecurityNonComplianceFound", {
        "issue": "cryptography",
        "finding": "政务云用户身份鉴别及重要数据传输未采用商用密码技术，密评结论为不符合。",
        "document": _doc("政务云安全 监督检查记录")})
    order = yield Step("2025-03-25 10:00", "office-li", "RectificationOrdered", {
        "reason": "密码应用不符合要求（第二十二条第二项、第二十八条）。",
        "cited_articles": [22, 28, 30], "deadline": "2025-06-30",
        "document": _doc("政务云安全 整改通知书")})
    yield Step("2025-06-20 10:00", "bigdata-zhang", "RectificationReported", {
        "order_seq": _seq(order),
        "summary": "已部署国密SSL网关和签名验签服务器，完成身份鉴别改造。",
        "report": _doc("政务云安全 整改报告")})
    yield Step("2025-07-01 10:00", "bigdata-zhang", "SecurityAssessmentRecorded", {
        "protection_level": 3, "risk_assessment": "compliant",
        "cryptography_assessment": "compliant", "assessor": "山东省某商用密码应用安全性评估机构",
        "report": _doc("政务云安全 密评报告（复评）")})
    yield Step("2025-07-04 10:00", "office-li", "RectificationConcluded", {
        "order_seq": _seq(order), "outcome": "accepted", "remarks": "经复评，密码应用符合要求。"})
    yield Step("2025-07-04 10:30", "office-li", "ComplianceRestored", {
        "finding_seq": _seq(finding), "evidence": "密评复评结论为符合，整改通过。",
        "document": _doc("政务云安全 复核意见")})
    yield Step("2025-09-26 16:00", "bigdata-zhang", "ConstructionCompleted", {
        "completed_on": "2025-09-26"}, effective="2025-09-26")
    yield Step("2025-10-16 10:00", "bigdata-zhang", "PreliminaryAcceptanceCompleted", {
        "completed_on": "2025-10-16"}, effective="2025-10-16")
    yield Step("2025-10-24 10:00", "bigdata-zhang", "CatalogCompleted", _catalogue((
        ("GXQ-DSJ-0101", "政务云资源使用台账", "unconditional", "not_open"),
    ), 2_316))
    yield Step("2025-11-18 10:00", "bigdata-zhang", "AcceptanceReportFiled", _acceptance(
        "2025-11-18", title, ("GXQ-DSJ-0101",)), effective="2025-11-18")
    yield Step("2025-12-02 10:00", "finance-zhao", "FundsDisbursed", _paid(
        "construction", _fen(1_066_800), contract_no, "政务云安全 拨款凭证第2期"))
    yield Step("2026-01-08 10:00", "finance-zhao", "FundingArranged", _arranged(
        2026, "operation_maintenance", _fen(150_000), "2026年区级信息系统运维经费"))
    yield Step("2026-03-16 10:00", "finance-zhao", "FundsDisbursed", _paid(
        "operation_maintenance", _fen(75_000), None, "政务云安全 运维经费拨款凭证第1期"))


def _bigdata_exchange(ids: Mapping[str, UUID]) -> Story:
    """区大数据中心 数据共享交换平台二期: revise, supplement, approve; a late annual report.

    The Dec 2024 opinion asks for revision; in Jan 2025 the unit tries to file a contract it
    signed early, which is refused (approval_required, Art. 9); it supplements its materials
    and is approved in Feb 2025. Its 2025 progress report is filed on 2026-01-12 (Art. 14).
    """
    yield Step("2024-10-28 10:00", "bigdata-zhang", "ApplicationFiled", _application(
        "高新区数据共享交换平台二期扩建项目", "expansion", 2025, _fen(980_000), [
            _resource("共享交换目录信息", "本平台",
                      "database daily unconditional conditional"),
            _resource("接口调用日志", "本平台",
                      "database real_time conditional not_open",
                      "《数据安全法》第二十七条，仅供安全审计使用"),
        ], basis=("聊城高新区数字政府建设规划",), art8=("data_exchange",),
        special="区级统一共享交换平台由区大数据中心统筹建设运营（第五条），为各部门共用的"
                "公共性平台，不属于部门单独建设。"))
    yield Step("2024-12-03 15:00", "office-li", "ReviewOpinionIssued", _opinion(
        "revise", "请补充数据分级分类及接口访问控制方案、重新测算接口开发工作量后报审。",
        failed={"security_solution": "缺少数据分级分类与接口访问控制方案",
                "plan_and_budget": "接口开发工作量测算偏高"}))
    yield Step("2025-01-08 10:00", "bigdata-zhang", "ContractFiled", _contract(
        "GXQ-DSJ-2025-002", "山东鲁数云科技有限公司", _fen(930_000),
        "2025-01-06", "competitive_consultation"), effective="2025-01-06",
        refused="approval_required")
    yield Step("2025-01-20 10:00", "bigdata-zhang", "MaterialsSupplemented", {
        "documents": {"construction_plan": _doc("数据共享交换平台二期 建设方案（修订版）"),
                      "other_documents": [_doc("数据共享交换平台二期 数据分级分类方案")]},
        "remarks": "按评审意见补充数据分级分类及访问控制方案，接口开发工作量核减12%。"})
    yield Step("2025-02-26 15:00", "office-li", "ReviewOpinionIssued", _opinion(
        "approved", "修订方案可行，核定预算88万元。", _fen(880_000)))
    yield Step("2025-03-18 10:00", "finance-zhao", "FundingArranged", _arranged(
        2025, "construction", _fen(880_000), "2025年区级数字政府建设资金"))
    yield Step("2025-04-25 10:00", "bigdata-zhang", "ContractFiled", _contract(
        "GXQ-DSJ-2025-009", "山东鲁数云科技有限公司", _fen(869_000),
        "2025-04-22", "competitive_consultation"), effective="2025-04-22")
    yield Step("2025-05-13 10:00", "finance-zhao", "FundsDisbursed", _paid(
        "construction", _fen(260_700), "GXQ-DSJ-2025-009", "共享交换二期 拨款凭证第1期"))
    yield Step("2026-01-12 10:00", "bigdata-zhang", "ProgressReported", _progress(
        2025, "完成目录管理、接口网关扩容，累计接入部门系统41个。", _fen(260_700),
        ("接口网关试运行，日均调用12万次。", "个别部门接口响应超时。")))


def _market_kitchen(ids: Mapping[str, UUID]) -> Story:
    """市场监管部 “明厨亮灶”智慧监管: audit, misappropriation, criticism, termination.

    The Audit Branch finds irregular spending (Apr 2025), records materials refused and funds
    diverted; the rectification fails; the Office criticises (Aug 2025) and terminates the
    project (Sep 2025) and refers the responsible roles for discipline. A progress report filed
    afterwards is refused (project_terminated, Art. 30).
    """
    contract_no = "GXQ-SJ-2024-004"
    yield Step("2023-10-30 10:00", "market-gao", "ApplicationFiled", _application(
        "食品安全“明厨亮灶”智慧监管系统建设项目", "new", 2024, _fen(620_000), [
            _resource("餐饮单位后厨视频", "餐饮单位自有摄像头接入",
                      "streaming_media real_time conditional not_open",
                      "涉及经营主体商业秘密，仅限监管使用"),
        ], basis=("山东省“明厨亮灶”工程实施方案",), art8=("video_surveillance",),
        special="仅接入餐饮单位自有后厨摄像头视频流，依托区视频共享平台，不新建前端监控点位。"))
    yield Step("2023-12-19 15:00", "office-li", "ReviewOpinionIssued", _opinion(
        "approved", "同意建设，视频流接入区视频共享平台，核定预算58万元。", _fen(580_000)))
    yield Step("2023-12-28 11:00", "market-gao", "ProgressReported", _progress(
        2023, "完成接入餐饮单位摸底。", 0))
    yield Step("2024-03-21 10:00", "finance-zhao", "FundingArranged", _arranged(
        2024, "construction", _fen(580_000), "2024年区级食品安全监管资金"))
    yield Step("2024-04-24 10:00", "market-gao", "ContractFiled", _contract(
        contract_no, "济南华衡软件有限公司", _fen(573_000), "2024-04-19",
        "competitive_negotiation"), effective="2024-04-19")
    yield Step("2024-05-10 10:00", "finance-zhao", "FundsDisbursed", _paid(
        "construction", _fen(401_100), contract_no, "明厨亮灶 拨款凭证第1期"))
    yield Step("2024-12-27 10:00", "market-gao", "ProgressReported", _progress(
        2024, "接入餐饮单位126家。", _fen(401_100)))
    audit = yield Step("2025-04-15 10:00", "audit-sun", "AuditFindingRecorded", {
        "kind": "irregular_use", "amount_fen": _fen(38_600),
        "description": "以视频接入设备名义列支单位办公电脑及打印机购置费用。",
        "report": _doc("明厨亮灶 审计报告")})
    withheld = yield Step("2025-04-22 10:00", "audit-sun", "InformationWithheldRecorded", {
        "conduct": "refused", "what": "视频接入点位验收测试记录及设备出入库台账",
        "requested_on": "2025-04-16"})
    diverted = yield Step("2025-05-20 10:00", "audit-sun", "FundsMisappropriationFound", {
        "conduct": "diverted", "amount_fen": _fen(52_000),
        "description": "将项目建设资金挪用于单位食堂改造。", "report": _doc("明厨亮灶 审计决定书")})
    order = yield Step("2025-05-28 10:00", "office-li", "RectificationOrdered", {
        "reason": "资金使用不合规、拒绝提供审计资料、挪用项目资金"
                  "（第三十条、第三十二条、第三十四条）。",
        "cited_articles": [30, 32, 34], "deadline": "2025-07-31",
        "document": _doc("明厨亮灶 整改通知书")})
    yield Step("2025-08-12 10:00", "office-li", "RectificationConcluded", {
        "order_seq": _seq(order), "outcome": "failed",
        "remarks": "逾期未报送整改报告，挪用资金未归还。"})
    yield Step("2025-08-20 10:00", "office-li", "CriticismNotified", {
        "reason": "拒不整改、挪用项目资金，予以通报批评（第三十条、第三十三条）。",
        "document": _doc("明厨亮灶 通报批评文件")})
    yield Step("2025-09-03 10:00", "office-li", "ProjectTerminated", {
        "reason": "拒不整改，依据第三十条终止项目。", "document": _doc("明厨亮灶 终止项目决定")})
    yield Step("2025-09-16 10:00", "office-li", "DisciplinaryReferralMade", {
        "referred_to": "discipline", "authority": "高新区纪工委监察工委",
        "conduct": ["misappropriation", "poor_management"],
        "persons": ["responsible_manager", "finance_officer"],
        "cited_articles": [32, 33, 34],
        "finding_seqs": [_seq(audit), _seq(withheld), _seq(diverted)],
        "document": _doc("明厨亮灶 移送函")})
    yield Step("2025-12-22 10:00", "market-gao", "ProgressReported", _progress(
        2025, "项目已终止，报告资金清退情况。", _fen(401_100)), refused="project_terminated")


def _market_credit(ids: Mapping[str, UUID]) -> Story:
    """市场监管部 市场主体信用监管平台: catalogue never completed (Art. 26).

    Preliminary acceptance 2026-05-12, so the catalogue was due 2026-05-26; it never came.
    2026 O&M funds were arranged within those 10 working days. Accepted Jun 2026 (catalogue
    inclusion stated as not done); the construction balance is paid, but an O&M payment in Sep
    2026 is refused (catalogue_not_completed).
    """
    title = "市场主体信用监管平台建设项目"
    contract_no = "GXQ-SJ-2025-006"
    yield Step("2024-10-17 10:00", "market-gao", "ApplicationFiled", _application(
        title, "new", 2025, _fen(1_400_000), [
            _resource("市场主体信用信息", "区数据共享平台（登记注册数据）及本单位监管采集",
                      "database daily unconditional unconditional"),
        ], basis=("聊城高新区社会信用体系建设实施方案",)))
    yield Step("2024-12-10 15:00", "office-li", "ReviewOpinionIssued", _opinion(
        "approved", "同意建设，核定预算132万元。", _fen(1_320_000)))
    yield Step("2024-12-27 11:00", "market-gao", "ProgressReported", _progress(
        2024, "完成需求调研。", 0))
    yield Step("2025-03-11 10:00", "finance-zhao", "FundingArranged", _arranged(
        2025, "construction", _fen(1_320_000), "2025年区级社会信用体系建设资金"))
    yield Step("2025-05-21 10:00", "market-gao", "ContractFiled", _contract(
        contract_no, "山东瀚海数据服务有限公司", _fen(1_298_000),
        "2025-05-16", "public_tender"), effective="2025-05-16")
    yield Step("2025-06-03 10:00", "finance-zhao", "FundsDisbursed", _paid(
        "construction", _fen(389_400), contract_no, "信用监管平台 拨款凭证第1期"))
    yield Step("2025-12-23 10:00", "market-gao", "ProgressReported", _progress(
        2025, "信用分级分类监管模块上线试运行。", _fen(389_400),
        ("试运行3个月，完成1.6万户市场主体信用评价。", "部分历史数据质量较差。")))
    yield Step("2026-03-31 16:00", "market-gao", "ConstructionCompleted", {
        "completed_on": "2026-03-31"}, effective="2026-03-31")
    yield Step("2026-05-12 10:00", "market-gao", "PreliminaryAcceptanceCompleted", {
        "completed_on": "2026-05-12", "report": _doc("信用监管平台 初步验收意见")},
        effective="2026-05-12")
    yield Step("2026-05-19 10:00", "finance-zhao", "FundingArranged", _arranged(
        2026, "operation_maintenance", _fen(90_000), "2026年区级信息系统运维经费"))
    yield Step("2026-06-18 10:00", "market-gao", "AcceptanceReportFiled", _acceptance(
        "2026-06-18", title, (), remarks="信息资源目录编制及数据归集尚未完成。"),
        effective="2026-06-18")
    yield Step("2026-07-07 10:00", "finance-zhao", "FundsDisbursed", _paid(
        "construction", _fen(908_600), contract_no, "信用监管平台 拨款凭证第2期"))
    yield Step("2026-09-15 10:00", "finance-zhao", "FundsDisbursed", _paid(
        "operation_maintenance", _fen(45_000), None, "信用监管平台 运维经费拨款凭证第1期"),
        refused="catalogue_not_completed")


def _hanji_village(ids: Mapping[str, UUID]) -> Story:
    """韩集镇 数字乡村综合服务平台: what the dates show whatever the order of filing.

    A provincial pilot declared without the Office's consent: the province's approval is
    recorded in Jan 2025 and flagged (Art. 10). The contract was signed on 2025-03-14, four days
    before the approving opinion took effect, for 1.38 million yuan against an approved budget
    of 0.9 million; filed two days after the opinion, on time for Art. 13, it is recorded and
    flagged under Art. 9 and Art. 15, and the first construction payment is refused
    (procurement_before_opinion) until the Office orders rectification and restores compliance
    citing the contract. Accepted in May 2026 without a preliminary acceptance on file and with
    its resources not in the sharing catalogue: the Art. 26 period runs from the acceptance, so
    O&M funds arranged in Oct 2026 are refused (catalogue_not_completed).
    """
    title = "韩集镇数字乡村综合服务平台建设项目"
    contract_no = "HJZ-2025-001"
    programme = "山东省数字乡村建设试点"
    yield Step("2024-10-22 10:00", "hanji-liu", "ApplicationFiled", _application(
        title, "new", 2025, _fen(1_500_000), [
            _resource("农村集体资产信息", "本单位业务采集",
                      "database monthly unconditional conditional"),
            _resource("农户经营主体信息", "区数据共享平台（市场主体登记数据）",
                      "service_api daily conditional not_open", "《个人信息保护法》第三十四条"),
        ], basis=("山东省农业农村厅关于开展数字乡村建设试点的通知",
                  "韩集镇党委会议纪要〔2024〕21号"),
        higher_level={"level": "provincial", "programme": programme}))
    yield Step("2025-01-16 10:00", "hanji-liu", "HigherLevelApprovalRecorded", {
        "level": "provincial", "document": _doc("数字乡村 省农业农村厅批复"),
        "approval_no": "鲁农字〔2025〕7号", "approved_amount_fen": _fen(400_000)})
    opinion = yield Step("2025-03-18 15:00", "office-li", "ReviewOpinionIssued", _opinion(
        "approved", "同意建设，省级补助40万元，区级配套50万元，核定预算90万元。", _fen(900_000)))
    contract = yield Step("2025-03-20 10:00", "hanji-liu", "ContractFiled", _contract(
        contract_no, "山东瀚海数据服务有限公司", _fen(1_380_000),
        "2025-03-14", "competitive_consultation"), effective="2025-03-14")
    yield Step("2025-04-08 10:00", "finance-zhao", "FundingArranged", _arranged(
        2025, "construction", _fen(900_000), "省级数字乡村试点补助及区级配套资金"))
    yield Step("2025-04-15 10:00", "finance-zhao", "FundsDisbursed", _paid(
        "construction", _fen(270_000), contract_no, "数字乡村 拨款凭证第1期"),
        refused="procurement_before_opinion")
    order = yield Step("2025-04-22 10:00", "office-li", "RectificationOrdered", {
        "reason": f"合同签订早于评审意见生效（第九条，评审意见seq {_seq(opinion)}），且合同金额"
                  "超出核定预算（第十五条），限期重新履行采购审核程序并签订补充协议核减合同金额。",
        "cited_articles": [9, 15, 30], "deadline": "2025-06-30",
        "document": _doc("数字乡村 整改通知书")})
    yield Step("2025-06-20 10:00", "hanji-liu", "RectificationReported", {
        "order_seq": _seq(order),
        "summary": "已按评审意见重新履行采购审核程序，签订补充协议将合同金额核减至88万元。",
        "report": _doc("数字乡村 整改报告")})
    yield Step("2025-06-27 10:00", "office-li", "RectificationConcluded", {
        "order_seq": _seq(order), "outcome": "accepted", "remarks": "经复核，整改到位。"})
    yield Step("2025-06-27 10:30", "office-li", "ComplianceRestored", {
        "finding_seq": _seq(contract),
        "evidence": "采购审核程序已补正，补充协议将合同金额核减至核定预算以内。",
        "document": _doc("数字乡村 复核意见")})
    yield Step("2025-07-03 10:00", "finance-zhao", "FundsDisbursed", _paid(
        "construction", _fen(270_000), contract_no, "数字乡村 拨款凭证第1期"))
    yield Step("2025-12-26 10:30", "hanji-liu", "ProgressReported", _progress(
        2025, "完成集体资产、农户经营主体管理模块开发，试运行中。", _fen(270_000)))
    yield Step("2026-03-31 17:00", "hanji-liu", "ConstructionCompleted", {
        "completed_on": "2026-03-31", "summary": "平台上线，全镇32个行政村接入。"},
        effective="2026-03-31")
    yield Step("2026-05-20 10:00", "hanji-liu", "AcceptanceReportFiled", _acceptance(
        "2026-05-20", title, (),
        remarks="平台信息资源尚未纳入共享目录，目录编制及数据归集未开展。"),
        effective="2026-05-20")
    yield Step("2026-06-10 10:00", "finance-zhao", "FundsDisbursed", _paid(
        "construction", _fen(600_000), contract_no, "数字乡村 拨款凭证第2期（验收后结算）"))
    yield Step("2026-10-14 10:00", "finance-zhao", "FundingArranged", _arranged(
        2027, "operation_maintenance", _fen(80_000), "2027年区级信息系统运维经费"),
        refused="catalogue_not_completed")


def _emergency_command(ids: Mapping[str, UUID]) -> Story:
    """应急管理部 应急指挥调度一体化平台: provincial pilot; a failed rectification.

    Applied in March 2024 for a provincial programme (outside October, Art. 6); the Office
    consents to the declaration (Art. 10), the province approves, the Office approves. A serious
    delay is reported in Jun 2025; the rectification fails (Sep 2025) and the Office suspends
    construction and all funds; a payment in Nov 2025 is refused (funding_suspended).
    """
    programme = "山东省“智慧应急”试点项目"
    contract_no = "GXQ-YJ-2024-002"
    yield Step("2024-03-18 10:00", "emergency-ma", "ApplicationFiled", _application(
        "应急指挥调度一体化平台建设项目", "new", 2024, _fen(2_300_000), [
            _resource("应急资源信息", "本单位业务采集",
                      "database daily unconditional conditional"),
            _resource("重点风险源监测数据", "企业物联网感知设备",
                      "service_api real_time conditional not_open",
                      "《安全生产法》相关规定，仅限应急管理使用"),
        ], basis=("山东省应急管理厅关于申报“智慧应急”试点项目的通知",),
        co_builders=("town-hanji",), higher_level={"level": "provincial",
                                                    "programme": programme}))
    yield Step("2024-03-26 15:00", "office-li", "HigherLevelDeclarationConsented", {
        "level": "provincial", "programme": programme,
        "document": _doc("应急指挥 同意申报审核意见")})
    yield Step("2024-06-14 10:00", "emergency-ma", "HigherLevelApprovalRecorded", {
        "level": "provincial", "document": _doc("应急指挥 省应急管理厅批复"),
        "approval_no": "鲁应急字〔2024〕58号", "approved_amount_fen": _fen(600_000)})
    yield Step("2024-06-28 15:00", "office-li", "ReviewOpinionIssued", _opinion(
        "approved", "同意建设，省级补助60万元，区级配套150万元，核定预算210万元。",
        _fen(2_100_000)))
    yield Step("2024-07-10 10:00", "finance-zhao", "FundingArranged", _arranged(
        2024, "construction", _fen(600_000), "省级“智慧应急”试点补助资金",
        source="higher_level_funds"))
    yield Step("2024-07-10 10:10", "finance-zhao", "FundingArranged", _arranged(
        2024, "construction", _fen(1_500_000), "2024年区级应急管理信息化配套资金"))
    yield Step("2024-08-23 10:00", "emergency-ma", "ContractFiled", _contract(
        contract_no, "山东鲁安应急科技有限公司", _fen(2_050_000),
        "2024-08-20", "public_tender"), effective="2024-08-20")
    yield Step("2024-09-05 10:00", "finance-zhao", "FundsDisbursed", _paid(
        "construction", _fen(615_000), contract_no, "应急指挥 拨款凭证第1期"))
    yield Step("2024-12-24 11:00", "emergency-ma", "ProgressReported", _progress(
        2024, "完成指挥中心基础平台和应急资源一张图。", _fen(615_000)))
    yield Step("2025-06-16 10:00", "emergency-ma", "IncidentReported", {
        "kind": "serious_delay",
        "description": "融合通信及指挥大屏子系统较合同约定逾期90天未交付。",
        "measures": "已约谈供应商，要求增派人员。"})
    order = yield Step("2025-06-25 10:00", "office-li", "RectificationOrdered", {
        "reason": "工程严重逾期（第十七条），限期完成融合通信子系统交付。",
        "cited_articles": [17, 30], "deadline": "2025-08-29",
        "document": _doc("应急指挥 整改通知书")})
    yield Step("2025-08-27 10:00", "emergency-ma", "RectificationReported", {
        "order_seq": _seq(order), "summary": "融合通信子系统完成部署，指挥大屏仍未到货。",
        "report": _doc("应急指挥 整改报告")})
    yield Step("2025-09-12 10:00", "office-li", "RectificationConcluded", {
        "order_seq": _seq(order), "outcome": "failed",
        "remarks": "经现场核查，指挥大屏仍未交付，融合通信子系统未通过联调测试。"})
    yield Step("2025-09-19 10:00", "office-li", "ConstructionSuspended", {
        "reason": "整改后仍不符合要求，依据第十七条、第三十条暂停项目建设。",
        "order_seq": _seq(order)})
    yield Step("2025-09-19 10:10", "office-li", "FundingSuspended", {
        "scope": "all", "reason": "整改后仍不符合要求，依据第三十条暂缓拨付资金。"})
    yield Step("2025-11-10 10:00", "finance-zhao", "FundsDisbursed", _paid(
        "construction", _fen(410_000), contract_no, "应急指挥 拨款凭证第2期"),
        refused="funding_suspended")
    yield Step("2025-12-29 10:00", "emergency-ma", "ProgressReported", _progress(
        2025, "项目暂停建设，正与供应商协商整改方案。", _fen(615_000)))


def _emergency_forest(ids: Mapping[str, UUID]) -> Story:
    """应急管理部 森林防火视频监测预警系统: filed in the October 2026 round, not yet reviewed."""
    yield Step("2026-10-19 10:00", "emergency-ma", "ApplicationFiled", _application(
        "森林防火视频监测预警系统建设项目", "new", 2027, _fen(860_000), [
            _resource("林区视频监测数据", "区视频共享平台",
                      "streaming_media real_time conditional not_open",
                      "涉及重点林区安全，仅限应急管理使用"),
        ], basis=("聊城市森林防火“十四五”规划",), art8=("video_surveillance",),
        special="复用区视频共享平台已有高点监控，仅新增林区烟火识别算法及预警模块。"))


def _edu_resources(ids: Mapping[str, UUID]) -> Story:
    """教育和体育部 教育资源公共服务平台升级: suspended and resumed (Art. 17).

    A major loss in Aug 2025 (the supplier's botched deployment destroyed trial data); the
    Office suspends construction and Finance suspends construction funds; both are lifted in
    Oct 2025 and a payment follows in Apr 2026.
    """
    contract_no = "GXQ-JT-2025-014"
    yield Step("2024-10-14 10:00", "edu-wang", "ApplicationFiled", _application(
        "中小学教育资源公共服务平台升级项目", "upgrade", 2025, _fen(780_000), [
            _resource("数字教育资源目录", "本单位业务采集",
                      "database weekly unconditional unconditional"),
        ], basis=("聊城高新区教育信息化2.0行动计划",)))
    yield Step("2024-11-26 15:00", "office-li", "ReviewOpinionIssued", _opinion(
        "approved", "同意升级，核定预算72万元。", _fen(720_000)))
    yield Step("2024-12-23 10:00", "edu-wang", "ProgressReported", _progress(
        2024, "完成需求调研。", 0))
    yield Step("2025-03-04 10:00", "finance-zhao", "FundingArranged", _arranged(
        2025, "construction", _fen(720_000), "2025年区级教育信息化专项资金"))
    yield Step("2025-04-18 10:00", "edu-wang", "ContractFiled", _contract(
        contract_no, "聊城智联信息技术有限公司", _fen(706_000),
        "2025-04-15", "competitive_consultation"), effective="2025-04-15")
    yield Step("2025-05-08 10:00", "finance-zhao", "FundsDisbursed", _paid(
        "construction", _fen(211_800), contract_no, "教育资源平台 拨款凭证第1期"))
    yield Step("2025-08-18 10:00", "edu-wang", "IncidentReported", {
        "kind": "major_loss",
        "description": "供应商违规在生产环境执行数据迁移脚本，试运行数据库损毁，"
                       "部分课程资源需重建。",
        "estimated_loss_fen": _fen(18_000), "measures": "已责令供应商恢复数据并承担重建费用。"})
    yield Step("2025-08-21 10:00", "office-li", "ConstructionSuspended", {
        "reason": "投资出现重大损失，依据第十七条暂停建设，待数据恢复及安全评估完成后恢复。"})
    yield Step("2025-08-21 10:10", "finance-zhao", "FundingSuspended", {
        "scope": "construction", "reason": "项目暂停建设期间暂缓拨付建设资金（第三十条）。"})
    yield Step("2025-10-27 10:00", "office-li", "ConstructionResumed", {
        "reason": "数据已恢复，供应商承担重建费用，安全评估通过，恢复建设。"})
    yield Step("2025-10-27 10:10", "finance-zhao", "FundingReinstated", {
        "scope": "construction", "reason": "项目恢复建设，恢复拨付建设资金。"})
    yield Step("2025-12-22 10:00", "edu-wang", "ProgressReported", _progress(
        2025, "数据恢复完成，资源检索与推荐模块开发中。", _fen(211_800)))
    yield Step("2026-04-14 10:00", "finance-zhao", "FundsDisbursed", _paid(
        "construction", _fen(282_400), contract_no, "教育资源平台 拨款凭证第2期"))


def _health_platform(ids: Mapping[str, UUID]) -> Story:
    """卫生健康部 全民健康信息平台扩容: a budget raised by change; a late contract filing.

    Approved at 2.8 million yuan (Dec 2024); a change raising the budget to 3.3 million is
    approved (Jul 2025, Art. 16) and funds arranged to 3.1 million. The contract signed Fri
    2025-09-26 was due 2025-10-10 (National Day and Mid-autumn) and filed 2025-10-14
    (late, Art. 13). A payment in Apr 2026 takes the total past the old budget; in May 2026 a
    payment beyond the arranged funds is refused (Art. 15); 2026 funds are arranged and the
    balance paid.
    """
    contract_no = "GXQ-WJ-2025-021"
    yield Step("2024-10-21 10:00", "health-chen", "ApplicationFiled", _application(
        "区域全民健康信息平台扩容项目", "expansion", 2025, _fen(3_200_000), [
            _resource("居民健康档案索引", "辖区医疗卫生机构",
                      "database real_time conditional not_open",
                      "《基本医疗卫生与健康促进法》第九十二条"),
            _resource("医疗机构基础信息", "本单位业务采集",
                      "database monthly unconditional unconditional"),
        ], basis=("山东省全民健康信息平台建设指南", "聊城高新区“十四五”卫生健康规划"),
        co_builders=("bigdata",)))
    yield Step("2024-12-06 15:00", "office-li", "ReviewOpinionIssued", _opinion(
        "approved_with_conditions", "同意扩容，核定预算280万元。", _fen(2_800_000),
        conditions=("合同签订前完成三级等保测评方案并报备",)))
    yield Step("2024-12-25 10:00", "health-chen", "ProgressReported", _progress(
        2024, "完成扩容需求论证及等保测评方案。", 0))
    yield Step("2025-03-12 10:00", "finance-zhao", "FundingArranged", _arranged(
        2025, "construction", _fen(2_000_000), "2025年区级卫生健康信息化资金"))
    change = yield Step("2025-07-08 10:00", "health-chen", "ChangeRequested", {
        "aspects": ["budget", "main_content"],
        "new_values": {"budget_fen": _fen(3_450_000),
                       "main_content": "新增电子健康档案省级互通及医保移动支付接口，"
                                       "存储扩容至400TB。"},
        "reason": "省卫生健康委要求2025年底前实现电子健康档案省级互通。",
        "document": _doc("健康平台 调整申请")})
    yield Step("2025-07-30 15:00", "office-li", "ChangeDecided", {
        "request_seq": _seq(change), "decision": "approved",
        "approved_budget_fen": _fen(3_300_000),
        "remarks": "同意调整，核减存储扩容费用15万元，调整后核定预算330万元。",
        "document": _doc("健康平台 调整审核意见")})
    yield Step("2025-08-12 10:00", "finance-zhao", "FundingArranged", _arranged(
        2025, "construction", _fen(1_100_000), "2025年区级预算调整追加"))
    yield Step("2025-10-14 10:00", "health-chen", "ContractFiled", _contract(
        contract_no, "济南华衡软件有限公司", _fen(3_286_000),
        "2025-09-26", "public_tender"), effective="2025-09-26")
    yield Step("2025-10-20 10:00", "finance-zhao", "FundsDisbursed", _paid(
        "construction", _fen(985_800), contract_no, "健康平台 拨款凭证第1期"))
    yield Step("2025-12-22 10:00", "health-chen", "ProgressReported", _progress(
        2025, "存储扩容完成，省级互通接口开发中。", _fen(985_800)))
    yield Step("2026-04-15 10:00", "finance-zhao", "FundsDisbursed", _paid(
        "construction", _fen(1_960_000), contract_no, "健康平台 拨款凭证第2期"))
    yield Step("2026-05-19 10:00", "finance-zhao", "FundsDisbursed", _paid(
        "construction", _fen(350_000), contract_no, "健康平台 拨款凭证第3期"),
        refused="exceeds_arranged_or_approved")
    yield Step("2026-06-16 10:00", "finance-zhao", "FundingArranged", _arranged(
        2026, "construction", _fen(200_000), "2026年区级卫生健康信息化资金"))
    yield Step("2026-07-09 10:00", "finance-zhao", "FundsDisbursed", _paid(
        "construction", _fen(340_200), contract_no, "健康平台 拨款凭证第3期"))


def _health_telemedicine(ids: Mapping[str, UUID]) -> Story:
    """卫生健康部 远程视频会诊系统: an Art. 8 category without special circumstances; rejected."""
    yield Step("2024-10-29 10:00", "health-chen", "ApplicationFiled", _application(
        "基层医疗机构远程视频会诊系统建设项目", "new", 2025, _fen(450_000), [
            _resource("远程会诊记录", "本系统",
                      "database real_time conditional not_open",
                      "《医疗机构病历管理规定》"),
        ], basis=("卫生健康部2025年工作要点",), art8=("web_conferencing",)))
    yield Step("2024-12-18 15:00", "office-li", "ReviewOpinionIssued", _opinion(
        "rejected", "区已建成统一视频会议系统，可满足远程会诊需要，不再单独建设（第八条第六项）。",
        failed={"resource_sharing": "未复用区统一视频会议系统",
                "plan_and_budget": "终端采购数量测算依据不足"}))


def _health_records(ids: Mapping[str, UUID]) -> Story:
    """卫生健康部 电子健康档案授权调阅系统: a sharing exemption by the CDR (Art. 22)."""
    contract_no = "GXQ-WJ-2026-006"
    yield Step("2025-10-13 10:00", "health-chen", "ApplicationFiled", _application(
        "居民电子健康档案授权调阅系统升级项目", "upgrade", 2026, _fen(700_000), [
            _resource("居民电子病历", "辖区医疗卫生机构",
                      "database real_time not_shared not_open",
                      "《基本医疗卫生与健康促进法》第九十二条、《个人信息保护法》第二十八条，"
                      "仅经居民授权调阅"),
        ], basis=("聊城市电子健康档案开放调阅工作方案",)))
    yield Step("2025-11-07 10:00", "cdr-wu", "SharingExemptionGranted", {
        "scope": "居民电子病历及诊疗明细数据不纳入区数据共享平台普遍共享，仅经居民授权调阅。",
        "legal_basis": "《基本医疗卫生与健康促进法》第九十二条；《个人信息保护法》第二十八条。",
        "office_review": _doc("健康档案 综合管理办公室审核意见（不共享）")})
    yield Step("2025-11-25 15:00", "office-li", "ReviewOpinionIssued", _opinion(
        "approved", "首席数据代表已批准不共享范围，同意升级，核定预算64万元。", _fen(640_000)))
    yield Step("2025-12-23 10:00", "health-chen", "ProgressReported", _progress(
        2025, "完成授权调阅流程设计。", 0))
    yield Step("2026-03-10 10:00", "finance-zhao", "FundingArranged", _arranged(
        2026, "construction", _fen(640_000), "2026年区级卫生健康信息化资金"))
    yield Step("2026-05-13 10:00", "health-chen", "ContractFiled", _contract(
        contract_no, "山东鲁康数字科技有限公司", _fen(628_000),
        "2026-05-08", "competitive_consultation"), effective="2026-05-08")
    yield Step("2026-05-27 10:00", "finance-zhao", "FundsDisbursed", _paid(
        "construction", _fen(188_400), contract_no, "健康档案 拨款凭证第1期"))


def _registry(ids: Mapping[str, UUID]) -> Story:
    """The administrator's yearly key rotation: the office's old key is revoked (KeyRevoked)."""

    def rotate(ledger: Ledger) -> None:
        old = ledger.registry().current_key("office-li", ledger.now())
        ledger.rotate_key("office-li")
        ledger.revoke_key(old.key_id, reason="年度密钥轮换，旧密钥停用")

    yield Admin("2025-01-06 09:00", rotate)


STORIES: tuple[tuple[str | None, Callable[[Mapping[str, UUID]], Story]], ...] = (
    ("campus", _campus),
    ("civil-elderly", _civil_elderly),
    ("hanji-service", _hanji_service),
    ("bigdata-cloud", _bigdata_cloud),
    ("market-kitchen", _market_kitchen),
    ("emergency-command", _emergency_command),
    ("hanji-grid", _hanji_grid),
    ("edu-resources", _edu_resources),
    ("market-credit", _market_credit),
    ("health-platform", _health_platform),
    ("bigdata-exchange", _bigdata_exchange),
    ("health-telemedicine", _health_telemedicine),
    ("health-records", _health_records),
    ("hanji-village", _hanji_village),
    ("campus-om", _campus_om),
    ("civil-om", _civil_om),
    ("emergency-forest", _emergency_forest),
    (None, _registry),
)
"""(project key, story): the key names the project the story's application opens."""


# --- loading ---------------------------------------------------------------------------------


def _refuse_non_empty(ledger: Ledger) -> None:
    try:
        identity = ledger.identity
    except LedgerNotInitialisedError:
        pass
    else:
        raise LedgerError(
            f"the demo needs an empty database; {ledger.settings.database_url} already holds the"
            f" ledger {identity.origin!r}. The demo records past times (2023–2026) and the"
            " ledger never lets recorded_at go backwards: point LEDGER_DATABASE_URL at a new"
            " database (do not run `ledger init` first)")
    ledger.log.create_table()
    if ledger.log.tree_size():
        raise LedgerError(
            f"the demo needs an empty database; {ledger.settings.database_url} already holds"
            f" {ledger.log.tree_size()} log entries")


@dataclass
class _Runner:
    """Merges the stories in time order and files their steps."""

    ledger: Ledger
    clock: DemoClock
    ids: dict[str, UUID] = field(default_factory=dict)
    refusals: list[Refusal] = field(default_factory=list)
    _uploaded: set[str] = field(default_factory=set)
    _queue: list[tuple[datetime, int, int, Step | Admin]] = field(default_factory=list)
    _stories: list[tuple[str | None, Story]] = field(default_factory=list)
    _counter: int = 0

    def add(self, key: str | None, story: Story) -> None:
        self._stories.append((key, story))
        self._push(len(self._stories) - 1, None, first=True)

    def _push(self, index: int, result: Receipt | None, *, first: bool = False) -> None:
        _, story = self._stories[index]
        try:
            step = next(story) if first else story.send(result)
        except StopIteration:
            return
        self._counter += 1
        heapq.heappush(self._queue, (cst(step.when), index, self._counter, step))

    def run(self) -> None:
        while self._queue:
            _, index, _, step = heapq.heappop(self._queue)
            key = self._stories[index][0]
            self.clock.at(step.when)
            if isinstance(step, Admin):
                step.action(self.ledger)
                self._push(index, None)
                continue
            self._push(index, self._file(key, step))

    def _file(self, key: str | None, step: Step) -> Receipt | None:
        opens = step.event_type == "ApplicationFiled"
        stream = None if opens or key is None else self.ids[key]
        payload = step.payload() if callable(step.payload) else step.payload
        effective = date.fromisoformat(step.effective) if step.effective else self.clock.today()
        self._upload(step.event_type, payload)
        attempted_at = format_time(self.clock.peek())
        try:
            receipt = self.ledger.file(step.actor, step.event_type, payload, stream=stream,
                                       effective=effective)
        except RuleViolationError as exc:
            if exc.rule != step.refused:
                raise LedgerError(f"demo step {key} {step.event_type} at {step.when} was refused"
                                  f" unexpectedly: {exc}") from exc
            self.refusals.append(Refusal(
                None if opens else key, step.actor, step.event_type, exc.rule, exc.article,
                exc.detail, attempted_at))
            return None
        if step.refused is not None:
            raise LedgerError(f"demo step {key} {step.event_type} at {step.when} should have"
                              f" been refused under {step.refused}, but was recorded")
        if opens and key is not None:
            self.ids[key] = receipt.stream
        return receipt

    def _upload(self, event_type: str, payload: Payload) -> None:
        """Upload the documents the filing references (content-addressed, idempotent)."""
        for sha256 in documents_referenced(validate_payload(event_type, payload)):
            if sha256 not in self._uploaded:
                self.ledger.add_document(_DOCUMENTS[sha256], "text/plain")
                self._uploaded.add(sha256)


def load_demo(settings: Settings) -> DemoResult:
    """Initialise an empty ledger and file the demo data set through a demo clock.

    Raises :class:`~ledger.errors.LedgerError` if the database already holds a ledger (or any
    log entry): the demo's times are in the past and ``recorded_at`` never goes backwards.
    """
    clock = DemoClock(DEMO_START)
    ledger = Ledger(settings, clock=clock)
    try:
        _refuse_non_empty(ledger)
        # Before any key is made: the mark is what lets the development placeholder master
        # key seal this database's keys (docs/keys.md), and it tells any reader it is sample data.
        ledger.custody.mark_demo(f"made by `ledger demo` at {format_time(datetime.now(UTC))}:"
                                 " sample data, not a real ledger")
        ledger.initialise()
        for actor, role, unit, name in ACTORS:
            ledger.register_actor(actor, role, unit, name)
        runner = _Runner(ledger, clock)
        for key, story in STORIES:
            runner.add(key, story(runner.ids))
        runner.run()
        imported = _import_batch(ledger, clock, runner.ids)
        reminders = _remind(ledger, clock)
        leaves = list(_first_and_last(ledger))
        return DemoResult(
            projects=MappingProxyType(dict(runner.ids)), units=UNITS,
            refusals=tuple(runner.refusals), started_at=leaves[0], finished_at=leaves[-1],
            entries=ledger.log.tree_size(), imported=MappingProxyType(imported),
            reminders=reminders)
    finally:
        ledger.close()


# --- an imported batch and a reminder run ---------------------------------------------------

IMPORT_AT = "2026-11-02 10:00"
"""When the office imports the last of its Excel project library (项目库导入)."""
REMIND_AT = "2026-11-24 09:00"
"""When the demo's reminder run goes out (``ledger remind``)."""

_IMPORT_ROWS: dict[str, list[list[object]]] = {
    # 项目编号, 建设单位, 项目名称, 项目类别, 申报年度, 申报金额（万元）, 申报日期,
    # 涉及新建土建工程, 信息资源名称, 数据来源, 资源格式, 更新周期, 共享属性, 开放属性, 共享依据,
    # 原建设项目编号
    "项目": [
        ["DR-2024-07", "应急管理部", "应急物资储备管理系统", "新建", 2025, 180, "2024-10-10", "否",
         "应急物资储备信息", "本单位业务采集", "数据库", "每日", "无条件共享", "不予开放", None,
         None],
        ["DR-2024-09", "市场监管部", "食品安全追溯平台", "新建", 2025, 95, "2024-10-16", "否",
         "食品生产经营主体信息", "本单位业务采集", "数据库", "实时", "有条件共享", "有条件开放",
         "《食品安全法》第一百一十八条", None],
        ["DR-2024-12", "卫生健康部", "基层医疗机构数据直报系统", "新建", 2025, 60, "2024-10-21",
         "否", "基层诊疗统计数据", "区数据共享平台", "电子表格", "每月", "有条件共享",
         "不予开放", "《个人信息保护法》", None],
    ],
    # 项目编号, 评审结论, 核定预算（万元）, 通过条件, 意见摘要, 意见日期
    "评审意见": [
        ["DR-2024-07", "通过", 168.8, None, "同意立项", "2024-11-15"],
        ["DR-2024-09", "通过", 92.5, None, "同意立项，压缩硬件采购", "2024-12-02"],
        ["DR-2024-12", "通过", 58, None, "同意立项", "2024-12-10"],
    ],
    # 项目编号, 预算年度, 资金类型, 金额（万元）, 资金来源, 来源说明, 安排日期
    "资金安排": [
        ["DR-2024-07", 2025, "建设资金", 168.8, "区级财政预算", "2025年区级信息化专项",
         "2025-01-10"],
        ["DR-2024-09", 2025, "建设资金", 92.5, "区级财政预算", "2025年区级信息化专项",
         "2025-01-10"],
    ],
    # 项目编号, 合同编号, 供应商, 统一社会信用代码, 合同金额（万元）, 签订日期, 采购方式, 备案日期
    "合同备案": [
        ["DR-2024-07", "YJ-2025-003", "山东鲁安应急科技有限公司", "91370100MA3C5R2H8L", 158.6,
         "2025-02-20", "公开招标", "2025-02-24"],
        ["DR-2024-09", "SJ-2025-011", "济南华衡软件有限公司", "91370100MA3C5R2H7K", 88.2,
         "2025-04-10", "竞争性磋商", "2025-04-18"],
        # The office's register (备案日期) has DR-2024-07's contract on time (met) and
        # DR-2024-09's six working days after signing (met late, flagged contract_filing_late):
        # the import's history attestation (历史记录确认) dates each as the office received it.
        # Signed and filed before the review opinion (2024-12-10): refused, so the whole project
        # stays out of the ledger until the office corrects its spreadsheet.
        ["DR-2024-12", "WJ-2024-021", "山东鲁康数字科技有限公司", "91370100MA3C5R2H6G", 55,
         "2024-11-01", "单一来源采购", "2024-11-05"],
    ],
    # 项目编号, 资金类型, 金额（万元）, 合同编号, 拨付日期
    "资金拨付": [
        ["DR-2024-07", "建设资金", 47.58, "YJ-2025-003", "2025-03-05"],
    ],
    # 项目编号, 报告年度, 建设进度, 预算执行金额（万元）, 报告日期, 报送日期
    "年度报告": [
        ["DR-2024-07", 2025, "完成系统部署和物资数据迁移，进入试运行", 47.58, "2025-12-18",
         "2025-12-19"],
    ],
}


def _import_workbook() -> bytes:
    """The demo's spreadsheet: the template's sheets with a few projects (项目库导入)."""
    import io  # noqa: PLC0415

    from openpyxl import Workbook  # noqa: PLC0415

    from ledger.measures.importing import SHEETS  # noqa: PLC0415

    book = Workbook()
    book.remove(book.active)
    for spec in SHEETS:
        sheet = book.create_sheet(spec.name)
        sheet.append([column.header for column in spec.columns])
        for row in _IMPORT_ROWS.get(spec.name, []):
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _import_batch(ledger: Ledger, clock: DemoClock, ids: dict[str, UUID]) -> dict[str, int]:
    """Import the demo spreadsheet; its filed projects join ``ids`` as ``import:<项目编号>``."""
    from ledger.service.importer import Importer  # noqa: PLC0415

    clock.at(IMPORT_AT)
    report = Importer(ledger).run(_import_workbook(), "项目库导入-2026-11.xlsx")
    for row in report.rows:
        if row.status == "filed" and row.event_type == "ApplicationFiled" and row.project:
            from ledger.measures.importing import project_stream  # noqa: PLC0415

            ids[f"import:{row.project}"] = project_stream(ledger.identity.origin, row.project)
    return report.counts()


class _Outbox:
    """The demo's mail room: a channel that keeps what it is given (no server is needed)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[str] = []

    def send(self, reminder: object) -> None:
        self.sent.append(str(getattr(reminder, "subject", "")))


def _remind(ledger: Ledger, clock: DemoClock) -> int:
    """One ``ledger remind`` run at :data:`REMIND_AT`, each unit with an email channel."""
    from ledger.service.reminders import Reminders  # noqa: PLC0415

    clock.at(REMIND_AT)
    reminders = Reminders(ledger, channel_for=lambda row: _Outbox(row.name))
    for unit in UNITS:
        reminders.book.add_channel(unit, "email", f"xinxihua@{unit}.gaoxin.example", None,
                                   ledger.now())
    return reminders.run().count("sent")


def _first_and_last(ledger: Ledger) -> Iterator[str]:
    size = ledger.log.tree_size()
    for index in (0, size - 1):
        leaf = ledger.log.leaf(index)
        if leaf is not None:
            yield leaf.recorded_at


__all__ = ["ACTORS", "CST", "DEMO_START", "EVALUATION_DATE", "STORIES", "UNITS", "DemoClock",
           "DemoResult", "Refusal", "Step", "cst", "load_demo"]
