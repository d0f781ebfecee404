"""``ledger.log.verify_heads``: the map ``ledger verify`` replays is the writer's map.

:class:`ReplayedMap` is a second implementation of the stream heads map, written for speed
(nodes by heap position, hashed level by level). These tests hold it to the writer's
:class:`~ledger.log.headmap.HeadMap` at every version: the same root, and the same stored rows
for the node groups the version rewrote, encoded by :func:`ledger.log.heads.group_rows` (which
walks each group from the map, independently of the replay's slots).
"""

from __future__ import annotations

import os
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.crypto.suites import GM, INTL, Profile
from ledger.log import native, verify_heads
from ledger.log.headmap import EMPTY, HeadMap, StreamHead, head_key
from ledger.log.heads import (
    LatestNodeStore,
    OverlayNodeStore,
    encode_prefix,
    group_rows,
)
from ledger.log.verify_heads import (
    GroupKey,
    HeadsVersion,
    RecomputedHeads,
    ReplayedMap,
    pack_groups,
    unpack_groups,
)
from ledger.log.writer import LogRow

_KEY_BITS = 256


class _Writer:
    """The writer's map (HeadMap over the current version's nodes), version by version, and
    the rows each version stores."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.store = LatestNodeStore()

    def apply(self, changes: dict[bytes, StreamHead], version: int
              ) -> tuple[bytes, dict[GroupKey, bytes]]:
        overlay = OverlayNodeStore(self.store)
        heads = HeadMap(self.profile, overlay)
        named = {key: (f"stream {key.hex()[:8]}", head) for key, head in changes.items()}
        root = heads._apply_keyed(named, version) if changes else heads.root()
        written = overlay.written
        self.store.put(version, written)
        rows = group_rows(written, self.store.nodes.get)
        return root, {(depth, encode_prefix(depth, prefix)): data
                      for (depth, prefix), data in rows.items()}


def _key(base: int, flip_at: int | None) -> bytes:
    """``base`` with bit ``flip_at`` (from the top) flipped and the bits below it scrambled, so
    that the key first differs from ``base`` at that depth: leaves that split deep."""
    if flip_at is None:
        return base.to_bytes(32, "big")
    low = int.from_bytes(os.urandom(32), "big") & ((1 << (_KEY_BITS - 1 - flip_at)) - 1)
    high = (base >> (_KEY_BITS - flip_at)) << (_KEY_BITS - flip_at)
    bit = (~base >> (_KEY_BITS - 1 - flip_at)) & 1
    return (high | (bit << (_KEY_BITS - 1 - flip_at)) | low).to_bytes(32, "big")


# Keys near one base (sharing 0..40 leading bits, and a few very deep), so that versions add
# streams next to existing leaves at every level of a group, on a group's fifth level, across
# group boundaries and at the root; and around the C replay's deepest leaf (120 levels), where
# it hands the map over to the Python loops.
_KEYS = st.lists(st.one_of(st.none(), st.integers(0, 40), st.integers(250, 255),
                           st.integers(114, 124)),  # the C replay's deepest leaf: 120
                 min_size=1, max_size=40)
_VERSIONS = st.lists(st.lists(st.integers(0, 39), max_size=12), min_size=1, max_size=12)


_NEEDS_C = pytest.mark.skipif(
    not verify_heads.NATIVE_REPLAY, reason="the C replay (ledger/log/_replay.c) is not built "
    "here (no compiler or OpenSSL headers at install): the Python loops are tested alone")


def test_the_c_parts_are_built_where_ci_runs() -> None:
    """CI installs on a machine with a compiler and OpenSSL's headers: there the C parts must
    be what ``ledger verify`` runs (and what the tests hold to the Python)."""
    if os.environ.get("CI") != "true":
        pytest.skip("outside CI the C parts are optional")
    assert verify_heads.NATIVE_REPLAY
    assert native.BUILT
    assert native.SCAN_ENTRY is not None


@pytest.mark.parametrize(("profile", "native"), [
    pytest.param(INTL, True, marks=_NEEDS_C, id="intl-c"),
    pytest.param(INTL, False, id="intl-python"),
    pytest.param(GM, True, id="gm")])  # the C loops are SHA-256's: SM3 runs the Python ones
@settings(max_examples=60, deadline=None)
@given(flips=_KEYS, versions=_VERSIONS, base=st.integers(0, 2**_KEY_BITS - 1))
def test_the_replayed_map_has_the_writers_root_and_rows_at_every_version(
        profile: Profile, native: bool, flips: list[int | None], versions: list[list[int]],
        base: int) -> None:
    keys = list(dict.fromkeys(_key(base, flip) for flip in flips))
    writer, replayed = _Writer(profile), ReplayedMap(profile, in_c=native)
    packing = ReplayedMap(profile, in_c=native)  # the same versions, its rows packed
    seqs: dict[bytes, int] = {}
    leaf = 0
    for picks in versions:
        changes: dict[bytes, StreamHead] = {}
        for pick in picks:
            key = keys[pick % len(keys)]
            seqs[key] = seqs.get(key, 0) + 1
            changes[key] = StreamHead(seqs[key], os.urandom(32), leaf)
            leaf += 1
        version = leaf + 1
        expected_root, expected_rows = writer.apply(changes, version)
        values = [(key, head.value()) for key, head in changes.items()]
        root, rows = replayed.apply(values)
        assert root == expected_root
        assert rows == expected_rows
        assert replayed.root() == root
        assert packing.apply_packed(values) == (root, pack_groups(rows), len(rows))
        assert unpack_groups(pack_groups(rows)) == rows


@_NEEDS_C
def test_the_c_replay_hands_a_leaf_deeper_than_its_positions_over_to_python() -> None:
    """Streams replayed in C for a few versions, then a key sharing 130 leading bits with one
    of them (deeper than C's 120 levels): the map goes on in Python from C's state, with the
    writer's roots and rows before, at and after the hand-over."""
    base = int.from_bytes(os.urandom(32), "big")
    shallow = [_key(base, flip) for flip in (3, 9, 17, 60, 118)]
    deep = _key(int.from_bytes(shallow[0], "big"), 130)
    versions = [shallow[:2], shallow[2:], [shallow[0], shallow[4]], [deep, shallow[3]],
                [shallow[1], _key(base, 200)], [*shallow, deep, base.to_bytes(32, "big")]]
    writer, replayed = _Writer(INTL), ReplayedMap(INTL, in_c=True)
    seqs: dict[bytes, int] = {}
    leaf, handed_over = 0, []
    for keys in versions:
        changes: dict[bytes, StreamHead] = {}
        for key in keys:
            seqs[key] = seqs.get(key, 0) + 1
            changes[key] = StreamHead(seqs[key], os.urandom(32), leaf)
            leaf += 1
        expected = writer.apply(changes, leaf + 1)
        assert replayed.apply([(key, head.value()) for key, head in changes.items()]) == expected
        handed_over.append(replayed._native is None)
    assert handed_over == [False, False, False, True, True, True]


def test_a_version_that_moves_no_stream_stores_nothing() -> None:
    replayed = ReplayedMap(INTL)
    assert replayed.apply([]) == (EMPTY, {})
    key = os.urandom(32)
    root, rows = replayed.apply([(key, StreamHead(1, os.urandom(32), 0).value())])
    assert root != EMPTY
    assert list(rows) == [(0, b"")]
    assert replayed.apply([]) == (root, {})


def _leaf(index: int, stream: uuid.UUID | str, seq: int) -> LogRow:
    """A leaf with its entry's topic and bytes, as ``ledger verify`` reads the log."""
    return (index, stream, seq, os.urandom(32), "2026-01-01T00:00:00Z", None, index + 1, "T",
            b"{}")


def test_a_leaf_that_does_not_move_its_streams_head_forward_is_left_out_and_named() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    leaves = [_leaf(0, a, 1), _leaf(1, b, 1), _leaf(2, a, 1), _leaf(3, b, 2)]
    heads = RecomputedHeads(INTL, 0, [2, 4])
    heads.extend(leaves)
    heads.finish(4)
    versions = heads.take()
    assert [v.version for v in versions] == [0, 2, 4]
    assert [p.streams for p in heads.problems] == [(str(a),)]
    assert "does not follow its head, seq 1 at leaf 0" in heads.problems[0].message
    # The map at 4 holds a's first head and b's second, as a writer's map would.
    writer = _Writer(INTL)
    key_a, key_b = (head_key(INTL, s) for s in (a, b))
    assert versions[0].root == EMPTY
    assert versions[0].groups == {}
    assert (versions[1].root, versions[1].groups) == writer.apply(
        {key_a: StreamHead(1, leaves[0][3], 0),
         key_b: StreamHead(1, leaves[1][3], 1)}, 2)
    assert (versions[2].root, versions[2].groups) == writer.apply(
        {key_b: StreamHead(2, leaves[3][3], 3)}, 4)


def test_a_streams_text_id_is_the_same_stream_as_its_uuid_and_other_text_ids_are_left_out() -> None:
    # The recorder may hand a stream id back as a UUID or as its stored text: one stream, one
    # key, one head (the newer seq wins), and a text id that is no UUID's canonical form is not
    # in the map at all (ledger.log.heads.map_stream).
    a = uuid.uuid4()
    leaves = [_leaf(0, a, 1), _leaf(1, str(a), 2), _leaf(2, "test-stream", 1)]
    heads = RecomputedHeads(INTL, 0, [3])
    heads.extend(leaves)
    heads.finish(3)
    versions = heads.take()
    assert heads.problems == []
    assert versions[-1].root == _Writer(INTL).apply(
        {head_key(INTL, a): StreamHead(2, leaves[1][3], 1)}, 3)[0]


def _two_versions(streams: int) -> tuple[RecomputedHeads, list[uuid.UUID], list[HeadsVersion]]:
    """A map of ``streams`` streams (version 1: their first entries), then one more entry
    of the first stream (version 2)."""
    ids = [uuid.uuid4() for _ in range(streams)]
    leaves = [_leaf(i, stream, 1) for i, stream in enumerate(ids)]
    heads = RecomputedHeads(INTL, 0, [streams, streams + 1])
    heads.extend([*leaves, _leaf(streams, ids[0], 2)])
    heads.finish(streams + 1)
    return heads, ids, heads.take()


def test_stored_rows_equal_to_the_recomputed_ones_pass() -> None:
    heads, _, versions = _two_versions(40)
    for version in versions:
        assert heads.compare(version, dict(version.groups), version.root) == []


def test_a_stored_row_the_version_did_not_rewrite_is_named_with_its_streams() -> None:
    heads, ids, (_, first, second) = _two_versions(40)
    # A group of version 1 that version 2 (the first stream's entry) did not rewrite, stored
    # again at version 2: a row the entries do not give.
    extra = next(where for where, row in first.groups.items()
                 if where not in second.groups and where[0]
                 and any(head_key(INTL, s) in row for s in ids))  # a group with a leaf in it
    stored = {**second.groups, extra: first.groups[extra]}
    [problem] = heads.compare(second, stored, second.root)
    assert f"node group at depth {extra[0]} was not rewritten" in problem.message
    named = [str(s) for s in ids if head_key(INTL, s) in first.groups[extra]]
    assert named
    assert sorted(problem.streams) == sorted(named)


def test_a_missing_or_altered_row_and_a_wrong_root_are_named() -> None:
    heads, ids, (*_, second) = _two_versions(40)
    top = (0, b"")
    missing = {where: row for where, row in second.groups.items() if where != top}
    [problem] = heads.compare(second, missing, second.root)
    assert "node group at depth 0, prefix -, missing" in problem.message
    leaf_row = next(where for where, row in second.groups.items()
                    if head_key(INTL, ids[0]) in row)
    altered = dict(second.groups)
    row = altered[leaf_row]
    at = row.find(b"\x00" + head_key(INTL, ids[0])) + 80  # the last byte of its leaf index
    altered[leaf_row] = row[:at] + bytes([row[at] ^ 1]) + row[at + 1:]
    rows, root = heads.compare(second, altered, bytes(32))
    assert "differs from the one recomputed" in rows.message
    assert str(ids[0]) in rows.streams
    assert "heads root 0000000000000000… differs" in root.message
