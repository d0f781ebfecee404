"""A server's writes in a process of their own: the writer.

Python runs one thread at a time per process. In one process, the event loop (HTTP, tokens,
bodies, reads) and the group committer (access checks, custodial signing, decisions, the
append) shared one interpreter lock, and a server used about one core however many it had
(docs/performance.md, issue 4). A server therefore passes each group commit to a writer
process over a pipe: the API process keeps HTTP and the reads; the writer keeps the write
side — its cached aggregates, the custodial keys in use, the log's head — and answers each
batch with one result per filing (:meth:`LedgerService.file_many`). The writer writes to the
same database as any other process would (docs/design.md §8: the database's lock is the sequencer).

One writer per API process, started with it and stopped with it. If the writer dies, the
batch it had is answered 503 (retry: a retry with the same nonce is idempotent) and the next
batch starts a new one.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import threading
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

from api.observability import configure_logging
from api.outages import is_outage
from api.services import Actor, EventInput, Filed, LedgerService
from api.serving import tune_for_serving
from ledger.app import Ledger
from ledger.errors import DatabaseUnavailableError, LedgerError
from ledger.settings import Settings

_log = logging.getLogger("api.writer")

Batch = Sequence[tuple[Actor, EventInput]]


class WriterUnavailableError(LedgerError):
    """Raised when the writer process stopped before answering a batch (retry)."""

    def __init__(self, why: str) -> None:
        super().__init__(f"the ledger writer stopped ({why}); retry in a second")


class WriterProcess:
    """A writer process serving :meth:`file_many` for its API process."""

    def __init__(self, settings: Settings, *, start_timeout: float = 60.0) -> None:
        self.settings = settings
        self.start_timeout = start_timeout
        self._lock = threading.Lock()  # one batch in flight: the committer is the one caller
        self._conn: Connection | None = None
        self._process: Any = None
        self._closed = False
        self._start()

    def _start(self) -> None:
        # spawn, not fork: the API process has threads (the pool, the committer) by now.
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        process = context.Process(target=serve, args=(self.settings, theirs),
                                  name="ledger-writer", daemon=True)
        process.start()
        theirs.close()
        if not ours.poll(self.start_timeout):
            process.kill()
            raise RuntimeError(f"the ledger writer did not start in {self.start_timeout} s")
        try:
            ready = ours.recv()
        except EOFError:
            ready = "it exited while starting"
        if ready != "ready":
            process.join(5)
            raise RuntimeError(f"the ledger writer failed to start: {ready}")
        self._conn, self._process = ours, process

    @property
    def pid(self) -> int | None:
        """The writer's process id (for operators and tests)."""
        return None if self._process is None else int(self._process.pid)

    def file_many(self, requests: Batch) -> list[Filed | Exception]:
        """One group commit in the writer; each filing's result or refusal, in order."""
        with self._lock:
            if self._closed:
                raise WriterUnavailableError("the server is stopping")
            if self._conn is None:  # the last one died: a new writer for this batch
                try:
                    self._start()
                except RuntimeError as exc:
                    raise WriterUnavailableError(str(exc)) from None
            assert self._conn is not None
            try:
                self._conn.send(list(requests))
                results: list[Filed | Exception] = self._conn.recv()
            except (EOFError, OSError) as exc:
                self._lost(exc)
                raise WriterUnavailableError(type(exc).__name__) from None
            return results

    def _lost(self, exc: BaseException) -> None:
        _log.error("the ledger writer stopped (%s); a new one starts with the next batch",
                   type(exc).__name__)
        if self._conn is not None:
            self._conn.close()
        if self._process is not None:
            self._process.join(1)
        self._conn = self._process = None

    def close(self) -> None:
        """Stop the writer after the batch in flight (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            conn, process = self._conn, self._process
            self._conn = self._process = None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.send(None)
            conn.close()
        if process is not None:
            process.join(10)
            if process.is_alive():
                process.kill()


def serve(settings: Settings, conn: Connection) -> None:
    """The writer's main loop: a batch in, its results out, until told to stop or the API
    process goes away (its end of the pipe closes)."""
    # Ctrl-C in a terminal reaches the whole process group: the API process stops its writer
    # (after the batch in flight), so the writer itself ignores it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_logging()
    try:
        ledger = Ledger(settings)
        ledger.identity  # noqa: B018 - refuse to start on an uninitialised database
        service = LedgerService(ledger)
    except Exception as exc:  # reported to the API process, which refuses to start
        conn.send(f"{type(exc).__name__}: {exc}")
        return
    tune_for_serving()
    conn.send("ready")
    try:
        while True:
            try:
                batch = conn.recv()
            except EOFError:
                return
            if batch is None:
                return
            try:
                results: list[Filed | Exception] = service.file_many(batch)
            except Exception as exc:  # the batch fails; the writer goes on
                _log.exception("a group commit of %d filings failed", len(batch))
                results = [exc] * len(batch)
            try:
                conn.send([_portable(result) for result in results])
            except OSError:
                return  # the API process is gone
    finally:
        ledger.close()


def _portable(result: Filed | Exception) -> Filed | Exception:
    """A result that crosses the pipe: ledger errors pickle with their fields; anything else
    goes as a plain error carrying its type and message."""
    if isinstance(result, Exception) and not isinstance(result, LedgerError):
        if is_outage(result):  # answered 503 (api.problems), not 500
            return DatabaseUnavailableError(f"{type(result).__name__}: {result}")
        return RuntimeError(f"{type(result).__name__}: {result}")
    return result
