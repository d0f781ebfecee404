"""``report.html``: a printable, bilingual (Chinese first, English) rendering of an evidence bundle.

The report is for people; the evidence is ``bundle.json`` and the documents, which
``ledger verify-bundle`` checks. It shows the project, the timeline of entries with their
article tags and who signed each one, funding eligibility and obligations at the evaluation
date, the checkpoint, and how to verify. Plain HTML and CSS, no script; every value taken from
the bundle is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any, Final

from ledger.errors import LedgerError
from ledger.measures.catalogue import spec_for
from ledger.measures.views import yuan

__all__ = ["render_report"]

_ROLES: Final[Mapping[str, str]] = {
    "unit": "项目建设单位 construction unit",
    "office": "综合管理办公室 Integrated Management Office",
    "finance": "财政管理部 Finance Management Dept",
    "approval": "行政审批服务部 Administrative Approval Service Dept",
    "audit": "审计分局 Audit Branch",
    "cdr": "首席数据代表 Chief Data Representative",
    "investigator": "调查人员 investigator",
    "admin": "管理员 administrator",
    "root": "根密钥 root key",
}
_STAGES: Final[Mapping[str, str]] = {
    "filed": "已申报 filed", "under_review": "审核中 under review", "approved": "已批准 approved",
    "rejected": "未通过 rejected", "in_construction": "建设中 in construction",
    "suspended": "已暂停 suspended", "completed": "已完工 completed",
    "accepted": "已验收 accepted", "in_operation": "运行维护 in operation",
    "terminated": "已终止 terminated",
}
_STATUSES: Final[Mapping[str, str]] = {
    "open": "未到期 open", "met": "已履行 met", "met_late": "逾期履行 met late",
    "overdue": "已逾期 overdue", "pending_calendar": "待公布节假日 pending calendar",
}
_KINDS: Final[Mapping[str, str]] = {
    "construction": "建设资金 construction funds",
    "operation_maintenance": "运行维护资金 operation & maintenance funds",
}

_CSS: Final = """
@page { size: A4; margin: 16mm 14mm; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC",
       "SimSun", sans-serif; font-size: 10.5pt; color: #111; margin: 0 auto; max-width: 190mm;
       line-height: 1.45; }
h1 { font-size: 16pt; margin: 0 0 4pt; }
h2 { font-size: 12.5pt; margin: 16pt 0 6pt; border-bottom: 1.5pt solid #333; padding-bottom: 2pt;
     page-break-after: avoid; }
