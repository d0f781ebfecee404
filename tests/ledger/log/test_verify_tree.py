"""verify's bulk Merkle recomputation equals the tree the store keeps (``merkle.append_leaves``)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.crypto.suites import GM, INTL
from ledger.log import merkle, native
from ledger.log.merkle import NodeId
from ledger.log.verify_tree import RecomputedTree, compare_nodes, runs_equal


def _leaves(count: int) -> list[bytes]:
    return [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(count)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=8))
def test_extend_nodes_equals_append_leaves(runs: list[int]) -> None:
    for profile in (INTL, GM):
        h = profile.hash
        reference = merkle.MemoryTree(h)
        levels: list[list[bytes]] = []
        edge: list[tuple[int, bytes]] = []
        size = 0
        for count in runs:
            batch = _leaves(size + count)[size:]
            reference.extend(batch)
            size = merkle.extend_nodes(h, size, edge, batch, levels)
            assert size == reference.size
            assert merkle.root_from_edge(h, edge) == reference.root()
        assert {(level, index): value for level, values in enumerate(levels)
                for index, value in enumerate(values)} == {
            (n.level, n.index): v for n, v in reference.nodes.items()}


def test_root_of_the_empty_edge_is_the_empty_root() -> None:
    assert merkle.root_from_edge(INTL.hash, []) == merkle.empty_root(INTL.hash)


def test_recomputed_tree_takes_the_root_at_every_checkpoint() -> None:
    leaves = _leaves(37)
    cuts = [1, 5, 6, 16, 33, 37]
    tree = RecomputedTree(INTL.hash, cuts)
    for start in range(0, len(leaves), 7):  # pages that do not align with the cuts
        tree.extend(leaves[start:start + 7])
    reference = merkle.MemoryTree(INTL.hash, leaves)
    assert tree.roots == {size: reference.root(size) for size in cuts}
    assert tree.roots[37] == reference.root()


def test_stored_nodes_are_compared_with_the_complete_tree() -> None:
    leaves = _leaves(20)
    reference = merkle.MemoryTree(INTL.hash, leaves)
    stored = dict(reference.nodes)
    bad = NodeId(1, 3)
    stored[bad] = b"\x00" * 32
    stored[NodeId(5, 0)] = b"\x01" * 32  # beyond 20 leaves
    tree = RecomputedTree(INTL.hash, [])
    for start in range(0, 20, 3):
        tree.extend(leaves[start:start + 3])
    findings = compare_nodes(tree, {(node.level, node.index): value
                                    for node, value in stored.items()})
    assert findings.count == len(stored)
    assert findings.differing == [bad]
    assert findings.beyond == [(5, 0)]


@pytest.mark.skipif(native.MERKLE_EXTEND is None, reason="the C loops (ledger/log/_replay.c)"
                    " are not built here: the Python loop is tested alone")
@settings(max_examples=60, deadline=None)
@given(runs=st.lists(st.integers(1, 40), min_size=1, max_size=8),
       odd=st.lists(st.binary(max_size=70), max_size=3))
def test_the_tree_grown_in_c_is_the_tree_grown_in_python(runs: list[int],
                                                          odd: list[bytes]) -> None:
    """Every node and every checkpoint root the same, leaves of other lengths included (an
    entry hash edited in the database)."""
    leaves = _leaves(sum(runs)) + odd
    cuts = sorted({1, len(leaves), *(sum(runs[:i]) for i in range(1, len(runs)))})
    in_c, in_python = RecomputedTree(INTL.hash, cuts), RecomputedTree(INTL.hash, cuts, in_c=False)
    assert in_c._extend is native.MERKLE_EXTEND
    start = 0
    for count in [*runs, len(odd)]:
        for tree in (in_c, in_python):
            tree.extend(leaves[start:start + count])
        start += count
    assert in_c.size == in_python.size == len(leaves)
    assert in_c.levels == in_python.levels
    assert in_c.roots == in_python.roots
    assert set(in_c.roots) == set(cuts)


def _runs(nodes: dict[tuple[int, int], object]) -> list[tuple[int, list[int], list[object]]]:
    """Stored nodes as a store's node_runs gives them: a run per level, indexes increasing."""
    by_level: dict[int, list[tuple[int, object]]] = {}
    for (level, index), value in sorted(nodes.items()):
        by_level.setdefault(level, []).append((index, value))
    return [(level, [i for i, _ in run], [v for _, v in run])
            for level, run in sorted(by_level.items())]


def test_runs_equal_only_when_every_node_is_stored_once_and_equal() -> None:
    leaves = _leaves(21)
    tree = RecomputedTree(INTL.hash, [])
    tree.extend(leaves)
    stored: dict[tuple[int, int], object] = dict(tree.nodes)
    assert runs_equal(tree, _runs(stored))
    assert tree.node_count == len(stored)
    assert not runs_equal(tree, _runs({**stored, (1, 3): b"\x00" * 32}))  # differs
    assert not runs_equal(tree, _runs({**stored, (1, 3): "text"}))  # another type
    assert not runs_equal(tree, _runs({**stored, (5, 0): b"\x01" * 32}))  # beyond the tree
    assert not runs_equal(tree, _runs({**stored, (0, 21): b"\x01" * 32}))  # past a level
    missing = dict(stored)
    del missing[2, 1]
    assert not runs_equal(tree, _runs(missing))
    level, indexes, hashes = _runs(stored)[0]
    twice = [(level, [*indexes[:5], indexes[4], *indexes[5:]],
              [*hashes[:5], hashes[4], *hashes[5:]]), *_runs(stored)[1:]]
    assert not runs_equal(tree, twice)  # a position stored twice
    assert not runs_equal(tree, [])
    assert runs_equal(RecomputedTree(INTL.hash, []), [])
