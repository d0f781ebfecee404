"""The log's RFC 9162 Merkle tree, computed from stored perfect subtrees (docs/design.md §5, Log).

Pure functions, no I/O. The store keeps the hash of every *perfect aligned subtree*: the node
``NodeId(level, index)`` covers leaves ``[index·2^level, (index+1)·2^level)``; level 0 holds the
leaf hashes. Every range that RFC 9162 §2.1 hashes (a root, an audit path entry, a consistency
proof entry) is a node of the recursion tree of ``MTH(D[0:n])``, so it splits into at most
``log2(n) + 1`` stored perfect nodes, and its hash is the right fold of theirs. A root or a proof
at any size therefore costs ``O(log n)`` node reads, fetched in one query via
:func:`nodes_needed`, and never a re-read of the leaves.

Typical store-backed use::

    ranges = inclusion_ranges(index, size)
    nodes = store.fetch(nodes_needed(ranges))
    proof = [range_hash(h, start, end, nodes) for start, end in ranges]

and on append::

    new_nodes, new_edge = append_leaves(h, size, edge, entry_hashes)
    store.insert(new_nodes)

The verifiers follow RFC 9162 §2.1.3.2 and §2.1.4.2 step by step and fail closed with
:class:`~ledger.errors.ProofError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ledger.crypto.suites import HashSuite
from ledger.errors import IntegrityFailedError, ProofError

__all__ = [
    "MemoryTree",
    "NodeId",
    "append_leaves",
    "consistency_ranges",
    "decompose",
    "empty_root",
    "extend_nodes",
    "inclusion_ranges",
    "leaf_hash",
    "node_hash",
    "nodes_needed",
    "range_hash",
    "root_from_edge",
    "root_from_right_edge",
    "root_nodes",
    "verify_consistency",
    "verify_inclusion",
]

_LEAF_HASH_PREFIX = b"\x00"
_NODE_HASH_PREFIX = b"\x01"
_HASH_SIZE = 32


# --- Hashing (RFC 9162 §2.1.1) -----------------------------------------------------------------


def leaf_hash(h: HashSuite, data: bytes) -> bytes:
    """Return the leaf hash ``H(0x00 ‖ data)``; in the log, ``data`` is the 32-byte entry hash."""
    return h.digest(_LEAF_HASH_PREFIX + data)


def node_hash(h: HashSuite, left: bytes, right: bytes) -> bytes:
    """Return the interior node hash ``H(0x01 ‖ left ‖ right)``."""
    return h.digest(_NODE_HASH_PREFIX + left + right)


def empty_root(h: HashSuite) -> bytes:
    """Return the root of the empty tree, ``MTH({}) = H("")``."""
    return h.digest(b"")


# --- Tree geometry -------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class NodeId:
    """A perfect aligned subtree: ``level`` 0 is a leaf; it covers ``[start, end)``."""

    level: int
    index: int

    def __post_init__(self) -> None:
        """Refuse negative coordinates."""
        if self.level < 0 or self.index < 0:
            raise ValueError(f"expected a non-negative level and index, got {self!r}")

    @property
    def start(self) -> int:
        """The first leaf index this node covers."""
        return self.index << self.level

    @property
    def end(self) -> int:
        """One past the last leaf index this node covers."""
        return (self.index + 1) << self.level


def _largest_power_of_two_below(n: int) -> int:
    """Return the ``k`` of RFC 9162 §2.1.1: the largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_range(start: int, end: int) -> None:
    """Raise ValueError unless ``0 <= start <= end``."""
    if not 0 <= start <= end:
        raise ValueError(f"expected a leaf range 0 <= start <= end, got [{start}, {end})")


def decompose(start: int, end: int) -> list[NodeId]:
    """Return the maximal aligned perfect subtrees covering ``[start, end)``, left to right.

    Greedy from the left: each node is the largest one aligned at the current position that fits.
    For ``start == 0`` this is the binary expansion of ``end``, largest first.
    """
    _check_range(start, end)
    nodes: list[NodeId] = []
    pos = start
    while pos < end:
        # The alignment of pos bounds the level from above (pos == 0 is aligned to everything),
        # and so does the room left.
        level = (end - pos).bit_length() - 1
        if pos:
            level = min(level, (pos & -pos).bit_length() - 1)
        nodes.append(NodeId(level, pos >> level))
        pos += 1 << level
    return nodes


