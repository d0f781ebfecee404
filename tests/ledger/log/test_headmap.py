"""The stream heads map (docs/evidence-format.md, Stream heads map) under both profiles.

Properties (hypothesis): after random sequences of batches, touching the same streams many
times, the incremental map's root equals the root rebuilt from scratch at every version; every
stream's head proof and every non-member's non-inclusion proof verifies at every version; and no
proof verifies for a wrong head (seq, hash, leaf index), another stream, a truncated or extended
proof, or a wrong root. Then hand-made proofs that only a careful verifier refuses (padded with
EMPTY, a terminal leaf off the path), the strict JSON and checkpoint-line parsers, and the test
vectors in ``tests/vectors/headmap/``.

Regenerate the vectors (only when the format changes on purpose) with
``python tests/ledger/log/test_headmap.py``.
"""

from __future__ import annotations

import base64
import json
import sys
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import errors
from ledger.crypto.suites import GM, INTL, Profile
from ledger.errors import CheckpointError, HeadProofError
from ledger.log.checkpoint import Checkpoint
from ledger.log.headmap import (
    EMPTY,
    HeadMap,
    HeadProof,
    MemoryNodeStore,
    StreamHead,
    TerminalLeaf,
    _keyed_root,
    _verify_key,
    checkpoint_extension,
    head_from_json,
    head_key,
    head_to_json,
    heads_root,
    leaf_hash,
    map_root,
    node_hash,
    proof_from_json,
    proof_to_json,
    value_hash,
    verify_head,
)

PROFILES = [INTL, GM]
VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "headmap"


def entry_hash(profile: Profile, stream: uuid.UUID | str, seq: int) -> bytes:
    """A stand-in entry hash: H of a text naming the stream and seq."""
    return profile.digest(f"example entry {stream} {seq}".encode())


def flip(data: bytes, bit: int = 0) -> bytes:
    """``data`` with one bit flipped."""
    return (int.from_bytes(data, "big") ^ (1 << bit)).to_bytes(len(data), "big")


def rejected(profile: Profile, root: bytes, stream: uuid.UUID, head: StreamHead | None,
             proof: HeadProof) -> HeadProofError:
    """Assert that the proof fails; return the error."""
    with pytest.raises(HeadProofError) as caught:
        verify_head(profile, root, stream, head, proof)
    return caught.value


# --- replaying random histories ----------------------------------------------------------------


def replay(profile: Profile, pool: Sequence[uuid.UUID], batches: Sequence[Sequence[int]]
           ) -> tuple[HeadMap, dict[int, dict[uuid.UUID, StreamHead]]]:
    """Append the batches to a map as a log would; return it and the heads at each version.

    Each batch lists the streams (indexes into ``pool``) of its entries in log order.
    """
    heads_map = HeadMap(profile)
    heads: dict[uuid.UUID, StreamHead] = {}
    history: dict[int, dict[uuid.UUID, StreamHead]] = {0: {}}
    size = 0
    for batch in batches:
        changes: dict[uuid.UUID, StreamHead] = {}
        for index in batch:
            stream = pool[index]
            current = changes.get(stream) or heads.get(stream)
            seq = 1 if current is None else current.seq + 1
            changes[stream] = StreamHead(seq, entry_hash(profile, stream, seq), size)
            size += 1
        heads.update(changes)
        root = heads_map.apply(changes)
        assert heads_map.version == size
        assert root == map_root(profile, heads)
        history[size] = dict(heads)
    return heads_map, history


