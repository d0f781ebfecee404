"""The log's Merkle tree against a naive RFC 9162 §2.1 reference and known-answer vectors.

The reference below is the RFC's recursive definitions written out directly (MTH, PATH, PROOF),
reading every leaf. The module under test computes the same values from stored perfect subtrees;
the two must agree for every size, and the verifiers must reject every tampered input.

Known-answer vectors: the 8-leaf tree of the RFC 6962 test vectors as used in
transparency-dev/merkle (``proof/verify_test.go``): leaf inputs, the roots at sizes 1..8, and
some inclusion and consistency proofs. They hash the raw inputs as leaf data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.crypto.suites import INTL
from ledger.errors import IntegrityFailedError, ProofError
from ledger.log.merkle import (
    MemoryTree,
    NodeId,
    append_leaves,
    consistency_ranges,
    decompose,
    empty_root,
    inclusion_ranges,
    leaf_hash,
    node_hash,
    nodes_needed,
    range_hash,
    root_from_right_edge,
    root_nodes,
    verify_consistency,
    verify_inclusion,
)

H = INTL.hash
MAX_SIZE = 300
EXHAUSTIVE = 64


# --- Naive reference: RFC 9162 §2.1, straight from the text ------------------------------------


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: Sequence[bytes]) -> bytes:
    """MTH(D[n]) (§2.1.1)."""
    if not d:
        return H.digest(b"")
    if len(d) == 1:
        return H.digest(b"\x00" + d[0])
    k = _k(len(d))
    return H.digest(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:]))


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) (§2.1.3.1)."""
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) (§2.1.4.1)."""
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def ref_proof(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) (§2.1.4.1)."""
    return ref_subproof(m, d, True)


# --- Fixtures -------------------------------------------------------------------------------------


def entry(i: int) -> bytes:
    """A distinct 32-byte entry hash for leaf i."""
    return H.digest(b"entry %d" % i)


ENTRIES = [entry(i) for i in range(MAX_SIZE)]
TREE = MemoryTree(H, ENTRIES)
REF_ROOTS = [ref_mth(ENTRIES[:n]) for n in range(MAX_SIZE + 1)]


def flip(value: bytes, at: int) -> bytes:
    """Return value with one bit of byte ``at`` flipped."""
    return value[:at] + bytes([value[at] ^ 0x01]) + value[at + 1 :]


def tampered_proofs(proof: list[bytes], extra: bytes) -> Iterator[tuple[str, list[bytes]]]:
    """Every proof that must not verify where ``proof`` does."""
    for i, item in enumerate(proof):
        for at in (0, 17, 31):
            yield f"proof[{i}] byte {at} flipped", [*proof[:i], flip(item, at), *proof[i + 1 :]]
    if proof:
        yield "truncated", proof[:-1]
        yield "first dropped", proof[1:]
        yield "inserted", [proof[0], extra, *proof[1:]]
        if len(proof) > 1:
            yield "swapped", [proof[1], proof[0], *proof[2:]]
    yield "extended", [*proof, extra]
    yield "prepended", [extra, *proof]


