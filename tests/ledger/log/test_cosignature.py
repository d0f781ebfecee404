"""Witness cosignatures, C2SP tlog-cosignature ``cosignature/v1`` (Ed25519, vkey type 0x04).

The lines are built here by hand from the specification (with ``cryptography``'s Ed25519, not
the ledger's suite) and must verify through :func:`ledger.log.checkpoint.verify_note`, the
function ``verify-bundle --witness-key`` uses; the ledger's own :func:`cosign_v1` must give the
same bytes. Lines from another implementation (aics-witness) are checked in
tests/interop/test_aics_witness.py.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.crypto.suites import GM, INTL
from ledger.errors import CheckpointError
from ledger.log.checkpoint import (
    COSIGNATURE_V1,
    Checkpoint,
    NoteSignature,
    SignedNote,
    VerifierKey,
    cosign_v1,
    cosignature_timestamp,
    cosignature_v1_message,
    cosignature_verifier_key,
    sign_checkpoint,
    verify_note,
)

ORIGIN = "ledger.gaoxin.example/projects"
WITNESS = "audit.gaoxin.example/w1"
SEED = bytes(range(32))
TIME = 1_700_000_000


def _public(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _by_hand(body: bytes, timestamp: int, private: Ed25519PrivateKey) -> str:
    """A cosignature/v1 line as tlog-cosignature §Format and §Ed25519 signed message say."""
    public = _public(private)
    key_id = hashlib.sha256(WITNESS.encode() + b"\n" + b"\x04" + public).digest()[:4]
    message = f"cosignature/v1\ntime {timestamp}\n".encode() + body
    blob = key_id + timestamp.to_bytes(8, "big") + private.sign(message)
    return f"— {WITNESS} {base64.b64encode(blob).decode()}\n"


@pytest.fixture
def signed() -> SignedNote:
    """A log checkpoint with a ``heads`` extension line, signed by a log key."""
    checkpoint = Checkpoint(ORIGIN, 10, hashlib.sha256(b"root").digest(),
                            ("heads " + base64.b64encode(bytes(32)).decode(),))
    return sign_checkpoint(checkpoint, ORIGIN, INTL.signature.generate())


def _with_line(note: SignedNote, line: str) -> SignedNote:
    return SignedNote.parse(note.text() + line)


def test_a_line_built_from_the_spec_verifies(signed: SignedNote) -> None:
    private = Ed25519PrivateKey.from_private_bytes(SEED)
    public = _public(private)
    vkey = "+".join((WITNESS, hashlib.sha256(WITNESS.encode() + b"\n\x04" + public)
                     .digest()[:4].hex(), base64.b64encode(b"\x04" + public).decode()))
    key = VerifierKey.parse(vkey)
    assert key.suite == COSIGNATURE_V1
    assert key == cosignature_verifier_key(WITNESS, public)
    cosigned = _with_line(signed, _by_hand(signed.checkpoint.body(), TIME, private))
    assert verify_note(cosigned, [key]) == (key,)
    assert cosignature_timestamp(cosigned.signatures[-1]) == TIME


def test_cosign_v1_makes_the_same_bytes_as_the_spec(signed: SignedNote) -> None:
    private = Ed25519PrivateKey.from_private_bytes(SEED)
    line = cosign_v1(signed.checkpoint.body(), WITNESS, INTL.signature.load(SEED), TIME).line()
    assert line == _by_hand(signed.checkpoint.body(), TIME, private)  # Ed25519 is deterministic
    assert cosignature_v1_message(b"o\n1\nAA==\n", 0) == b"cosignature/v1\ntime 0\no\n1\nAA==\n"


def test_the_whole_body_is_signed_extension_lines_included(signed: SignedNote) -> None:
    signer = INTL.signature.load(SEED)
    line = cosign_v1(signed.checkpoint.body(), WITNESS, signer, TIME)
    other = Checkpoint(ORIGIN, 10, signed.checkpoint.root,
                       ("heads " + base64.b64encode(b"\x01" * 32).decode(),))
    moved = SignedNote(other, (line,))
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_note(moved, [cosignature_verifier_key(WITNESS, signer.public_key)])


@pytest.mark.parametrize("blob", [b"\x00" * 8 + b"\x01" * 63, b"\x00" * 8 + b"\x01" * 65,
                                  b"\xff" * 8 + b"\x01" * 64])
def test_malformed_timestamped_signatures_fail(signed: SignedNote, blob: bytes) -> None:
    signer = INTL.signature.load(SEED)
    key = cosignature_verifier_key(WITNESS, signer.public_key)
    bad = NoteSignature(WITNESS, key.key_id, blob)
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_note(SignedNote(signed.checkpoint, (bad,)), [key])


def test_a_changed_timestamp_fails(signed: SignedNote) -> None:
    signer = INTL.signature.load(SEED)
    line = cosign_v1(signed.checkpoint.body(), WITNESS, signer, TIME)
    forged = NoteSignature(WITNESS, line.key_id,
                           (TIME + 1).to_bytes(8, "big") + line.signature[8:])
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_note(SignedNote(signed.checkpoint, (forged,)),
                    [cosignature_verifier_key(WITNESS, signer.public_key)])


def test_a_cosignature_is_not_a_note_signature_of_the_same_key(signed: SignedNote) -> None:
    # Same name and public key, type 0x01: another key ID, so the line is not this key's.
    signer = INTL.signature.load(SEED)
    line = cosign_v1(signed.checkpoint.body(), WITNESS, signer, TIME)
    note_key = VerifierKey.for_signer(WITNESS, signer)
    assert note_key.key_id != line.key_id
    with pytest.raises(CheckpointError, match="no signature from a trusted key"):
        verify_note(SignedNote(signed.checkpoint, (line,)), [note_key])


def test_cosign_v1_refuses_what_it_cannot_sign(signed: SignedNote) -> None:
    with pytest.raises(CheckpointError, match="outside"):
        cosign_v1(signed.checkpoint.body(), WITNESS, INTL.signature.load(SEED), 2**63)
    with pytest.raises(CheckpointError, match="Ed25519"):
        cosign_v1(signed.checkpoint.body(), WITNESS, GM.signature.generate(), TIME)
    with pytest.raises(CheckpointError):
        cosign_v1(b"not a checkpoint\n", WITNESS, INTL.signature.load(SEED), TIME)
