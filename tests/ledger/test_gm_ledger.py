"""The whole ledger under the ``gm`` profile (SM3 + SM2), on SQLite and on PostgreSQL.

Files an application, a review opinion and a contract; reads them back verified; runs
``ledger verify``; checks the stored checkpoint note as an outside verifier would (C2SP signed
note, signature type 0xff || "sm2-sm3/1234567812345678"); then tampers with the database through
raw SQL (:class:`tampering.Tamperer`) and checks that the change is caught.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from uuid import UUID

import pytest
from tampering import Tamperer

from ledger.app import Ledger, Receipt, key_id_for
from ledger.crypto.gm import Sm2Signer, SoftwareSm2Key, decode_signature
from ledger.crypto.suites import GM, INTL
from ledger.errors import CheckpointError, IntegrityFailedError
from ledger.evidence.verify import VerifyReport, verify_ledger
from ledger.log import merkle
from ledger.log.checkpoint import SignedNote, VerifierKey, verify_note
from ledger.measures.catalogue import EXAMPLES, example_documents
from ledger.measures.roles import Role
from ledger.settings import Settings

SM2_TYPE = b"\xff" + b"sm2-sm3/1234567812345678"


@pytest.fixture
def gm_settings(database_url: str) -> Settings:
    """Settings for a gm ledger on the parametrised backend."""
    return Settings(database_url=database_url, environment="test", profile="gm")


@pytest.fixture
def gm_ledger(gm_settings: Settings) -> Iterator[Ledger]:
    """An initialised gm ledger with an office reviewer and a unit."""
    ledger = Ledger(gm_settings)
    ledger.initialise(profile="gm")
    for content in example_documents().values():  # what the example payloads reference
        ledger.add_document(content, "text/plain")
    ledger.register_actor("office-li", Role.OFFICE, None, "综合管理办公室 李")
    ledger.register_actor("edu-wang", Role.UNIT, "edu", "教育和体育部 王")
    yield ledger
    ledger.close()


@dataclass(frozen=True)
class Project:
    """Where the three filings of one project landed."""

    stream: UUID
    receipts: tuple[Receipt, ...]


@pytest.fixture
def project(gm_ledger: Ledger) -> Project:
    """Application → approving review opinion → contract (Art. 9 order)."""
    opened = gm_ledger.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"])
    review = gm_ledger.file("office-li", "ReviewOpinionIssued", EXAMPLES["ReviewOpinionIssued"],
                           stream=opened.stream)
    contract = gm_ledger.file("edu-wang", "ContractFiled", EXAMPLES["ContractFiled"],
                              stream=opened.stream)
    return Project(opened.stream, (opened, review, contract))


def _reader(settings: Settings) -> Ledger:
    """A fresh application on the same database: nothing cached from earlier calls."""
    return Ledger(settings)


def _described(report: VerifyReport) -> list[str]:
    return [failure.describe() for failure in report.failures]


def test_identity_and_keys_are_sm2(gm_ledger: Ledger) -> None:
    identity = gm_ledger.identity
    assert identity.profile is GM
    assert identity.log_key.suite == "sm2-sm3"
    assert len(identity.log_key.public_key) == 65
    assert identity.log_key.public_key[0] == 0x04
    assert len(identity.root_public_key) == 65
    encoded = base64.b64decode(identity.log_key.encode().split("+", 2)[2])
    assert encoded == SM2_TYPE + identity.log_key.public_key
    registry = gm_ledger.registry()
    for key in registry.keys.values():
        assert key.suite == "sm2-sm3"
        assert len(key.public_key) == 65
        # Readable key ids hash with the profile's hash: SM3, not SHA-256.
        assert key.key_id == key_id_for(key.actor, key.public_key, GM)
        assert GM.digest(key.public_key).hex()[:12] in key.key_id
        assert key.key_id != key_id_for(key.actor, key.public_key, INTL)


def test_filings_read_back_verified(gm_ledger: Ledger, gm_settings: Settings,
                                    project: Project) -> None:
    reader = _reader(gm_settings)
    try:
        assert reader.project(project.stream).facts.stage == "in_construction"
        events = reader.events_of(project.stream)
        assert [e.filing.type for e in events] == [
            "ApplicationFiled", "ReviewOpinionIssued", "ContractFiled"]
        assert [e.entry_hash for e in events] == [r.entry_hash for r in project.receipts]
        registry = reader.registry()
        for event in events:
            key = registry.keys[event.filing.key]
            signature = base64.b64decode(event.signature)
            decode_signature(signature)  # strict DER
            GM.signature.verify(key.public_key, event.filing.signing_bytes(), signature)
    finally:
        reader.close()


def test_entry_hashes_and_log_use_sm3(gm_ledger: Ledger, gm_settings: Settings,
                                      project: Project) -> None:
    tamper = Tamperer(gm_settings.database_url, GM)
    size = gm_ledger.log.tree_size()
    checkpoint = gm_ledger.trusted_checkpoint()
    assert checkpoint is not None
    assert checkpoint.size == size
    for seq, receipt in enumerate(project.receipts, start=1):
        state = tamper.state(project.stream, seq)
        assert receipt.entry_hash == GM.digest(state).hex()
        assert receipt.entry_hash != hashlib.sha256(state).hexdigest()
        proof = gm_ledger.proofs.inclusion_proof(receipt.leaf_index, size)
        merkle.verify_inclusion(GM.hash, receipt.leaf_index, size,
                                bytes.fromhex(receipt.entry_hash), proof, checkpoint.root)
    # The root is the RFC 9162 tree over SM3 with the 0x00/0x01 prefixes.
    leaves = [tamper.leaf_hash(index) for index in range(size)]
    assert merkle.MemoryTree(GM.hash, leaves).root() == checkpoint.root


def test_verify_ledger_is_clean(gm_ledger: Ledger, project: Project) -> None:
    report = verify_ledger(gm_ledger.log, gm_ledger.identity, workers=1)
    assert report.ok, _described(report)
    assert report.entries == gm_ledger.log.tree_size()
    assert report.signatures == report.entries
    assert report.checkpoints > 0


def test_verify_ledger_with_worker_processes(gm_ledger: Ledger, project: Project) -> None:
    report = verify_ledger(gm_ledger.log, gm_ledger.identity, workers=2)
    assert report.ok, _described(report)
    assert report.signatures == gm_ledger.log.tree_size()


def test_stored_checkpoint_note_verifies(gm_ledger: Ledger, project: Project) -> None:
    log_key = gm_ledger.identity.log_key
    stored = list(gm_ledger.log.iter_checkpoints())
    assert stored
    for checkpoint in stored:
        note = SignedNote.parse(checkpoint.note)
        assert verify_note(note, [log_key]) == (log_key,)
        assert note.checkpoint.origin == gm_ledger.identity.origin
        assert (note.checkpoint.size, note.checkpoint.root) == (checkpoint.size,
                                                                 checkpoint.root)
        (line,) = note.signatures
        # C2SP key id: SHA-256(name || 0x0A || 0xff || tag || 04||X||Y)[:4], even under gm.
        assert line.key_id == hashlib.sha256(
            log_key.name.encode() + b"\n" + SM2_TYPE + log_key.public_key).digest()[:4]
        decode_signature(line.signature)
        GM.signature.verify(log_key.public_key, note.checkpoint.body(), line.signature)
    # Another SM2 key under the same name does not verify it.
    other = VerifierKey.for_signer(log_key.name, GM.signature.generate())
    with pytest.raises(CheckpointError):
        verify_note(SignedNote.parse(stored[-1].note), [other])


def test_edited_payload_byte_is_detected(gm_ledger: Ledger, gm_settings: Settings,
                                         project: Project) -> None:
    tamper = Tamperer(gm_settings.database_url, GM)
    contract = project.receipts[2]
    tamper.edit_payload_byte(project.stream, 3)
    report = verify_ledger(gm_ledger.log, gm_ledger.identity, workers=1)
    assert not report.ok
    first = report.first
    assert first is not None
    assert (first.check, first.leaf_index) == ("hash", contract.leaf_index), _described(report)
    # The author's SM2 signature covered the edited byte too.
    assert any(f.check == "signature" and f.leaf_index == contract.leaf_index
               for f in report.failures), _described(report)
    reader = _reader(gm_settings)
    try:
        with pytest.raises(IntegrityFailedError):
            reader.project(project.stream)
    finally:
        reader.close()


def test_tamper_then_resign_with_another_sm2_key_is_detected(
        gm_ledger: Ledger, gm_settings: Settings, project: Project) -> None:
    tamper = Tamperer(gm_settings.database_url, GM)
    review = project.receipts[1]
    forger = GM.signature.generate()
    assert isinstance(forger, Sm2Signer)
    assert isinstance(forger.backend, SoftwareSm2Key)
    tamper.resign(project.stream, 2, forger)
    report = verify_ledger(gm_ledger.log, gm_ledger.identity, workers=1)
    assert any(f.check == "signature" and f.leaf_index == review.leaf_index
               for f in report.failures), _described(report)


def test_the_recorded_profile_wins_over_settings(gm_settings: Settings,
                                                 project: Project) -> None:
    """A process started with the default profile setting still reads a gm ledger as gm."""
    reader = Ledger(Settings(database_url=gm_settings.database_url, environment="test"))
    try:
        assert reader.settings.profile == "intl"
        assert reader.identity.profile is GM
        assert reader.project(project.stream).version == 3
        report = verify_ledger(reader.log, reader.identity, workers=1)
        assert report.ok, _described(report)
    finally:
        reader.close()
