"""The Merkle half of ``ledger verify``: the tree recomputed from the leaves, and the store's.

:class:`RecomputedTree` grows as the pass reads the leaf hashes and takes its root at every
checkpoint size; :func:`runs_equal` and :func:`compare_nodes` compare the store's ~2n nodes with
it at the end (the first in runs of consecutive nodes, the usual case; the second node by node,
naming what differs).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

from ledger.crypto.suites import HashSuite
from ledger.log import merkle, native
from ledger.log.merkle import NodeId
from ledger.log.native import MerkleExtend


@dataclass
class RecomputedTree:
    """The Merkle tree recomputed from the leaf hashes, with its root at every checkpoint.

    Nodes are kept a list per level, ``levels[level][index]`` (``merkle.extend_nodes``): the
    tree has two nodes per leaf, and a key or object per node cost more than the hashing.
    """

    hash: HashSuite
    checkpoint_sizes: Sequence[int]
    """Increasing; the root is recorded at each."""
    size: int = 0
    levels: list[list[bytes]] = field(default_factory=list)
    roots: dict[int, bytes] = field(default_factory=dict)
    _edge: list[tuple[int, bytes]] = field(default_factory=list)
    _next_cut: int = 0
    in_c: bool = True
    """Grow the tree in C where it was built (SHA-256; :mod:`ledger.log.native`): the same
    nodes, a third of the CPU in a verify run."""
    _extend: MerkleExtend = field(init=False)

    def __post_init__(self) -> None:
        """Pick the loop that grows the tree."""
        if self.in_c and native.MERKLE_EXTEND is not None and self.hash.name == "sha256":
            self._extend = native.MERKLE_EXTEND
        else:
            self._extend = partial(merkle.extend_nodes, self.hash)

    def extend(self, entry_hashes: Sequence[bytes]) -> None:
        """Append leaves a run at a time, up to each checkpoint size, and take its root."""
        cuts, start = self.checkpoint_sizes, 0
        while start < len(entry_hashes):
            while self._next_cut < len(cuts) and cuts[self._next_cut] <= self.size:
                self._next_cut += 1
            stop = len(entry_hashes)
            if self._next_cut < len(cuts):
                stop = min(stop, start + cuts[self._next_cut] - self.size)
            self.size = self._extend(self.size, self._edge, entry_hashes[start:stop],
                                     self.levels)
            start = stop
            if self._next_cut < len(cuts) and cuts[self._next_cut] == self.size:
                self.roots[self.size] = merkle.root_from_edge(self.hash, self._edge)

    def get(self, node: NodeId) -> bytes | None:
        """The recomputed hash of ``node``; None beyond the tree."""
        return self.at(node.level, node.index)

    def at(self, level: int, index: int) -> bytes | None:
        """The recomputed hash at ``(level, index)``; None beyond the tree."""
        if 0 <= level < len(self.levels) and 0 <= index < len(self.levels[level]):
            return self.levels[level][index]
        return None

    @property
    def node_count(self) -> int:
        """Nodes in the tree (about two a leaf)."""
        return sum(map(len, self.levels))

    @property
    def nodes(self) -> dict[tuple[int, int], bytes]:
        """Every node by ``(level, index)`` (built when asked: for naming what differs)."""
        return {(level, index): value for level, values in enumerate(self.levels)
                for index, value in enumerate(values)}


@dataclass
class NodeFindings:
    """How the stored nodes differ from the recomputed tree, in the store's order."""

    count: int = 0
    """Stored nodes seen."""
    differing: list[NodeId] = field(default_factory=list)
    """Stored, and not equal to the recomputed node."""
    beyond: list[tuple[int, int]] = field(default_factory=list)
    """Stored, but not a node of the recomputed tree: (level, index), which an edited row may
    make negative (no :class:`NodeId`)."""


NodeRun = tuple[int, list[int], list[object]]
"""Stored nodes of one level as the store reads them (``LogSnapshot.node_runs``): the level,
the indexes in increasing order and the hashes, in parallel lists."""


def runs_equal(tree: RecomputedTree, runs: Iterable[NodeRun]) -> bool:
    """Whether the stored runs hold exactly the recomputed tree: every node once, each equal.

    The usual case, decided a run at a time by comparing lists in C (a run's indexes with a
    range, its hashes with a slice of the level); False sends verify to
    :func:`compare_nodes`, which names what differs.
    """
    levels, count = tree.levels, 0
    for level, indexes, hashes in runs:
        if not indexes or not 0 <= level < len(levels) or len(hashes) != len(indexes):
            return False
        first = indexes[0]
        if type(first) is not int or first < 0:
            return False
        stop = first + len(indexes)
        if indexes != list(range(first, stop)) or hashes != levels[level][first:stop]:
            return False
        count += len(indexes)
    return count == tree.node_count


def compare_nodes(tree: RecomputedTree, stored: Mapping[tuple[int, int], bytes]
                  ) -> NodeFindings:
    """Compare every stored node, by ``(level, index)``, with the complete recomputed tree."""
    findings = NodeFindings(count=len(stored))
    at = tree.at
    for (level, index), value in stored.items():
        expected = at(level, index)
        if expected is None:
            findings.beyond.append((level, index))
        elif expected != value:
            findings.differing.append(NodeId(level, index))
    return findings
