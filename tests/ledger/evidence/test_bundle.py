"""Evidence bundles: exported from a small history on both backends, verified offline, and every
defect of the tamper corpus rejected with the right reason (step and check of docs/design.md §5)."""

from __future__ import annotations

import copy
import io
import json
import re
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from tampering import Tamperer
from typer.testing import CliRunner

from api.cli import app as cli_app
from ledger.app import Ledger, registry_stream_id
from ledger.crypto.suites import INTL
from ledger.errors import ProjectNotFoundError, ValidationFailedError
from ledger.evidence.bundle import (
    FORMAT,
    PROJECTION_NAMES,
    BundleFormatError,
    BundleReport,
    BundleTrustError,
    BundleVerificationError,
    LogKeyNotPinnedError,
    parse_names,
    read_bundle_json,
    registry_stream_for,
    verify_bundle,
)
from ledger.log.canonical import canonical_bytes
from ledger.log.checkpoint import (
    Checkpoint,
    NoteSignature,
    SignedNote,
    VerifierKey,
    sign_checkpoint,
)
from ledger.log.entries import Entry, b64encode
from ledger.measures.catalogue import EXAMPLES, example_documents
from ledger.measures.report import render_report
from ledger.measures.roles import Role
from ledger.settings import Settings
from projections.evidence import export_bundle, tree_size_known_at
from projections.replay import replay_project

ON = date(2026, 11, 25)
OPINION_EFFECTIVE = date(2026, 4, 1)


@dataclass(frozen=True)
class History:
    """A project of edu-wang's interleaved with one of health-chen's (leaves are not adjacent)."""

    stream: UUID
    other: UUID
    times: list[str]  # recorded_at of each filing on ``stream``, in order


@pytest.fixture
def history(ledger: Ledger) -> History:
    ledger.register_actor("audit-sun", Role.AUDIT, None, "审计分局 孙")
    opened = ledger.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"])
    other = ledger.file("health-chen", "ApplicationFiled", EXAMPLES["ApplicationFiled"]).stream
    times = [opened.recorded_at]
    for actor, event_type in (("office-li", "ReviewOpinionIssued"),
                              ("finance-zhao", "FundingArranged"),
                              ("edu-wang", "ContractFiled"),
                              ("finance-zhao", "FundsDisbursed"),
                              ("edu-wang", "ProgressReported")):
        # The opinion took effect before the example contract was signed (2026-04-17): a
        # contract signed before it would block the payment (Art. 9, docs/design.md §4.6).
        effective = OPINION_EFFECTIVE if event_type == "ReviewOpinionIssued" else None
        receipt = ledger.file(actor, event_type, EXAMPLES[event_type], stream=opened.stream,
                              effective=effective)
        times.append(receipt.recorded_at)
        if event_type == "ReviewOpinionIssued":
            ledger.file("office-li", event_type, EXAMPLES[event_type], stream=other)
    return History(opened.stream, other, times)


@pytest.fixture
def bundle(ledger: Ledger, history: History) -> bytes:
    return export_bundle(ledger, history.stream, on=ON)


def _log_key(ledger: Ledger) -> str:
    return ledger.identity.log_key.encode()


def _root_key(ledger: Ledger) -> str:
    return b64encode(ledger.identity.root_public_key)


def _verify(ledger: Ledger, data: bytes, **kwargs: Any) -> BundleReport:
    return verify_bundle(data, log_key=_log_key(ledger), root_key=_root_key(ledger), **kwargs)


# --- bundles verify -----------------------------------------------------------------------------


