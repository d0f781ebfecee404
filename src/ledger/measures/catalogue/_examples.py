"""One valid, realistic example payload per event type (OpenAPI examples, demo data, tests).

The examples follow one project: the zone's 企业服务"一网通办"平台升级改造 by the Big Data
Centre, plus the key registry. Document hashes are SHA-256 of a short label, so they are stable
and obviously fake. Every example is already in canonical form: ``payload_json`` of its model
gives it back unchanged.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from types import MappingProxyType

from ledger.log.canonical import JSONValue

_DOCUMENTS: dict[str, bytes] = {}


def _doc(label: str) -> str:
    content = f"example document: {label}".encode()
    digest = hashlib.sha256(content).hexdigest()
    _DOCUMENTS[digest] = content
    return digest


def example_documents() -> Mapping[str, bytes]:
    """The (text/plain) content of every document the examples reference, by SHA-256."""
    return MappingProxyType(_DOCUMENTS)


def _pass(remarks: str = "") -> dict[str, JSONValue]:
    return {"passed": True, "remarks": remarks}


_EXAMPLES: dict[str, dict[str, JSONValue]] = {
    "ApplicationFiled": {
        "title": "高新区企业服务“一网通办”平台升级改造项目",
        "kind": "upgrade",
        "fiscal_year": 2026,
        "budget_estimate_fen": 286_000_000,
        "civil_works": False,
        "documents": {
            "declaration_form": _doc("项目申报表"),
            "construction_plan": _doc("建设方案"),
            "performance_targets": _doc("绩效目标及绩效指标"),
            "basis_documents": [_doc("高新区数字政府建设规划"), _doc("管委会主任办公会议纪要")],
            "other_documents": [],
        },
        "data_resources": [
            {
                "name": "企业基本信息",
                "source": "区市场监管部门登记系统",
                "format": "database",
                "update_frequency": "daily",
                "sharing": "unconditional",
                "openness": "conditional",
            },
            {
                "name": "企业纳税信用等级",
                "source": "区数据共享平台（税务部门提供）",
                "format": "service_api",
                "update_frequency": "monthly",
                "sharing": "conditional",
                "openness": "not_open",
                "sharing_basis": "《中华人民共和国税收征收管理法》第八条，仅限依法履职使用",
            },
        ],
        "art8_categories": ["administrative_power"],
        "special_circumstances": "系统承载企业开办、涉企审批等行政权力事项，需与省级平台对接，"
                                 "已确认依托区政务云部署，不新建机房。",
        "co_builders": ["unit-approval-services"],
        "fixed_asset_investment": False,
        "higher_level": {"level": "provincial", "programme": "山东省数字政府强基工程试点"},
    },
    "MaterialsSupplemented": {
        "documents": {
            "feasibility_study": _doc("可行性研究报告（补充）"),
            "basis_documents": [],
            "other_documents": [_doc("专家评审意见答复")],
        },
        "remarks": "按评审专家意见补充可行性分析及答复说明。",
    },
    "HigherLevelDeclarationConsented": {
        "level": "provincial",
        "programme": "山东省数字政府强基工程试点",
        "document": _doc("同意申报审核意见"),
    },
    "HigherLevelApprovalRecorded": {
        "level": "provincial",
        "document": _doc("省大数据局批复"),
        "approval_no": "鲁数字〔2026〕12号",
        "approved_amount_fen": 50_000_000,
    },
    "FixedAssetApprovalIssued": {
        "approval_no": "聊高新审批投资〔2026〕3号",
        "document": _doc("固定资产投资项目批复"),
        "approved_investment_fen": 286_000_000,
    },
    "ReviewOpinionIssued": {
        "decision": "approved_with_conditions",
        "criteria": {
            "resource_sharing": _pass("依托区数据共享平台，复用统一身份认证"),
            "design_feasibility": _pass(),
            "security_solution": {
                "passed": False,
                "remarks": "缺少数据备份与恢复方案",
            },
            "cryptography_compliance": _pass("已制定密码应用方案"),
            "plan_and_budget": _pass("核减硬件购置费用"),
        },
        "approved_budget_fen": 258_000_000,
        "conditions": ["合同签订前补充数据备份与恢复方案，报综合管理办公室备案"],
        "summary": "项目必要性充分，原则同意建设，核定预算258万元。",
        "document": _doc("评审意见"),
    },
    "FundingArranged": {
        "fiscal_year": 2026,
        "kind": "construction",
        "amount_fen": 258_000_000,
        "source": "district_budget",
        "source_detail": "2026年区级信息化建设专项资金",
        "document": _doc("预算指标文件"),
    },
    "FundsDisbursed": {
        "kind": "construction",
        "amount_fen": 77_400_000,
        "contract_no": "GXQ-CG-2026-0417",
        "voucher": _doc("拨款凭证第1期"),
    },
    "ContractFiled": {
        "contract_no": "GXQ-CG-2026-0417",
        "supplier": "山东某数字科技有限公司",
        "supplier_credit_code": "91371500MA3C8XYW1K",
        "amount_fen": 249_800_000,
        "signed_on": "2026-04-17",
        "procurement_method": "public_tender",
        "document": _doc("采购合同文本"),
    },
    "ProgressReported": {
        "year": 2026,
        "summary": "已完成需求调研、总体设计及统一受理模块开发，累计完成工作量约60%。",
        "budget_executed_fen": 124_900_000,
        "trial_operation": {
            "effect": "统一受理模块试运行3个月，线上办件1.2万件。",
            "problems": "与省级平台接口偶发超时，正在优化。",
        },
        "document": _doc("2026年度建设进度报告"),
    },
    "ChangeRequested": {
        "aspects": ["budget", "schedule"],
        "new_values": {
            "budget_fen": 240_000_000,
            "schedule": "完成时间由2026年12月调整为2027年3月",
        },
        "reason": "省级平台接口规范调整，部分功能需重新开发；硬件改为租用政务云资源。",
        "document": _doc("调整申请"),
    },
    "ChangeDecided": {
        "request_seq": 12,
        "decision": "approved",
        "approved_budget_fen": 240_000_000,
        "remarks": "同意调整，节余资金按原渠道退回（第十五条）。",
        "document": _doc("调整审核意见"),
    },
    "IncidentReported": {
        "kind": "serious_delay",
        "description": "因供应商核心开发人员变动，统一受理模块交付较合同约定逾期45天。",
        "measures": "已约谈供应商并要求增派人员，每周报送进度。",
    },
    "RectificationOrdered": {
        "reason": "项目建成后未按要求通过高新区数据共享平台归集企业基本信息。",
        "cited_articles": [22, 26],
        "deadline": "2027-06-30",
        "document": _doc("整改通知书"),
    },
    "RectificationReported": {
        "order_seq": 20,
        "summary": "已完成企业基本信息等3类数据的目录编制和归集，日更新。",
        "report": _doc("整改报告"),
    },
    "RectificationConcluded": {
        "order_seq": 20,
        "outcome": "accepted",
        "remarks": "经复核，数据归集完整、更新及时。",
    },
    "ConstructionSuspended": {
        "reason": "逾期未整改且投资存在重大损失风险，依据第十七条、第三十条暂停建设。",
        "order_seq": 20,
    },
    "ConstructionResumed": {
        "reason": "整改已通过复核，恢复建设。",
    },
    "FundingSuspended": {
        "scope": "operation_maintenance",
        "reason": "未在初步验收后10个工作日内完成目录编制及数据归集（第二十六条）。",
    },
    "FundingReinstated": {
        "scope": "operation_maintenance",
        "reason": "目录编制及数据归集已完成并通过复核。",
    },
    "CriticismNotified": {
        "reason": "拒不整改数据共享问题，予以通报批评。",
        "document": _doc("通报批评文件"),
    },
    "ProjectTerminated": {
        "reason": "整改后仍不符合要求，依据第三十条终止项目。",
        "document": _doc("终止项目决定"),
    },
    "ConstructionCompleted": {
        "completed_on": "2026-03-20",
        "summary": "全部建设内容已完成，系统上线运行。",
    },
    "AcceptanceExtensionRequested": {
        "new_deadline": "2026-08-31",
        "reason": "第三方审计报告尚未出具，申请延期验收。",
    },
    "AcceptanceExtensionDecided": {
        "request_seq": 31,
        "decision": "approved",
        "new_deadline": "2026-08-31",
    },
    "PreliminaryAcceptanceCompleted": {
        "completed_on": "2026-05-28",
        "report": _doc("初步验收意见"),
    },
    "AcceptanceReportFiled": {
        "accepted_on": "2026-08-15",
        "documents": {
            "construction_summary": _doc("项目建设总结"),
            "financial_report": _doc("财务报告"),
            "audit_report": _doc("审计报告"),
            "security_risk_assessment": _doc("信息安全风险评估报告"),
            "cryptography_application": _doc("密码应用安全性评估报告"),
            "other_documents": [_doc("电子档案目录")],
        },
        "sharing_catalogue": {
            "included": True,
            "catalogue_codes": ["GXQ-SCJG-0001", "GXQ-SCJG-0002"],
        },
        "product_security": {
            "products_secure_and_reliable": True,
            "security_review_passed": True,
            "remarks": "核心数据库、操作系统采用国产自主可控产品。",
        },
    },
    "CatalogCompleted": {
        "entries": [
            {"code": "GXQ-SCJG-0001", "name": "企业基本信息", "sharing": "unconditional",
             "openness": "conditional"},
            {"code": "GXQ-SCJG-0002", "name": "涉企审批办件信息", "sharing": "conditional",
             "openness": "not_open"},
        ],
        "data_collected": True,
        "records_collected": 48_213,
    },
    "SelfEvaluationSubmitted": {
        "report": _doc("绩效自评价报告"),
        "score": 91,
        "summary": "绩效目标基本实现，企业平均办事时长缩短40%。",
    },
    "ThirdPartyEvaluationCommissioned": {
        "evaluator": "山东某工程咨询有限公司",
        "scope": "项目绩效后评价",
        "document": _doc("委托书"),
    },
    "SecurityAssessmentRecorded": {
        "protection_level": 3,
        "risk_assessment": "basically_compliant",
        "cryptography_assessment": "compliant",
        "assessor": "山东某网络安全测评中心",
        "report": _doc("等级保护测评报告"),
    },
    "SharingNonComplianceFound": {
        "issue": "duplicate_collection",
        "finding": "系统重复采集企业基本信息，未调用区数据共享平台已有数据。",
        "document": _doc("监督检查记录"),
    },
    "SecurityNonComplianceFound": {
        "issue": "cryptography",
        "finding": "用户身份鉴别未采用商用密码技术，不符合密码应用要求。",
    },
    "SharingExemptionGranted": {
        "scope": "涉企信访举报线索数据不纳入共享",
        "legal_basis": "《信访工作条例》关于举报人信息保密的规定",
        "office_review": _doc("综合管理办公室审核意见（不共享）"),
    },
    "ComplianceRestored": {
        "finding_seq": 27,
        "evidence": "已改为调用区数据共享平台企业基本信息接口，停止重复采集。",
        "document": _doc("复核意见"),
    },
    "AuditFindingRecorded": {
        "kind": "irregular_use",
        "amount_fen": 1_250_000,
        "description": "列支与项目无关的办公设备购置费用。",
        "report": _doc("审计报告（审计分局）"),
    },
    "InformationWithheldRecorded": {
        "conduct": "refused",
        "what": "二期接口开发的验收测试记录",
        "requested_on": "2026-09-10",
    },
    "FundsMisappropriationFound": {
        "conduct": "diverted",
        "amount_fen": 3_000_000,
        "description": "将项目运维经费挪用于单位日常办公支出。",
        "report": _doc("审计决定书"),
    },
    "DisciplinaryReferralMade": {
        "referred_to": "discipline",
        "authority": "高新区纪工委监察工委",
        "conduct": ["misappropriation"],
        "persons": ["responsible_manager", "finance_officer"],
        "cited_articles": [34],
        "finding_seqs": [38],
        "document": _doc("移送函"),
    },
    "HistoryAttested": {
        "source": _doc("项目申报表"),  # an example document already uploaded
        "entries": [{"nonce": "0b7f3c1e-5d2a-5e8b-9c4f-1a2b3c4d5e6f",
                     "received_on": "2024-10-09"}],
    },
    "ActorRegistered": {
        "actor": "bdc-zhangsan",
        "role": "unit",
        "unit": "unit-big-data-centre",
        "display_name": "区大数据中心项目专员",
    },
    "KeyRegistered": {
        "key_id": "bdc-zhangsan-2026-1",
        "actor": "bdc-zhangsan",
        "role": "unit",
        "unit": "unit-big-data-centre",
        "suite": "ed25519",
        "public_key": "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
    },
    "KeyRevoked": {
        "key_id": "bdc-zhangsan-2026-1",
        "revoked_from": "2027-01-05T02:00:00.000000Z",
        "reason": "人员调离，密钥停用",
    },
}

EXAMPLES: Mapping[str, dict[str, JSONValue]] = MappingProxyType(_EXAMPLES)
"""One valid example payload per event type, keyed by event type.

Read-only at the top level; the payloads themselves are shared, so copy one (see
:func:`example_payload`) before changing it.
"""


def example_payload(event_type: str) -> dict[str, JSONValue]:
    """A deep copy of the example payload of ``event_type`` (``KeyError`` if there is none)."""
    return copy.deepcopy(_EXAMPLES[event_type])
