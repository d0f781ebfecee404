"""``ledger import``: the project library from a spreadsheet (docs/import.md).

``ledger import --template 项目库导入模板.xlsx`` writes the template; ``ledger import FILE
[--dry-run] [--json]`` reports per row what is (or would be) filed, or why not with the rule and
article in Chinese. Exit codes: 0 every row filed, recorded before, or a duplicate; 1 some row
refused or held; 2 a usage, file or configuration error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ledger.errors import LedgerError

if TYPE_CHECKING:
    from ledger.app import Ledger
    from ledger.service.importer import ImportReport

console = Console()
errors = Console(stderr=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")


def _fail(message: str, code: int = 2) -> typer.Exit:
    errors.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True, highlight=False)
    return typer.Exit(code)


@contextmanager
def open_configured() -> Iterator[Ledger]:
    """The ledger of ``LEDGER_DATABASE_URL``; a ledger error is one line and exit 2."""
    from ledger.app import Ledger  # noqa: PLC0415
    from ledger.settings import Settings  # noqa: PLC0415

    try:
        ledger = Ledger(Settings())
    except (LedgerError, ValueError) as exc:
        raise _fail(str(exc)) from None
    try:
        ledger.identity  # noqa: B018  (fails early and plainly on an uninitialised database)
        yield ledger
    except LedgerError as exc:
        raise _fail(str(exc)) from None
    finally:
        ledger.close()


def import_command(
    file: Annotated[Path | None, typer.Argument(
        help="The filled-in spreadsheet (.xlsx, or one sheet as .csv).")] = None,
    *,
    template: Annotated[Path | None, typer.Option(
        "--template", metavar="PATH", help="Write the import template here and exit.")] = None,
    examples: Annotated[bool, typer.Option(
        "--examples", help="With --template: fill one example row per sheet.")] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Report what would be filed, per row; write nothing.")] = False,
    sheet: Annotated[str | None, typer.Option(
        metavar="NAME", help="For a .csv: the template sheet it holds (default: its file"
                             " name, e.g. 合同备案.csv).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Import the project library from a spreadsheet (项目库导入), or write its template."""
    from ledger.service.importer import Importer, write_template  # noqa: PLC0415

    if template is not None:
        write_template(template, examples=examples)
        if as_json:
            _print_json({"template": str(template)})
        else:
            console.print(f"wrote the import template {template}")
        return
    if file is None:
        raise _fail("name the spreadsheet to import, or --template PATH to write the template")
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise _fail(f"cannot read {file}: {exc.strerror}") from None
    with open_configured() as ledger:
        try:
            if as_json or not console.is_terminal:
                report = Importer(ledger).run(data, file.name, dry_run=dry_run, sheet=sheet)
            else:
                report = _with_progress(ledger, data, file.name, dry_run, sheet)
        except LedgerError as exc:
            raise _fail(str(exc)) from None
    if as_json:
        _print_json(report.to_json())
    else:
        _print_report(report)
    if report.counts()["refused"] or report.counts()["held"]:
        raise typer.Exit(1)


def _with_progress(ledger: Ledger, data: bytes, name: str, dry_run: bool,
                   sheet: str | None) -> ImportReport:
    from rich.progress import BarColumn, Progress, TextColumn  # noqa: PLC0415

    from ledger.service.importer import Importer  # noqa: PLC0415

    labels = {"check": "checking rows 校验", "file": "filing 登记"}
    with Progress(TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total} rows"), console=console,
                  transient=True) as bar:
        tasks: dict[str, Any] = {}

        def tell(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(labels[phase], total=total)
            bar.update(tasks[phase], completed=done, total=total)

        return Importer(ledger).run(data, name, dry_run=dry_run, sheet=sheet, progress=tell)


def _print_report(report: ImportReport) -> None:
    from ledger.service.importer import STATUS_ZH  # noqa: PLC0415

    counts = report.counts()
    title = f"{report.source} ({'dry run 试运行，未写入' if report.dry_run else '已导入'})"
    summary = Table("status", "状态", "rows", title=title)
    for status, count in counts.items():
        if count:
            summary.add_row(status, STATUS_ZH[status], str(count))
    console.print(summary)
    projects = report.projects()
    console.print("projects 项目: " + ", ".join(f"{k} {v}" for k, v in sorted(projects.items())))
    attested = [a for a in report.attestations if a.status != "held"]
    if attested:
        console.print(f"history attestations 历史记录确认（综合管理办公室）: {len(attested)} "
                      f"projects, {sum(a.entries for a in attested)} entries dated as received")
    if report.unknown_sheets:
        console.print("[yellow]sheets not in the template (not read):[/yellow] "
                      + "、".join(report.unknown_sheets))
    shown = [r for r in report.rows if r.status in ("refused", "held", "duplicate") or r.flags]
    if not shown:
        return
    table = Table("row 行", "project 项目", "status", "rule", "article 条款", "why 原因",
                  expand=True)
    for row in shown:
        problem = row.problems[0] if row.problems else None
        why = problem.message_zh if problem else "已记录并标记：" + "、".join(row.flags)
        table.add_row(str(row.ref), row.project or "", STATUS_ZH[row.status],
                      problem.rule if problem else "、".join(row.flags),
                      problem.article if problem else "", why)
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``import`` to the ``ledger`` app."""
    app.command("import")(import_command)


__all__ = ["import_command", "open_configured", "register"]
