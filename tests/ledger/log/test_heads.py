"""``ledger.log.heads``: which streams the map holds, the stored form of its nodes, and the
process's current map — an overlay per batch that reaches the map only when committed, and
catching up from the node versions others committed."""

from __future__ import annotations

import os
import random
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.crypto.suites import GM, INTL, Profile
from ledger.errors import IntegrityFailedError
from ledger.log.headmap import (
    HeadMap,
    InternalNode,
    LeafNode,
    MemoryNodeStore,
    Node,
    StreamHead,
    head_key,
    map_root,
    verify_head,
)
from ledger.log.heads import (
    GROUP_LEVELS,
    CurrentHeads,
    HeadRow,
    LatestNodeStore,
    OverlayNodeStore,
    decode_group,
    decode_group_path,
    decode_node,
    decode_prefix,
    encode_group,
    encode_node,
    encode_prefix,
    group_of,
    group_rows,
    head_changes,
    map_stream,
)

PROFILES = [INTL, GM]


def _head(seq: int, leaf_index: int) -> StreamHead:
    return StreamHead(seq, os.urandom(32), leaf_index)


def _batches(streams: list[uuid.UUID], count: int, size: int = 10,
             seed: int = 7) -> list[tuple[int, dict[uuid.UUID, StreamHead]]]:
    """``count`` batches of ``size`` leaves over ``streams``: (version, changes) each."""
    rng = random.Random(seed)
    seqs = dict.fromkeys(streams, 0)
    batches, leaf = [], 0
    for _ in range(count):
        changes: dict[uuid.UUID, StreamHead] = {}
        for _ in range(size):
            stream = rng.choice(streams)
            seqs[stream] += 1
            changes[stream] = _head(seqs[stream], leaf)
            leaf += 1
        batches.append((leaf, changes))
    return batches


def test_map_stream_takes_uuids_and_their_canonical_text_only() -> None:
    stream = uuid.uuid4()
    assert map_stream(stream) == stream
    assert map_stream(str(stream)) == stream
    assert map_stream(str(stream).upper()) is None  # another spelling: never a second key
    assert map_stream(stream.hex) is None
    assert map_stream(f"test-{stream}") is None
    assert map_stream("") is None


def test_head_changes_keep_each_streams_last_leaf() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    digests = [os.urandom(32) for _ in range(4)]
    changes = head_changes([(a, 1, digests[0], 10), (b, 1, digests[1], 11),
                            ("test-x", 1, digests[2], 12), (str(a), 2, digests[3], 13)])
    assert changes == {a: StreamHead(2, digests[3], 13), b: StreamHead(1, digests[1], 11)}


@pytest.mark.parametrize("depth", [0, 1, 7, 8, 9, 17, 255, 256])
def test_prefix_round_trips(depth: int) -> None:
    prefix = random.Random(depth).getrandbits(depth) if depth else 0
    data = encode_prefix(depth, prefix)
    assert len(data) == (depth + 7) // 8
    assert decode_prefix(depth, data) == prefix


def test_prefix_decoding_is_strict() -> None:
    with pytest.raises(ValueError, match="bytes"):
        decode_prefix(9, b"\x00")
    with pytest.raises(ValueError, match="beyond"):
        decode_prefix(7, b"\x01")  # the 8th bit is beyond depth 7


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_nodes_round_trip_with_their_hashes(profile: Profile) -> None:
    heads = HeadMap(profile, MemoryNodeStore())
    heads.apply({uuid.uuid4(): _head(1, i) for i in range(20)}, version=20)
    store = heads.store
    assert isinstance(store, MemoryNodeStore)
    seen = {InternalNode: 0, LeafNode: 0}
    for _, nodes in store._positions.values():
        for node in nodes:
            data = encode_node(node)
            assert len(data) == (65 if isinstance(node, InternalNode) else 81)
            assert decode_node(profile, data) == node
            seen[type(node)] += 1
    assert seen[InternalNode]
    assert seen[LeafNode] == 20


def test_node_decoding_is_strict() -> None:
    leaf = encode_node(LeafNode(bytes(32), StreamHead(1, bytes(32), 0), bytes(32), bytes(32)))
    for bad in (b"", leaf[:-1], b"\x02" + leaf[1:], b"\x01" + leaf[1:]):
        with pytest.raises(ValueError, match="not a stored"):
            decode_node(INTL, bad)
    with pytest.raises(ValueError, match="impossible head"):  # seq 0 is no head
        decode_node(INTL, leaf[:33] + bytes(8) + leaf[41:])