def assert_every_wrong_claim_fails(profile: Profile, root: bytes, stream: uuid.UUID,
                                   head: StreamHead | None, proof: HeadProof,
                                   heads: Mapping[uuid.UUID, StreamHead],
                                   others: Sequence[uuid.UUID]) -> None:
    """The fail-closed list of verify_head, for one valid (root, stream, head, proof)."""
    if head is not None:
        wrong_heads = [
            StreamHead(head.seq + 1, head.entry_hash, head.leaf_index),
            StreamHead(head.seq, flip(head.entry_hash, 255), head.leaf_index),
            StreamHead(head.seq, head.entry_hash, head.leaf_index + 1),
        ]
        if head.seq > 1:
            wrong_heads.append(StreamHead(head.seq - 1, head.entry_hash, head.leaf_index))
        if head.leaf_index:
            wrong_heads.append(StreamHead(head.seq, head.entry_hash, head.leaf_index - 1))
        for wrong in [*wrong_heads, None]:
            rejected(profile, root, stream, wrong, proof)
    else:
        rejected(profile, root, stream, StreamHead(1, EMPTY, 0), proof)
        if proof.terminal is not None:
            off = TerminalLeaf(proof.terminal.key, flip(proof.terminal.value_hash))
            rejected(profile, root, stream, None, HeadProof(proof.siblings, off))
    # Another stream: a member's proof proves nothing about another key, and a non-member's
    # proof never proves a member absent. (It may prove another non-member absent: two absent
    # keys can end in the same empty subtree or beside the same lone leaf.)
    for other in others:
        if other != stream and (head is not None or other in heads):
            rejected(profile, root, other, head, proof)
    siblings = proof.siblings
    if siblings:
        rejected(profile, root, stream, head, HeadProof(siblings[:-1], proof.terminal))
        rejected(profile, root, stream, head, HeadProof(siblings[1:], proof.terminal))
    for extra in (EMPTY, flip(EMPTY), root):
        rejected(profile, root, stream, head, HeadProof((*siblings, extra), proof.terminal))
        rejected(profile, root, stream, head, HeadProof((extra, *siblings), proof.terminal))
    rejected(profile, flip(root, 7), stream, head, proof)


pools = st.lists(st.uuids(), min_size=1, max_size=10, unique=True)


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[uuid.UUID], list[list[int]], list[uuid.UUID]]:
    """A pool of streams, batches of entries over them, and streams that never get one."""
    pool = draw(pools)
    batches = draw(st.lists(st.lists(st.integers(0, len(pool) - 1), min_size=1, max_size=6),
                            min_size=1, max_size=8))
    absent = draw(st.lists(st.uuids().filter(lambda s: s not in pool), max_size=3, unique=True))
    return pool, batches, absent


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories())
def test_every_head_proves_at_every_version_and_nothing_else_does(
    profile: Profile, history: tuple[list[uuid.UUID], list[list[int]], list[uuid.UUID]]
) -> None:
    pool, batches, absent = history
    heads_map, versions = replay(profile, pool, batches)
    everyone = [*pool, *absent]
    for version, heads in versions.items():
        root = heads_map.root(version)
        # Incremental root == root rebuilt from scratch for the same set.
        assert root == map_root(profile, heads)
        for stream in everyone:
            head, proof = heads_map.prove(stream, version)
            assert head == heads.get(stream)
            verify_head(profile, root, stream, head, proof)
            assert proof_from_json(json.loads(json.dumps(proof_to_json(proof)))) == proof
            assert_every_wrong_claim_fails(profile, root, stream, head, proof, heads,
                                           everyone)


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
@settings(max_examples=40, deadline=None)
# At most 253 shared bits: the 3 bits left hold 8 keys, enough for 6 and a neighbour (with more
# shared bits there are fewer distinct keys than the test draws). Keys still part at depth 255.
@given(prefix_bits=st.integers(0, 253), count=st.integers(2, 6), data=st.data())
def test_keys_sharing_long_prefixes_split_deep_and_prove(
    profile: Profile, prefix_bits: int, count: int, data: st.DataObject
) -> None:
    # Hashed keys rarely share more than ~2·log2(n) bits; place raw keys to reach depth 256.
    prefix = data.draw(st.integers(0, (1 << prefix_bits) - 1)) if prefix_bits else 0
    suffix_bits = 256 - prefix_bits
    suffixes = data.draw(st.lists(st.integers(0, (1 << suffix_bits) - 1), min_size=count,
                                  max_size=count, unique=True))
    keys = [((prefix << suffix_bits) | s).to_bytes(32, "big") for s in suffixes]
    heads_map = HeadMap(profile)
    heads: dict[bytes, StreamHead] = {}
    for leaf, key in enumerate(keys):  # one key per version, so each split happens alone
        head = StreamHead(1, entry_hash(profile, key.hex(), 1), leaf)
        heads[key] = head
        root = heads_map._apply_keyed({key: (key.hex(), head)}, None)
        assert root == _keyed_root(profile, heads)
    for key, head in heads.items():
        found, proof = heads_map._prove_key(key, heads_map.version)
        assert found == head
        assert len(proof.siblings) > prefix_bits  # the leaves sit below the shared prefix
        _verify_key(profile, root, key, head, proof, stream=key.hex())
    # A key beside the others, sharing the prefix: absent, and provably so.
    neighbour = ((prefix << suffix_bits) | data.draw(
        st.integers(0, (1 << suffix_bits) - 1).filter(lambda s: s not in suffixes))
    ).to_bytes(32, "big")
    found, proof = heads_map._prove_key(neighbour, heads_map.version)
    assert found is None
    _verify_key(profile, root, neighbour, None, proof, stream="neighbour")


