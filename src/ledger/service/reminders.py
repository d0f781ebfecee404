"""``ledger remind``: tell each unit of its obligations that are near, due today, or overdue.

Runs from a systemd timer (``ledger remind``) or inside ``ledger serve`` every
``LEDGER_REMIND_EVERY`` seconds. Each run reads every project's obligations on today's date
(Beijing), picks those at a reminder stage (:func:`ledger.measures.reminding.stage_of`), and
sends each one, per stage, through every channel its unit has (:mod:`ledger.service.notify`) —
once: the reminder log records what went out, so a later run skips it. A channel that fails is
tried again within the run, then reported and left for the next run; it never stops the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from ledger.errors import ValidationFailedError
from ledger.log.canonical import JSONValue
from ledger.log.entries import format_time
from ledger.measures import rules
from ledger.measures.aggregates import KeyRegistry, Project
from ledger.measures.importing import article_zh
from ledger.measures.reminding import (
    OBLIGATION_ZH,
    STAGE_ZH,
    Stage,
    compose,
    obligation_key,
    stage_of,
)
from ledger.measures.roles import Role
from ledger.service.notify import (
    KINDS,
    Channel,
    DingTalkChannel,
    EmailChannel,
    NotifyError,
    SmtpServer,
    WeComChannel,
    label,
)
from ledger.service.sidetables import SideTables
from ledger.settings import Settings

Outcome = Literal["sent", "failed", "no_channel", "would_send"]


@dataclass(frozen=True)
class ChannelRow:
    """A unit's reminder channel as configured (``ledger remind channel add``)."""

    unit: str
    kind: str
    target: str
    secret: str | None
    added_at: str

    @property
    def name(self) -> str:
        """The name the reminder log uses (no webhook token)."""
        return f"email:{self.target}" if self.kind == "email" else label(self.kind, self.target)


@dataclass(frozen=True)
class Due:
    """An obligation of a project at a reminder stage today."""

    project: str
    title: str
    unit: str
    unit_name: str
    rule: str
    article: str
    detail: str
    due: str
    stage: Stage
    left: int
    key: str


@dataclass(frozen=True)
class Delivery:
    """What became of one reminder through one channel in this run."""

    due: Due
    channel: str
    outcome: Outcome
    attempts: int = 0
    error: str | None = None

    def to_json(self) -> dict[str, JSONValue]:
        """Plain JSON."""
        d = self.due
        return {"project": d.project, "title": d.title, "unit": d.unit, "rule": d.rule,
                "obligation_zh": OBLIGATION_ZH.get(d.rule, d.rule), "article": d.article,
                "article_zh": article_zh(d.article),
                "due": d.due, "stage": d.stage, "stage_zh": STAGE_ZH[d.stage],
                "channel": self.channel, "outcome": self.outcome, "attempts": self.attempts,
                "error": self.error}


@dataclass(frozen=True)
class RemindReport:
    """One run: the date it judged, what it sent or failed to, and what it had sent before."""

    today: str
    deliveries: tuple[Delivery, ...]
    already: int
    """Reminders due today that an earlier run already sent (skipped)."""

    def count(self, outcome: Outcome) -> int:
        """Deliveries with ``outcome``."""
        return sum(1 for d in self.deliveries if d.outcome == outcome)

    def to_json(self) -> dict[str, JSONValue]:
        """Plain JSON (``ledger remind --json``)."""
        return {"today": self.today, "sent": self.count("sent"), "failed": self.count("failed"),
                "no_channel": self.count("no_channel"), "would_send": self.count("would_send"),
                "already_sent": self.already,
                "deliveries": [d.to_json() for d in self.deliveries]}


