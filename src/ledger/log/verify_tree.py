"""The Merkle half of ``ledger verify``: the tree recomputed from the leaves, and the store's.

:class:`RecomputedTree` grows as the pass reads the leaf hashes and takes its root at every
checkpoint size; :func:`compare_nodes` compares the store's ~2n nodes with it at the end.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

from ledger.crypto.suites import HashSuite
from ledger.log import merkle, native
from ledger.log.merkle import NodeId
from ledger.log.native import MerkleExtend


@dataclass
class RecomputedTree:
    """The Merkle tree recomputed from the leaf hashes, with its root at every checkpoint.

    Nodes are keyed by ``(level, index)`` tuples (``merkle.extend_nodes``): the tree has two
    nodes per leaf, and a :class:`NodeId` per node cost more than the hashing.
    """

    hash: HashSuite
    checkpoint_sizes: Sequence[int]
    """Increasing; the root is recorded at each."""
    size: int = 0
    nodes: dict[tuple[int, int], bytes] = field(default_factory=dict)
    roots: dict[int, bytes] = field(default_factory=dict)
    _edge: list[tuple[int, bytes]] = field(default_factory=list)
    _next_cut: int = 0
    in_c: bool = True
    """Grow the tree in C where it was built (SHA-256; :mod:`ledger.log.native`): the same
    nodes, a fifth of the CPU in a verify run."""
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
                                     self.nodes)
            start = stop
            if self._next_cut < len(cuts) and cuts[self._next_cut] == self.size:
                self.roots[self.size] = merkle.root_from_edge(self.hash, self._edge)

    def get(self, node: NodeId) -> bytes | None:
        """The recomputed hash of ``node``; None beyond the tree."""
        return self.nodes.get((node.level, node.index))


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


def compare_nodes(tree: RecomputedTree, stored: Mapping[tuple[int, int], bytes]
                  ) -> NodeFindings:
    """Compare every stored node, by ``(level, index)``, with the complete recomputed tree."""
    findings = NodeFindings(count=len(stored))
    if stored == tree.nodes:  # the usual case: one comparison of two dicts, in C
        return findings
    get = tree.nodes.get
    for (level, index), value in stored.items():
        expected = get((level, index))
        if expected is None:
            findings.beyond.append((level, index))
        elif expected != value:
            findings.differing.append(NodeId(level, index))
    return findings
