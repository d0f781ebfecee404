"""The ``ledger`` command line (docs/design.md §6): typer commands, rich output, ``--json``
everywhere.

Exit codes: 0 done (for ``verify``: every check held); 1 a check failed or a submission was
refused; 2 a usage, configuration or connection error, told in one line that names the cause
and the fix (``ledger --debug …`` adds the traceback). Heavy modules are imported inside the
commands, so ``ledger --help`` starts fast (:mod:`api.cli_lazy`).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.console import Console
from rich.markup import escape

from api import cli_keys
from api.cli_errors import Flags, errors, fail, open_ledger, reported
from api.cli_lazy import LazyGroup, lazy_commands, use_plain_help_types
from api.cli_views import folding_table
from ledger.measures.roles import Role

if TYPE_CHECKING:
    from rich.progress import Progress

    from ledger.app import Ledger
    from ledger.evidence.verify import VerifyReport

use_plain_help_types()
# Commands other modules define, imported only when they run (their one-line help is here so
# that `ledger --help` imports none of them; tests/api/test_cli.py keeps the two in step).
lazy_commands("api.cli_evidence", {
    "export": "Export a project's signed evidence bundle (entries, proofs, documents,"
              " projections).",
    "verify-bundle": "Verify an evidence bundle offline (no database, no network); exit 0 only"
                     " if all holds.",
    "witness": "Witness the log's checkpoints (the Audit Branch).",
    "witness-keygen": "Create a cosignature/v1 witness key file (kept by the witness) and"
                      " print its verifier key.",
    "witness-register": "Register a witness's public key for an audit actor (admin; the server"
                        " never holds it).",
})
lazy_commands("api.cli_import", {  # docs/import.md
    "import": "Import the project library from a spreadsheet (项目库导入), or write its template.",
})
lazy_commands("api.cli_remind", {  # docs/import.md, Reminders
    "remind": "Send the reminders due today (due soon, due today, overdue), each once.",
    "channels": "Where each unit hears its reminders (admin).",
    "feeds": "Calendar feeds of units' obligations (admin).",
})

app = typer.Typer(help="The project-supervision audit ledger (项目监管审计账本).\n\n"
                       "Configuration comes from LEDGER_* environment variables, first of all"
                       " LEDGER_DATABASE_URL (sqlite:///PATH or postgresql://USER@HOST/DB;"
                       " default sqlite:///./var/ledger.db): docs/operations.md.",
                  cls=LazyGroup, no_args_is_help=True, pretty_exceptions_enable=False,
                  context_settings={"help_option_names": ["-h", "--help"]})
actors_app = typer.Typer(help="Register actors and issue their tokens (admin).",
                         no_args_is_help=True)
keys_app = typer.Typer(help="Generate, rotate, revoke and list keys (admin).",
                       no_args_is_help=True)
app.add_typer(actors_app, name="actors")
app.add_typer(keys_app, name="keys")
cli_keys.register(keys_app)  # master-key, reseal, hsm-check (docs/keys.md)
calendar_app = typer.Typer(help="The working-day calendar (法定节假日安排).", no_args_is_help=True)
app.add_typer(calendar_app, name="calendar")

console = Console()

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
AsKnownAt = Annotated[str | None, typer.Option(
    metavar="TIME", help="Only entries recorded at or before this RFC 3339 time (default: all).")]
OnDate = Annotated[str | None, typer.Option(
    metavar="DATE", help="Evaluation date YYYY-MM-DD (default: today in Beijing).")]


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version  # noqa: PLC0415

        sys.stdout.write(f"ledger (audit-ledger) {version('audit-ledger')}\n")
        raise typer.Exit


@app.callback()
def _options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
    debug: Annotated[bool, typer.Option(
        "--debug", help="Show the traceback of an error, not only its one-line message.")] = False,
) -> None:
    """The project-supervision audit ledger (项目监管审计账本)."""
    Flags.debug = debug


@contextmanager
def _ledger(*, initialised: bool = True) -> Iterator[Ledger]:
    """Open the configured ledger (:func:`api.cli_errors.open_ledger`)."""
    with open_ledger(initialised=initialised) as ledger:
        yield ledger


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")


def _progress(what: str) -> Progress:
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn(what), BarColumn(), TextColumn("{task.completed}/{task.total}"
                    " entries"), TimeRemainingColumn(), console=console, transient=True)


def _showing_progress(as_json: bool) -> bool:
    return not as_json and console.is_terminal


@app.command()
def init(origin: Annotated[str, typer.Option(
             envvar="LEDGER_ORIGIN", help="Log origin (the checkpoints' first line).")]
         = "ledger.gaoxin.example/projects",
         profile: Annotated[str, typer.Option(
             envvar="LEDGER_PROFILE", metavar="intl|gm",
             help="intl (SHA-256 + Ed25519) or gm (SM3 + SM2: docs/gm-profile.md).")] = "intl",
         as_json: JsonFlag = False) -> None:
    """Create the tables and the ledger's identity (idempotent; prints the keys to publish)."""
    import base64  # noqa: PLC0415

    from api.cli_errors import redacted  # noqa: PLC0415
    with _ledger(initialised=False) as ledger:
        # Also records (or, on an older database, migrates to) this release's schema version.
        identity = ledger.initialise(origin=origin, profile=profile)
        info = {"origin": identity.origin, "profile": identity.profile.name,
                "log_key": identity.log_key.encode(), "root_key_id": identity.root_key_id,
                "root_public_key": base64.b64encode(identity.root_public_key).decode(),
                "database": redacted(ledger.settings.database_url)}
    if as_json:
        _print_json(info)
        return
    for name, value in info.items():
        console.print(f"[bold]{name}[/bold]: {value}", soft_wrap=True, highlight=False)
    console.print("Pin the root key with LEDGER_ROOT_KEY=<root_public_key>.")