# --- the shapes of small maps --------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_empty_map_and_single_leaf_shortcut(profile: Profile) -> None:
    stream, other = uuid.UUID(int=1), uuid.UUID(int=2)
    heads_map = HeadMap(profile)
    assert heads_map.root() == EMPTY == map_root(profile, {})
    assert heads_map.prove(stream) == (None, HeadProof(()))
    verify_head(profile, EMPTY, stream, None, HeadProof(()))
    head = StreamHead(1, entry_hash(profile, stream, 1), 0)
    root = heads_map.apply({stream: head})
    # A map of one leaf: the root *is* the leaf hash (shortcut rule), proofs have no siblings.
    key = head_key(profile, stream)
    assert root == leaf_hash(profile, key, value_hash(profile, head))
    assert heads_map.prove(stream) == (head, HeadProof(()))
    absent_head, absent = heads_map.prove(other)
    assert absent_head is None
    assert absent == HeadProof((), TerminalLeaf(key, value_hash(profile, head)))
    verify_head(profile, root, other, None, absent)
    # Version 0 is still the empty map.
    assert heads_map.root(0) == EMPTY
    assert heads_map.prove(stream, 0) == (None, HeadProof(()))


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_hashes_are_domain_separated_and_profile_bound(profile: Profile) -> None:
    stream = uuid.UUID("cda3da3b-551e-41ea-937d-2e9d1e5681fb")
    head = StreamHead(2, bytes(range(32)), 7)
    assert head.value() == (2).to_bytes(8, "big") + bytes(range(32)) + (7).to_bytes(8, "big")
    key = head_key(profile, stream)
    assert key == profile.digest(b"\x10" + stream.bytes)
    assert value_hash(profile, head) == profile.digest(head.value())
    assert leaf_hash(profile, key, EMPTY) == profile.digest(b"\x11" + key + EMPTY)
    assert node_hash(profile, key, EMPTY) == profile.digest(b"\x12" + key + EMPTY)
    other = GM if profile is INTL else INTL
    assert head_key(other, stream) != key


def test_errors_are_proof_errors_naming_the_stream() -> None:
    assert issubclass(HeadProofError, errors.ProofError)
    assert issubclass(HeadProofError, errors.IntegrityFailedError)
    stream = uuid.UUID(int=5)
    error = rejected(INTL, EMPTY, stream, StreamHead(3, EMPTY, 9), HeadProof(()))
    assert str(stream) in str(error)
    assert (error.stream, error.seq, error.leaf_index) == (stream, 3, 9)


# --- proofs that only a careful verifier refuses -----------------------------------------------


