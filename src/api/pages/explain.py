"""Explanations in the reader's language: the ledger's reasons, obligations, flags, refusals and
errors, in Chinese on the Chinese pages.

The ledger writes each ``detail`` in English (the API's and the CLI's language) from a small,
fixed set of sentences in ``ledger.measures.rules``. The pages recognise each sentence and say
it again in Chinese, in the words office staff use: units by name, amounts in 元, entries as
"第 N 号记录", no event-type names or commands. A sentence the pages do not know is not shown
in English on a Chinese page: the rule's Chinese name stands in for it (the API keeps the
original). English pages show the ledger's words unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from api.pages.i18n import KINDS, RULES, event_label, label, message_zh
from ledger.errors import (
    AuthorisationError,
    IntegrityFailedError,
    LedgerError,
    ProjectNotFoundError,
    RuleViolationError,
    ValidationFailedError,
)

UnitName = Callable[[str | None], str]

_FUNDS = {"construction": "建设资金", "operation_maintenance": "运行维护经费", "all": "全部资金"}
_LEVELS = {"national": "国家级", "provincial": "省级", "municipal": "市级"}
_ISSUES = {"not_shared": "未按要求共享数据资源", "duplicate_collection": "重复采集数据",
           "selective_sharing": "应普遍共享的数据仅与特定部门共享",
           "untimely_update": "归集更新不及时"}
_REFERS = {
    "an undecided change request": "待审核的调整申请",
    "an open rectification order": "未结的整改通知",
    "an acceptance extension request": "延期验收申请",
    "an active non-compliance finding, a failed rectification or a contract signed before the"
    " approving opinion": "有效的不合规认定、未通过的整改或早于审核意见签订的合同",
    "an active sharing non-compliance finding": "有效的“未按要求共享”认定",
}
_ACTS = {"a contract filing": "合同备案", "arranging funds": "安排资金"}


def _yuan(fen: str) -> str:
    whole, cents = divmod(int(fen), 100)
    return f"{whole:,}.{cents:02d} 元"


def _wan(fen: str) -> str:
    hundredths = (int(fen) + 5_000) // 10_000
    whole, cents = divmod(hundredths, 100)
    return f"{whole:,}.{cents:02d} 万元"


def _fund(code: str) -> str:
    return _FUNDS.get(code, code)


def _kind(code: str) -> str:
    return label(KINDS, code, "zh")


_Sub = Callable[[re.Match[str], UnitName], str]


def _completion_note(how: str) -> str:
    found = re.search(r"preliminary acceptance on (\S+?)\)?$", how)
    return f"（未报完成建设，以 {found.group(1)} 的初步验收为准）" if found else ""


def _tail(text: str, unit: UnitName) -> str:
    return detail_zh(text, unit) or "见上"


_PATTERNS: tuple[tuple[re.Pattern[str], _Sub], ...] = tuple(
    (re.compile(pattern + "$"), sub) for pattern, sub in (
        # funding eligibility (docs/design.md §4.2)
        (r"the project is terminated \(终止\)", lambda m, u: "项目已终止，不得拨付资金"),
        (r"(\w+) funds are suspended \(暂缓拨付\)",
         lambda m, u: f"{_fund(m[1])}已暂缓拨付"),
        (r"nothing left within the arranged and approved (\w+) amounts \(超支不补\)",
         lambda m, u: f"{_fund(m[1])}已无可拨付余额：已拨付金额已达已安排且核定的金额（超支不补）"),
        (r"no approving review opinion \(审核意见\) — the premise of any funding",
         lambda m, u: "尚无同意的审核意见，而审核意见是安排和拨付资金的前提"),
        (r"the approving review opinion takes effect on (\S+), after (\S+) — the premise of any"
         r" funding",
         lambda m, u: f"同意的审核意见自 {m[1]} 起生效，晚于 {m[2]}；"
                      "审核意见是安排和拨付资金的前提"),
        (r"construction is complete(.*) but not accepted: no further construction funds and no"
         r" O&M funds until the acceptance report is filed \(未经验收不得拨付\)",
         lambda m, u: f"项目已完成建设{_completion_note(m[1])}但尚未验收：验收报告备案前不得拨付"
                      "后续建设资金和运行维护经费（未经验收不得拨付）"),
        (r"a construction project \((\w+)\) gets no O&M funds before its acceptance report"
         r" \(.*\), whether or not completion was filed",
         lambda m, u: f"{_kind(m[1])}项目在验收报告备案前不得拨付运行维护经费"
                      "（无论是否已报完成建设）"),
        (r"contract (.+) was signed on (\S+), before the approving review opinion took effect on"
         r" (\S+): no construction funds until the Office restores compliance citing seq (\d+)"
         r" \(ComplianceRestored\)",
         lambda m, u: f"合同 {m[1]} 于 {m[2]} 签订，早于同意的审核意见生效日 {m[3]}：综合管理办公室"
                      f"针对第 {m[4]} 号记录作出恢复合规决定前，不得拨付建设资金"),
        (r"data resources not shared as required: no O&M funds",
         lambda m, u: "未按要求共享数据资源：不得安排运行维护经费"),
        (r"cryptography/security requirements not met: no O&M funds",
         lambda m, u: "不符合密码应用或网络安全要求：不得安排运行维护经费"),
        (r"the latest security assessment \(Arts\. 27, 28\) concludes non_compliant: no O&M funds"
         r" until a later assessment passes",
         lambda m, u: "最近一次安全评估（第27、28条）结论为不符合："
                      "后续评估通过前不得安排运行维护经费"),
        (r"catalogue and data collection not completed within 10 working days of preliminary"
         r" acceptance \(目录编制及数据归集\): no O&M funds",
         lambda m, u: "初步验收后10个工作日内未完成目录编制及数据归集：不得安排运行维护经费"),
        # obligations (§4.3)
        (r"(.+) \(the (\d{4}) holiday calendar is not loaded yet: `ledger calendar add`\)",
         lambda m, u: f"{_tail(m[1], u)}（{m[2]} 年法定节假日安排尚未载入，期限暂不能确定；"
                      "请联系系统管理员载入）"),
        (r"(.+) \(met before the earliest possible due date; the (\d{4}) holiday calendar, not"
         r" loaded, would fix the date itself\)",
         lambda m, u: f"{_tail(m[1], u)}（已在最早可能的期限之前履行；"
                      f"{m[2]} 年节假日安排尚未载入）"),
        (r"catalogue compiled and data collected on the zone platform \(Art\. 26(.*)\)",
         lambda m, u: "在全区数据共享平台完成目录编制及数据归集（第26条" + (
             f"；未报初步验收，自 {m[1].rsplit(' ', 1)[-1]} 验收之日起算" if m[1] else "") + "）"),
        # Art. 6 is judged on the day the ledger recorded the application (Beijing time), not
        # on the date the application states: say so, or an October date on a November
        # filing reads as a contradiction.
        (r"application filed in October",
         lambda m, u: "每年10月份集中提报立项申请（第6条；以账本收到申请之日为准，北京时间）"),
        (r"contract (.+) filed within 5 working days of signing",
         lambda m, u: f"合同 {m[1]} 应在签订后5个工作日内备案"),
        (r"progress and budget execution report for (\d{4})",
         lambda m, u: f"{m[1]} 年度建设进度和预算执行情况报告（每年12月31日前）"),
        (r"completion acceptance within 3 months of completing construction(.*)",
         lambda m, u: "完成建设任务后3个月内组织竣工验收" + (
             f"（未报完成建设，自 {m[1].rstrip(')').rsplit(' ', 1)[-1]} 初步验收之日起算）"
             if m[1] else "")),
        (r"self-evaluation report 12–24 months after acceptance \(window opens (\S+)\)",
         lambda m, u: f"验收后12至24个月内报送自评价报告（自 {m[1]} 起可报送）"),
        (r"rectification report for order at seq (\d+)",
         lambda m, u: f"按第 {m[1]} 号记录的整改通知限期报送整改情况"),
        # flags (§4.1)
        (r"falls in an Art\. 8 category \(不再单独建设\) without special circumstances: for review",
         lambda m, u: "属于第8条所列不再单独建设的类别，且未说明特殊情况：待审查"),
        (r"late or out of window: (.+)",
         lambda m, u: f"逾期或不在规定期限内：{_tail(m[1], u)}"),
        (r"contract (.+) was signed on (\S+), before the approving review opinion took effect on"
         r" (\S+) \(filed (\S+)\)(.*)",
         lambda m, u: f"合同 {m[1]} 于 {m[2]} 签订（{m[4]} 备案），早于同意的审核意见生效日 {m[3]}"
                      + (f"；综合管理办公室已在第 {m[5].rsplit(' ', 1)[-1]} 号记录中恢复合规"
                         if m[5] else "")),
        (r"with contract (.+) the contracts total (\d+) fen, beyond the approved budget of (\d+)"
         r" fen in force when it was filed \(超支不补\)",
         lambda m, u: f"计入合同 {m[1]} 后，合同总额 {_wan(m[2])}，超出备案时有效的核定预算"
                      f" {_wan(m[3])}（超支不补）"),
        (r"the (\w+) approval \(effective (\S+)\) has no consent of the Office to declare at that"
         r" level taking effect on or before it \(HigherLevelDeclarationConsented\)",
         lambda m, u: f"{_LEVELS.get(m[1], m[1])}审批（{m[2]} 生效）之前，综合管理办公室"
                      "未同意向该级申报"),
        (r"acceptance extension requested on (\S+), after the deadline of (\S+) it would extend",
         lambda m, u: f"{m[1]} 才申请延期验收，已晚于拟延长的验收期限 {m[2]}"),
        (r"out of window: self-evaluation filed on (\S+), before its window opens on (\S+)"
         r" \(12–24 months after acceptance\)",
         lambda m, u: f"自评价报告于 {m[1]} 报送，早于 {m[2]} 开始的报送期（验收后12至24个月）"),
        (r"out of window: self-evaluation filed on (\S+), before the project was accepted"
         r" \(12–24 months after acceptance\)",
         lambda m, u: f"自评价报告于 {m[1]} 报送，早于项目验收（应在验收后12至24个月内报送）"),
        # unit standing (§4.4)
        (r"data not shared as required on project (\S+) \((.+)\): unit (\S+) may not build new,"
         r" altered or expanded systems",
         lambda m, u: f"项目“{m[2]}”未按要求共享数据：{u(m[3])}不得新建、改建、扩建信息系统"),
        (r"security or cryptography requirements not met on project (\S+) \((.+)\): unit (\S+)"
         r" may not build new, altered or expanded systems",
         lambda m, u: f"项目“{m[2]}”不符合安全或密码要求：{u(m[3])}不得新建、改建、扩建信息系统"),
        # refusals (§3)
        (r"unit (\S+) may not apply for a (\w+) project: (.+)",
         lambda m, u: f"{u(m[1])}不得申报{_kind(m[2])}项目：{_tail(m[3], u)}"),
        (r"project (\S+) is terminated; (\w+) cannot be filed",
         lambda m, u: f"项目已终止，不能再填报“{event_label(m[2], 'zh')}”"),
        (r"(.+) requires an approving review opinion \(审核意见\) first",
         lambda m, u: f"{_ACTS.get(m[1], '该事项')}须以同意的审核意见为前提"),
        (r"disbursing (\d+) fen exceeds what remains within the arranged and approved (\w+)"
         r" amounts \((\d+) fen; 超支不补\)",
         lambda m, u: f"拨付 {_yuan(m[1])}超出{_fund(m[2])}已安排且核定金额内的剩余额度"
                      f" {_yuan(m[3])}（超支不补）"),
        (r"(\w+) is dated (\S+), when: (.+)",
         lambda m, u: f"该事项所述日期为 {m[2]}，当日{_tail(m[3], u)}"),
        (r"seq (\d+) of project (\S+) is not (.+)",
         lambda m, u: f"第 {m[1]} 号记录不是{_REFERS.get(m[3], '所需的事项')}"),
        (r"construction is not suspended, so it cannot resume",
         lambda m, u: "建设未处于暂停状态，无需恢复"),
        (r"(\w+) funding is not suspended, so it cannot be reinstated",
         lambda m, u: f"{_fund(m[1])}未被暂缓拨付，无需恢复"),
        (r"an acceptance report needs the construction completed first \(ConstructionCompleted\)",
         lambda m, u: "须先报送“完成建设任务”，才能备案验收报告"),
        (r"the acceptance is dated (\S+), before construction was completed on (\S+)",
         lambda m, u: f"验收日期 {m[1]} 早于完成建设日期 {m[2]}"),
        (r"the finding at seq (\d+) is (\w+), not data that cannot be shared: .*",
         lambda m, u: f"第 {m[1]} 号记录认定的问题是“{_ISSUES.get(m[2], m[2])}”，而非依法不能共享"
                      "的数据：豁免只适用于依法不能进行信息共享的情形"),
    ))


def _keep_unit(unit: str | None) -> str:
    return unit or "—"


def detail_zh(detail: str, unit: UnitName = _keep_unit) -> str | None:
    """A ledger sentence in Chinese, or None when the pages do not know it."""
    for pattern, sub in _PATTERNS:
        found = pattern.match(detail)
        if found:
            return sub(found, unit)
    return None


def explain(item: Mapping[str, Any], lang: str, unit: UnitName = _keep_unit) -> str:
    """The ``detail`` of a reason, obligation or flag in ``lang`` (see the module's note)."""
    detail = str(item.get("detail") or "")
    if lang != "zh":
        return detail
    said = detail_zh(detail, unit)
    if said is not None:
        return said
    return label(RULES, str(item.get("rule") or ""), "zh")


_STATUS_ZH = {
    404: "该项目不存在，或不属于您所在的单位。",
    403: "您的角色不能执行此操作；如需办理，请联系相应部门或系统管理员。",
    413: "提交的内容过大。",
    422: "填写的内容格式不正确，请检查后重试。",
    409: "该操作与账本中已记录的事项冲突，未予受理。",
    401: "请重新登录。",
}


def error_message(status: int, message: str, exc: LedgerError | None, lang: str,
                  unit: UnitName = _keep_unit) -> str:
    """What an error page says below its headline, in ``lang``."""
    if isinstance(exc, IntegrityFailedError):  # not a passing fault: say what to do now
        return (f"账本完整性校验失败（{exc}）。这不是临时故障：请立即通知系统管理员和审计分局，"
                "在查明原因之前，不要依据本系统的数据作出决定。" if lang == "zh" else
                f"The ledger failed an integrity check ({exc}). This is not a passing fault:"
                " tell the administrator and the Audit Branch now, and decide nothing on this"
                " system's data until it is explained.")
    if lang != "zh":
        return message
    said: str | None = None
    if exc is None and re.search(r"[\u4e00-\u9fff]", message):
        said = message  # the pages' own message, already in Chinese
    elif isinstance(exc, RuleViolationError):
        said = detail_zh(exc.detail, unit) or label(RULES, exc.rule, "zh")
    elif isinstance(exc, ValidationFailedError):
        said = "；".join(f"{field}：{message_zh(text)}" for field, text in exc.problems)
    elif isinstance(exc, ProjectNotFoundError):
        said = _STATUS_ZH[404]
    elif isinstance(exc, AuthorisationError):
        said = _STATUS_ZH[403]
    return said or _STATUS_ZH.get(status) or (
        "请求未能完成，请稍后重试；如问题持续，请联系系统管理员。")


__all__ = ["detail_zh", "error_message", "explain"]