.en { color: #555; font-weight: normal; }
table { width: 100%; border-collapse: collapse; margin: 4pt 0 8pt; }
th, td { border: 0.6pt solid #888; padding: 3pt 4pt; vertical-align: top; text-align: left; }
th { background: #eee; font-weight: 600; }
tr { page-break-inside: avoid; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 1pt 10pt; margin: 6pt 0; }
dl.meta dt { font-weight: 600; }
dl.meta dd { margin: 0; word-break: break-all; }
.tag { display: inline-block; border: 0.6pt solid #555; border-radius: 3pt; padding: 0 3pt;
       margin: 0 2pt 1pt 0; font-size: 8.5pt; white-space: nowrap; }
.mono, code, pre { font-family: "DejaVu Sans Mono", Consolas, monospace; font-size: 8.5pt; }
.hash { word-break: break-all; }
.yes { font-weight: 700; color: #075e07; }
.no { font-weight: 700; color: #9b0b0b; }
pre { background: #f6f6f6; border: 0.6pt solid #ccc; padding: 5pt; white-space: pre-wrap;
      word-break: break-all; }
ol li { margin-bottom: 2pt; }
.note { font-size: 9pt; color: #444; }
@media print { .screen-only { display: none; } a { color: inherit; text-decoration: none; } }
"""


def _e(value: object) -> str:
    """Escape any value for HTML text or attribute content."""
    return html.escape("" if value is None else str(value), quote=True)


def _yuan(fen: object) -> str:
    """Integer fen as ``¥1,234.56``."""
    return yuan(fen, "¥")


def _heading(zh: str, en: str) -> str:
    return f"<h2>{_e(zh)} <span class=\"en\">{_e(en)}</span></h2>"


def _dict(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> Sequence[Any]:
    return value if isinstance(value, list) else []


def _state(bundle: Mapping[str, Any], name: str) -> Any:
    return _dict(_dict(bundle.get("projections")).get(name)).get("state")


def _actors(bundle: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    actors: dict[str, Mapping[str, Any]] = {}
    for item in _list(bundle.get("registry")):
        filing = _dict(_dict(_dict(item).get("entry")).get("filing"))
        if filing.get("type") == "ActorRegistered":
            payload = _dict(filing.get("payload"))
            actors[str(payload.get("actor"))] = payload
    return actors


def _signer(filing: Mapping[str, Any], actors: Mapping[str, Mapping[str, Any]]) -> str:
    actor = str(filing.get("actor", ""))
    record = actors.get(actor, {})
    name = record.get("display_name") or actor
    role = str(record.get("role", "root" if actor == "root" else ""))
    unit = record.get("unit")
    parts = [f"<strong>{_e(name)}</strong> <span class=\"mono\">{_e(actor)}</span>",
             _e(_ROLES.get(role, role))]
    if unit:
        parts.append(f"单位 unit: {_e(unit)}")
    parts.append(f"<span class=\"mono\">{_e(filing.get('key', ''))}</span>")
    return "<br>".join(parts)


def _timeline(bundle: Mapping[str, Any], actors: Mapping[str, Mapping[str, Any]]) -> str:
    rows = []
    for item in _list(bundle.get("entries")):
        entry = _dict(_dict(item).get("entry"))
        filing = _dict(entry.get("filing"))
        event_type = str(filing.get("type", ""))
        try:
            spec = spec_for(event_type)
            summary, articles = spec.summary_zh, [f"Art. {a}" for a in spec.articles]
        except LedgerError:
            summary, articles = "", []
        tags = "".join(f"<span class=\"tag\">{_e(a)}</span>" for a in articles)
        rows.append(
            "<tr>"
            f"<td>{_e(entry.get('seq'))}</td>"
            f"<td class=\"mono\">{_e(entry.get('recorded_at'))}</td>"
            f"<td>{_e(filing.get('effective'))}</td>"
            f"<td><strong>{_e(summary)}</strong><br><span class=\"mono\">{_e(event_type)}"
            "</span></td>"
            f"<td>{tags}</td>"
            f"<td>{_signer(filing, actors)}</td>"
            f"<td class=\"mono hash\">{_e(str(_dict(item).get('hash', ''))[:16])}…<br>"
            f"leaf {_e(_dict(item).get('leaf_index'))}</td>"
            "</tr>")
    return (_heading("时间线", "Timeline")
            + "<table><thead><tr><th>序号<br>Seq</th><th>记录时间 (UTC)<br>Recorded</th>"
            "<th>生效日期<br>Effective</th><th>事项<br>Event</th><th>条款<br>Articles</th>"
            "<th>签署人<br>Signed by</th><th>条目哈希<br>Entry hash</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def _reasons(reasons: Sequence[Any]) -> str:
    if not reasons:
        return ""
    items = []
    for reason in reasons:
        r = _dict(reason)
        since = f" (自 since {_e(r.get('since'))})" if r.get("since") else ""
        quote = (f"<q lang=\"zh\">{_e(r.get('quote_zh'))}</q> " if r.get("quote_zh")
                 else "")  # the article's own words
        items.append(f"<li><span class=\"tag\">{_e(r.get('article'))}</span>{quote}"
                     f"{_e(r.get('detail'))}{since} <span class=\"mono\">{_e(r.get('rule'))}"
                     "</span></li>")
    return "<ul>" + "".join(items) + "</ul>"


def _eligibility(bundle: Mapping[str, Any]) -> str:
    state = _dict(_state(bundle, "eligibility"))
    rows = []
    for kind, value in state.items():
        v = _dict(value)
        verdict = ("<span class=\"yes\">可拨付 eligible</span>" if v.get("eligible") is True
                   else "<span class=\"no\">不得拨付 not eligible</span>")
        rows.append(f"<tr><td>{_e(_KINDS.get(kind, kind))}</td><td>{verdict}</td>"
                    f"<td>{_e(_yuan(v.get('headroom_fen')))}</td>"
                    f"<td>{_reasons(_list(v.get('reasons')))}</td></tr>")
    return (_heading("资金拨付资格", "Funding eligibility")
            + "<table><thead><tr><th>资金 Funds</th><th>结论 Verdict</th>"
            "<th>可拨余额 Headroom</th><th>原因 Reasons (article)</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def _obligations(bundle: Mapping[str, Any]) -> str:
    rows = []
    for value in _list(_state(bundle, "obligations")):
        o = _dict(value)
        status = str(o.get("status", ""))
        css = " class=\"no\"" if status == "overdue" else ""
        missing = (f" ({_e(o.get('missing_year'))})" if o.get("missing_year") is not None
                   else "")
        rows.append(f"<tr><td><span class=\"tag\">{_e(o.get('article'))}</span></td>"
                    f"<td>{_e(o.get('detail'))}<br><span class=\"mono\">{_e(o.get('rule'))}"
                    f"</span></td><td>{_e(o.get('due') or '—')}</td>"
                    f"<td{css}>{_e(_STATUSES.get(status, status))}{missing}</td>"
                    f"<td>{_e(o.get('met_by') or '')}</td></tr>")
    if not rows:
        rows.append("<tr><td colspan=\"5\">无 none</td></tr>")
    return (_heading("履约义务", "Obligations")
            + "<table><thead><tr><th>条款 Article</th><th>义务 Obligation</th>"
            "<th>期限 Due</th><th>状态 Status</th><th>履行 Met by</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def _how_to_verify(bundle: Mapping[str, Any]) -> str:
    log_key = _e(bundle.get("log_key"))
    return (_heading("如何验证", "How to verify")
            + "<p>离线验证（无需数据库或网络）Offline, with no database or network:</p>"
            f"<pre>ledger verify-bundle bundle.zip --log-key '{log_key}'</pre>"
            "<p class=\"note\">请从账本运营方公布的渠道获取日志公钥，而不是从本证据包中获取。"
            "Obtain the log key from the operator's published channel, not from this bundle."
            "</p><ol>"
            "<li>解析 bundle.json，核对格式与字段。Parse bundle.json strictly.</li>"
            "<li>用日志公钥（及见证人公钥）验证检查点签名（C2SP signed note）。"
            "Verify the checkpoint signature with the log key (and witness keys).</li>"
            "<li>逐条验证包含证明（RFC 9162 §2.1.3），叶哈希 = SHA-256(0x00 ‖ 条目哈希)。"
            "Verify each inclusion proof; leaf hash = SHA-256(0x00 ‖ entry hash).</li>"
            "<li>重新计算条目哈希 = SHA-256(JCS(条目))。"
            "Recompute entry hash = SHA-256(JCS(entry)).</li>"
            "<li>核对哈希链与序号、记录时间不减。Check the hash chain, seq and non-decreasing"
            " recorded_at.</li>"
            "<li>用根密钥验证密钥登记；用记录时有效的密钥验证作者签名。Check registry entries"
            " under the root key and author signatures under keys valid at recorded_at.</li>"
            "<li>核对每份文件的 SHA-256。Check every document's SHA-256.</li>"
            "<li>由条目重新计算投影并比对状态哈希。Recompute the projections from the entries and"
            " compare state hashes.</li></ol>"
            "<p class=\"note\">格式说明见 docs/evidence-format.md。"
            "The format is described in docs/evidence-format.md.</p>")


def render_report(bundle: Mapping[str, Any]) -> str:
    """Return ``report.html`` for a ``bundle.json`` object (see :mod:`ledger.evidence.bundle`)."""
    project = _dict(_state(bundle, "project"))
    evaluation = _dict(bundle.get("evaluation"))
    actors = _actors(bundle)
    title = str(project.get("title") or bundle.get("stream", ""))
    stage = str(project.get("stage", ""))
    known = evaluation.get("as_known_at") or "导出时 at export"
    meta = [
        ("项目编号 Project id", f"<span class=\"mono\">{_e(bundle.get('stream'))}</span>"),
        ("建设单位 Unit", _e(project.get("unit"))),
        ("阶段 Stage", _e(_STAGES.get(stage, stage))),
        ("核定预算 Approved budget", _e(_yuan(project.get("approved_budget_fen")))),
        ("已拨付 Disbursed", _e(_yuan(project.get("disbursed_fen")))),
        ("账本 Ledger", f"<span class=\"mono\">{_e(bundle.get('origin'))}</span>"
                       f" ({_e(bundle.get('profile'))})"),
        ("导出时间 Exported at", f"<span class=\"mono\">{_e(bundle.get('exported_at'))}</span>"),
        ("截至 As known at", f"<span class=\"mono\">{_e(known)}</span>"),
        ("评估日期 Evaluated on", _e(evaluation.get("on"))),
        ("条目数 Entries", _e(len(_list(bundle.get("entries"))))),
    ]
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in meta)
    checkpoint = (_heading("检查点", "Checkpoint")
                  + "<p>所有条目均可通过包含证明追溯到此签名检查点。Every entry is proven included"
                  " in this signed checkpoint.</p>"
                  f"<pre>{_e(bundle.get('checkpoint'))}</pre>"
                  f"<p>日志公钥 Log key: <span class=\"mono hash\">{_e(bundle.get('log_key'))}"
                  "</span></p>")
    return (
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>证据包 Evidence bundle — {_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>项目监管证据包 <span class=\"en\">Project evidence bundle</span></h1>"
        f"<p><strong>{_e(title)}</strong></p><dl class=\"meta\">{dl}</dl>"
        + _timeline(bundle, actors) + _eligibility(bundle) + _obligations(bundle)
        + checkpoint + _how_to_verify(bundle)
        + "<p class=\"note\">本报告仅为便于阅读的呈现；证据以 bundle.json 及所附文件为准。"
        "This report is a rendering for reading; the evidence is bundle.json and the attached"
        " documents.</p></body></html>\n")
