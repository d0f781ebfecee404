"""The user groups of docs/design.md §1 and their role ids."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A user group; the value is the role id used in keys, tokens and the registry."""

    UNIT = "unit"  # 项目建设单位 project construction unit
    OFFICE = "office"  # 综合管理办公室 Integrated Management Office
    FINANCE = "finance"  # 财政管理部 Finance Management Dept
    APPROVAL = "approval"  # 行政审批服务部 Administrative Approval Service Dept
    AUDIT = "audit"  # 审计分局 Audit Branch
    CDR = "cdr"  # 首席数据代表 Chief Data Representative
    INVESTIGATOR = "investigator"
    ADMIN = "admin"