def test_bundle_verifies_with_pinned_keys(ledger: Ledger, history: History,
                                          bundle: bytes) -> None:
    report = _verify(ledger, bundle)
    assert report.ok
    assert report.log_key_pinned
    assert report.root_key_pinned
    assert report.entries == 6
    assert report.registry_entries == len(ledger.events_of(ledger.identity.registry_stream))
    assert report.checkpoint_size == ledger.log.tree_size()
    assert report.signatures == report.entries + report.registry_entries
    assert {(s.actor, s.entries) for s in report.signers} == {
        ("edu-wang", 3), ("office-li", 1), ("finance-zhao", 2)}
    assert set(report.projections) == set(PROJECTION_NAMES)
    assert report.documents >= 5
    assert report.warnings == []
    summary = report.summary()
    assert summary.startswith("OK")
    assert "pinned" in summary
    assert report.to_json()["ok"] is True


def test_an_unpinned_log_key_is_refused_unless_embedded_keys_are_trusted(
        ledger: Ledger, bundle: bytes) -> None:
    with pytest.raises(LogKeyNotPinnedError, match=r"--log-key .* LEDGER_TRUST"):
        verify_bundle(bundle, log_key=None)
    report = verify_bundle(bundle, log_key=None, trust_embedded_keys=True)
    assert not report.log_key_pinned
    assert any("not pinned" in w for w in report.warnings)
    assert "NOT pinned" in report.summary()
    with pytest.raises(BundleTrustError, match="one or the other"):
        verify_bundle(bundle, log_key=_log_key(ledger), trust_embedded_keys=True)
    with pytest.raises(BundleTrustError, match="pinned log key is malformed"):
        verify_bundle(bundle, log_key="not a key")
    with pytest.raises(BundleTrustError, match="root key is not standard base64"):
        verify_bundle(bundle, log_key=_log_key(ledger), root_key="***")


def test_bundle_contents_follow_design_section_5(ledger: Ledger, history: History,
                                                 bundle: bytes) -> None:
    archive = zipfile.ZipFile(io.BytesIO(bundle))
    names = archive.namelist()
    assert names[:3] == ["bundle.json", "report.html", "names.json"]
    assert all(n.startswith("documents/") for n in names[3:])
    # Each document keeps a file name with its extension (names.json: SHA-256 -> name).
    files = json.loads(archive.read("names.json"))
    assert set(files) == {n.removeprefix("documents/") for n in names[3:]}
    assert all(re.fullmatch(r"\d{3}-\w+-.+\.[a-z]+", name) for name in files.values()), files
    data = read_bundle_json(bundle)
    assert set(data) == {"format", "profile", "origin", "stream", "exported_at", "checkpoint",
                         "log_key", "root_key", "entries", "registry", "heads", "projections",
                         "evaluation"}
    assert (data["format"], data["profile"]) == (FORMAT, "intl")
    assert data["stream"] == str(history.stream)
    assert [i["entry"]["seq"] for i in data["entries"]] == [1, 2, 3, 4, 5, 6]
    # The heads of the project and of the registry at the checkpoint, with their proofs.
    assert set(data["heads"]) == {"project", "registry"}
    for name, section in (("project", "entries"), ("registry", "registry")):
        claim, last = data["heads"][name], data[section][-1]
        assert set(claim) == {"stream", "head", "proof"}
        assert claim["stream"] == last["entry"]["filing"]["stream"]
        assert claim["head"] == {"seq": last["entry"]["seq"], "entry_hash": last["hash"],
                                 "leaf_index": last["leaf_index"]}
    registry = ledger.events_of(ledger.identity.registry_stream)
    assert [i["hash"] for i in data["registry"]] == [e.entry_hash for e in registry]
    assert set(data["root_key"]) == {"key_id", "suite", "public_key"}
    # bundle.json is JCS, and the projections are exactly replay_project's.
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        assert archive.read("bundle.json") == canonical_bytes(data)
    replay = replay_project(ledger, history.stream, on=ON)
    assert data["projections"] == replay.views
    assert data["evaluation"]["calendar_digest"] == ledger.calendar.digest
    assert data["evaluation"]["on"] == ON.isoformat()


def test_registry_stream_matches_the_ledgers(ledger: Ledger) -> None:
    origin = ledger.identity.origin
    assert registry_stream_for(origin) == registry_stream_id(origin)


