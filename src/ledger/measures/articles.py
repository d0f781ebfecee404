"""Every rule of the Measures the ledger applies, once: its article, the article's own words in
Chinese, what it does (refuse, flag, block funds, set a deadline), which events it concerns,
which dates decide it and what happens when the event that would start it is missing.

The rules engine (:mod:`ledger.measures.rules`) takes each refusal's and flag's article and
``quote_zh`` from here, so an explanation never cites other words than the ones the rule was
written from; ``scripts/rules_table.py`` writes ``docs/rules.md`` from this table, the catalogue
and the test names (docs/design.md §4.6). Quotes are verbatim from 聊高新区管办发〔2023〕8号
(its mixed full- and half-width punctuation kept); "……" marks words left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

Effect = Literal["refuse", "flag", "block", "deadline"]
"""What a rule does: ``refuse`` a filing (409), ``flag`` a recorded one (§4.1), ``block`` a kind
of funds (§4.2 eligibility, which the arrangement and disbursement guards apply), or set a
``deadline`` (§4.3 obligation; met late, it is flagged ``<rule>_late``)."""


@dataclass(frozen=True)
class RuleSpec:
    """One rule as the regulation states it and as the ledger applies it."""

    rule: str
    """The rule id every refusal, reason, flag and obligation carries."""
    article: str
    """The article it applies, as cited (``"Art. 22(1)"``); several for a shared guard."""
    effects: tuple[Effect, ...]
    quote_zh: str
    """The article's own words, short (原文); empty for a rule of the ledger's own bookkeeping
    (a filing that cites nothing open) rather than of the Measures' text."""
    summary: str
    """What the ledger does, in English."""
    events: tuple[str, ...]
    """The events it judges, or that start or meet it."""
    dates: str = ""
    """Which dates of the facts decide it (besides what has been recorded)."""
    deadline: str = ""
    """For a deadline: when it falls due."""
    missing_start: str = ""
    """For a block or a deadline: what happens when the event that would start it is missing."""


_ART9 = "评审意见是项目立项、资金安排、政府采购等工作的前提和依据"
_ART19_FUNDS = "对未经验收的项目，不得拨付后续建设资金和运行维护经费"
_ART22_1 = ("对于未按要求共享数据资源或者重复采集数据的政务信息系统，不安排运行维护经费,"
            "项目建设单位不得新建、改建、扩建政务信息系统")
_ART22_2 = ("对于不符合密码应用和网络安全要求,未按等级分级保护标准要求建设,或者存在重大安全隐患的"
            "政务信息系统,不安排运行维护经费")
_ART26_2 = ("项目建设单位未完成目录编制和数据归集工作、或归集更新不及时、或重复采集数据的，"
            "不再安排项目运行维护经费")
_ART30 = ("对拒不整改或整改后仍不符合要求的，可对其进行通报批评、暂缓拨付建设资金、暂停项目建设，"
          "直至终止项目")

