"""Signed checkpoints: C2SP signed-note and tlog-checkpoint (docs/design.md §5, Checkpoint)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.crypto.suites import INTL, Signer
from ledger.errors import BadSignatureError, CheckpointError
from ledger.log.checkpoint import (
    Checkpoint,
    Note,
    NoteSignature,
    SignedNote,
    VerifierKey,
    sign_checkpoint,
    sign_note,
    verify_note,
    verify_signatures,
)

# --- known-answer vectors ---------------------------------------------------------------------
# From golang.org/x/mod/sumdb/note, file sumdb/note/note_test.go (github.com/golang/mod, commit
# 02c991387e35f9e4c0a9b7ce137717055f8d716d): TestNewVerifier, TestNewSigner, TestSign,
# TestVerifierList and TestOpen. Copied exactly.
GO_PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_PETER_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngo"
    "tpRZb6KE6RyyBwJnAM=\n"
)
GO_ENOCH_SIG = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLo"
    "x33WWd1RvMc+QQ=\n"
)
# TestNewVerifier: a wrong-length key with adjusted key hash; an unknown algorithm (0x65).
GO_BAD_VKEYS = (
    "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
    "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
)

# From c2sp.org/tlog-checkpoint (github.com/C2SP/C2SP, tlog-checkpoint.md): the example
# checkpoint. Its public key is not published, so it is a parsing vector only.
C2SP_CHECKPOINT = (
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcy"
    "v2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)
# From c2sp.org/signed-note (github.com/C2SP/C2SP, signed-note.md): the example note, whose
# text holds a blank line (the text ends at the note's last blank line).
C2SP_NOTE = (
    "Ognuno sta solo sul cuor della terra\n"
    "trafitto da un raggio di sole:\n"
    "\n"
    "ed è subito sera.\n"
    "\n"
    "— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouF"
    "SQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n"
)

LOG = "ledger.example/log"
WITNESS = "audit.example/witness"


def go_peter_signer() -> Signer:
    """The Ed25519 key of GO_PETER_SKEY: base64(0x01 || 32-byte seed) after the key ID."""
    encoded = GO_PETER_SKEY.split("+", 4)[4]
    raw = base64.b64decode(encoded)
    assert raw[0] == 0x01
    return INTL.signature.load(raw[1:])


def go_bytes_splice(line: str, at: int, insert: str) -> str:
    """Insert ``insert`` at byte offset ``at`` of ``line``'s UTF-8, as the Go test slices."""
    raw = line.encode("utf-8")
    return (raw[:at] + insert.encode("utf-8") + raw[at:]).decode("utf-8")


@pytest.fixture(scope="module")
def log_signer() -> Signer:
    return INTL.signature.generate()


@pytest.fixture(scope="module")
def witness_signer() -> Signer:
    return INTL.signature.generate()


@pytest.fixture
def checkpoint() -> Checkpoint:
    return Checkpoint(LOG, 42, hashlib.sha256(b"root").digest())


@pytest.fixture
def signed(checkpoint: Checkpoint, log_signer: Signer) -> SignedNote:
    return sign_checkpoint(checkpoint, LOG, log_signer)


@pytest.fixture
def log_key(log_signer: Signer) -> VerifierKey:
    return VerifierKey.for_signer(LOG, log_signer)


@pytest.fixture
def witness_key(witness_signer: Signer) -> VerifierKey:
    return VerifierKey.for_signer(WITNESS, witness_signer)


# --- Go known answers -------------------------------------------------------------------------


def test_go_verifier_keys_parse_and_encode_back() -> None:
    peter = VerifierKey.parse(GO_PETER_VKEY)
    assert peter.name == "PeterNeumann"
    assert peter.key_id == bytes.fromhex("c74f20a3")
    assert peter.suite == "ed25519"
    assert len(peter.public_key) == 32
    assert peter.encode() == GO_PETER_VKEY
    enoch = VerifierKey.parse(GO_ENOCH_VKEY)
    assert enoch.key_id == bytes.fromhex("af0cfe78")
    assert enoch.encode() == GO_ENOCH_VKEY


