"""C2SP tlog-tiles reads (https://c2sp.org/tlog-tiles): ``/checkpoint``, ``/tile/…`` (docs/design.md
§5; docs/evidence-format.md, Tiles).

* ``GET /checkpoint``: the latest signed checkpoint with its stored witness cosignatures,
  ``text/plain; charset=utf-8``, cacheable for a few seconds. Public: it holds a size and a root.
* ``GET /tile/<L>/<N>[.p/<W>]``: the Merkle tree in tiles of height 8. The hashes of tile ``N``
  at level ``L`` are the stored nodes ``NodeId(8·L, 256·N + i)`` for ``i < W`` (256 in a full
  tile), each the root of a perfect subtree of ``256^L`` leaves. ``N`` is written in the spec's
  ``x001/x234/067`` form. Public and immutable (a perfect subtree never changes). A tile is served
  only if the latest checkpoint's tree contains it; anything else, a malformed path included, is
  404.
* ``GET /tile/entries/<N>[.p/<W>]``: entry bundles, bearer token required (the log is not a
  public register). The spec defines a bundle's entries as the leaf data that hashes, as RFC 6962
  leaves, to the level-0 tile: here the 32-byte entry hash of each leaf (the leaf hash is
  ``H(0x00 ‖ entry hash)``), each prefixed by its length as a big-endian uint16. The entries
  themselves (their canonical bytes hash to those entry hashes) are read through the project
  routes.

Hashes are the profile's: SHA-256 under ``intl`` (what tlog-tiles defines), SM3 under ``gm``.
"""

from __future__ import annotations

import re
from typing import Final

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from api.deps import CurrentActor, LedgerDep
from api.problems import problem
from ledger.app import Ledger
from ledger.errors import IntegrityFailedError
from ledger.log.merkle import NodeId
from ledger.log.witness import cosigned_note

router = APIRouter(tags=["tiles"])

TILE_HEIGHT: Final = 8
TILE_WIDTH: Final = 1 << TILE_HEIGHT
_MAX_LEVEL: Final = 63
IMMUTABLE: Final = "public, max-age=31536000, immutable"
CHECKPOINT_CACHE: Final = "public, max-age=5"  # "SHOULD prevent caching beyond a few seconds"
_OCTETS: Final = "application/octet-stream"
_LEVEL: Final = re.compile(r"0|[1-9][0-9]?")
_WIDTH: Final = re.compile(r"[1-9][0-9]{0,2}")
_ELEMENT: Final = re.compile(r"x[0-9]{3}")
_LAST: Final = re.compile(r"[0-9]{3}")


def encode_index(index: int) -> str:
    """tlog-tiles ``<N>``: zero-padded 3-digit elements, all but the last prefixed ``x``."""
    digits = str(index)
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i:i + 3] for i in range(0, len(digits), 3)]
    return "/".join([*("x" + group for group in groups[:-1]), groups[-1]])


def tile_path(level: int | str, index: int, width: int = TILE_WIDTH) -> str:
    """The path of a tile (``level`` ``"entries"`` for an entry bundle)."""
    partial = f".p/{width}" if width < TILE_WIDTH else ""
    return f"tile/{level}/{encode_index(index)}{partial}"


def parse_index(path: str) -> tuple[int, int] | None:
    """``<N>[.p/<W>]`` → (N, W), W = 256 for a full tile; None unless in canonical form."""
    width = TILE_WIDTH
    if ".p/" in path:
        path, _, width_text = path.partition(".p/")
        if not _WIDTH.fullmatch(width_text) or not 1 <= int(width_text) < TILE_WIDTH:
            return None
        width = int(width_text)
    elements = path.split("/")
    if not _LAST.fullmatch(elements[-1]) or not all(
            _ELEMENT.fullmatch(element) for element in elements[:-1]):
        return None
    index = int("".join(element.lstrip("x") for element in elements))
    if encode_index(index) != path:  # one spelling per tile: no superfluous x000 elements
        return None
    return index, width


