"""The payloads of project-stream events (docs/design.md §3), one model per event.

A payload holds what its author states; the ledger adds who, when and where (docs/design.md §5
filing envelope: ``actor``, ``effective``, ``stream``...). Facts that depend on other events
(is the contract late? is the project eligible?) are judged by the rules engine and the
projections, never here: a model only checks what one filing can show on its own.

Earlier entries of the same project are cited by their ``seq`` (fields named ``*_seq``):
the stream is per project, so ``seq`` is unambiguous, and it is what officials see on the
timeline.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from ledger.measures.catalogue._types import (
    DEADLINE,
    PLAN,
    ApprovalDecision,
    Art8Category,
    ArticleNo,
    DocumentRef,
    Fen,
    FiscalYear,
    Flag,
    FundingKind,
    FundingScope,
    GovernmentLevel,
    Identifier,
    IsoDate,
    Known,
    OpennessAttribute,
    Payload,
    PositiveFen,
    Problem,
    ProjectId,
    ProjectKind,
    Remarks,
    ResourceFormat,
    Seq,
    SharingAttribute,
    ShortText,
    Text,
    UpdateFrequency,
    unique,
)

# --- application (Arts. 6, 7, 8, 24) -------------------------------------------------------


class ApplicationDocuments(Payload):
    """The application materials of Art. 7 (申报材料), each by SHA-256.

    Which are required depends on the project's kind and on civil works; the rule lives in
    :class:`ApplicationFiled` (``MaterialsSupplemented`` sends any subset of the same fields).
    """

    declaration_form: DocumentRef | None = None  # (一) 项目申报表
    # (二) 建设方案 (with 项目概算表、可行性分析、公共数据资源目录、信息共享开放方式和范围、
    # 外部数据资源需求、信息安全、政务云资源使用情况): new, expansion and upgrade projects.
    construction_plan: DocumentRef | None = None
    prior_contract: DocumentRef | None = None  # (二) 原建设项目合同或往年运维服务合同 (O&M)
    prior_performance_report: DocumentRef | None = None  # (二) 前期项目绩效评估报告 (O&M)
    performance_targets: DocumentRef | None = None  # (三) 项目绩效目标及绩效指标
    basis_documents: tuple[DocumentRef, ...] = ()  # (四) 规划、批示、批复、会议纪要等依据材料
    # 涉及新建土建工程规划的: 可行性研究报告、初步设计方案、投资概算
    feasibility_study: DocumentRef | None = None
    preliminary_design: DocumentRef | None = None
    investment_estimate: DocumentRef | None = None
    other_documents: tuple[DocumentRef, ...] = ()  # 其他材料 (e.g. 专家意见, 整体方案附件)

    def present(self) -> frozenset[str]:
        """The names of the document fields that hold at least one reference."""
        return frozenset(
            name for name in type(self).model_fields if getattr(self, name) not in (None, ())
        )


# Art. 7: the documents every application needs, and the documents per kind and civil works.
_DOC_NAMES_ZH: dict[str, str] = {
    "declaration_form": "项目申报表",
    "construction_plan": "建设方案",
    "prior_contract": "原建设项目合同或往年运维服务合同",
    "prior_performance_report": "前期项目绩效评估报告",
    "performance_targets": "项目绩效目标及绩效指标",
    "basis_documents": "规划、批示、批复、会议纪要等依据材料",
    "feasibility_study": "可行性研究报告",
    "preliminary_design": "初步设计方案",
    "investment_estimate": "投资概算",
}
_ALWAYS_REQUIRED = ("declaration_form", "performance_targets", "basis_documents")
_BY_KIND: dict[ProjectKind, tuple[str, ...]] = {
    ProjectKind.NEW: ("construction_plan",),
    ProjectKind.EXPANSION: ("construction_plan",),
    ProjectKind.UPGRADE: ("construction_plan",),
    ProjectKind.OPERATION_MAINTENANCE: ("prior_contract", "prior_performance_report"),
}
_CIVIL_WORKS = ("feasibility_study", "preliminary_design", "investment_estimate")


def required_application_documents(kind: ProjectKind, civil_works: bool) -> tuple[str, ...]:
    """The ``documents`` fields Art. 7 requires for an application of ``kind``.

    All kinds: declaration form, performance targets and at least one basis document. New,
    expansion and upgrade projects: the construction plan; O&M projects instead the prior
    contract and the prior performance evaluation report. Projects involving new civil works
    (涉及新建土建工程规划): the feasibility study, preliminary design and investment estimate
    (the article says 原则上, "in principle"; the Office waives one by review opinion, not by
    an incomplete filing).
    """
    return _ALWAYS_REQUIRED + _BY_KIND[kind] + (_CIVIL_WORKS if civil_works else ())


class DataResource(Payload):
    """One entry of the project's information-resource catalogue (信息资源目录, Art. 24).

    Art. 24 asks for the source, format, update, sharing and openness attributes of each
    data resource before the application is filed. A resource shared only on conditions or
    not shared needs its basis (the law or policy relied on: 有条件共享/不予共享 须有依据).
    """

    name: ShortText  # 信息资源名称
    source: ShortText  # 数据来源 (e.g. 本单位业务采集, 区数据共享平台)
    format: ResourceFormat  # 信息资源格式
    update_frequency: UpdateFrequency  # 更新周期
    sharing: SharingAttribute  # 共享属性
    openness: OpennessAttribute  # 开放属性
    sharing_basis: Text | None = None  # 有条件共享/不予共享的依据

    @classmethod
    def rules(cls, known: Known) -> list[Problem]:
        """A conditional or non-shared resource states its basis (Art. 24)."""
        sharing = known.get("sharing", SharingAttribute)
        if (
            sharing is not None
            and sharing is not SharingAttribute.UNCONDITIONAL
            and known.has("sharing_basis")
            and known.get("sharing_basis", str) is None
        ):
            return [Problem("sharing_basis",
                            f"required when sharing is {sharing.value!r} (Art. 24)", 24)]
        return []


class HigherLevelProgramme(Payload):
    """A national, provincial or municipal declaration the project belongs to (Art. 10)."""

    level: GovernmentLevel
    programme: ShortText  # 申报的专项/项目名称


class ApplicationFiled(Payload):
    """立项申请: a construction unit applies for a project (Arts. 6, 7, 8, 24). Opens a project.

    The project's unit is the filing actor's unit (the key registry binds it). Filing outside
    October (Art. 6) is not checked here: the obligations projection flags it. Art. 8
    categories without ``special_circumstances`` are likewise valid filings that the rules
    engine flags for the Office's review.
    """

    title: ShortText  # 项目名称
    kind: ProjectKind  # 项目类别
    fiscal_year: Annotated[FiscalYear, PLAN]  # 申报年度 (a plan: the year applied for)
    budget_estimate_fen: PositiveFen  # 项目概算/申请资金 (分)
    civil_works: Flag = False  # 涉及新建土建工程规划 (Art. 7)
    documents: ApplicationDocuments  # 申报材料 (Art. 7)
    data_resources: tuple[DataResource, ...] = ()  # 信息资源目录 (Art. 24), at least one
    art8_categories: tuple[Art8Category, ...] = ()  # 属于第八条所列项目类别
    special_circumstances: Text | None = None  # 特殊情况说明 (Art. 8)
    # 共建部门 (Art. 7: 跨部门、跨地域、跨层级共建共享的项目); their joint overall plan
    # (项目整体方案) is the construction plan the lead unit files.
    co_builders: tuple[Identifier, ...] = ()
    fixed_asset_investment: Flag = False  # 涉及固定资产投资 (Art. 5: 行政审批服务部审批)
    higher_level: HigherLevelProgramme | None = None  # 国家、省、市组织申报的项目 (Art. 10)
    related_project: ProjectId | None = None  # 原建设项目 (required for O&M)

    @classmethod
    def rules(cls, known: Known) -> list[Problem]:
        """Art. 7 documents, Art. 24 catalogue, O&M's related project, no repeated entries."""
        problems: list[Problem] = []
        kind = known.get("kind", ProjectKind)
        civil_works = known.get("civil_works", bool)
        documents = known.get("documents", ApplicationDocuments)
        if kind is not None and civil_works is not None and documents is not None:
            present = documents.present()
            for name in required_application_documents(kind, civil_works):
                if name not in present:
                    problems.append(Problem(f"documents.{name}", _missing_document(name, kind),
                                            7))
        data_resources = known.get("data_resources", tuple)
        if data_resources is not None and not data_resources:
            problems.append(Problem(
                "data_resources",
                "at least one data resource is required: the information-resource catalogue "
                "(信息资源目录) is a required element of the application (Art. 24)",
                24,
            ))
        if kind is not None and known.has("related_project"):
            related = known.get("related_project", object)
            if kind is ProjectKind.OPERATION_MAINTENANCE and related is None:
                problems.append(Problem(
                    "related_project",
                    "required for an operation_maintenance project: the project it maintains "
                    "(原建设项目, Art. 7)",
                    7,
                ))
        categories = known.get("art8_categories", tuple)
        if categories is not None and not unique(categories):
            problems.append(Problem("art8_categories", "a category is listed twice"))
        co_builders = known.get("co_builders", tuple)
        if co_builders is not None and not unique(co_builders):
            problems.append(Problem("co_builders", "a unit is listed twice"))
        return problems