def test_go_key_id_is_derived_from_name_and_key() -> None:
    peter = VerifierKey.parse(GO_PETER_VKEY)
    digest = hashlib.sha256(b"PeterNeumann\n\x01" + peter.public_key).digest()
    assert digest[:4] == bytes.fromhex("c74f20a3")
    derived = VerifierKey.for_signer("PeterNeumann", go_peter_signer())
    assert derived == peter
    assert derived.encode() == GO_PETER_VKEY


def test_go_sign_gives_the_published_note() -> None:
    note = sign_note(GO_TEXT, "PeterNeumann", go_peter_signer())
    assert note.text() == GO_TEXT + "\n" + GO_PETER_SIG


def test_go_sign_replaces_the_same_keys_signature() -> None:
    stale = NoteSignature("PeterNeumann", bytes.fromhex("c74f20a3"), b"BADSIGN")
    note = Note(GO_TEXT, (stale,)).add_signature("PeterNeumann", go_peter_signer())
    assert note.text() == GO_TEXT + "\n" + GO_PETER_SIG


def test_go_published_note_verifies() -> None:
    peter = VerifierKey.parse(GO_PETER_VKEY)
    enoch = VerifierKey.parse(GO_ENOCH_VKEY)
    note = Note.parse(GO_TEXT + "\n" + GO_PETER_SIG + GO_ENOCH_SIG)
    assert note.body == GO_TEXT
    assert verify_signatures(note, [peter]) == (peter,)
    assert verify_signatures(note, [enoch]) == (enoch,)
    assert verify_signatures(note, [enoch, peter]) == (peter, enoch)
    assert note.text() == GO_TEXT + "\n" + GO_PETER_SIG + GO_ENOCH_SIG


def test_go_note_with_no_trusted_key_is_rejected() -> None:
    note = Note.parse(GO_TEXT + "\n" + GO_PETER_SIG + GO_ENOCH_SIG)
    with pytest.raises(CheckpointError, match="no trusted verifier keys"):
        verify_signatures(note, [])
    stranger = VerifierKey.for_signer("PeterNeumann", INTL.signature.generate())
    with pytest.raises(CheckpointError, match="no signature from a trusted key"):
        verify_signatures(note, [stranger])


def test_go_corrupt_signature_from_trusted_key_is_rejected() -> None:
    corrupt = go_bytes_splice(GO_PETER_SIG, 60, "ABCD")
    note = Note.parse(GO_TEXT + "\n" + corrupt)
    with pytest.raises(CheckpointError, match=r"PeterNeumann\+c74f20a3 does not verify"):
        verify_signatures(note, [VerifierKey.parse(GO_PETER_VKEY)])


def test_go_repeated_and_unknown_signatures() -> None:
    enoch_corrupt = go_bytes_splice(GO_ENOCH_SIG, 60, "ABCD")
    text = GO_TEXT + "\n" + GO_PETER_SIG * 2 + GO_ENOCH_SIG * 2 + enoch_corrupt
    peter = VerifierKey.parse(GO_PETER_VKEY)
    assert verify_signatures(Note.parse(text), [peter]) == (peter,)


@pytest.mark.parametrize(
    "text",
    [
        GO_TEXT,
        GO_TEXT + "\n",
        GO_TEXT + "\n" + GO_PETER_SIG[:-1],
        "\x01" + GO_TEXT + "\n" + GO_PETER_SIG,
        "\udcff" + GO_TEXT + "\n" + GO_PETER_SIG,  # Go's "\xff", as surrogateescape decodes it
        GO_TEXT
        + "\n"
        + "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotp"
        "RZb6KE6RyyBwJnAM=",
        GO_TEXT + "\n" + GO_PETER_SIG + "Unexpected line.\n",
        GO_TEXT + "\n" + GO_PETER_SIG * 101,
    ],
    ids=[
        "no_signatures",
        "blank_line_only",
        "no_final_newline",
        "control_character",
        "invalid_utf8",
        "name_with_space",
        "unexpected_line",
        "too_many_signatures",
    ],
)
def test_go_malformed_notes_are_rejected(text: str) -> None:
    with pytest.raises(CheckpointError):
        Note.parse(text)


