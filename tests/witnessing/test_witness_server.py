"""``ledger witness serve`` against a client written from c2sp.org/tlog-witness (raw HTTP).

The witness is a real process on 127.0.0.1 made by ``ledger witness init``; the logs are made
of the ledger's formats in memory (an ``intl`` Ed25519/SHA-256 log and a ``gm`` SM2/SM3 log).
Each status of the specification is provoked: 200 with a ``cosignature/v1`` line that verifies,
409 (``text/x.tlog.size``, the witness's size) on a stale old size, 400, 403, 404 and 422; a
smaller tree, an inconsistent proof and a bad log signature are refused; and the state
survives a restart.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from witnesstest import WITNESS_NAME, Log, RawClient, WitnessServer, run_ledger

from ledger.crypto.suites import GM, INTL
from ledger.log.checkpoint import (
    Note,
    SignedNote,
    VerifierKey,
    cosignature_timestamp,
    verify_note,
)
from ledger.log.merkle import MemoryTree

HEADS = "heads " + base64.b64encode(bytes(32)).decode()


@pytest.fixture
def logs() -> dict[str, Log]:
    """An intl log and a gm log, each with some leaves."""
    intl = Log(INTL, "ledger.gaoxin.example/projects")
    gm = Log(GM, "ledger-gm.gaoxin.example/projects")
    intl.grow(5)
    gm.grow(3)
    return {"intl": intl, "gm": gm}


@pytest.fixture
def state(tmp_path: Path, logs: dict[str, Log]) -> Path:
    """A witness state made by ``ledger witness init``, pinning both logs."""
    path = tmp_path / "witness.db"
    result = run_ledger("witness", "init", "--state", str(path), "--name", WITNESS_NAME,
                        "--log-vkey", logs["intl"].vkey, "--log-vkey", logs["gm"].vkey)
    assert result.returncode == 0, result.stderr
    return path


@pytest.fixture
def server(state: Path) -> Iterator[WitnessServer]:
    """The witness serving ``state``."""
    running = WitnessServer(state)
    yield running
    running.stop()


def _vkey(state: Path) -> VerifierKey:
    result = run_ledger("witness", "status", "--state", str(state), "--json")
    assert result.returncode == 0, result.stderr
    return VerifierKey.parse(json.loads(result.stdout)["vkey"])


def _cosigned(note: str, answer_text: str, vkey: VerifierKey) -> int:
    """Check the 200 answer as the spec's client does; return the cosignature's time."""
    assert answer_text.startswith("— ")
    assert answer_text.endswith("\n")
    joined = SignedNote.parse(note + answer_text)  # "the client MAY concatenate it"
    assert verify_note(joined, [vkey]) == (vkey,)
    return cosignature_timestamp(joined.signatures[-1])


def test_init_prints_the_vkey_and_creates_private_files(state: Path, tmp_path: Path,
                                                        logs: dict[str, Log]) -> None:
    vkey = _vkey(state)
    assert vkey.name == WITNESS_NAME
    assert vkey.suite == "cosignature/v1"
    assert base64.b64decode(vkey.encode().split("+", 2)[2])[:1] == b"\x04"
    for path in (state, tmp_path / "witness.db.key"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = run_ledger("witness", "init", "--state", str(state), "--log-vkey", logs["intl"].vkey)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == vkey.encode()  # idempotent: the same witness


def test_serve_refuses_to_start_without_its_state(tmp_path: Path, state: Path) -> None:
    missing = run_ledger("witness", "serve", "--state", str(tmp_path / "none.db"))
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr
    # A key without its state is never given a new state (it may have cosigned).
    (tmp_path / "lost.db.key").write_bytes((tmp_path / "witness.db.key").read_bytes())
    lost = run_ledger("witness", "init", "--state", str(tmp_path / "lost.db"), "--name", "x/y")
    assert lost.returncode == 2
    assert "cosign a fork" in lost.stderr
    # A key file others may read is refused.
    os.chmod(tmp_path / "witness.db.key", 0o644)
    unsafe = run_ledger("witness", "serve", "--state", str(state))
    assert unsafe.returncode == 2
    assert "chmod 600" in unsafe.stderr


def test_cosigns_growth_and_answers_409_on_a_stale_old_size(
        server: WitnessServer, state: Path, logs: dict[str, Log]) -> None:
    log, client, vkey = logs["intl"], server.client, _vkey(state)
    first = log.note(extensions=(HEADS,))
    answer = client.add_checkpoint(0, [], first)
    assert (answer.status, answer.content_type) == (200, "text/plain; charset=utf-8")
    assert abs(_cosigned(first, answer.text, vkey) - time.time()) < 60
    log.grow(300)  # 305 leaves: the proof crosses a tile boundary
    stale = client.add_checkpoint(0, [], log.note())
    assert stale.status == 409
    assert stale.content_type == "text/x.tlog.size"
    assert stale.text == "5\n"
    grown = client.add_checkpoint(5, log.proof(5), log.note(extensions=(HEADS,)))
    assert grown.status == 200, grown.text
    # The monitoring API serves the latest cosigned checkpoint with the log's line and ours.
    origin_hash = hashlib.sha256(log.origin.encode()).hexdigest()
    monitored = client.request("GET", f"/{origin_hash}/checkpoint")
    assert monitored.status == 200
    note = SignedNote.parse(monitored.text)
    assert note.checkpoint.size == 305
    verify_note(note, [vkey])
    verify_note(note, [VerifierKey.parse(log.vkey)])
    assert client.request("GET", "/" + "0" * 64 + "/checkpoint").status == 404


def test_refuses_a_smaller_tree_an_inconsistent_proof_and_a_bad_signature(
        server: WitnessServer, logs: dict[str, Log]) -> None:
    log, client = logs["intl"], server.client
    assert client.add_checkpoint(0, [], log.note()).status == 200  # size 5
    log.grow(7)  # 12
    assert client.add_checkpoint(5, log.proof(5), log.note()).status == 200
    # A smaller tree: old above its size is 400; old at its size is not the witness's: 409.
    assert client.add_checkpoint(12, [], log.note(5)).status == 400
    assert client.add_checkpoint(5, [], log.note(5)).text == "12\n"
    # A fork: another history of 20 leaves, with its own (valid) proof from 12.
    fork = Log(INTL, log.origin)
    fork.signer = log.signer
    fork.grow(20)
    answer = client.add_checkpoint(12, fork.proof(12), fork.note())
    assert answer.status == 422, answer.text
    # The honest tree with a corrupted proof.
    log.grow(8)  # 20
    proof = log.proof(12)
    proof[0] = bytes(32)
    assert client.add_checkpoint(12, proof, log.note()).status == 422
    # The same size with another root.
    assert client.add_checkpoint(12, [], fork.note(12)).status == 422
    # Bad log signatures: another key under the log's name, a tampered line, none of ours.
    other = INTL.signature.generate()
    assert client.add_checkpoint(12, log.proof(12), log.note(signer=other)).status == 403
    good = log.note()
    body, line = good.rsplit("\n\n", 1)
    raw = bytearray(base64.b64decode(line.split(" ")[2]))
    raw[-1] ^= 1
    tampered = f"{body}\n\n— {log.origin} {base64.b64encode(bytes(raw)).decode()}\n"
    assert client.add_checkpoint(12, log.proof(12), tampered).status == 403
    # Unknown origin; malformed bodies.
    stranger = Log(INTL, "elsewhere.example/log")
    stranger.grow(1)
    assert client.add_checkpoint(0, [], stranger.note()).status == 404
    assert client.request("POST", "/add-checkpoint", b"garbage").status == 400
    assert client.add_checkpoint(12, [bytes(32)] * 64, log.note()).status == 400
    assert client.request("POST", "/add-checkpoint", b"old 01\n\n" + good.encode()).status == 400
    assert client.request("GET", "/add-checkpoint").status == 405
    # After all that, the witness still stands at 12 and cosigns the honest growth.
    assert client.add_checkpoint(12, log.proof(12), good).status == 200


def test_one_body_per_tree_extension_lines_included(server: WitnessServer, state: Path,
                                                    logs: dict[str, Log]) -> None:
    log, client = logs["intl"], server.client
    first = log.note(extensions=(HEADS,))
    assert client.add_checkpoint(0, [], first).status == 200
    # The same checkpoint again: cosigned again (a lost answer is retried this way).
    again = client.add_checkpoint(5, [], first)
    assert again.status == 200
    _cosigned(first, again.text, _vkey(state))
    # Same size and root, another extension line: a second view of one tree.
    other = log.note(extensions=("heads " + base64.b64encode(b"\x01" * 32).decode(),))
    refused = client.add_checkpoint(5, [], other)
    assert refused.status == 422
    assert "another note body" in refused.text
    evidence = run_ledger("witness", "status", "--state", str(state))
    assert "1 refused request(s) kept as evidence" in evidence.stdout


def test_a_gm_log_is_checked_with_sm2_and_sm3(server: WitnessServer, state: Path,
                                              logs: dict[str, Log]) -> None:
    log, client = logs["gm"], server.client
    assert client.add_checkpoint(0, [], log.note()).status == 200
    log.grow(10)
    answer = client.add_checkpoint(3, log.proof(3), log.note(extensions=(HEADS,)))
    assert answer.status == 200, answer.text
    _cosigned(log.note(extensions=(HEADS,)), answer.text, _vkey(state))
    # The same leaves hashed with SHA-256 give a proof of the right shape that SM3 refuses.
    log.grow(6)
    sha = MemoryTree(INTL.hash, log.entries)
    assert client.add_checkpoint(13, sha.consistency_proof(13, 19), log.note()).status == 422
    assert client.add_checkpoint(13, log.proof(13), log.note()).status == 200


def test_the_state_survives_a_restart(state: Path, logs: dict[str, Log]) -> None:
    log = logs["intl"]
    server = WitnessServer(state)
    try:
        assert server.client.add_checkpoint(0, [], log.note()).status == 200
        log.grow(3)
        assert server.client.add_checkpoint(5, log.proof(5), log.note()).status == 200
    finally:
        server.stop()
    server = WitnessServer(state)
    try:
        stale = server.client.add_checkpoint(0, [], log.note())
        assert (stale.status, stale.text) == (409, "8\n")
        assert server.client.add_checkpoint(8, [], log.note(5)).status == 400  # smaller
        log.grow(2)
        assert server.client.add_checkpoint(8, log.proof(8), log.note()).status == 200
    finally:
        server.stop()


def test_concurrent_requests_from_one_old_size_get_one_cosignature(
        server: WitnessServer, logs: dict[str, Log]) -> None:
    log = logs["intl"]
    assert server.client.add_checkpoint(0, [], log.note()).status == 200
    notes = []
    for _ in range(8):
        log.grow(1)
        notes.append((log.proof(5), log.note()))
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda pair: RawClient(server.port).add_checkpoint(5, *pair),
                                notes))
    assert sorted(a.status for a in answers) == [200] + [409] * 7
    won = next(i for i, a in enumerate(answers) if a.status == 200)
    assert {a.text for a in answers if a.status == 409} == {f"{6 + won}\n"}


def test_the_answer_is_a_note_signature_line_per_the_spec(server: WitnessServer, state: Path,
                                                          logs: dict[str, Log]) -> None:
    log = logs["intl"]
    note = log.note()
    answer = server.client.add_checkpoint(0, [], note)
    name, blob = answer.text[len("— "):-1].split(" ")
    raw = base64.b64decode(blob)
    public = _vkey(state).public_key
    assert name == WITNESS_NAME
    assert raw[:4] == hashlib.sha256(name.encode() + b"\n\x04" + public).digest()[:4]
    assert len(raw) == 4 + 8 + 64
    timestamp = int.from_bytes(raw[4:12], "big")
    body = Note.parse(note).body
    from nacl.signing import VerifyKey  # noqa: PLC0415 - an Ed25519 outside the ledger's suite

    VerifyKey(public).verify(f"cosignature/v1\ntime {timestamp}\n{body}".encode(), raw[12:])