def _fold(profile: Profile, key: bytes, current: bytes, siblings: Sequence[bytes]) -> bytes:
    """The root that ``siblings`` give from ``current`` on ``key``'s path (no checks)."""
    key_int = int.from_bytes(key, "big")
    depth = len(siblings)
    for i, sibling in enumerate(siblings):
        if (key_int >> (256 - depth + i)) & 1:
            current = node_hash(profile, sibling, current)
        else:
            current = node_hash(profile, current, sibling)
    return current


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_padded_and_off_path_proofs_fail_even_against_a_root_made_for_them(
    profile: Profile,
) -> None:
    stream = uuid.UUID(int=7)
    key = head_key(profile, stream)
    head = StreamHead(1, entry_hash(profile, stream, 1), 0)
    leaf = leaf_hash(profile, key, value_hash(profile, head))
    # Step 3: a leaf pushed one level down beside an EMPTY sibling hashes to another root; a
    # log that signed that root still cannot get the padded proof accepted.
    padded = HeadProof((EMPTY,))
    error = rejected(profile, _fold(profile, key, leaf, padded.siblings), stream, head, padded)
    assert "shortcut" in str(error)
    # Step 4.3: a terminal leaf that does not share the path's bits.
    other = flip(key, 255)  # differs in the first bit
    terminal = TerminalLeaf(other, EMPTY)
    siblings = (flip(EMPTY),)
    root = _fold(profile, key, leaf_hash(profile, other, EMPTY), siblings)
    error = rejected(profile, root, stream, None, HeadProof(siblings, terminal))
    assert "off the stream's path" in str(error)
    # ... and one that is the stream's own leaf is an inclusion proof, not non-inclusion.
    own = TerminalLeaf(key, value_hash(profile, head))
    error = rejected(profile, leaf, stream, None, HeadProof((), own))
    assert "own leaf" in str(error)
    # An inclusion claim with a non-inclusion proof.
    rejected(profile, leaf, stream, head, HeadProof((), TerminalLeaf(flip(key), EMPTY)))


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_malformed_inputs_fail_closed(profile: Profile) -> None:
    stream = uuid.UUID(int=9)
    for bad in (b"", bytes(31), bytes(33)):
        with pytest.raises(HeadProofError):
            verify_head(profile, bad, stream, None, HeadProof(()))
        with pytest.raises(HeadProofError):
            HeadProof((bad,))
        with pytest.raises(HeadProofError):
            TerminalLeaf(bad, EMPTY)
        with pytest.raises(HeadProofError):
            StreamHead(1, bad, 0)
    with pytest.raises(HeadProofError):
        HeadProof((EMPTY,) * 257)
    with pytest.raises(HeadProofError):
        HeadProof([EMPTY])  # type: ignore[arg-type]
    for seq, leaf_index in ((0, 0), (1, -1), (2**64, 0), (1, 2**64), (True, 0), (1, False)):
        with pytest.raises(HeadProofError):
            StreamHead(seq, EMPTY, leaf_index)
    with pytest.raises(HeadProofError):
        verify_head(profile, EMPTY, stream, None, "proof")  # type: ignore[arg-type]
    with pytest.raises(HeadProofError):
        verify_head(profile, EMPTY, str(stream), None, HeadProof(()))  # type: ignore[arg-type]


# --- the incremental map's bookkeeping -------------------------------------------------------


def test_apply_refuses_rewinds_and_versions_out_of_order() -> None:
    heads_map = HeadMap(INTL)
    a, b = uuid.UUID(int=1), uuid.UUID(int=2)
    heads_map.apply({a: StreamHead(1, EMPTY, 0), b: StreamHead(1, EMPTY, 1)})
    assert heads_map.version == 2
    with pytest.raises(ValueError, match="move forward"):
        heads_map.apply({a: StreamHead(1, EMPTY, 2)})  # same seq
    with pytest.raises(ValueError, match="move forward"):
        heads_map.apply({a: StreamHead(2, EMPTY, 0)}, version=3)  # leaf index back
    with pytest.raises(ValueError, match="above the map"):
        heads_map.apply({a: StreamHead(2, EMPTY, 1)})  # version 2 again
    with pytest.raises(ValueError, match="leaf index"):
        heads_map.apply({a: StreamHead(2, EMPTY, 5)}, version=4)
    assert heads_map.version == 2  # nothing was written by the refusals
    assert heads_map.apply({}) == heads_map.root()
    root = heads_map.apply({a: StreamHead(2, EMPTY, 6)}, version=9)
    assert heads_map.version == 9
    assert heads_map.root(8) == heads_map.root(2) != root
    with pytest.raises(ValueError, match="version"):
        heads_map.root(10)
    with pytest.raises(ValueError, match="version"):
        heads_map.prove(a, -1)


