"""What the ``ledger`` CLI shows of the projections: project ids from prefixes, and the replay,
obligations and unit standing as tables (their ``--json`` carries the same, whole)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from ledger.errors import LedgerError, ProjectNotFoundError

if TYPE_CHECKING:
    from ledger.app import Ledger

MIN_PREFIX = 6
_HEX = re.compile(r"[0-9a-f-]+")


class ProjectIdError(LedgerError, LookupError):
    """Raised when a project id or prefix matches no project, or more than one."""


class NotYetRecordedError(LedgerError, LookupError):
    """Raised when a project exists but its first entry was recorded after the time asked."""

    def __init__(self, project: UUID, as_known_at: str, first_recorded_at: str) -> None:
        self.project = project
        self.first_recorded_at = first_recorded_at
        super().__init__(f"project {project} was not yet recorded at {as_known_at} (first"
                         f" entry recorded {first_recorded_at})")


def resolve_project(ledger: Ledger, text: str) -> UUID:
    """The project whose id is ``text`` or starts with it (at least six hex digits, dashes
    optional); an unknown or ambiguous prefix is refused, listing the candidates."""
    wanted = text.strip().lower()
    with_dashes = len(wanted) == 36
    if with_dashes:
        try:
            return UUID(wanted)
        except ValueError:
            pass
    if not _HEX.fullmatch(wanted) or len(wanted.replace("-", "")) < MIN_PREFIX:
        raise ProjectIdError(f"not a project id: {text!r} (give the id or its first"
                             f" {MIN_PREFIX}+ hex digits, as `ledger projects` shows them)")
    registry = ledger.identity.registry_stream
    found = sorted(str(stream) for stream in ledger.log.stream_ids() if stream != registry
                   and (str(stream).startswith(wanted) or stream.hex.startswith(wanted)))
    if not found:
        raise ProjectIdError(f"no project id starts with {text!r} (see `ledger projects`)")
    if len(found) > 1:
        raise ProjectIdError(f"the prefix {text!r} is ambiguous: it matches "
                             + ", ".join(found) + "; give more digits")
    return UUID(found[0])


def require_recorded(ledger: Ledger, project: UUID, as_known_at: str | None) -> None:
    """Refuse, saying when it was first recorded, a project not yet recorded at ``as_known_at``."""
    first = ledger.log.leaf_for(project, 1)
    if first is None:
        raise ProjectNotFoundError(project)
    if as_known_at is not None and first.recorded_at > as_known_at:
        raise NotYetRecordedError(project, as_known_at, first.recorded_at)


def folding_table(*headers: str, **options: Any) -> Table:
    """A table whose cells wrap, never cut (``…``): titles and hashes are shown whole."""
    table = Table(**options)
    for header in headers:
        first = header.split(" ")[0]
        table.add_column(header, overflow="fold", no_wrap=first in _SHORT,
                         min_width=8 if first in _WIDE else None)
    return table


# Columns of short values (ids, dates, articles) kept on one line; the others wrap around them.
_SHORT = {"id", "project"}
_WIDE = {"title", "detail", "reasons"}


def _fen(value: object) -> str:
    return "—" if value is None else f"¥{cast(int, value) / 100:,.2f}"


def _reasons(reasons: Iterable[Mapping[str, Any]]) -> Text:
    text = Text()
    for number, reason in enumerate(reasons):
        if number:
            text.append("\n")
        text.append(f"{reason['article']} {reason['rule']}", style="bold")
        text.append(f": {reason['detail']}")
    return text


def replay_tables(result: Mapping[str, Any]) -> Group:
    """A project replay (``ProjectReplay.to_json()``) as the tables an official reads."""
    views = result["views"]
    row = views["project"]["state"]
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column(overflow="fold")
    for name, value in (("project 项目", f"{row['title']}  ({row['id']})"),
                        ("unit 单位", row["unit"] or "—"),
                        ("kind / stage", f"{row['kind']} / {row['stage']}"),
                        ("approved budget 批复预算", _fen(row["approved_budget_fen"])),
                        ("arranged / contracted / disbursed",
                         f"{_fen(row['arranged_fen'])} / {_fen(row['contracted_fen'])} /"
                         f" {_fen(row['disbursed_fen'])}"),
                        ("as known at 截至", result["as_known_at"] or "now"),
                        ("evaluated on 评价日", result["on"]),
                        ("entries", str(result["entries"]))):
        head.add_row(name, str(value))
    eligibility = folding_table("funds 资金", "eligible", "headroom",
                                "reasons against (article, rule)",
                                title="Eligibility 资金拨付条件 (§4.2)", title_justify="left",
                        expand=True)
    for kind, view in views["eligibility"]["state"].items():
        eligibility.add_row(kind, "✓" if view["eligible"] else "✗", _fen(view["headroom_fen"]),
                            _reasons(view["reasons"]))
    obligations = folding_table("article", "rule", "due", "status", "detail",
                        title="Obligations 义务与期限 (§4.3)", title_justify="left", expand=True)
    for item in views["obligations"]["state"]:
        status = item["status"]
        style = {"overdue": "red", "met_late": "yellow", "met": "green"}.get(status, "")
        obligations.add_row(item["article"], item["rule"], item["due"] or "—",
                            Text(status, style=style), item["detail"])
    trail = folding_table("seq", "event 事项", "effective", "recorded at", "actor", "entry hash",
                  title="Audit trail 审计轨迹 (§4.5)", title_justify="left", expand=True)
    for entry in views["trail"]["state"]:
        trail.add_row(str(entry["seq"]), f"{entry['type']}\n{entry['summary_zh']}",
                      entry["effective"], entry["recorded_at"],
                      f"{entry['actor']} ({entry['role']})", entry["entry_hash"][:16] + "…")
    parts: list[Any] = [head, eligibility, obligations, trail]
    if result.get("flags"):
        flags = folding_table("article", "rule", "detail", title="Flags 标记 (§4.1)",
                      title_justify="left", expand=True)
        for flag in result["flags"]:
            flags.add_row(flag["article"], flag["rule"], flag["detail"])
        parts.append(flags)
    hashes = folding_table("view", "state hash", title="State hashes", title_justify="left")
    for name, view in views.items():
        hashes.add_row(name, view["state_hash"])
    parts.append(hashes)
    return Group(*parts)


def obligations_table(rows: Sequence[Mapping[str, Any]], title: str) -> Table:
    """Obligations across projects (``ledger obligations``)."""
    table = folding_table("project", "title 项目名称", "unit", "article", "rule", "due", "status",
                  title=title, title_justify="left", expand=True)
    for row in rows:
        style = "red" if row["status"] == "overdue" else ""
        table.add_row(str(row["project"])[:8], row["title"], row["unit"] or "—",
                      row["article"], row["rule"], row["due"] or "—",
                      Text(row["status"], style=style))
    return table


def units_table(rows: Sequence[Mapping[str, Any]], standing: bool) -> Table:
    """Units with their projects (and, ``standing``, their Art. 22 standing)."""
    columns = ["unit 单位", "projects 项目", "overdue 逾期"]
    if standing:
        columns += ["may build 可新建", "reasons (Art. 22)"]
    table = folding_table(*columns, expand=True)
    for row in rows:
        cells: list[Any] = [row["unit"], str(row["projects"]), str(row["overdue"])]
        if standing:
            cells += ["✗ barred" if row["barred"] else "✓", _reasons(row["reasons"])]
        table.add_row(*cells)
    return table


def print_wrapped(console: Console, renderable: Any) -> None:
    """Print with cells folded, never cut (titles are shown whole at any width)."""
    console.print(renderable, overflow="fold")