def test_go_mangled_verifier_keys_are_rejected() -> None:
    for bad in GO_BAD_VKEYS:
        with pytest.raises(CheckpointError):
            VerifierKey.parse(bad)
    key = GO_PETER_VKEY
    for start in range(len(key) + 1):
        for end in range(start + 1, len(key) + 1):
            if (start, end) != (0, len(key)):
                with pytest.raises(CheckpointError):
                    VerifierKey.parse(key[start:end])
    for i in range(len(key)):
        with pytest.raises(CheckpointError):
            VerifierKey.parse(key[:i] + chr(ord(key[i]) + 1) + key[i + 1 :])


def test_verifier_key_id_must_be_lowercase_hex() -> None:
    with pytest.raises(CheckpointError, match="lowercase hex"):
        VerifierKey.parse(GO_PETER_VKEY.replace("c74f20a3", "C74F20A3"))


def test_verifier_key_rejects_a_key_id_that_is_not_its_own() -> None:
    peter = VerifierKey.parse(GO_PETER_VKEY)
    with pytest.raises(CheckpointError, match="does not match its key"):
        replace(peter, key_id=bytes.fromhex("af0cfe78"))


# --- C2SP examples ----------------------------------------------------------------------------


def test_c2sp_checkpoint_example_parses_and_round_trips() -> None:
    note = SignedNote.parse(C2SP_CHECKPOINT)
    assert note.checkpoint.origin == "example.com/behind-the-sofa"
    assert note.checkpoint.size == 20852163
    assert note.checkpoint.root == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert note.checkpoint.extensions == ()
    assert [sig.name for sig in note.signatures] == ["example.com/behind-the-sofa"]
    assert note.text() == C2SP_CHECKPOINT


def test_c2sp_note_text_ends_at_the_last_blank_line() -> None:
    note = Note.parse(C2SP_NOTE)
    assert note.body.endswith("\n\ned è subito sera.\n")
    assert note.text() == C2SP_NOTE
    with pytest.raises(CheckpointError, match="empty"):
        SignedNote.parse(C2SP_NOTE)  # a checkpoint has no empty line


# --- format and round trips -----------------------------------------------------------------


def test_body_is_origin_size_root(checkpoint: Checkpoint) -> None:
    root = base64.b64encode(checkpoint.root).decode()
    assert checkpoint.body() == f"{LOG}\n42\n{root}\n".encode()
    assert Checkpoint.parse_body(checkpoint.body()) == checkpoint


def test_note_text_layout(signed: SignedNote, log_key: VerifierKey) -> None:
    (signature,) = signed.signatures
    encoded = base64.b64encode(log_key.key_id + signature.signature).decode()
    assert signed.text() == signed.checkpoint.body().decode() + f"\n— {LOG} {encoded}\n"
    assert signature.key_id == log_key.key_id
    assert len(signature.signature) == 64


def test_sign_parse_verify_round_trip(signed: SignedNote, log_key: VerifierKey) -> None:
    parsed = SignedNote.parse(signed.text())
    assert parsed == signed
    assert verify_note(parsed, [log_key]) == (log_key,)