def _missing_document(name: str, kind: ProjectKind) -> str:
    zh = _DOC_NAMES_ZH[name]
    if name in _CIVIL_WORKS:
        why = "for a project involving new civil works"
    elif name in _ALWAYS_REQUIRED:
        why = "for every application"
    else:
        why = f"when kind is {kind.value!r}"
    return f"{zh} ({name}) is required {why} (Art. 7)"


class MaterialsSupplemented(Payload):
    """补充申报材料: the unit supplements its application materials (Art. 7).

    ``documents`` uses the fields of the application; a reference here adds to (or, for a
    single-document field, supersedes) the one filed before. At least one is required.
    """

    documents: ApplicationDocuments
    remarks: Text | None = None  # 补充说明

    @classmethod
    def rules(cls, known: Known) -> list[Problem]:
        """At least one document is supplemented."""
        documents = known.get("documents", ApplicationDocuments)
        if documents is not None and not documents.present():
            return [Problem("documents", "supplement at least one document (Art. 7)", 7)]
        return []


class HigherLevelDeclarationConsented(Payload):
    """同意申报审核意见: the Office consents to a national/provincial/municipal declaration.

    Art. 10: required before the unit declares upward.
    """

    level: GovernmentLevel
    programme: ShortText  # 申报的专项/项目名称
    document: DocumentRef | None = None  # 审核意见文书


