""""Reminded on …": the reminders that went out about a project's obligations, for its page.

Read from the reminder log (:class:`ledger.service.reminders.ReminderBook`, docs/import.md), and
matched to the rows of the project's obligations view by the obligation's stable key.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from ledger.measures.reminding import STAGE_ZH, obligation_key
from ledger.measures.rules import Obligation
from ledger.service.reminders import ReminderBook
from ledger.service.sidetables import SideTables

_STAGES: dict[str, str] = {str(stage): words for stage, words in STAGE_ZH.items()}


def reminded(service: Any, project: uuid.UUID,
             obligations: Sequence[Mapping[str, Any]]) -> list[list[dict[str, str]]]:
    """For each obligation row of a project's view, the reminders that went out about it
    (stage, channel, when): the pages show "reminded on …" (docs/import.md, Reminders)."""
    book = ReminderBook(SideTables(service.ledger.settings.database_url))
    sent: dict[str, list[dict[str, str]]] = {}
    for row in book.log(str(project)):
        if row["status"] == "sent":
            sent.setdefault(str(row["obligation"]), []).append(
                {"stage": str(row["stage"]),
                 "stage_zh": _STAGES.get(str(row["stage"]), str(row["stage"])),
                 "channel": str(row["channel"]).split(":")[0], "at": str(row["at"])})
    found: list[list[dict[str, str]]] = []
    for o in obligations:
        key = obligation_key(str(project), Obligation(
            str(o["rule"]), str(o["article"]), str(o["detail"]), o.get("due"),
            str(o["status"]), caused_by=tuple(o.get("caused_by") or ())))
        found.append(sorted(sent.get(key, []), key=lambda r: r["at"]))
    return found


__all__ = ["reminded"]
