"""The server pushes its checkpoints to its witnesses (C2SP tlog-witness), off the filing path
(docs/design.md §5, Witnessing; the formats: :mod:`ledger.log.witness`).

A background task of the API process wakes every ``LEDGER_WITNESS_INTERVAL`` seconds. When the
log's latest checkpoint is newer than what a witness last cosigned, it sends that witness one
``add-checkpoint`` request (``old`` = the size the witness cosigned, the consistency proof from
it, the note), so however many checkpoints were signed in between, each witness gets at most one
request per interval. A returned cosignature is verified under the witness's configured key
and stored (``log_cosignatures``); ``GET /log/checkpoint``, ``GET /checkpoint`` and evidence
bundles serve it with the note. A 409 names the witness's size: the push is retried from there
when it is at most the log's size (the first push after a start learns the size this way).

**Rollback halts the ledger.** A witness that holds a larger tree than the log (a 409 with a
larger size, or a size cosigned earlier in this process that the log no longer reaches), or that
refuses the log's consistency proof from the size it holds (422: the log does not extend what
it cosigned), proves that cosigned entries were removed. The task then logs an error, the
server refuses every filing with 503 (:class:`~ledger.log.witness.LogRollbackError`, naming the
witness, its size and the log's) and ``/readyz`` fails, until an operator has investigated and
restarted it.

**A starting server waits for its witnesses.** A rollback made while the server was down is only
seen when a witness answers, so a server with witnesses configured refuses filings (503
``witness-check-pending``, :class:`~ledger.log.witness.WitnessCheckPendingError`, with
``Retry-After``) and ``/readyz`` fails until, in this process, a quorum of witnesses
(``LEDGER_WITNESS_QUORUM``, default all) has cosigned its latest checkpoint, which each does only
if the log extends what it cosigned before. Witnesses that do not answer within
``LEDGER_WITNESS_START_WAIT`` seconds leave it refusing filings and saying so (``strict``, the
default), or, with ``LEDGER_WITNESS_START=lenient``, taking them unconfirmed (weaker: a
rollback is then caught only once a witness answers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.problems import problem
from api.witness_check import exchange, last_cosigned, store_cosignatures
from ledger.app import Ledger
from ledger.errors import LedgerError
from ledger.log.store import StoredCheckpoint
from ledger.log.witness import (
    Conflict,
    Cosigned,
    LogRollbackError,
    Refused,
    WitnessCheckPendingError,
    WitnessEndpoint,
    fork,
    parse_witnesses,
    quorum_of,
    rollback,
)

_log = logging.getLogger("ledger.witnessing")
_TIMEOUT = 10.0
@dataclass(frozen=True)
class WitnessView:
    """What the log knows of one witness: the size it last cosigned and when, its last error."""

    name: str
    url: str
    vkey: str
    cosigned_size: int | None = None
    cosigned_at: float | None = None
    """POSIX time of the newest cosignature (the witness's timestamp for cosignature/v1)."""
    error: str | None = None
    lags: tuple[float, ...] = ()
    """Seconds from first seeing a checkpoint to storing its cosignature (the newest 1000)."""


@dataclass(frozen=True)
class StartPolicy:
    """What a starting server waits for: ``quorum`` witnesses agreeing, for ``wait`` seconds,
    then ``strict`` (go on refusing filings) or not (take them unconfirmed)."""

    quorum: int
    wait: float
    strict: bool = True


class Witnessing:
    """The push task of one server over its ledger and configured witnesses."""

    def __init__(self, ledger: Ledger, witnesses: tuple[WitnessEndpoint, ...],
                 interval: float, *, transport: httpx.AsyncBaseTransport | None = None,
                 on_halt: Callable[[LedgerError | None], None] | None = None,
                 clock: Callable[[], float] = time.time,
                 policy: StartPolicy | None = None) -> None:
        self.ledger = ledger
        self.witnesses = witnesses
        self.interval = interval
        self.halt: LogRollbackError | None = None
        self.policy = policy or StartPolicy(len(witnesses), 30.0)
        self.pending: WitnessCheckPendingError | None = None
        """Set from :meth:`start` until the quorum agreed (or the lenient wait ran out)."""
        self._started = time.monotonic()
        self._agreed: set[str] = set()  # witnesses that cosigned this log since the start
        self._on_halt = on_halt
        self._clock = clock
        self._views = {w.name: WitnessView(w.name, w.url, w.vkey.encode()) for w in witnesses}
        self._seen: dict[int, float] = {}  # checkpoint size -> monotonic time first seen
        self._client = httpx.AsyncClient(transport=transport, timeout=_TIMEOUT)
        self._task: asyncio.Task[None] | None = None

    # --- reads ----------------------------------------------------------------------------

    def views(self) -> list[WitnessView]:
        """Each witness as the log knows it now, in configured order."""
        return [self._views[w.name] for w in self.witnesses]

    # --- the task ---------------------------------------------------------------------------

    @property
    def gate(self) -> LedgerError | None:
        """Why filings are refused now: the rollback alarm, else the pending start check."""
        return self.halt or self.pending

    def start(self) -> None:
        """Start pushing (on the running event loop); filings wait for the witnesses first."""
        self._started = time.monotonic()
        self.pending = self._pending(0.0)
        self._tell()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="witnessing")

    def _tell(self) -> None:
        if self._on_halt is not None:
            self._on_halt(self.gate)

    def _pending(self, waited: float) -> WitnessCheckPendingError:
        needed, agreeing = self.policy.quorum, len(self._agreed)
        doing = (f"waiting for {needed} of {len(self.witnesses)} witness(es) to confirm that"
                 f" this log extends what they cosigned ({agreeing} so far)")
        if waited >= self.policy.wait:
            errors = "; ".join(f"{v.name}: {v.error}" for v in self.views()
                               if v.error is not None and v.name not in self._agreed)
            doing = (f"no quorum of witnesses after {waited:.0f} s: filings stay refused"
                     f" (LEDGER_WITNESS_START=strict) until {needed} of"
                     f" {len(self.witnesses)} witness(es) confirm this log ({agreeing} so"
                     f" far){'; ' + errors if errors else ''}")
        return WitnessCheckPendingError(
            f"witness check pending: {doing}", waited=waited, quorum=needed,
            agreeing=agreeing, retry_after=max(1, math.ceil(self.interval)))

    def _settle(self) -> None:
        """After a round: lift the start check once the quorum agreed, or apply the policy
        once the wait ran out."""
        if self.pending is None or self.halt is not None:
            return
        waited = time.monotonic() - self._started
        if len(self._agreed) >= self.policy.quorum:
            self.pending = None
            _log.info("witnesses %s agree with the log: taking filings",
                      ", ".join(sorted(self._agreed)))
        elif waited >= self.policy.wait and not self.policy.strict:
            self.pending = None
            _log.warning("LEDGER_WITNESS_START=lenient: taking filings although only %d of %d"
                         " witness(es) confirmed the log after %.0f s", len(self._agreed),
                         self.policy.quorum, waited)
        else:
            late = waited >= self.policy.wait and self.pending.waited < self.policy.wait
            self.pending = self._pending(waited)
            if late:
                _log.error("filings refused: %s", self.pending)
        self._tell()

    async def stop(self) -> None:
        """Stop pushing and close the HTTP client."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._client.aclose()

    async def _run(self) -> None:
        while self.halt is None:
            started = time.monotonic()
            try:
                await self.push_once()
            except Exception:  # the task must outlive any one bad round
                _log.exception("pushing checkpoints to the witnesses failed")
            self._settle()
            await asyncio.sleep(max(0.0, self.interval - (time.monotonic() - started)))

    async def push_once(self) -> None:
        """One round: the latest checkpoint to every witness that has not cosigned it."""
        if self.halt is not None:
            return
        try:
            stored = await asyncio.to_thread(self.ledger.trusted_checkpoint)
        except LedgerError as exc:
            _log.error("cannot read the latest checkpoint to push it: %s", exc)
            return
        if stored is None:
            return
        now = time.monotonic()
        self._seen.setdefault(stored.size, now)
        for size in [s for s in self._seen if s < stored.size - 10_000 or now - self._seen[s]
                     > 3600]:
            del self._seen[size]
        await asyncio.gather(*(self._push(w, stored) for w in self.witnesses
                               if self._views[w.name].cosigned_size != stored.size))

    async def _push(self, witness: WitnessEndpoint, stored: StoredCheckpoint) -> None:
        view = self._views[witness.name]
        old = view.cosigned_size or 0
        if old > stored.size:  # it cosigned more than the log now holds
            await self._alarm(witness, old, stored)
            return
        try:
            ended = await exchange(self.ledger, self._client, witness, stored, old)
        except (httpx.HTTPError, LedgerError, OSError) as exc:
            self._views[witness.name] = replace(view, error=f"{type(exc).__name__}: {exc}")
            return
        if ended is None:
            self._views[witness.name] = replace(view, error="the witness kept changing its size")
            return
        answer, old = ended.answer, ended.old
        if isinstance(answer, Cosigned):
            await self._store(witness, stored, answer)
            return
        if isinstance(answer, Conflict) and answer.size > stored.size:
            await self._alarm(witness, answer.size, stored)
            return
        if isinstance(answer, Refused) and answer.status == 422 and old > 0:
            known = await asyncio.to_thread(last_cosigned, self.ledger, witness.vkey, old)
            self._halt(fork(witness.describe(), old, stored.size, known,
                            f"it refuses the consistency proof from {old}: {answer.reason}"))
            return
        reason = (answer.reason if isinstance(answer, Refused)
                  else f"409 at the size sent ({answer.size})")
        self._views[witness.name] = replace(view, error=f"HTTP {ended.status}: {reason}")
        _log.warning("witness %s did not cosign size %d: %s", witness.name, stored.size, reason)

    async def _store(self, witness: WitnessEndpoint, stored: StoredCheckpoint,
                     answer: Cosigned) -> None:
        await asyncio.to_thread(store_cosignatures, self.ledger, stored.size, answer)
        view = self._views[witness.name]
        lag = time.monotonic() - self._seen.get(stored.size, time.monotonic())
        self._agreed.add(witness.name)
        self._views[witness.name] = replace(
            view, cosigned_size=stored.size, error=None, lags=(*view.lags[-999:], lag),
            cosigned_at=float(answer.timestamp) if answer.timestamp is not None
            else self._clock())

    async def _alarm(self, witness: WitnessEndpoint, size: int, stored: StoredCheckpoint) -> None:
        """A witness holds ``size`` > the checkpoint read: a rollback, unless the log moved on
        meanwhile (another process of this server pushed a newer checkpoint first)."""
        latest = await asyncio.to_thread(self.ledger.log.latest_checkpoint)
        ours = 0 if latest is None else latest.size
        if ours >= size:
            return
        known = await asyncio.to_thread(last_cosigned, self.ledger, witness.vkey, ours)
        self._halt(rollback(witness.describe(), size, ours, known))

    def _halt(self, alarm: LogRollbackError) -> None:
        if self.halt is None:
            self.halt = alarm
            _log.error("LEDGER HALTED, filings refused: %s", alarm)
            self._tell()


def attach(app: FastAPI, ledger: Ledger, *,
           on_halt: Callable[[LedgerError | None], None]) -> Witnessing | None:
    """Build the push task from the ledger's settings (None when no witness is configured)
    and keep it on ``app.state.witnessing``; :meth:`Witnessing.start` runs it, and tells
    ``on_halt`` why filings are refused (None: they are not). An HTTP transport put on
    ``app.state.witness_transport`` beforehand is used (a witness served in-process)."""
    settings = ledger.settings
    witnesses = parse_witnesses(settings.witnesses)
    transport = getattr(app.state, "witness_transport", None)
    found = (Witnessing(ledger, witnesses, settings.witness_interval,
                        on_halt=on_halt, transport=transport, policy=StartPolicy(
                            quorum_of(len(witnesses), settings.witness_quorum),
                            settings.witness_start_wait, settings.witness_start == "strict"))
             if witnesses else None)
    app.state.witnessing = found
    return found


def halted(app: Any) -> LogRollbackError | None:
    """The alarm that halted this server, if any."""
    found: Witnessing | None = getattr(app.state, "witnessing", None)
    return None if found is None else found.halt


def pending(app: Any) -> WitnessCheckPendingError | None:
    """Why a starting server does not take filings yet, if it does not."""
    found: Witnessing | None = getattr(app.state, "witnessing", None)
    return None if found is None else found.pending


def pending_problem(exc: WitnessCheckPendingError) -> JSONResponse:
    """503 problem+json with ``Retry-After``: the start check with the witnesses is not done."""
    return problem(503, "witness-check-pending", "Witness check pending: filings wait for the"
                   " witnesses to confirm the log", str(exc),
                   headers={"Retry-After": str(exc.retry_after)}, quorum=exc.quorum,
                   agreeing=exc.agreeing, waited_seconds=round(exc.waited, 1))


def rollback_problem(alarm: LogRollbackError) -> JSONResponse:
    """503 problem+json naming the witness, its size and the log's."""
    return problem(503, "log-rolled-back", "The log was rolled back: filings are halted",
                   str(alarm), witness=alarm.witness, witness_size=alarm.witness_size,
                   log_size=alarm.our_size, cause=alarm.kind,
                   last_consistent_checkpoint=alarm.last_consistent)


def install(app: FastAPI) -> None:
    """Map :class:`LogRollbackError` to :func:`rollback_problem` and
    :class:`WitnessCheckPendingError` to :func:`pending_problem` on ``app``."""

    @app.exception_handler(LogRollbackError)
    async def _rolled_back(_: Request, exc: LogRollbackError) -> JSONResponse:
        return rollback_problem(exc)

    @app.exception_handler(WitnessCheckPendingError)
    async def _pending(_: Request, exc: WitnessCheckPendingError) -> JSONResponse:
        return pending_problem(exc)


__all__ = ["StartPolicy", "WitnessView", "Witnessing", "attach", "halted", "install", "pending",
           "pending_problem", "rollback_problem"]
