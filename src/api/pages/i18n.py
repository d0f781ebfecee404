"""Page strings in Chinese (the default) and English, and labels for the ledger's codes.

Every visible string of the pages comes from here: :func:`translator` gives a ``t(key)``
function for one language. Codes the ledger returns (stages, statuses, roles, rules, event
types) have their own tables; an unknown code is shown as itself, never as an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Final

from ledger.measures.catalogue import CATALOGUE

LANGUAGES: Final = ("zh", "en")
DEFAULT_LANGUAGE: Final = "zh"
HTML_LANG: Final[Mapping[str, str]] = MappingProxyType({"zh": "zh-CN", "en": "en"})

_STRINGS: dict[str, tuple[str, str]] = {
    # chrome
    "app.title": ("信息化项目监管审计账本", "Project-supervision audit ledger"),
    "app.regulation": ("聊高新区管办发〔2023〕8号", "Measures 聊高新区管办发〔2023〕8号"),
    "nav.library": ("项目库", "Project library"),
    "nav.overdue": ("逾期事项", "Overdue board"),
    "nav.replay": ("回放", "Replay"),
    "nav.log": ("日志状态", "Log status"),
    "nav.charts": ("图表", "Charts"),
    "nav.admin": ("系统管理", "Administration"),
    "nav.api_docs": ("接口文档", "API docs"),
    "nav.apply": ("立项申请", "New application"),
    "nav.skip": ("跳到正文", "Skip to content"),
    "nav.main": ("主导航", "Main navigation"),
    "lang.switch": ("English", "中文"),
    "lang.switch_label": ("切换语言", "Switch language"),
    "signin.title": ("登录", "Sign in"),
    "signin.token": ("访问令牌", "Access token"),
    "signin.token_help": ("访问令牌由系统管理员签发，请妥善保管。",
                          "Issued by the administrator with `ledger actors token`; demo tokens"
                          " are in var/demo-tokens.txt."),
    "signin.submit": ("登录", "Sign in"),
    "signin.invalid": ("令牌无效或已被吊销。", "The token is not valid or has been revoked."),
    "signin.expired": ("会话已过期，请重新登录。", "The session has expired; sign in again."),
    "signout": ("退出", "Sign out"),
    "signed_in_as": ("当前用户", "Signed in as"),
    "csrf.failed": ("表单已失效（CSRF 校验未通过），请刷新页面后重试。",
                    "The form has expired (CSRF check failed); reload the page and retry."),
    "print": ("打印", "Print"),
    # library
    "library.title": ("项目库", "Project library"),
    "library.article": ("第十二条", "Art. 12"),
    "library.filters": ("筛选", "Filters"),
    "library.apply": ("筛选", "Apply"),
    "library.reset": ("清除", "Clear"),
    "library.any": ("全部", "Any"),
    "library.count": ("共 {n} 个项目", "{n} projects"),
    "library.totals": ("按建设单位汇总", "Totals per unit"),
    "library.total_all": ("合计", "Total"),
    "library.none": ("没有符合条件的项目。", "No project matches."),
    "library.page": ("第 {page} / {pages} 页", "Page {page} of {pages}"),
    "library.prev": ("上一页", "Previous"),
    "library.per": ("每页", "Per page"),
    "library.all": ("全部", "All"),
    "library.next": ("下一页", "Next"),
    "filter.unit": ("建设单位", "Unit"),
    "filter.stage": ("阶段", "Stage"),
    "filter.fiscal_year": ("年度", "Fiscal year"),
    "filter.eligibility": ("资金拨付条件", "Funding eligibility"),
    "filter.overdue": ("逾期", "Overdue"),
    "filter.overdue.yes": ("有逾期事项", "Has overdue obligations"),
    "filter.overdue.no": ("无逾期事项", "No overdue obligation"),
    "elig.construction": ("可拨付建设资金", "Construction funds: eligible"),
    "elig.not_construction": ("不可拨付建设资金", "Construction funds: not eligible"),
    "elig.operation_maintenance": ("可拨付运维资金", "O&M funds: eligible"),
    "elig.not_operation_maintenance": ("不可拨付运维资金", "O&M funds: not eligible"),
    "col.code": ("项目", "Project"),
    "col.title": ("项目名称", "Title"),
    "col.unit": ("建设单位", "Unit"),
    "col.kind": ("类型", "Kind"),
    "col.stage": ("阶段", "Stage"),
    "col.fiscal_year": ("年度", "Year"),
    "col.approved": ("批复金额", "Approved"),
    "col.arranged": ("已安排", "Arranged"),
    "col.arranged_c": ("已安排建设资金", "Arranged: construction"),
    "col.arranged_om": ("已安排运维经费", "Arranged: O&M"),
    "col.disbursed_c": ("已拨付建设资金", "Disbursed: construction"),
    "col.disbursed_om": ("已拨付运维经费", "Disbursed: O&M"),
    "col.days_overdue": ("逾期天数", "Days overdue"),
    "col.working_days": ("工作日", "working days"),
    "col.calendar_days": ("自然日", "calendar days"),
    "yuan_wan": ("万元", "10k yuan"),
    "money.unit_note": ("金额单位：万元（保留两位小数）。批复金额仅为建设资金；运行维护经费另列。",
                        "Amounts in 10,000 yuan (万元), two decimals. The approved budget is"
                        " construction money only; O&M money is shown apart."),
    "money.over_approved": ("已拨付建设资金超过现行批复金额：批复金额在拨付之后经调整审核调减"
                            "（第16条），已拨付的资金不因调减而退回，后续不得再拨付（超支不补，第15条）。",
                            "Construction funds disbursed exceed the approved budget now in force:"
                            " the budget was reduced by a change decision after the payments"
                            " (Art. 16); nothing more may be paid (Art. 15)."),
    "money.om_apart": ("运行维护经费不计入批复金额（批复金额为建设资金），两者分列。",
                       "O&M money is not part of the approved budget (construction money):"
                       " they are shown apart."),
    "elig.construction_short": ("可拨付建设资金", "Construction funds eligible"),
    "elig.operation_maintenance_short": ("可拨付运维经费", "O&M funds eligible"),
    "library.search": ("搜索", "Search"),
    "library.search_help": ("按项目名称、建设单位或项目编号前几位搜索",
                            "Title, unit or the first characters of the project id"),
    "library.export": ("导出当前筛选结果", "Export the filtered view"),
    "library.export_csv": ("导出 CSV", "Export CSV"),
    "library.export_xlsx": ("导出 Excel", "Export Excel"),
    "library.sort_by": ("按此列排序", "Sort by this column"),
    "library.charts": ("图表", "Charts"),
    "col.contracted": ("已签合同", "Contracted"),
    "col.disbursed": ("已拨付", "Disbursed"),
    "col.eligible": ("拨付条件", "Eligible"),
    "col.overdue": ("逾期", "Overdue"),
    "col.flags": ("标记", "Flags"),
    "col.projects": ("项目数", "Projects"),
    "col.due": ("期限", "Due"),
    "col.status": ("状态", "Status"),
    "col.article": ("条款", "Article"),
    "col.obligation": ("事项", "Obligation"),
    "col.project": ("项目", "Project"),
    "col.caused_by": ("依据条目", "Caused by"),
    "col.field": ("字段", "Field"),
    "col.type": ("类型", "Type"),
    "col.required": ("必填", "Required"),
    "col.description": ("说明", "Description"),
    "yuan": ("元", "yuan"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "short.construction": ("建设", "C"),
    "short.operation_maintenance": ("运维", "O&M"),
    # project
    "project.timeline": ("时间线", "Timeline"),
    "project.timeline_desc": ("本项目的全部条目，按记录顺序；每条注明条款、签署人和签名校验结果。",
                              "Every entry of the project in log order, with its articles, its"
                              " signer and whether its signature verified."),
    "project.entries": ("条目", "entries"),
    "project.eligibility": ("资金拨付条件", "Funding eligibility"),
    "project.eligible": ("符合拨付条件", "Eligible"),
    "project.not_eligible": ("不符合拨付条件", "Not eligible"),
    "project.headroom": ("可拨付余额", "Headroom"),
    "project.obligations": ("履约事项（工作日历）", "Obligations (working-day calendar)"),
    "project.no_obligations": ("暂无履约事项。", "No obligations."),
    "project.evidence": ("下载证据包", "Download evidence bundle"),
    "project.report": ("可打印报告", "Printable report"),
    "project.evidence_api": ("API 接口", "API endpoint"),
    "project.file": ("填报事项", "File an entry"),
    "project.hashes": ("状态哈希", "State hashes"),
    "project.hashes_help": ("两名审计人员在相同“截至时点”和“评估日”下得到相同哈希，"
                            "即看到完全相同的状态。",
                            "Two auditors who see the same hash for the same 'as known at' and"
                            " 'evaluated on' see exactly the same state."),
    "project.evaluated_on": ("评估日", "Evaluated on"),
    "project.as_known_at": ("截至时点", "As known at"),
    "project.now": ("现在", "now"),
    "project.filed_ok": ("已记录：第 {seq} 条（{type}）。", "Recorded: entry {seq} ({type})."),
    "project.verified": ("签名有效", "signature valid"),
    "project.invalid": ("签名无效", "signature INVALID"),
    "project.unchecked": ("未校验", "not checked"),
    "project.signer": ("签署人", "Signer"),
    "project.recorded": ("记录时间", "Recorded"),
    "project.effective": ("生效日期", "Effective"),
    "project.details": ("条目明细（表格）", "Entries (table)"),
    "project.seq": ("序号", "Seq"),
    "project.event": ("事项", "Event"),
    "project.hash": ("条目哈希", "Entry hash"),
    "project.flags": ("标记（已记录但不合规）", "Flags (recorded but out of order)"),
    "project.id": ("项目编号", "Project id"),
    # charts
    "charts.title": ("图表", "Charts"),
    "charts.funding": ("各建设单位资金情况（万元）", "Funding by unit (10k yuan)"),
    "charts.funding_note": ("批复金额、已安排建设资金、已签合同金额和已拨付建设资金；"
                            "运行维护经费不计入批复金额，未列入本图。",
                            "Approved budget, construction funds arranged, contracts and"
                            " construction funds disbursed; O&M money is not part of the approved"
                            " budget and is left out."),
    "charts.deadlines": ("未来60个工作日内的期限", "Deadlines in the next 60 working days"),
    "charts.deadlines_note": ("{start} 至 {end}：共 {n} 项未到期事项，每个圆点为一项期限。",
                              "{start} to {end}: {n} open obligations, one dot each."),
    "charts.no_deadlines": ("此期间没有到期事项。", "No deadline in this period."),
    "charts.history": ("各建设单位逾期事项数（月末）", "Overdue obligations per unit (month ends)"),
    "charts.history_note": ("每个月末各单位已逾期的事项数，按当时账本已记录的条目计算。",
                            "How many obligations each unit had overdue at each month end, from"
                            " the entries recorded by then."),
    "charts.today": ("今天", "Today"),
    "charts.table": ("数据表", "Data table"),
    "charts.month_end": ("月末", "Month end"),
    # overdue
    "overdue.title": ("逾期事项", "Overdue board"),
    "overdue.intro": ("各项目未履行（未到期或已逾期）的事项，按期限排序。",
                      "Every open or overdue obligation across projects, by due date."),
    "overdue.by_unit": ("按建设单位统计", "By unit"),
    "overdue.status": ("状态", "Status"),
    "overdue.none": ("没有未履行的事项。", "No open obligation."),
    "overdue.only_overdue": ("仅逾期", "Overdue only"),
    "overdue.open_and_overdue": ("未到期和逾期", "Open and overdue"),
    # replay
    "replay.title": ("精确回放", "Exact replay"),
    "replay.intro": ("选择“截至时点”（当时已记录的条目）和“评估日”，"
                     "查看项目或整个项目库当时的确切状态。",
                     "Pick 'as known at' (what had been recorded by then) and 'evaluated on' to"
                     " see a project or the whole library exactly as it was."),
    "replay.as_known_at": ("截至时点（北京时间）", "As known at (China Standard Time)"),
    "replay.on": ("评估日", "Evaluated on"),
    "replay.scope": ("范围", "Scope"),
    "replay.whole_library": ("整个项目库", "The whole library"),
    "replay.run": ("回放", "Replay"),
    "replay.banner": ("回放：截至 {known} 所知，评估日 {on}。", "Replay: as known at {known},"
                      " evaluated on {on}."),
    "replay.library_hash": ("项目库状态哈希", "Library state hash"),
    "replay.entries_known": ("当时已记录条目数", "Entries known then"),
    "replay.back": ("返回当前状态", "Back to the present"),
    # log
    "log.title": ("日志状态", "Log status"),
    "log.checkpoint": ("最新检查点", "Latest checkpoint"),
    "log.size": ("条目数（树大小）", "Size (leaves)"),
    "log.root": ("根哈希", "Root hash"),
    "log.time": ("时间", "Time"),
    "log.tree_size": ("当前日志条目数", "Entries in the log now"),
    "log.no_checkpoint": ("日志为空，尚无检查点。", "The log is empty: no checkpoint yet."),
    "log.witness": ("见证联署", "Witness cosignature"),
    "log.witness_none": ("最近的检查点尚无见证联署。",
                         "No witness has cosigned a recent checkpoint."),
    "log.witness_by": ("见证方", "Witness"),
    "log.witness_size": ("联署的检查点大小", "Cosigned checkpoint size"),
    "log.lag": ("滞后", "Lag"),
    "log.lag_value": ("{entries} 个条目，{time}", "{entries} entries, {time}"),
    "log.up_to_date": ("已联署最新检查点", "the latest checkpoint is cosigned"),
    "log.quorum": ("{current}/{total} 个见证方已联署最新检查点",
                   "{current} of {total} witnesses cosigned the latest checkpoint"),
    "log.behind": ("落后 {entries} 个条目", "{entries} entries behind"),
    "log.verify": ("最近一次完整性校验", "Last integrity check (ledger verify)"),
    "log.verify_none": ("尚无校验记录。", "No verification has been recorded."),
    "log.verify_never": ("账本已有 {days} 天的条目，却没有任何校验记录。"
                         "定时校验（ledger-verify.timer）应每晚运行并留下记录："
                         "请检查定时任务是否已启用、校验记录是否被删除，或立即校验。",
                         "The ledger holds {days} days of entries and no verification has been"
                         " recorded. The scheduled verify (ledger-verify.timer) runs nightly and"
                         " keeps its result: check that it is enabled and that no results were"
                         " deleted, or verify now."),
    "log.verify_ok": ("通过", "passed"),
    "log.verify_failed": ("未通过", "FAILED"),
    "log.verify_run": ("立即校验", "Verify now"),
    "log.verify_counts": ("{entries} 个条目、{streams} 个流、{signatures} 个签名、"
                          "{checkpoints} 个检查点",
                          "{entries} entries, {streams} streams, {signatures} signatures,"
                          " {checkpoints} checkpoints"),
    "log.verify_first": ("首个问题", "First problem"),
    "log.verify_by": ("执行人", "Run by"),
    "log.verify_finished": ("完成时间", "Finished"),
    "log.verify_duration": ("耗时", "Duration"),
    "log.verify_since": ("此后账本又新增 {entries} 个条目，尚未经过校验。",
                         "{entries} entries have been added since, not yet verified."),
    "log.verify_unreadable": ("最近一次校验记录无法读取：它已不是系统写入的样子，"
                              "可能在数据库中被改动。请立即重新校验，并请系统管理员查明原因。",
                              "The newest kept check cannot be read: it is not as the system"
                              " wrote it, and may have been edited in the database. Verify now,"
                              " and have the administrator find out why."),
    "log.verify_unsigned": ("最近一次校验记录没有本账本日志密钥的有效签名：它不是系统写下的，"
                            "可能在数据库中被伪造、改动或从别处复制。不能据此认为校验通过。"
                            "请立即重新校验，并请系统管理员查明原因。",
                            "The newest kept check is not signed by this ledger's log key: the"
                            " system did not write it, and it may have been forged, edited or"
                            " copied in the database. It proves nothing. Verify now, and have"
                            " the administrator find out why."),
    "log.verify_by_cli": ("命令行或每晚的定时校验（ledger verify）",
                          "the command line or the nightly timer (ledger verify)"),
    "log.verify_stale": ("这次校验已是 {days} 天前。定时校验（ledger-verify.timer）应每晚运行一次："
                         "请检查定时任务是否停止、较新的校验记录是否缺失，或立即校验。",
                         "This check is {days} days old. The scheduled verify"
                         " (ledger-verify.timer) runs nightly: check that it still runs and that"
                         " no newer result is missing, or verify now."),
    "log.verify_reading": ("正在校验：正在读取账本（{by} 于 {started} 开始）。"
                           "本页每 2 秒自动刷新。",
                           "Verifying: reading the ledger (started by {by} at {started})."
                           " This page refreshes every 2 seconds."),
    "log.verify_running": ("正在校验：已检查 {checked} / {total} 个条目（{by} 于 {started} 开始）。"
                           "本页每 2 秒自动刷新。",
                           "Verifying: {checked} of {total} entries checked (started by {by} at"
                           " {started}). This page refreshes every 2 seconds."),
    "log.verify_stopped.database-unavailable": (
        "上次校验未能完成：数据库暂不可用，请稍后再试。",
        "The last check could not finish: the database was unavailable. Try again later."),
    "log.verify_stopped.internal": (
        "上次校验未能完成：服务器内部错误（详见服务器日志），请联系系统管理员。",
        "The last check could not finish: an internal error (see the server log)."),
    "log.note": ("签名检查点（签名注记原文）", "Signed checkpoint (C2SP signed note)"),
    # administration
    "admin.title": ("系统管理", "Administration"),
    "admin.actors": ("用户与密钥", "Actors and keys"),
    "admin.units": ("建设单位", "Units"),
    "admin.actor": ("用户编号", "Actor id"),
    "admin.display_name": ("显示名称", "Display name"),
    "admin.role": ("角色", "Role"),
    "admin.unit_help": ("仅“项目建设单位”角色填写，填单位编号",
                        "Only for role unit: the unit's id"),
    "admin.register": ("登记用户（同时生成托管密钥）", "Register (with a custodial key)"),
    "admin.registered_at": ("登记时间", "Registered"),
    "admin.keys": ("密钥", "Keys"),
    "admin.tokens": ("访问令牌", "Tokens"),
    "admin.key_id": ("密钥编号", "Key id"),
    "admin.suite": ("签名算法", "Suite"),
    "admin.purpose": ("用途", "Purpose"),
    "admin.revoked_from": ("吊销时间", "Revoked from"),
    "admin.valid": ("有效", "valid"),
    "admin.revoked": ("已吊销", "revoked"),
    "admin.rotate_key": ("轮换密钥（生成新的托管密钥）", "Rotate (new custodial key)"),
    "admin.rotate_help": ("轮换后旧密钥仍然有效，直到被吊销。",
                          "The old key stays valid until it is revoked."),
    "admin.revoke_key": ("吊销", "Revoke"),
    "admin.reason": ("原因", "Reason"),
    "admin.default_reason": ("管理员吊销", "revoked by the administrator"),
    "admin.token_id": ("令牌标识", "Token id"),
    "admin.issued_at": ("签发时间", "Issued"),
    "admin.expires_at": ("到期时间", "Expires"),
    "admin.state": ("状态", "State"),
    "admin.state.live": ("有效", "live"),
    "admin.state.revoked": ("已吊销", "revoked"),
    "admin.state.expired": ("已过期", "expired"),
    "admin.state.unreadable": ("记录异常（时间无法读取，可能被改动）",
                               "damaged (its time cannot be read; edited?)"),
    "admin.no_tokens": ("尚未签发令牌。", "No token issued."),
    "admin.issue": ("签发新令牌", "Issue a token"),
    "admin.rotate_tokens": ("更换令牌（吊销全部并签发新令牌）", "Rotate (revoke all, issue one)"),
    "admin.revoke_tokens": ("吊销全部令牌（同时结束其登录会话）",
                            "Revoke all (ends their sessions)"),
    "admin.lifetime": ("令牌有效期 {days} 天；只保存令牌的哈希值。",
                       "Tokens last {days} days; only their hashes are kept."),
    "admin.token_once": ("新令牌如下，仅显示这一次，请立即交给使用人：",
                         "The new token, shown only this once: hand it over now:"),
    "admin.done.registered": ("已登记。", "Registered."),
    "admin.done.rotated": ("已生成新密钥。", "New key registered."),
    "admin.done.key-revoked": ("密钥已吊销。", "Key revoked."),
    "admin.done.named": ("单位名称已保存。", "Unit name saved."),
    "admin.done.revoked": ("已吊销该用户的全部令牌。", "The actor's tokens are revoked."),
    "admin.unit_code": ("单位编号", "Unit id"),
    "admin.unit_name": ("单位名称", "Name"),
    "admin.unit_named": ("已命名", "named"),
    "admin.unit_default": ("默认名称", "default name"),
    "admin.unit_save": ("保存名称", "Save name"),
    "admin.projects": ("项目数", "Projects"),
    "admin.actors_count": ("用户数", "Actors"),
    "admin.units_help": ("单位名称用于各页面显示；每次修改都会保留记录。",
                         "Names are what the pages show; every renaming is kept."),
    "admin.bad_id": ("{field}只能包含字母、数字、点、下划线和连字符（至多64个字符）",
                     "{field}: letters, digits, dot, underscore and hyphen (at most 64)"),
    "admin.bad_role": ("请选择角色", "Choose a role"),
    "admin.unit_rule": ("“项目建设单位”角色必须填写所属单位，其他角色不得填写",
                        "A unit actor names its unit; no other role has one"),
    "admin.bad_name": ("显示名称为1至64个字符", "The display name is 1 to 64 characters"),
    "admin.bad_action": ("未知操作", "Unknown action"),
    "admin.expires_days": ("新令牌有效期（天）", "New token expires in (days)"),
    "admin.expires_default": ("留空则为 {days} 天", "blank: {days} days"),
    "admin.bad_expiry": ("有效期须为1至3660天的整数", "The expiry is 1 to 3660 whole days"),
    "admin.no_key": ("没有该密钥", "No such key"),
    "admin.already_revoked": ("该密钥已被吊销", "The key is already revoked"),
    # printable report
    "report.title": ("项目监管证据报告", "Project evidence report"),
    "report.exported_at": ("导出时间", "Exported at"),
    "report.at_export": ("导出时", "at export"),
    "report.entries": ("条目数", "Entries"),
    "report.funds": ("资金", "Funds"),
    "report.verdict": ("结论", "Verdict"),
    "report.reasons": ("原因（条款）", "Reasons (article)"),
    "report.timeline": ("全部条目", "Every entry"),
    "report.documents": ("所附文件", "Documents"),
    "report.no_documents": ("无所附文件。", "No document."),
    "report.sha256": ("文件指纹（SHA-256）", "SHA-256"),
    "report.file_name": ("证据包中的文件名", "File name in the bundle"),
    "report.checkpoint": ("签名检查点", "Signed checkpoint"),
    "report.checkpoint_help": ("以上每个条目都可通过包含证明追溯到下面这个签名检查点。",
                               "Every entry above is proven included in this signed checkpoint."),
    "report.how": ("如何核验", "How to verify"),
    "report.how_text": ("证据包（压缩文件）内含全部条目、包含证明、签名检查点和所附文件，"
                        "可由审计分局或调查人员用离线校验工具核验，无需连接本系统；"
                        "日志公钥应从账本运营方公布的渠道获取，而不是从证据包中获取。",
                        "The bundle (zip) holds every entry, its inclusion proof, the signed"
                        " checkpoint and the documents: verify it offline with"
                        " `ledger verify-bundle`, with the log key from the operator's"
                        " published channel, not from the bundle."),
    "report.note": ("本报告仅为便于阅读的呈现；证据以证据包中的签名数据及所附文件为准。",
                    "This report is a rendering for reading; the evidence is the bundle's"
                    " bundle.json and documents."),
    # entry lookup
    "lookup.title": ("条目查询", "Look up an entry"),
    "lookup.intro": ("按条目哈希或日志序号（叶子序号）查询一条记录：内容（依您的角色可见范围）、"
                     "包含证明及其所在的签名检查点。",
                     "Find an entry by its hash or leaf index: its content (as your role"
                     " allows), its inclusion proof and the signed checkpoint it is in."),
    "lookup.label": ("条目哈希或叶子序号", "Entry hash or leaf index"),
    "lookup.help": ("64位十六进制哈希，或从0开始的叶子序号",
                    "64 hex digits, or a leaf index from 0"),
    "lookup.submit": ("查询", "Look up"),
    "lookup.not_found": ("日志中没有该条目（或您无权查看）。",
                         "No such entry (or not yours to see)."),
    "lookup.bad": ("请输入64位十六进制条目哈希或叶子序号。",
                   "Enter an entry hash (64 hex digits) or a leaf index."),
    "lookup.entry": ("条目", "Entry"),
    "lookup.leaf_index": ("叶子序号", "Leaf index"),
    "lookup.stream": ("所属", "Stream"),
    "lookup.registry": ("密钥登记簿", "Key registry"),
    "lookup.root": ("根密钥（系统管理员）", "root key (administrator)"),
    "lookup.project_entry": ("项目条目", "A project's entry"),
    "lookup.admin_no_content": ("管理员不查看项目内容，仅显示条目的存在及其证明。",
                                "The administrator sees no project data: only that the entry"
                                " exists, and its proof."),
    "lookup.json": ("原始内容", "Raw content (JSON)"),
    "lookup.proof": ("包含证明", "Inclusion proof"),
    "lookup.proof_ok": ("证明有效：该条目包含在此检查点中", "Proof verified: the entry is in this"
                        " checkpoint"),
    "lookup.proof_bad": ("证明无效", "Proof FAILED"),
    "lookup.path": ("证明路径（自叶子向根）", "Proof path (leaf to root)"),
    "lookup.checkpoint": ("签名检查点（含见证联署）", "Signed checkpoint (with cosignatures)"),
    "lookup.not_yet": ("该条目尚未纳入已签名的检查点，请稍后再查。",
                       "The entry is not in a signed checkpoint yet; look again shortly."),
    # filing
    "file.title": ("填报事项", "File an entry"),
    "file.new_title": ("立项申请", "New project application"),
    "file.choose": ("选择事项类型", "Choose the kind of entry"),
    "file.type": ("事项类型", "Entry type"),
    "file.payload": ("内容（JSON）", "Content (JSON)"),
    "file.payload_help": ("已预填示例内容，请按实际情况修改。"
                          "金额以“分”为单位的整数；日期格式 YYYY-MM-DD。",
                          "Prefilled with an example: change it to the facts. Money is integer"
                          " fen (分); dates are YYYY-MM-DD."),
    "file.effective": ("生效日期（可选，默认今天）", "Effective date (optional, default today)"),
    "file.submit": ("提交并签名", "Sign and file"),
    "file.fields": ("字段说明", "Fields"),
    "file.errors": ("提交未被接受，请修改以下问题：",
                    "The filing was not accepted; correct these:"),
    "file.refused": ("依据《管理办法》不予受理", "Refused by the Measures"),
    "file.not_json": ("不是有效的 JSON：第 {line} 行第 {col} 列，{msg}",
                      "not valid JSON: line {line}, column {col}: {msg}"),
    "file.not_object": ("应为 JSON 对象 {…}", "must be a JSON object {…}"),
    "file.bad_date": ("日期格式应为 YYYY-MM-DD", "expected a date YYYY-MM-DD"),
    "file.none": ("您的角色不能在此项目上填报事项。", "Your role files nothing on this project."),
    "file.articles": ("条款", "Articles"),
    # errors
    "error.title": ("无法完成请求", "The request could not be completed"),
    "error.integrity": ("账本完整性告警", "Ledger integrity alarm"),
    "outage.title": ("数据库暂时无法访问", "The database is unavailable for the moment"),
    "outage.message": ("账本的数据库暂时无法访问（可能正在重启或维护）。"
                       "本页将在 {seconds} 秒后自动重试。",
                       "The ledger's database does not answer (restarting or under maintenance,"
                       " perhaps). This page tries again by itself in {seconds} seconds."),
    "outage.posted": ("如果刚才提交了表单，请在恢复后到项目页核对是否已经记录，"
                      "再决定是否重新提交。",
                      "If you had just submitted a form, check on the project's page once the"
                      " database is back whether it was recorded before submitting it again."),
    "error.404": ("未找到该项目（或您无权查看）。", "Project not found (or not yours to see)."),
    "form.upload_rate": ("上传过于频繁，请 {seconds} 秒后再试。",
                         "Too many uploads; try again in {seconds} s."),
    "error.403": ("您的角色无权执行此操作。", "Your role may not do this."),
    "error.back": ("返回项目库", "Back to the library"),
    "error.bad_time": ("时间格式不正确", "The time is not valid"),
    "error.bad_date": ("日期格式不正确", "The date is not valid"),
}

STAGES: Final[Mapping[str, tuple[str, str]]] = MappingProxyType({
    "filed": ("已申报", "filed"), "under_review": ("审核中", "under review"),
    "approved": ("已批准", "approved"), "rejected": ("未通过", "rejected"),
    "in_construction": ("建设中", "in construction"), "suspended": ("已暂停", "suspended"),
    "completed": ("已完工", "completed"), "accepted": ("已验收", "accepted"),
    "in_operation": ("运行维护", "in operation"), "terminated": ("已终止", "terminated"),
})
KINDS: Final[Mapping[str, tuple[str, str]]] = MappingProxyType({
    "new": ("新建", "new"), "expansion": ("扩建", "expansion"), "upgrade": ("升级改造", "upgrade"),
    "operation_maintenance": ("运行维护", "O&M"),
})
STATUSES: Final[Mapping[str, tuple[str, str]]] = MappingProxyType({
    "open": ("未到期", "open"), "met": ("已履行", "met"), "met_late": ("逾期履行", "met late"),
    "overdue": ("已逾期", "overdue"), "pending_calendar": ("待日历", "pending calendar"),
})
ROLES: Final[Mapping[str, tuple[str, str]]] = MappingProxyType({
    "unit": ("项目建设单位", "construction unit"),
    "office": ("综合管理办公室", "Integrated Management Office"),
    "finance": ("财政管理部", "Finance Management Dept"),
    "approval": ("行政审批服务部", "Administrative Approval Service Dept"),
    "audit": ("审计分局", "Audit Branch"), "cdr": ("首席数据代表", "Chief Data Representative"),
    "investigator": ("调查人员", "investigator"), "admin": ("管理员", "administrator"),
})
VIEWS: Final[Mapping[str, tuple[str, str]]] = MappingProxyType({
    "project": ("项目库行", "project"), "eligibility": ("资金拨付条件", "eligibility"),
    "obligations": ("履约事项", "obligations"), "trail": ("审计轨迹", "trail"),
})
PURPOSES: Final[Mapping[str, tuple[str, str]]] = MappingProxyType({
    "filing": ("填报签名", "filing"), "witness": ("见证联署", "witness"),
    "log": ("日志检查点", "log"), "root": ("根密钥", "root"),
})
CHANNELS: Final[Mapping[str, tuple[str, str]]] = MappingProxyType({
    "email": ("电子邮件", "email"), "wecom": ("企业微信", "WeCom"),
    "dingtalk": ("钉钉", "DingTalk"),
})
FUNDING: Final[Mapping[str, tuple[str, str]]] = MappingProxyType({
    "construction": ("建设资金", "Construction funds"),
    "operation_maintenance": ("运维资金", "O&M funds"),
})
RULES: Final[Mapping[str, tuple[str, str]]] = MappingProxyType({
    "project_terminated": ("项目已终止", "project terminated"),
    "approval_required": ("尚无同意的审核意见", "no approving review opinion"),
    "funding_suspended": ("资金已暂缓拨付", "funding suspended"),
    "acceptance_required": ("已完工未验收", "completed but not accepted"),
    "sharing_non_compliance": ("未按要求共享数据", "data not shared as required"),
    "security_non_compliance": ("不符合安全/密码要求", "security requirements not met"),
    "catalogue_not_completed": ("未按期完成目录编制及数据归集", "catalogue not completed in time"),
    "no_headroom": ("已无可拨付余额", "no headroom left"),
    "application_window": ("十月集中申报", "application in October"),
    "contract_filing": ("合同备案（5个工作日内）", "contract filing (5 working days)"),
    "annual_report": ("年度进展报告", "annual progress report"),
    "acceptance": ("竣工验收（3个月内）", "acceptance (3 months)"),
    "catalogue": ("目录编制及数据归集（10个工作日内）", "catalogue (10 working days)"),
    "self_evaluation": ("自评价（验收后12–24个月）", "self-evaluation (12–24 months)"),
    "rectification": ("限期整改", "rectification"),
    "art8_review": ("第八条类别待审查", "Art. 8 category: for review"),
    "application_window_late": ("非十月申报", "applied outside October"),
    "contract_filing_late": ("合同备案逾期", "contract filed late"),
    "annual_report_late": ("年度报告逾期", "annual report late"),
    "acceptance_late": ("验收逾期", "acceptance late"),
    "catalogue_late": ("目录编制逾期", "catalogue late"),
    "self_evaluation_late": ("自评价不在期限内", "self-evaluation out of window"),
    "rectification_late": ("整改逾期", "rectification late"),
    "procurement_before_opinion": ("合同签订早于评审意见生效", "signed before the opinion"),
    "contract_over_budget": ("合同金额超出核定预算", "contracts beyond the approved budget"),
    "declaration_without_consent": ("未经同意向上申报", "declared without the Office's consent"),
    "extension_requested_late": ("逾期后才申请延期验收", "extension requested after the deadline"),
    "security_assessment_failed": ("安全评估结论为不符合", "security assessment failed"),
    "exemption_not_applicable": ("豁免不适用于该认定", "exemption does not cover the finding"),
    "unit_barred": ("不得新建、改建、扩建", "unit barred from new systems"),
    "exceeds_arranged_or_approved": ("超出已安排和核定金额", "beyond arranged and approved"),
    "not_completed": ("尚未完成建设", "construction not completed"),
    "not_suspended": ("未处于暂停状态", "nothing suspended"),
    "unknown_reference": ("引用的事项不存在或已处理", "cites nothing open"),
    "history_attestation": ("历史记录确认不符合要求", "history attestation not allowed"),
})

_ARTICLE = re.compile(r"Art\. (\d+)(\(\d+\))?")


def event_label(event_type: str, lang: str) -> str:
    """An event type for people: its Chinese summary, or its name split into words."""
    spec = CATALOGUE.get(event_type)
    if lang == "zh" and spec is not None and spec.summary_zh:
        return spec.summary_zh
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", event_type)


def article(text: str, lang: str) -> str:
    """``"Art. 22(1)"`` as ``"第22条第(1)项"`` in Chinese (unchanged in English)."""
    if lang != "zh":
        return text
    return _ARTICLE.sub(lambda m: f"第{m.group(1)}条" + (f"{m.group(2)}" if m.group(2) else ""),
                        text)


def label(table: Mapping[str, tuple[str, str]], code: str | None, lang: str) -> str:
    """The label of a code in one language (the code itself when unknown)."""
    if code is None:
        return "—"
    pair = table.get(code)
    if pair is None:
        return code
    return pair[0] if lang == "zh" else pair[1]


def translator(lang: str) -> Callable[..., str]:
    """``t(key, **values)`` for ``lang`` (unknown keys are returned as they are)."""
    index = 0 if lang == "zh" else 1

    def t(key: str, **values: object) -> str:
        pair = _STRINGS.get(key)
        text = key if pair is None else pair[index]
        return text.format(**values) if values else text

    return t


# --- validation messages in Chinese ------------------------------------------------------------

_MESSAGES_ZH: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), zh) for pattern, zh in (
        (r"^required$", "必填项"),
        (r"^not a field of this event$", "该事项没有此字段"),
        (r"^Field required$", "必填项"),
        (r"^Extra inputs are not permitted$", "该事项没有此字段"),
        (r"^Input should be a valid integer.*$", "应为整数"),
        (r"^Input should be a valid string$", "应为文本"),
        (r"^Input should be a valid boolean.*$", "应为 true 或 false"),
        (r"^Input should be a valid (list|array|tuple|set|frozenset).*$", "应为列表 [...]"),
        (r"^Input should be a valid dictionary.*$", "应为对象 {...}"),
        (r"^Input should be an object$", "应为对象 {...}"),
        (r"^Input should be a valid UUID.*$", "应为 UUID"),
        (r"^Input should be greater than or equal to (\S+)$", r"应不小于 \1"),
        (r"^Input should be greater than (\S+)$", r"应大于 \1"),
        (r"^Input should be less than or equal to (\S+)$", r"应不大于 \1"),
        (r"^Input should be less than (\S+)$", r"应小于 \1"),
        (r"^Input should be (.+)$", r"应为以下之一：\1"),
        (r"^String should have at least (\d+) characters?$", r"至少 \1 个字符"),
        (r"^String should have at most (\d+) characters?$", r"最多 \1 个字符"),
        (r"^String should match pattern .*$", "格式不符合要求"),
        (r"^List should have at least (\d+) items?.*$", r"至少 \1 项"),
        (r"^List should have at most (\d+) items?.*$", r"最多 \1 项"),
        (r"^money is an integer number of fen \(分\): expected a JSON integer, got (.+)$",
         r"金额应为以“分”为单位的整数，实际为 \1"),
        (r"^expected a date as YYYY-MM-DD, got (.+)$", r"日期格式应为 YYYY-MM-DD，实际为 \1"),
        (r"^expected a date YYYY-MM-DD, got a date-time$", "应为日期 YYYY-MM-DD，而不是日期时间"),
        (r"^(.+) is not a calendar date$", r"\1 不是有效日期"),
        (r"^date (\S+) is outside (\S+)…(\S+): a typing error\?$",
         r"日期 \1 超出 \2 至 \3 的范围，是否输入有误？"),
        (r"^expected a UUID as 8-4-4-4-12 hex digits, got (.+)$", r"应为 UUID，实际为 \1"),
        (r"^expected a document's SHA-256 as 64 lowercase hex characters, got (.+)$",
         r"应为文件的 SHA-256（64 位小写十六进制），实际为 \1"),
        (r"^(.+) \((\w+)\) is required (.+) \(Art\. 7\)$", r"缺少\1（\2）（第7条）"),
        (r"^(.+) \((\w+)\) is a required part of the acceptance report \(Art\. 19\)$",
         r"验收报告必须包含\1（\2）（第19条）"),
        (r"^supplement at least one document \(Art\. 7\)$", "至少补充一份材料（第7条）"),
        (r"^required when the criterion is not passed \(Art\. 9\)$",
         "该项审核标准未通过时必填（第9条）"),
        (r"^required when (.+)$", r"当 \1 时必填"),
        (r"^must be absent when (.+)$", r"当 \1 时不得填写"),
        (r"^at least one data resource is required.*$",
         "至少填写一项数据资源：信息资源目录是申报的必备内容（第24条）"),
        (r"^at least one condition is required.*$", "“附条件同意”须至少列明一项条件（第9条）"),
        (r"^only an 'approved_with_conditions' decision has conditions$",
         "只有“附条件同意”才有条件"),
        (r"^an unconditional 'approved' cannot have a failed criterion.*$",
         "存在未通过的审核标准时不能无条件同意：请附条件同意或要求修改（第9条）"),
        (r"^name at least one changed aspect \(Art\. 16\)$", "至少列明一项变更内容（第16条）"),
        (r"^given, but (.+) is not in aspects$", r"已填写，但 \1 不在变更内容中"),
        (r"^cite at least one article$", "至少引用一条条款"),
        (r"^name the catalogue entries \(Art\. 25\)$", "请列明目录条目（第25条）"),
        (r"^say why the resources are not in the catalogue$", "请说明资源未纳入目录的原因"),
        (r"^at least one catalogue entry is required \(Art\. 26\)$",
         "至少填写一项目录条目（第26条）"),
        (r"^(?:a|an) (.+) is (?:listed|cited) twice$", r"\1 重复"),
        (r"^at least one (.+) is required$", r"至少需要一项 \1"),
        (r"^expected a JSON object$", "应为 JSON 对象"),
    ))


def message_zh(message: str) -> str:
    """A validation message in Chinese; an untranslated one keeps its English text."""
    if message.startswith("Value error, "):
        return message_zh(message.removeprefix("Value error, "))
    for pattern, zh in _MESSAGES_ZH:
        if pattern.match(message):
            return pattern.sub(zh, message)
    return f"不符合要求：{message}"


def message_in(message: str, lang: str) -> str:
    """A validation message in ``lang``."""
    return message_zh(message) if lang == "zh" else message
