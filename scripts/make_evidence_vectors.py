"""Build the evidence-bundle tamper corpus: ``tests/vectors/evidence/``.

From a fresh, small ledger per profile (SQLite in a temporary directory, a stepping clock from
2026-10-15T01:00:00Z, keys and ids drawn from a seeded generator) this exports one good bundle
and derives from it one file per defect, each named after its defect, plus:

* ``trust-*.json``: the pinned keys, as ``LEDGER_TRUST`` trust files;
* ``expected.json``: the pinned keys (the trust files' contents) and, for every file, the trust
  file to verify it with and the verdict — ``ok``, or the step, check and a stable fragment of
  the message of the first failure;
* ``README.md``: what each file is and how another implementation should use the corpus.

Three kinds of defect: a **careless** tamperer edits the bundle and fixes nothing; a
**careful** one recomputes what needs no key (hashes, projections, which documents are shipped);
a **complicit log operator** (marked *relogged*) also rebuilds the Merkle tree and the stream
heads map, re-signs the checkpoint with the real log key and recomputes the projections, so that
the named check is the only one that can catch it.

Every file is verified with ``ledger.evidence.bundle.verify_bundle`` as it is written, and the
script fails if a verdict is not the one declared here. Ed25519 signatures are deterministic,
so with the same seed the ``intl`` files come out byte for byte the same; SM2 signatures are
randomised, so the ``gm`` files differ between runs while their verdicts do not.

Run: ``python scripts/make_evidence_vectors.py [--out DIR] [--seed N]``.
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import io
import json
import random
import stat
import struct
import sys
import tempfile
import time
import uuid
import warnings
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

from ledger.app import Ledger
from ledger.crypto.gm import Sm2Suite
from ledger.crypto.interface import Signer
from ledger.crypto.suites import Ed25519Suite, Profile
from ledger.evidence.bundle import (
    BUNDLE_JSON,
    DEFAULT_LIMITS,
    DOCUMENTS_DIR,
    FORMAT,
    FORMAT_V1,
    REPORT_HTML,
    BundleHead,
    BundleVerificationError,
    pack_bundle,
    read_bundle_json,
    recompute_projections,
    registry_stream_for,
    verify_bundle,
)
from ledger.log import merkle
from ledger.log.canonical import canonical_bytes
from ledger.log.checkpoint import (
    Checkpoint,
    NoteSignature,
    SignedNote,
    VerifierKey,
    sign_checkpoint,
)
from ledger.log.entries import ZERO_HASH, Entry, Filing, b64encode
from ledger.log.headmap import HeadMap, StreamHead, checkpoint_extension, heads_root
from ledger.measures.calendar import WorkingCalendar
from ledger.measures.catalogue import (
    EXAMPLES,
    documents_referenced,
    example_documents,
    validate_payload,
)
from ledger.measures.roles import Role
from ledger.settings import Settings
from projections.evidence import export_bundle

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "tests" / "vectors" / "evidence"
DEFAULT_SEED = 20261015
START = datetime(2026, 10, 15, 1, 0, tzinfo=UTC)
ON = date(2026, 11, 25)
CALENDAR_YEARS = (2025, 2026)  # the shipped table has 2004-2026; two years keep files small
WITNESSES = ("witness-a.audit.example", "witness-b.audit.example")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
BundleJSON = dict[str, Any]


# --- a deterministic ledger --------------------------------------------------------------------


@contextmanager
def seeded(seed: int) -> Iterator[random.Random]:
    """Draw new keys and uuid4 ids from ``random.Random(seed)`` while the block runs."""
    rng = random.Random(seed)

    def ed25519(self: Ed25519Suite) -> Signer:
        return self.load(rng.randbytes(32))

    def sm2(self: Sm2Suite) -> Signer:
        while True:
            try:
                return self.load(rng.randbytes(32))
            except ValueError:  # outside [1, n-2]: draw again
                continue

    def uuid4() -> uuid.UUID:
        return uuid.UUID(bytes=rng.randbytes(16), version=4)

    with mock.patch.object(Ed25519Suite, "generate", ed25519), \
            mock.patch.object(Sm2Suite, "generate", sm2), \
            mock.patch.object(uuid, "uuid4", uuid4):
        yield rng


class SteppingClock:
    """A ledger clock that moves one second each time it is read."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@dataclass
class Source:
    """One profile's good bundle and everything needed to forge variants of it."""

    profile: Profile
    bundle: BundleJSON
    documents: dict[str, bytes]
    report: str
    log_name: str
    log_signer: Signer
    root_signer: Signer
    signers: dict[str, Signer]  # actor -> its custodial signer
    key_ids: dict[str, str]  # actor -> its key id
    witnesses: list[tuple[str, Signer]] = field(default_factory=list)
    revoked: BundleJSON | None = None  # the bundle after a backdated revocation (intl only)
    tail: BundleJSON | None = None  # a bundle whose registry ends in a revocation (intl only)

    def trust(self, quorum: int | None = None) -> dict[str, Any]:
        """The trust file pinning this source's keys."""
        trust: dict[str, Any] = {"log_key": self.bundle["log_key"],
                                 "root_key": self.bundle["root_key"]["public_key"]}
        if self.witnesses:
            trust["witness_keys"] = [VerifierKey.for_signer(name, signer).encode()
                                     for name, signer in self.witnesses]
            trust["quorum"] = len(self.witnesses) if quorum is None else quorum
        return trust


def build_source(workdir: Path, profile_name: str) -> Source:
    """A fresh ledger: two actors, one project of three entries, exported on ``ON``.

    Run it under :func:`seeded` for the same keys and ids each time.
    """
    settings = Settings(database_url=f"sqlite:///{workdir / profile_name}.db",
                        environment="test", profile=profile_name)
    ledger = Ledger(settings, clock=SteppingClock(START))
    try:
        return _build(ledger, profile_name)
    finally:
        ledger.close()