_RULES: tuple[RuleSpec, ...] = (
    # --- application and review -------------------------------------------------------------
    RuleSpec(
        "application_window", "Art. 6", ("deadline",),
        "每年10月份，项目建设单位向综合管理办公室提报信息系统项目立项申请",
        "an application is filed in October; filed in another month it is met late and flagged",
        ("ApplicationFiled",), dates="the day the application was recorded (Beijing)",
        deadline="31 October of the year it is filed"),
    RuleSpec(
        "art8_review", "Art. 8", ("flag",), "无特殊情况，以下项目不再单独建设",
        "an application in an Art. 8 category without special circumstances is flagged for the"
        " Office's review", ("ApplicationFiled",)),
    RuleSpec(
        "approval_required", "Art. 9", ("refuse", "block"), _ART9,
        "no contract filing, arrangement or disbursement before an approving review opinion;"
        " funds dated before the day the approving opinion took effect are refused",
        ("ReviewOpinionIssued", "ContractFiled", "FundingArranged", "FundsDisbursed"),
        dates="the approving opinion's `effective` against the funding filing's `effective`",
        missing_start="no approving opinion: nothing may be arranged or paid"),
    RuleSpec(
        "procurement_before_opinion", "Art. 9", ("flag", "block"), _ART9,
        "a contract signed before the approving opinion took effect is recorded and flagged,"
        " whatever the order of the filings; construction funds are blocked until the Office"
        " restores compliance citing the contract (ComplianceRestored)",
        ("ContractFiled", "ReviewOpinionIssued", "ComplianceRestored"),
        dates="the contract's `signed_on` against the approving opinion's `effective`",
        missing_start="a contract never filed is not known to the ledger; its filing is due"
                      " within 5 working days of signing (Art. 13)"),
    RuleSpec(
        "declaration_without_consent", "Art. 10", ("flag",),
        "项目建设单位按有关规定程序组织申报前，须取得综合管理办公室同意申报的审核意见",
        "a higher-level approval filed without the Office's consent to declare at that level"
        " taking effect on or before it is recorded and flagged",
        ("HigherLevelApprovalRecorded", "HigherLevelDeclarationConsented"),
        dates="the consent's `effective` against the approval's `effective`"),
    # --- construction and funding ------------------------------------------------------------
    RuleSpec(
        "contract_filing", "Art. 13", ("deadline",),
        "项目建设单位签订正式采购合同5个工作日内，应将合同文本报综合管理办公室备案",
        "each contract is filed within 5 working days of signing; a late filing is recorded"
        " and flagged", ("ContractFiled",),
        dates="`signed_on`; met on the day recorded",
        deadline="the 5th working day after `signed_on`"),
    RuleSpec(
        "annual_report", "Art. 14", ("deadline",),
        "项目建设单位应于每年年底前向综合管理办公室、财政管理部报告项目建设进度和预算执行情况",
        "a progress report each year from the approving opinion until acceptance",
        ("ProgressReported",), dates="the report's `year`; met on the day recorded",
        deadline="31 December of each year from the approving opinion's year"),
    RuleSpec(
        "contract_over_budget", "Art. 15", ("flag",),
        "项目建设单位应严格按照审核通过的建设方案和投资预算实施项目建设，原则上超支不补",
        "contracts whose total exceeds the approved budget in force when the contract was filed"
        " are recorded and flagged; payments stay capped by the approved budget (no_headroom)",
        ("ContractFiled", "ReviewOpinionIssued", "ChangeDecided")),
    RuleSpec(
        "exceeds_arranged_or_approved", "Art. 15", ("refuse",), "原则上超支不补",
        "a payment beyond what remains of the arranged and approved amounts is refused",
        ("FundsDisbursed",)),
    RuleSpec(
        "no_headroom", "Art. 15", ("block",), "原则上超支不补",
        "nothing left within the arranged and approved amounts of that kind",
        ("FundingArranged", "FundsDisbursed", "ReviewOpinionIssued", "ChangeDecided"),
        missing_start="no arrangement: no headroom"),
    RuleSpec(
        "not_suspended", "Art. 17, 30", ("refuse",),
        "综合管理办公室依照有关规定可要求项目建设单位进行整改或暂停建设",
        "a resumption or reinstatement when nothing is suspended is refused",
        ("ConstructionResumed", "FundingReinstated")),
    # --- completion and acceptance -----------------------------------------------------------
    RuleSpec(
        "acceptance", "Art. 19", ("deadline",),
        "项目建设单位应在完成项目建设任务后3个月内组织开展竣工验收工作",
        "acceptance within 3 months of completion (or by an approved extension's deadline)",
        ("ConstructionCompleted", "AcceptanceReportFiled", "AcceptanceExtensionDecided"),
        dates="`completed_on` and the report's `accepted_on`; an acceptance on or before the"
              " unmoved end of the period is met without the calendar",
        deadline="3 months after `completed_on` (a day off carries it to the next working day)",
        missing_start="completion not filed but a preliminary acceptance is: completion is"
                      " taken to be no later than the preliminary acceptance"),
    RuleSpec(
        "acceptance_required", "Art. 19", ("block",), _ART19_FUNDS,
        "construction complete but not accepted: no further construction funds; a construction"
        " project not accepted: no O&M funds",
        ("ConstructionCompleted", "PreliminaryAcceptanceCompleted", "AcceptanceReportFiled"),
        dates="`completed_on` (or the preliminary acceptance's date) and `accepted_on` against"
              " the evaluation date",
        missing_start="no completion filed: construction funds flow as during construction,"
                      " but a new, expansion or upgrade project gets no O&M funds until its"
                      " acceptance report, whether or not completion was filed"),
    RuleSpec(
        "not_completed", "Art. 19", ("refuse",),
        "项目建设单位应在完成项目建设任务后3个月内组织开展竣工验收工作",
        "an acceptance report is refused before construction is completed, or when it is"
        " dated before the completion it follows", ("AcceptanceReportFiled",
                                                     "ConstructionCompleted"),
        dates="`accepted_on` against `completed_on`"),
    RuleSpec(
        "extension_requested_late", "Art. 19", ("flag",),
        "项目建设单位未按期组织验收的，应提出延期验收申请",
        "an acceptance extension requested after the deadline it would extend is recorded and"
        " flagged", ("AcceptanceExtensionRequested",),
        dates="the day the request was recorded against the deadline in force then"),
    RuleSpec(
        "self_evaluation", "Art. 20", ("deadline",),
        "项目建设单位应在项目竣工验收并投入使用或运营后12至24个月内……开展自评价",
        "a self-evaluation within 12 to 24 months after acceptance; one filed earlier (even"
        " before acceptance) is flagged and does not meet it, one filed later is met late",
        ("SelfEvaluationSubmitted", "AcceptanceReportFiled"),
        dates="`accepted_on`; the day each report was recorded",
        deadline="24 months after `accepted_on` (the window opens at 12 months)"),
    # --- sharing and security ----------------------------------------------------------------
    RuleSpec(
        "sharing_non_compliance", "Art. 22(1)", ("block",), _ART22_1,
        "an active sharing finding not exempted: no O&M funds arranged or paid, and the unit"
        " may not apply for new, expansion or upgrade projects",
        ("SharingNonComplianceFound", "SharingExemptionGranted", "ComplianceRestored"),
        missing_start="no finding: no block (the finding is the Office's determination)"),
    RuleSpec(
        "security_non_compliance", "Art. 22(2)", ("block",), _ART22_2,
        "an active security finding: no O&M funds arranged or paid, and the unit may not apply"
        " for new, expansion or upgrade projects",
        ("SecurityNonComplianceFound", "ComplianceRestored"),
        missing_start="no finding: no block, unless the latest security assessment failed"),
    RuleSpec(
        "security_assessment_failed", "Art. 22(2)", ("block",), _ART22_2,
        "the latest recorded security assessment concludes non_compliant: no O&M funds"
        " arranged or paid until a later assessment passes",
        ("SecurityAssessmentRecorded",),
        missing_start="no assessment recorded: no block"),
    RuleSpec(
        "unit_barred", "Art. 22(1), 22(2)", ("refuse",),
        "项目建设单位不得新建、改建、扩建政务信息系统",
        "a unit with an active finding may not apply for a new, expansion or upgrade project",
        ("ApplicationFiled", "SharingNonComplianceFound", "SecurityNonComplianceFound")),
    RuleSpec(
        "exemption_not_applicable", "Art. 22", ("refuse",),
        "如果部门认为根据有关法律法规、党中央国务院和省委省政府要求不能进行信息共享,但是确有必要"
        "建设或者保留的,由综合管理办公室审核并报高新区“首席数据代表”批准后,方可建设或者保留",
        "an exemption naming a finding must name an active sharing finding of data not shared"
        " (not_shared): a legal bar to sharing does not excuse duplicate collection, selective"
        " sharing or untimely updates. An exemption naming no finding covers not_shared"
        " findings only", ("SharingExemptionGranted", "SharingNonComplianceFound")),
    # --- catalogue ---------------------------------------------------------------------------
    RuleSpec(
        "catalogue", "Art. 26", ("deadline",),
        "项目建设单位应在初步验收完成10个工作日内，通过“高新区数据共享平台”完成信息系统的目录编制"
        "及数据归集工作",
        "the catalogue compiled and data collected within 10 working days of preliminary"
        " acceptance", ("PreliminaryAcceptanceCompleted", "AcceptanceReportFiled",
                        "CatalogCompleted"),
        dates="the preliminary acceptance's `completed_on`; met on the day recorded",
        deadline="the 10th working day after the preliminary acceptance",
        missing_start="no preliminary acceptance filed: the final acceptance's `accepted_on`"
                      " starts the period (a preliminary acceptance cannot come later)"),
    RuleSpec(
        "catalogue_not_completed", "Art. 26", ("block",), _ART26_2,
        "the catalogue obligation is overdue: no O&M funds arranged or paid until a catalogue"
        " with data collected is filed", ("CatalogCompleted", "FundingArranged",
                                          "FundsDisbursed"),
        missing_start="no preliminary acceptance: the period runs from the acceptance date;"
                      " neither: Art. 19 (acceptance_required) already blocks O&M funds"),
    # --- supervision -------------------------------------------------------------------------
    RuleSpec(
        "rectification", "Art. 30", ("deadline",), "应当责令项目建设单位限期整改",
        "a rectification report by the deadline the order sets",
        ("RectificationOrdered", "RectificationReported"),
        dates="the order's `deadline`; met on the day recorded",
        deadline="the order's `deadline`"),
    RuleSpec(
        "funding_suspended", "Art. 30", ("block",), _ART30,
        "an active funding suspension blocks the kind of funds it covers",
        ("FundingSuspended", "FundingReinstated"),
        missing_start="no suspension: no block (it is the Office's or Finance's act)"),
    RuleSpec(
        "project_terminated", "Art. 30", ("refuse", "block"), _ART30,
        "a terminated project takes only supervision filings (Arts. 30–35) and no funds",
        ("ProjectTerminated",),
        missing_start="nothing to bypass: termination is the Office's act"),
    RuleSpec(
        "unknown_reference", "Art. 16, 19, 22, 30", ("refuse",), "",
        "a decision, report, exemption or restoration that cites no open request, order,"
        " finding or early contract of the project is refused",
        ("ChangeDecided", "RectificationReported", "RectificationConcluded",
         "AcceptanceExtensionDecided", "ComplianceRestored", "SharingExemptionGranted")),
    RuleSpec(
        "history_attestation", "Art. 6, 13, 14, 19", ("refuse",),
        "项目建设单位签订正式采购合同5个工作日内，应将合同文本报综合管理办公室备案",
        "a history attestation (历史记录确认) dates only entries the Office receives, brought in"
        " in its own group commit: every entry it names must follow it in that commit (the"
        " opening application may precede it), none may be on the ledger already, and no day"
        " may be after today, so an attested day is never later than the ledger's own",
        ("HistoryAttested",),
        dates="the attested day of receipt of each entry (受理日期)"),
)

RULES: Mapping[str, RuleSpec] = MappingProxyType({spec.rule: spec for spec in _RULES})
"""Every rule by id, in the order of the Measures."""


def rule_spec(rule: str) -> RuleSpec:
    """The spec of ``rule`` (a flag ``<rule>_late`` is its deadline's)."""
    found = RULES.get(rule)
    if found is None and rule.endswith("_late"):
        found = RULES.get(rule.removesuffix("_late"))
    if found is None:
        raise KeyError(rule)
    return found


def quote(rule: str) -> str:
    """The Chinese words of the article ``rule`` applies ("" for a rule not in the table)."""
    try:
        return rule_spec(rule).quote_zh
    except KeyError:
        return ""


__all__ = ["RULES", "Effect", "RuleSpec", "quote", "rule_spec"]
