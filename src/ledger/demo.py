"""``ledger demo``: a small, realistic data set for a first look.

Three construction units (教育和体育部, 卫生健康部, 韩集镇) file applications; the office issues
review opinions (one rejection); approved projects file contracts. It loads once: a ledger that
already holds projects is left as it is. (The rules issue grows this into the full data set.)
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ledger.app import Ledger
from ledger.catalogue import EXAMPLES
from ledger.roles import Role

ACTORS: tuple[tuple[str, Role, str | None, str], ...] = (
    ("office-li", Role.OFFICE, None, "综合管理办公室 李主任"),
    ("finance-zhao", Role.FINANCE, None, "财政管理部 赵科长"),
    ("audit-sun", Role.AUDIT, None, "审计分局 孙审计师"),
    ("investigator-zhou", Role.INVESTIGATOR, None, "调查组 周"),
    ("edu-wang", Role.UNIT, "edu", "教育和体育部 王"),
    ("health-chen", Role.UNIT, "health", "卫生健康部 陈"),
    ("hanji-liu", Role.UNIT, "town-hanji", "韩集镇 刘"),
)

# (unit actor, title, kind, outcome): outcome = "contract", "approved", "rejected" or "filed".
PROJECTS: tuple[tuple[str, str, str, str], ...] = (
    ("edu-wang", "智慧校园统一身份认证平台建设项目", "new", "contract"),
    ("edu-wang", "中小学教育资源公共服务平台升级项目", "upgrade", "approved"),
    ("health-chen", "区域全民健康信息平台扩容项目", "expansion", "contract"),
    ("health-chen", "基层医疗机构远程会诊系统建设项目", "new", "rejected"),
    ("hanji-liu", "韩集镇网格化社会治理平台建设项目", "new", "filed"),
    ("hanji-liu", "韩集镇政务服务便民终端运维项目", "operation_maintenance", "approved"),
)


def _application(title: str, kind: str) -> dict[str, Any]:
    payload = dict(EXAMPLES["ApplicationFiled"]) | {"title": title}
    if kind == "operation_maintenance":
        return dict(EXAMPLES.get("ApplicationFiled:operation_maintenance", payload)) | {
            "title": title}
    return payload | {"kind": kind}


def load_demo(ledger: Ledger) -> list[UUID]:
    """Register the demo actors and file the demo projects; returns the new project ids."""
    registry = ledger.registry()
    if any(stream != ledger.identity.registry_stream for stream in ledger.log.stream_ids()):
        return []
    for actor, role, unit, name in ACTORS:
        if actor not in registry.actors:
            ledger.register_actor(actor, role, unit, name)
    created: list[UUID] = []
    for unit_actor, title, kind, outcome in PROJECTS:
        stream = ledger.file(unit_actor, "ApplicationFiled", _application(title, kind)).stream
        created.append(stream)
        if outcome == "filed":
            continue
        opinion = dict(EXAMPLES["ReviewOpinionIssued"])
        if outcome == "rejected":
            opinion = {k: v for k, v in opinion.items()
                       if k not in ("approved_budget_fen", "conditions")} | {
                "decision": "rejected"}
        ledger.file("office-li", "ReviewOpinionIssued", opinion, stream=stream)
        if outcome == "contract":
            ledger.file(unit_actor, "ContractFiled", EXAMPLES["ContractFiled"], stream=stream)
    return created