def _build(ledger: Ledger, profile_name: str) -> Source:
    ledger.initialise(profile=profile_name)
    full = ledger.calendar
    small = WorkingCalendar(tuple(y for y in full.years if y.year in CALENDAR_YEARS),
                            full.source, full.version)
    book = ledger.calendar_book
    book._calendar, book._read_at = small, float("inf")  # the small table, never re-read
    for content in example_documents().values():
        ledger.add_document(content, "text/plain")
    actors = {
        "office-li": ledger.register_actor("office-li", Role.OFFICE, None, "综合管理办公室 李"),
        "edu-wang": ledger.register_actor("edu-wang", Role.UNIT, "edu", "教育和体育部 王")}
    stream = ledger.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"]).stream
    for actor, event_type in (("office-li", "ReviewOpinionIssued"),
                              ("edu-wang", "ContractFiled")):
        ledger.file(actor, event_type, EXAMPLES[event_type], stream=stream)
    identity = ledger.identity
    data = export_bundle(ledger, stream, on=ON)
    source = Source(
        profile=identity.profile, bundle=read_bundle_json(data), documents=_documents(data),
        report=zipfile.ZipFile(io.BytesIO(data)).read(REPORT_HTML).decode("utf-8"),
        log_name=identity.log_key.name, log_signer=ledger.custody.signer("log"),
        root_signer=ledger.custody.signer(identity.root_key_id),
        signers={a: ledger.custody.signer(k.key_id) for a, k in actors.items()},
        key_ids={a: k.key_id for a, k in actors.items()})
    size = SignedNote.parse(source.bundle["checkpoint"]).checkpoint.size
    assert size == len(source.bundle["entries"]) + len(source.bundle["registry"]), size
    if profile_name == "intl":
        source.witnesses = [(name, identity.profile.signature.generate()) for name in WITNESSES]
        source.bundle["checkpoint"] = cosign(source, source.bundle["checkpoint"])
        # An auditor registered, then their key revoked: the registry ends in KeyRevoked.
        auditor = ledger.register_actor("audit-sun", Role.AUDIT, None, "审计分局 孙")
        ledger.revoke_key(auditor.key_id, reason="left the Audit Branch")
        source.tail = read_bundle_json(export_bundle(ledger, stream, on=ON))
        source.tail["checkpoint"] = cosign(source, source.tail["checkpoint"])
        # A key revoked from before the opinion it signed (revocations may be backdated): the
        # ledger records it; the export's own verification would refuse it, so it is skipped.
        opinion_at = source.bundle["entries"][1]["entry"]["recorded_at"]
        ledger.revoke_key(actors["office-li"].key_id, revoked_from=opinion_at,
                          reason="the key was compromised")
        with mock.patch("projections.evidence.verify_bundle"):
            revoked = read_bundle_json(export_bundle(ledger, stream, on=ON))
        revoked["checkpoint"] = cosign(source, revoked["checkpoint"])
        source.revoked = revoked
    return source


def _documents(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name[len(DOCUMENTS_DIR):]: archive.read(name) for name in archive.namelist()
                if name.startswith(DOCUMENTS_DIR)}


# --- forging tools -------------------------------------------------------------------------------


def cosign(source: Source, note_text: str) -> str:
    """The note with each witness's cosignature added."""
    note = SignedNote.parse(note_text)
    for name, signer in source.witnesses:
        note = note.add_signature(name, signer)
    return note.text()


def entry_hash(source: Source, entry: dict[str, Any]) -> str:
    """H(JCS(entry)) in the source's profile."""
    return source.profile.digest(canonical_bytes(entry)).hex()


def resign(entry: dict[str, Any], signer: Signer) -> None:
    """Sign the entry's filing (as it now is) with ``signer``."""
    filing = Filing.from_json(entry["filing"])
    entry["signature"] = b64encode(signer.sign(filing.signing_bytes()))


def relog(source: Source, bundle: BundleJSON, *, rechain: bool = True,
          reindex: bool = False) -> None:
    """Play a complicit log operator: make everything but the planted defect consistent.

    Recompute every entry hash (with ``rechain``, relink each stream's ``prev`` first), give
    the leaves indexes 0… in their order (``reindex``, after items were dropped), rebuild the
    Merkle tree and every inclusion proof, the stream heads map (each section's last item is
    its stream's head: ``entries`` the bundle's stream, ``registry`` the registry's) and both
    head proofs, sign a checkpoint with its ``heads`` line with the real log key, cosign it
    by the witnesses, and recompute the projections.
    """
    for section in ("entries", "registry"):
        prev = ZERO_HASH
        for item in bundle[section]:
            if rechain:
                item["entry"]["prev"] = prev
            item["hash"] = prev = entry_hash(source, item["entry"])
    items = sorted(bundle["entries"] + bundle["registry"], key=lambda i: i["leaf_index"])
    if reindex:
        for index, item in enumerate(items):
            item["leaf_index"] = index
    assert [i["leaf_index"] for i in items] == list(range(len(items))), "the log has holes"
    tree = merkle.MemoryTree(source.profile.hash, [bytes.fromhex(i["hash"]) for i in items])
    for item in items:
        item["inclusion_proof"] = [n.hex() for n in tree.inclusion_proof(item["leaf_index"])]
    heads = relog_heads(source, bundle, tree.size)
    checkpoint = Checkpoint(bundle["origin"], tree.size, tree.root(),
                            (checkpoint_extension(heads),))
    note = sign_checkpoint(checkpoint, source.log_name, source.log_signer)
    bundle["checkpoint"] = cosign(source, note.text())
    bundle["projections"] = recompute_projections(bundle)


