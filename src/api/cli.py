"""The ``ledger`` command line (docs/design.md §6): typer commands, rich output, ``--json``
everywhere."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any, cast
from uuid import UUID

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ledger.app import Ledger
from ledger.errors import LedgerError
from ledger.evidence.verify import verify_ledger
from ledger.measures.roles import Role
from ledger.settings import Settings
from projections import views
from projections.replay import replay_library, replay_project
from projections.runner import Library

app = typer.Typer(help="The project-supervision audit ledger (项目监管审计账本).",
                  no_args_is_help=True, pretty_exceptions_enable=False)
actors_app = typer.Typer(help="Register actors (admin).", no_args_is_help=True)
keys_app = typer.Typer(help="Rotate, revoke and list keys (admin).", no_args_is_help=True)
app.add_typer(actors_app, name="actors")
app.add_typer(keys_app, name="keys")
calendar_app = typer.Typer(help="The working-day calendar (法定节假日安排).", no_args_is_help=True)
app.add_typer(calendar_app, name="calendar")

console = Console()
errors = Console(stderr=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


@contextmanager
def _ledger(*, initialised: bool = True) -> Iterator[Ledger]:
    """Open the configured ledger; turn ledger errors into a message and exit code 2."""
    try:
        ledger = Ledger(Settings())
        if initialised:
            ledger.identity  # noqa: B018 - refuse early, naming `ledger init`
    except LedgerError as exc:
        errors.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(2) from None
    try:
        yield ledger
    except LedgerError as exc:
        errors.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(2) from None
    finally:
        ledger.close()


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")


@app.command()
def init(origin: Annotated[str | None, typer.Option(help="Log origin (checkpoint name).")] = None,
         profile: Annotated[str | None, typer.Option(help="intl (SHA-256 + Ed25519).")] = None,
         as_json: JsonFlag = False) -> None:
    """Create the tables and the ledger's identity (idempotent)."""
    with _ledger(initialised=False) as ledger:
        identity = ledger.initialise(origin=origin, profile=profile)
        info = {"origin": identity.origin, "profile": identity.profile.name,
                "log_key": identity.log_key.encode(), "root_key_id": identity.root_key_id,
                "root_public_key": __import__("base64").b64encode(
                    identity.root_public_key).decode(),
                "database": ledger.settings.database_url}
        if as_json:
            _print_json(info)
            return
        for name, value in info.items():
            console.print(f"[bold]{name}[/bold]: {value}", soft_wrap=True)
        console.print("Pin the root key with LEDGER_ROOT_KEY=<root_public_key>.")


@app.command()
def serve(host: Annotated[str | None, typer.Option()] = None,
          port: Annotated[int | None, typer.Option()] = None) -> None:
    """Run the HTTP API (uvicorn)."""
    import uvicorn  # noqa: PLC0415 - only this command needs the server

    settings = Settings()
    uvicorn.run("api.app:create_app", factory=True, host=host or settings.host,
                port=port or settings.port, log_level="info")


@app.command()
def demo(as_json: JsonFlag = False) -> None:
    """Load the demo data set (2023–2026, 17 projects, 7 units) into an EMPTY database.

    It initialises the ledger itself with a clock set in the past, so it refuses a database
    that already holds a ledger.
    """
    from ledger.demo import ACTORS, load_demo  # noqa: PLC0415

    try:
        result = load_demo(Settings())
    except LedgerError as exc:
        errors.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(2) from None
    if as_json:
        _print_json({"projects": {k: str(v) for k, v in result.projects.items()},
                     "units": dict(result.units),
                     "actors": [actor for actor, *_ in ACTORS],
                     "refusals": [dataclasses.asdict(r) for r in result.refusals],
                     "entries": result.entries})
    else:
        console.print(f"loaded {len(result.projects)} demo projects of {len(result.units)} units"
                      f" ({result.entries} entries, {len(result.refusals)} refusals shown)")