@app.command()
def serve(host: Annotated[str, typer.Option(
              envvar="LEDGER_HOST", help="Address to bind (0.0.0.0: every interface; put a TLS"
                                         " proxy in front: docs/deploy.md).")] = "127.0.0.1",
          port: Annotated[int, typer.Option(envvar="LEDGER_PORT", help="TCP port.")] = 8000,
          proxy: Annotated[str | None, typer.Option(
              "--forwarded-allow-ips", envvar="FORWARDED_ALLOW_IPS", metavar="IPS",
              help="Proxies whose X-Forwarded-For/-Proto headers are trusted (comma-separated;"
                   " default: only 127.0.0.1).")] = None) -> None:
    """Run the HTTP API and the web pages (uvicorn), after checking the database."""
    from api.cli_errors import check_append_privileges  # noqa: PLC0415
    from api.serving import refuse_unready  # noqa: PLC0415

    with _ledger() as ledger:  # one line naming what is wrong, before uvicorn starts
        refuse_unready(ledger)  # the log key held; no placeholder in production; migrated
        check_append_privileges(ledger.settings.database_url)  # grants.sql after a migrate
    import uvicorn  # noqa: PLC0415 - only this command needs the server

    uvicorn.run("api.app:create_app", factory=True, host=host, port=port, log_level="info",
                proxy_headers=True, forwarded_allow_ips=proxy)


@app.command()
def migrate(check: Annotated[bool, typer.Option(
                "--check", help="Only report; exit 1 if migrations are pending.")] = False,
            as_json: JsonFlag = False) -> None:
    """Apply the pending numbered schema migrations (after an upgrade; back up first)."""
    from ledger.store import migrations  # noqa: PLC0415

    with _ledger() as ledger:
        before = migrations.schema_version(ledger.log)
        todo = migrations.pending(ledger.log)
        if not check:
            migrations.migrate(ledger.log)
        after = migrations.schema_version(ledger.log)
    steps = [{"number": step.number, "name": step.name} for step in todo]
    if as_json:
        _print_json({"from": before, "to": after, "release": migrations.SCHEMA_VERSION,
                     "pending" if check else "applied": steps})
    elif check:
        console.print(f"schema version {before}; this release runs on"
                      f" {migrations.SCHEMA_VERSION}; {len(todo)} migration(s) pending")
    else:
        for step in todo:
            console.print(f"applied {step.number}: {step.name}")
        console.print(f"schema version {after} (was {before})")
    if check and todo:
        raise typer.Exit(1)