def _not_found(what: str) -> JSONResponse:
    return problem(404, "tile-not-found", "No such tile", what)


def _tree_size(ledger: Ledger) -> int:
    checkpoint = ledger.trusted_checkpoint()
    return 0 if checkpoint is None else checkpoint.size


def _covered(size: int, level: int, index: int, width: int) -> bool:
    """Whether the tree of ``size`` leaves contains tile (level, index) of ``width`` hashes."""
    span: int = TILE_WIDTH ** level
    return (index * TILE_WIDTH + width) * span <= size


def tile_data(ledger: Ledger, level: int, index: int, width: int) -> bytes:
    """The concatenated hashes of a tile, from the stored Merkle nodes (one query)."""
    ids = [NodeId(TILE_HEIGHT * level, index * TILE_WIDTH + i) for i in range(width)]
    nodes = ledger.log.nodes(ids)
    missing = [node for node in ids if node not in nodes]
    if missing:
        raise IntegrityFailedError(f"the log has no stored node {missing[0]} of tile"
                                   f" {tile_path(level, index, width)}")
    return b"".join(nodes[node] for node in ids)


@router.get("/checkpoint", response_class=Response, response_model=None,
            responses={200: {"content": {"text/plain": {}}}, 404: {"description": "Empty log"}})
def checkpoint(ledger: LedgerDep) -> Response:
    """The latest signed checkpoint, with stored witness cosignatures (C2SP tlog-tiles)."""
    stored = ledger.trusted_checkpoint()
    if stored is None:
        return problem(404, "no-checkpoint", "No checkpoint", "the log is empty")
    text = cosigned_note(stored.note, ledger.log.cosignatures(stored.size))
    return Response(text.encode("utf-8"), media_type="text/plain; charset=utf-8",
                    headers={"Cache-Control": CHECKPOINT_CACHE})


@router.get("/tile/entries/{path:path}", response_class=Response, response_model=None,
            responses={200: {"content": {_OCTETS: {}}}, 404: {"description": "No such bundle"}})
def entry_bundle(path: str, ledger: LedgerDep, actor: CurrentActor) -> Response:
    """An entry bundle: each leaf's data (its 32-byte entry hash) after a uint16 length."""
    del actor
    parsed = parse_index(path)
    if parsed is None:
        return _not_found(f"tile/entries/{path} is not an entry bundle path")
    index, width = parsed
    if not _covered(_tree_size(ledger), 0, index, width):
        return _not_found(f"the latest checkpoint does not cover {tile_path('entries', *parsed)}")
    start = index * TILE_WIDTH
    leaves = [leaf for leaf, _ in ledger.log.iter_log(start, start + width, batch=width)]
    if [leaf.leaf_index for leaf in leaves] != list(range(start, start + width)):
        raise IntegrityFailedError(f"the log's leaves {start}..{start + width - 1} are not dense")
    data = b"".join(len(leaf.entry_hash).to_bytes(2, "big") + leaf.entry_hash
                    for leaf in leaves)
    return Response(data, media_type=_OCTETS,
                    headers={"Cache-Control": "private, max-age=31536000, immutable"})


@router.get("/tile/{level}/{path:path}", response_class=Response, response_model=None,
            responses={200: {"content": {_OCTETS: {}}}, 404: {"description": "No such tile"}})
def tile(level: str, path: str, ledger: LedgerDep) -> Response:
    """A Merkle tree tile of height 8: the hashes of perfect subtrees of 256^L leaves."""
    parsed = parse_index(path)
    if not _LEVEL.fullmatch(level) or int(level) > _MAX_LEVEL or parsed is None:
        return _not_found(f"tile/{level}/{path} is not a tile path")
    index, width = parsed
    if not _covered(_tree_size(ledger), int(level), index, width):
        return _not_found(f"the latest checkpoint does not cover {tile_path(level, index, width)}")
    return Response(tile_data(ledger, int(level), index, width), media_type=_OCTETS,
                    headers={"Cache-Control": IMMUTABLE})


__all__ = ["encode_index", "parse_index", "router", "tile_data", "tile_path"]