def relog_heads(source: Source, bundle: BundleJSON, size: int) -> bytes:
    """The stream heads map of a relogged bundle's log (the project's and the registry's
    streams, each headed by its section's last item): set the bundle's ``heads`` proofs at
    ``size``, return the map's root."""
    streams = {"project": uuid.UUID(bundle["stream"]),
               "registry": registry_stream_for(bundle["origin"])}
    sections = {"project": "entries", "registry": "registry"}
    heads = HeadMap(source.profile)
    heads.apply({streams[name]: StreamHead(last["entry"]["seq"], bytes.fromhex(last["hash"]),
                                           last["leaf_index"])
                 for name, section in sections.items()
                 for last in bundle[section][-1:]}, version=size)
    if "heads" in bundle:
        bundle["heads"] = {}
        for name, stream in streams.items():
            head, proof = heads.prove(stream)
            bundle["heads"][name] = BundleHead(stream, head, proof).to_json()
    return heads.root()


def drop_unreferenced(source: Source, bundle: BundleJSON) -> dict[str, bytes]:
    """The source's documents that ``bundle``'s entries still reference."""
    referenced: set[str] = set()
    for item in bundle["entries"]:
        filing = Entry.parse(canonical_bytes(item["entry"])).filing
        referenced |= set(documents_referenced(validate_payload(filing.type, filing.payload)))
    return {name: data for name, data in source.documents.items() if name in referenced}


def with_signatures(note_text: str, edit: Callable[[list[NoteSignature]], list[NoteSignature]],
                    ) -> str:
    """The note with its signature lines edited."""
    note = SignedNote.parse(note_text)
    return SignedNote(note.checkpoint, tuple(edit(list(note.signatures)))).text()


def flip_b64(text: str) -> str:
    """Base64 text whose first decoded byte has one bit flipped."""
    raw = bytearray(base64.b64decode(text))
    raw[0] ^= 1
    return base64.b64encode(bytes(raw)).decode()


