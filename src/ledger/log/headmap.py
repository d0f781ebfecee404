"""The stream heads map: a verifiable map from stream id to its head (docs/evidence-format.md,
Stream heads map).

A checkpoint commits to the log's leaves, but nothing in it commits to how long each stream is,
so an evidence bundle could leave out a project's newest entries and still verify. This map
binds every stream id to its head ``(seq, entry hash, leaf index)`` as of a log size; its root
is carried in the checkpoint as the extension line ``heads BASE64(ROOT)``, so the log signs it
and witnesses cosign its bytes (what a cosignature asserts about it: the spec's "In the
checkpoint"). A proof from the map shows a stream's head (inclusion) or that a
stream has no entry yet (non-inclusion).

The structure is a sparse Merkle tree over 256-bit keys with *shortcut leaves*: the binary form
of Diem's Jellyfish Merkle tree (the "compact sparse Merkle tree"). Each leaf sits at the
shallowest depth where its subtree holds it alone, so paths are about ``log2(n)`` long instead
of 256 and an update costs ``O(log n)`` hashes. Pure functions and in-memory data, no I/O:

* hashing: :func:`head_key`, :func:`value_hash`, :func:`leaf_hash`, :func:`node_hash`,
  :data:`EMPTY`; :func:`map_root` recomputes a root from scratch (what an auditor replaying
  the log does);
* proofs: :class:`StreamHead`, :class:`HeadProof`, :func:`verify_head`, and their strict JSON
  forms (:func:`proof_to_json`, :func:`proof_from_json`, :func:`head_to_json`,
  :func:`head_from_json`);
* the checkpoint line: :func:`checkpoint_extension`, :func:`heads_root`;
* the incremental map: :class:`HeadMap` over a :class:`NodeStore` (versioned by log size;
  :class:`MemoryNodeStore` keeps it in memory, a SQL table can keep it later).

Typical use, once per committed batch (``version`` is the log size after the batch)::

    root = heads.apply({stream: StreamHead(seq, entry_hash, leaf_index), ...})
    checkpoint = Checkpoint(origin, size, log_root, (checkpoint_extension(root),))

and for a bundle or an HTTP answer at checkpoint size ``N``::

    head, proof = heads.prove(stream, N)
    verify_head(profile, heads_root(checkpoint.extensions), stream, head, proof)
"""

from __future__ import annotations

import base64
import binascii
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Final, NamedTuple, Protocol, TypeAlias
from uuid import UUID

from ledger.crypto.suites import Profile
from ledger.errors import CheckpointError, HeadProofError

__all__ = [
    "EMPTY",
    "EXTENSION_KEYWORD",
    "KEY_BITS",
    "HeadMap",
    "HeadProof",
    "InternalNode",
    "LeafNode",
    "MemoryNodeStore",
    "Node",
    "NodeStore",
    "StreamHead",
    "TerminalLeaf",
    "checkpoint_extension",
    "head_from_json",
    "head_key",
    "head_to_json",
    "heads_root",
    "leaf_hash",
    "map_root",
    "node_hash",
    "proof_from_json",
    "proof_to_json",
    "value_hash",
    "verify_head",
]

# Domain prefixes (docs/evidence-format.md, Stream heads map, Keys, values and hashes). The
# log's RFC 9162 tree prefixes 0x00 (leaf) and 0x01 (node); these start at 0x10, so under one
# profile hash no input the map hashes is ever one the log hashes, and no map leaf is a map node.
_KEY_PREFIX: Final = b"\x10"
_LEAF_PREFIX: Final = b"\x11"
_NODE_PREFIX: Final = b"\x12"

KEY_BITS: Final = 256
"""Keys are 256-bit hashes; a path is at most this long."""
_HASH_SIZE: Final = 32
EMPTY: Final = bytes(_HASH_SIZE)
"""The hash of an empty subtree, and the root of the empty map: 32 zero bytes."""
_MAX_U64: Final = 2**64 - 1
_VALUE_SIZE: Final = 8 + _HASH_SIZE + 8

EXTENSION_KEYWORD: Final = "heads"
"""The first word of the checkpoint extension line that carries the map's root."""

_HEX64: Final = re.compile(r"[0-9a-f]{64}")


# --- Values ----------------------------------------------------------------------------------


def _check_u64(what: str, value: object, minimum: int) -> None:
    """Raise HeadProofError unless ``value`` is an int (not a bool) in ``minimum..2^64-1``."""
    if type(value) is not int or not minimum <= value <= _MAX_U64:
        raise HeadProofError(f"{what} must be an integer in {minimum}..2^64-1, got {value!r}")


