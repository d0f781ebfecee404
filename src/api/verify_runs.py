"""The log page's "verify now" (立即校验) as a background run, so that the page answers at once.

``ledger verify`` of a large ledger takes seconds to minutes: run inside the request, the page
would hang until then, or until a proxy in front gave up. :class:`BackgroundVerify` runs it
in a thread of the server process instead, one run at a time per process, and keeps how far
it has got; the page shows that, refreshing itself, until the result is kept (with its time,
as before: :meth:`api.services.LedgerService.run_verify`). A run that could not finish (the
database went away) leaves its reason for the page until the next run. Stopping the server
stops a run at its next page of entries; nothing is kept for it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace

from api.outages import is_outage
from api.services import Actor, LedgerService

log = logging.getLogger("ledger.verify")


@dataclass(frozen=True)
class VerifyProgress:
    """A run under way: who started it, when, and how many of the log's entries it has
    checked (``total``: the log's size when it started; 0 until the first page is read)."""

    by: str
    started_at: str
    checked: int = 0
    total: int = 0


class _Stopped(Exception):  # noqa: N818 - a signal to the run's thread, not an error
    """Raised from the progress callback to end a run when the server stops."""


class BackgroundVerify:
    """One ``ledger verify`` at a time in a thread of this process, for the log page."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: VerifyProgress | None = None
        self._error: str | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self, service: LedgerService, actor: Actor) -> bool:
        """Start a run by ``actor`` (admin or audit: refused otherwise, before anything
        starts); False if one is already under way in this process."""
        service.require_verifier(actor)
        with self._lock:
            if self._running is not None:
                return False
            self._running = VerifyProgress(actor.actor, service.ledger.now())
            self._error = None
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, args=(service, actor),
                                            name="ledger-verify", daemon=True)
            self._thread.start()
        return True

    def status(self) -> tuple[VerifyProgress | None, str | None]:
        """The run under way (None: none), and why the last one did not finish (None: it
        did, or none has run)."""
        with self._lock:
            return self._running, self._error

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the run under way to end; whether none is under way now."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.status()[0] is None

    def stop(self, timeout: float = 10.0) -> None:
        """End the run under way at its next page (the server is stopping)."""
        self._stop.set()
        self.wait(timeout)

    def _run(self, service: LedgerService, actor: Actor) -> None:
        def progress(checked: int, total: int) -> None:
            if self._stop.is_set():
                raise _Stopped
            with self._lock:
                if self._running is not None:
                    self._running = replace(self._running, checked=checked, total=total)

        error: str | None = None
        try:
            service.run_verify(actor, progress=progress)
        except _Stopped:
            pass
        except Exception as exc:  # the thread's last word: whatever ended it is shown, not lost
            if is_outage(exc):
                error = "database-unavailable"
                log.warning("ledger verify stopped: the database is unavailable (%s)", exc)
            else:
                error = "internal"
                log.exception("ledger verify stopped with an internal error")
        with self._lock:
            self._running, self._error = None, error


__all__ = ["BackgroundVerify", "VerifyProgress"]