def test_memory_store_answers_latest_version_at_or_below() -> None:
    store = MemoryNodeStore()
    first = HeadMap(INTL, store)
    s = uuid.UUID(int=3)
    first.apply({s: StreamHead(1, EMPTY, 4)})
    first.apply({s: StreamHead(2, EMPTY, 9)})
    assert store.version == 10
    assert store.get(0, 0, 4) is None
    node5, node10 = store.get(0, 0, 5), store.get(0, 0, 10)
    assert node5 is not None
    assert store.get(0, 0, 9) is node5
    assert store.get(0, 0, 10**9) is node10 is not node5
    with pytest.raises(ValueError, match="version"):
        store.put(10, {})


# --- JSON and the checkpoint line ------------------------------------------------------------


def test_json_parsers_are_strict() -> None:
    head = StreamHead(3, bytes(range(32)), 12)
    assert head_from_json(head_to_json(head)) == head
    proof = HeadProof((EMPTY, flip(EMPTY)), TerminalLeaf(flip(EMPTY, 3), EMPTY))
    assert proof_from_json(proof_to_json(proof)) == proof
    good_head = head_to_json(head)
    good_proof = proof_to_json(proof)
    bad_heads: list[Any] = [
        None, [], {**good_head, "extra": 1}, {k: v for k, v in good_head.items() if k != "seq"},
        {**good_head, "seq": True}, {**good_head, "seq": 0}, {**good_head, "seq": "3"},
        {**good_head, "seq": 3.0}, {**good_head, "leaf_index": -1},
        {**good_head, "entry_hash": bytes(range(32)).hex().upper()},
        {**good_head, "entry_hash": base64.b64encode(bytes(32)).decode()},
        {**good_head, "entry_hash": "00" * 31},
    ]
    for bad in bad_heads:
        with pytest.raises(HeadProofError):
            head_from_json(bad)
    bad_proofs: list[Any] = [
        None, good_proof["siblings"], {**good_proof, "extra": None},
        {"siblings": good_proof["siblings"]},
        {**good_proof, "siblings": "00" * 32}, {**good_proof, "siblings": [None]},
        {**good_proof, "siblings": ["00" * 32] * 257},
        {**good_proof, "siblings": [("00" * 32).replace("0", "A", 1)]},
        {**good_proof, "terminal": {"key": "00" * 32}},
        {**good_proof, "terminal": {"key": "00" * 32, "value_hash": "00" * 32, "x": 1}},
        {**good_proof, "terminal": []},
    ]
    for bad in bad_proofs:
        with pytest.raises(HeadProofError):
            proof_from_json(bad)


def test_checkpoint_line_round_trips_through_a_signed_body() -> None:
    root = INTL.digest(b"heads")
    line = checkpoint_extension(root)
    assert line == "heads " + base64.b64encode(root).decode()
    checkpoint = Checkpoint("ledger.gaoxin.example/projects", 10, INTL.digest(b"log"), (line,))
    parsed = Checkpoint.parse_body(checkpoint.body())
    assert checkpoint.body().decode().splitlines()[3] == line  # the line after the root
    assert heads_root(parsed.extensions) == root
    assert heads_root(["other extension", line]) == root
    encoded = base64.b64encode(root).decode()
    bad_lines: list[list[str]] = [
        [], ["other extension"], [line, line], ["heads"], ["heads  " + encoded],
        ["heads " + encoded.rstrip("=")], ["heads " + base64.b64encode(root[:31]).decode()],
        ["heads " + base64.b64encode(root + b"\0").decode()], ["heads " + root.hex()],
        ["heads " + encoded + " extra"],
    ]
    for lines in bad_lines:
        with pytest.raises(CheckpointError):
            heads_root(lines)


# --- test vectors (tests/vectors/headmap/) -----------------------------------------------------