class HigherLevelApprovalRecorded(Payload):
    """上级审批备案: the unit files the higher level's approval with the Office (Art. 10)."""

    level: GovernmentLevel
    document: DocumentRef  # 上级批复文件
    approval_no: ShortText | None = None  # 批复文号
    approved_amount_fen: Fen | None = None  # 上级批复资金 (分), if any


class FixedAssetApprovalIssued(Payload):
    """固定资产投资项目审批: the Approval Service Dept approves a fixed-asset project (Art. 5)."""

    approval_no: ShortText  # 批复文号
    document: DocumentRef | None = None  # 批复文件
    approved_investment_fen: PositiveFen | None = None  # 批复总投资 (分)


# --- review (Art. 9) -----------------------------------------------------------------------


class ReviewDecision(StrEnum):
    """The outcome of the Office's review (评审意见, Art. 9)."""

    APPROVED = "approved"  # 通过
    APPROVED_WITH_CONDITIONS = "approved_with_conditions"  # 有条件通过
    REVISE = "revise"  # 修改后重新报审
    REJECTED = "rejected"  # 不予通过


class Criterion(Payload):
    """One Art. 9 review criterion: passed or not, with remarks (required when not passed)."""

    passed: Flag
    remarks: Remarks = ""

    @classmethod
    def rules(cls, known: Known) -> list[Problem]:
        """A failed criterion says why."""
        if known.get("passed", bool) is False and known.get("remarks", str) == "":
            return [Problem("remarks", "required when the criterion is not passed (Art. 9)", 9)]
        return []


class ReviewCriteria(Payload):
    """The five review contents of Art. 9 (评审内容), each judged."""

    resource_sharing: Criterion  # (一) 是否充分考虑资源集约利用和信息共享
    design_feasibility: Criterion  # (二) 设计方案是否合理可行，是否符合技术发展趋势
    security_solution: Criterion  # (三) 是否有全面、可行的信息安全解决方案
    cryptography_compliance: Criterion  # (四) 是否符合国家密码管理法律法规、政策和标准要求
    plan_and_budget: Criterion  # (五) 实施计划和资金测算是否合理


_APPROVING = (ReviewDecision.APPROVED, ReviewDecision.APPROVED_WITH_CONDITIONS)


class ReviewOpinionIssued(Payload):
    """评审意见: the Office's review opinion on an application (Art. 9).

    The opinion is the precondition of project approval, funding and procurement. An
    approving decision carries the approved budget; a conditional one its conditions. An
    unconditional ``approved`` with a failed criterion is refused as contradictory: the
    Office approves with conditions that address it, or asks for revision.
    """

    decision: ReviewDecision
    criteria: ReviewCriteria
    approved_budget_fen: PositiveFen | None = None  # 核定预算 (分): iff approved*
    conditions: tuple[Text, ...] = ()  # 通过条件: iff approved_with_conditions
    summary: Text | None = None  # 评审意见摘要
    document: DocumentRef | None = None  # 评审意见文书

    @classmethod
    def rules(cls, known: Known) -> list[Problem]:
        """Budget iff approving, conditions iff conditional, no failed criterion if approved."""
        decision = known.get("decision", ReviewDecision)
        if decision is None:
            return []
        problems: list[Problem] = []
        approving = decision in _APPROVING
        if known.has("approved_budget_fen"):
            budget = known.get("approved_budget_fen", int)
            if approving and budget is None:
                problems.append(Problem("approved_budget_fen",
                                        f"required when the decision is {decision.value!r}", 9))
            if not approving and budget is not None:
                problems.append(Problem("approved_budget_fen",
                                        f"must be absent when the decision is {decision.value!r}",
                                        9))
        conditions = known.get("conditions", tuple)
        if conditions is not None:
            conditional = decision is ReviewDecision.APPROVED_WITH_CONDITIONS
            if conditional and not conditions:
                problems.append(Problem("conditions",
                                        "at least one condition is required when the decision "
                                        "is 'approved_with_conditions'", 9))
            if not conditional and conditions:
                problems.append(Problem("conditions",
                                        "only an 'approved_with_conditions' decision has "
                                        "conditions", 9))
        criteria = known.get("criteria", ReviewCriteria)
        if decision is ReviewDecision.APPROVED and criteria is not None:
            failed = [name for name in ReviewCriteria.model_fields
                      if not getattr(criteria, name).passed]
            problems.extend(
                Problem(f"criteria.{name}.passed",
                        "an unconditional 'approved' cannot have a failed criterion: approve "
                        "with conditions or ask for revision", 9)
                for name in failed
            )
        return problems


# --- funding and contracts (Arts. 11, 13, 15, 21) --------------------------------------------


class FundingSource(StrEnum):
    """Where arranged money comes from (Arts. 11, 21, 36)."""

    DISTRICT_BUDGET = "district_budget"  # 区级财政预算
    HIGHER_LEVEL_FUNDS = "higher_level_funds"  # 上级补助/专项资金
    SELF_RAISED = "self_raised"  # 自筹资金 (Art. 36)
    OTHER = "other"  # 其他 (say which in source_detail)