def test_extension_lines_round_trip_and_are_signed(
    log_signer: Signer, log_key: VerifierKey
) -> None:
    checkpoint = Checkpoint(LOG, 7, bytes(32), extensions=("ext one", "— not a signature"))
    text = sign_checkpoint(checkpoint, LOG, log_signer).text()
    parsed = SignedNote.parse(text)
    assert parsed.checkpoint == checkpoint
    assert parsed.checkpoint.body().endswith(b"ext one\n\xe2\x80\x94 not a signature\n")
    assert verify_note(parsed, [log_key]) == (log_key,)
    stripped = SignedNote(replace(checkpoint, extensions=()), parsed.signatures)
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_note(stripped, [log_key])


def test_empty_tree_has_size_zero(log_signer: Signer, log_key: VerifierKey) -> None:
    empty = Checkpoint(LOG, 0, hashlib.sha256(b"").digest())
    parsed = SignedNote.parse(sign_checkpoint(empty, LOG, log_signer).text())
    assert parsed.checkpoint.size == 0
    assert verify_note(parsed, [log_key]) == (log_key,)


@given(
    origin=st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1),
    size=st.integers(0, 2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
)
def test_round_trip_property(origin: str, size: int, root: bytes) -> None:
    signer = INTL.signature.generate()
    signed = sign_checkpoint(Checkpoint(origin, size, root), LOG, signer)
    parsed = SignedNote.parse(signed.text())
    assert parsed == signed
    assert verify_note(parsed, [VerifierKey.for_signer(LOG, signer)])


# --- cosigning --------------------------------------------------------------------------------


def test_cosignature_by_a_second_key(
    signed: SignedNote,
    witness_signer: Signer,
    log_key: VerifierKey,
    witness_key: VerifierKey,
) -> None:
    cosigned = signed.add_signature(WITNESS, witness_signer)
    assert cosigned.checkpoint == signed.checkpoint
    assert [sig.name for sig in cosigned.signatures] == [LOG, WITNESS]
    parsed = SignedNote.parse(cosigned.text())
    assert verify_note(parsed, [log_key, witness_key]) == (log_key, witness_key)
    assert verify_note(parsed, [witness_key, log_key]) == (log_key, witness_key)
    assert verify_note(parsed, [witness_key]) == (witness_key,)
    assert verify_note(parsed, [log_key]) == (log_key,)


def test_cosigning_again_replaces_not_duplicates(
    signed: SignedNote, witness_signer: Signer, witness_key: VerifierKey
) -> None:
    once = signed.add_signature(WITNESS, witness_signer)
    twice = once.add_signature(WITNESS, witness_signer)
    assert len(twice.signatures) == 2
    assert twice.signatures[0] == signed.signatures[0]
    assert verify_note(twice, [witness_key]) == (witness_key,)


def test_same_signer_under_another_name_is_another_key(
    signed: SignedNote, log_signer: Signer
) -> None:
    cosigned = signed.add_signature("ledger.example/log-mirror", log_signer)
    assert len(cosigned.signatures) == 2
    assert cosigned.signatures[0].key_id != cosigned.signatures[1].key_id


# --- tampering --------------------------------------------------------------------------------


def tamper(text: str, old: str, new: str) -> str:
    assert text.count(old) >= 1
    return text.replace(old, new, 1)


def test_tampered_origin_is_rejected(signed: SignedNote, log_key: VerifierKey) -> None:
    forged = SignedNote.parse(tamper(signed.text(), f"{LOG}\n", "ledger.example/other\n"))
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_note(forged, [log_key])


def test_tampered_size_is_rejected(signed: SignedNote, log_key: VerifierKey) -> None:
    forged = SignedNote.parse(tamper(signed.text(), "\n42\n", "\n41\n"))
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_note(forged, [log_key])


def test_tampered_root_is_rejected(signed: SignedNote, log_key: VerifierKey) -> None:
    other_root = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    root = base64.b64encode(signed.checkpoint.root).decode()
    forged = SignedNote.parse(tamper(signed.text(), root, other_root))
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_note(forged, [log_key])