def inclusion_cases(size: int) -> list[int]:
    """Leaf indexes to check at one size: all of them for small trees, the edges otherwise."""
    if size <= 16:
        return list(range(size))
    return sorted({0, 1, size // 2, size - 2, size - 1})


# --- Geometry ------------------------------------------------------------------------------------


def test_node_id_covers_its_aligned_range() -> None:
    node = NodeId(3, 5)
    assert (node.start, node.end) == (40, 48)
    assert NodeId(0, 7).start == 7
    assert NodeId(0, 7).end == 8
    assert sorted([NodeId(1, 0), NodeId(0, 3)]) == [NodeId(0, 3), NodeId(1, 0)]
    with pytest.raises(ValueError, match="non-negative"):
        NodeId(-1, 0)


@pytest.mark.parametrize("size", range(EXHAUSTIVE + 1))
def test_root_nodes_are_binary_expansion(size: int) -> None:
    nodes = root_nodes(size)
    assert len(nodes) == size.bit_count()
    assert [n.level for n in nodes] == sorted({n.level for n in nodes}, reverse=True)
    starts = [n.start for n in nodes]
    assert starts == [0, *[n.end for n in nodes[:-1]]][: len(nodes)]
    assert (nodes[-1].end if nodes else 0) == size


@given(st.integers(0, 10_000), st.integers(0, 10_000))
def test_decompose_is_maximal_aligned_cover(a: int, b: int) -> None:
    start, end = min(a, b), max(a, b)
    nodes = decompose(start, end)
    pos = start
    for node in nodes:
        assert node.start == pos
        pos = node.end
        # Maximal: the parent is either misaligned to the left or runs past the end.
        parent = NodeId(node.level + 1, node.index >> 1)
        assert parent.start < start or parent.end > end
    assert pos == end
    assert len(nodes) <= 2 * max(1, (end - start).bit_length())


def test_decompose_rejects_bad_ranges() -> None:
    with pytest.raises(ValueError, match="range"):
        decompose(5, 4)
    with pytest.raises(ValueError, match="range"):
        decompose(-1, 4)


def test_range_hash_refuses_ranges_outside_rfc_recursion() -> None:
    # [1, 3) is never hashed by RFC 9162 and its MTH is not the fold of its decomposition.
    with pytest.raises(ValueError, match="recursion"):
        range_hash(H, 1, 3, TREE.nodes)


def test_range_hash_names_missing_nodes() -> None:
    nodes = dict(TREE.nodes)
    del nodes[NodeId(1, 2)]
    range_hash(H, 0, 8, nodes)  # one perfect node, the rest is not read
    with pytest.raises(ValueError, match=r"missing \[NodeId\(level=1, index=2\)\]"):
        range_hash(H, 0, 7, nodes)


def test_empty_tree() -> None:
    assert empty_root(H) == bytes.fromhex(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert root_from_right_edge(H, 0, {}) == empty_root(H)
    assert MemoryTree(H).root() == empty_root(H)
    assert range_hash(H, 0, 0, {}) == empty_root(H)


def test_hash_domain_separation() -> None:
    data = b"\x01" * 64
    assert leaf_hash(H, data) == H.digest(b"\x00" + data)
    assert node_hash(H, data[:32], data[32:]) == H.digest(b"\x01" + data)
    assert leaf_hash(H, data) != node_hash(H, data[:32], data[32:])


# --- Against the reference ------------------------------------------------------------------------


def check_size(size: int) -> None:
    """Roots, every checked inclusion proof and every consistency proof at ``size``."""
    assert TREE.root(size) == REF_ROOTS[size]
    # The root from the stored nodes reads only the popcount(size) right-edge nodes.
    assert nodes_needed([(0, size)]) == set(root_nodes(size))
    bound = 2 * max(1, size.bit_length())
    for index in inclusion_cases(size):
        ranges = inclusion_ranges(index, size)
        proof = TREE.inclusion_proof(index, size)
        assert proof == ref_path(index, ENTRIES[:size])
        assert len(nodes_needed(ranges)) <= bound
        verify_inclusion(H, index, size, ENTRIES[index], proof, REF_ROOTS[size])
    for size1 in range(1, size + 1):
        ranges = consistency_ranges(size1, size)
        proof = TREE.consistency_proof(size1, size)
        assert proof == ref_proof(size1, ENTRIES[:size])
        assert len(nodes_needed(ranges)) <= bound
        verify_consistency(H, size1, size, REF_ROOTS[size1], REF_ROOTS[size], proof)


@pytest.mark.parametrize("size", range(1, EXHAUSTIVE + 1))
def test_matches_reference_exhaustively(size: int) -> None:
    check_size(size)


@settings(max_examples=25, deadline=None)
@given(st.integers(EXHAUSTIVE + 1, MAX_SIZE))
def test_matches_reference_for_larger_sizes(size: int) -> None:
    check_size(size)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_inclusion_matches_reference_at_any_index(data: st.DataObject) -> None:
    size = data.draw(st.integers(1, MAX_SIZE), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = TREE.inclusion_proof(index, size)
    assert proof == ref_path(index, ENTRIES[:size])
    verify_inclusion(H, index, size, ENTRIES[index], proof, REF_ROOTS[size])


def test_nodes_needed_is_polylog() -> None:
    # The bound the storage model promises, checked over a large range of sizes without a tree.
    for size in [*range(1, 600), 2**20 - 1, 2**20, 2**20 + 1, 10**9 + 7]:
        limit = 2 * size.bit_length()
        assert limit <= 2 * max(1, math.log2(size)) ** 2 + 2
        for index in {0, size // 3, size // 2, size - 1}:
            assert len(nodes_needed(inclusion_ranges(index, size))) <= limit
        for size1 in {1, size // 3 or 1, size // 2 or 1, max(1, size - 1), size}:
            assert len(nodes_needed(consistency_ranges(size1, size))) <= limit


# --- Appending through the right edge only --------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=8))
def test_append_in_batches_matches_one_shot(batches: list[int]) -> None:
    store: dict[NodeId, bytes] = {}
    edge: dict[NodeId, bytes] = {}
    size = 0
    for count in batches:
        new_nodes, edge = append_leaves(H, size, edge, ENTRIES[size : size + count])
        assert not store.keys() & new_nodes.keys()  # nodes are written once, never rewritten
        store.update(new_nodes)
        size += count
        assert list(edge) == root_nodes(size)
        assert root_from_right_edge(H, size, edge) == REF_ROOTS[size]
    # Exactly every perfect subtree of the final tree is stored.
    expected = {NodeId(level, i) for level in range(10) for i in range(size >> level)}
    assert set(store) == expected
    assert {k: TREE.nodes[k] for k in expected} == store


def test_append_rejects_a_wrong_right_edge() -> None:
    edge = {node: TREE.nodes[node] for node in root_nodes(5)}
    with pytest.raises(ValueError, match="right edge"):
        append_leaves(H, 6, edge, [entry(6)])
    with pytest.raises(ValueError, match="right edge"):
        append_leaves(H, 5, {**edge, NodeId(0, 0): TREE.nodes[NodeId(0, 0)]}, [entry(5)])


def test_memory_tree_rejects_sizes_it_never_had() -> None:
    tree = MemoryTree(H, ENTRIES[:5])
    tree.append(ENTRIES[5])
    assert tree.size == 6
    assert tree.root() == REF_ROOTS[6]
    with pytest.raises(ValueError, match="tree size"):
        tree.root(7)
    with pytest.raises(ValueError, match="leaf index"):
        tree.inclusion_proof(6, 6)
    with pytest.raises(ValueError, match="size1"):
        tree.consistency_proof(0, 6)
    with pytest.raises(ValueError, match="size1"):
        tree.consistency_proof(6, 5)
    assert tree.consistency_proof(6) == []


# --- Fail closed ----------------------------------------------------------------------------------


def test_proof_error_is_an_integrity_failure() -> None:
    assert issubclass(ProofError, IntegrityFailedError)


def assert_rejected(desc: str, verify: Callable[..., None], *args: object) -> None:
    """Fail the test unless ``verify(*args)`` raises ProofError."""
    try:
        verify(*args)
    except ProofError:
        return
    pytest.fail(f"verified despite: {desc}")


@pytest.mark.parametrize("size", [*range(1, 20), 31, 32, 33, 63, 64, 65, 127, 255, MAX_SIZE])
def test_inclusion_rejects_tampering(size: int) -> None:
    root = REF_ROOTS[size]
    extra = entry(10_000)
    for index in inclusion_cases(size):
        leaf = ENTRIES[index]
        proof = TREE.inclusion_proof(index, size)
        verify_inclusion(H, index, size, leaf, proof, root)
        args = (index, size)
        for desc, bad in tampered_proofs(proof, extra):
            assert_rejected(f"{args} {desc}", verify_inclusion, H, index, size, leaf, bad, root)
        for at in (0, 15, 31):
            assert_rejected(
                f"{args} leaf byte {at}",
                verify_inclusion,
                H,
                index,
                size,
                flip(leaf, at),
                proof,
                root,
            )
            assert_rejected(
                f"{args} root byte {at}",
                verify_inclusion,
                H,
                index,
                size,
                leaf,
                proof,
                flip(root, at),
            )
        assert_rejected(
            f"{args} empty root", verify_inclusion, H, index, size, leaf, proof, empty_root(H)
        )
        assert_rejected(f"{args} other leaf", verify_inclusion, H, index, size, extra, proof, root)
        for wrong in {index - 1, index + 1, index ^ 1, index ^ 2, -1, size} - {index}:
            assert_rejected(
                f"{args} index {wrong}", verify_inclusion, H, wrong, size, leaf, proof, root
            )
        # The proof alone does not pin the size (PATH(0, D[5]) and PATH(0, D[6]) have one
        # shape): the checkpoint does, by pairing the size with its root.
        for wrong in {size - 1, size + 1, size * 2, size // 2}:
            if wrong <= MAX_SIZE:
                assert_rejected(
                    f"{args} size {wrong}",
                    verify_inclusion,
                    H,
                    index,
                    wrong,
                    leaf,
                    proof,
                    REF_ROOTS[wrong],
                )
        for wrong in {size * 2, size // 2}:
            assert_rejected(
                f"{args} size {wrong}, same root",
                verify_inclusion,
                H,
                index,
                wrong,
                leaf,
                proof,
                root,
            )


@pytest.mark.parametrize("size2", [*range(1, 20), 31, 32, 33, 64, 65, MAX_SIZE])
def test_consistency_rejects_tampering(size2: int) -> None:
    root2 = REF_ROOTS[size2]
    extra = entry(10_000)
    sizes1 = range(1, size2 + 1) if size2 <= 65 else sorted({1, 2, 3, 64, 65, 150, 299, 300})
    for size1 in sizes1:
        root1 = REF_ROOTS[size1]
        proof = TREE.consistency_proof(size1, size2)
        verify_consistency(H, size1, size2, root1, root2, proof)
        args = (size1, size2)
        for desc, bad in tampered_proofs(proof, extra):
            assert_rejected(
                f"{args} {desc}", verify_consistency, H, size1, size2, root1, root2, bad
            )
        for at in (0, 15, 31):
            assert_rejected(
                f"{args} root1 byte {at}",
                verify_consistency,
                H,
                size1,
                size2,
                flip(root1, at),
                root2,
                proof,
            )
            assert_rejected(
                f"{args} root2 byte {at}",
                verify_consistency,
                H,
                size1,
                size2,
                root1,
                flip(root2, at),
                proof,
            )
        if size1 != size2:
            assert_rejected(
                f"{args} swapped roots", verify_consistency, H, size1, size2, root2, root1, proof
            )
            assert_rejected(
                f"{args} empty proof", verify_consistency, H, size1, size2, root1, root2, []
            )
        for wrong1, wrong2 in {
            (size1 - 1, size2),
            (size1 + 1, size2),
            (size1 ^ 2, size2),
            (0, size2),
            (size1, size2 * 2),
            (size1, size2 // 2),
        } - {args}:
            assert_rejected(
                f"{args} sizes {wrong1}, {wrong2}",
                verify_consistency,
                H,
                wrong1,
                wrong2,
                root1,
                root2,
                proof,
            )
        # As for inclusion, size2 ± 1 is caught through the root that a checkpoint pairs with it.
        for wrong2 in {size2 - 1, size2 + 1} - {size2}:
            if size1 <= wrong2 <= MAX_SIZE:
                assert_rejected(
                    f"{args} size2 {wrong2}",
                    verify_consistency,
                    H,
                    size1,
                    wrong2,
                    root1,
                    REF_ROOTS[wrong2],
                    proof,
                )


def test_consistency_edge_cases_fail_closed() -> None:
    root = REF_ROOTS[4]
    verify_consistency(H, 4, 4, root, root, [])
    with pytest.raises(ProofError, match="empty proof"):
        verify_consistency(H, 4, 4, root, root, [root])
    with pytest.raises(ProofError, match="roots differ"):
        verify_consistency(H, 4, 4, root, REF_ROOTS[3], [])
    # A proof from the empty tree is not defined: never trivially valid.
    with pytest.raises(ProofError, match="0 < size1"):
        verify_consistency(H, 0, 4, empty_root(H), root, [])
    with pytest.raises(ProofError, match="0 < size1"):
        verify_consistency(H, 0, 0, empty_root(H), empty_root(H), [])
    with pytest.raises(ProofError, match="0 < size1"):
        verify_consistency(H, 5, 4, REF_ROOTS[5], root, [])


def test_inclusion_edge_cases_fail_closed() -> None:
    leaf = ENTRIES[0]
    verify_inclusion(H, 0, 1, leaf, [], leaf_hash(H, leaf))
    with pytest.raises(ProofError, match="leaf index"):
        verify_inclusion(H, 0, 0, leaf, [], empty_root(H))
    with pytest.raises(ProofError, match="too long"):
        verify_inclusion(H, 0, 1, leaf, [leaf], leaf_hash(H, leaf))
    with pytest.raises(ProofError, match="32 bytes"):
        verify_inclusion(H, 0, 1, leaf, [], b"")
    with pytest.raises(ProofError) as excinfo:
        verify_inclusion(H, 3, 4, leaf, TREE.inclusion_proof(0, 4), REF_ROOTS[4])
    assert excinfo.value.leaf_index == 3


# --- Known-answer vectors (RFC 6962 test vectors, transparency-dev/merkle) ------------------------

KAT_LEAVES = [
    bytes.fromhex(x)
    for x in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
KAT_ROOTS = [
    bytes.fromhex(x)
    for x in (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]
# (leaf index, tree size, audit path)
KAT_INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
# (size1, size2, consistency proof)
KAT_CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]


def test_known_answer_roots() -> None:
    tree = MemoryTree(H, KAT_LEAVES)
    assert tree.root() == KAT_ROOTS[-1]
    assert [tree.root(n) for n in range(1, 9)] == KAT_ROOTS
    assert [ref_mth(KAT_LEAVES[:n]) for n in range(1, 9)] == KAT_ROOTS
    # The empty leaf's hash is the size-1 root.
    assert leaf_hash(H, b"") == KAT_ROOTS[0]


@pytest.mark.parametrize(("index", "size", "path"), KAT_INCLUSION)
def test_known_answer_inclusion(index: int, size: int, path: list[str]) -> None:
    proof = [bytes.fromhex(x) for x in path]
    assert MemoryTree(H, KAT_LEAVES).inclusion_proof(index, size) == proof
    verify_inclusion(H, index, size, KAT_LEAVES[index], proof, KAT_ROOTS[size - 1])


@pytest.mark.parametrize(("size1", "size2", "path"), KAT_CONSISTENCY)
def test_known_answer_consistency(size1: int, size2: int, path: list[str]) -> None:
    proof = [bytes.fromhex(x) for x in path]
    assert MemoryTree(H, KAT_LEAVES).consistency_proof(size1, size2) == proof
    verify_consistency(H, size1, size2, KAT_ROOTS[size1 - 1], KAT_ROOTS[size2 - 1], proof)