@app.command()
def demo(as_json: JsonFlag = False) -> None:
    """Load the demo data set (2023–2026, 17 projects, 7 units) into an EMPTY database.

    It initialises the ledger itself with a clock set in the past, so it refuses a database
    that already holds a ledger. The filings it attempts that the ledger refuses, on purpose,
    are listed (they are not in the log).
    """
    import dataclasses  # noqa: PLC0415

    from api.cli_errors import check_database, load_settings  # noqa: PLC0415

    with reported():
        settings = load_settings()
        import os  # noqa: PLC0415

        check_database(settings.database_url, from_env="LEDGER_DATABASE_URL" in os.environ,
                       must_exist=False)
        from ledger.demo import ACTORS, load_demo  # noqa: PLC0415

        result = load_demo(settings)  # initialises the ledger: at this release's schema version
    if as_json:
        _print_json({"projects": {k: str(v) for k, v in result.projects.items()},
                     "units": dict(result.units),
                     "actors": [actor for actor, *_ in ACTORS],
                     "refusals": [dataclasses.asdict(r) for r in result.refusals],
                     "entries": result.entries})
        return
    console.print(f"loaded {len(result.projects)} demo projects of {len(result.units)} units"
                  f" ({result.entries} entries)")
    table = folding_table("project", "actor", "filing", "article", "rule",
                  title=f"{len(result.refusals)} filings the ledger refused (not recorded)",
                  title_justify="left", expand=True)
    for refusal in result.refusals:
        table.add_row(refusal.project or "(new application)", refusal.actor,
                      refusal.event_type, refusal.article, refusal.rule)
    console.print(table, overflow="fold")


@app.command()
def projects(as_json: JsonFlag = False, on: OnDate = None,
             as_known_at: AsKnownAt = None) -> None:
    """The project library (项目库), from the read model (or replayed as known at a time)."""
    from projections import views  # noqa: PLC0415
    from projections.replay import replay_library  # noqa: PLC0415
    from projections.runner import Library  # noqa: PLC0415

    with _ledger() as ledger:
        day = _date(on) or ledger.today()
        if as_known_at is not None:
            state = replay_library(ledger, as_known_at=as_known_at)
        else:
            library = Library(ledger)
            library.catch_up()
            state = library.state
        rows = views.library_view(state, day, ledger.calendar)
        digest = views.state_hash(rows, ledger.identity.profile)
    if as_json:
        _print_json({"on": day.isoformat(), "as_known_at": as_known_at, "state_hash": digest,
                     "projects": rows})
        return
    table = folding_table("id", "title 项目名称", "unit 单位", "kind", "stage",
                          "eligible 建设/运维", "overdue", expand=True)
    for row in cast(list[dict[str, Any]], rows):
        eligible = row["eligible"]
        table.add_row(row["id"][:8], row["title"], str(row["unit"]), row["kind"], row["stage"],
                      f"{_yes(eligible['construction'])}/{_yes(eligible['operation_maintenance'])}",
                      str(row["overdue"]))
    console.print(table, overflow="fold")
    console.print(f"state hash {digest} (on {day})", soft_wrap=True)


def _yes(flag: bool) -> str:
    return "✓" if flag else "✗"


def _date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise fail(f"expected a date YYYY-MM-DD, got {text!r}") from None


@app.command()
def replay(project: Annotated[str, typer.Option(
               "--project", metavar="ID", help="Project id, or its first 6+ hex digits.")],
           as_known_at: AsKnownAt = None, on: OnDate = None, as_json: JsonFlag = False) -> None:
    """One project replayed exactly as known at a time, on a date.

    Eligibility with the articles behind every "no", obligations, the audit trail, flags and
    each view's state hash (all of it, whole, with --json).
    """
    from api.cli_views import (  # noqa: PLC0415
        replay_tables,
        require_recorded,
        resolve_project,
    )
    from projections.replay import replay_project  # noqa: PLC0415

    with _ledger() as ledger:
        project_id = resolve_project(ledger, project)
        require_recorded(ledger, project_id, as_known_at)
        result = replay_project(ledger, project_id, as_known_at=as_known_at,
                                on=_date(on)).to_json()
    if as_json:
        _print_json(result)
        return
    console.print(replay_tables(result), overflow="fold")


