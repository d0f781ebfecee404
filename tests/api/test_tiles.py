"""C2SP tlog-tiles reads: ``/checkpoint`` and ``/tile/…`` against hashes computed here from the
specification's definition (the MTH of each tile's leaf ranges), on both backends; the entry
bundles' format and authentication; the paths' one spelling."""

from __future__ import annotations

from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from test_log_routes import _auth, _grow, mth

from api.routers.tiles import encode_index, parse_index
from ledger.app import Ledger
from ledger.crypto.suites import INTL
from ledger.log.checkpoint import SignedNote, verify_note

H = INTL.hash


def test_index_paths_follow_the_spec() -> None:
    assert encode_index(1234067) == "x001/x234/067"
    assert encode_index(0) == "000"
    assert encode_index(1000) == "x001/000"
    assert parse_index("x001/x234/067") == (1234067, 256)
    assert parse_index("x001/x234/067.p/5") == (1234067, 5)
    for bad in ("0", "00", "0000", "x000/067", "x001/x234/x067", "001/067", "067.p/0",
                "067.p/256", "067.p/05", "067.p/", "067.p/1/2", "-01", "x1/000", " 000"):
        assert parse_index(bad) is None, bad


@given(st.integers(0, 2**63), st.integers(1, 256))
def test_index_paths_round_trip(index: int, width: int) -> None:
    path = encode_index(index) + (f".p/{width}" if width < 256 else "")
    assert parse_index(path) == (index, width)


def test_tiles_are_the_spec_s_hashes(client: TestClient, ledger: Ledger) -> None:
    leaves = _grow(ledger, 300)
    hashes = [H.digest(b"\x00" + leaf) for leaf in leaves]
    # The checkpoint: public, plain text, short-lived in caches.
    answer = client.get("/checkpoint")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    assert answer.headers["cache-control"] == "public, max-age=5"
    note = SignedNote.parse(answer.text)
    verify_note(note, [ledger.identity.log_key])
    assert (note.checkpoint.size, note.checkpoint.root) == (300, mth(leaves))
    # Tiles: public, immutable, application/octet-stream.
    full = client.get("/tile/0/000")
    assert full.status_code == 200
    assert full.headers["content-type"] == "application/octet-stream"
    assert full.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert full.content == b"".join(hashes[:256])
    assert client.get("/tile/0/001.p/44").content == b"".join(hashes[256:300])
    assert client.get("/tile/0/000.p/7").content == b"".join(hashes[:7])  # a prefix, still true
    assert client.get("/tile/1/000.p/1").content == mth(leaves[:256])
    # What the tree of 300 does not hold is not served.
    for path in ("/tile/0/001", "/tile/0/001.p/45", "/tile/1/000", "/tile/1/000.p/2",
                 "/tile/2/000.p/1", "/tile/0/002.p/1", "/tile/64/000", "/tile/00/000",
                 "/tile/0/x000/000", "/tile/a/000", "/tile/0/000.p/256"):
        assert client.get(path).status_code == 404, path


def test_a_full_tile_above_level_zero(client: TestClient, ledger: Ledger) -> None:
    leaves = _grow(ledger, 2 * 256 + 3)
    answer = client.get("/tile/1/000.p/2")
    assert answer.content == mth(leaves[:256]) + mth(leaves[256:512])


def test_entry_bundles_need_a_token_and_hash_to_the_level_zero_tile(
        client: TestClient, ledger: Ledger) -> None:
    leaves = _grow(ledger, 260)
    assert client.get("/tile/entries/000").status_code == 401
    headers = _auth(ledger, "office-li")
    bundle = client.get("/tile/entries/000", headers=headers)
    assert bundle.status_code == 200
    assert bundle.headers["content-type"] == "application/octet-stream"
    data, entries = bundle.content, []
    while data:
        length = int.from_bytes(data[:2], "big")
        entries.append(data[2:2 + length])
        data = data[2 + length:]
    assert entries == leaves[:256]
    tile = client.get("/tile/0/000").content
    assert b"".join(H.digest(b"\x00" + entry) for entry in entries) == tile
    partial = client.get("/tile/entries/001.p/4", headers=headers).content
    assert partial == b"".join(b"\x00\x20" + leaf for leaf in leaves[256:260])
    assert client.get("/tile/entries/001.p/5", headers=headers).status_code == 404
    assert client.get("/tile/entries/001", headers=headers).status_code == 404


def test_tiles_stop_at_the_latest_checkpoint(client: TestClient, ledger: Ledger) -> None:
    # The fixture's ledger has registry entries and a checkpoint; tiles beyond it are 404.
    size = ledger.trusted_checkpoint().size  # type: ignore[union-attr]
    assert client.get(f"/tile/0/000.p/{size}").status_code == 200
    assert client.get(f"/tile/0/000.p/{size + 1}").status_code == 404
