"""Reminders inside ``ledger serve``: every ``LEDGER_REMIND_EVERY`` seconds, ``ledger remind``.

For a deployment without a systemd timer. The loop is a daemon thread of the API process, off
the filing path; each round is one :meth:`ledger.service.reminders.Reminders.run` (which sends
each reminder once, however often it runs), and a round that fails is logged and the next one
goes ahead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

_log = logging.getLogger("ledger.reminders")


class ReminderLoop:
    """Runs ``run`` every ``every`` seconds on a thread until :meth:`stop`."""

    def __init__(self, run: Callable[[], object], every: float) -> None:
        self._run = run
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="reminders", daemon=True)
        self.rounds = 0

    def start(self) -> ReminderLoop:
        """Start the thread; returns self."""
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self._run()
            except Exception:  # a failed round is logged; the next one still runs
                _log.exception("reminder round failed")
            self.rounds += 1

    def stop(self) -> None:
        """Stop after the current round."""
        self._stop.set()
        self._thread.join(timeout=30)


def attach(ledger: Any, *, serving: bool) -> Callable[[], None]:
    """Start the reminder loop for a server's ledger if ``LEDGER_REMIND_EVERY`` asks for it
    (``serving``: the app opened its own ledger, as ``ledger serve`` does); returns what stops
    it."""
    every = ledger.settings.remind_every
    if not serving or not every:
        return lambda: None
    from ledger.service.reminders import Reminders  # noqa: PLC0415

    return ReminderLoop(Reminders(ledger).run, float(every)).start().stop


__all__ = ["ReminderLoop", "attach"]