@app.command()
def obligations(overdue: Annotated[bool, typer.Option(
                    "--overdue", help="Only overdue obligations of projects not terminated.")]
                = False,
                unit: Annotated[str | None, typer.Option(
                    metavar="UNIT", help="Only this unit's projects (unit id).")] = None,
                on: OnDate = None, as_known_at: AsKnownAt = None,
                as_json: JsonFlag = False) -> None:
    """Deadlines of every project (义务与期限, docs/design.md §4.3): due, status, article."""
    from ledger.measures import rules  # noqa: PLC0415

    with _ledger() as ledger:
        day = _date(on) or ledger.today()
        state = _library_state(ledger, as_known_at)
        found: list[dict[str, Any]] = []
        for project_id, facts in sorted(state.projects.items()):
            owner = state.unit_of(facts)
            if unit is not None and owner != unit:
                continue
            if overdue and facts.terminated is not None:
                continue  # a terminated project's deadlines no longer call for action
            for item in rules.obligations(facts, day, ledger.calendar):
                if overdue and item.status != "overdue":
                    continue
                found.append({"project": project_id, "title": facts.title, "unit": owner,
                              **item.to_json()})
    if as_json:
        _print_json({"on": day.isoformat(), "as_known_at": as_known_at, "overdue": overdue,
                     "unit": unit, "obligations": found})
        return
    from api.cli_views import obligations_table  # noqa: PLC0415

    title = f"{len(found)} {'overdue ' if overdue else ''}obligations on {day}"
    console.print(obligations_table(found, title), overflow="fold")


@app.command()
def units(standing: Annotated[bool, typer.Option(
              "--standing", help="Also whether each unit may build new, altered or expanded"
                                 " systems (Art. 22), and why not.")] = False,
          on: OnDate = None, as_known_at: AsKnownAt = None, as_json: JsonFlag = False) -> None:
    """The construction units (项目建设单位) with their projects and overdue obligations."""
    from ledger.measures import rules  # noqa: PLC0415

    with _ledger() as ledger:
        day = _date(on) or ledger.today()
        state = _library_state(ledger, as_known_at)
        rows: list[dict[str, Any]] = []
        for name in state.units():
            owned = state.projects_of(name)
            row: dict[str, Any] = {
                "unit": name, "projects": len(owned),
                "overdue": sum(1 for facts in owned if facts.terminated is None
                               for item in rules.obligations(facts, day, ledger.calendar)
                               if item.status == "overdue")}
            if standing:
                reasons = rules.unit_standing(name, owned)
                row |= {"barred": bool(reasons), "reasons": [r.to_json() for r in reasons]}
            rows.append(row)
    if as_json:
        _print_json({"on": day.isoformat(), "as_known_at": as_known_at, "units": rows})
        return
    from api.cli_views import units_table  # noqa: PLC0415

    console.print(units_table(rows, standing), overflow="fold")


def _library_state(ledger: Ledger, as_known_at: str | None) -> Any:
    from projections.replay import replay_library  # noqa: PLC0415
    from projections.runner import Library  # noqa: PLC0415

    if as_known_at is not None:
        return replay_library(ledger, as_known_at=as_known_at)
    library = Library(ledger)
    library.catch_up()
    return library.state


