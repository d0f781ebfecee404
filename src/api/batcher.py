"""Group commit in the server: concurrent filings share one transaction.

Request handlers hand their signed filing to :class:`GroupCommitter` and wait. One committer
thread takes the first waiting filing, gathers more for at most ``max_wait`` seconds or until
``max_batch`` filings, and appends them with :meth:`Ledger.submit_many` — one lock, one
transaction, one checkpoint — then gives each request its own receipt or its own refusal. The
queue is bounded: when it is full the server sheds load (503 with ``Retry-After``) instead of
queueing without bound.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass

from ledger.app import Ledger, Receipt, SignedFiling
from ledger.errors import LedgerError

_log = logging.getLogger("api.batcher")


class OverloadedError(LedgerError):
    """Raised when the commit queue is full: retry after a moment."""

    def __init__(self, waiting: int) -> None:
        self.waiting = waiting
        super().__init__(f"{waiting} filings are waiting to be committed; retry in a second")


@dataclass(frozen=True)
class _Job:
    filing: SignedFiling
    result: Future[Receipt | LedgerError]


class GroupCommitter:
    """Batches filings from concurrent requests into group commits."""

    def __init__(self, ledger: Ledger, *, max_batch: int = 100, max_wait: float = 0.005,
                 max_queue: int = 2000,
                 on_batch: object = None) -> None:
        self.ledger = ledger
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=max_queue)
        self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
        self._stopped = threading.Event()
        self.batches = 0
        self.on_batch = on_batch
        self._thread.start()

    def submit(self, filing: SignedFiling, timeout: float = 30.0) -> Receipt:
        """Append one filing through the next group commit; raise its refusal."""
        job = _Job(filing, Future())
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            raise OverloadedError(self._queue.qsize()) from None
        result = job.result.result(timeout=timeout)
        if isinstance(result, LedgerError):
            raise result
        return result

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._stopped.is_set()

    def close(self) -> None:
        """Finish the queued filings and stop the thread (idempotent)."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException:
            _log.exception("the group-commit thread stopped")
            raise

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            jobs = [first]
            deadline = time.monotonic() + self.max_wait
            while len(jobs) < self.max_batch:
                remaining = deadline - time.monotonic()
                try:
                    job = self._queue.get(timeout=max(remaining, 0)) if remaining > 0 else (
                        self._queue.get_nowait())
                except queue.Empty:
                    break
                if job is None:
                    self._queue.put(None)  # keep the stop marker for the outer loop
                    break
                jobs.append(job)
            self._commit(jobs)

    def _commit(self, jobs: list[_Job]) -> None:
        try:
            results = self.ledger.submit_many([j.filing for j in jobs])
        except Exception as exc:
            _log.exception("group commit of %d filings failed", len(jobs))
            for job in jobs:
                job.result.set_exception(exc)
            return
        self.batches += 1
        if callable(self.on_batch):
            self.on_batch(len(jobs))
        for job, result in zip(jobs, results, strict=True):
            job.result.set_result(result)