def root_nodes(size: int) -> list[NodeId]:
    """Return the nodes whose right fold is the root at ``size``: also the tree's right edge.

    They are exactly the nodes an append needs; there are ``popcount(size)`` of them.
    """
    return decompose(0, size)


def _check_recursive_range(start: int, end: int) -> None:
    """Raise ValueError unless ``[start, end)`` can occur in RFC 9162's recursion over ``D[0:n]``.

    Such a range starts at a multiple of the smallest power of two holding its length; only then
    is its MTH the right fold of :func:`decompose`.
    """
    _check_range(start, end)
    length = end - start
    if length and start % (1 << (length - 1).bit_length()):
        raise ValueError(
            f"expected a range of RFC 9162's recursion (start aligned to its length rounded up "
            f"to a power of two), got [{start}, {end})"
        )


def range_hash(h: HashSuite, start: int, end: int, nodes: Mapping[NodeId, bytes]) -> bytes:
    """Return ``MTH(D[start:end])`` (RFC 9162 §2.1.1) from the stored perfect nodes.

    The range must be one that RFC 9162 §2.1 hashes (a root, an audit path or consistency proof
    entry); any other raises ValueError, as does a node missing from ``nodes``. The empty range
    hashes to :func:`empty_root`.
    """
    _check_recursive_range(start, end)
    if start == end:
        return empty_root(h)
    parts = decompose(start, end)
    missing = [node for node in parts if node not in nodes]
    if missing:
        raise ValueError(
            f"expected stored nodes {parts} for leaves [{start}, {end}), missing {missing}"
        )
    # The decomposition of such a range is strictly decreasing in size, so MTH splits it
    # exactly at each node boundary: MTH = H(n0, H(n1, ... H(n_{k-2}, n_{k-1}))).
    acc = nodes[parts[-1]]
    for node in reversed(parts[:-1]):
        acc = node_hash(h, nodes[node], acc)
    return acc


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Return the ranges whose MTH form ``PATH(index, D[0:size])`` (RFC 9162 §2.1.3.1).

    In proof order, leaf-most first. Raises ValueError unless ``0 <= index < size``.
    """
    if not 0 <= index < size:
        raise ValueError(f"expected a leaf index in [0, {size}), got {index}")
    path: list[tuple[int, int]] = []
    start, end = 0, size
    # Walk down from the root; each step's sibling is appended after the deeper path, so the
    # list is reversed at the end.
    while end - start > 1:
        k = _largest_power_of_two_below(end - start)
        if index < start + k:
            path.append((start + k, end))  # PATH(m, D[0:k]) : MTH(D[k:n])
            end = start + k
        else:
            path.append((start, start + k))  # PATH(m - k, D[k:n]) : MTH(D[0:k])
            start += k
    path.reverse()
    return path


def consistency_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    """Return the ranges whose MTH form ``PROOF(size1, D[0:size2])`` (RFC 9162 §2.1.4.1).

    Empty when ``size1 == size2``. Raises ValueError unless ``0 < size1 <= size2``: a proof from
    the empty tree is not defined.
    """
    if not 0 < size1 <= size2:
        raise ValueError(f"expected sizes 0 < size1 <= size2, got {size1} and {size2}")
    tail: list[tuple[int, int]] = []
    start, end, m = 0, size2, size1
    complete = True  # the b flag of SUBPROOF
    while end - start != m:
        k = _largest_power_of_two_below(end - start)
        if m <= k:
            tail.append((start + k, end))  # SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
            end = start + k
        else:
            tail.append((start, start + k))  # SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
            start += k
            m -= k
            complete = False
    tail.reverse()
    # SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) = {MTH(D[m])}.
    return tail if complete else [(start, end), *tail]


def nodes_needed(ranges: Iterable[tuple[int, int]]) -> set[NodeId]:
    """Return every stored node that :func:`range_hash` reads for ``ranges`` (one query's worth)."""
    needed: set[NodeId] = set()
    for start, end in ranges:
        needed.update(decompose(start, end))
    return needed


# --- Appending -----------------------------------------------------------------------------------


def stored_range_hashes(h: HashSuite, ranges: Sequence[tuple[int, int]],
                        nodes: Mapping[NodeId, bytes]) -> list[bytes]:
    """Each range's :func:`range_hash` from nodes as a store returned them (the store names a
    node of another type). A node the ranges need and the store lacks (rows edited beneath the
    log) is an :class:`IntegrityFailedError`, not a ValueError; the ranges must be ones RFC
    9162 hashes (from :func:`inclusion_ranges` and the like)."""
    try:
        return [range_hash(h, start, end, nodes) for start, end in ranges]
    except ValueError as exc:  # the ranges are valid: a node the tree needs is gone
        raise IntegrityFailedError(f"the stored Merkle tree is missing nodes: {exc} (run"
                                   " `ledger verify`)") from exc


def append_leaves(
    h: HashSuite, size: int, right_edge: Mapping[NodeId, bytes], entry_hashes: Sequence[bytes]
) -> tuple[dict[NodeId, bytes], dict[NodeId, bytes]]:
    """Append leaves to a tree of ``size`` given only its right edge (``root_nodes(size)``).

    Returns ``(new_nodes, new_right_edge)``: every perfect node completed by the append,
    including the level-0 leaf hashes, for the store to insert; and the right edge at
    ``size + len(entry_hashes)``. Raises ValueError if ``right_edge`` is not exactly the
    right edge at ``size``.
    """
    if size < 0:
        raise ValueError(f"expected a non-negative tree size, got {size}")
    expected = root_nodes(size)
    if set(right_edge) != set(expected):
        raise ValueError(
            f"expected the right edge {expected} at size {size}, got {sorted(right_edge)}"
        )
    stack: list[tuple[NodeId, bytes]] = [(node, right_edge[node]) for node in expected]
    new_nodes: dict[NodeId, bytes] = {}
    for offset, data in enumerate(entry_hashes):
        node, value = NodeId(0, size + offset), leaf_hash(h, data)
        new_nodes[node] = value
        # A right child (odd index) completes its parent with the left sibling on the edge.
        while node.index & 1:
            left, left_value = stack.pop()
            assert left == NodeId(node.level, node.index - 1)
            node, value = NodeId(node.level + 1, node.index >> 1), node_hash(h, left_value, value)
            new_nodes[node] = value
        stack.append((node, value))
    new_edge = dict(stack)
    assert list(new_edge) == root_nodes(size + len(entry_hashes))
    return new_nodes, new_edge


def extend_nodes(
    h: HashSuite,
    size: int,
    edge: list[tuple[int, bytes]],
    entry_hashes: Iterable[bytes],
    levels: list[list[bytes]],
) -> int:
    """Append leaves in bulk: :func:`append_leaves` for recomputing a whole tree (verify).

    The same nodes and hashes, with lighter bookkeeping for 10^5..10^6 leaves: every completed
    node is appended to its level's list in ``levels`` (the nodes of a level complete in index
    order, so ``levels[level][index]`` is the node; no key or object per node), and ``edge`` is
    the right edge at ``size`` as a stack of ``(level, hash)``, largest subtree first, updated
    in place. Returns the new size. The caller keeps ``edge`` and ``levels`` from the empty
    tree on (``[]``); they are not checked against ``size`` here (:func:`append_leaves` does
    that for stored trees).
    """
    digest = h.digest
    if not levels:
        levels.append([])
    for data in entry_hashes:
        index, level = size, 0
        value = digest(_LEAF_HASH_PREFIX + data)
        levels[0].append(value)
        # A right child (odd index) completes its parent with the left sibling on the edge.
        while index & 1:
            value = digest(_NODE_HASH_PREFIX + edge.pop()[1] + value)
            index >>= 1
            level += 1
            if level == len(levels):
                levels.append([])
            levels[level].append(value)
        edge.append((level, value))
        size += 1
    return size


def root_from_edge(h: HashSuite, edge: Sequence[tuple[int, bytes]]) -> bytes:
    """Return the root of the tree whose right edge is ``edge`` (as :func:`extend_nodes`)."""
    if not edge:
        return empty_root(h)
    acc = edge[-1][1]
    for _, value in reversed(edge[:-1]):
        acc = node_hash(h, value, acc)
    return acc


def root_from_right_edge(h: HashSuite, size: int, right_edge: Mapping[NodeId, bytes]) -> bytes:
    """Return the root at ``size`` from its right edge; the empty tree's is :func:`empty_root`."""
    return range_hash(h, 0, size, right_edge)


# --- Verification (RFC 9162 §2.1.3.2, §2.1.4.2) -------------------------------------------------


def _check_hashes(what: str, hashes: Iterable[bytes], leaf_index: int | None = None) -> None:
    """Raise ProofError unless every value is a digest-sized byte string."""
    for position, value in enumerate(hashes):
        if len(value) != _HASH_SIZE:
            raise ProofError(
                f"expected {what} [{position}] of {_HASH_SIZE} bytes, got {len(value)}",
                leaf_index=leaf_index,
            )


# The positional order (h, index, size, leaf, proof, root) is the RFC's and every caller's.
def verify_inclusion(  # noqa: PLR0917
    h: HashSuite,
    leaf_index: int,
    tree_size: int,
    leaf: bytes,
    proof: Sequence[bytes],
    root: bytes,
) -> None:
    """Verify that ``leaf`` (leaf *data*, the entry hash) is leaf ``leaf_index`` of ``root``.

    ``root`` is the tree head at ``tree_size`` and ``proof`` the audit path from
    RFC 9162 §2.1.3.1. Returns None or raises :class:`~ledger.errors.ProofError`.
    """
    _check_hashes("root and proof entries", [root, *proof], leaf_index)
    # RFC 9162 §2.1.3.2 step 1: fail if leaf_index >= tree_size (and on nonsense sizes).
    if not 0 <= leaf_index < tree_size:
        raise ProofError(
            f"expected a leaf index in [0, {tree_size}), got {leaf_index}", leaf_index=leaf_index
        )
    # Step 2: fn = leaf_index, sn = tree_size - 1.
    fn, sn = leaf_index, tree_size - 1
    # Step 3: r = hash (the leaf hash of the leaf data).
    r = leaf_hash(h, leaf)
    # Step 4: for each value p in the inclusion path.
    for p in proof:
        # Step 4a: a proof longer than the path fails.
        if sn == 0:
            raise ProofError(
                f"inclusion proof too long for tree size {tree_size}: {len(proof)} entries",
                leaf_index=leaf_index,
            )
        # Step 4b: p is a left sibling if fn is a right child or the last node of its level.
        if fn & 1 or fn == sn:
            r = node_hash(h, p, r)
            # Step 4b.ii: if LSB(fn) is not set, right-shift fn and sn equally until it is
            # or fn is 0 (skipping the levels where fn is the lone rightmost node).
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            # Step 4b "Otherwise": p is a right sibling.
            r = node_hash(h, r, p)
        # Step 4c: move up one level.
        fn >>= 1
        sn >>= 1
    # Step 5: the path must reach the root (sn == 0) and r must equal root_hash.
    if sn != 0:
        raise ProofError(
            f"inclusion proof too short for tree size {tree_size}: {len(proof)} entries",
            leaf_index=leaf_index,
        )
    if r != root:
        raise ProofError(
            f"inclusion proof gives root {r.hex()}, expected {root.hex()}", leaf_index=leaf_index
        )


def _verify_same_size(size: int, root1: bytes, root2: bytes, proof: Sequence[bytes]) -> None:
    """Raise ProofError unless the proof between two heads of one size is empty and roots agree."""
    if proof:
        raise ProofError(f"expected an empty proof between equal sizes, got {len(proof)} entries")
    if root1 != root2:
        raise ProofError(f"roots differ at equal size {size}: {root1.hex()} and {root2.hex()}")


def verify_consistency(  # noqa: PLR0917 (RFC order, as verify_inclusion)
    h: HashSuite,
    size1: int,
    size2: int,
    root1: bytes,
    root2: bytes,
    proof: Sequence[bytes],
) -> None:
    """Verify that the tree ``root1`` at ``size1`` is a prefix of the tree ``root2`` at ``size2``.

    ``proof`` is ``PROOF(size1, D[size2])`` from RFC 9162 §2.1.4.1. Returns None or raises
    :class:`~ledger.errors.ProofError`. Equal sizes need an empty proof and equal roots; a proof
    from the empty tree (``size1 == 0``) is not defined and fails, as does ``size1 > size2``.
    """
    _check_hashes("roots and proof entries", [root1, root2, *proof])
    if not 0 < size1 <= size2:
        raise ProofError(f"expected tree sizes 0 < size1 <= size2, got {size1} and {size2}")
    if size1 == size2:
        _verify_same_size(size1, root1, root2, proof)
        return
    # RFC 9162 §2.1.4.2 step 1: an empty consistency path fails.
    if not proof:
        raise ProofError(f"expected a consistency proof from {size1} to {size2}, got none")
    # Step 2: if first is an exact power of 2, prepend first_hash to the path.
    path = [root1, *proof] if size1 & (size1 - 1) == 0 else list(proof)
    # Step 3: fn = first - 1, sn = second - 1.
    fn, sn = size1 - 1, size2 - 1
    # Step 4: if LSB(fn) is set, right-shift fn and sn equally until it is not.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # Step 5: fr and sr start as the first value in the path.
    fr = sr = path[0]
    # Step 6: for each subsequent value c in the path.
    for c in path[1:]:
        # Step 6a: a proof longer than the path fails.
        if sn == 0:
            raise ProofError(
                f"consistency proof too long from {size1} to {size2}: {len(proof)} entries"
            )
        # Step 6b: c is a left sibling of both paths.
        if fn & 1 or fn == sn:
            fr = node_hash(h, c, fr)
            sr = node_hash(h, c, sr)
            # Step 6b.iii: if LSB(fn) is not set, right-shift fn and sn equally until it is
            # or fn is 0.
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            # Step 6b "Otherwise": c is a right sibling, only in the second tree.
            sr = node_hash(h, sr, c)
        # Step 6c: move up one level.
        fn >>= 1
        sn >>= 1
    # Step 7: fr must equal first_hash, sr second_hash, and sn must be 0.
    if sn != 0:
        raise ProofError(
            f"consistency proof too short from {size1} to {size2}: {len(proof)} entries"
        )
    if fr != root1:
        raise ProofError(f"consistency proof gives root1 {fr.hex()}, expected {root1.hex()}")
    if sr != root2:
        raise ProofError(f"consistency proof gives root2 {sr.hex()}, expected {root2.hex()}")


# --- In-memory tree ------------------------------------------------------------------------------


class MemoryTree:
    """A tree held in memory, for tests and the offline verifier.

    It keeps a node store exactly as the database does and answers through the same functions
    (:func:`append_leaves`, :func:`range_hash`), so store-backed code and tests share one path.
    """

    def __init__(self, h: HashSuite, entry_hashes: Iterable[bytes] = ()) -> None:
        """Start an empty tree under ``h`` and append ``entry_hashes`` (leaf data)."""
        self._h = h
        self._nodes: dict[NodeId, bytes] = {}
        self._edge: dict[NodeId, bytes] = {}
        self._size = 0
        self.extend(entry_hashes)

    @property
    def size(self) -> int:
        """The number of leaves."""
        return self._size

    @property
    def nodes(self) -> Mapping[NodeId, bytes]:
        """Every stored perfect node (read-only view)."""
        return self._nodes

    def extend(self, entry_hashes: Iterable[bytes]) -> None:
        """Append leaves, storing every node the append completes."""
        batch = list(entry_hashes)
        new_nodes, self._edge = append_leaves(self._h, self._size, self._edge, batch)
        self._nodes.update(new_nodes)
        self._size += len(batch)

    def append(self, entry_hash: bytes) -> None:
        """Append one leaf."""
        self.extend([entry_hash])

    def _check_size(self, size: int) -> None:
        """Raise ValueError unless ``size`` is a size this tree has had."""
        if not 0 <= size <= self._size:
            raise ValueError(f"expected a tree size in [0, {self._size}], got {size}")

    def _hashes(self, ranges: list[tuple[int, int]]) -> list[bytes]:
        """Return the MTH of each range, read from the store."""
        nodes = {node: self._nodes[node] for node in nodes_needed(ranges)}
        return [range_hash(self._h, start, end, nodes) for start, end in ranges]

    def root(self, size: int | None = None) -> bytes:
        """Return the root at ``size`` (default: the current size)."""
        size = self._size if size is None else size
        self._check_size(size)
        if size == self._size:
            return root_from_right_edge(self._h, size, self._edge)
        return self._hashes([(0, size)])[0]

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Return ``PATH(index, D[0:size])`` (RFC 9162 §2.1.3.1)."""
        size = self._size if size is None else size
        self._check_size(size)
        return self._hashes(inclusion_ranges(index, size))

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        """Return ``PROOF(size1, D[0:size2])`` (RFC 9162 §2.1.4.1)."""
        size2 = self._size if size2 is None else size2
        self._check_size(size2)
        return self._hashes(consistency_ranges(size1, size2))