def test_tampered_signature_is_rejected(signed: SignedNote, log_key: VerifierKey) -> None:
    (signature,) = signed.signatures
    flipped = bytes([signature.signature[0] ^ 1]) + signature.signature[1:]
    forged = SignedNote.parse(
        tamper(signed.text(), signature.line(), replace(signature, signature=flipped).line())
    )
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_note(forged, [log_key])


def test_trailing_space_on_origin_changes_what_was_signed(
    signed: SignedNote, log_key: VerifierKey
) -> None:
    forged = SignedNote.parse(tamper(signed.text(), f"{LOG}\n", f"{LOG} \n"))
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_note(forged, [log_key])


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("\n42\n", "\n 42\n"),
        ("\n42\n", "\n42 \n"),
        ("=\n\n", "= \n\n"),
        ("=\n\n", "=\n \n"),
        ("\n\n—", "\n\n\n—"),
        ("\n\n—", "\n\n —"),
        (f"— {LOG} ", f"— {LOG}  "),
        (f"— {LOG} ", f"—  {LOG} "),
        (f"— {LOG} ", f"—\t{LOG} "),
        ("\n", "\r\n"),
    ],
    ids=[
        "space_before_size",
        "space_after_size",
        "space_after_root",
        "space_on_blank_line",
        "two_blank_lines",
        "space_before_em_dash",
        "two_spaces_before_signature",
        "two_spaces_after_em_dash",
        "tab_after_em_dash",
        "carriage_return",
    ],
)
def test_extra_whitespace_is_rejected(
    signed: SignedNote, log_key: VerifierKey, old: str, new: str
) -> None:
    with pytest.raises(CheckpointError):
        verify_note(SignedNote.parse(tamper(signed.text(), old, new)), [log_key])


def test_trailing_whitespace_after_the_note_is_rejected(signed: SignedNote) -> None:
    for suffix in (" ", "\n", "\t"):
        with pytest.raises(CheckpointError):
            SignedNote.parse(signed.text() + suffix)


def test_resigned_by_another_key_fails_against_the_pinned_key(
    checkpoint: Checkpoint, log_key: VerifierKey
) -> None:
    # Tamper, then re-sign under the log's name: only the pinned key can tell.
    impostor = INTL.signature.generate()
    forged = sign_checkpoint(replace(checkpoint, size=43), LOG, impostor)
    with pytest.raises(CheckpointError, match="no signature from a trusted key"):
        verify_note(SignedNote.parse(forged.text()), [log_key])


def test_wrong_pinned_key_is_rejected(signed: SignedNote) -> None:
    wrong = VerifierKey.for_signer(LOG, INTL.signature.generate())
    with pytest.raises(CheckpointError, match="no signature from a trusted key"):
        verify_note(signed, [wrong])


# --- key names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["bad name", "bad+name", "", "tab\tname", "nbsp\u00a0name", "ideographic\u3000space"]
)
def test_key_names_with_space_or_plus_are_rejected(
    checkpoint: Checkpoint, log_signer: Signer, name: str
) -> None:
    with pytest.raises(CheckpointError, match="key name"):
        sign_checkpoint(checkpoint, name, log_signer)
    with pytest.raises(CheckpointError, match="key name"):
        VerifierKey.for_signer(name, log_signer)
    with pytest.raises(CheckpointError, match="key name"):
        NoteSignature(name, bytes(4), bytes(64))


def test_signature_line_with_plus_in_name_is_rejected(signed: SignedNote) -> None:
    with pytest.raises(CheckpointError, match="key name"):
        SignedNote.parse(tamper(signed.text(), f"— {LOG} ", f"— {LOG}+x "))


# --- which signatures count -------------------------------------------------------------------


def test_unknown_signer_is_ignored(
    signed: SignedNote, witness_signer: Signer, log_key: VerifierKey
) -> None:
    cosigned = signed.add_signature("stranger.example", witness_signer)
    assert verify_note(cosigned, [log_key]) == (log_key,)