def test_latest_store_keeps_one_version_and_refuses_older_reads() -> None:
    store = LatestNodeStore()
    heads = HeadMap(INTL, store)
    stream = uuid.uuid4()
    heads.apply({stream: _head(1, 0)}, version=1)
    heads.apply({stream: _head(2, 1)}, version=2)
    assert len(store) == 1
    assert store.version == 2
    assert heads.get(stream) == store.get(0, 0, 2).head  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="only version 2"):
        heads.root(1)
    store.put(5, {})  # a batch of streams the map leaves out only moves the version
    assert store.version == 5
    with pytest.raises(ValueError, match="above 5"):
        store.put(5, {(0, 0): store.get(0, 0, 5)})  # type: ignore[dict-item]


def test_an_overlay_leaves_its_base_alone() -> None:
    base = LatestNodeStore()
    HeadMap(INTL, base).apply({uuid.uuid4(): _head(1, i) for i in range(8)}, version=8)
    before = dict(base.nodes)
    overlay = OverlayNodeStore(base)
    root = HeadMap(INTL, overlay).apply({uuid.uuid4(): _head(1, 8)}, version=9)
    assert (base.version, dict(base.nodes)) == (8, before)
    assert overlay.version == 9
    assert overlay.written
    assert overlay.get(0, 0, 9).hash == root  # type: ignore[union-attr]
    assert overlay.get(0, 0, 8) == base.get(0, 0, 8)  # the base version reads the base
    with pytest.raises(ValueError, match="one version"):
        overlay.put(10, {})


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_current_map_takes_only_committed_updates(profile: Profile) -> None:
    streams = [uuid.uuid4() for _ in range(30)]
    batches = _batches(streams, 12)
    current = CurrentHeads(profile)
    every = HeadMap(profile, MemoryNodeStore())  # every version, to compare with
    base = 0
    for version, changes in batches:
        update = current.plan(base, changes, version)
        assert update is not None
        assert current.version == base  # planned, not applied
        assert current.plan(base + 1, changes, version + 1) is None  # not at that size
        assert update.root == every.apply(changes, version=version)
        assert current.commit(update)
        assert not current.commit(update)  # the map moved past its base: nothing to do
        assert current.root() == update.root
        base = version
    latest: dict[uuid.UUID, StreamHead] = {}
    for _, changes in batches:
        latest.update(changes)
    assert current.root() == map_root(profile, latest)


def test_a_discarded_update_changes_nothing() -> None:
    streams = [uuid.uuid4() for _ in range(10)]
    (v1, c1), (v2, c2) = _batches(streams, 2)
    current = CurrentHeads.build(INTL, c1, v1)
    root = current.root()
    update = current.plan(v1, c2, v2)
    assert update is not None
    assert update.root != root
    del update  # the transaction rolled back
    assert (current.version, current.root()) == (v1, root)
    # A head that does not move forward is refused, and nothing changes either.
    stream, head = next(iter(c1.items()))
    with pytest.raises(ValueError, match="move forward"):
        current.plan(v1, {stream: StreamHead(head.seq, os.urandom(32), v1)}, v1 + 1)
    assert (current.version, current.root()) == (v1, root)


def test_catch_up_from_the_rows_others_committed_gives_their_map() -> None:
    streams = [uuid.uuid4() for _ in range(25)]
    batches = _batches(streams, 10)
    writer = CurrentHeads(INTL)  # the other process, whose rows are "stored"
    rows: list[HeadRow] = []
    base = 0
    for version, changes in batches:
        update = writer.plan(base, changes, version)
        assert update is not None
        assert writer.commit(update)
        rows.extend(update.rows())
        base = version
    behind = CurrentHeads(INTL)
    first_version = batches[3][0]
    behind.catch_up(first_version, [r for r in rows if r[0] <= first_version])
    assert behind.version == first_version
    # Rows it already has are skipped; a size beyond the last row moves the version on.
    behind.catch_up(base + 5, rows)
    assert (behind.version, behind.root()) == (base + 5, writer.root())
    with pytest.raises(IntegrityFailedError, match="went back"):
        behind.catch_up(base, [])


def test_snapshot_is_the_whole_map_at_its_version() -> None:
    heads = {uuid.uuid4(): _head(3, i) for i in range(40)}
    current = CurrentHeads.build(INTL, heads, 40)
    snapshot = current.snapshot()
    assert snapshot.version == 40
    assert snapshot.root == map_root(INTL, heads)
    again = CurrentHeads(INTL)
    again.catch_up(40, snapshot.rows())
    assert again.root() == snapshot.root
    # The rows alone (as a database keeps them) prove every head against that root.
    store = MemoryNodeStore()
    nodes: dict[tuple[int, int], Node] = {}
    for _, depth, prefix, group in snapshot.rows():
        assert depth % GROUP_LEVELS == 0
        nodes.update(decode_group(INTL, depth, decode_prefix(depth, prefix), group))
    assert nodes == dict(current._store.nodes)  # every node, each in one group
    store.put(40, nodes)
    stored = HeadMap(INTL, store)
    for stream, head in [*heads.items(), (uuid.uuid4(), None)]:
        got, proof = stored.prove(stream)
        assert got == head
        verify_head(INTL, snapshot.root, stream, got, proof)
    assert CurrentHeads.build(INTL, {}, 7).version == 7


