"""``/log``: the signed checkpoint with witness cosignatures, RFC 9162 proofs, and proofs of a
stream's head from the stream heads map (docs/design.md §5, §6; docs/evidence-format.md).

Proofs are computed from the stored perfect subtrees (``O(log n)`` node reads, one query) and
the stored heads map nodes (one query per path), and returned as lowercase hex. Every route needs
a bearer token; a question about a stream (its head, or its entry by seq) follows the read rules
of docs/design.md §1: a unit may ask only about its own projects and the key registry (another
stream is "not found" for it). Witness cosignatures are not posted here: the server pushes its
checkpoints to its witnesses (C2SP tlog-witness, :mod:`api.witnessing`) and stores what they
return.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

from api.deps import CurrentActor, LedgerDep, ServiceDep
from api.problems import problem
from api.schemas import HeadProofPublic
from api.services import Actor, LedgerService
from api.witness_status import witness_table
from ledger.app import Ledger
from ledger.errors import (
    CheckpointError,
    HeadsMapUnavailableError,
    ValidationFailedError,
)
from ledger.log import merkle
from ledger.log.checkpoint import SignedNote
from ledger.log.headmap import HeadProof, StreamHead, head_to_json, heads_root, proof_to_json
from ledger.log.store import StoredCheckpoint
from ledger.log.witness import cosigned_note
from ledger.measures.roles import Role

router = APIRouter(prefix="/log", tags=["log"])

_MAX_NOTE_BYTES = 64 * 1024
_HEX64 = r"^[0-9a-f]{64}$"
# Sizes and indexes are 64-bit signed integers in both databases: larger ones are refused
# with 422 before they reach a query (SQLite raises OverflowError on them).
_MAX_INDEX = 2**63 - 1


class InclusionProofPublic(BaseModel):
    """An RFC 9162 §2.1.3.1 inclusion proof of one leaf in the tree of ``tree_size`` leaves."""

    leaf_index: int
    tree_size: int
    entry_hash: str = Field(description="The leaf data: the entry hash (hex).")
    root: str = Field(description="The tree root at tree_size (hex), for convenience; trust"
                                  " only a root from a signed checkpoint.")
    inclusion_proof: list[str] = Field(description="Audit path, leaf-most first (hex).")
    recorded_at: str | None = Field(default=None, description=(
        "The entry's recorded_at as the log stores it, for convenience: the proof does not"
        " cover it (the entry does)."))


class ConsistencyProofPublic(BaseModel):
    """An RFC 9162 §2.1.4.1 consistency proof between two tree sizes."""

    first: int
    second: int
    first_root: str
    second_root: str
    consistency_proof: list[str]


def _problem(field: str, message: str) -> ValidationFailedError:
    return ValidationFailedError("log query", [(field, message)])


def _with_cosignatures(ledger: Ledger, stored: StoredCheckpoint) -> str:
    return cosigned_note(stored.note, ledger.log.cosignatures(stored.size))


def _range_hashes(ledger: Ledger, ranges: list[tuple[int, int]]) -> list[bytes]:
    """MTH of each range (roots, proof entries) from the stored nodes, read in one query."""
    nodes = ledger.log.nodes(merkle.nodes_needed(ranges))
    return merkle.stored_range_hashes(ledger.identity.profile.hash, ranges, nodes)


def _latest(ledger: Ledger) -> StoredCheckpoint:
    stored = ledger.trusted_checkpoint()
    if stored is None:
        raise _problem("checkpoint", "the log is empty: no checkpoint yet")
    return stored


@router.get("/checkpoint", response_class=PlainTextResponse, response_model=str)
def get_checkpoint(ledger: LedgerDep, actor: CurrentActor) -> PlainTextResponse:
    """The latest signed checkpoint (C2SP signed note), with any witness cosignatures."""
    del actor
    return PlainTextResponse(_with_cosignatures(ledger, _latest(ledger)),
                             media_type="text/plain; charset=utf-8")


def _tree_size(ledger: Ledger, tree_size: int | None) -> int:
    current = ledger.log.tree_size()
    if tree_size is None:
        return _latest(ledger).size
    if tree_size > current:
        raise _problem("tree_size", f"the log has {current} leaves; got tree_size {tree_size}")
    return tree_size


def _may_ask_about(service: LedgerService, actor: Actor, stream: UUID) -> None:
    """docs/design.md §1 for a stream: a unit may ask about its own projects and the key
    registry; any other stream does not exist for it (404, like a project it may not see)."""
    ledger = service.ledger
    if actor.role is not Role.UNIT or stream == ledger.identity.registry_stream:
        return
    # The opener's unit never changes: the cached project answers (no read once cached).
    service.visible(actor, ledger.current_project(stream).facts, stream)


def _checkpoint_of_size(ledger: Ledger, tree_size: int | None) -> StoredCheckpoint:
    """The stored checkpoint of exactly ``tree_size`` leaves (default: the latest)."""
    if tree_size is None:
        return _latest(ledger)
    stored = ledger.log.checkpoint_at_most(tree_size)
    if stored is None or stored.size != tree_size:
        latest = ledger.log.latest_checkpoint()
        newest = "none yet" if latest is None else f"the latest has size {latest.size}"
        raise _problem("tree_size", f"the log has no checkpoint of size {tree_size} (it signs"
                                    f" one after each committed batch; {newest})")
    return stored


@dataclass(frozen=True)
class _HeadsNote:
    """A checkpoint as head proofs answer it: the note with its cosignatures, the heads root."""

    note: str
    root: bytes
    read_at: float


_NOTE_TTL = 1.0  # seconds a checkpoint's cosigned note is reused for head proofs
_notes: dict[tuple[int, int], _HeadsNote] = {}
_notes_lock = threading.Lock()


def _heads_note(ledger: Ledger, stored: StoredCheckpoint) -> _HeadsNote:
    """The checkpoint's cosigned note and heads root, kept a second: a head proof is checked
    against the log's signature, and a witness cosignature stored meanwhile shows a second
    later (``GET /log/checkpoint`` reads them every time)."""
    key = (id(ledger), stored.size)
    now = time.monotonic()
    found = _notes.get(key)
    if found is not None and now - found.read_at < _NOTE_TTL and found.note.startswith(
            stored.note):
        return found
    try:
        root = heads_root(SignedNote.parse(stored.note).checkpoint.extensions)
    except CheckpointError:
        raise _problem("tree_size", f"checkpoint {stored.size} has no heads line (it was"
                                    " signed before this log's stream heads map started):"
                                    " no head proof against it") from None
    found = _HeadsNote(_with_cosignatures(ledger, stored), root, now)
    with _notes_lock:
        if len(_notes) > 1024:  # sizes asked about long ago
            for old in [k for k, v in _notes.items() if now - v.read_at >= _NOTE_TTL]:
                del _notes[old]
        _notes[key] = found
    return found


def _head_answer(ledger: Ledger, stream: UUID, stored: StoredCheckpoint,
                 found: tuple[StreamHead | None, HeadProof] | None = None) -> dict[str, Any]:
    """``stream``'s head at the checkpoint ``stored`` with its map proof (read now unless
    ``found``) and the note, as the JSON of :class:`HeadProofPublic` (built directly: this
    route answers often)."""
    note = _heads_note(ledger, stored)
    try:
        head, proof = (ledger.proofs.head_proof(stream, stored.size) if found is None
                       else found)
    except HeadsMapUnavailableError as exc:
        raise _problem("tree_size", str(exc)) from None
    return {"stream": str(stream), "tree_size": stored.size,
            "head": None if head is None else head_to_json(head), "proof": proof_to_json(proof),
            "heads_root": note.root.hex(), "checkpoint": note.note}


@router.get("/proof/head", response_model=HeadProofPublic, response_class=JSONResponse)
def head_proof(
    service: ServiceDep, actor: CurrentActor,
    stream: Annotated[UUID, Query(description="The stream: a project's id or the key"
                                              " registry's.")],
    tree_size: Annotated[int | None, Query(ge=1, le=_MAX_INDEX, description=(
        "A checkpoint's size. Default: the latest checkpoint this server knows (another"
        " server process's newer one can take up to a second to be seen)."))] = None,
) -> JSONResponse:
    """The stream's head in the stream heads map at the checkpoint of ``tree_size`` leaves and
    its proof against that checkpoint's ``heads`` line (with the checkpoint): an inclusion
    proof of its newest entry, or, for a stream with no entry in that tree, a non-inclusion
    proof (``head`` null). Without ``tree_size``, a server process that signed the newest
    checkpoint answers from its map in memory (no database read), for a second at most
    before it reads again whether another process appended; the answer always names the
    checkpoint it proves against."""
    _may_ask_about(service, actor, stream)
    ledger = service.ledger
    if tree_size is None:
        try:  # the latest checkpoint and the stream's path in one read
            latest = ledger.proofs.latest_head_proof(stream)
        except HeadsMapUnavailableError:
            latest = None  # answered below, with what the checkpoint lacks
        if latest is not None:
            stored, head, proof = latest
            return JSONResponse(_head_answer(ledger, stream, stored, (head, proof)))
    return JSONResponse(_head_answer(ledger, stream, _checkpoint_of_size(ledger, tree_size)))


@router.get("/proof/inclusion", response_model=InclusionProofPublic,
            responses={404: {"description": "No leaf has this entry hash, or the stream has no"
                                            " entry of this seq in the tree (the problem"
                                            " carries the stream's head_proof)"}})
def inclusion_proof(
    service: ServiceDep, actor: CurrentActor,
    leaf_index: Annotated[int | None, Query(ge=0, le=_MAX_INDEX)] = None,
    entry_hash: Annotated[str | None, Query(pattern=_HEX64)] = None,
    stream: Annotated[UUID | None, Query(description="With seq: the entry seq of this"
                                                     " stream.")] = None,
    seq: Annotated[int | None, Query(ge=1, le=_MAX_INDEX)] = None,
    tree_size: Annotated[int | None, Query(ge=1, le=_MAX_INDEX, description="Default: the latest"
                                                              " checkpoint's size.")] = None,
) -> InclusionProofPublic | JSONResponse:
    """Prove leaf ``leaf_index`` (or the leaf of ``entry_hash``, or entry ``seq`` of
    ``stream``) in the tree of ``tree_size``. With ``stream`` and ``seq``, ``tree_size`` must
    be a checkpoint's size, and an entry not in that tree is answered 404 with the stream's
    head proof at that checkpoint (what the stream does hold)."""
    ledger = service.ledger
    forms = (leaf_index is not None) + (entry_hash is not None) + (
        stream is not None or seq is not None)
    if forms != 1:
        raise _problem("leaf_index", "give exactly one of leaf_index, entry_hash, and stream"
                                     " with seq")
    if stream is not None or seq is not None:
        if stream is None or seq is None:
            raise _problem("stream" if stream is None else "seq",
                           "stream and seq are given together")
        _may_ask_about(service, actor, stream)
        stored = _checkpoint_of_size(ledger, tree_size)
        size = stored.size
        leaf = ledger.log.leaf_for(stream, seq)
        if leaf is None or leaf.leaf_index >= size:
            answer = _head_answer(ledger, stream, stored)
            head = "none" if answer["head"] is None else f"seq {answer['head']['seq']}"
            return problem(404, "entry-not-found", "Entry not found",
                           f"no such entry (head is {head}): stream {stream} has no entry seq"
                           f" {seq} in the tree of checkpoint {size}",
                           stream=str(stream), seq=seq, tree_size=size, head_proof=answer)
    else:
        size = _tree_size(ledger, tree_size)
        if entry_hash is not None:
            leaf = ledger.log.leaf_for_hash(bytes.fromhex(entry_hash))
            if leaf is None:
                return problem(404, "entry-not-found", "Entry not found",
                               f"no log leaf has entry hash {entry_hash}")
        else:
            assert leaf_index is not None
            leaf = ledger.log.leaf(leaf_index)
            if leaf is None:
                raise _problem("leaf_index", f"the log has no leaf {leaf_index}")
    if leaf.leaf_index >= size:
        raise _problem("tree_size", f"leaf {leaf.leaf_index} is not in a tree of {size} leaves")
    ranges = merkle.inclusion_ranges(leaf.leaf_index, size)
    hashes = _range_hashes(ledger, [(0, size), *ranges])
    return InclusionProofPublic(leaf_index=leaf.leaf_index, tree_size=size,
                                entry_hash=leaf.entry_hash.hex(), root=hashes[0].hex(),
                                inclusion_proof=[node.hex() for node in hashes[1:]],
                                recorded_at=leaf.recorded_at)


@router.get("/proof/consistency", response_model=ConsistencyProofPublic)
def consistency_proof(ledger: LedgerDep, actor: CurrentActor,
                      first: Annotated[int, Query(ge=1, le=_MAX_INDEX)],
                      second: Annotated[int, Query(ge=1, le=_MAX_INDEX)]) -> ConsistencyProofPublic:
    """Prove that the tree of ``first`` leaves is a prefix of the tree of ``second`` leaves."""
    del actor
    if first > second:
        raise _problem("first", f"first ({first}) must not exceed second ({second})")
    _tree_size(ledger, second)
    ranges = merkle.consistency_ranges(first, second)
    hashes = _range_hashes(ledger, [(0, first), (0, second), *ranges])
    return ConsistencyProofPublic(first=first, second=second, first_root=hashes[0].hex(),
                                  second_root=hashes[1].hex(),
                                  consistency_proof=[node.hex() for node in hashes[2:]])


@router.get("/witnesses")
def witnesses(request: Request, ledger: LedgerDep, actor: CurrentActor) -> JSONResponse:
    """The configured witnesses: the newest size each cosigned, how many leaves behind the latest
    checkpoint it is, seconds since its cosignature, its last error; how many cosigned the
    latest; and the rollback alarm if one halted this server."""
    del actor
    return JSONResponse(witness_table(request.app, ledger).to_json())
