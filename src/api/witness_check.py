"""``ledger verify --witnesses [--quorum K]``: ask each configured witness whether this log extends
what it cosigned (docs/design.md §5, Witnessing; formats: :mod:`ledger.log.witness`).

Each witness is sent the log's latest checkpoint as a C2SP ``add-checkpoint`` request, first from
``old 0``: a witness that has cosigned this log answers 409 with its size M. M larger than the
log's size is a rollback; otherwise the request is repeated from M with the consistency proof,
and a 422 (the proof from the tree it cosigned does not verify) is a fork. A 200 is a
cosignature of the current checkpoint: that witness agrees (the line is kept with the
checkpoint, as the server's push task keeps them). The answer names, for a witness in
disagreement, its size and the newest checkpoint of this log that it is known to have
cosigned (a stored cosignature line of its key that verifies over the stored checkpoint).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from ledger.app import Ledger
from ledger.errors import LedgerError
from ledger.log.checkpoint import SignedNote, VerifierKey, verify_note
from ledger.log.store import StoredCheckpoint
from ledger.log.witness import (
    Conflict,
    Cosigned,
    LogRollbackError,
    Refused,
    WitnessEndpoint,
    add_checkpoint_body,
    fork,
    parse_witnesses,
    read_answer,
    rollback,
)

_TIMEOUT = 30.0
RETRIES = 3  # 409s followed in one exchange (a witness that moves on between them is odd)
_PROBES = 64  # look-ups of the binary search for a witness's last consistent checkpoint


@dataclass(frozen=True)
class WitnessAnswer:
    """What one witness said: its size, and an alarm (rollback or fork) or an error."""

    witness: str
    size: int | None
    alarm: LogRollbackError | None = None
    error: str | None = None

    @property
    def agrees(self) -> bool:
        """The witness cosigned the log's latest checkpoint."""
        return self.alarm is None and self.error is None

    def describe(self) -> str:
        """One line for people."""
        if self.alarm is not None:
            return str(self.alarm)
        if self.error is not None:
            return f"witness {self.witness}: no answer ({self.error})"
        return f"witness {self.witness}: cosigned size {self.size}"


def _consistent(ledger: Ledger, vkey: VerifierKey, size: int) -> bool:
    """Whether the stored checkpoint of ``size`` carries a line of ``vkey`` that verifies over it
    and this log's tree of ``size`` leaves still has that checkpoint's root."""
    stored = ledger.log.checkpoint_at_most(size)
    if stored is None or stored.size != size:
        return False
    for text in ledger.log.cosignatures(size):
        try:
            note = SignedNote.parse(stored.note + text)
            line = note.signatures[-1]
            if (line.name, line.key_id) != (vkey.name, vkey.key_id):
                continue
            verify_note(SignedNote(note.checkpoint, (line,)), [vkey])
            return (note.checkpoint.size == size
                    and note.checkpoint.root == ledger.proofs.root_at(size))
        except LedgerError:  # a line that does not verify; nodes missing for that size
            continue
    return False


def last_cosigned(ledger: Ledger, vkey: VerifierKey, at_most: int,
                  probes: int = _PROBES) -> int | None:
    """The newest stored checkpoint of at most ``at_most`` leaves that the witness of ``vkey``
    validly cosigned and that this log still extends (its root is the log's at its size); None
    if there is none.

    A bounded binary search over the witness's stored cosignatures rather than a walk back over
    checkpoints: whether the newest cosigned size at most ``k`` is consistent with the log holds
    up to the point where the log was rewritten and fails after it (a prefix of a tree is in
    every larger tree), so ``probes`` indexed look-ups (each the largest cosigned size at most
    ``k``, then its check) cover any length of history. Every answer is checked; lines planted
    in the database can only make it an older checkpoint, never one the log does not extend.
    """
    name, key_id = vkey.name, vkey.key_id.hex()

    def newest(k: int) -> int | None:
        return ledger.log.cosigned_at_most(name, key_id, k)

    top = newest(at_most)
    if top is None:
        return None
    if _consistent(ledger, vkey, top):
        return top
    low, high = -1, top  # the answer is newest(low) (None below 0); high is known bad
    for _ in range(probes):
        if high - low <= 1:
            break
        middle = (low + high) // 2
        found = newest(middle)
        if found is None:
            low = middle
        elif _consistent(ledger, vkey, found):
            low = max(middle, found)
        else:
            high = found
    return None if low < 0 else newest(low)


def store_cosignatures(ledger: Ledger, size: int, answer: Cosigned) -> None:
    """Keep a witness's verified cosignature lines of the checkpoint of ``size``."""
    added_at = ledger.now()
    for line in answer.lines:
        ledger.log.put_cosignature(size, line.name, line.key_id.hex(), line.line(), added_at)


@dataclass(frozen=True)
class Exchange:
    """How an ``add-checkpoint`` exchange with a witness ended, its 409s followed: the last
    answer read, the size last sent as ``old`` and the last response's HTTP status."""

    answer: Cosigned | Conflict | Refused
    old: int
    status: int