def _check_hash(what: str, value: object) -> None:
    """Raise HeadProofError unless ``value`` is a 32-byte ``bytes``."""
    if type(value) is not bytes or len(value) != _HASH_SIZE:
        size = len(value) if isinstance(value, bytes | bytearray) else type(value).__name__
        raise HeadProofError(f"{what} must be {_HASH_SIZE} bytes, got {size}")


@dataclass(frozen=True, slots=True)
class StreamHead:
    """A stream's newest entry as of a log size: its 1-based ``seq``, entry hash and leaf index.

    Constructing one validates it (``seq`` 1..2^64-1, a 32-byte hash, ``leaf_index``
    0..2^64-1) and raises :class:`~ledger.errors.HeadProofError` otherwise, so a head parsed
    from a bundle that exists is well-formed.
    """

    seq: int
    entry_hash: bytes
    leaf_index: int

    def __post_init__(self) -> None:
        """Validate the fields (one test for a well-formed head: ``ledger verify`` makes one
        per entry; the checks that name the fault run only when it fails)."""
        seq, entry_hash, leaf_index = self.seq, self.entry_hash, self.leaf_index
        if (type(seq) is int and 1 <= seq <= _MAX_U64 and type(entry_hash) is bytes
                and len(entry_hash) == _HASH_SIZE and type(leaf_index) is int
                and 0 <= leaf_index <= _MAX_U64):
            return
        _check_u64("head seq", seq, 1)
        _check_hash("head entry hash", entry_hash)
        _check_u64("head leaf index", leaf_index, 0)

    def value(self) -> bytes:
        """Return the 48-byte value ``seq (u64 BE) ‖ entry_hash ‖ leaf_index (u64 BE)``."""
        return self.seq.to_bytes(8, "big") + self.entry_hash + self.leaf_index.to_bytes(8, "big")


@dataclass(frozen=True, slots=True)
class TerminalLeaf:
    """The leaf that ends a non-inclusion proof's path: another stream's key and value hash."""

    key: bytes
    value_hash: bytes

    def __post_init__(self) -> None:
        """Validate the sizes."""
        _check_hash("terminal leaf key", self.key)
        _check_hash("terminal leaf value hash", self.value_hash)


@dataclass(frozen=True, slots=True)
class HeadProof:
    """A proof about one key of the map, against one root.

    ``siblings`` are the hashes beside the key's path, **bottom-up** (leaf-most first, as
    RFC 9162 lists an audit path); their number is the depth at which the path ends.
    ``terminal`` is ``None`` for an inclusion proof and for a non-inclusion proof whose path
    ends in an empty subtree, and the other stream's leaf for a non-inclusion proof whose path
    ends in that leaf. A proof that exists is well-formed, not verified: see
    :func:`verify_head`.
    """

    siblings: tuple[bytes, ...]
    terminal: TerminalLeaf | None = None

    def __post_init__(self) -> None:
        """Validate the shape; raise HeadProofError if wrong."""
        if type(self.siblings) is not tuple:
            raise HeadProofError(f"proof siblings must be a tuple, got {type(self.siblings)}")
        if len(self.siblings) > KEY_BITS:
            raise HeadProofError(
                f"proof has {len(self.siblings)} siblings: expected at most {KEY_BITS}"
            )
        for position, sibling in enumerate(self.siblings):
            _check_hash(f"proof sibling [{position}]", sibling)
        if self.terminal is not None and not isinstance(self.terminal, TerminalLeaf):
            raise HeadProofError(f"proof terminal must be a TerminalLeaf or None, got "
                                 f"{type(self.terminal).__name__}")


# --- Hashing (docs/evidence-format.md, Stream heads map, Keys, values and hashes) ------------


def head_key(profile: Profile, stream: UUID) -> bytes:
    """Return the map key of ``stream``: ``H(0x10 ‖ the 16 raw bytes of the UUID)``.

    Hashing spreads keys uniformly, so paths are ``log2(n)`` deep on average whatever the ids.
    """
    return profile.hash.digest(_KEY_PREFIX + stream.bytes)


def value_hash(profile: Profile, head: StreamHead) -> bytes:
    """Return ``H(value)`` of a head (see :meth:`StreamHead.value`)."""
    return profile.hash.digest(head.value())


def leaf_hash(profile: Profile, key: bytes, value_hash: bytes) -> bytes:
    """Return the leaf hash ``H(0x11 ‖ key ‖ value_hash)``."""
    return profile.hash.digest(_LEAF_PREFIX + key + value_hash)


