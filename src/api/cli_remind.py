"""``ledger remind``, ``ledger channels`` and ``ledger feeds`` (docs/import.md, Reminders).

``ledger remind`` sends the reminders due today (a systemd timer runs it; ``LEDGER_REMIND_EVERY``
runs it inside ``ledger serve`` instead); exit 1 if a channel failed (it is tried again at the
next run). ``ledger channels add UNIT email|wecom|dingtalk TARGET [--secret S]`` configures where
a unit hears; ``ledger feeds issue UNIT`` prints a calendar-feed URL, ``ledger feeds revoke FEED``
closes it.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from api.cli_import import open_configured

console = Console()

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")


def remind(
    on: Annotated[str | None, typer.Option(
        metavar="DATE", help="Judge as of this date YYYY-MM-DD (default: today in Beijing).")]
    = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="List what would be sent; send and record nothing.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Send the reminders due today (due soon, due today, overdue), each once."""
    from ledger.service.reminders import Reminders  # noqa: PLC0415

    with open_configured() as ledger:
        report = Reminders(ledger).run(date.fromisoformat(on) if on else None, dry_run=dry_run)
    if as_json:
        _print_json(report.to_json())
    else:
        table = Table("unit 单位", "project 项目", "obligation 义务", "due 截止", "stage 阶段",
                      "channel", "outcome", title=f"reminders {report.today}"
                      + (" (dry run)" if dry_run else ""))
        for d in report.deliveries:
            table.add_row(d.due.unit, d.due.title, d.due.rule, d.due.due, d.due.stage,
                          d.channel, d.outcome + (f": {d.error}" if d.error else ""))
        console.print(table)
        console.print(f"sent {report.count('sent')}, would send {report.count('would_send')},"
                      f" failed {report.count('failed')},"
                      f" no channel {report.count('no_channel')},"
                      f" sent before {report.already}")
    if report.count("failed"):
        raise typer.Exit(1)


channels_app = typer.Typer(help="Where each unit hears its reminders (admin).",
                           no_args_is_help=True)


@channels_app.command("add")
def channels_add(unit: Annotated[str, typer.Argument(help="The unit id.")],
                 kind: Annotated[str, typer.Argument(help="email, wecom or dingtalk.")],
                 target: Annotated[str, typer.Argument(
                     help="An email address, or the robot's webhook URL.")],
                 secret: Annotated[str | None, typer.Option(
                     metavar="SECRET", help="DingTalk: the robot's signing secret (SEC…).")]
                 = None) -> None:
    """Add a reminder channel for a unit (or change a DingTalk robot's secret)."""
    from ledger.service.reminders import Reminders  # noqa: PLC0415

    with open_configured() as ledger:
        Reminders(ledger).book.add_channel(unit, kind, target, secret, ledger.now())
    console.print(f"{unit}: {kind} channel added")


@channels_app.command("remove")
def channels_remove(unit: Annotated[str, typer.Argument(help="The unit id.")],
                    kind: Annotated[str, typer.Argument(help="email, wecom or dingtalk.")],
                    target: Annotated[str, typer.Argument(help="As added.")]) -> None:
    """Remove a unit's reminder channel."""
    from ledger.service.reminders import Reminders  # noqa: PLC0415

    with open_configured() as ledger:
        removed = Reminders(ledger).book.remove_channel(unit, kind, target)
    if not removed:
        console.print("no such channel")
        raise typer.Exit(1)
    console.print(f"{unit}: {kind} channel removed")


@channels_app.command("list")
def channels_list(as_json: JsonFlag = False) -> None:
    """List every unit's channels (webhook tokens and secrets are not shown)."""
    from ledger.service.reminders import Reminders  # noqa: PLC0415

    with open_configured() as ledger:
        rows = Reminders(ledger).book.channels()
    found = [{"unit": r.unit, "kind": r.kind, "channel": r.name, "signed": bool(r.secret),
              "added_at": r.added_at} for r in rows]
    if as_json:
        _print_json(found)
        return
    table = Table("unit", "kind", "channel", "signed", "added_at")
    for row in found:
        table.add_row(*(str(v) for v in row.values()))
    console.print(table)


feeds_app = typer.Typer(help="Calendar feeds of units' obligations (admin).",
                        no_args_is_help=True)


@feeds_app.command("issue")
def feeds_issue(unit: Annotated[str, typer.Argument(help="The unit id.")],
                as_json: JsonFlag = False) -> None:
    """Issue a feed secret for a unit; prints the subscription URL once."""
    from ledger.service.feeds import FeedBook  # noqa: PLC0415
    from ledger.service.sidetables import SideTables  # noqa: PLC0415

    with open_configured() as ledger:
        feed, token = FeedBook(SideTables(ledger.settings.database_url)).issue(
            unit, ledger.now())
        url = (f"{ledger.settings.public_url.rstrip('/')}/units/{unit}/obligations.ics"
               f"?token={token}")
    if as_json:
        _print_json({"feed": feed.feed, "unit": unit, "url": url})
    else:
        console.print(f"feed {feed.feed} for {unit}: {url}", soft_wrap=True)


@feeds_app.command("revoke")
def feeds_revoke(feed: Annotated[str, typer.Argument(help="The feed id (ledger feeds list).")],
                 ) -> None:
    """Revoke a feed: its URL answers 404 from now on."""
    from ledger.service.feeds import FeedBook  # noqa: PLC0415
    from ledger.service.sidetables import SideTables  # noqa: PLC0415

    with open_configured() as ledger:
        revoked = FeedBook(SideTables(ledger.settings.database_url)).revoke(feed, ledger.now())
    if not revoked:
        console.print("no such active feed")
        raise typer.Exit(1)
    console.print(f"feed {feed} revoked")


@feeds_app.command("list")
def feeds_list(unit: Annotated[str | None, typer.Argument(help="Only this unit's.")] = None,
               as_json: JsonFlag = False) -> None:
    """List issued feeds (never their secrets)."""
    from ledger.service.feeds import FeedBook  # noqa: PLC0415
    from ledger.service.sidetables import SideTables  # noqa: PLC0415

    with open_configured() as ledger:
        feeds = FeedBook(SideTables(ledger.settings.database_url)).feeds(unit)
    found = [{"feed": f.feed, "unit": f.unit, "created_at": f.created_at,
              "revoked_at": f.revoked_at} for f in feeds]
    if as_json:
        _print_json(found)
        return
    table = Table("feed", "unit", "created_at", "revoked_at")
    for row in found:
        table.add_row(*(str(v or "") for v in row.values()))
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``remind``, ``channels`` and ``feeds`` to the ``ledger`` app."""
    app.command("remind")(remind)
    app.add_typer(channels_app, name="channels")
    app.add_typer(feeds_app, name="feeds")


__all__ = ["channels_app", "feeds_app", "register", "remind"]