@app.command("catch-up")
def catch_up(follow: Annotated[bool, typer.Option(
                 "--follow", help="Keep going: catch up again every --interval seconds (a"
                                  " projection worker: docs/deploy.md).")] = False,
             interval: Annotated[float, typer.Option(
                 min=0.1, help="Seconds between catch-ups with --follow.")] = 2.0) -> None:
    """Bring the read models up to the log (the servers' reads then start from there)."""
    import time  # noqa: PLC0415

    from projections.runner import Library  # noqa: PLC0415

    with _ledger() as ledger:
        library = Library(ledger)
        while True:
            done = library.catch_up()
            if done or not follow:
                console.print(f"read model at entry {library.projection.position or 0}"
                              f" ({done} new)", highlight=False)
            if not follow:
                return
            time.sleep(interval)


@app.command()
def rebuild(as_json: JsonFlag = False,
            check: Annotated[bool, typer.Option(
                "--check", help="Change nothing: fold the log again in memory and compare it"
                                " with the stored read model (exit 1 naming what differs).")
            ] = False) -> None:
    """Rebuild the read models from zero (verifying every entry against its leaf)."""
    from projections import views  # noqa: PLC0415
    from projections.runner import Library  # noqa: PLC0415

    if check:
        _check_read_model(as_json)
        return
    with _ledger() as ledger:
        library = Library(ledger, load=False)  # a row that no longer reads is replaced too
        if not _showing_progress(as_json):
            state = library.rebuild()
        else:
            with _progress("rebuilding") as bar:
                task = bar.add_task("rebuild", total=ledger.log.tree_size())
                state = library.rebuild(lambda done, total: bar.update(
                    task, completed=done, total=total))
        digest = views.state_hash(views.library_view(state, ledger.today(), ledger.calendar),
                                  ledger.identity.profile)
    if as_json:
        _print_json({"entries": state.entries, "projects": len(state.projects),
                     "library_state_hash": digest})
    else:
        console.print(f"rebuilt: {state.entries} entries, {len(state.projects)} projects;"
                      f" library state hash {digest}", soft_wrap=True)


def _check_read_model(as_json: bool) -> None:
    """``ledger rebuild --check``: the stored read model against the log folded again."""
    from ledger.errors import StoredValueError  # noqa: PLC0415
    from projections.check import ReadModelDifference, ReadModelReport  # noqa: PLC0415
    from projections.runner import Library  # noqa: PLC0415

    with _ledger() as ledger:
        try:
            report = Library(ledger, load=False).check()
        except StoredValueError as exc:  # a row that does not read: a difference too
            report = ReadModelReport(None, 0, 0, (ReadModelDifference("project", "", exc.what),))
    if as_json:
        _print_json({"ok": report.ok, "position": report.position, "entries": report.entries,
                     "projects": report.projects,
                     "differences": [dataclasses.asdict(d) for d in report.differences[:1000]]})
    elif report.ok:
        console.print(f"[green]OK[/green]: the read model is what the log folds to: "
                      f"{report.entries} entries, {report.projects} projects (notification"
                      f" {report.position or 0})", soft_wrap=True)
    else:
        errors.print(f"[red]FAILED[/red]: the read model differs from the log in"
                     f" {len(report.differences)} place(s) (edited in the database?);"
                     " `ledger rebuild` puts it right")
        for difference in report.differences[:20]:
            errors.print(f"  {escape(difference.message)}")
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def verify(as_json: JsonFlag = False,
           workers: Annotated[int | None, typer.Option(
               help="Processes that check signatures (default: one per core).")] = None,
           witnesses: Annotated[bool, typer.Option(
               "--witnesses", help="Also ask each witness of LEDGER_WITNESSES whether this log"
                                   " extends what it cosigned (a rollback or fork: exit 1).")
           ] = False,
           quorum: Annotated[int | None, typer.Option(
               "--quorum", min=1, help="With --witnesses: how many must cosign the latest"
                                       " checkpoint (default: all).")] = None,
           record: Annotated[bool, typer.Option(
               "--record", help="Also keep the result as the log page's last integrity"
                                " check (the nightly verify unit does).")] = False,
           ) -> None:
    """Verify the whole ledger; exit 0 only if every check holds."""
    from api.witness_check import verify_command  # noqa: PLC0415
    from ledger.evidence.verify import verify_ledger  # noqa: PLC0415

    witnessed: tuple[bool, dict[str, Any]] = (True, {})
    recorded = False
    with _ledger() as ledger:
        started, clock = ledger.now(), time.monotonic()
        if witnesses:
            witnessed = verify_command(ledger, quorum, quiet=as_json, write=errors.print)
        identity = ledger.identity
        if not _showing_progress(as_json):
            report = verify_ledger(ledger.log, identity, workers=workers)
        else:
            with _progress("verifying") as bar:
                task = bar.add_task("verify", total=ledger.log.tree_size())
                report = verify_ledger(ledger.log, identity, workers=workers,
                                       progress=lambda done, total: bar.update(
                                           task, completed=done, total=total))
        if record:
            recorded = _record_verify(ledger, report, started, time.monotonic() - clock,
                                      None if witnessed[0] else "the witnesses: "
                                      + _witness_failure(witnessed[1]))
    first = report.first
    if as_json:
        _print_json({"ok": report.ok, "entries": report.entries, "streams": report.streams,
                     "signatures": report.signatures, "checkpoints": report.checkpoints,
                     "nodes": report.nodes, "documents": report.documents,
                     "first_failure": None if first is None else first.__dict__,
                     "failures": [f.__dict__ for f in report.failures[:1000]],
                     **({"witnesses": witnessed[1]} if witnesses else {}),
                     **({"recorded": recorded} if record else {})})
    elif report.ok:
        console.print(f"[green]OK[/green]: {report.entries} entries in {report.streams} streams,"
                      f" {report.signatures} signatures, {report.checkpoints} checkpoints,"
                      f" {report.nodes} tree nodes, {report.documents} documents verified")
    else:
        assert first is not None
        errors.print(f"[red]FAILED[/red]: {len(report.failures)} problem(s); first: "
                     f"{escape(first.describe())}")
        for failure in report.failures[:20]:
            errors.print(f"  {escape(failure.describe())}")  # "[tree] ...": not markup
    if not report.ok or not witnessed[0]:
        raise typer.Exit(1)


