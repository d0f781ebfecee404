"""The log's side of C2SP tlog-witness (docs/design.md §5, Witnessing): which witnesses the ledger
pushes its checkpoints to, the ``add-checkpoint`` request it sends, how it reads the answers, and
what an answer means for the log. No I/O: the server's background task
(:mod:`api.witnessing`) and ``ledger verify --witnesses`` do the HTTP.

A witness is configured as ``NAME URL VKEY`` (``LEDGER_WITNESSES``, entries separated by ``;`` or
newlines): a label for people, the base URL of its ``/add-checkpoint``, and its verifier key
(``cosignature/v1``, type 0x04, or a plain Ed25519 note key, type 0x01).

The request (c2sp.org/tlog-witness §add-checkpoint) is ``old N``, the RFC 6962 consistency proof
from N (base64 lines), an empty line and the signed checkpoint. The answers:

* 200: signature lines; those under the witness's key must verify over the checkpoint body
  (:class:`Cosigned`);
* 409 with ``text/x.tlog.size``: the witness holds size M (:class:`Conflict`): the log retries
  from M when M is at most its own size; a larger M is a **rollback** of the log;
* 422: the consistency proof from the witness's size does not verify: the witness cosigned a
  tree this log does not extend, a **fork**;
* anything else: the witness refused or failed (:class:`Refused`); it is retried next time.

:class:`LogRollbackError` is what a rollback or a fork is reported as; it halts
the server's filings.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from ledger.errors import CheckpointError, ConfigurationError, LedgerError
from ledger.log.checkpoint import (
    COSIGNATURE_V1,
    Note,
    NoteSignature,
    SignedNote,
    VerifierKey,
    cosignature_timestamp,
    verify_note,
)

__all__ = [
    "SIZE_MEDIA_TYPE",
    "Conflict",
    "Cosigned",
    "LogRollbackError",
    "Refused",
    "WitnessCheckPendingError",
    "WitnessEndpoint",
    "add_checkpoint_body",
    "cosigned_by",
    "cosigned_note",
    "fork",
    "parse_witnesses",
    "quorum_of",
    "read_answer",
    "rollback",
]

SIZE_MEDIA_TYPE: Final = "text/x.tlog.size"
MAX_PROOF_LINES: Final = 63  # tlog-witness: "MUST NOT send more than 63 consistency proof lines"
_SIZE_BODY: Final = re.compile(r"(0|[1-9][0-9]{0,18})\n?")
_MAX_ANSWER_BYTES: Final = 64 * 1024


class LogRollbackError(LedgerError):
    """Raised when a witness shows that the log lost entries it had cosigned: it holds a larger
    tree than the log (``rollback``), or a tree the log does not extend (``fork``). The server
    refuses filings while it stands (503), and ``/readyz`` fails."""

    def __init__(self, witness: str, *, witness_size: int, our_size: int,
                 last_consistent: int | None, kind: str, message: str) -> None:
        self.witness = witness
        self.witness_size = witness_size
        self.our_size = our_size
        self.last_consistent = last_consistent
        self.kind = kind
        super().__init__(message)

    def to_json(self) -> dict[str, object]:
        """The fields a problem+json and ``ledger verify --witnesses --json`` carry."""
        return {"witness": self.witness, "witness_size": self.witness_size,
                "log_size": self.our_size, "last_consistent_checkpoint": self.last_consistent,
                "cause": self.kind}


class WitnessCheckPendingError(LedgerError):
    """Raised for a filing made before a starting server's witnesses have agreed with its log:
    a server restarted on a rolled-back database must not file on top of it before a witness
    has had the chance to say so. Answered 503 with ``Retry-After``; ``/readyz`` fails alike."""

    def __init__(self, message: str, *, waited: float, quorum: int, agreeing: int,
                 retry_after: int) -> None:
        self.waited = waited
        self.quorum = quorum
        self.agreeing = agreeing
        self.retry_after = retry_after
        super().__init__(message)


@dataclass(frozen=True)
class WitnessEndpoint:
    """A witness the log pushes to: a label, the base URL of its API and its verifier key."""

    name: str
    url: str
    vkey: VerifierKey

    @property
    def add_checkpoint_url(self) -> str:
        """``URL/add-checkpoint``."""
        return self.url.rstrip("/") + "/add-checkpoint"

    def describe(self) -> str:
        """``NAME (URL)`` for messages."""
        return f"{self.name} ({self.url})"


def parse_witnesses(text: str) -> tuple[WitnessEndpoint, ...]:
    """Parse ``NAME URL VKEY`` entries separated by ``;`` or newlines (blank ones ignored).

    Raises :class:`~ledger.errors.ConfigurationError` naming the bad entry: a wrong number of
    fields, a URL that is not http(s), a malformed key, a key type that cannot cosign, or a name
    used twice.
    """
    found: list[WitnessEndpoint] = []
    for number, entry in enumerate(re.split(r"[;\n]", text), 1):
        fields = entry.split()
        if not fields:
            continue
        if len(fields) != 3:
            raise ConfigurationError(f"LEDGER_WITNESSES entry {number} is not 'NAME URL VKEY':"
                                     f" got {entry.strip()!r}")
        name, url, vkey_text = fields
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ConfigurationError(f"witness {name}: the URL must be http(s)://HOST…, got"
                                     f" {url!r}")
        try:
            vkey = VerifierKey.parse(vkey_text)
        except CheckpointError as exc:
            raise ConfigurationError(f"witness {name}: bad verifier key: {exc.what}") from None
        if vkey.suite not in {COSIGNATURE_V1, "ed25519"}:
            raise ConfigurationError(f"witness {name}: a {vkey.suite} key cannot cosign; expected"
                                     " a cosignature/v1 (0x04) or Ed25519 (0x01) key")
        if any(known.name == name for known in found):
            raise ConfigurationError(f"witness {name} is configured twice")
        found.append(WitnessEndpoint(name, url, vkey))
    return tuple(found)


def add_checkpoint_body(old: int, proof: Sequence[bytes], note: str) -> bytes:
    """The ``add-checkpoint`` request body: ``old N``, the proof lines, an empty line, the note.

    ``note`` is the checkpoint signed by the log (its own signature lines only are needed).
    """
    if old < 0:
        raise ValueError(f"old size {old} is negative")
    if len(proof) > MAX_PROOF_LINES:
        raise ValueError(f"{len(proof)} proof hashes: at most {MAX_PROOF_LINES} may be sent")
    lines = [f"old {old}", *(base64.b64encode(node).decode("ascii") for node in proof)]
    return ("\n".join(lines) + "\n\n" + note).encode("utf-8")


@dataclass(frozen=True)
class Cosigned:
    """A 200 answer: the witness's verified cosignature lines and the time they state."""

    lines: tuple[NoteSignature, ...]
    timestamp: int | None