def node_hash(profile: Profile, left: bytes, right: bytes) -> bytes:
    """Return the internal node hash ``H(0x12 ‖ left ‖ right)``."""
    return profile.hash.digest(_NODE_PREFIX + left + right)


def _bit(key_int: int, depth: int) -> int:
    """Return bit ``depth`` of a 256-bit key, most significant first: 0 goes left, 1 right."""
    return (key_int >> (KEY_BITS - 1 - depth)) & 1


def _common_prefix_bits(a: bytes, b: bytes) -> int:
    """Return how many leading bits two 32-byte keys share (256 if equal)."""
    diff = int.from_bytes(a, "big") ^ int.from_bytes(b, "big")
    return KEY_BITS - diff.bit_length()


def map_root(profile: Profile, heads: Mapping[UUID, StreamHead]) -> bytes:
    """Return the root of the map holding exactly ``heads``, computed from scratch.

    This is the definition written out (what a monitor replaying the log computes), with no
    node store and no history; :class:`HeadMap` must agree with it after every update.
    """
    return _keyed_root(profile, {head_key(profile, stream): head for stream, head in heads.items()})


def _keyed_root(profile: Profile, heads: Mapping[bytes, StreamHead]) -> bytes:
    """:func:`map_root` for keys already derived."""
    digest = profile.hash.digest
    leaves = sorted(
        (int.from_bytes(key, "big"), leaf_hash(profile, key, value_hash(profile, head)))
        for key, head in heads.items()
    )
    keys = [key for key, _ in leaves]

    def subtree(depth: int, prefix: int, lo: int, hi: int) -> bytes:
        # Shortcut rule: a subtree of one leaf *is* that leaf; an empty one is EMPTY.
        if hi == lo:
            return EMPTY
        if hi - lo == 1:
            return leaves[lo][1]
        mid = bisect_left(keys, ((prefix << 1) | 1) << (KEY_BITS - 1 - depth), lo, hi)
        left = subtree(depth + 1, prefix << 1, lo, mid)
        right = subtree(depth + 1, (prefix << 1) | 1, mid, hi)
        return digest(_NODE_PREFIX + left + right)

    return subtree(0, 0, 0, len(leaves))


# --- Verification (docs/evidence-format.md, Stream heads map, Verification) --------------------


def verify_head(
    profile: Profile,
    root: bytes,
    stream: UUID,
    head: StreamHead | None,
    proof: HeadProof,
) -> None:
    """Verify that ``head`` is ``stream``'s head in the map ``root`` (``None``: no head yet).

    ``root`` comes from the ``heads`` line of a checkpoint whose signature the caller checked
    (:func:`heads_root`). Returns None or raises :class:`~ledger.errors.HeadProofError`
    naming the stream. Fails closed: a wrong head, a head for another stream, a proof of the
    wrong length, an inclusion proof offered for an absent head (or the other way round), or a
    terminal leaf that is not on the stream's path all fail.
    """
    if not isinstance(stream, UUID):
        raise HeadProofError(f"expected a stream id (UUID), got {type(stream).__name__}")
    # Step 2 (first half): the key, k = H(0x10 ‖ stream id).
    _verify_key(profile, root, head_key(profile, stream), head, proof, stream=stream)