def _record_verify(ledger: Ledger, report: VerifyReport, started: str, seconds: float,
                   also_failed: str | None) -> bool:
    """``ledger verify --record``: keep the result for the log page, signed with the log key;
    a database that refuses it (a read-only role), or a process that cannot sign with the log
    key, is said on stderr and leaves the exit code to the checks."""
    import sqlite3  # noqa: PLC0415

    import psycopg  # noqa: PLC0415
    from eventsourcing.persistence import PersistenceError  # noqa: PLC0415

    from api.services import LedgerService  # noqa: PLC0415
    from ledger.errors import LedgerError  # noqa: PLC0415

    try:
        LedgerService(ledger).record_verify(report, by="ledger verify", started_at=started,
                                            seconds=seconds, also_failed=also_failed)
    except (PersistenceError, sqlite3.Error, psycopg.Error, LedgerError) as exc:
        errors.print(f"[yellow]warning[/yellow]: the result was not recorded: {exc}")
        return False
    return True


def _witness_failure(answers: dict[str, Any]) -> str:
    """One line for a failed ``--witnesses`` check, from ``verify_command``'s JSON."""
    if answers.get("error"):
        return str(answers["error"])
    failed = [row["message"] for row in answers.get("witnesses", ()) if not row["agrees"]]
    return "; ".join(failed) or "too few cosigned the latest checkpoint"


@actors_app.command("add")
def actors_add(actor: Annotated[str, typer.Argument(help="The actor id (e.g. edu-wang).")],
               role: Annotated[Role, typer.Option(help="Role id (docs/design.md §1).")],
               unit: Annotated[str | None, typer.Option(
                   metavar="UNIT", help="Unit id, for role unit.")] = None,
               name: Annotated[str | None, typer.Option(
                   metavar="NAME", help="Display name (default: the actor id).")] = None,
               as_json: JsonFlag = False) -> None:
    """Register an actor with a custodial key."""
    with _ledger() as ledger:
        key = ledger.register_actor(actor, role, unit, name or actor)
    _report_key(key, as_json)


