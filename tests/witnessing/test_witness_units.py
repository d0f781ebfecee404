"""The witness's parts in process: the request format, the state file's guards, the clock."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from witnesstest import WITNESS_NAME, Log

from ledger.crypto.suites import INTL
from ledger.log.checkpoint import VerifierKey
from witness.errors import (
    ClockBehindError,
    MalformedRequestError,
    OldSizeMismatchError,
    WitnessSetupError,
)
from witness.keys import CosignerKey, generate_cosigner_key, read_key_file, write_key_file
from witness.protocol import encode_request, parse_add_checkpoint
from witness.service import Witness
from witness.store import WitnessStore


@pytest.fixture
def log() -> Log:
    """An intl log of 4 leaves."""
    made = Log(INTL, "ledger.gaoxin.example/projects")
    made.grow(4)
    return made


def _witness(tmp_path: Path, log: Log, clock: list[float]) -> Witness:
    key = generate_cosigner_key(WITNESS_NAME)
    store = WitnessStore.create(tmp_path / "w.db", key.name, key.verifier_key.encode())
    store.add_log_key(VerifierKey.parse(log.vkey))
    return Witness(store, key, clock=lambda: clock[0])


@pytest.mark.parametrize(("body", "match"), [
    (b"old 0\n", "no empty line"),
    (b"old 00\n\nx", "not 'old SIZE'"),
    (b"old -1\n\nx", "not 'old SIZE'"),
    (b"old 1 \n\nx", "not 'old SIZE'"),
    (b"old 9223372036854775808\n\nx", "exceeds 2\\^63-1"),
    (b"old 1\nAAAA\n\nx", "3 bytes"),
    (b"old 1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n\nx", "not canonical"),
    (b"old 1\n" + b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n" * 64 + b"\nx", "at most 63"),
    (b"old 1\n\nnot a note\n", "malformed"),
    (b"\xff", "not UTF-8"),
    (b"old 1\n\n" + b"x" * 70000, "exceeds"),
])
def test_malformed_requests_are_400(body: bytes, match: str) -> None:
    with pytest.raises(MalformedRequestError, match=match) as raised:
        parse_add_checkpoint(body)
    assert raised.value.status == 400


def test_a_request_round_trips(log: Log) -> None:
    proof = log.proof(2)
    request = parse_add_checkpoint(encode_request(2, proof, log.note()))
    assert (request.old, list(request.proof)) == (2, proof)
    assert request.note.checkpoint.size == 4


def test_the_state_refuses_a_rollback_even_through_sql(tmp_path: Path, log: Log) -> None:
    witness = _witness(tmp_path, log, [1000.0])
    witness.add_checkpoint(encode_request(0, [], log.note()))
    db = sqlite3.connect(tmp_path / "w.db")
    with pytest.raises(sqlite3.DatabaseError, match="rolled back"):
        db.execute("UPDATE checkpoints SET size = 1")
    with pytest.raises(sqlite3.DatabaseError, match="rolled back"):
        db.execute("UPDATE checkpoints SET root = x'00'")
    with pytest.raises(sqlite3.DatabaseError, match="never deleted"):
        db.execute("DELETE FROM checkpoints")
    db.close()


def test_a_cosignature_is_never_dated_before_the_last(tmp_path: Path, log: Log) -> None:
    clock = [2000.0]
    witness = _witness(tmp_path, log, clock)
    witness.add_checkpoint(encode_request(0, [], log.note()))
    clock[0] = 1999.0
    log.grow(1)
    with pytest.raises(ClockBehindError) as raised:
        witness.add_checkpoint(encode_request(4, log.proof(4), log.note()))
    assert raised.value.status == 503
    assert witness.store.latest(log.origin).size == 4  # type: ignore[union-attr]
    clock[0] = 2000.0
    witness.add_checkpoint(encode_request(4, log.proof(4), log.note()))
    with pytest.raises(OldSizeMismatchError):
        witness.add_checkpoint(encode_request(4, log.proof(4), log.note()))


def test_the_state_and_the_key_belong_together(tmp_path: Path, log: Log) -> None:
    witness = _witness(tmp_path, log, [1.0])
    witness.store.close()
    other = generate_cosigner_key(WITNESS_NAME)
    with pytest.raises(WitnessSetupError, match="belong together"):
        Witness(WitnessStore.open(tmp_path / "w.db"), other)
    with pytest.raises(WitnessSetupError, match="does not exist"):
        WitnessStore.open(tmp_path / "missing.db")
    assert not (tmp_path / "missing.db").exists()


def test_the_key_file(tmp_path: Path) -> None:
    key = generate_cosigner_key(WITNESS_NAME)
    path = tmp_path / "k"
    write_key_file(path, key)
    loaded = read_key_file(path)
    assert loaded.verifier_key == key.verifier_key
    with pytest.raises(WitnessSetupError, match="never overwritten"):
        write_key_file(path, key)
    with pytest.raises(WitnessSetupError, match="ID does not match"):
        CosignerKey.parse(key.encode().replace(key.verifier_key.key_id.hex(), "00000000"))
    with pytest.raises(WitnessSetupError, match="bad witness name"):
        generate_cosigner_key("has space")