# --- node groups: the stored rows -------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_a_batch_stores_every_group_it_touches_whole_in_few_rows(profile: Profile) -> None:
    """Each stored row is the group (four levels) of a touched position, holding exactly the
    map's nodes there at that version; a batch moving 100 of 100 streams writes a few dozen
    rows where one node per row took about 240."""
    streams = [uuid.uuid4() for _ in range(100)]
    current = CurrentHeads(profile)
    first = current.plan(0, {s: _head(1, i) for i, s in enumerate(streams)}, 100)
    assert first is not None
    assert current.commit(first)
    update = current.plan(100, {s: _head(2, 100 + i) for i, s in enumerate(streams)}, 200)
    assert update is not None
    assert {group_of(*position, leaf=isinstance(node, LeafNode))
            for position, node in update.nodes.items()} == set(update.groups)
    assert len(update.groups) * 6 < len(update.nodes), (len(update.groups), len(update.nodes))
    assert current.commit(update)
    nodes = current._store.nodes
    for (top, prefix), data in update.groups.items():
        assert top % GROUP_LEVELS == 0
        decoded = decode_group(profile, top, prefix, data)
        assert decoded == {position: node for position, node in nodes.items()
                           if group_of(*position, leaf=isinstance(node, LeafNode)) == (top,
                                                                                     prefix)}
        assert encode_group(sorted(
            ((1 << (d - top)) - 1 + (p - (prefix << (d - top))), node)
            for (d, p), node in decoded.items())) == data


_STREAMS = [uuid.UUID(int=(i + 1) * 0x9E3779B97F4A7C15) for i in range(300)]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.lists(st.integers(0, 299), max_size=40)),
                min_size=1, max_size=30),
       st.sampled_from(PROFILES))
def test_groups_kept_slot_by_slot_are_the_groups_a_walk_encodes(
        batches: list[tuple[bool, list[int]]], profile: Profile) -> None:
    """Two processes take turns appending (each flag: which one), the other catching up from
    the rows it committed. Whatever the order — streams added one by one, so that leaves
    move down and new groups open below the old ones — every version's rows, encoded from
    the slots a process keeps, are the rows a walk of the map gives, and each decodes to
    exactly the map's nodes in that group."""
    maps = (CurrentHeads(profile), CurrentHeads(profile))
    seqs: dict[uuid.UUID, int] = {}
    size = 0
    for second, picks in batches:
        writer, other = (maps[1], maps[0]) if second else maps
        changes: dict[uuid.UUID, StreamHead] = {}
        for pick in picks:
            stream = _STREAMS[pick]
            seqs[stream] = seqs.get(stream, 0) + 1
            changes[stream] = _head(seqs[stream], size)
            size += 1
        version = size if changes else size + 1
        size = version
        writer.catch_up(writer.version, [])
        update = writer.plan(writer.version, changes, version)
        assert update is not None
        base = writer._store.nodes
        assert update.groups == group_rows(update.nodes, base.get)
        assert writer.commit(update)
        nodes = writer._store.nodes
        for (top, prefix), data in update.groups.items():
            assert decode_group(profile, top, prefix, data) == {
                position: node for position, node in nodes.items()
                if group_of(*position, leaf=isinstance(node, LeafNode)) == (top, prefix)}
        other.catch_up(version, update.rows())
        assert other.root() == writer.root()


def test_a_proof_decodes_only_its_path_of_a_group() -> None:
    streams = [uuid.uuid4() for _ in range(60)]
    current = CurrentHeads.build(INTL, {s: _head(1, i) for i, s in enumerate(streams)}, 60)
    rows = {(depth, decode_prefix(depth, prefix)): group
            for _, depth, prefix, group in current.snapshot().rows()}
    key = int.from_bytes(head_key(INTL, streams[7]), "big")
    on_path: dict[int, Node] = {}
    for top in range(0, 64, GROUP_LEVELS):
        data = rows.get((top, key >> (256 - top)))
        if data is not None:
            on_path.update(decode_group_path(INTL, top, data, key))
    nodes = current._store.nodes
    assert on_path == {depth: nodes[depth, key >> (256 - depth)] for depth in on_path}
    assert isinstance(on_path[max(on_path)], LeafNode)
    assert all(isinstance(on_path[d], InternalNode) for d in range(max(on_path)))


def test_a_malformed_group_is_refused() -> None:
    current = CurrentHeads.build(INTL, {uuid.uuid4(): _head(1, i) for i in range(9)}, 9)
    data = next(group for _, depth, _, group in current.snapshot().rows() if depth == 0)
    for bad in (b"", data[:-1], bytes([31]) + data[1:], data + data[:1],
                data[:1] + b"\x07" + data[2:]):
        with pytest.raises(ValueError, match="heads-map"):
            decode_group(INTL, 0, 0, bad)