def _verify_key(
    profile: Profile,
    root: bytes,
    key: bytes,
    head: StreamHead | None,
    proof: HeadProof,
    *,
    stream: UUID | str,
) -> None:
    """:func:`verify_head` for a key already derived (``stream`` only names it in errors).

    The numbered steps are those of docs/evidence-format.md, Stream heads map, Verification.
    """
    seq = None if head is None else head.seq
    leaf_index = None if head is None else head.leaf_index

    def fail(what: str) -> HeadProofError:
        return HeadProofError(what, stream=stream, seq=seq, leaf_index=leaf_index)

    # Step 1: the inputs are well-formed. HeadProof and StreamHead validate on construction;
    # the types are checked again here since a caller may pass anything.
    problem = _malformed(root, key, head, proof)
    if problem:
        raise fail(problem)
    # Step 2 (second half): the path ends at depth d = the number of siblings, at most 256
    # (HeadProof checks the bound).
    depth = len(proof.siblings)
    # Step 3: shortcut form. In a well-formed map no node on a path has an empty sibling at the
    # path's end: the parent would then hold a single leaf (or none) and the path would have
    # ended one level higher. This rejects a proof padded with EMPTY siblings.
    if depth and proof.siblings[0] == EMPTY:
        raise fail("proof's bottom sibling is EMPTY: the map is not in shortcut form")
    # Step 4: the hash at the end of the path.
    terminal = proof.terminal
    if head is not None:
        # 4.1: inclusion. The leaf is this key's, with this head's value.
        if terminal is not None:
            raise fail("expected an inclusion proof for the head, got a non-inclusion proof")
        current = leaf_hash(profile, key, value_hash(profile, head))
    elif terminal is None:
        # 4.2: non-inclusion, the path ends in an empty subtree.
        current = EMPTY
    else:
        # 4.3: non-inclusion, the path ends in another key's leaf, which must sit on this key's
        # path (share its first d bits) and not be this key (which would be inclusion).
        if terminal.key == key:
            raise fail("non-inclusion proof ends in the stream's own leaf: the stream has a head")
        shared = _common_prefix_bits(terminal.key, key)
        if shared < depth:
            raise fail(f"non-inclusion proof ends in a leaf off the stream's path: it shares "
                       f"{shared} leading key bits, expected at least {depth}")
        current = leaf_hash(profile, terminal.key, terminal.value_hash)
    # Step 5: fold the siblings bottom-up. Sibling i stands beside the node at depth d - i;
    # bit d - i - 1 of the key says whether that node is a left (0) or right (1) child.
    key_int = int.from_bytes(key, "big")
    digest = profile.hash.digest
    for i, sibling in enumerate(proof.siblings):
        if _bit(key_int, depth - i - 1):
            current = digest(_NODE_PREFIX + sibling + current)
        else:
            current = digest(_NODE_PREFIX + current + sibling)
    # Step 6: the result must be the root.
    if current != root:
        claim = "the head" if head is not None else "no head"
        raise fail(f"heads proof for {claim} gives root {current.hex()}, expected {root.hex()}")


def _malformed(root: object, key: object, head: object, proof: object) -> str | None:
    """Say what is wrong with :func:`verify_head`'s inputs' types and sizes, or None."""
    if not isinstance(proof, HeadProof):
        return f"expected a HeadProof, got {type(proof).__name__}"
    if head is not None and not isinstance(head, StreamHead):
        return f"expected a StreamHead or None, got {type(head).__name__}"
    for what, value in (("heads root", root), ("key", key)):
        if type(value) is not bytes or len(value) != _HASH_SIZE:
            return f"{what} must be {_HASH_SIZE} bytes"
    return None


# --- JSON (docs/evidence-format.md, Stream heads map, Proof encoding (JSON)) -------------------


def _hex_to_bytes(what: str, value: object) -> bytes:
    """Decode a 64-digit lowercase hex string, or raise HeadProofError."""
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise HeadProofError(f"{what} must be 64 lowercase hex digits, got {value!r}")
    return bytes.fromhex(value)


def _object(what: str, value: object, keys: set[str]) -> Mapping[str, object]:
    """Return ``value`` if it is a JSON object with exactly ``keys``, or raise HeadProofError."""
    if not isinstance(value, dict):
        raise HeadProofError(f"{what} must be a JSON object, got {type(value).__name__}")
    if set(value) != keys:
        raise HeadProofError(
            f"{what} must have exactly the members {sorted(keys)}, got {sorted(value)}"
        )
    return value


def head_to_json(head: StreamHead) -> dict[str, object]:
    """Return ``{"seq": INT, "entry_hash": HEX64, "leaf_index": INT}``."""
    return {"seq": head.seq, "entry_hash": head.entry_hash.hex(), "leaf_index": head.leaf_index}


def head_from_json(value: object) -> StreamHead:
    """Parse :func:`head_to_json`'s form strictly; raise HeadProofError if malformed."""
    obj = _object("head", value, {"seq", "entry_hash", "leaf_index"})
    seq, leaf_index = obj["seq"], obj["leaf_index"]
    _check_u64("head seq", seq, 1)
    _check_u64("head leaf index", leaf_index, 0)
    assert isinstance(seq, int)
    assert isinstance(leaf_index, int)
    return StreamHead(seq, _hex_to_bytes("head entry_hash", obj["entry_hash"]), leaf_index)


def proof_to_json(proof: HeadProof) -> dict[str, object]:
    """Return ``{"siblings": [HEX64, ...], "terminal": null | {"key": HEX64,
    "value_hash": HEX64}}``, siblings bottom-up."""
    terminal = None if proof.terminal is None else {
        "key": proof.terminal.key.hex(), "value_hash": proof.terminal.value_hash.hex()}
    return {"siblings": [sibling.hex() for sibling in proof.siblings], "terminal": terminal}