def raw_zip(members: list[tuple[str, bytes]], *, method: int = zipfile.ZIP_DEFLATED,
            encrypted: bool = False) -> bytes:
    """A zip of the members in order (fixed times), without any check of names."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name": that is the point
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, content in members:
                info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
                info.compress_type = method
                info.external_attr = (stat.S_IFREG | 0o644) << 16
                archive.writestr(info, content)
    return flag_encrypted(buffer.getvalue()) if encrypted else buffer.getvalue()


def flag_encrypted(data: bytes) -> bytes:
    """The zip with the "encrypted" bit set on every member (zipfile cannot write it)."""
    patched = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        position = archive.start_dir
        for info in archive.infolist():
            patched[info.header_offset + 6] |= 0x1  # local header: general purpose flags
            assert patched[position:position + 4] == b"PK\x01\x02"
            patched[position + 8] |= 0x1  # central directory entry: the same flags
            name, extra, comment = struct.unpack_from("<3H", patched, position + 28)
            position += 46 + name + extra + comment
    return bytes(patched)


def members(source: Source, bundle: BundleJSON | None = None,
            documents: dict[str, bytes] | None = None) -> list[tuple[str, bytes]]:
    """The members of a bundle (no report), as :func:`pack_bundle` orders them."""
    documents = source.documents if documents is None else documents
    return [(BUNDLE_JSON, canonical_bytes(source.bundle if bundle is None else bundle)),
            *((DOCUMENTS_DIR + n, documents[n]) for n in sorted(documents))]


# --- the vectors ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Vector:
    """One corpus file: how to make it, what it is, and the verdict it must get."""

    name: str
    defect: str
    build: Callable[[Source], bytes]
    step: int | None = None  # None: the bundle verifies
    check: str = ""
    error: str = ""
    profile: str = "intl"
    trust: str = ""  # default trust-<profile>.json
    warning: str = ""  # a fragment of a warning a verifying bundle must get

    @property
    def trust_file(self) -> str:
        """The trust file to verify this vector with."""
        return self.trust or f"trust-{self.profile}.json"


def edit(mutate: Callable[[Source, BundleJSON], None], *, relogged: bool = False,
         rechain: bool = True, reindex: bool = False) -> Callable[[Source], bytes]:
    """A builder: the good bundle, mutated, (relogged,) packed without a report."""

    def build(source: Source) -> bytes:
        bundle = copy.deepcopy(source.bundle)
        mutate(source, bundle)
        if relogged:
            relog(source, bundle, rechain=rechain, reindex=reindex)
        return pack_bundle(bundle, source.documents)

    return build


def raw(make: Callable[[Source], list[tuple[str, bytes]]], **options: Any,
        ) -> Callable[[Source], bytes]:
    """A builder of a zip from members, possibly hostile ones."""
    return lambda source: raw_zip(make(source), **options)


def json_bytes(edit_text: Callable[[bytes], bytes]) -> Callable[[Source], bytes]:
    """A builder whose ``bundle.json`` bytes are edited as text."""

    def build(source: Source) -> bytes:
        found = members(source)
        text = edit_text(found[0][1])
        assert text != found[0][1]
        return raw_zip([(BUNDLE_JSON, text), *found[1:]])

    return build


def _once(old: bytes, new: bytes) -> Callable[[bytes], bytes]:
    def replace(text: bytes) -> bytes:
        assert old in text, old
        return text.replace(old, new, 1)
    return replace


def _set(path: str, value: Any) -> Callable[[Source, BundleJSON], None]:
    """A mutation that sets ``bundle[a][b]…`` (dotted path, list indexes as numbers)."""
    *parents, last = path.split(".")

    def mutate(source: Source, bundle: BundleJSON) -> None:
        del source
        node: Any = bundle
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return mutate


def _ok(source: Source) -> bytes:
    return pack_bundle(source.bundle, source.documents)


def _ok_with_report(source: Source) -> bytes:
    return pack_bundle(source.bundle, source.documents, source.report)


def _one_witness(source: Source, bundle: BundleJSON) -> None:
    bundle["checkpoint"] = with_signatures(
        bundle["checkpoint"], lambda sigs: [s for s in sigs if s.name != WITNESSES[1]])


def _bad_witness(source: Source, bundle: BundleJSON) -> None:
    def spoil(sigs: list[NoteSignature]) -> list[NoteSignature]:
        return [NoteSignature(s.name, s.key_id, bytes([s.signature[0] ^ 1]) + s.signature[1:])
                if s.name == WITNESSES[1] else s for s in sigs]
    bundle["checkpoint"] = with_signatures(bundle["checkpoint"], spoil)


def _root_altered(source: Source, bundle: BundleJSON) -> None:
    note = SignedNote.parse(bundle["checkpoint"])
    body = note.checkpoint
    root = bytes([body.root[0] ^ 1]) + body.root[1:]
    bundle["checkpoint"] = SignedNote(Checkpoint(body.origin, body.size, root, body.extensions),
                                      note.signatures).text()


def _another_log(source: Source, bundle: BundleJSON) -> None:
    impostor = source.profile.signature.generate()
    body = SignedNote.parse(bundle["checkpoint"]).checkpoint
    note = sign_checkpoint(body, source.log_name, impostor)
    bundle["checkpoint"] = cosign(source, note.text())
    bundle["log_key"] = VerifierKey.for_signer(source.log_name, impostor).encode()


def _edit_payload(entry: dict[str, Any]) -> None:
    payload = entry["filing"]["payload"]
    key = "summary" if "summary" in payload else "title"
    payload[key] += "（已改）"


def _edited(source: Source, bundle: BundleJSON) -> None:
    _edit_payload(bundle["entries"][1]["entry"])


def _edited_rehashed(source: Source, bundle: BundleJSON) -> None:
    item = bundle["entries"][1]
    _edit_payload(item["entry"])
    item["hash"] = entry_hash(source, item["entry"])


def _edited_resigned(source: Source, bundle: BundleJSON) -> None:
    item = bundle["entries"][1]
    _edit_payload(item["entry"])
    resign(item["entry"], source.signers[item["entry"]["filing"]["actor"]])
    item["hash"] = entry_hash(source, item["entry"])


def _wrong_key(source: Source, bundle: BundleJSON) -> None:
    entry = bundle["entries"][1]["entry"]  # office-li's opinion, signed by edu-wang's key
    resign(entry, source.signers["edu-wang"])


def _unregistered_key(source: Source, bundle: BundleJSON) -> None:
    entry = bundle["entries"][2]["entry"]
    entry["filing"]["key"] = "edu-wang:000000000000"
    resign(entry, source.profile.signature.generate())


def _key_of_another_actor(source: Source, bundle: BundleJSON) -> None:
    entry = bundle["entries"][2]["entry"]  # edu-wang's contract, under office-li's key
    entry["filing"]["key"] = source.key_ids["office-li"]
    resign(entry, source.signers["office-li"])


def _role_not_allowed(source: Source, bundle: BundleJSON) -> None:
    entry = bundle["entries"][2]["entry"]  # a contract (filed by units) filed by the office
    entry["filing"]["actor"] = "office-li"
    entry["filing"]["key"] = source.key_ids["office-li"]
    resign(entry, source.signers["office-li"])


def _registry_not_root(source: Source, bundle: BundleJSON) -> None:
    resign(bundle["registry"][1]["entry"], source.signers["office-li"])


def _other_stream(source: Source, bundle: BundleJSON) -> None:
    entry = bundle["entries"][2]["entry"]
    entry["filing"]["stream"] = "00000000-0000-4000-8000-000000000000"
    resign(entry, source.signers[entry["filing"]["actor"]])


def _other_ledger(source: Source, bundle: BundleJSON) -> None:
    entry = bundle["entries"][2]["entry"]
    entry["filing"]["ledger"] = "ledger.elsewhere.example/projects"
    resign(entry, source.signers[entry["filing"]["actor"]])


def _time_backwards(source: Source, bundle: BundleJSON) -> None:
    entries = bundle["entries"]
    entries[2]["entry"]["recorded_at"] = entries[0]["entry"]["recorded_at"]


def _gap(source: Source, bundle: BundleJSON) -> None:
    del bundle["entries"][1]


def _prev_broken(source: Source, bundle: BundleJSON) -> None:
    entry = bundle["entries"][2]["entry"]
    entry["prev"] = "f" * 64


def _reordered(source: Source, bundle: BundleJSON) -> None:
    entries = bundle["entries"]
    entries[1], entries[2] = entries[2], entries[1]


def _leaf_twice(source: Source, bundle: BundleJSON) -> None:
    bundle["entries"].append(copy.deepcopy(bundle["entries"][0]))


def _proof_truncated(source: Source, bundle: BundleJSON) -> None:
    bundle["entries"][0]["inclusion_proof"].pop()


def _proof_node(source: Source, bundle: BundleJSON) -> None:
    proof = bundle["entries"][0]["inclusion_proof"]
    proof[0] = ("0" if proof[0][0] != "0" else "1") + proof[0][1:]


def _leaf_moved(source: Source, bundle: BundleJSON) -> None:
    bundle["entries"][0]["leaf_index"] += 1


def _no_signature(source: Source, bundle: BundleJSON) -> None:
    del bundle["entries"][0]["entry"]["signature"]


def _root_key(source: Source, bundle: BundleJSON) -> None:
    bundle["root_key"]["public_key"] = b64encode(source.profile.signature.generate().public_key)


def _state_edited(source: Source, bundle: BundleJSON) -> None:
    construction = bundle["projections"]["eligibility"]["state"]["construction"]
    construction["eligible"] = not construction["eligible"]


def _state_rehashed(source: Source, bundle: BundleJSON) -> None:
    _state_edited(source, bundle)
    view = bundle["projections"]["eligibility"]
    view["state_hash"] = source.profile.digest(canonical_bytes(view["state"])).hex()


def _calendar(source: Source, bundle: BundleJSON) -> None:
    year = bundle["evaluation"]["calendar"]["years"][-1]
    year["holidays"] = year["holidays"][1:]


def _newest_dropped(source: Source) -> bytes:
    """The project's two newest entries left out; the projections recomputed and the
    documents only they referenced left out too (a careful tamperer)."""
    bundle = copy.deepcopy(source.bundle)
    del bundle["entries"][-2:]
    bundle["projections"] = recompute_projections(bundle)
    return pack_bundle(bundle, drop_unreferenced(source, bundle))


def _registry_tail_dropped(source: Source) -> bytes:
    """The registry's trailing KeyRevoked left out."""
    assert source.tail is not None
    bundle = copy.deepcopy(source.tail)
    assert bundle["registry"][-1]["entry"]["filing"]["type"] == "KeyRevoked"
    del bundle["registry"][-1]
    return pack_bundle(bundle, source.documents)


