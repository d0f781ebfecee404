"""Which obligations a unit should be reminded of today, and the reminder's words (pure).

An open obligation with a due date (§4.3 of docs/design.md) passes through three stages: *due
soon* (``due_soon``: at most N working days left, N = ``LEDGER_REMIND_DAYS``, default 3), *due
today* (``due_today``) and *overdue* (``overdue``). The owner hears once per obligation and
stage; the reminder names the project, the obligation, the article, the due date (Beijing) and
links to the project page. Working days are the ledger's calendar's (statutory holidays and
weekends worked in lieu), so a deadline across National Day is reminded when it truly nears.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Literal

from ledger.measures.calendar import CalendarYearMissingError, WorkingCalendar
from ledger.measures.importing import article_zh
from ledger.measures.rules import Obligation

Stage = Literal["due_soon", "due_today", "overdue"]
STAGES: tuple[Stage, ...] = ("due_soon", "due_today", "overdue")
STAGE_ZH: dict[Stage, str] = {"due_soon": "即将到期", "due_today": "今日到期", "overdue": "已逾期"}

OBLIGATION_ZH: dict[str, str] = {
    "application_window": "立项申请（每年10月提报）",
    "contract_filing": "合同备案（签订后5个工作日内）",
    "annual_report": "年度建设进度和预算执行情况报告（每年12月31日前）",
    "acceptance": "竣工验收（完成建设任务后3个月内）",
    "catalogue": "目录编制及数据归集（初步验收后10个工作日内）",
    "self_evaluation": "自评价报告（验收后12至24个月内）",
    "rectification": "整改情况报告（限期整改）",
}
"""The obligations in the words of the Measures (rule id → Chinese)."""


def stage_of(obligation: Obligation, today: date, calendar: WorkingCalendar,
             days: int) -> tuple[Stage, int] | None:
    """The obligation's reminder stage on ``today`` and the working days left (negative:
    calendar days overdue), or None when nothing is to be said (met, not yet near, no date)."""
    if obligation.status not in ("open", "overdue") or obligation.due is None:
        return None
    due = date.fromisoformat(obligation.due)
    if today > due:
        return "overdue", -(today - due).days
    if today == due:
        return "due_today", 0
    try:
        left = calendar.working_days_between(today, due)
    except CalendarYearMissingError:
        left = (due - today).days  # a year not loaded: calendar days, never fewer
    return ("due_soon", left) if left <= days else None


def obligation_key(project: str, obligation: Obligation) -> str:
    """A stable id of one obligation of one project (the reminder log's key): its rule, what it
    concerns and the entries that created it — not its status or due date, which may move."""
    text = "\n".join((project, obligation.rule, obligation.detail, *obligation.caused_by))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Reminder:
    """What one reminder says."""

    subject: str
    text: str
    markdown: str


def compose(*, title: str, unit_name: str, obligation: Obligation, stage: Stage, left: int,
            link: str) -> Reminder:
    """The reminder of ``obligation`` of project ``title`` at ``stage``, in Chinese."""
    what = OBLIGATION_ZH.get(obligation.rule, obligation.rule)
    article = article_zh(obligation.article)
    due = f"{obligation.due}（北京时间）"
    when = {"due_soon": f"将于 {due} 到期，还有 {left} 个工作日",
            "due_today": f"今天（{due}）到期",
            "overdue": f"已于 {due} 到期，已逾期 {-left} 天"}[stage]
    subject = f"【{STAGE_ZH[stage]}】{title}：{what}"
    lines = (f"{unit_name}：",
             f"项目“{title}”的{what}（《信息化项目管理办法》{article}）{when}。",
             f"事项：{obligation.detail}",
             "请及时办理。" if stage != "overdue" else "请尽快办理并说明逾期原因。",
             f"项目页面：{link}")
    text = "\n".join(lines) + "\n\n—— 信息化项目监管审计账本\n"
    markdown = (f"### {subject}\n\n" + "\n\n".join(lines[:-1])
                + f"\n\n[打开项目页面]({link})\n")
    return Reminder(subject, text, markdown)


__all__ = ["OBLIGATION_ZH", "STAGES", "STAGE_ZH", "Reminder", "Stage", "compose",
           "obligation_key", "stage_of"]