class FundingArranged(Payload):
    """安排资金: Finance arranges construction or O&M money for a fiscal year (Arts. 11, 21)."""

    fiscal_year: Annotated[FiscalYear, PLAN]  # 预算年度 (a plan: funds may be arranged ahead)
    kind: FundingKind
    amount_fen: PositiveFen
    source: FundingSource
    source_detail: ShortText | None = None  # 资金来源说明 (e.g. 预算科目, 上级文件)
    document: DocumentRef | None = None  # 预算批复/指标文件

    @classmethod
    def rules(cls, known: Known) -> list[Problem]:
        """An ``other`` source says what it is."""
        if (known.get("source", FundingSource) is FundingSource.OTHER
                and known.has("source_detail") and known.get("source_detail", str) is None):
            return [Problem("source_detail", "required when source is 'other'")]
        return []


class FundsDisbursed(Payload):
    """拨付资金: Finance pays out construction or O&M money.

    Refused by the command layer unless the project is eligible for that kind (Arts. 15, 19,
    22, 26, 30) and within the arranged and approved amounts (Art. 15); the payload itself
    only states what is paid.
    """

    kind: FundingKind
    amount_fen: PositiveFen
    contract_no: ShortText | None = None  # 对应合同编号
    voucher: DocumentRef | None = None  # 拨款凭证


class ProcurementMethod(StrEnum):
    """Government procurement methods (政府采购法 art. 26 and the Ministry of Finance's rules)."""

    PUBLIC_TENDER = "public_tender"  # 公开招标
    INVITED_TENDER = "invited_tender"  # 邀请招标
    COMPETITIVE_NEGOTIATION = "competitive_negotiation"  # 竞争性谈判
    COMPETITIVE_CONSULTATION = "competitive_consultation"  # 竞争性磋商
    SINGLE_SOURCE = "single_source"  # 单一来源采购
    REQUEST_FOR_QUOTATION = "request_for_quotation"  # 询价
    FRAMEWORK_AGREEMENT = "framework_agreement"  # 框架协议采购
    BELOW_THRESHOLD = "below_threshold"  # 限额以下自行采购


class ContractFiled(Payload):
    """合同备案: the unit files a signed procurement contract with the Office (Art. 13).

    Due within 5 working days after ``signed_on``; a late filing is recorded and flagged, not
    refused. Refused before an approving review opinion (Art. 9) by the command layer.
    """

    contract_no: ShortText  # 合同编号
    supplier: ShortText  # 供应商名称
    supplier_credit_code: str | None = Field(  # 统一社会信用代码 (GB 32100)
        default=None, pattern=r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$",
        strict=True,
    )
    amount_fen: PositiveFen  # 合同金额 (分)
    signed_on: IsoDate  # 签订日期
    procurement_method: ProcurementMethod  # 采购方式
    document: DocumentRef  # 合同文本


# --- construction (Arts. 14, 16, 17) -------------------------------------------------------


class TrialOperation(Payload):
    """试运行情况 (Art. 14): effect and problems, for a project already in trial operation."""

    effect: Text  # 试运行效果
    problems: Text  # 存在问题 (write 无 if none)


class ProgressReported(Payload):
    """建设进度和预算执行情况报告: the annual progress report (Art. 14).

    Due by 31 December of each year from approval until acceptance.
    """

    year: FiscalYear  # 报告年度
    summary: Text  # 建设进度
    budget_executed_fen: Fen  # 预算执行金额 (分), cumulative to the report date
    trial_operation: TrialOperation | None = None  # 已投入试运行的
    document: DocumentRef | None = None  # 报告文本


class ChangeAspect(StrEnum):
    """What a change request alters (Art. 16: 发生较大变化的)."""

    OBJECTIVES = "objectives"  # 建设目标
    SITE = "site"  # 建设地点
    BUDGET = "budget"  # 项目预算
    MAIN_CONTENT = "main_content"  # 主要建设内容
    SCHEDULE = "schedule"  # 建设进度


class ChangeValues(Payload):
    """The proposed new values, one field per :class:`ChangeAspect`."""

    objectives: Text | None = None
    site: Text | None = None
    budget_fen: PositiveFen | None = None
    main_content: Text | None = None
    schedule: Text | None = None


_ASPECT_FIELD = {
    ChangeAspect.OBJECTIVES: "objectives",
    ChangeAspect.SITE: "site",
    ChangeAspect.BUDGET: "budget_fen",
    ChangeAspect.MAIN_CONTENT: "main_content",
    ChangeAspect.SCHEDULE: "schedule",
}


class ChangeRequested(Payload):
    """调整申请: the unit asks in advance to change a major aspect of the project (Art. 16).

    Every listed aspect has its new value in ``new_values`` and no other value is given.
    """

    aspects: tuple[ChangeAspect, ...]
    new_values: ChangeValues
    reason: Text  # 调整理由
    document: DocumentRef | None = None  # 调整申请材料

    @classmethod
    def rules(cls, known: Known) -> list[Problem]:
        """Aspects non-empty and unique; values exactly for the listed aspects."""
        aspects = known.get("aspects", tuple)
        if aspects is None:
            return []
        problems: list[Problem] = []
        if not aspects:
            problems.append(Problem("aspects", "name at least one changed aspect (Art. 16)", 16))
        elif not unique(aspects):
            problems.append(Problem("aspects", "an aspect is listed twice"))
        values = known.get("new_values", ChangeValues)
        if values is not None:
            for aspect, field in _ASPECT_FIELD.items():
                given = getattr(values, field) is not None
                if aspect in aspects and not given:
                    problems.append(Problem(f"new_values.{field}",
                                            f"required: {aspect.value!r} is a changed aspect",
                                            16))
                if aspect not in aspects and given:
                    problems.append(Problem(f"new_values.{field}",
                                            f"given, but {aspect.value!r} is not in aspects"))
        return problems