@dataclass(frozen=True)
class Conflict:
    """A 409 answer: the size the witness holds for this log."""

    size: int


@dataclass(frozen=True)
class Refused:
    """Any other answer: its status and the witness's reason (one line, cut short)."""

    status: int
    reason: str


def _reason(body: bytes) -> str:
    text = body[:300].decode("utf-8", "replace").strip()
    return " ".join(text.split()) or "no reason given"


def read_answer(status: int, content_type: str, body: bytes, note: SignedNote,
                vkey: VerifierKey) -> Cosigned | Conflict | Refused:
    """What an ``add-checkpoint`` answer says.

    A 200 must carry at least one line under ``vkey`` and every such line must verify over
    ``note``'s checkpoint body (else :class:`Refused` with status 200: the witness misbehaves,
    nothing is stored); other lines are ignored. A 409 must be ``text/x.tlog.size`` with a
    decimal size (else :class:`Refused`).
    """
    if len(body) > _MAX_ANSWER_BYTES:
        return Refused(status, f"the answer exceeds {_MAX_ANSWER_BYTES} bytes")
    if status == 409:
        media = content_type.split(";", maxsplit=1)[0].strip().lower()
        text = body.decode("ascii", "replace")
        found = _SIZE_BODY.fullmatch(text)
        if media != SIZE_MEDIA_TYPE or found is None:
            return Refused(409, f"a 409 without a {SIZE_MEDIA_TYPE} size: {_reason(body)}")
        return Conflict(int(found.group(1)))
    if status != 200:
        return Refused(status, _reason(body))
    return _read_cosigned(body, note, vkey)


