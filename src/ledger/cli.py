"""The ``ledger`` command line (DESIGN §6): typer commands, rich output, ``--json`` everywhere."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ledger.app import Ledger
from ledger.errors import LedgerError
from ledger.roles import Role
from ledger.settings import Settings
from ledger.verify import verify_ledger

app = typer.Typer(help="The project-supervision audit ledger (项目监管审计账本).",
                  no_args_is_help=True, pretty_exceptions_enable=False)
actors_app = typer.Typer(help="Register actors (admin).", no_args_is_help=True)
keys_app = typer.Typer(help="Rotate, revoke and list keys (admin).", no_args_is_help=True)
app.add_typer(actors_app, name="actors")
app.add_typer(keys_app, name="keys")

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
    # The API is named by import string so that this package never imports ``api``.
    uvicorn.run("api.app:create_app", factory=True, host=host or settings.host,
                port=port or settings.port, log_level="info")


@app.command()
def demo(as_json: JsonFlag = False) -> None:
    """Load the demo data set (several units and projects) into an initialised ledger."""
    from ledger.demo import load_demo  # noqa: PLC0415

    with _ledger() as ledger:
        loaded = load_demo(ledger)
    if as_json:
        _print_json({"projects": [str(p) for p in loaded]})
    else:
        console.print(f"loaded {len(loaded)} demo projects")


@app.command()
def projects(as_json: JsonFlag = False) -> None:
    """The project library (项目库), each project verified on read."""
    with _ledger() as ledger:
        rows: list[dict[str, Any]] = []
        for stream in ledger.log.stream_ids():
            if stream == ledger.identity.registry_stream:
                continue
            project = ledger.project(stream)
            facts = project.facts
            rows.append({"id": str(stream), "title": facts.title, "kind": facts.kind,
                         "stage": facts.stage, "entries": project.version,
                         "approved_budget_fen": facts.approved_budget_fen})
    if as_json:
        _print_json(rows)
        return
    table = Table("id", "title 项目名称", "kind", "stage", "entries")
    for row in rows:
        table.add_row(*(str(row[k]) for k in ("id", "title", "kind", "stage", "entries")))
    console.print(table)


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
               role: Annotated[Role, typer.Option(help="Role id (DESIGN §1).")],
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
            console.print(f"revoked {ledger.log.revoke_tokens(actor)} token(s) of {actor}")
            return
        sys.stdout.write(ledger.issue_token(actor) + "\n")


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
