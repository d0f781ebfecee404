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


def test_verify_reports_any_one_edited_cell(ledger: Ledger, settings: Settings) -> None:
    for n in range(3):  # a few more entries, log leaves, checkpoints and heads map versions
        ledger.register_actor(f"unit-{n}", Role.UNIT, "edu", f"单位 {n}")
    tamper = Tamperer(settings.database_url, ledger.identity.profile)
    runner = CliRunner()
    wrong = _PG_WRONG if tamper.postgres else _WRONG
    cells = tamper.cells()
    assert {table for table, *_ in cells} >= {"log_leaves", "log_nodes", "log_checkpoints",
                                              "ledger_meta", "head_nodes"}
    problems = []
    for table, column, key, values in cells:
        for value in wrong:
            was = tamper.set_cell(table, column, key, values, value)
            if was is False:
                continue  # the database refused it (a key's uniqueness, a NOT NULL key)
            try:
                problem = _outcome(runner, settings.database_url)
            finally:
                tamper.restore_cell(table, column, key, values, value, was)
            if problem is not None:
                problems.append(f"{table}.{column} = {value!r:.20}: {problem}")
    assert not problems, "\n".join(problems)
    assert _outcome(runner, settings.database_url) is None


def test_a_filing_on_a_database_with_one_edited_cell_is_recorded_or_refused_by_name(
        ledger: Ledger, settings: Settings) -> None:
    ledger.register_actor("unit-a", Role.UNIT, "edu", "单位 甲")
    payload = EXAMPLES["ApplicationFiled"]
    ledger.file("unit-a", "ApplicationFiled", payload)
    tamper = Tamperer(settings.database_url, ledger.identity.profile)
    wrong = _PG_WRONG if tamper.postgres else _WRONG
    problems = []
    for table, column, key, values in tamper.cells():
        for value in wrong:
            was = tamper.set_cell(table, column, key, values, value)
            if was is False:
                continue
            try:
                opened = Ledger(settings)
                try:
                    opened.file("unit-a", "ApplicationFiled", payload)
                finally:
                    opened.close()
            except LedgerError:
                pass  # refused, and named
            except Exception as exc:  # what this test looks for
                problems.append(f"{table}.{column} = {value!r:.20}: {type(exc).__name__}: {exc}")
            finally:
                tamper.restore_cell(table, column, key, values, value, was)
    assert not problems, "\n".join(problems)