def proof_from_json(value: object) -> HeadProof:
    """Parse :func:`proof_to_json`'s form strictly; raise HeadProofError if malformed.

    Exactly the two members; ``siblings`` a list of at most 256 lowercase 64-digit hex strings;
    ``terminal`` null or an object of exactly ``key`` and ``value_hash``.
    """
    obj = _object("heads proof", value, {"siblings", "terminal"})
    siblings = obj["siblings"]
    if not isinstance(siblings, list):
        raise HeadProofError(f"proof siblings must be a JSON array, got {type(siblings).__name__}")
    if len(siblings) > KEY_BITS:
        raise HeadProofError(f"proof has {len(siblings)} siblings: expected at most {KEY_BITS}")
    parsed = tuple(_hex_to_bytes(f"proof sibling [{i}]", s) for i, s in enumerate(siblings))
    terminal: TerminalLeaf | None = None
    if obj["terminal"] is not None:
        leaf = _object("proof terminal", obj["terminal"], {"key", "value_hash"})
        terminal = TerminalLeaf(_hex_to_bytes("terminal key", leaf["key"]),
                                _hex_to_bytes("terminal value_hash", leaf["value_hash"]))
    return HeadProof(parsed, terminal)


# --- The checkpoint line (docs/evidence-format.md, Stream heads map, In the checkpoint) --------


def checkpoint_extension(root: bytes) -> str:
    """Return the checkpoint extension line ``heads BASE64(ROOT)`` (no newline)."""
    _check_hash("heads root", root)
    return f"{EXTENSION_KEYWORD} {base64.b64encode(root).decode('ascii')}"


