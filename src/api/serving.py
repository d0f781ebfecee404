"""Interpreter settings for a server's processes (the API process and its writer).

Process-wide, so applied only where a server opens its own ledger — not in tests or in a
process that embeds the app. Measured with ``scripts/bench/bench_http.py``
(docs/performance.md, issue 4).
"""

from __future__ import annotations

import gc
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ledger.app import Ledger


def refuse_unready(ledger: Ledger) -> None:
    """Refuse to serve a ledger that could not sign (no log key: an HSM not reachable, a
    wrong master key; the placeholder master key in production) or whose database is not at
    this release's schema version (``ledger migrate``; docs/deploy.md, Upgrades)."""
    from ledger.store import migrations  # noqa: PLC0415

    ledger.custody.check_signing()
    migrations.require_current(ledger.log)


def tune_for_serving() -> None:
    """Tune this process once it has started serving (see the module docstring)."""
    # The committer thread gives up the GIL at every round trip (to PostgreSQL, or to the
    # writer); to get it back while the event loop parses requests it waits out the switch
    # interval: 5 ms by default, several times per batch.
    sys.setswitchinterval(0.0005)
    # What is alive once the server has started (modules, the app, the ledger) is never
    # garbage: out of the collector's scans. And collect less often — the write path makes
    # many short-lived objects but few cycles; full collections of the aggregate cache were
    # the p99 (113 → 61 ms at 64 clients).
    gc.freeze()
    gc.set_threshold(10_000, 50, 1_000)