class ChangeDecided(Payload):
    """调整审核: the Office decides a change request (Art. 16).

    When an approved request changed the budget, ``approved_budget_fen`` is the budget the
    Office approves; it replaces the approved budget of the review opinion.
    """

    request_seq: Seq  # the ChangeRequested entry
    decision: ApprovalDecision
    approved_budget_fen: PositiveFen | None = None  # 调整后核定预算 (分)
    remarks: Text | None = None
    document: DocumentRef | None = None  # 审核意见

    @classmethod
    def rules(cls, known: Known) -> list[Problem]:
        """A rejected change approves no budget."""
        if (known.get("decision", ApprovalDecision) is ApprovalDecision.REJECTED
                and known.get("approved_budget_fen", int) is not None):
            return [Problem("approved_budget_fen",
                            "must be absent when the decision is 'rejected'", 16)]
        return []


class IncidentKind(StrEnum):
    """What Art. 17 obliges the unit to report promptly."""

    SERIOUS_DELAY = "serious_delay"  # 工程严重逾期
    MAJOR_LOSS = "major_loss"  # 投资重大损失


class IncidentReported(Payload):
    """重大情况报告: a serious delay or a major investment loss (Art. 17)."""

    kind: IncidentKind
    description: Text
    estimated_loss_fen: Fen | None = None  # 估计损失 (分), for major_loss
    measures: Text | None = None  # 已采取的措施


# --- supervision (Arts. 17, 22, 30) ---------------------------------------------------------


class RectificationOrdered(Payload):
    """责令限期整改: the Office orders rectification by a deadline (Arts. 17, 22, 30)."""

    reason: Text
    cited_articles: tuple[ArticleNo, ...]  # 违反的条款
    deadline: Annotated[IsoDate, DEADLINE]  # 整改期限
    document: DocumentRef | None = None  # 整改通知书

    @classmethod
    def rules(cls, known: Known) -> list[Problem]:
        """At least one article, none twice."""
        cited = known.get("cited_articles", tuple)
        if cited is not None and not cited:
            return [Problem("cited_articles", "cite at least one article")]
        if cited is not None and not unique(cited):
            return [Problem("cited_articles", "an article is cited twice")]
        return []


class RectificationReported(Payload):
    """整改情况报告: the unit reports on an ordered rectification."""

    order_seq: Seq  # the RectificationOrdered entry
    summary: Text
    report: DocumentRef  # 整改报告


class RectificationOutcome(StrEnum):
    """The Office's conclusion on a rectification (Art. 30)."""

    ACCEPTED = "accepted"  # 整改合格
    FAILED = "failed"  # 拒不整改或整改后仍不符合要求


class RectificationConcluded(Payload):
    """整改结论: the Office concludes a rectification; ``failed`` opens Art. 30 measures."""

    order_seq: Seq  # the RectificationOrdered entry
    outcome: RectificationOutcome
    remarks: Text | None = None  # required when failed

    @classmethod
    def rules(cls, known: Known) -> list[Problem]:
        """A failed rectification says why."""
        if (known.get("outcome", RectificationOutcome) is RectificationOutcome.FAILED
                and known.has("remarks") and known.get("remarks", str) is None):
            return [Problem("remarks", "required when the outcome is 'failed' (Art. 30)", 30)]
        return []


class ConstructionSuspended(Payload):
    """暂停建设: the Office suspends construction (Arts. 17, 30)."""

    reason: Text
    order_seq: Seq | None = None  # the rectification order that led to it, if any


class ConstructionResumed(Payload):
    """恢复建设: the Office lets a suspended construction resume."""

    reason: Text


class FundingSuspended(Payload):
    """暂缓拨付: the Office or Finance suspends disbursement (Arts. 22, 26, 30)."""

    scope: FundingScope
    reason: Text


class FundingReinstated(Payload):
    """恢复拨付: a funding suspension is lifted for ``scope``."""

    scope: FundingScope
    reason: Text


class CriticismNotified(Payload):
    """通报批评: the Office circulates a notice of criticism (Arts. 30, 33)."""

    reason: Text
    document: DocumentRef | None = None  # 通报文件


class ProjectTerminated(Payload):
    """终止项目: the Office terminates the project (Art. 30). Nothing may follow."""

    reason: Text
    document: DocumentRef | None = None  # 终止决定


# --- completion and acceptance (Arts. 19, 20, 25, 26, 29) -------------------------------------


class ConstructionCompleted(Payload):
    """完成建设任务: starts the 3-month acceptance clock (Art. 19)."""

    completed_on: IsoDate
    summary: Text | None = None


class AcceptanceExtensionRequested(Payload):
    """延期验收申请: the unit cannot accept within 3 months and asks for a new deadline."""

    new_deadline: Annotated[IsoDate, DEADLINE]  # 延期验收期限
    reason: Text