class ReminderBook:
    """The units' channels and the reminder log, in the side tables."""

    def __init__(self, tables: SideTables) -> None:
        self._tables = tables

    def add_channel(self, unit: str, kind: str, target: str, secret: str | None,
                    at: str) -> None:
        """Add (or update the secret of) a unit's channel."""
        if kind not in KINDS:
            raise ValidationFailedError("channel", [("kind", f"one of {', '.join(KINDS)}")])
        if kind == "email" and "@" not in target:
            raise ValidationFailedError("channel", [("target", "an email address")])
        if kind != "email" and not target.startswith(("https://", "http://")):
            raise ValidationFailedError("channel", [("target", "the robot's webhook URL")])
        self._tables.run(
            "INSERT INTO reminder_channels (unit, kind, target, secret, added_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (unit, kind, target)"
            " DO UPDATE SET secret = excluded.secret", (unit, kind, target, secret, at))

    def remove_channel(self, unit: str, kind: str, target: str) -> bool:
        """Remove a channel; whether it existed."""
        return self._tables.run("DELETE FROM reminder_channels WHERE unit = ? AND kind = ?"
                                " AND target = ?", (unit, kind, target)) > 0

    def channels(self, unit: str | None = None) -> list[ChannelRow]:
        """The channels of ``unit`` (of every unit if None), by unit, kind and target."""
        where, params = (" WHERE unit = ?", (unit,)) if unit is not None else ("", ())
        return [ChannelRow(*row) for row in self._tables.rows(
            "SELECT unit, kind, target, secret, added_at FROM reminder_channels" + where  # noqa: S608
            + " ORDER BY unit, kind, target", params)]

    def sent_keys(self) -> set[tuple[str, str, str]]:
        """(obligation, stage, channel) of every reminder that went out."""
        return {(o, s, c) for o, s, c in self._tables.rows(
            "SELECT obligation, stage, channel FROM reminder_log WHERE status = 'sent'")}

    def record(self, delivery: Delivery, at: str) -> None:
        """Note a delivery (sent, or failed after its attempts) in the log."""
        d = delivery.due
        self._tables.run(
            "INSERT INTO reminder_log (obligation, stage, channel, project, unit, rule, due,"
            " status, attempts, error, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (obligation, stage, channel) DO UPDATE SET status = excluded.status,"
            " attempts = reminder_log.attempts + excluded.attempts, error = excluded.error,"
            " at = excluded.at",
            (d.key, d.stage, delivery.channel, d.project, d.unit, d.rule, d.due,
             delivery.outcome, delivery.attempts, delivery.error, at))

    def log(self, project: str | None = None) -> list[dict[str, JSONValue]]:
        """The reminder log (of one project, if given), newest first: what the pages show as
        "reminded on …"."""
        where, params = (" WHERE project = ?", (project,)) if project is not None else ("", ())
        names = ("obligation", "stage", "channel", "project", "unit", "rule", "due", "status",
                 "attempts", "error", "at")
        return [dict(zip(names, row, strict=True)) for row in self._tables.rows(
            "SELECT " + ", ".join(names) + " FROM reminder_log" + where  # noqa: S608 (constants)
            + " ORDER BY at DESC, obligation, stage, channel", params)]


def smtp_server(settings: Settings) -> SmtpServer:
    """The SMTP server of the settings (``LEDGER_SMTP_*``)."""
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return SmtpServer(settings.smtp_host, settings.smtp_port, settings.smtp_from,
                      settings.smtp_user, password, settings.smtp_starttls)