@app.command()
def projects(as_json: JsonFlag = False,
             on: Annotated[str | None, typer.Option(help="Evaluation date YYYY-MM-DD.")] = None,
             as_known_at: Annotated[str | None, typer.Option(
                 help="Only entries recorded at or before this RFC 3339 time.")] = None) -> None:
    """The project library (项目库), from the read model (or replayed as known at a time)."""
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
    table = Table("id", "title 项目名称", "unit 单位", "kind", "stage", "eligible 建设/运维",
                  "overdue")
    for row in cast(list[dict[str, Any]], rows):
        eligible = row["eligible"]
        table.add_row(row["id"][:8], row["title"], str(row["unit"]), row["kind"], row["stage"],
                      f"{_yes(eligible['construction'])}/{_yes(eligible['operation_maintenance'])}",
                      str(row["overdue"]))
    console.print(table)
    console.print(f"state hash {digest} (on {day})", soft_wrap=True)


def _yes(flag: bool) -> str:
    return "✓" if flag else "✗"


def _date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors.print(f"[red]error:[/red] expected a date YYYY-MM-DD, got {text!r}")
        raise typer.Exit(2) from None


@app.command()
def replay(project: Annotated[str, typer.Option("--project", help="Project id.")],
           as_known_at: Annotated[str | None, typer.Option(
               help="Only entries recorded at or before this RFC 3339 time.")] = None,
           on: Annotated[str | None, typer.Option(help="Evaluation date YYYY-MM-DD.")] = None,
           as_json: JsonFlag = False) -> None:
    """One project's projections replayed exactly as known at a time, on a date."""
    try:
        project_id = UUID(project)
    except ValueError:
        errors.print(f"[red]error:[/red] not a project id: {project!r}")
        raise typer.Exit(2) from None
    with _ledger() as ledger:
        result = replay_project(ledger, project_id, as_known_at=as_known_at, on=_date(on))
    if as_json:
        _print_json(result.to_json())
        return
    console.print(f"project {project_id} as known at {as_known_at or 'now'}, on {result.on}:"
                  f" {result.entries} entries", soft_wrap=True)
    for name, view in result.views.items():
        console.print(f"[bold]{name}[/bold] state hash {view['state_hash']}", soft_wrap=True)
    console.print_json(data=result.views["eligibility"]["state"])


@app.command()
def rebuild(as_json: JsonFlag = False) -> None:
    """Rebuild the read models from zero (verifying every entry against its leaf)."""
    with _ledger() as ledger:
        library = Library(ledger)
        if as_json or not console.is_terminal:
            state = library.rebuild()
        else:
            with Progress(TextColumn("rebuilding"), BarColumn(), TextColumn(
                    "{task.completed}/{task.total} entries"), console=console) as bar:
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


@app.command()
def verify(as_json: JsonFlag = False,
           workers: Annotated[int | None, typer.Option(help="Processes for signatures.")] = None,
           ) -> None:
    """Verify the whole ledger; exit 0 only if every check holds."""
    with _ledger() as ledger:
        identity = ledger.identity
        if as_json or not console.is_terminal:
            report = verify_ledger(ledger.log, identity, workers=workers)
        else:
            with Progress(TextColumn("verifying"), BarColumn(), TextColumn("{task.completed}/"
                          "{task.total} entries"), TimeRemainingColumn(), console=console) as bar:
                task = bar.add_task("verify", total=ledger.log.tree_size())
                report = verify_ledger(ledger.log, identity, workers=workers,
                                       progress=lambda done, total: bar.update(
                                           task, completed=done, total=total))
    first = report.first
    if as_json:
        _print_json({"ok": report.ok, "entries": report.entries, "streams": report.streams,
                     "signatures": report.signatures, "checkpoints": report.checkpoints,
                     "nodes": report.nodes,
                     "first_failure": None if first is None else first.__dict__,
                     "failures": [f.__dict__ for f in report.failures[:1000]]})
    elif report.ok:
        console.print(f"[green]OK[/green]: {report.entries} entries in {report.streams} streams,"
                      f" {report.signatures} signatures, {report.checkpoints} checkpoints,"
                      f" {report.nodes} tree nodes verified")
    else:
        assert first is not None
        errors.print(f"[red]FAILED[/red]: {len(report.failures)} problem(s); first: "
                     f"{first.describe()}")
        for failure in report.failures[:20]:
            errors.print(f"  {failure.describe()}")
    if not report.ok:
        raise typer.Exit(1)