class AcceptanceExtensionDecided(Payload):
    """延期验收审核: the Office decides; an approval fixes the new deadline (Art. 19).

    ``new_deadline`` is required iff approved; it may differ from the one requested.
    """

    request_seq: Seq  # the AcceptanceExtensionRequested entry
    decision: ApprovalDecision
    new_deadline: Annotated[IsoDate, DEADLINE] | None = None
    remarks: Text | None = None

    @classmethod
    def rules(cls, known: Known) -> list[Problem]:
        """Deadline iff approved."""
        decision = known.get("decision", ApprovalDecision)
        if decision is None or not known.has("new_deadline"):
            return []
        has_deadline = known.get("new_deadline", object) is not None
        if decision is ApprovalDecision.APPROVED and not has_deadline:
            return [Problem("new_deadline", "required when the decision is 'approved'", 19)]
        if decision is ApprovalDecision.REJECTED and has_deadline:
            return [Problem("new_deadline", "must be absent when the decision is 'rejected'",
                            19)]
        return []


class PreliminaryAcceptanceCompleted(Payload):
    """初步验收完成: starts the 10-working-day catalogue clock (Art. 26)."""

    completed_on: IsoDate
    report: DocumentRef | None = None  # 初步验收意见


class AcceptanceDocuments(Payload):
    """The components of the acceptance report (验收报告, Art. 19), each by SHA-256."""

    construction_summary: DocumentRef | None = None  # 项目建设总结
    financial_report: DocumentRef | None = None  # 财务报告
    audit_report: DocumentRef | None = None  # 审计报告
    security_risk_assessment: DocumentRef | None = None  # 信息安全风险评估报告
    cryptography_application: DocumentRef | None = None  # 密码应用情况
    other_documents: tuple[DocumentRef, ...] = ()  # 其他 (e.g. 电子档案目录, Art. 18)


_ACCEPTANCE_COMPONENTS_ZH = {
    "construction_summary": "项目建设总结",
    "financial_report": "财务报告",
    "audit_report": "审计报告",
    "security_risk_assessment": "信息安全风险评估报告",
    "cryptography_application": "密码应用情况",
}


class SharingCatalogueInclusion(Payload):
    """Art. 25: the project's information resources are in the sharing catalogue (纳入共享目录)."""

    included: Flag
    catalogue_codes: tuple[ShortText, ...] = ()  # 目录编码
    remarks: Text | None = None

    @classmethod
    def rules(cls, known: Known) -> list[Problem]:
        """Inclusion names the catalogue entries; non-inclusion says why."""
        included = known.get("included", bool)
        codes = known.get("catalogue_codes", tuple)
        if included is True and codes is not None and not codes:
            return [Problem("catalogue_codes", "name the catalogue entries (Art. 25)", 25)]
        if included is False and known.has("remarks") and known.get("remarks", str) is None:
            return [Problem("remarks", "say why the resources are not in the catalogue", 25)]
        return []


class ProductSecurityReview(Payload):
    """Art. 29: security and reliability of products, and the security review (安全审查)."""

    products_secure_and_reliable: Flag  # 软硬件产品安全可靠情况
    security_review_passed: Flag  # 安全审查情况
    remarks: Text | None = None
    document: DocumentRef | None = None


class AcceptanceReportFiled(Payload):
    """验收报告备案: the unit files the completion acceptance report (Arts. 19, 25, 29).

    All five Art. 19 components are required. The sharing-catalogue inclusion (Art. 25) and
    the product security review (Art. 29) are recorded as stated: a ``False`` is a true fact
    for the Office to act on, not a reason to lose the filing.
    """

    accepted_on: IsoDate  # 竣工验收完成日期
    documents: AcceptanceDocuments
    sharing_catalogue: SharingCatalogueInclusion
    product_security: ProductSecurityReview

    @classmethod
    def rules(cls, known: Known) -> list[Problem]:
        """Art. 19: every component of the acceptance report is present."""
        documents = known.get("documents", AcceptanceDocuments)
        if documents is None:
            return []
        return [
            Problem(f"documents.{name}",
                    f"{zh} ({name}) is a required part of the acceptance report (Art. 19)", 19)
            for name, zh in _ACCEPTANCE_COMPONENTS_ZH.items()
            if getattr(documents, name) is None
        ]


class CatalogueEntry(Payload):
    """One entry compiled on the zone data-sharing platform (高新区数据共享平台, Art. 26)."""

    code: ShortText  # 目录编码
    name: ShortText  # 信息资源名称
    sharing: SharingAttribute
    openness: OpennessAttribute


class CatalogCompleted(Payload):
    """目录编制及数据归集: the catalogue is compiled and data collected (Arts. 25, 26).

    Due within 10 working days of preliminary acceptance. ``data_collected`` is what the unit
    states; ``False`` records a catalogue without collection, which does not meet Art. 26.
    """

    entries: tuple[CatalogueEntry, ...]
    data_collected: Flag  # 数据归集完成
    records_collected: int | None = Field(default=None, ge=0, strict=True)  # 归集数据量 (条)

    @classmethod
    def rules(cls, known: Known) -> list[Problem]:
        """At least one entry, codes unique."""
        entries = known.get("entries", tuple)
        if entries is None:
            return []
        if not entries:
            return [Problem("entries", "at least one catalogue entry is required (Art. 26)", 26)]
        codes = [entry.code for entry in entries if isinstance(entry, CatalogueEntry)]
        if len(set(codes)) != len(codes):
            return [Problem("entries", "a catalogue code is listed twice")]
        return []


class SelfEvaluationSubmitted(Payload):
    """自评价报告: the unit's self-evaluation 12–24 months after acceptance (Art. 20)."""

    report: DocumentRef
    score: int | None = Field(default=None, ge=0, le=100, strict=True)  # 自评得分 (百分制)
    summary: Text | None = None