def test_export_as_known_at_ships_the_prefix_and_proves_it(
        ledger: Ledger, history: History) -> None:
    cutoff = history.times[2]  # after FundingArranged (seq 3)
    data = export_bundle(ledger, history.stream, as_known_at=cutoff, on=ON)
    report = _verify(ledger, data)
    assert report.entries == 3
    assert report.as_known_at == cutoff
    size = tree_size_known_at(ledger, cutoff)
    assert report.checkpoint_size == size
    assert all(e["entry"]["recorded_at"] <= cutoff for e in read_bundle_json(data)["entries"])
    replay = replay_project(ledger, history.stream, as_known_at=cutoff, on=ON)
    assert read_bundle_json(data)["projections"] == replay.views
    # An offset time means the same moment.
    assert read_bundle_json(export_bundle(
        ledger, history.stream, as_known_at=cutoff.replace("Z", "+00:00"), on=ON),
    )["entries"] == read_bundle_json(data)["entries"]


def test_tree_size_known_at_is_the_prefix_count(ledger: Ledger, history: History) -> None:
    times = [leaf.recorded_at for leaf, _ in ledger.log.iter_log()]
    for moment in [times[0], *history.times, "2000-01-01T00:00:00.000000Z",
                   "2999-01-01T00:00:00.000000Z"]:
        assert tree_size_known_at(ledger, moment) == sum(t <= moment for t in times)


def test_export_falls_back_to_a_smaller_checkpoint_or_refuses(
        ledger: Ledger, history: History, database_url: str) -> None:
    cutoff = history.times[2]
    size = tree_size_known_at(ledger, cutoff)
    tamper = Tamperer(database_url, ledger.identity.profile)
    # No checkpoint of exactly that size: the next smaller one still holds every entry
    # recorded by then? It does not (leaf size-1 is this project's seq 3): refused, clearly.
    tamper._execute("DELETE FROM log_checkpoints WHERE size = ?", (size,))
    with pytest.raises(ValidationFailedError, match="does not contain FundingArranged seq 3"):
        export_bundle(ledger, history.stream, as_known_at=cutoff, on=ON)
    # Another project whose entries all precede the smaller checkpoint still exports.
    data = export_bundle(ledger, history.other, as_known_at=cutoff, on=ON)
    assert _verify(ledger, data).checkpoint_size < size


def test_export_refuses_before_the_project_existed_and_bad_times(
        ledger: Ledger, history: History) -> None:
    with pytest.raises(ProjectNotFoundError):
        export_bundle(ledger, history.stream, as_known_at="2000-01-01T00:00:00Z")
    with pytest.raises(ValidationFailedError, match="offset"):
        export_bundle(ledger, history.stream, as_known_at="2026-01-01T00:00:00")
    with pytest.raises(ProjectNotFoundError):
        export_bundle(ledger, ledger.identity.registry_stream)


