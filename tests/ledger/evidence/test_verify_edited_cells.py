"""``ledger verify``, and a filing, against one edited cell at a time, in every column of every
table.

The operator this plays has the database and nothing else. Whatever they write into one cell,
``ledger verify --json`` ends in a report (exit 0 or 1, JSON on stdout) or in a clear error
(exit 2, ``error: ...``), never in a traceback; and a filing either is recorded or is refused
with a named :class:`LedgerError`. SQLite keeps any type in any column, so there
each cell takes a value of every wrong type; PostgreSQL types its columns, so there each cell
takes NULL (its NOT NULL dropped first, as an operator can).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tampering import Tamperer
from typer.testing import CliRunner

from api.cli import app as cli_app
from ledger.app import Ledger
from ledger.errors import LedgerError
from ledger.measures.catalogue import EXAMPLES
from ledger.measures.roles import Role
from ledger.settings import Settings

_WRONG: tuple[Any, ...] = (None, b"", "", -1, 2**62, 1.5, "x" * 10, b"\x00" * 40)
_PG_WRONG: tuple[Any, ...] = (None,)


def _outcome(runner: CliRunner, url: str) -> str | None:
    """None if ``ledger verify --json`` ended as it should; else what went wrong."""
    result = runner.invoke(cli_app, ["verify", "--json", "--workers", "1"],
                           env={"LEDGER_DATABASE_URL": url})
    if result.exit_code == 2 and result.output.startswith("error: "):
        return None
    if result.exit_code in (0, 1) and (result.exception is None
                                       or isinstance(result.exception, SystemExit)):
        try:
            report = json.loads(result.stdout)
        except ValueError:
            return f"exit {result.exit_code} without a JSON report: {result.output[-200:]!r}"
        return None if isinstance(report.get("ok"), bool) else "a report without ok"
    exc = result.exception
    return f"exit {result.exit_code}: {type(exc).__name__}: {exc}" if exc else result.output


def _edits(tamper: Tamperer, wrong: tuple[Any, ...]) -> Iterator[str]:
    """Each cell of the database edited in turn to each value of ``wrong`` (restored after);
    yields where, as ``table.column = value``. Values the database refuses (a key's
    uniqueness, SQLite's NOT NULL) are skipped."""
    for table, column, key, values in tamper.cells():
        for value in wrong:
            was = tamper.set_cell(table, column, key, values, value)
            if was is False:
                continue
            try:
                yield f"{table}.{column} = {value!r:.20}"
            finally:
                tamper.restore_cell(table, column, key, values, value, was)


def test_verify_reports_any_one_edited_cell(ledger: Ledger, settings: Settings) -> None:
    for n in range(3):  # a few more entries, log leaves, checkpoints and heads map versions
        ledger.register_actor(f"unit-{n}", Role.UNIT, "edu", f"单位 {n}")
    tamper = Tamperer(settings.database_url, ledger.identity.profile)
    assert {table for table, *_ in tamper.cells()} >= {
        "log_leaves", "log_nodes", "log_checkpoints", "ledger_meta", "head_nodes"}
    runner = CliRunner()
    problems = []
    for where in _edits(tamper, _PG_WRONG if tamper.postgres else _WRONG):
        problem = _outcome(runner, settings.database_url)
        if problem is not None:
            problems.append(f"{where}: {problem}")
    assert not problems, "\n".join(problems)
    assert _outcome(runner, settings.database_url) is None


def test_a_filing_on_a_database_with_one_edited_cell_is_recorded_or_refused_by_name(
        ledger: Ledger, settings: Settings) -> None:
    ledger.register_actor("unit-a", Role.UNIT, "edu", "单位 甲")
    payload = EXAMPLES["ApplicationFiled"]
    ledger.file("unit-a", "ApplicationFiled", payload)
    tamper = Tamperer(settings.database_url, ledger.identity.profile)
    problems = []
    for where in _edits(tamper, _PG_WRONG if tamper.postgres else _WRONG):
        try:
            opened = Ledger(settings)
            try:
                opened.file("unit-a", "ApplicationFiled", payload)
            finally:
                opened.close()
        except LedgerError:
            pass  # refused, and named
        except Exception as exc:  # what this test looks for
            problems.append(f"{where}: {type(exc).__name__}: {exc}")
    assert not problems, "\n".join(problems)


def test_the_read_commands_name_one_edited_cell(ledger: Ledger, settings: Settings,
                                                tmp_path: Path) -> None:
    """``ledger rebuild``, ``replay``, ``projects`` and ``export``: a report, or a named refusal
    (exit 1 or 2), never a traceback."""
    ledger.register_actor("unit-a", Role.UNIT, "edu", "单位 甲")
    project = ledger.file("unit-a", "ApplicationFiled", EXAMPLES["ApplicationFiled"]).stream
    tamper = Tamperer(settings.database_url, ledger.identity.profile)
    commands = (["rebuild", "--json"], ["replay", "--project", str(project)],
                ["projects", "--json"],
                ["export", "--project", str(project), "-o", str(tmp_path / "case.zip")])
    runner = CliRunner()
    problems = []
    for where in _edits(tamper, _PG_WRONG if tamper.postgres else (None, "x" * 10, 1.5)):
        for command in commands:
            result = runner.invoke(cli_app, command,
                                   env={"LEDGER_DATABASE_URL": settings.database_url})
            if not isinstance(result.exception, SystemExit | None):
                problems.append(f"{command[0]}: {where}: {type(result.exception).__name__}:"
                                f" {result.exception}")
    assert not problems, "\n".join(problems)


def test_a_text_cell_that_is_not_utf8_is_reported_not_an_error(tmp_path: Path) -> None:
    """SQLite keeps any bytes in a TEXT cell (PostgreSQL refuses them), and its driver refuses
    to read them as it refuses a locked database: ``ledger verify`` reports the edit as a
    failure of the store (exit 1), not as "database error" (exit 2)."""
    url = f"sqlite:///{tmp_path}/l.db"
    ledger = Ledger(Settings(database_url=url, environment="test"))
    try:
        ledger.initialise()
        ledger.register_actor("unit-a", Role.UNIT, "edu", "单位 甲")
    finally:
        ledger.close()
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE log_leaves SET recorded_at = CAST(X'C328' AS TEXT)"
                     " WHERE leaf_index = 1")
    result = CliRunner().invoke(cli_app, ["verify", "--json"], env={
        "LEDGER_DATABASE_URL": url, "LEDGER_ENVIRONMENT": "test"})
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["first_failure"]["check"] == "store"
    assert "not UTF-8" in report["first_failure"]["message"]