def test_unknown_signature_with_garbage_is_ignored(
    signed: SignedNote, log_key: VerifierKey
) -> None:
    # Same name as the log but another key ID: an unknown key, never verified.
    other_id = bytes([log_key.key_id[0] ^ 0xFF]) + log_key.key_id[1:]
    garbage = NoteSignature(LOG, other_id, b"\x00" * 64)
    note = replace(signed, signatures=(garbage, *signed.signatures))
    assert verify_note(SignedNote.parse(note.text()), [log_key]) == (log_key,)


def test_only_unknown_signers_is_rejected(
    checkpoint: Checkpoint, witness_signer: Signer, log_key: VerifierKey
) -> None:
    by_stranger = sign_checkpoint(checkpoint, "stranger.example", witness_signer)
    with pytest.raises(CheckpointError, match="no signature from a trusted key"):
        verify_note(by_stranger, [log_key])


def test_no_verifiers_fails_closed(signed: SignedNote) -> None:
    with pytest.raises(CheckpointError, match="no trusted verifier keys"):
        verify_note(signed, [])


def test_duplicate_verifier_is_harmless(signed: SignedNote, log_key: VerifierKey) -> None:
    assert verify_note(signed, [log_key, log_key]) == (log_key,)


def test_verify_function_is_pluggable(signed: SignedNote, log_key: VerifierKey) -> None:
    calls: list[tuple[str, bytes, bytes, bytes]] = []

    def record(suite: str, public_key: bytes, message: bytes, signature: bytes) -> None:
        calls.append((suite, public_key, message, signature))

    assert verify_note(signed, [log_key], verify=record) == (log_key,)
    assert calls == [
        ("ed25519", log_key.public_key, signed.checkpoint.body(), signed.signatures[0].signature)
    ]

    def refuse(suite: str, public_key: bytes, message: bytes, signature: bytes) -> None:
        raise BadSignatureError(suite)

    with pytest.raises(CheckpointError, match="does not verify"):
        verify_note(signed, [log_key], verify=refuse)


def test_unknown_suite_has_no_signature_type(log_signer: Signer) -> None:
    class Sm2Signer:
        suite = "unknown-suite"
        public_key = b"\x04" + bytes(64)

        def sign(self, message: bytes) -> bytes:
            return b"sig"

    with pytest.raises(CheckpointError, match="no C2SP signature type"):
        VerifierKey.for_signer(LOG, Sm2Signer())


# --- malformed notes and checkpoints ----------------------------------------------------------


def test_missing_blank_line_is_rejected(signed: SignedNote) -> None:
    with pytest.raises(CheckpointError, match="no blank line"):
        SignedNote.parse(tamper(signed.text(), "\n\n—", "\n—"))


def test_missing_trailing_newline_is_rejected(signed: SignedNote) -> None:
    with pytest.raises(CheckpointError, match="newline"):
        SignedNote.parse(signed.text()[:-1])


def test_bad_base64_signature_is_rejected(signed: SignedNote) -> None:
    (signature,) = signed.signatures
    encoded = signature.line()[len(f"— {LOG} ") : -1]
    for bad in (encoded[:-1], encoded.rstrip("="), encoded[:-2] + "!=", encoded + "AA=="):
        with pytest.raises(CheckpointError, match="base64"):
            SignedNote.parse(tamper(signed.text(), encoded, bad))


def test_signature_shorter_than_key_id_is_rejected(signed: SignedNote) -> None:
    (signature,) = signed.signatures
    encoded = signature.line()[len(f"— {LOG} ") : -1]
    with pytest.raises(CheckpointError, match="key ID"):
        SignedNote.parse(tamper(signed.text(), encoded, "AAAAAA=="))


def body_with(origin: str = LOG, size: str = "42", root: str | None = None) -> bytes:
    root = base64.b64encode(bytes(32)).decode() if root is None else root
    return f"{origin}\n{size}\n{root}\n".encode()