@actors_app.command("token")
def actors_token(actor: Annotated[str, typer.Argument(help="A registered actor id.")],
                 revoke: Annotated[bool, typer.Option(
                     "--revoke", help="Revoke the actor's tokens instead.")] = False,
                 rotate: Annotated[bool, typer.Option(
                     "--rotate", help="Revoke the actor's tokens and issue a new one (renew a"
                                      " token before it expires: LEDGER_TOKEN_DAYS).")] = False,
                 expires_in: Annotated[str | None, typer.Option(
                     "--expires-in", metavar="LIFETIME",
                     help="The new token's own lifetime: 12h, 30d, 2w (default:"
                          " LEDGER_TOKEN_DAYS days).")] = None,
                 ) -> None:
    """Issue a bearer token for an actor (shown once), or revoke or rotate its tokens."""
    with _ledger() as ledger:
        from ledger.service.tokens import parse_lifetime  # noqa: PLC0415 - lazy, as Ledger

        with reported():  # a malformed lifetime is reported as any refusal
            lifetime = parse_lifetime(expires_in) if expires_in is not None else None
        if revoke:
            console.print(f"revoked {ledger.tokens.revoke(actor)} token(s) of {actor}")
            return
        token = (ledger.tokens.rotate(actor, lifetime) if rotate
                 else ledger.tokens.issue(actor, lifetime))
        sys.stdout.write(token + "\n")


@actors_app.command("tokens")
def actors_tokens(actor: Annotated[str, typer.Argument(help="A registered actor id.")],
                  as_json: JsonFlag = False) -> None:
    """An actor's tokens (never the tokens themselves): id, issued, expires, state."""
    with _ledger() as ledger:
        rows = [dataclasses.asdict(t) for t in ledger.tokens.tokens_of(actor)]
    if as_json:
        _print_json(rows)
        return
    table = folding_table("token_id", "issued_at", "expires_at", "state", expand=True)
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    console.print(table, overflow="fold")


@actors_app.command("list")
def actors_list(as_json: JsonFlag = False) -> None:
    """Registered actors."""
    with _ledger() as ledger:
        actors = list(ledger.registry().actors.values())
    rows: list[dict[str, str | None]] = [
        {"actor": a.actor, "role": a.role.value, "unit": a.unit, "name": a.display_name,
         "registered_at": a.registered_at} for a in actors]
    if as_json:
        _print_json(rows)
        return
    table = folding_table("actor", "role", "unit", "name", "registered_at", expand=True)
    for row in rows:
        table.add_row(*(str(v or "") for v in row.values()))
    console.print(table, overflow="fold")


@keys_app.command("rotate")
def keys_rotate(actor: Annotated[str, typer.Argument(help="A registered actor id.")],
                as_json: JsonFlag = False) -> None:
    """Give an actor a new custodial key (revoke the old one separately)."""
    with _ledger() as ledger:
        key = ledger.rotate_key(actor)
    _report_key(key, as_json)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key id (`ledger keys list`).")],
                revoked_from: Annotated[str | None, typer.Option(
                    "--from", metavar="TIME",
                    help="RFC 3339 UTC time the key is revoked from (default: now).")] = None,
                reason: Annotated[str, typer.Option(help="Why, for the registry.")]
                = "revoked by the administrator",
                as_json: JsonFlag = False) -> None:
    """Revoke a key from a moment on."""
    with _ledger() as ledger:
        key = ledger.revoke_key(key_id, revoked_from=revoked_from, reason=reason)
    _report_key(key, as_json)


@keys_app.command("list")
def keys_list(as_json: JsonFlag = False) -> None:
    """Registered keys and their validity."""
    with _ledger() as ledger:
        keys = list(ledger.registry().keys.values())
    rows: list[dict[str, str | None]] = [
        {"key_id": k.key_id, "actor": k.actor, "role": k.role.value, "suite": k.suite,
         "registered_at": k.registered_at, "revoked_from": k.revoked_from} for k in keys]
    if as_json:
        _print_json(rows)
        return
    table = folding_table("key_id", "actor", "role", "suite", "registered_at", "revoked_from",
                  expand=True)
    for row in rows:
        table.add_row(*(str(v or "") for v in row.values()))
    console.print(table, overflow="fold")