class ThirdPartyEvaluationCommissioned(Payload):
    """委托第三方后评价: the Office commissions a third-party post-evaluation (Art. 20)."""

    evaluator: ShortText  # 第三方检测评价机构
    scope: Text | None = None
    document: DocumentRef | None = None  # 委托书/合同


# --- security and sharing (Arts. 22, 27, 28) -------------------------------------------------


class AssessmentResult(StrEnum):
    """The conclusion of a risk or cryptography assessment (测评结论)."""

    COMPLIANT = "compliant"  # 符合
    BASICALLY_COMPLIANT = "basically_compliant"  # 基本符合
    NON_COMPLIANT = "non_compliant"  # 不符合


class SecurityAssessmentRecorded(Payload):
    """安全评估: graded protection, risk assessment and cryptography assessment (Arts. 27, 28)."""

    protection_level: int = Field(ge=1, le=5, strict=True)  # 网络安全等级保护级别 (一至五级)
    risk_assessment: AssessmentResult  # 网络与信息安全风险评估结论
    cryptography_assessment: AssessmentResult  # 密码应用安全性评估结论
    assessor: ShortText | None = None  # 测评机构
    report: DocumentRef | None = None  # 测评报告


class SharingIssue(StrEnum):
    """How a system fails the sharing requirements (Arts. 22 (一), 25, 26)."""

    NOT_SHARED = "not_shared"  # 未按要求共享数据资源
    DUPLICATE_COLLECTION = "duplicate_collection"  # 重复采集数据
    SELECTIVE_SHARING = "selective_sharing"  # 应普遍共享的数据仅与特定部门共享 (Art. 25)
    UNTIMELY_UPDATE = "untimely_update"  # 归集更新不及时 (Art. 26)


class SharingNonComplianceFound(Payload):
    """认定未按要求共享: blocks O&M funds and the unit's new/altered/expanded projects (Art. 22)."""

    issue: SharingIssue
    finding: Text
    document: DocumentRef | None = None


class SecurityIssue(StrEnum):
    """How a system fails the security requirements (Art. 22 (二))."""

    CRYPTOGRAPHY = "cryptography"  # 不符合密码应用要求
    NETWORK_SECURITY = "network_security"  # 不符合网络安全要求
    GRADED_PROTECTION = "graded_protection"  # 未按等级分级保护标准要求建设
    MAJOR_HAZARD = "major_hazard"  # 存在重大安全隐患


class SecurityNonComplianceFound(Payload):
    """认定不符合安全要求: blocks O&M funds and the unit's new/altered/expanded projects."""

    issue: SecurityIssue
    finding: Text
    document: DocumentRef | None = None


class SharingExemptionGranted(Payload):
    """首席数据代表批准: the CDR approves building or keeping a system that cannot share.

    Art. 22: the unit claims a legal bar to sharing, the Office reviews, the CDR approves.
    ``office_review`` is the Office's review opinion, which must precede the approval.
    ``finding_seq`` names the sharing finding it exempts, which must be an active finding of
    data not shared (``not_shared``): a legal bar to sharing excuses no duplicate collection,
    selective sharing or untimely update. Without it the exemption is granted in advance and
    covers findings of data not shared only.
    """

    scope: Text  # 不予共享的系统/数据范围
    legal_basis: Text  # 法律法规及上级要求依据
    office_review: DocumentRef  # 综合管理办公室审核意见
    finding_seq: Seq | None = None  # the SharingNonComplianceFound entry it exempts, if any


class ComplianceRestored(Payload):
    """恢复合规: the Office lifts a non-compliance finding (Arts. 22, 26, 30), a failed
    rectification, or the block on a contract signed before the approving opinion (Art. 9)."""

    finding_seq: Seq  # the finding, failed rectification or early contract it lifts
    evidence: Text  # 整改/复核情况
    document: DocumentRef | None = None


# --- audit and discipline (Arts. 31–35) -----------------------------------------------------


class AuditFindingKind(StrEnum):
    """What an audit found (Art. 31: 专项资金使用真实、合法)."""

    OVERSPEND = "overspend"  # 超预算
    IRREGULAR_PROCUREMENT = "irregular_procurement"  # 招标采购不规范
    IRREGULAR_USE = "irregular_use"  # 资金使用不合规
    UNTRUE_ACCOUNTING = "untrue_accounting"  # 虚列支出、账实不符
    ASSET_MANAGEMENT = "asset_management"  # 资产管理问题
    OTHER = "other"  # 其他


class AuditFindingRecorded(Payload):
    """审计发现: the Audit Branch records a finding (Art. 31). ``amount_fen`` 0 if none."""

    kind: AuditFindingKind
    amount_fen: Fen  # 涉及金额 (分)
    description: Text
    report: DocumentRef | None = None  # 审计报告/决定


class WithholdingConduct(StrEnum):
    """Art. 32: 不得拒绝、隐匿或者瞒报."""

    REFUSED = "refused"  # 拒绝提供
    CONCEALED = "concealed"  # 隐匿
    MISREPORTED = "misreported"  # 瞒报


class InformationWithheldRecorded(Payload):
    """拒绝、隐匿或瞒报资料: materials were refused, concealed or misreported (Art. 32)."""

    conduct: WithholdingConduct
    what: Text  # 涉及的资料
    requested_on: IsoDate | None = None  # 要求提供日期