class Reminders:
    """Finds the obligations to remind of and sends them (see the module docstring)."""

    def __init__(self, ledger: Any, *, book: ReminderBook | None = None, retries: int = 3,
                 pause: float = 0.5, sleep: Callable[[float], None] = time.sleep,
                 channel_for: Callable[[ChannelRow], Channel] | None = None) -> None:
        # ``ledger.app.Ledger``; typed loosely because service/ sits below app.py.
        self._ledger = ledger
        settings: Settings = ledger.settings
        self.book = book or ReminderBook(SideTables(settings.database_url))
        self._retries = max(1, retries)
        self._pause = pause
        self._sleep = sleep
        self._smtp = smtp_server(settings)
        self._channel_for = channel_for or self._channel

    def _channel(self, row: ChannelRow) -> Channel:
        if row.kind == "email":
            return EmailChannel(row.target, self._smtp)
        if row.kind == "wecom":
            return WeComChannel(row.target)
        return DingTalkChannel(row.target, row.secret)

    def due(self, today: date) -> list[Due]:
        """Every obligation of every project at a reminder stage on ``today``."""
        ledger = self._ledger
        settings: Settings = ledger.settings
        registry: KeyRegistry = ledger.registry()
        names = _unit_names(registry)
        calendar = ledger.calendar
        found: list[Due] = []
        for stream in ledger.log.stream_ids():
            project = ledger.cache.current(stream, fresh=True)
            if not isinstance(project, Project):
                continue
            facts = project.facts
            unit = rules.unit_of_opener(facts, registry)
            if unit is None or facts.terminated is not None:
                continue
            for obligation in rules.obligations(facts, today, calendar):
                staged = stage_of(obligation, today, calendar, settings.remind_days)
                if staged is None:
                    continue
                stage, left = staged
                found.append(Due(str(stream), facts.title or str(stream), unit,
                                 names.get(unit, unit), obligation.rule,
                                 obligation.article, obligation.detail,
                                 str(obligation.due), stage, left,
                                 obligation_key(str(stream), obligation)))
        return sorted(found, key=lambda d: (d.unit, d.due, d.project, d.rule, d.key))

    def run(self, today: date | None = None, *, dry_run: bool = False) -> RemindReport:
        """Send what is due on ``today`` (default today in Beijing) and not sent before."""
        ledger = self._ledger
        today = today or ledger.today()
        sent = self.book.sent_keys()
        channels: dict[str, list[ChannelRow]] = {}
        for row in self.book.channels():
            channels.setdefault(row.unit, []).append(row)
        deliveries: list[Delivery] = []
        already = 0
        link = ledger.settings.public_url.rstrip("/") + "/projects/"
        for due in self.due(today):
            rows = channels.get(due.unit, [])
            if not rows:
                deliveries.append(Delivery(due, "", "no_channel"))
                continue
            for row in rows:
                if (due.key, due.stage, row.name) in sent:
                    already += 1
                    continue
                if dry_run:
                    deliveries.append(Delivery(due, row.name, "would_send"))
                    continue
                delivery = self._deliver(due, row, link + due.project)
                self.book.record(delivery, format_time(ledger.clock()))
                deliveries.append(delivery)
        return RemindReport(today.isoformat(), tuple(deliveries), already)

    def _deliver(self, due: Due, row: ChannelRow, link: str) -> Delivery:
        obligation = rules.Obligation(due.rule, due.article, due.detail, due.due, "open")
        reminder = compose(title=due.title, unit_name=due.unit_name, obligation=obligation,
                           stage=due.stage, left=due.left, link=link)
        channel = self._channel_for(row)
        error = ""
        for attempt in range(1, self._retries + 1):
            try:
                channel.send(reminder)
            except NotifyError as exc:
                error = exc.reason
                if attempt < self._retries:
                    self._sleep(self._pause * attempt)
                continue
            return Delivery(due, row.name, "sent", attempt)
        return Delivery(due, row.name, "failed", self._retries, error)


def _unit_names(registry: KeyRegistry) -> dict[str, str]:
    names: dict[str, str] = {}
    for record in sorted(registry.actors.values(), key=lambda r: r.actor):
        if record.role is Role.UNIT and record.unit and record.display_name.split():
            names.setdefault(record.unit, record.display_name.split()[0])
    return names


def deliveries_by_unit(report: RemindReport) -> dict[str, Sequence[Delivery]]:
    """The report's deliveries grouped by unit (for the CLI's table)."""
    grouped: dict[str, list[Delivery]] = {}
    for delivery in report.deliveries:
        grouped.setdefault(delivery.due.unit, []).append(delivery)
    return dict(grouped)


__all__ = ["ChannelRow", "Delivery", "Due", "RemindReport", "ReminderBook", "Reminders",
           "deliveries_by_unit", "smtp_server"]