def test_verifier_imports_nothing_that_needs_a_database_or_network() -> None:
    code = textwrap.dedent("""
        import sys
        import ledger.evidence.bundle, ledger.evidence.freshness, ledger.measures.report
        import ledger.log.witness
        forbidden = ("psycopg", "psycopg_pool", "sqlite3", "_sqlite3", "fastapi", "starlette",
                     "httpx", "uvicorn", "eventsourcing.sqlite", "eventsourcing.postgres",
                     "eventsourcing.persistence", "eventsourcing.application", "ledger.app",
                     "ledger.store.sqlite", "ledger.store.postgres", "projections", "api")
        loaded = [m for m in sys.modules if any(m == f or m.startswith(f + ".")
                                                 for f in forbidden)]
        print(",".join(sorted(loaded)))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=Path(__file__).parent)
    assert result.stdout.strip() == ""


# --- the tamper corpus --------------------------------------------------------------------------


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def rewrite(data: bytes, mutate: Callable[[dict[str, Any]], None]) -> bytes:
    """The bundle with ``bundle.json`` mutated in place (nothing else recomputed)."""
    members = _members(data)
    bundle = json.loads(members["bundle.json"])
    mutate(bundle)
    members["bundle.json"] = canonical_bytes(bundle)
    return _zip(members)


def _rehash(item: dict[str, Any]) -> None:
    """Tamper, then fix the item's hash (a careful attacker): only the log can catch it."""
    item["hash"] = INTL.digest(canonical_bytes(item["entry"])).hex()


def _resign(ledger: Ledger, item: dict[str, Any]) -> None:
    """Re-sign the (edited) filing with its author's own key, then rehash."""
    entry = Entry.parse(canonical_bytes(item["entry"]))
    signer = ledger.custody.signer(entry.filing.key)
    item["entry"]["signature"] = b64encode(signer.sign(entry.filing.signing_bytes()))
    _rehash(item)


def _edit_payload(item: dict[str, Any]) -> None:
    payload = item["entry"]["filing"]["payload"]
    payload["summary"] = payload["summary"] + "（已改）"


def _failures(ledger: Ledger, data: bytes, **kwargs: Any) -> list[tuple[int, str]]:
    with pytest.raises(BundleVerificationError) as caught:
        _verify(ledger, data, **kwargs)
    report = caught.value.report
    assert not report.ok
    assert "REJECTED" in report.summary()
    assert report.to_json()["ok"] is False
    return [(f.step, f.check) for f in report.failures]


def _other_ledger_bundle(make_database: Callable[[str], str], database_url: str) -> bytes:
    other = Ledger(Settings(database_url=make_database(database_url), environment="test"))
    try:
        other.initialise()
        for content in example_documents().values():
            other.add_document(content, "text/plain")
        other.register_actor("edu-wang", Role.UNIT, "edu", "教育和体育部 王")
        stream = other.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"]).stream
        return export_bundle(other, stream, on=ON)
    finally:
        other.close()


def test_payload_edited(ledger: Ledger, bundle: bytes) -> None:
    failures = _failures(ledger, rewrite(bundle, lambda b: _edit_payload(b["entries"][1])))
    assert failures[0] == (4, "entry-hash")
    assert (6, "author-signature") in failures


def test_payload_edited_resigned_and_rehashed(ledger: Ledger, bundle: bytes) -> None:
    def mutate(b: dict[str, Any]) -> None:
        _edit_payload(b["entries"][1])
        _resign(ledger, b["entries"][1])

    failures = _failures(ledger, rewrite(bundle, mutate))
    assert failures[0] == (3, "inclusion")  # only the log catches a re-signed edit
    assert (5, "chain") in failures  # and the next entry's prev no longer links


def test_entry_dropped(ledger: Ledger, bundle: bytes) -> None:
    failures = _failures(ledger, rewrite(bundle, lambda b: b["entries"].pop(2)))
    assert failures[0] == (5, "chain")


def test_entries_reordered(ledger: Ledger, bundle: bytes) -> None:
    def mutate(b: dict[str, Any]) -> None:
        b["entries"][1], b["entries"][2] = b["entries"][2], b["entries"][1]

    failures = _failures(ledger, rewrite(bundle, mutate))
    assert failures[0] == (5, "chain")


def test_recorded_at_moved(ledger: Ledger, bundle: bytes) -> None:
    def move(b: dict[str, Any]) -> None:
        b["entries"][3]["entry"]["recorded_at"] = b["entries"][0]["entry"]["recorded_at"]

    assert _failures(ledger, rewrite(bundle, move))[0] == (4, "entry-hash")

    def move_and_rehash(b: dict[str, Any]) -> None:
        move(b)
        _rehash(b["entries"][3])

    failures = _failures(ledger, rewrite(bundle, move_and_rehash))
    assert failures[0] == (3, "inclusion")
    assert (5, "time") in failures


def test_inclusion_proof_truncated(ledger: Ledger, bundle: bytes) -> None:
    def mutate(b: dict[str, Any]) -> None:
        b["entries"][0]["inclusion_proof"].pop()

    failures = _failures(ledger, rewrite(bundle, mutate))
    assert failures == [(3, "inclusion")]


def test_leaf_index_changed(ledger: Ledger, bundle: bytes) -> None:
    def mutate(b: dict[str, Any]) -> None:
        b["entries"][0]["leaf_index"] += 1

    assert _failures(ledger, rewrite(bundle, mutate))[0] == (3, "inclusion")


def test_checkpoint_root_changed(ledger: Ledger, bundle: bytes) -> None:
    def mutate(b: dict[str, Any]) -> None:
        note = SignedNote.parse(b["checkpoint"])
        root = note.checkpoint.root
        forged = bytes([root[0] ^ 1]) + root[1:]
        b["checkpoint"] = b["checkpoint"].replace(b64encode(root), b64encode(forged), 1)

    failures = _failures(ledger, rewrite(bundle, mutate))
    assert failures[0] == (2, "checkpoint-signature")
    assert (3, "inclusion") in failures


def test_checkpoint_resigned_by_another_log_key(ledger: Ledger, bundle: bytes) -> None:
    def mutate(b: dict[str, Any]) -> None:
        body = SignedNote.parse(b["checkpoint"]).checkpoint
        impostor = INTL.signature.generate()
        b["checkpoint"] = sign_checkpoint(Checkpoint(body.origin, body.size, body.root,
                                                     body.extensions),
                                          body.origin, impostor).text()
        b["log_key"] = VerifierKey.for_signer(body.origin, impostor).encode()

    forged = rewrite(bundle, mutate)
    assert _failures(ledger, forged)[0] == (2, "log-key")
    # trusting its own keys, it is only self-consistent
    assert verify_bundle(forged, log_key=None, trust_embedded_keys=True).ok


def test_bundle_of_another_log_refused_when_a_key_is_pinned(
        ledger: Ledger, make_database: Callable[[str], str], database_url: str) -> None:
    other = _other_ledger_bundle(make_database, database_url)
    assert verify_bundle(other, log_key=None, trust_embedded_keys=True).ok
    with pytest.raises(BundleVerificationError) as caught:
        verify_bundle(other, log_key=_log_key(ledger))
    assert caught.value.report.failures[0].check == "log-key"
    assert "refusing a bundle of another log" in str(caught.value)


def test_registry_key_swapped(ledger: Ledger, bundle: bytes) -> None:
    impostor = b64encode(INTL.signature.generate().public_key)

    def swap(b: dict[str, Any]) -> None:
        for item in b["registry"]:
            filing = item["entry"]["filing"]
            if filing["type"] == "KeyRegistered" and filing["payload"]["actor"] == "office-li":
                filing["payload"]["public_key"] = impostor
                _rehash(item)
                return

    failures = _failures(ledger, rewrite(bundle, swap))
    assert failures[0] == (3, "inclusion")
    assert (6, "registry-signature") in failures
    assert (6, "author-signature") in failures  # office-li's opinion no longer verifies


def test_root_key_swapped(ledger: Ledger, bundle: bytes) -> None:
    def swap(b: dict[str, Any]) -> None:
        b["root_key"]["public_key"] = b64encode(INTL.signature.generate().public_key)

    assert _failures(ledger, rewrite(bundle, swap))[0] == (6, "root-key")  # pinned root
    with pytest.raises(BundleVerificationError) as caught:
        verify_bundle(rewrite(bundle, swap), log_key=_log_key(ledger))  # unpinned root
    assert caught.value.report.failures[0].check == "registry-signature"


def test_author_signature_replaced(ledger: Ledger, bundle: bytes) -> None:
    def forge(b: dict[str, Any]) -> None:
        b["entries"][2]["entry"]["signature"] = b["entries"][1]["entry"]["signature"]

    failures = _failures(ledger, rewrite(bundle, forge))
    assert failures[0] == (4, "entry-hash")
    assert (6, "author-signature") in failures


def test_projection_state_edited(ledger: Ledger, bundle: bytes) -> None:
    def edit(b: dict[str, Any]) -> None:
        construction = b["projections"]["eligibility"]["state"]["construction"]
        construction["eligible"] = not construction["eligible"]

    failures = _failures(ledger, rewrite(bundle, edit))
    assert failures == [(8, "projection")]

    def edit_and_rehash(b: dict[str, Any]) -> None:
        edit(b)
        view = b["projections"]["eligibility"]
        view["state_hash"] = INTL.digest(canonical_bytes(view["state"])).hex()

    with pytest.raises(BundleVerificationError) as caught:
        _verify(ledger, rewrite(bundle, edit_and_rehash))
    (failure,) = caught.value.report.failures
    assert (failure.step, failure.check) == (8, "projection")
    assert "recomputed from the entries" in failure.message


def test_evaluation_date_or_calendar_changed(ledger: Ledger, bundle: bytes) -> None:
    def later(b: dict[str, Any]) -> None:
        b["evaluation"]["on"] = "2027-06-30"

    assert (8, "projection") in _failures(ledger, rewrite(bundle, later))

    def calendar(b: dict[str, Any]) -> None:
        b["evaluation"]["calendar"]["years"].pop()

    assert _failures(ledger, rewrite(bundle, calendar)) == [(8, "calendar")]


def test_document_missing_or_altered(ledger: Ledger, bundle: bytes) -> None:
    members = _members(bundle)
    name = next(n for n in members if n.startswith("documents/"))
    missing = {k: v for k, v in members.items() if k != name}
    assert _failures(ledger, _zip(missing)) == [(7, "documents")]
    altered = members | {name: members[name] + b" "}
    assert _failures(ledger, _zip(altered)) == [(7, "documents")]
    unreferenced = members | {"documents/" + "ab" * 32: b"x"}
    assert _failures(ledger, _zip(unreferenced)) == [(7, "documents")]


@pytest.mark.parametrize("defect", ["not_a_zip", "unexpected_member", "float", "extra_key",
                                    "wrong_format", "duplicate_key", "empty_entries"])
def test_malformed_bundles_fail_step_1(ledger: Ledger, bundle: bytes, defect: str) -> None:
    members = _members(bundle)
    text = members["bundle.json"].decode()
    if defect == "not_a_zip":
        data = b"PK\x03\x04 not really"
    elif defect == "unexpected_member":
        data = _zip(members | {"notes.txt": b"hi"})
    elif defect == "float":
        data = _zip(members | {"bundle.json": text.replace('"seq":1,', '"seq":1.0,', 1)
                               .encode()})
    elif defect == "duplicate_key":
        data = _zip(members | {"bundle.json": text.replace(
            '{"checkpoint":', '{"format":"x","checkpoint":', 1).encode()})
    else:
        def mutate(b: dict[str, Any]) -> None:
            if defect == "extra_key":
                b["comment"] = "trust me"
            elif defect == "wrong_format":
                b["format"] = "audit-ledger-evidence/3"
            else:
                b["entries"] = []

        data = rewrite(bundle, mutate)
    assert _failures(ledger, data) == [(1, "format")]


def test_missing_witness_cosignature_fails_when_a_witness_is_required(
        ledger: Ledger, bundle: bytes) -> None:
    witness = VerifierKey.for_signer("audit.example/witness", INTL.signature.generate())
    assert _failures(ledger, bundle, witness_keys=[witness.encode()]) == [(2, "witness")]


def test_witness_quorum_counts_distinct_pinned_witnesses(ledger: Ledger, bundle: bytes) -> None:
    signers = {name: INTL.signature.generate() for name in ("w-a.example", "w-b.example",
                                                             "w-c.example")}
    keys = {name: VerifierKey.for_signer(name, s).encode() for name, s in signers.items()}

    def cosigned_by(*names: str) -> bytes:
        def mutate(b: dict[str, Any]) -> None:
            note = SignedNote.parse(b["checkpoint"])
            for name in names:
                note = note.add_signature(name, signers[name])
            b["checkpoint"] = note.text()
        return rewrite(bundle, mutate)

    two = cosigned_by("w-a.example", "w-b.example")
    pinned = list(keys.values())
    report = _verify(ledger, two, witness_keys=pinned, quorum=2)
    assert report.witnesses_verified == [f"{k.split('+')[0]}+{k.split('+')[1]}"
                                         for k in pinned[:2]]
    assert (report.witness_quorum, len(report.witnesses_pinned)) == (2, 3)
    assert "2 of 3 pinned, 2 required" in report.summary()
    # The same witness given twice counts once; the default quorum is all of them.
    assert _verify(ledger, two, witness_keys=[pinned[0], pinned[0]]).witness_quorum == 1
    with pytest.raises(BundleVerificationError) as caught:
        _verify(ledger, two, witness_keys=pinned)  # all three required
    (failure,) = caught.value.report.failures
    assert (failure.step, failure.check) == (2, "witness")
    assert "cosigned by 2 of the 3 pinned witnesses, 3 required" in failure.message
    assert "signed: w-a.example+" in failure.message
    assert "not signed: w-c.example+" in failure.message
    with pytest.raises(BundleVerificationError, match="0 of the 1 pinned"):
        _verify(ledger, cosigned_by("w-c.example"), witness_keys=[pinned[0]])
    for quorum in (0, 4):
        with pytest.raises(BundleTrustError, match="cannot be met"):
            _verify(ledger, two, witness_keys=pinned, quorum=quorum)
    with pytest.raises(BundleTrustError, match="cannot be met by the 0"):
        _verify(ledger, two, quorum=1)

    def spoil_b(b: dict[str, Any]) -> None:  # w-b's line present but not valid
        note = SignedNote.parse(b["checkpoint"])
        b["checkpoint"] = SignedNote(note.checkpoint, tuple(
            NoteSignature(s.name, s.key_id, bytes([s.signature[0] ^ 1]) + s.signature[1:])
            if s.name == "w-b.example" else s for s in note.signatures)).text()

    failures = _failures(ledger, rewrite(two, spoil_b), witness_keys=pinned[:2], quorum=1)
    assert failures == [(2, "witness")]  # a bad line of a pinned witness fails, quorum or not


# --- the report and the CLI -----------------------------------------------------------------


def test_report_is_bilingual_and_escapes_everything(ledger: Ledger, bundle: bytes) -> None:
    report = _members(bundle)["report.html"].decode()
    for text in ("时间线", "Timeline", "资金拨付资格", "Funding eligibility", "履约义务",
                 "Obligations", "如何验证", "How to verify", "Art. 9", "office-li",
                 "ledger verify-bundle"):
        assert text in report, text
    data = copy.deepcopy(read_bundle_json(bundle))
    data["projections"]["project"]["state"]["title"] = "<script>alert(1)</script>"
    data["entries"][0]["entry"]["filing"]["actor"] = '"><img src=x onerror=alert(1)>'
    hostile = render_report(data)
    assert "<script>" not in hostile
    assert "<img" not in hostile
    assert "&lt;script&gt;" in hostile


def test_cli_export_and_verify_bundle(ledger: Ledger, history: History, database_url: str,
                                      tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"LEDGER_DATABASE_URL": database_url}
    out = tmp_path / "bundle.zip"
    result = runner.invoke(cli_app, ["export", "--project", str(history.stream), "-o", str(out),
                                     "--on", ON.isoformat(), "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["entries"] == 6
    log_key = _log_key(ledger)
    result = runner.invoke(cli_app, ["verify-bundle", str(out), "--log-key", log_key])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("OK")
    result = runner.invoke(cli_app, ["verify-bundle", str(out), "--json"])
    assert result.exit_code == 2  # nothing pinned: refused, saying how to pin
    assert json.loads(result.stdout) == {"ok": False, "kind": "trust",
                                         "error": str(LogKeyNotPinnedError())}
    result = runner.invoke(cli_app, ["verify-bundle", str(out), "--json",
                                     "--trust-embedded-keys"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["checkpoint"]["log_key_pinned"] is False
    assert "warning: --trust-embedded-keys" in result.stderr
    tampered = tmp_path / "tampered.zip"
    tampered.write_bytes(rewrite(out.read_bytes(), lambda b: _edit_payload(b["entries"][1])))
    result = runner.invoke(cli_app, ["verify-bundle", str(tampered), "--log-key", log_key,
                                     "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["failures"][0]["check"] == "entry-hash"
    result = runner.invoke(cli_app, ["verify-bundle", str(tampered), "--log-key", log_key])
    assert result.exit_code == 1
    assert "REJECTED" in result.stderr
    assert "step 4 [entry-hash]" in result.stderr
    assert runner.invoke(cli_app, ["verify-bundle", str(tmp_path / "none.zip"),
                                   "--log-key", log_key]).exit_code == 2


def test_gm_profile_bundle_verifies(database_url: str) -> None:
    gm = Ledger(Settings(database_url=database_url, environment="test", profile="gm"))
    try:
        gm.initialise(profile="gm")
        for content in example_documents().values():
            gm.add_document(content, "text/plain")
        gm.register_actor("edu-wang", Role.UNIT, "edu", "教育和体育部 王")
        stream = gm.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"]).stream
        data = export_bundle(gm, stream, on=ON)
        report = verify_bundle(data, log_key=gm.identity.log_key.encode(),
                               root_key=b64encode(gm.identity.root_public_key))
        assert (report.profile, report.entries) == ("gm", 1)
        forged = rewrite(data, lambda b: _edit_payload_field(b["entries"][0]))
        with pytest.raises(BundleVerificationError) as caught:
            verify_bundle(forged, log_key=gm.identity.log_key.encode())
        assert caught.value.report.failures[0].check == "entry-hash"
    finally:
        gm.close()


def _edit_payload_field(item: dict[str, Any]) -> None:
    item["entry"]["filing"]["payload"]["title"] += "（已改）"


def test_names_json_is_checked_but_optional(ledger: Ledger, bundle: bytes) -> None:
    """The documents' file names are additive: a bundle without names.json verifies as before,
    one naming a document it does not ship or with an unsafe name does not."""
    keys = {"log_key": ledger.identity.log_key.encode(),
            "root_key": b64encode(ledger.identity.root_public_key)}

    def rewritten(names: bytes | None) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(bundle)) as old, zipfile.ZipFile(out, "w") as new:
            for info in old.infolist():
                if info.filename != "names.json":
                    new.writestr(info, old.read(info))
            if names is not None:
                new.writestr("names.json", names)
        return out.getvalue()

    verify_bundle(rewritten(None), **keys)  # as a bundle written before names.json
    with pytest.raises(BundleVerificationError, match="not shipped"):
        verify_bundle(rewritten(json.dumps({"0" * 64: "a.pdf"}).encode()), **keys)
    with pytest.raises(BundleFormatError, match="names two documents"):
        parse_names(json.dumps({"0" * 64: "a.pdf", "1" * 64: "A.PDF"}).encode())
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        shipped = next(n for n in archive.namelist() if n.startswith("documents/"))
    for unsafe in ("../etc/passwd", "a/b.pdf", "", "con:x"):
        with pytest.raises(BundleVerificationError, match="safe file name"):
            verify_bundle(rewritten(json.dumps({shipped[10:]: unsafe}).encode()), **keys)