def _proof_of_another_stream(source: Source, bundle: BundleJSON) -> None:
    bundle["heads"]["project"] = copy.deepcopy(bundle["heads"]["registry"])


def _heads_root_edited(source: Source, bundle: BundleJSON) -> None:
    body = SignedNote.parse(bundle["checkpoint"]).checkpoint
    root = heads_root(body.extensions)
    wrong = bytes([root[0] ^ 1]) + root[1:]
    forged = Checkpoint(body.origin, body.size, body.root, (checkpoint_extension(wrong),))
    bundle["checkpoint"] = cosign(source, sign_checkpoint(forged, source.log_name,
                                                          source.log_signer).text())


def _heads_proof_truncated(source: Source, bundle: BundleJSON) -> None:
    bundle["heads"]["project"]["proof"]["siblings"].pop()


def _format_1(source: Source, bundle: BundleJSON) -> None:
    bundle["format"] = FORMAT_V1
    del bundle["heads"]


def _revoked(source: Source) -> bytes:
    assert source.revoked is not None
    return pack_bundle(source.revoked, source.documents)


def _swapped(source: Source) -> list[tuple[str, bytes]]:
    names = sorted(source.documents)
    documents = dict(source.documents)
    documents[names[0]], documents[names[1]] = documents[names[1]], documents[names[0]]
    return members(source, documents=documents)


def _missing(source: Source) -> list[tuple[str, bytes]]:
    return members(source)[:-1]


def _unreferenced(source: Source) -> list[tuple[str, bytes]]:
    extra = b"a document no entry references\n"
    return [*members(source), (DOCUMENTS_DIR + hashlib.sha256(extra).hexdigest(), extra)]


def _plus(name: str, content: bytes = b"x") -> Callable[[Source], list[tuple[str, bytes]]]:
    return lambda source: [*members(source), (name, content)]


