"""The log's side of C2SP tlog-witness, without I/O: the witness list, the ``add-checkpoint``
request (read back by the witness's own parser), every kind of answer, the rollback and fork
alarms, and the one parser of private key lines."""

from __future__ import annotations

import base64
import os

import pytest

from ledger.crypto.suites import GM, INTL
from ledger.errors import CheckpointError, ConfigurationError
from ledger.log.checkpoint import (
    COSIGNATURE_V1,
    Checkpoint,
    SignedNote,
    SignerKey,
    VerifierKey,
    sign_checkpoint,
)
from ledger.log.merkle import MemoryTree
from ledger.log.witness import (
    Conflict,
    Cosigned,
    Refused,
    add_checkpoint_body,
    cosigned_note,
    fork,
    parse_witnesses,
    read_answer,
    rollback,
)
from witness.keys import CosignerKey
from witness.protocol import parse_add_checkpoint

ORIGIN = "ledger.gaoxin.example/projects"


def _note(size: int = 5) -> tuple[SignedNote, MemoryTree]:
    tree = MemoryTree(INTL.hash)
    tree.extend([os.urandom(32) for _ in range(size)])
    signer = INTL.signature.generate()
    return sign_checkpoint(Checkpoint(ORIGIN, size, tree.root(size)), ORIGIN, signer), tree


def test_parse_witnesses() -> None:
    a = SignerKey.generate("audit.example/a")
    b = SignerKey.generate("audit.example/b", "ed25519")
    text = (f" a https://w.example/ {a.verifier_key.encode()} ;\n\n"
            f"b http://10.0.0.2:7380 {b.verifier_key.encode()}\n")
    first, second = parse_witnesses(text)
    assert (first.name, first.add_checkpoint_url, first.vkey) == (
        "a", "https://w.example/add-checkpoint", a.verifier_key)
    assert (second.name, second.vkey.suite) == ("b", "ed25519")
    assert parse_witnesses("") == ()
    vkey = a.verifier_key.encode()
    gm_key = VerifierKey.for_signer("g", GM.signature.generate()).encode()
    for bad, why in [(f"a {vkey}", "is not 'NAME URL VKEY'"),
                     (f"a ftp://x {vkey}", r"must be http\(s\)"),
                     ("a http://x audit+00000000+AQ==", "bad verifier key"),
                     (f"a http://x {vkey}; a http://y {vkey}", "configured twice"),
                     (f"a http://x {gm_key}", "cannot cosign")]:
        with pytest.raises(ConfigurationError, match=why):
            parse_witnesses(bad)


def test_the_request_is_what_the_witness_parses() -> None:
    note, tree = _note(7)
    proof = tree.consistency_proof(3, 7)
    body = add_checkpoint_body(3, proof, note.text())
    assert body.startswith(b"old 3\n" + base64.b64encode(proof[0]) + b"\n")
    parsed = parse_add_checkpoint(body)
    assert (parsed.old, list(parsed.proof), parsed.note) == (3, proof, note)
    assert add_checkpoint_body(0, [], note.text()) == b"old 0\n\n" + note.text().encode()
    with pytest.raises(ValueError, match="at most 63"):
        add_checkpoint_body(1, [bytes(32)] * 64, note.text())


def test_answers() -> None:
    note, _ = _note()
    key = CosignerKey.parse(SignerKey.generate("audit.example/w").encode())
    line = key.cosign(note.checkpoint.body(), 1_800_000_000).line()
    cosigned = read_answer(200, "text/plain; charset=utf-8", line.encode(), note,
                           key.verifier_key)
    assert isinstance(cosigned, Cosigned)
    assert cosigned.timestamp == 1_800_000_000
    assert [s.line() for s in cosigned.lines] == [line]
    # Served with the note: the cosigned checkpoint verifies under the witness key.
    assert cosigned_note(note.text(), [line, line]) == note.text() + line
    # A line for another body, or from another key, is not a cosignature.
    other, _ = _note()
    forged = key.cosign(other.checkpoint.body(), 1_800_000_000).line()
    answer = read_answer(200, "text/plain", forged.encode(), note, key.verifier_key)
    assert isinstance(answer, Refused)
    assert "does not verify" in answer.reason
    stranger = SignerKey.generate("audit.example/w").verifier_key
    assert isinstance(read_answer(200, "text/plain", line.encode(), note, stranger), Refused)
    assert isinstance(read_answer(200, "text/plain", b"\xff", note, key.verifier_key), Refused)
    # 409 carries the witness's size as text/x.tlog.size, or it is not understood.
    assert read_answer(409, "text/x.tlog.size", b"12\n", note, stranger) == Conflict(12)
    assert isinstance(read_answer(409, "text/plain", b"12\n", note, stranger), Refused)
    assert isinstance(read_answer(409, "text/x.tlog.size", b"012\n", note, stranger), Refused)
    assert read_answer(422, "text/plain", b"the proof\n does not verify\n", note,
                       stranger) == Refused(422, "the proof does not verify")


def test_alarms_name_the_witness_and_the_sizes() -> None:
    alarm = rollback("w1 (http://w)", 12, 9, 8)
    assert (alarm.witness_size, alarm.our_size, alarm.last_consistent, alarm.kind) == (
        12, 9, 8, "rollback")
    assert "w1 (http://w) has cosigned a tree of 12 leaves, but this log has 9" in str(alarm)
    split = fork("w1", 10, 14, None, "422")
    assert split.kind == "fork"
    assert split.to_json() == {"witness": "w1", "witness_size": 10, "log_size": 14,
                               "last_consistent_checkpoint": None, "cause": "fork"}


@pytest.mark.parametrize("suite", [COSIGNATURE_V1, "ed25519", "sm2-sm3"])
def test_one_parser_of_private_key_lines(suite: str) -> None:
    key = SignerKey.generate("audit.example/w", suite)
    text = key.encode()
    assert text.startswith("PRIVATE+KEY+audit.example/w+")
    again = SignerKey.parse(text + "\n")
    assert again.verifier_key == key.verifier_key
    assert again.suite == suite
    name, key_id, encoded = text.removeprefix("PRIVATE+KEY+").split("+", 2)
    with pytest.raises(CheckpointError, match="does not match"):
        SignerKey.parse(f"PRIVATE+KEY+{name}+00000000+{encoded}")
    with pytest.raises(CheckpointError, match="unknown signature type"):
        SignerKey.parse(f"PRIVATE+KEY+{name}+{key_id}+" + base64.b64encode(
            b"\x09" + bytes(32)).decode())
    with pytest.raises(CheckpointError, match="PRIVATE"):
        SignerKey.parse(key.verifier_key.encode())


def test_the_witness_key_file_is_a_cosignature_key() -> None:
    ed = SignerKey.generate("audit.example/w", "ed25519").encode()
    from witness.errors import WitnessSetupError  # noqa: PLC0415

    with pytest.raises(WitnessSetupError, match="not an Ed25519 cosignature/v1 key"):
        CosignerKey.parse(ed)
    key = SignerKey.generate("audit.example/w")
    assert CosignerKey.parse(key.encode()).encode() == key.encode()
