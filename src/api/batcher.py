"""Group commit in the server: concurrent filings share one transaction.

Request handlers hand their filing to :class:`GroupCommitter` and wait. One committer thread
takes the first waiting job, gathers more for at most ``max_wait`` seconds or until
``max_batch`` jobs, and passes them to ``commit`` (:meth:`LedgerService.file_many`: one lock,
one transaction, one checkpoint) — then gives each request its own result or its own refusal.

An ``async`` handler awaits :meth:`GroupCommitter.file` on the event loop: no worker thread
waits for it, and the committer wakes each loop once per batch. The queue is bounded: when it
is full the server sheds load (503 with ``Retry-After``) instead of queueing without bound.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ledger.errors import LedgerError

_log = logging.getLogger("api.batcher")

J = TypeVar("J")
R = TypeVar("R")


class OverloadedError(LedgerError):
    """Raised when the commit queue is full: retry after a moment."""

    def __init__(self, waiting: int) -> None:
        self.waiting = waiting
        super().__init__(f"{waiting} filings are waiting to be committed; retry in a second")


@dataclass(eq=False)
class _Waiter(Generic[R]):
    """Where one job's outcome goes: a thread's future or an event loop's future."""

    loop: asyncio.AbstractEventLoop | None = None
    future: asyncio.Future[R] | Future[R] = field(default_factory=Future)


@dataclass(frozen=True, eq=False)
class _Job(Generic[J, R]):
    item: J
    waiter: _Waiter[R]
    queued_at: float = field(default_factory=time.monotonic)


class GroupCommitter(Generic[J, R]):
    """Batches jobs from concurrent requests into group commits.

    ``commit`` takes a batch and returns, position by position, each job's result or the
    exception that refused it (a :class:`LedgerError`); an exception it raises fails the
    whole batch.
    """

    def __init__(self, commit: Callable[[Sequence[J]], Sequence[R | Exception]], *,
                 max_batch: int = 100, max_wait: float = 0.005, max_queue: int = 2000,
                 on_batch: Callable[[int], object] | None = None) -> None:
        self.commit = commit
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.max_queue = max_queue
        self.on_batch = on_batch
        self.batches = 0
        # A deque and one condition: cheaper per job than queue.Queue's three conditions.
        self._jobs: deque[_Job[J, R] | None] = deque()
        self._ready = threading.Condition(threading.Lock())
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
        self._thread.start()

    def submit(self, item: J, timeout: float = 30.0) -> R:
        """Commit one job through the next group commit (blocking); raise its refusal."""
        waiter: _Waiter[R] = _Waiter()
        self._put(_Job(item, waiter))
        future = waiter.future
        assert isinstance(future, Future)
        return future.result(timeout=timeout)

    async def file(self, item: J) -> R:
        """Commit one job through the next group commit, awaited on the running loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._put(_Job(item, _Waiter(loop, future)))
        return await future

    def _put(self, job: _Job[J, R]) -> None:
        with self._ready:
            if self._stopped.is_set():
                raise OverloadedError(len(self._jobs))
            if len(self._jobs) >= self.max_queue:
                raise OverloadedError(len(self._jobs))
            self._jobs.append(job)
            if len(self._jobs) == 1:
                self._ready.notify()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._stopped.is_set()

    def close(self) -> None:
        """Finish the queued jobs and stop the thread (idempotent)."""
        with self._ready:
            if self._stopped.is_set():
                return
            self._stopped.set()
            self._jobs.append(None)
            self._ready.notify()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            while (jobs := self._gather()) is not None:
                if jobs:
                    self._commit(jobs)
        except BaseException:
            _log.exception("the group-commit thread stopped")
            raise

    def _gather(self) -> list[_Job[J, R]] | None:
        """The next batch: every waiting job, and more until the oldest has waited
        ``max_wait`` (jobs that waited through the last commit go at once). None once
        stopped and drained."""
        jobs: list[_Job[J, R]] = []
        with self._ready:
            while not self._jobs:
                self._ready.wait()
            first = self._jobs[0]
            deadline = (first.queued_at if first is not None else time.monotonic()) + (
                self.max_wait)
            while len(jobs) < self.max_batch:
                if not self._jobs:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not self._ready.wait(remaining) or not self._jobs:
                        break
                job = self._jobs.popleft()
                if job is None:
                    if jobs:  # commit these first; stop on the next call
                        self._jobs.appendleft(None)
                        return jobs
                    return None
                jobs.append(job)
        return jobs

    def _commit(self, jobs: list[_Job[J, R]]) -> None:
        try:
            results: Sequence[R | BaseException] = self.commit(
                [job.item for job in jobs])
        except Exception as exc:
            _log.exception("group commit of %d jobs failed", len(jobs))
            results = [exc] * len(jobs)
        else:
            self.batches += 1
            if self.on_batch is not None:
                self.on_batch(len(jobs))
        by_loop: dict[asyncio.AbstractEventLoop,
                      list[tuple[asyncio.Future[R], R | BaseException]]] = {}
        for job, result in zip(jobs, results, strict=True):
            waiter = job.waiter
            if waiter.loop is None:
                future = waiter.future
                assert isinstance(future, Future)
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)
            else:
                by_loop.setdefault(waiter.loop, []).append(
                    (waiter.future, result))  # type: ignore[arg-type]
        for loop, settled in by_loop.items():
            try:  # one wake-up of each loop per batch, not one per job
                loop.call_soon_threadsafe(_settle, settled)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                continue


def _settle(settled: list[tuple[asyncio.Future[R], R | BaseException]]) -> None:
    """Runs on the waiting loop: give each awaiting request its outcome."""
    for future, result in settled:
        if future.done():  # the request was cancelled (client went away)
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)