class MisappropriationConduct(StrEnum):
    """Art. 34: 截留、挪用."""

    WITHHELD = "withheld"  # 截留
    DIVERTED = "diverted"  # 挪用


class FundsMisappropriationFound(Payload):
    """截留挪用资金: the Audit Branch finds project funds withheld or diverted (Art. 34)."""

    conduct: MisappropriationConduct
    amount_fen: PositiveFen
    description: Text
    report: DocumentRef | None = None


class ReferralTarget(StrEnum):
    """Where a case is referred (Arts. 33–35)."""

    DISCIPLINE = "discipline"  # 有关部门/纪检监察机关予以处分
    JUDICIAL = "judicial"  # 移送司法机关


class Misconduct(StrEnum):
    """The conduct Arts. 33–35 name."""

    SKIPPED_REVIEW_OR_FILING = "skipped_review_or_filing"  # 未履行审核、备案程序 (Art. 33)
    POOR_MANAGEMENT = "poor_management"  # 管理不善 (Art. 33)
    FRAUD = "fraud"  # 弄虚作假 (Art. 33)
    MISAPPROPRIATION = "misappropriation"  # 截留、挪用资金 (Art. 34)
    ABUSE_OF_POWER = "abuse_of_power"  # 滥用职权 (Art. 35)
    DERELICTION = "dereliction"  # 玩忽职守 (Art. 35)
    FAVOURITISM = "favouritism"  # 徇私舞弊 (Art. 35)
    BRIBERY = "bribery"  # 索贿受贿 (Art. 35)


class ResponsibleRole(StrEnum):
    """The role title of a person referred: never a name or any other personal data.

    The list is closed on purpose: a free-text field would let names, ID-card numbers or phone
    numbers into an immutable, widely replicated log. Persons are identified in the referral
    letter (a document outside the log), not here.
    """

    RESPONSIBLE_MANAGER = "responsible_manager"  # 直接负责的主管人员 (Art. 33)
    OTHER_RESPONSIBLE_PERSON = "other_responsible_person"  # 其他直接责任人员 (Art. 33)
    UNIT_PRINCIPAL = "unit_principal"  # 单位主要负责人
    PROJECT_LEAD = "project_lead"  # 项目负责人
    FINANCE_OFFICER = "finance_officer"  # 财务负责人
    PROCUREMENT_OFFICER = "procurement_officer"  # 采购经办人员
    STAFF = "staff"  # 工作人员 (Art. 35)


class DisciplinaryReferralMade(Payload):
    """提请处分或移送司法: a referral for discipline or prosecution (Arts. 33, 34, 35).

    Persons appear only as :class:`ResponsibleRole` titles (at most 20, each once). There is no
    free-text field: the conduct is an enumeration, the facts are the cited entries
    (``finding_seqs``) and the referral letter (``document``).
    """

    referred_to: ReferralTarget
    authority: ShortText  # 接收机关 (an organisation, e.g. 区纪工委监察工委)
    conduct: tuple[Misconduct, ...]
    persons: tuple[ResponsibleRole, ...] = Field(max_length=20)
    cited_articles: tuple[ArticleNo, ...]
    finding_seqs: tuple[Seq, ...] = ()  # the findings it rests on
    document: DocumentRef | None = None  # 移送函/处理建议书

    @classmethod
    def rules(cls, known: Known) -> list[Problem]:
        """Conduct, persons and articles non-empty and without repeats."""
        problems: list[Problem] = []
        for name, what in (("conduct", "conduct"), ("persons", "role title"),
                           ("cited_articles", "article")):
            values = known.get(name, tuple)
            if values is None:
                continue
            if not values:
                problems.append(Problem(name, f"at least one {what} is required"))
            elif not unique(values):
                problems.append(Problem(name, f"a {what} is listed twice"))
        return problems


# --- history brought in from the office's own records ------------------------------------


class AttestedEntry(Payload):
    """One entry of a history attestation: the entry (by the nonce it is signed with, fixed
    before it is appended) and the day the Office received it (受理日期)."""

    nonce: ProjectId  # the attested entry's filing nonce (a UUID)
    received_on: IsoDate  # 受理日期/备案日期 as the Office's records give it


class HistoryAttested(Payload):
    """历史记录确认: the Office states, from its own records (``source``, the stored
    spreadsheet or register), the day it received each filing brought into the ledger with
    this attestation (Arts. 6, 13, 14, 19: filings are made to the Office).

    Filed by the Office only, in the same group commit as the entries it names: immediately
    before them, or immediately after the project's opening application when that application
    is one of them. Deadlines and the October application window are then judged on the
    attested day rather than on the day the ledger recorded the entry; the ledger's own
    ``recorded_at`` stays on the entry. An entry already in the ledger cannot be attested.
    """

    source: DocumentRef  # 来源台账 (the spreadsheet, stored as a document)
    entries: tuple[AttestedEntry, ...] = Field(min_length=1, max_length=10_000)

    @classmethod
    def rules(cls, known: Known) -> list[Problem]:
        """Each entry is attested once."""
        entries = known.get("entries", tuple)
        if entries is None:
            return []
        nonces = [e.nonce for e in entries]
        if len(set(nonces)) != len(nonces):
            return [Problem("entries", "an entry is attested more than once", 6)]
        return []