def heads_root(extensions: Iterable[str]) -> bytes:
    """Return the heads root from a checkpoint's extension lines, strictly.

    Exactly one line whose first word is ``heads``, of the form ``heads`` SP canonical
    standard base64 (with padding) of 32 bytes; other extension lines are ignored. Raises
    :class:`~ledger.errors.CheckpointError` if the line is missing, repeated or malformed.
    """
    found = [line for line in extensions if line.split(" ", 1)[0] == EXTENSION_KEYWORD]
    if len(found) != 1:
        raise CheckpointError(
            f"checkpoint has {len(found)} '{EXTENSION_KEYWORD}' extension lines: expected one"
        )
    _, space, encoded = found[0].partition(" ")
    try:
        root = base64.b64decode(encoded.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        root = b""
    # Canonical: re-encoding gives back the text, so one root has exactly one accepted line.
    if not space or len(root) != _HASH_SIZE or base64.b64encode(root).decode() != encoded:
        raise CheckpointError(
            f"checkpoint line {found[0]!r} is not '{EXTENSION_KEYWORD} ' followed by canonical "
            f"base64 of a {_HASH_SIZE}-byte root"
        )
    return root


# --- Node store --------------------------------------------------------------------------------


# The nodes are named tuples rather than frozen dataclasses: as immutable, and an update makes
# one per node it rewrites, where a frozen dataclass's __init__ (object.__setattr__ per field)
# cost about as much as the node's hash.


class LeafNode(NamedTuple):
    """A stored leaf: the stream's key and head, its value hash and leaf hash."""

    key: bytes
    head: StreamHead
    value_hash: bytes
    hash: bytes


class InternalNode(NamedTuple):
    """A stored internal node: its children's hashes (``EMPTY`` for an empty child), its hash.

    Keeping the children's hashes in the parent lets a proof read one node per level and an
    update rehash a parent without reading the unchanged child.
    """

    left: bytes
    right: bytes
    hash: bytes


_new_internal: Callable[[tuple[bytes, bytes, bytes]], InternalNode] = partial(
    tuple.__new__, InternalNode)
"""``InternalNode(left, right, hash)`` without the named tuple's Python-level ``__new__``: the
walks make one per node they rewrite."""

Node: TypeAlias = LeafNode | InternalNode
"""A stored node; an empty subtree is not stored (``None``)."""


class NodeStore(Protocol):
    """Where a :class:`HeadMap` keeps its nodes, addressed by ``(depth, prefix, version)``.

    ``prefix`` is the first ``depth`` bits of the path as an integer (the root is ``(0, 0)``);
    ``version`` is the log size after the batch that wrote the node. A node written at version
    ``v`` stays the node at ``(depth, prefix)`` until a later version writes that position
    again, so the map at log size ``N`` is read with "the latest version ≤ N" lookups. The map
    never deletes: a position that holds a node at some version holds one at every later
    version, so such a lookup never answers with a node that is no longer in the tree.

    A SQL store is one table ``(depth SMALLINT, prefix BYTEA, version BIGINT, node ...)`` with
    primary key ``(depth, prefix, version)``; ``get`` is one backward index seek
    (``... AND version <= N ORDER BY version DESC LIMIT 1``); ``put`` inserts one version's
    rows in the batch's transaction.
    """

    @property
    def version(self) -> int:
        """The latest version written (0 when nothing was)."""
        ...

    def get(self, depth: int, prefix: int, version: int) -> Node | None:
        """Return the node at ``(depth, prefix)`` as of ``version``; ``None`` if empty then."""
        ...

    def put(self, version: int, nodes: Mapping[tuple[int, int], Node]) -> None:
        """Write one version's new nodes, keyed by ``(depth, prefix)``; versions increase."""
        ...


class MemoryNodeStore:
    """A :class:`NodeStore` in memory: per position, the versions written and their nodes."""

    def __init__(self) -> None:
        """Start empty (version 0)."""
        self._positions: dict[tuple[int, int], tuple[list[int], list[Node]]] = {}
        self._version = 0
        self._count = 0

    @property
    def version(self) -> int:
        """The latest version written (0 when nothing was)."""
        return self._version

    def __len__(self) -> int:
        """The number of node versions stored (every version of every position)."""
        return self._count

    def get(self, depth: int, prefix: int, version: int) -> Node | None:
        """Return the node at ``(depth, prefix)`` with the latest version ≤ ``version``."""
        entry = self._positions.get((depth, prefix))
        if entry is None:
            return None
        versions, nodes = entry
        if versions[-1] <= version:  # the common case: reading the current map
            return nodes[-1]
        index = bisect_right(versions, version)
        return nodes[index - 1] if index else None

    def put(self, version: int, nodes: Mapping[tuple[int, int], Node]) -> None:
        """Write one version's nodes; raise ValueError unless ``version`` is newer than all."""
        if version <= self._version:
            raise ValueError(f"expected a version above {self._version}, got {version}")
        for position, node in nodes.items():
            versions, stored = self._positions.setdefault(position, ([], []))
            versions.append(version)
            stored.append(node)
        self._count += len(nodes)
        self._version = version


# --- The incremental map ----------------------------------------------------------------------


class HeadMap:
    """The stream heads map over a :class:`NodeStore`, updated once per committed batch.

    :meth:`apply` writes a new version (the log size after the batch) costing
    ``O(changed · log n)`` hashes and node writes; :meth:`root` and :meth:`prove` answer at
    any version written so far, reading one node per level.
    """

    def __init__(self, profile: Profile, store: NodeStore | None = None) -> None:
        """A map under ``profile``'s hash, kept in ``store`` (default: a new memory store)."""
        self._profile = profile
        self._store: NodeStore = MemoryNodeStore() if store is None else store

    @property
    def store(self) -> NodeStore:
        """The node store."""
        return self._store

    @property
    def version(self) -> int:
        """The latest version: the log size after the last batch applied (0: empty)."""
        return self._store.version

    def _check_version(self, at_version: int | None) -> int:
        """Return ``at_version`` (default latest); raise ValueError outside ``0..version``."""
        if at_version is None:
            return self.version
        if not 0 <= at_version <= self.version:
            raise ValueError(
                f"expected a version in 0..{self.version} (the map is not ahead of what was "
                f"applied), got {at_version}"
            )
        return at_version

    # -- reading

    def root(self, at_version: int | None = None) -> bytes:
        """Return the root at ``at_version`` (default latest); ``EMPTY`` for the empty map."""
        node = self._store.get(0, 0, self._check_version(at_version))
        return EMPTY if node is None else node.hash

    def get(self, stream: UUID, at_version: int | None = None) -> StreamHead | None:
        """Return ``stream``'s head at ``at_version`` (default latest), or ``None``."""
        return self.prove(stream, at_version)[0]

    def prove(
        self, stream: UUID, at_version: int | None = None
    ) -> tuple[StreamHead | None, HeadProof]:
        """Return ``stream``'s head at ``at_version`` (``None`` if it has none) and its proof.

        The proof verifies with :func:`verify_head` against :meth:`root` at that version.
        """
        return self._prove_key(head_key(self._profile, stream), self._check_version(at_version))

    def _prove_key(self, key: bytes, version: int) -> tuple[StreamHead | None, HeadProof]:
        """Walk ``key``'s path down from the root at ``version``, collecting siblings."""
        key_int = int.from_bytes(key, "big")
        siblings: list[bytes] = []
        depth = prefix = 0
        node = self._store.get(0, 0, version)
        while isinstance(node, InternalNode):
            bit = _bit(key_int, depth)
            expected = node.right if bit else node.left
            siblings.append(node.left if bit else node.right)
            depth += 1
            prefix = (prefix << 1) | bit
            node = self._store.get(depth, prefix, version)
            # The store must agree with the parent's record of its child.
            assert (EMPTY if node is None else node.hash) == expected, (depth, prefix, version)
        siblings.reverse()  # bottom-up, as RFC 9162 lists an audit path
        if node is None:
            return None, HeadProof(tuple(siblings))
        if node.key == key:
            return node.head, HeadProof(tuple(siblings))
        return None, HeadProof(tuple(siblings), TerminalLeaf(node.key, node.value_hash))

    # -- writing

    def apply(self, changes: Mapping[UUID, StreamHead], *, version: int | None = None) -> bytes:
        """Set the heads of the streams in ``changes`` as a new version; return its root.

        ``version`` is the log size after the batch; by default ``max(leaf_index) + 1`` over
        ``changes``, which is that size when ``changes`` holds every stream the batch appended
        to (the batch's last leaf is some stream's head). Raises ValueError if ``version`` is
        not above the current one or not above every head's leaf index, or if a stream's head
        does not move forward (its seq and leaf index must both grow). An empty ``changes``
        writes nothing and returns the current root.
        """
        named = {head_key(self._profile, stream): (stream, head)
                 for stream, head in changes.items()}
        if len(named) != len(changes):  # two ids with one key: a hash collision
            raise ValueError("two streams of this batch have the same map key")
        return self._apply_keyed(named, version)

    def _apply_keyed(
        self, changes: Mapping[bytes, tuple[UUID | str, StreamHead]], version: int | None,
        lookup: Callable[[tuple[int, int]], Node | None] | None = None,
    ) -> bytes:
        """:meth:`apply` for keys already derived (tests use it to place keys at will).

        ``lookup``: the store's nodes at its current version by position, read directly (a
        dict's ``get``) rather than through :meth:`NodeStore.get` for each node on the paths.
        """
        if not changes:
            return self.root()
        top = max(head.leaf_index for _, head in changes.values()) + 1
        version = top if version is None else version
        if version < top:
            raise ValueError(f"version {version} is not above every head's leaf index "
                             f"(the largest is {top - 1})")
        base = self.version
        if version <= base:
            raise ValueError(f"expected a version above the map's {base}, got {version}")
        profile = self._profile
        digest = profile.hash.digest  # value_hash and leaf_hash, inlined: two a changed stream
        items: list[tuple[int, LeafNode]] = []
        for key, (_, head) in changes.items():
            if type(key) is not bytes or len(key) != _HASH_SIZE:
                _check_hash("key", key)
            vh = digest(head.value())
            items.append((int.from_bytes(key, "big"),
                          LeafNode(key, head, vh, digest(_LEAF_PREFIX + key + vh))))
        items.sort(key=lambda item: item[0])
        update = _Update(profile, self._store, base, changes, lookup)
        update.into(0, 0, self._store.get(0, 0, base), [k for k, _ in items],
                    [leaf for _, leaf in items], 0, len(items))
        self._store.put(version, update.written)
        return self.root(version)


class _Update:
    """One batch's walk: merges the sorted changed leaves into the tree of version ``base``."""

    def __init__(self, profile: Profile, store: NodeStore, base: int,
                 names: Mapping[bytes, tuple[UUID | str, StreamHead]],
                 lookup: Callable[[tuple[int, int]], Node | None] | None = None) -> None:
        self._digest = profile.hash.digest
        self._store = store
        self._get = store.get  # bound once: called for every node the walk visits
        self._lookup = lookup
        self._base = base
        self._names = names
        self.written: dict[tuple[int, int], Node] = {}

    def _split(self, keys: Sequence[int], depth: int, prefix: int, lo: int, hi: int) -> int:
        """Index of the first key in ``keys[lo:hi]`` whose bit ``depth`` is 1."""
        return bisect_left(keys, ((prefix << 1) | 1) << (KEY_BITS - 1 - depth), lo, hi)

    def _check_forward(self, old: LeafNode, new: LeafNode) -> None:
        """Raise ValueError unless ``new`` moves the stream's head forward from ``old``."""
        if new.head.seq <= old.head.seq or new.head.leaf_index <= old.head.leaf_index:
            stream = self._names[new.key][0]
            raise ValueError(
                f"stream {stream}: head must move forward, from seq {old.head.seq} at leaf "
                f"{old.head.leaf_index} to seq {new.head.seq} at leaf {new.head.leaf_index}"
            )

    # keys/leaves are parallel and sorted; [lo, hi) are the changes below (depth, prefix).
    def into(self, depth: int, prefix: int, node: Node | None, keys: list[int],  # noqa: PLR0917
             leaves: list[LeafNode], lo: int, hi: int) -> bytes:
        """Apply ``leaves[lo:hi]`` to the subtree at ``(depth, prefix)``; return its new hash."""
        if node is None:
            return self._build(depth, prefix, keys, leaves, lo, hi)
        if isinstance(node, LeafNode):
            # The subtree held one leaf: rebuild it from that leaf and the changes. If the leaf's
            # own stream changed, its new leaf replaces it; otherwise the old leaf moves down
            # beside the new ones (unchanged, so no rehash of it).
            old_int = int.from_bytes(node.key, "big")
            if hi - lo == 1 and keys[lo] == old_int:  # the commonest: its own stream moved on
                self._check_forward(node, leaves[lo])
                self.written[depth, prefix] = leaves[lo]
                return leaves[lo].hash
            at = bisect_left(keys, old_int, lo, hi)
            if at < hi and keys[at] == old_int:
                self._check_forward(node, leaves[at])
                return self._build(depth, prefix, keys, leaves, lo, hi)
            merged_keys = [*keys[lo:at], old_int, *keys[at:hi]]
            merged = [*leaves[lo:at], node, *leaves[at:hi]]
            return self._build(depth, prefix, merged_keys, merged, 0, len(merged))
        # The hot path (every internal node on a changed path): _split and _internal inlined.
        mid = bisect_left(keys, ((prefix << 1) | 1) << (KEY_BITS - 1 - depth), lo, hi)
        left, right, lookup = node.left, node.right, self._lookup
        if lo < mid:
            child = (self._get(depth + 1, prefix << 1, self._base) if lookup is None
                     else lookup((depth + 1, prefix << 1)))
            assert (EMPTY if child is None else child.hash) == left, (depth + 1, prefix << 1)
            left = self.into(depth + 1, prefix << 1, child, keys, leaves, lo, mid)
        if mid < hi:
            child = (self._get(depth + 1, (prefix << 1) | 1, self._base) if lookup is None
                     else lookup((depth + 1, (prefix << 1) | 1)))
            assert (EMPTY if child is None else child.hash) == right, (depth + 1, prefix << 1 | 1)
            right = self.into(depth + 1, (prefix << 1) | 1, child, keys, leaves, mid, hi)
        digest = self._digest(_NODE_PREFIX + left + right)
        self.written[depth, prefix] = _new_internal((left, right, digest))
        return digest

    def _build(self, depth: int, prefix: int, keys: list[int],  # noqa: PLR0917
               leaves: list[LeafNode], lo: int, hi: int) -> bytes:
        """Write a subtree that was empty (or one leaf) from ``leaves[lo:hi]``; return its hash.

        Positions below it held nothing at any version (the map never deletes), so every node
        written here is the first at its position.
        """
        if hi == lo:
            return EMPTY
        if hi - lo == 1:
            # Shortcut rule: a lone leaf sits here, at the shallowest depth where it is alone.
            self.written[depth, prefix] = leaves[lo]
            return leaves[lo].hash
        assert depth < KEY_BITS, "distinct keys part before depth 256"
        # Inlined _split and _internal: a map built whole (a process's start) comes here for
        # every internal node.
        mid = bisect_left(keys, ((prefix << 1) | 1) << (KEY_BITS - 1 - depth), lo, hi)
        left = self._build(depth + 1, prefix << 1, keys, leaves, lo, mid)
        right = self._build(depth + 1, (prefix << 1) | 1, keys, leaves, mid, hi)
        digest = self._digest(_NODE_PREFIX + left + right)
        self.written[depth, prefix] = _new_internal((left, right, digest))
        return digest

    def _internal(self, depth: int, prefix: int, left: bytes, right: bytes) -> bytes:
        """Write the internal node ``H(0x12 ‖ left ‖ right)`` at ``(depth, prefix)``."""
        node = InternalNode(left, right, self._digest(_NODE_PREFIX + left + right))
        self.written[depth, prefix] = node
        return node.hash