def _report_key(key: Any, as_json: bool) -> None:
    row = {"key_id": key.key_id, "actor": key.actor, "role": key.role.value,
           "registered_at": key.registered_at, "revoked_from": key.revoked_from}
    if as_json:
        _print_json(row)
    else:
        console.print(row)


@calendar_app.command("add")
def calendar_add(file: Annotated[Path, typer.Argument(help="A year file (JSON).")],
                 replace: Annotated[bool, typer.Option(
                     "--replace", help="Replace a year already known.")] = False) -> None:
    """Add a year from the State Council's notice (国务院办公厅关于…节假日安排的通知)."""
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc}") from None
    with _ledger() as ledger:
        year = ledger.add_calendar_year(text, replace=replace)
        digest = ledger.calendar.digest
    console.print(f"added {year.year} ({len(year.holidays)} holidays, {len(year.workdays)}"
                  f" adjusted working days) from {year.source}; calendar {digest}",
                  soft_wrap=True)


@calendar_app.command("list")
def calendar_list(as_json: JsonFlag = False) -> None:
    """The years the calendar knows."""
    with _ledger() as ledger:
        calendar = ledger.calendar
    years = list(calendar.known_years)
    if as_json:
        _print_json({"years": years, "digest": calendar.digest})
    else:
        console.print(f"{years[0]}–{years[-1]} ({len(years)} years); digest {calendar.digest}",
                      soft_wrap=True)


@keys_app.command("generate")
def keys_generate(output: Annotated[Path, typer.Option(
                      "--output", "-o", metavar="FILE", help="Key file to write (mode 0600).")],
                  profile: Annotated[str, typer.Option(
                      metavar="intl|gm", help="The ledger's profile.")] = "intl") -> None:
    """Make a client-held key pair; prints the public key for the admin to register."""
    from api.client import generate_key_file  # noqa: PLC0415

    if output.exists():
        raise fail(f"{output} exists; not overwriting a key")
    public = generate_key_file(output, profile)
    console.print(f"wrote {output}; register the public key {public} with POST"
                  " /api/v1/actors/ACTOR/keys and put the returned key_id in the file",
                  soft_wrap=True)


@app.command()
def submit(file: Annotated[Path, typer.Argument(help="JSON {type, project?, effective?, payload}")],
           key: Annotated[Path, typer.Option(
               "--key", metavar="FILE", help="Key file (ledger keys generate).")],
           url: Annotated[str, typer.Option(
               "--url", envvar="LEDGER_URL", metavar="URL", help="The ledger's base URL.")],
           token: Annotated[str, typer.Option(
               "--token", envvar="LEDGER_TOKEN", metavar="TOKEN", help="Your bearer token.")],
           as_json: JsonFlag = False) -> None:
    """Sign a filing locally and submit it; prints the entry hash and leaf index."""
    from api.client import ClientError, KeyFile, ServerUnreachableError  # noqa: PLC0415
    from api.client import submit as send  # noqa: PLC0415

    try:
        document = json.loads(file.read_text(encoding="utf-8"))
        result = send(document, KeyFile.load(key), url, token)
    except ServerUnreachableError as exc:
        raise fail(str(exc)) from None  # a connection error: exit 2, like the others
    except (OSError, ValueError, ClientError) as exc:
        errors.print(f"[red]refused:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(1) from None
    if as_json:
        _print_json(result.receipt)
    else:
        receipt = result.receipt
        console.print(f"recorded {receipt['type']} seq {receipt['seq']} of {receipt['stream']}:"
                      f" entry {receipt['entry_hash']} at leaf {receipt['leaf_index']}",
                      soft_wrap=True)


@app.command()
def checkpoint() -> None:
    """Print the latest signed checkpoint (C2SP signed note)."""
    with _ledger() as ledger:
        latest = ledger.trusted_checkpoint()
    if latest is None:
        errors.print("no checkpoint yet (the log is empty)")
        raise typer.Exit(1)
    sys.stdout.write(latest.note)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
