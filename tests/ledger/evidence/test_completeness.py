"""Bundles prove completeness (docs/evidence-format.md, Evidence bundle, step 9): a format 2
bundle carries the project's and the registry's heads in the stream heads map at its checkpoint,
and the verifier fails unless each stream in the bundle ends at its committed head, naming what
is missing; format 1 bundles still verify, with a warning. On SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from test_bundle import ON, History, rewrite
from typer.testing import CliRunner

from api.cli import app as cli_app
from ledger.app import Ledger
from ledger.crypto.suites import INTL
from ledger.evidence.bundle import (
    DOCUMENTS_DIR,
    FORMAT,
    FORMAT_V1,
    BundleReport,
    BundleVerificationError,
    pack_bundle,
    read_bundle_json,
    recompute_projections,
    verify_bundle,
)
from ledger.log.canonical import canonical_bytes
from ledger.log.checkpoint import Checkpoint, SignedNote, VerifierKey, sign_checkpoint
from ledger.log.entries import Entry, b64encode
from ledger.log.headmap import checkpoint_extension, heads_root
from ledger.measures.catalogue import documents_referenced, validate_payload
from projections.evidence import export_bundle

# --- helpers -------------------------------------------------------------------------------------


def _keys(ledger: Ledger) -> dict[str, str]:
    return {"log_key": ledger.identity.log_key.encode(),
            "root_key": b64encode(ledger.identity.root_public_key)}


def _verify(ledger: Ledger, data: bytes, **kwargs: Any) -> BundleReport:
    return verify_bundle(data, **_keys(ledger), **kwargs)


def _rejected(ledger: Ledger, data: bytes, **kwargs: Any) -> list[tuple[int, str, str, str]]:
    """Every failure as (step, check, where, message); the bundle must be rejected."""
    with pytest.raises(BundleVerificationError) as caught:
        _verify(ledger, data, **kwargs)
    return [(f.step, f.check, f.where, f.message) for f in caught.value.report.failures]


def _documents(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name[len(DOCUMENTS_DIR):]: archive.read(name) for name in archive.namelist()
                if name.startswith(DOCUMENTS_DIR)}


def _repack(data: bytes, mutate: Callable[[dict[str, Any]], None]) -> bytes:
    """The bundle with ``bundle.json`` mutated, its projections recomputed from the entries left
    and the documents no entry references any more dropped: a careful tamperer, whose only
    trace is what the stream heads show."""
    bundle = read_bundle_json(data)
    mutate(bundle)
    bundle["projections"] = recompute_projections(bundle)
    referenced: set[str] = set()
    for item in bundle["entries"]:
        filing = Entry.parse(canonical_bytes(item["entry"])).filing
        referenced |= set(documents_referenced(validate_payload(filing.type, filing.payload)))
    documents = {name: content for name, content in _documents(data).items()
                 if name in referenced}
    return pack_bundle(bundle, documents)


def _resign_checkpoint(ledger: Ledger, text: str,
                       edit: Callable[[Checkpoint], Checkpoint]) -> str:
    """The checkpoint note with its body edited and signed again with the real log key (a
    complicit log operator)."""
    body = SignedNote.parse(text).checkpoint
    return sign_checkpoint(edit(body), ledger.identity.log_key.name,
                           ledger.custody.signer("log")).text()


def _flip(data: bytes) -> bytes:
    return bytes([data[0] ^ 1]) + data[1:]


# --- a good bundle is complete ---------------------------------------------------------------


def test_a_bundle_is_complete_as_of_its_checkpoint(ledger: Ledger, history: History,
                                                   bundle: bytes) -> None:
    report = _verify(ledger, bundle)
    assert report.format == FORMAT
    assert report.complete
    data = read_bundle_json(bundle)
    last = data["entries"][-1]
    assert report.heads["project"] == {"seq": 6, "entry_hash": last["hash"],
                                       "leaf_index": last["leaf_index"]}
    assert report.heads["registry"] == report.last_entries["registry"]
    # No witness: the time is the newest recorded_at the bundle holds.
    newest = max(i["entry"]["recorded_at"] for i in data["entries"] + data["registry"])
    assert (report.complete_as_of, report.complete_as_of_source) == (newest, "recorded_at")
    assert (f"complete as of checkpoint {report.checkpoint_size} (newest entry recorded"
            f" {newest})") in report.summary()
    completeness = report.to_json()["completeness"]
    assert completeness == {"proven": True, "checkpoint": report.checkpoint_size,
                            "as_of": newest, "as_of_source": "recorded_at",
                            "heads": report.heads}
    assert report.warnings == []


def test_a_cosignature_v1_time_dates_the_completeness(ledger: Ledger, history: History) -> None:
    from ledger.log.checkpoint import cosign_v1, cosignature_verifier_key  # noqa: PLC0415

    stored = ledger.trusted_checkpoint()
    assert stored is not None
    signer = INTL.signature.generate()
    name = "audit.gaoxin.example/witness"
    body = SignedNote.parse(stored.note).checkpoint.body()
    line = cosign_v1(body, name, signer, 1_800_000_000)
    ledger.log.put_cosignature(stored.size, name, line.key_id.hex(), line.line(), ledger.now())
    data = export_bundle(ledger, history.stream, on=ON)
    witness = cosignature_verifier_key(name, signer.public_key).encode()
    report = _verify(ledger, data, witness_keys=[witness])
    assert report.complete_as_of == "2027-01-15T08:00:00.000000Z"
    assert report.complete_as_of_source == "cosignature"
    assert "complete as of checkpoint" in report.summary()
    assert "(cosigned 2027-01-15T08:00:00.000000Z)" in report.summary()
    # A cosignature nobody pinned dates nothing.
    assert _verify(ledger, data).complete_as_of_source == "recorded_at"


# --- what the heads catch ----------------------------------------------------------------------


def test_newest_entries_dropped_with_projections_and_documents_recomputed(
        ledger: Ledger, history: History, bundle: bytes) -> None:
    def drop(b: dict[str, Any]) -> None:
        del b["entries"][-2:]

    failures = _rejected(ledger, _repack(bundle, drop))
    size = _verify(ledger, bundle).checkpoint_size
    assert failures == [(9, "complete", "heads.project",
                         f"project: the bundle ends at seq 4 but checkpoint {size} commits to"
                         " seq 6: entries 5–6 are missing")]

    def drop_one(b: dict[str, Any]) -> None:
        del b["entries"][-1]

    (failure,) = _rejected(ledger, _repack(bundle, drop_one))
    assert failure[3].endswith("commits to seq 6: entry 6 is missing")


def test_the_registrys_trailing_revocation_dropped(ledger: Ledger, history: History) -> None:
    ledger.revoke_key(_key_of(ledger, "audit-sun"), reason="left the office")
    data = export_bundle(ledger, history.stream, on=ON)
    registry = read_bundle_json(data)["registry"]
    assert registry[-1]["entry"]["filing"]["type"] == "KeyRevoked"
    seq = registry[-1]["entry"]["seq"]
    failures = _rejected(ledger, _repack(data, lambda b: b["registry"].pop()))
    size = _verify(ledger, data).checkpoint_size
    assert failures == [(9, "complete", "heads.registry",
                         f"registry: the bundle ends at seq {seq - 1} but checkpoint {size}"
                         f" commits to seq {seq}: entry {seq} is missing")]


def _key_of(ledger: Ledger, actor: str) -> str:
    return next(k.key_id for k in ledger.registry().keys.values() if k.actor == actor)


def test_a_head_proof_for_another_stream(ledger: Ledger, history: History,
                                         bundle: bytes) -> None:
    size = _verify(ledger, bundle).checkpoint_size
    assert size is not None
    head, proof = ledger.proofs.head_proof(history.other, size)
    assert head is not None
    other = {"stream": str(history.other),
             "head": {"seq": head.seq, "entry_hash": head.entry_hash.hex(),
                      "leaf_index": head.leaf_index},
             "proof": {"siblings": [s.hex() for s in proof.siblings], "terminal": None}}

    def swap(b: dict[str, Any]) -> None:
        b["heads"]["project"] = copy.deepcopy(other)

    failures = _rejected(ledger, rewrite(bundle, swap))
    assert failures == [(9, "heads-stream", "heads.project",
                         f"the proof is for stream {history.other}, but the bundle's project"
                         f" stream is {history.stream}")]

    def swap_renamed(b: dict[str, Any]) -> None:  # the other's proof, claimed for this stream
        b["heads"]["project"] = copy.deepcopy(other) | {"stream": str(history.stream)}

    ((step, check, where, message),) = _rejected(ledger, rewrite(bundle, swap_renamed))
    assert (step, check, where) == (9, "heads-proof", "heads.project")
    assert "does not verify against checkpoint" in message
    assert f"stream {history.stream}" in message


def test_a_truncated_head_proof(ledger: Ledger, bundle: bytes) -> None:
    def truncate(b: dict[str, Any]) -> None:
        b["heads"]["project"]["proof"]["siblings"].pop()

    ((step, check, where, _),) = _rejected(ledger, rewrite(bundle, truncate))
    assert (step, check, where) == (9, "heads-proof", "heads.project")

    def wrong_seq(b: dict[str, Any]) -> None:  # the head claimed one further
        b["heads"]["registry"]["head"]["seq"] += 1

    failures = _rejected(ledger, rewrite(bundle, wrong_seq))
    assert [(f[0], f[1], f[2]) for f in failures] == [(9, "heads-proof", "heads.registry")]


def test_a_map_root_edited_in_a_resigned_checkpoint(ledger: Ledger, bundle: bytes) -> None:
    def edit(body: Checkpoint) -> Checkpoint:
        wrong = _flip(heads_root(body.extensions))
        return Checkpoint(body.origin, body.size, body.root, (checkpoint_extension(wrong),))

    def resign(b: dict[str, Any]) -> None:
        b["checkpoint"] = _resign_checkpoint(ledger, b["checkpoint"], edit)

    failures = _rejected(ledger, rewrite(bundle, resign))
    assert [(f[0], f[1], f[2]) for f in failures] == [(9, "heads-proof", "heads.project"),
                                                     (9, "heads-proof", "heads.registry")]
    assert "heads proof for the head gives root" in failures[0][3]

    def drop_line(b: dict[str, Any]) -> None:  # re-signed without its heads line
        b["checkpoint"] = _resign_checkpoint(
            ledger, b["checkpoint"], lambda body: Checkpoint(body.origin, body.size, body.root))

    ((step, check, _, message),) = _rejected(ledger, rewrite(bundle, drop_line))
    assert (step, check) == (9, "heads")
    assert "a format 2 bundle needs a checkpoint that commits to the stream heads" in message

    def impostor(b: dict[str, Any]) -> None:  # re-signed by anyone else: step 2 already
        body = SignedNote.parse(b["checkpoint"]).checkpoint
        b["checkpoint"] = sign_checkpoint(edit(body), body.origin,
                                          INTL.signature.generate()).text()

    assert _rejected(ledger, rewrite(bundle, impostor))[0][:2] == (2, "checkpoint-signature")


def test_malformed_heads_fail_step_1(ledger: Ledger, bundle: bytes) -> None:
    for mutate in (lambda b: b.pop("heads"),
                   lambda b: b["heads"].pop("registry"),
                   lambda b: b["heads"]["project"].update(extra=1),
                   lambda b: b["heads"]["project"]["proof"]["siblings"].append("00"),
                   lambda b: b["heads"]["project"].update(stream="not-a-uuid"),
                   lambda b: b["heads"]["project"]["head"].update(seq=True)):
        failures = _rejected(ledger, rewrite(bundle, mutate))
        assert [(f[0], f[1]) for f in failures] == [(1, "format")], failures


def test_a_format_1_bundle_verifies_with_a_warning(ledger: Ledger, bundle: bytes) -> None:
    def downgrade(b: dict[str, Any]) -> None:
        b["format"] = FORMAT_V1
        del b["heads"]

    report = _verify(ledger, rewrite(bundle, downgrade))
    assert report.format == FORMAT_V1
    assert not report.complete
    (warning,) = report.warnings
    assert warning.startswith("format 1 bundle: completeness is not proven although its"
                              " checkpoint commits to the stream heads")
    assert "warning: format 1 bundle: completeness is not proven" in report.summary()
    assert report.to_json()["completeness"]["proven"] is False
    # A format 1 bundle with the heads member is malformed, and the other way round.
    assert _rejected(ledger, rewrite(bundle, lambda b: b.update(format=FORMAT_V1)))[0][:2] == (
        1, "format")


def test_a_rollback_to_an_older_checkpoint_verifies_offline_but_not_with_a_witness(
        ledger: Ledger, history: History) -> None:
    """Proofs recomputed against an older (real, signed) checkpoint: offline it is a complete
    bundle of that checkpoint; a pinned witness that cosigned only the newer one refuses it,
    and so does ``--online`` (test_freshness.py)."""
    stored = ledger.trusted_checkpoint()
    assert stored is not None
    name, signer = "audit.gaoxin.example/witness", INTL.signature.generate()
    line = SignedNote.parse(stored.note).add_signature(name, signer).signatures[-1]
    ledger.log.put_cosignature(stored.size, name, line.key_id.hex(), line.line(), ledger.now())
    witness = VerifierKey.for_signer(name, signer).encode()
    current = export_bundle(ledger, history.stream, on=ON)
    assert _verify(ledger, current, witness_keys=[witness]).witnesses_verified
    rolled = rolled_back(ledger, history, current)
    report = _verify(ledger, rolled)
    assert report.complete
    assert report.entries == 3
    assert report.checkpoint_size is not None
    assert report.checkpoint_size < stored.size
    failures = _rejected(ledger, rolled, witness_keys=[witness])
    assert [(f[0], f[1]) for f in failures] == [(2, "witness")]
    assert "cosigned by 0 of the 1 pinned witnesses" in failures[0][3]


def rolled_back(ledger: Ledger, history: History, current: bytes) -> bytes:
    """``current`` rolled back to the checkpoint known after the project's seq 3: entries,
    inclusion and head proofs and projections all recomputed against that older, really
    signed checkpoint (the log's own answers), but dated as ``current`` was exported."""
    older = export_bundle(ledger, history.stream, as_known_at=history.times[2], on=ON)

    def undate(b: dict[str, Any]) -> None:
        b["evaluation"]["as_known_at"] = None
        b["exported_at"] = read_bundle_json(current)["exported_at"]

    return _repack(older, undate)


# --- the CLI -----------------------------------------------------------------------------------


def test_verify_bundle_json_reports_completeness(ledger: Ledger, bundle: bytes,
                                                 tmp_path: Any) -> None:
    path = tmp_path / "bundle.zip"
    path.write_bytes(bundle)
    runner = CliRunner()
    key = _keys(ledger)["log_key"]
    result = runner.invoke(cli_app, ["verify-bundle", str(path), "--log-key", key, "--json"])
    assert result.exit_code == 0, result.output
    completeness = json.loads(result.stdout)["completeness"]
    assert completeness["proven"] is True
    assert completeness["heads"]["project"]["seq"] == 6
    result = runner.invoke(cli_app, ["verify-bundle", str(path), "--log-key", key])
    assert "complete as of checkpoint" in result.stdout
    dropped = tmp_path / "dropped.zip"
    dropped.write_bytes(_repack(bundle, lambda b: b["entries"].pop()))
    result = runner.invoke(cli_app, ["verify-bundle", str(dropped), "--log-key", key])
    assert result.exit_code == 1
    assert "step 9 [complete] heads.project: project: the bundle ends at seq 5" in result.stderr
    assert "Traceback" not in result.output
    result = runner.invoke(cli_app, ["verify-bundle", str(dropped), "--log-key", key, "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["failures"][0]["check"] == "complete"


def test_an_export_against_a_checkpoint_without_heads_is_format_1(
        ledger: Ledger, history: History, database_url: str) -> None:
    """A checkpoint signed before the database's map started has no heads line: the bundle
    proven against it is format 1 and says completeness is not proven."""
    from tampering import Tamperer  # noqa: PLC0415

    stored = ledger.trusted_checkpoint()
    assert stored is not None
    tamper = Tamperer(database_url, ledger.identity.profile)
    # Play an old checkpoint: the same body without its heads line, really signed.
    text = _resign_checkpoint(ledger, stored.note,
                              lambda body: Checkpoint(body.origin, body.size, body.root))
    tamper._execute("UPDATE log_checkpoints SET note = ? WHERE size = ?", (text, stored.size))
    ledger.proofs._trusted = None  # the process re-reads and re-checks the checkpoint
    data = export_bundle(ledger, history.stream, on=ON)
    report = _verify(ledger, data)
    assert report.format == FORMAT_V1
    assert "heads" not in read_bundle_json(data)
    assert report.warnings[0].startswith("format 1 bundle: completeness is not proven;")
