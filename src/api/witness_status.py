"""Which witness cosigned which size, and how far behind each is: the data of the log page's
witness table (日志状态, docs/design.md §6 Web pages) and of ``GET /log/witnesses``.

A server that pushes (``LEDGER_WITNESSES``) knows each witness's newest cosigned size and time
and its last error from its push task; a witness it has not heard from since it started is looked
up in the stored cosignatures (:func:`api.witness_check.last_cosigned`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from api.witness_check import last_cosigned
from api.witnessing import Witnessing
from ledger.app import Ledger
from ledger.log.witness import parse_witnesses


@dataclass(frozen=True)
class WitnessRow:
    """One configured witness as the log page shows it."""

    name: str
    key: str
    size: int | None
    """The newest checkpoint size it cosigned (None: none known)."""
    behind: int | None
    """Leaves between that size and the latest checkpoint's (0: it cosigned the latest)."""
    seconds: float | None
    """Seconds since its newest cosignature (its own timestamp), when known."""
    error: str | None


@dataclass(frozen=True)
class WitnessTable:
    """Every configured witness, and how many cosigned the latest checkpoint."""

    rows: tuple[WitnessRow, ...]
    latest: int | None
    current: int
    halted: str | None
    pending: str | None = None
    """Why a starting server does not take filings yet (its witnesses not yet heard)."""

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {"latest": self.latest, "cosigned_latest": self.current,
                "witnesses": [row.__dict__ for row in self.rows], "halted": self.halted,
                "pending": self.pending}


def witness_table(app: Any, ledger: Ledger) -> WitnessTable:
    """The witnesses of this server (``app``) over ``ledger`` (none configured: no rows)."""
    pushing: Witnessing | None = getattr(app.state, "witnessing", None)
    configured = (pushing.witnesses if pushing is not None
                  else parse_witnesses(ledger.settings.witnesses))
    latest = ledger.trusted_checkpoint()
    size = None if latest is None else latest.size
    views = {view.name: view for view in pushing.views()} if pushing is not None else {}
    now = time.time()
    rows: list[WitnessRow] = []
    for witness in configured:
        view = views.get(witness.name)
        cosigned = view.cosigned_size if view is not None else None
        if cosigned is None and size is not None:
            cosigned = last_cosigned(ledger, witness.vkey, size)
        at = view.cosigned_at if view is not None else None
        rows.append(WitnessRow(
            witness.name, witness.vkey.encode(), cosigned,
            None if cosigned is None or size is None else max(0, size - cosigned),
            None if at is None else max(0.0, now - at),
            view.error if view is not None else None))
    halt = None if pushing is None or pushing.halt is None else str(pushing.halt)
    waiting = None if pushing is None or pushing.pending is None else str(pushing.pending)
    return WitnessTable(tuple(rows), size, sum(row.behind == 0 for row in rows), halt,
                        waiting)


__all__ = ["WitnessRow", "WitnessTable", "witness_table"]