async def exchange(ledger: Ledger, client: httpx.AsyncClient, witness: WitnessEndpoint,
                   stored: StoredCheckpoint, old: int) -> Exchange | None:
    """Send ``witness`` the checkpoint ``stored`` from ``old`` (with the consistency proof),
    following a 409 that names another size no larger than the checkpoint's up to
    :data:`RETRIES` times; None if the witness kept changing its size. What the ending means
    (a cosignature, a rollback, a fork, a refusal) is the caller's to say; transport and proof
    errors propagate."""
    note = SignedNote.parse(stored.note)
    for _ in range(RETRIES):
        proof = [] if old in (0, stored.size) else await asyncio.to_thread(
            ledger.proofs.consistency_proof, old, stored.size)
        response = await client.post(witness.add_checkpoint_url,
                                     content=add_checkpoint_body(old, proof, stored.note),
                                     headers={"Content-Type": "text/plain; charset=utf-8"})
        answer = read_answer(response.status_code, response.headers.get("content-type", ""),
                             response.content, note, witness.vkey)
        if isinstance(answer, Conflict) and old != answer.size <= stored.size:
            old = answer.size
            continue
        return Exchange(answer, old, response.status_code)
    return None


async def ask_witness(ledger: Ledger, witness: WitnessEndpoint,  # noqa: PLR0911 - one per answer
                      client: httpx.AsyncClient) -> WitnessAnswer:
    """Send ``witness`` the latest checkpoint (from 0, then from the size it names)."""
    stored = await asyncio.to_thread(ledger.trusted_checkpoint)
    if stored is None:
        return WitnessAnswer(witness.describe(), None, error="this log has no checkpoint yet")
    try:
        ended = await exchange(ledger, client, witness, stored, 0)
    except httpx.HTTPError as exc:
        return WitnessAnswer(witness.describe(), None, error=f"{type(exc).__name__}: {exc}")
    if ended is None:
        return WitnessAnswer(witness.describe(), None,
                             error="the witness kept changing its size")
    answer, old = ended.answer, ended.old
    if isinstance(answer, Cosigned):  # kept, as the server's push task keeps them
        await asyncio.to_thread(store_cosignatures, ledger, stored.size, answer)
        return WitnessAnswer(witness.describe(), stored.size)
    if isinstance(answer, Conflict) and answer.size > stored.size:
        known = await asyncio.to_thread(last_cosigned, ledger, witness.vkey, stored.size)
        return WitnessAnswer(witness.describe(), answer.size, alarm=rollback(
            witness.describe(), answer.size, stored.size, known))
    if isinstance(answer, Refused) and answer.status == 422 and old > 0:
        known = await asyncio.to_thread(last_cosigned, ledger, witness.vkey, old)
        return WitnessAnswer(witness.describe(), old, alarm=fork(
            witness.describe(), old, stored.size, known,
            f"it refuses the consistency proof from {old}: {answer.reason}"))
    reason = answer.reason if isinstance(answer, Refused) else "409 again"
    return WitnessAnswer(witness.describe(), None, error=f"HTTP {ended.status}: {reason}")


async def check_witnesses(ledger: Ledger, witnesses: Sequence[WitnessEndpoint], *,
                          transport: httpx.AsyncBaseTransport | None = None,
                          ) -> list[WitnessAnswer]:
    """Ask every witness at once; answers in configured order."""
    async with httpx.AsyncClient(transport=transport, timeout=_TIMEOUT) as client:
        return list(await asyncio.gather(*(ask_witness(ledger, w, client) for w in witnesses)))


def run_check(ledger: Ledger, witnesses: Sequence[WitnessEndpoint],
              quorum: int | None) -> tuple[bool, list[WitnessAnswer]]:
    """:func:`check_witnesses` for the CLI: ok iff no witness shows a rollback or a fork and
    at least ``quorum`` (default: all) cosigned the latest checkpoint."""
    if not witnesses:
        raise LedgerError("no witness is configured: set LEDGER_WITNESSES (NAME URL VKEY;…)")
    answers = asyncio.run(check_witnesses(ledger, witnesses))
    needed = len(witnesses) if quorum is None else quorum
    agreeing = sum(answer.agrees for answer in answers)
    return (all(answer.alarm is None for answer in answers) and agreeing >= needed), answers




def verify_command(ledger: Ledger, quorum: int | None, *, quiet: bool,
                   write: Callable[[str], object]) -> tuple[bool, dict[str, Any]]:
    """``ledger verify --witnesses``: ask the configured witnesses, print one line each (unless
    ``quiet``) through ``write``, and return (ok, the JSON of the answers)."""
    try:
        ok, answers = run_check(ledger, parse_witnesses(ledger.settings.witnesses), quorum)
    except LedgerError as exc:
        if not quiet:
            write(f"WITNESSES FAILED: {exc}")
        return False, {"ok": False, "error": str(exc), "witnesses": []}
    rows = [{"witness": a.witness, "size": a.size, "agrees": a.agrees, "error": a.error,
             "alarm": None if a.alarm is None else a.alarm.to_json(),
             "message": a.describe()} for a in answers]
    if not quiet:
        for answer in answers:
            mark = "OK" if answer.agrees else ("ROLLED BACK" if answer.alarm else "NO ANSWER")
            known = ""
            if answer.alarm is not None:
                last = answer.alarm.last_consistent
                known = (f"; the last checkpoint it is known to have cosigned: size {last}"
                         if last is not None else "; no checkpoint it cosigned is held here")
            write(f"{mark}: {answer.describe()}{known}")
        agreeing = sum(a.agrees for a in answers)
        needed = len(answers) if quorum is None else quorum
        write(f"{'OK' if ok else 'FAILED'}: {agreeing} of {len(answers)} witness(es) cosigned"
              f" the latest checkpoint, {needed} required")
    return ok, {"ok": ok, "quorum": quorum, "witnesses": rows}


__all__ = ["WitnessAnswer", "ask_witness", "check_witnesses", "last_cosigned", "run_check",
           "store_cosignatures", "verify_command"]