# The three streams of the example: the worked example's registry and project streams and one
# more project; three streams that never get an entry. Ids are arbitrary (uuid5 names).
EXAMPLE_STREAMS: dict[str, uuid.UUID] = {
    "registry": uuid.UUID("d03890d5-7ed5-5922-8310-1ee0d9fef1a7"),
    "project": uuid.UUID("cda3da3b-551e-41ea-937d-2e9d1e5681fb"),
    "other-project": uuid.UUID("dfb15320-4182-502c-bfd0-4acf79f5d1e3"),
    "absent-1": uuid.UUID("c1d8d44d-bd79-5089-8978-35a73a6c9cb6"),
    "absent-2": uuid.UUID("a102336d-8780-5e95-a5c6-ff61b803c0df"),
    "absent-3": uuid.UUID("7129468f-194f-52d9-b1d3-83c1ae89a7b8"),
}
# (version = log size after the batch, [(stream name, seq, leaf index), ...]).
EXAMPLE_BATCHES: list[tuple[int, list[tuple[str, int, int]]]] = [
    (6, [("registry", 6, 5)]),
    (8, [("project", 2, 7)]),
    (10, [("other-project", 1, 8), ("project", 3, 9)]),
]


def _hex_proof(head: StreamHead | None, proof: HeadProof) -> dict[str, Any]:
    kind = ("inclusion" if head is not None else
            "non-inclusion, empty subtree" if proof.terminal is None else
            "non-inclusion, other leaf")
    return {"kind": kind, "head": None if head is None else head_to_json(head),
            "proof": proof_to_json(proof)}


def build_vectors(profile: Profile) -> dict[str, Any]:
    """The example map of docs/evidence-format.md (Stream heads map, Worked example)."""
    heads_map = HeadMap(profile)
    heads: dict[uuid.UUID, StreamHead] = {}
    batches = []
    for version, changes in EXAMPLE_BATCHES:
        batch = {EXAMPLE_STREAMS[name]: StreamHead(seq, entry_hash(profile, name, seq), leaf)
                 for name, seq, leaf in changes}
        root = heads_map.apply(batch, version=version)
        heads.update(batch)
        batches.append({
            "version": version,
            "changes": [{"stream": str(s), "head": head_to_json(h)} for s, h in batch.items()],
            "root": root.hex(),
            "checkpoint_extension": checkpoint_extension(root),
        })
    leaves = []
    for stream, head in sorted(heads.items(), key=lambda item: head_key(profile, item[0])):
        key = head_key(profile, stream)
        vh = value_hash(profile, head)
        leaves.append({"stream": str(stream), "key": key.hex(),
                       "key_bits": format(int.from_bytes(key, "big") >> 248, "08b"),
                       "value": head.value().hex(), "value_hash": vh.hex(),
                       "leaf_hash": leaf_hash(profile, key, vh).hex()})
    non_members = []
    for name in ("absent-1", "absent-2", "absent-3"):
        key = head_key(profile, EXAMPLE_STREAMS[name])
        non_members.append({"stream": str(EXAMPLE_STREAMS[name]), "key": key.hex(),
                            "key_bits": format(int.from_bytes(key, "big") >> 248, "08b")})
    proofs = []
    for version in (0, *(v for v, _ in EXAMPLE_BATCHES)):
        for name, stream in EXAMPLE_STREAMS.items():
            if version == 0 and name.startswith("absent"):
                continue
            found, proof = heads_map.prove(stream, version)
            proofs.append({"version": version, "stream": str(stream), "name": name,
                           "root": heads_map.root(version).hex(), **_hex_proof(found, proof)})
    return {
        "description": "Stream heads map (docs/evidence-format.md, Stream heads map): the "
                       "worked example's 3-stream map, built in three batches; entry hashes "
                       "are stand-ins, H(\"example entry <name> <seq>\").",
        "profile": profile.name,
        "hash": profile.hash.name,
        "empty": EMPTY.hex(),
        "batches": batches,
        "leaves": leaves,
        "non_members": non_members,
        "proofs": proofs,
        "must_fail": _must_fail(profile, heads_map),
    }