@actors_app.command("add")
def actors_add(actor: str,
               role: Annotated[Role, typer.Option(help="Role id (docs/design.md §1).")],
               unit: Annotated[str | None, typer.Option(help="Unit, for role unit.")] = None,
               name: Annotated[str | None, typer.Option(help="Display name.")] = None,
               as_json: JsonFlag = False) -> None:
    """Register an actor with a custodial key."""
    with _ledger() as ledger:
        key = ledger.register_actor(actor, role, unit, name or actor)
    _report_key(key, as_json)


@actors_app.command("token")
def actors_token(actor: str, revoke: Annotated[bool, typer.Option(
        "--revoke", help="Revoke the actor's tokens instead.")] = False) -> None:
    """Issue a bearer token for an actor (shown once), or revoke its tokens."""
    with _ledger() as ledger:
        if revoke:
            console.print(f"revoked {ledger.tokens.revoke(actor)} token(s) of {actor}")
            return
        sys.stdout.write(ledger.tokens.issue(actor) + "\n")


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
    table = Table("actor", "role", "unit", "name", "registered_at")
    for row in rows:
        table.add_row(*(str(v or "") for v in row.values()))
    console.print(table)


@keys_app.command("rotate")
def keys_rotate(actor: str, as_json: JsonFlag = False) -> None:
    """Give an actor a new custodial key (revoke the old one separately)."""
    with _ledger() as ledger:
        key = ledger.rotate_key(actor)
    _report_key(key, as_json)


@keys_app.command("revoke")
def keys_revoke(key_id: str,
                revoked_from: Annotated[str | None, typer.Option(
                    "--from", help="RFC 3339 UTC time (default now).")] = None,
                reason: Annotated[str, typer.Option()] = "revoked by the administrator",
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
    table = Table("key_id", "actor", "role", "suite", "registered_at", "revoked_from")
    for row in rows:
        table.add_row(*(str(v or "") for v in row.values()))
    console.print(table)


def _report_key(key: Any, as_json: bool) -> None:
    row = {"key_id": key.key_id, "actor": key.actor, "role": key.role.value,
           "registered_at": key.registered_at, "revoked_from": key.revoked_from}
    if as_json:
        _print_json(row)
    else:
        console.print(row)


@calendar_app.command("add")
def calendar_add(file: Annotated[Path, typer.Argument(help="A year file (JSON).")],
                 replace: Annotated[bool, typer.Option(help="Replace a year already known.")] =
                 False) -> None:
    """Add a year from the State Council's notice (国务院办公厅关于…节假日安排的通知)."""
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        errors.print(f"[red]error:[/red] cannot read {file}: {exc}")
        raise typer.Exit(2) from None
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
def keys_generate(out: Annotated[Path, typer.Option("--out", "-o", help="Key file to write.")],
                  profile: Annotated[str, typer.Option(help="intl or gm")] = "intl") -> None:
    """Make a client-held key pair; prints the public key for the admin to register."""
    from api.client import generate_key_file  # noqa: PLC0415

    if out.exists():
        errors.print(f"[red]error:[/red] {out} exists; not overwriting a key")
        raise typer.Exit(2)
    public = generate_key_file(out, profile)
    console.print(f"wrote {out}; register the public key {public} with POST"
                  " /api/v1/actors/ACTOR/keys and put the returned key_id in the file",
                  soft_wrap=True)


@app.command()
def submit(file: Annotated[Path, typer.Argument(help="JSON {type, project?, effective?, payload}")],
           key: Annotated[Path, typer.Option("--key", help="Key file (ledger keys generate).")],
           url: Annotated[str, typer.Option("--url", help="The ledger's base URL.")],
           token: Annotated[str, typer.Option("--token", help="Your bearer token.")],
           as_json: JsonFlag = False) -> None:
    """Sign a filing locally and submit it; prints the entry hash and leaf index."""
    from api.client import ClientError, KeyFile  # noqa: PLC0415
    from api.client import submit as send  # noqa: PLC0415

    try:
        document = json.loads(file.read_text(encoding="utf-8"))
        result = send(document, KeyFile.load(key), url, token)
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


from api import cli_evidence  # noqa: E402 - needs `app` above; adds export, verify-bundle, witness

cli_evidence.register(app)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