def _read_cosigned(body: bytes, note: SignedNote, vkey: VerifierKey) -> Cosigned | Refused:
    """A 200 answer's lines under ``vkey``, each verified over the checkpoint body."""
    try:
        text = body.decode("utf-8")
        lines = Note.parse(note.checkpoint.body().decode("utf-8") + "\n" + text).signatures
        mine = tuple(line for line in lines
                     if (line.name, line.key_id) == (vkey.name, vkey.key_id))
        if not mine:
            return Refused(200, f"no signature line under {vkey.encode()}")
        for line in mine:
            verify_note(SignedNote(note.checkpoint, (line,)), [vkey])
    except (UnicodeDecodeError, CheckpointError) as exc:
        what = exc.what if isinstance(exc, CheckpointError) else "not UTF-8"
        return Refused(200, f"the cosignature does not verify: {what}")
    stamp = cosignature_timestamp(mine[-1]) if vkey.suite == COSIGNATURE_V1 else None
    return Cosigned(mine, stamp)


def rollback(witness: str, witness_size: int, our_size: int,
             last_consistent: int | None) -> LogRollbackError:
    """The alarm for a witness holding a larger tree than the log has: entries were removed."""
    return LogRollbackError(
        witness, witness_size=witness_size, our_size=our_size, last_consistent=last_consistent,
        kind="rollback",
        message=f"witness {witness} has cosigned a tree of {witness_size} leaves, but this log"
                f" has {our_size}: the log was rolled back")


def fork(witness: str, witness_size: int, our_size: int, last_consistent: int | None,
         detail: str) -> LogRollbackError:
    """The alarm for a witness whose cosigned tree this log does not extend: history differs."""
    return LogRollbackError(
        witness, witness_size=witness_size, our_size=our_size, last_consistent=last_consistent,
        kind="fork",
        message=f"witness {witness} has cosigned a tree of {witness_size} leaves that this log"
                f" of {our_size} does not extend ({detail}): the log was rolled back and"
                " rewritten")


def cosigned_note(note: str, lines: Sequence[str]) -> str:
    """The stored checkpoint note with stored cosignature lines appended (each once)."""
    parsed = Note.parse(note)
    present = {signature.line() for signature in parsed.signatures}
    extra = "".join(line for line in dict.fromkeys(lines) if line not in present)
    result = note + extra
    SignedNote.parse(result)  # still a well-formed note
    return result


def quorum_of(configured: int, quorum: int | None) -> int:
    """The number of witnesses that must agree: ``quorum`` (``LEDGER_WITNESS_QUORUM``), default
    every configured witness. Raises :class:`ConfigurationError` for more than are configured."""
    if quorum is None:
        return configured
    if quorum > configured:
        raise ConfigurationError(f"LEDGER_WITNESS_QUORUM is {quorum}, but only {configured}"
                                 " witness(es) are configured")
    return quorum


def cosigned_by(note: str, lines: Sequence[str],
                witnesses: Sequence[WitnessEndpoint]) -> list[str]:
    """The names of ``witnesses`` with a cosignature line among ``lines`` (stored beside the
    checkpoint ``note``) that verifies over the checkpoint under the configured key. A line that
    does not verify counts for nobody: the lines come from the ledger's database."""
    try:
        checkpoint = SignedNote.parse(note).checkpoint
        parsed = Note.parse(checkpoint.body().decode("utf-8") + "\n" + "".join(lines)).signatures
    except (UnicodeDecodeError, CheckpointError):
        return []
    found: list[str] = []
    for witness in witnesses:
        vkey = witness.vkey
        for line in parsed:
            if (line.name, line.key_id) != (vkey.name, vkey.key_id):
                continue
            try:
                verify_note(SignedNote(checkpoint, (line,)), [vkey])
            except CheckpointError:
                continue
            found.append(witness.name)
            break
    return found