def _must_fail(profile: Profile, heads_map: HeadMap) -> list[dict[str, Any]]:
    """Wrong claims against the final root, each with the verification step that refuses it."""
    project, other = EXAMPLE_STREAMS["project"], EXAMPLE_STREAMS["other-project"]
    registry = EXAMPLE_STREAMS["registry"]
    root = heads_map.root()
    head, proof = heads_map.prove(project)
    assert head is not None
    absent_head, absent_proof = heads_map.prove(EXAMPLE_STREAMS["absent-1"])
    assert absent_head is None
    registry_head = heads_map.get(registry)
    assert registry_head is not None
    registry_leaf = TerminalLeaf(head_key(profile, registry), value_hash(profile, registry_head))
    cases: list[tuple[str, uuid.UUID, str, StreamHead | None, HeadProof, bytes]] = [
        ("older seq", project, "6", StreamHead(2, head.entry_hash, head.leaf_index), proof, root),
        ("older head", project, "6", heads_map.get(project, 8), proof, root),
        ("another stream's claim", other, "6", head, proof, root),
        ("claims absent", project, "6", None, proof, root),
        ("truncated", project, "6", head, HeadProof(proof.siblings[:-1]), root),
        ("extended at the top", project, "6", head, HeadProof((*proof.siblings, EMPTY)), root),
        ("padded at the bottom", project, "3", head, HeadProof((EMPTY, *proof.siblings)), root),
        ("older root", project, "6", head, proof, heads_map.root(8)),
        ("terminal off the path", EXAMPLE_STREAMS["absent-1"], "4.3", None,
         HeadProof(absent_proof.siblings, registry_leaf), root),
    ]
    out = []
    for why, stream, step, claim, bad, against in cases:
        try:
            verify_head(profile, against, stream, claim, bad)
        except HeadProofError:
            pass
        else:  # the example must exercise what it says
            raise AssertionError(f"{why} verified")
        out.append({"why": why, "step": step, "stream": str(stream), "root": against.hex(),
                    "head": None if claim is None else head_to_json(claim),
                    "proof": proof_to_json(bad)})
    return out


def write_vectors() -> None:
    """Write tests/vectors/headmap/{intl,gm}.json."""
    VECTORS.mkdir(parents=True, exist_ok=True)
    for profile in PROFILES:
        text = json.dumps(build_vectors(profile), indent=1, ensure_ascii=False) + "\n"
        (VECTORS / f"{profile.name}.json").write_text(text, encoding="utf-8")


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_vectors_reproduce(profile: Profile) -> None:
    stored = json.loads((VECTORS / f"{profile.name}.json").read_text(encoding="utf-8"))
    assert stored == json.loads(json.dumps(build_vectors(profile)))


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_vectors_check_out_with_only_the_spec(profile: Profile) -> None:
    """Re-derive the stored vectors through the public functions alone, as a verifier would."""
    stored = json.loads((VECTORS / f"{profile.name}.json").read_text(encoding="utf-8"))
    assert (stored["profile"], stored["empty"]) == (profile.name, "00" * 32)
    heads: dict[uuid.UUID, StreamHead] = {}
    roots: dict[int, bytes] = {0: EMPTY}
    for batch in stored["batches"]:
        for change in batch["changes"]:
            heads[uuid.UUID(change["stream"])] = head_from_json(change["head"])
        root = map_root(profile, heads)
        assert root.hex() == batch["root"]
        assert heads_root([batch["checkpoint_extension"]]) == root
        roots[batch["version"]] = root
    for leaf in stored["leaves"]:
        stream = uuid.UUID(leaf["stream"])
        key = head_key(profile, stream)
        assert key.hex() == leaf["key"]
        assert heads[stream].value().hex() == leaf["value"]
        assert value_hash(profile, heads[stream]).hex() == leaf["value_hash"]
        assert leaf_hash(profile, key, bytes.fromhex(leaf["value_hash"])).hex() == leaf["leaf_hash"]
    kinds = set()
    for item in stored["proofs"]:
        head = None if item["head"] is None else head_from_json(item["head"])
        assert bytes.fromhex(item["root"]) == roots[item["version"]]
        verify_head(profile, roots[item["version"]], uuid.UUID(item["stream"]), head,
                    proof_from_json(item["proof"]))
        kinds.add(item["kind"])
    # The example shows all three kinds of proof.
    assert kinds == {"inclusion", "non-inclusion, empty subtree", "non-inclusion, other leaf"}
    for case in stored["must_fail"]:
        head = None if case["head"] is None else head_from_json(case["head"])
        rejected(profile, bytes.fromhex(case["root"]), uuid.UUID(case["stream"]), head,
                 proof_from_json(case["proof"]))


if __name__ == "__main__":
    write_vectors()
    sys.stdout.write(f"wrote {', '.join(f'{p.name}.json' for p in PROFILES)} in {VECTORS}\n")
