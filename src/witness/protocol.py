"""The wire formats of c2sp.org/tlog-witness: the ``add-checkpoint`` request and the answers.

Request body (§add-checkpoint)::

    old SIZE                 ASCII decimal, no leading zeros (``0`` for zero)
    BASE64(HASH)             zero to 63 consistency proof lines
                             an empty line
    CHECKPOINT NOTE          c2sp.org/tlog-checkpoint in a c2sp.org/signed-note

Every line ends in U+000A. :func:`parse_add_checkpoint` checks the format only and raises
:class:`~witness.errors.MalformedRequestError` (400); what the checkpoint means is checked by
:mod:`witness.service` in the specification's order.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import Final

from ledger.errors import CheckpointError
from ledger.log.checkpoint import NoteSignature, SignedNote
from ledger.log.witness import add_checkpoint_body
from witness.errors import MalformedRequestError

MAX_PROOF_LINES: Final = 63  # "The client MUST NOT send more than 63 consistency proof lines."
MAX_TREE_SIZE: Final = 2**63 - 1  # sizes are stored as SQLite INTEGER (signed 64-bit)
MAX_BODY_BYTES: Final = 64 * 1024
HASH_SIZE: Final = 32  # SHA-256 and SM3 alike
SIZE_MEDIA_TYPE: Final = "text/x.tlog.size"
_OLD_LINE: Final = re.compile(r"old (0|[1-9][0-9]*)")


@dataclass(frozen=True)
class AddCheckpoint:
    """A parsed ``add-checkpoint`` request: the old size, the proof, the signed checkpoint."""

    old: int
    proof: tuple[bytes, ...]
    note: SignedNote

    @property
    def body(self) -> bytes:
        """The checkpoint's note text, the bytes the log signed and a cosignature covers."""
        return self.note.checkpoint.body()


def _proof_hash(line: str, number: int) -> bytes:
    try:
        value = base64.b64decode(line.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise MalformedRequestError(f"consistency proof line {number} is not base64") from None
    if base64.b64encode(value).decode("ascii") != line:
        raise MalformedRequestError(f"consistency proof line {number} is not canonical base64")
    if len(value) != HASH_SIZE:
        raise MalformedRequestError(f"consistency proof line {number} is {len(value)} bytes:"
                                    f" expected a {HASH_SIZE}-byte hash")
    return value


def parse_add_checkpoint(data: bytes) -> AddCheckpoint:
    """Parse an ``add-checkpoint`` body strictly; raise MalformedRequestError naming the defect."""
    if len(data) > MAX_BODY_BYTES:
        raise MalformedRequestError(f"the body exceeds {MAX_BODY_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedRequestError("the body is not UTF-8") from None
    end = text.find("\n\n")
    if end < 0:
        raise MalformedRequestError("the body has no empty line before the checkpoint")
    head, note_text = text[:end].split("\n"), text[end + 2:]
    found = _OLD_LINE.fullmatch(head[0])
    if found is None:
        raise MalformedRequestError(f"the first line is not 'old SIZE': got {head[0][:80]!r}")
    old = int(found.group(1))
    if old > MAX_TREE_SIZE:
        raise MalformedRequestError(f"old size {old} exceeds 2^63-1")
    lines = head[1:]
    if len(lines) > MAX_PROOF_LINES:
        raise MalformedRequestError(f"{len(lines)} consistency proof lines: at most"
                                    f" {MAX_PROOF_LINES} are allowed")
    proof = tuple(_proof_hash(line, number) for number, line in enumerate(lines, 1))
    try:
        note = SignedNote.parse(note_text)
    except CheckpointError as exc:
        raise MalformedRequestError(f"the checkpoint is malformed: {exc.what}") from None
    if note.checkpoint.size > MAX_TREE_SIZE:
        raise MalformedRequestError(f"checkpoint size {note.checkpoint.size} exceeds 2^63-1")
    return AddCheckpoint(old, proof, note)


def origin_hash(origin: str) -> str:
    """The monitoring path's origin hash: lowercase hex SHA-256 of the origin line."""
    return hashlib.sha256(origin.encode("utf-8")).hexdigest()


def cosignature_body(lines: tuple[NoteSignature, ...]) -> str:
    """The 200 answer: one note signature line per cosignature, each ending in a newline."""
    return "".join(line.line() for line in lines)


def size_body(size: int) -> str:
    """The 409 answer (``text/x.tlog.size``): the witness's size in decimal and a newline."""
    return f"{size}\n"


def encode_request(old: int, proof: list[bytes] | tuple[bytes, ...], note: str) -> bytes:
    """An ``add-checkpoint`` body (what a log sends): the ledger's own request builder."""
    return add_checkpoint_body(old, proof, note)


__all__ = ["MAX_BODY_BYTES", "MAX_PROOF_LINES", "MAX_TREE_SIZE", "SIZE_MEDIA_TYPE",
           "AddCheckpoint", "cosignature_body", "encode_request", "origin_hash",
           "parse_add_checkpoint", "size_body"]