@pytest.mark.parametrize(
    ("body", "what"),
    [
        (body_with(root=base64.b64encode(bytes(31)).decode()), "31 bytes"),
        (body_with(root=base64.b64encode(bytes(33)).decode()), "33 bytes"),
        (body_with(root="not base64!"), "base64"),
        (body_with(root="CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J="), "canonical"),
        (body_with(root="CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I"), "base64"),
        (body_with(size="007"), "leading zeros"),
        (body_with(size="00"), "leading zeros"),
        (body_with(size="-1"), "leading zeros"),
        (body_with(size="+7"), "leading zeros"),
        (body_with(size="1_000"), "leading zeros"),
        (body_with(size="\u0667"), "leading zeros"),  # ARABIC-INDIC DIGIT SEVEN
        (body_with(size=""), "empty"),
        (body_with(size=str(2**64)), "out of range"),
        (body_with(origin=""), "empty"),
        (body_with() + b"\n", "empty"),
        (body_with() + b"ext\n\n", "empty"),
        (body_with()[:-1], "newline"),
        (f"{LOG}\n42\n".encode(), "expected origin, size and root"),
        (b"\xff" + body_with(), "UTF-8"),
        (body_with(origin="log\x00"), "control character"),
        (body_with(origin="log\x1b"), "control character"),
    ],
    ids=[
        "root_31_bytes",
        "root_33_bytes",
        "root_not_base64",
        "root_not_canonical",
        "root_no_padding",
        "size_007",
        "size_00",
        "size_negative",
        "size_plus",
        "size_underscore",
        "size_unicode_digit",
        "size_empty",
        "size_over_uint64",
        "origin_empty",
        "trailing_empty_line",
        "empty_extension_line",
        "no_trailing_newline",
        "no_root_line",
        "invalid_utf8",
        "nul_in_origin",
        "escape_in_origin",
    ],
)
def test_malformed_checkpoint_body_is_rejected(body: bytes, what: str) -> None:
    with pytest.raises(CheckpointError, match=what):
        Checkpoint.parse_body(body)


def test_malformed_checkpoint_inside_a_note_is_rejected(
    log_signer: Signer, log_key: VerifierKey
) -> None:
    # A well-signed note whose text is not a checkpoint is still rejected.
    note = sign_note(body_with(size="007").decode(), LOG, log_signer)
    assert verify_signatures(note, [log_key]) == (log_key,)
    with pytest.raises(CheckpointError, match="leading zeros"):
        SignedNote.parse(note.text())


@pytest.mark.parametrize(
    "fields",
    [
        {"root": bytes(31)},
        {"size": -1},
        {"size": 2**64},
        {"origin": ""},
        {"origin": "two\nlines"},
        {"extensions": ("",)},
        {"extensions": ("a\nb",)},
    ],
    ids=[
        "root_31",
        "size_negative",
        "size_huge",
        "origin_empty",
        "origin_newline",
        "extension_empty",
        "extension_newline",
    ],
)
def test_invalid_checkpoint_cannot_be_built(checkpoint: Checkpoint, fields: dict[str, Any]) -> None:
    with pytest.raises(CheckpointError):
        replace(checkpoint, **fields)


def test_note_needs_a_signature(checkpoint: Checkpoint) -> None:
    with pytest.raises(CheckpointError, match="at least one"):
        SignedNote(checkpoint, ())
    with pytest.raises(CheckpointError, match="at least one"):
        Note("text\n", ())


def test_sixteen_signatures_are_accepted(checkpoint: Checkpoint) -> None:
    signers = [INTL.signature.generate() for _ in range(16)]
    note = sign_checkpoint(checkpoint, "k0", signers[0])
    for i, signer in enumerate(signers[1:], start=1):
        note = note.add_signature(f"k{i}", signer)
    keys = [VerifierKey.for_signer(f"k{i}", s) for i, s in enumerate(signers)]
    assert verify_note(SignedNote.parse(note.text()), keys) == tuple(keys)