VECTORS: tuple[Vector, ...] = (
    # --- good ---
    Vector("ok_intl.zip", "A good intl bundle (SHA-256, Ed25519), cosigned by both pinned"
           " witnesses.", _ok),
    Vector("ok_intl_with_report.zip", "The same with its report.html, which is not evidence"
           " and not verified.", _ok_with_report),
    Vector("ok_intl_one_of_two_witnesses.zip", "Cosigned by witness A only; the trust file"
           " asks for a quorum of 1 of the 2.", edit(_one_witness),
           trust="trust-intl-quorum-1.json"),
    Vector("ok_gm.zip", "A good gm bundle (SM3, SM2).", _ok, profile="gm"),
    # --- step 1: the zip and bundle.json ---
    Vector("not_a_zip.zip", "Not a zip at all.", lambda source: b"this is not a zip file\n",
           1, "format", "not a zip file"),
    Vector("zip_truncated.zip", "The first half of a good bundle's bytes.",
           lambda source: _ok(source)[:len(_ok(source)) // 2], 1, "format", "not a zip file"),
    Vector("zip_unexpected_member.zip", "An extra member notes.txt.", raw(_plus("notes.txt")),
           1, "format", "unexpected zip member 'notes.txt'"),
    Vector("zip_path_traversal.zip", "An extra member ../../evil.sh (path traversal).",
           raw(_plus("../../evil.sh")), 1, "format", "is unsafe"),
    Vector("zip_absolute_path.zip", "An extra member /etc/cron.d/evil (absolute path).",
           raw(_plus("/etc/cron.d/evil")), 1, "format", "is unsafe"),
    Vector("zip_duplicate_member.zip", "bundle.json twice (the second one different).",
           raw(lambda source: [*members(source), (BUNDLE_JSON, b"{}")]),
           1, "format", "zip member 'bundle.json' appears twice"),
    Vector("zip_no_bundle_json.zip", "Only the documents.",
           raw(lambda source: members(source)[1:]), 1, "format", "the zip has no bundle.json"),
    Vector("zip_member_bzip2.zip", "Members compressed with bzip2 (only stored and deflated"
           " are read).", raw(members, method=zipfile.ZIP_BZIP2),
           1, "format", "uses compression method 12"),
    Vector("zip_member_encrypted.zip", "Members flagged as encrypted.",
           raw(members, encrypted=True), 1, "format", "is encrypted"),
    Vector("bundle_json_too_deep.zip", "bundle.json is an array nested 100,000 deep.",
           raw(lambda source: [(BUNDLE_JSON, b"[" * 100_000 + b"]" * 100_000)]),
           1, "format", "nests arrays and objects more than 64 deep"),
    Vector("bundle_json_duplicate_key.zip", "A second \"format\" member in bundle.json.",
           json_bytes(_once(b'{"checkpoint":', b'{"format":"x","checkpoint":')),
           1, "format", "duplicate key 'format'"),
    Vector("bundle_json_float.zip", "A seq written as 1.0.",
           json_bytes(_once(b'"seq":1,', b'"seq":1.0,')), 1, "format", "a float (1.0)"),
    Vector("bundle_json_nan.zip", "A leaf index written as NaN.",
           json_bytes(_once(b'"leaf_index":0', b'"leaf_index":NaN')),
           1, "format", "the constant NaN"),
    Vector("bundle_json_not_utf8.zip", "A byte 0xff inside a string.",
           json_bytes(_once(b'"edu-wang"', b'"edu-w\xffng"')), 1, "format", "not strict JSON"),
    Vector("bundle_json_unknown_member.zip", "An extra member \"comment\".",
           edit(_set("comment", "trust me")), 1, "format", "unexpected ['comment']"),
    Vector("bundle_json_missing_member.zip", "No \"evaluation\" member.",
           edit(lambda source, bundle: bundle.pop("evaluation") and None),
           1, "format", "missing ['evaluation']"),
    Vector("bundle_json_wrong_format.zip", "format audit-ledger-evidence/3.",
           edit(_set("format", "audit-ledger-evidence/3")), 1, "format",
           "format must be 'audit-ledger-evidence/2'"),
    Vector("bundle_json_unknown_profile.zip", "profile \"xyz\".", edit(_set("profile", "xyz")),
           1, "format", "unknown profile 'xyz'"),
    Vector("entries_empty.zip", "No entries.", edit(_set("entries", [])),
           1, "format", "entries must be a non-empty list"),
    Vector("entry_without_signature.zip", "An entry without its signature member.",
           edit(_no_signature), 1, "entry-shape", "signature"),
    # --- step 2: the checkpoint ---
    Vector("checkpoint_malformed.zip", "The checkpoint note is not a signed note.",
           edit(_set("checkpoint", "hello\n")), 2, "checkpoint", "malformed"),
    Vector("checkpoint_signature_invalid.zip", "The root in the checkpoint body altered (the"
           " log's signature no longer verifies).", edit(_root_altered),
           2, "checkpoint-signature", "is not validly signed by log key"),
    Vector("checkpoint_of_another_log.zip", "Checkpoint re-signed by another key under the"
           " log's name, and log_key replaced by it.", edit(_another_log),
           2, "log-key", "refusing a bundle of another log"),
    Vector("checkpoint_origin_mismatch.zip", "The bundle's origin is not the checkpoint's.",
           edit(_set("origin", "ledger.elsewhere.example/projects")),
           2, "checkpoint", "the checkpoint is for origin"),
    Vector("witness_cosignature_missing.zip", "Witness B's cosignature removed; the trust"
           " file requires both witnesses.", edit(_one_witness),
           2, "witness", "cosigned by 1 of the 2 pinned witnesses, 2 required"),
    Vector("witness_cosignature_invalid.zip", "Witness B's cosignature altered.",
           edit(_bad_witness), 2, "witness", "does not verify"),
    # --- step 3: inclusion ---
    Vector("inclusion_proof_truncated.zip", "An inclusion proof without its last node.",
           edit(_proof_truncated), 3, "inclusion", "not included in checkpoint"),
    Vector("inclusion_proof_node_altered.zip", "One node of an inclusion proof altered.",
           edit(_proof_node), 3, "inclusion", "not included in checkpoint"),
    Vector("leaf_index_changed.zip", "An item's leaf index moved by one.", edit(_leaf_moved),
           3, "inclusion", "not included in checkpoint"),
    Vector("leaf_claimed_twice.zip", "The first entry shipped twice.", edit(_leaf_twice),
           3, "inclusion", "is claimed twice"),
    Vector("entry_edited_rehashed.zip", "A payload edited and the item's hash recomputed"
           " (a careful tamperer): only the log catches it.", edit(_edited_rehashed),
           3, "inclusion", "not included in checkpoint"),
    Vector("entry_edited_resigned.zip", "A payload edited, re-signed by its author's own key"
           " and rehashed: only the log catches it.", edit(_edited_resigned),
           3, "inclusion", "not included in checkpoint"),
    # --- step 4: entry hashes ---
    Vector("entry_payload_edited.zip", "A payload edited, nothing recomputed.", edit(_edited),
           4, "entry-hash", "(the entry was edited)"),
    # --- step 5: chains and time (relogged: the log operator is complicit) ---
    Vector("chain_gap.zip", "Relogged: the second entry left out of the log and the bundle.",
           edit(_gap, relogged=True, rechain=False, reindex=True),
           5, "chain", "entries missing, added or reordered"),
    Vector("chain_prev_broken.zip", "Relogged: the third entry's prev is not the second's"
           " hash.", edit(_prev_broken, relogged=True, rechain=False),
           5, "chain", "is not the hash of the entry before"),
    Vector("entries_reordered.zip", "The second and third items swapped in the list.",
           edit(_reordered), 5, "chain", "entries missing, added or reordered"),
    Vector("recorded_at_decreasing.zip", "Relogged: the third entry's recorded_at set before"
           " the second's.", edit(_time_backwards, relogged=True),
           5, "time", "an earlier leaf"),
    Vector("entry_of_another_stream.zip", "Relogged: an entry filed (and signed) for another"
           " project.", edit(_other_stream, relogged=True), 5, "stream", "belongs to stream"),
    Vector("entry_for_another_ledger.zip", "Relogged: an entry filed (and signed) for"
           " another ledger.", edit(_other_ledger, relogged=True),
           5, "stream", "was filed for ledger"),
    # --- step 6: signatures and keys ---
    Vector("entry_resigned_wrong_key.zip", "Relogged: office-li's opinion signed with"
           " edu-wang's key.", edit(_wrong_key, relogged=True),
           6, "author-signature", "does not verify over JCS(filing)"),
    Vector("entry_key_unregistered.zip", "Relogged: an entry signed under a key id the"
           " registry does not hold.", edit(_unregistered_key, relogged=True),
           6, "author-key", "which the registry does not hold"),
    Vector("entry_key_of_another_actor.zip", "Relogged: edu-wang's contract signed with"
           " office-li's key.", edit(_key_of_another_actor, relogged=True),
           6, "author-key", "not 'edu-wang''s"),
    Vector("entry_role_not_allowed.zip", "Relogged: a contract filed by the office (contracts"
           " are filed by units).", edit(_role_not_allowed, relogged=True),
           6, "authority", "ContractFiled filed as office"),
    Vector("author_key_revoked_before_entry.zip", "office-li's key revoked (backdated) from"
           " the moment of the opinion it signed; the log recorded the revocation.", _revoked,
           6, "author-key", "was not valid at"),
    Vector("registry_entry_not_signed_by_root.zip", "Relogged: a registry entry signed by"
           " office-li's key instead of the root key.", edit(_registry_not_root, relogged=True),
           6, "registry-signature", "does not verify over JCS(filing)"),
    Vector("root_key_swapped.zip", "root_key.public_key replaced (the trust file pins the"
           " real one).", edit(_root_key), 6, "root-key", "is not the pinned root key"),
    # --- step 7: documents ---
    Vector("document_swapped.zip", "Two documents' contents swapped, names kept.",
           raw(_swapped), 7, "documents", "does not hash to its name"),
    Vector("document_missing.zip", "A referenced document left out.", raw(_missing),
           7, "documents", "is referenced but not shipped"),
    Vector("document_unreferenced.zip", "A document no entry references added.",
           raw(_unreferenced), 7, "documents", "is shipped but no entry references it"),
    # --- step 8: projections ---
    Vector("projection_state_edited.zip", "The eligibility state edited, its hash not.",
           edit(_state_edited), 8, "projection", "(the state was edited)"),
    Vector("projection_state_rehashed.zip", "The eligibility state edited and its"
           " state_hash recomputed.", edit(_state_rehashed),
           8, "projection", "recomputed from the entries"),
    Vector("calendar_edited.zip", "A holiday removed from the shipped calendar.",
           edit(_calendar), 8, "calendar", "the shipped calendar hashes to"),
    Vector("evaluation_date_changed.zip", "evaluation.on moved a year later.",
           edit(_set("evaluation.on", "2027-11-25")), 8, "projection",
           "recomputed from the entries"),
    # --- step 9: completeness (the stream heads) ---
    Vector("heads_newest_entries_dropped.zip", "The project's two newest entries left out,"
           " the projections recomputed and the documents only they referenced left out:"
           " only the project's committed head shows it.", _newest_dropped,
           9, "complete", "project: the bundle ends at seq 1 but checkpoint"),
    Vector("heads_registry_tail_dropped.zip", "The registry's trailing KeyRevoked (an"
           " auditor's key) left out.", _registry_tail_dropped,
           9, "complete", "registry: the bundle ends at seq"),
    Vector("heads_proof_other_stream.zip", "heads.project replaced by the registry's head and"
           " proof (a valid proof, of another stream).", edit(_proof_of_another_stream),
           9, "heads-stream", "the proof is for stream"),
    Vector("heads_root_edited_resigned.zip", "The checkpoint's heads root altered and the"
           " checkpoint re-signed with the real log key and cosigned (a complicit log"
           " operator): the head proofs no longer reach it.", edit(_heads_root_edited),
           9, "heads-proof", "does not verify against checkpoint"),
    Vector("heads_proof_truncated.zip", "The project's head proof without its last sibling.",
           edit(_heads_proof_truncated), 9, "heads-proof", "does not verify against checkpoint"),
    Vector("v1_bundle_completeness_not_proven.zip", "Format 1 (no heads member): verifies,"
           " with a warning that completeness is not proven.", edit(_format_1),
           warning="completeness is not proven"),
    # --- gm ---
    Vector("gm_entry_payload_edited.zip", "gm: a payload edited, nothing recomputed.",
           edit(_edited), 4, "entry-hash", "(the entry was edited)", profile="gm"),
    Vector("gm_checkpoint_signature_invalid.zip", "gm: the checkpoint root altered.",
           edit(_root_altered), 2, "checkpoint-signature", "is not validly signed by log key",
           profile="gm"),
    Vector("gm_entry_resigned_wrong_key.zip", "gm, relogged: office-li's opinion signed with"
           " edu-wang's SM2 key.", edit(_wrong_key, relogged=True),
           6, "author-signature", "does not verify over JCS(filing)", profile="gm"),
)


# --- writing and checking ------------------------------------------------------------------------


def verdict(data: bytes, trust: dict[str, Any]) -> dict[str, Any]:
    """Our verifier's verdict on one file: ``{"ok": true, "warnings": [...]}`` or the first
    failure."""
    try:
        report = verify_bundle(data, log_key=trust["log_key"], root_key=trust.get("root_key"),
                               witness_keys=trust.get("witness_keys", ()),
                               quorum=trust.get("quorum"))
    except BundleVerificationError as exc:
        first = exc.report.failures[0]
        return {"ok": False, "step": first.step, "check": first.check,
                "message": first.message}
    return {"ok": True, "warnings": report.warnings}


def expected_entry(vector: Vector) -> dict[str, Any]:
    """The ``expected.json`` entry of a vector."""
    entry: dict[str, Any] = {"trust": vector.trust_file, "ok": vector.step is None,
                             "defect": vector.defect}
    if vector.step is not None:
        entry.update(step=vector.step, check=vector.check, error=vector.error)
    if vector.warning:
        entry["warning"] = vector.warning
    return entry


def matches(vector: Vector, found: dict[str, Any]) -> bool:
    """Whether a verdict is the one the vector declares."""
    if vector.step is None:
        warned = any(vector.warning in w for w in found.get("warnings", ()))
        return bool(found["ok"]) and (warned if vector.warning else not found["warnings"])
    return (not found["ok"] and found["step"] == vector.step and found["check"] == vector.check
            and vector.error in found["message"])


def write_corpus(out: Path, seed: int) -> dict[str, Any]:
    """Build every vector into ``out``; return ``expected.json``'s object. Raises
    ``SystemExit`` naming each vector whose verdict is not the declared one."""
    out.mkdir(parents=True, exist_ok=True)
    with seeded(seed):
        return _write_corpus(out, seed)


def _write_corpus(out: Path, seed: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as workdir:
        sources = {name: build_source(Path(workdir), name) for name in ("intl", "gm")}
    intl = sources["intl"]
    trusts = {"trust-intl.json": intl.trust(), "trust-intl-quorum-1.json": intl.trust(1),
              "trust-gm.json": sources["gm"].trust()}
    for name, trust in trusts.items():
        (out / name).write_text(json.dumps(trust, indent=2) + "\n", encoding="utf-8")
    wrong: list[str] = []
    vectors: dict[str, Any] = {}
    for vector in VECTORS:
        data = vector.build(sources[vector.profile])
        (out / vector.name).write_bytes(data)
        found = verdict(data, trusts[vector.trust_file])
        if not matches(vector, found):
            wrong.append(f"{vector.name}: declared {expected_entry(vector)}, got {found}")
        vectors[vector.name] = expected_entry(vector)
    if wrong:
        raise SystemExit("verdicts differ from the declared ones:\n" + "\n".join(wrong))
    expected = {
        "format": FORMAT,
        "generator": f"scripts/make_evidence_vectors.py --seed {seed}",
        "limits": {"max_json_depth": DEFAULT_LIMITS.max_json_depth},
        "trust_files": trusts,  # each also written as its own file, for LEDGER_TRUST
        "vectors": vectors,
    }
    (out / "expected.json").write_text(json.dumps(expected, indent=2, ensure_ascii=False)
                                       + "\n", encoding="utf-8")
    (out / "README.md").write_text(readme(seed), encoding="utf-8")
    return expected


def _verdict_cell(vector: Vector) -> str:
    if vector.step is not None:
        return f"{vector.step} `{vector.check}`"
    return "ok, with a warning" if vector.warning else "ok"


def readme(seed: int) -> str:
    """The corpus's README.md."""
    rows = "\n".join(
        f"| `{v.name}` | {v.profile} | {_verdict_cell(v)} | {v.defect} |" for v in VECTORS)
    return f"""# Evidence bundle tamper corpus

Generated by `python scripts/make_evidence_vectors.py --seed {seed}` (do not edit by hand: edit
the script and run it again). Each `.zip` is an evidence bundle in the format of
[docs/evidence-format.md](../../../docs/evidence-format.md), format 2 (with the stream heads)
unless its name says otherwise; all but the `ok_*` files have one planted defect, named by the
file. `expected.json` gives, for each file, the trust file to verify it with and the verdict.

## Using it to test another verifier

1. For each entry of `expected.json`'s `vectors`, load the named trust file (`trust-*.json`, the
   trust-file format of docs/evidence-format.md: `log_key`, `root_key`, `witness_keys`,
   `quorum`) and verify the `.zip` with exactly those pinned keys and the default limits
   (`bundle.json` nested at most `limits.max_json_depth` deep).
2. `"ok": true` files must verify; one with a `warning` (a fragment of it) must verify with
   that warning, the others with none. Every other file must be **rejected**.
3. Recommended: your first failure should belong to the same verification step (`step`, 1–9 as
   numbered in docs/evidence-format.md, *Verification steps*). `check` and `error` (a fragment
   of the message of the first failure) are this implementation's names and wording; match
   them only if you reuse them. A verifier that skips step 8 (projections, which needs the
   Measures' rules) will accept the step-8 files and should say so.
4. The `heads_*` files need step 9 (completeness: each stream's head proof against the
   checkpoint's `heads` line, and the bundle ending at that head). A verifier that does not
   implement it must accept them only while saying that completeness is not proven, as it
   must for `v1_bundle_completeness_not_proven.zip`.

With this repository's verifier: `LEDGER_TRUST=tests/vectors/evidence/trust-intl.json ledger
verify-bundle tests/vectors/evidence/chain_gap.zip`;
`tests/ledger/evidence/test_evidence_vectors.py` runs the whole corpus and checks that the
script still reproduces the same verdicts.

Files marked *relogged* were made as a complicit log operator would: after the defect was
planted, every hash, the Merkle tree, every inclusion proof, the stream heads map and its two
proofs, and the projections were recomputed and the checkpoint (with its `heads` line) was
signed with the real log key (and cosigned by the witnesses), so that only the named check can
catch the defect. `intl` files are reproduced
byte for byte by the same seed; `gm` files are not (SM2 signatures are randomised), their
verdicts are.

| file | profile | verdict (step `check`) | defect |
|---|---|---|---|
{rows}
"""


def main(argv: list[str] | None = None) -> int:
    """Build the corpus; print each file's size."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="the generator's seed")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    expected = write_corpus(args.out, args.seed)
    total = sum((args.out / name).stat().st_size for name in expected["vectors"])
    print(f"wrote {len(expected['vectors'])} bundles ({total} bytes) and expected.json to"
          f" {args.out} in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
