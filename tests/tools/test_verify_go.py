"""verify-go (tools/verify-go): the second, independent verifier of evidence bundles, in Go.

The tool is built once per session with ``tools/verify-go/build.sh`` (Debian's ``golang-go`` and
``golang-golang-x-mod-dev``, offline). Without that toolchain these tests skip, saying why;
under CI (``CI=true``) a missing toolchain is a failure. Bundles are made by our own Python code
(the fixtures of tests/ledger/evidence/test_bundle.py) and checked by both verifiers: a good
bundle passes both, and each tampered bundle fails in Go with the same first (step, check) as in
``ledger.evidence.bundle.verify_bundle`` and the same set of failed checks, leaving out what
verify-go does not check (step 8, the projections; role authority). If the tamper corpus
tests/vectors/evidence/ exists, verify-go's verdicts on its intl bundles are compared too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from test_bundle import History, _edit_payload, _members, _rehash, _zip, rewrite
from test_canonical import SORTING_INPUT, STRING_INPUT, STRING_OUTPUT, json_values

from ledger.app import Ledger
from ledger.crypto.suites import INTL, Signer
from ledger.evidence.bundle import BundleVerificationError, read_bundle_json, verify_bundle
from ledger.log.canonical import canonical_bytes
from ledger.log.checkpoint import Checkpoint, SignedNote, VerifierKey, sign_checkpoint
from ledger.log.entries import Entry, b64encode
from ledger.measures.catalogue import EXAMPLES, documents_referenced, spec_for, validate_payload

GO_DIR = Path(__file__).resolve().parents[2] / "tools" / "verify-go"
CORPUS = Path(__file__).resolve().parents[1] / "vectors" / "evidence"
_FAILURE_LINE = re.compile(r"^  step (\d+) \[([a-z-]+)\]", re.MULTILINE)
_HEX64 = re.compile(r"[0-9a-f]{64}")
_names = count()

Failure = tuple[int, str]


def _not_checked_in_go(failure: Failure) -> bool:
    """What ``ledger verify-bundle`` checks and verify-go does not (tools/verify-go/README.md)."""
    step, check = failure
    return step == 8 or check == "authority"


@dataclass(frozen=True)
class GoRun:
    """One run of verify-go: exit status, output, and the (step, check) of each failure."""

    code: int
    stdout: str
    stderr: str

    @property
    def failures(self) -> list[Failure]:
        return [(int(step), check) for step, check in _FAILURE_LINE.findall(self.stderr)]

    def __str__(self) -> str:
        return f"exit {self.code}\n{self.stdout}{self.stderr}"


def run_go(binary: Path, data: bytes, directory: Path, *args: str) -> GoRun:
    path = directory / f"bundle-{next(_names)}.zip"
    path.write_bytes(data)
    result = subprocess.run([str(binary), *args, str(path)], capture_output=True, text=True,
                            check=False, timeout=120)
    return GoRun(result.returncode, result.stdout, result.stderr)


def _log_key(ledger: Ledger) -> str:
    return ledger.identity.log_key.encode()


def _root_key(ledger: Ledger) -> str:
    return b64encode(ledger.identity.root_public_key)


def _pins(ledger: Ledger) -> list[str]:
    return ["-log-key", _log_key(ledger), "-root-key", _root_key(ledger)]


def python_failures(data: bytes, **trust: Any) -> list[Failure]:
    """The (step, check) of each failure ``verify_bundle`` reports; empty if it verifies."""
    try:
        verify_bundle(data, **trust)
    except BundleVerificationError as exc:
        return [(f.step, f.check) for f in exc.report.failures]
    return []


# --- a good bundle --------------------------------------------------------------------------


def test_a_good_bundle_passes_both_verifiers(verify_go: Path, ledger: Ledger, history: History,
                                             bundle: bytes, tmp_path: Path) -> None:
    assert verify_bundle(bundle, log_key=_log_key(ledger), root_key=_root_key(ledger)).ok
    go = run_go(verify_go, bundle, tmp_path, *_pins(ledger))
    assert go.code == 0, go
    assert go.stdout.startswith(
        f"OK: project {history.stream} on log {ledger.identity.origin} (intl)"), go
    data = read_bundle_json(bundle)
    registry = len(data["registry"])
    assert f"6 project entries (seq 1–6) and {registry} registry entries" in go.stdout
    assert f"{6 + registry} Ed25519 signatures verified" in go.stdout
    name_and_id = "+".join(_log_key(ledger).split("+", 2)[:2])  # the base64 may hold a '+'
    assert f"signed by log key {name_and_id} (pinned)" in go.stdout
    assert "registry by root key" in go.stdout
    assert "(pinned)" in go.stdout.split("registry by root key")[1]
    assert "edu-wang ×3; finance-zhao ×2; office-li ×1" in go.stdout
    assert "not checked by verify-go: step 8" in go.stdout
    assert go.stderr == ""


def test_trust_anchors_fail_closed(verify_go: Path, ledger: Ledger, bundle: bytes,
                                   tmp_path: Path) -> None:
    unpinned = run_go(verify_go, bundle, tmp_path)
    assert unpinned.code == 2
    assert "no log key pinned" in unpinned.stderr
    embedded = run_go(verify_go, bundle, tmp_path, "-trust-embedded-keys")
    assert embedded.code == 0, embedded
    assert "NOT pinned" in embedded.stdout
    assert "warning: -trust-embedded-keys" in embedded.stderr
    both = run_go(verify_go, bundle, tmp_path, "-trust-embedded-keys", "-log-key",
                  _log_key(ledger))
    assert both.code == 2
    malformed = run_go(verify_go, bundle, tmp_path, "-log-key", _log_key(ledger)[:-2] + "A=")
    assert (malformed.code, "the pinned log key is malformed" in malformed.stderr) == (2, True)
    quorum = run_go(verify_go, bundle, tmp_path, "-log-key", _log_key(ledger), "-quorum", "1")
    assert (quorum.code, "cannot be met by the 0" in quorum.stderr) == (2, True)
    missing = subprocess.run([str(verify_go), "-log-key", _log_key(ledger),
                              str(tmp_path / "none.zip")], capture_output=True, check=False)
    assert missing.returncode == 2


def test_another_logs_key_or_root_key_pinned(verify_go: Path, ledger: Ledger, bundle: bytes,
                                            tmp_path: Path) -> None:
    other = VerifierKey.for_signer(ledger.identity.origin, INTL.signature.generate()).encode()
    go = run_go(verify_go, bundle, tmp_path, "-log-key", other)
    assert go.code == 1
    assert go.failures == python_failures(bundle, log_key=other) == [
        (2, "log-key"), (2, "checkpoint-signature")]
    assert "refusing a bundle of another log" in go.stderr
    root = b64encode(INTL.signature.generate().public_key)
    go = run_go(verify_go, bundle, tmp_path, "-log-key", _log_key(ledger), "-root-key", root)
    expected = python_failures(bundle, log_key=_log_key(ledger), root_key=root)
    assert go.failures == [f for f in expected if not _not_checked_in_go(f)]
    assert go.failures[0] == (6, "root-key")


def test_profile_gm_is_not_verified_by_this_tool(verify_go: Path, ledger: Ledger,
                                                 bundle: bytes, tmp_path: Path) -> None:
    relabelled = rewrite(bundle, lambda b: b.update(profile="gm"))
    # Not a bundle of the pinned (Ed25519) log: rejected, as Python rejects it first.
    go = run_go(verify_go, relabelled, tmp_path, *_pins(ledger))
    python = python_failures(relabelled, log_key=_log_key(ledger), root_key=_root_key(ledger))
    assert go.failures == [python[0]] == [(2, "log-key")], go
    # Unpinned, it could be any gm bundle: this tool cannot tell (exit 2).
    go = run_go(verify_go, relabelled, tmp_path, "-trust-embedded-keys")
    assert go.code == 2
    assert "profile gm" in go.stderr


# --- tampered bundles: rejected in Go for the reason Python gives ------------------------------

Tamper = Callable[[Ledger, bytes], bytes]


def _edit_an_entry(ledger: Ledger, data: bytes) -> bytes:
    return rewrite(data, lambda b: _edit_payload(b["entries"][1]))


def _resign(item: dict[str, Any], signer: Signer) -> None:
    filing = Entry.parse(canonical_bytes(item["entry"])).filing
    item["entry"]["signature"] = b64encode(signer.sign(filing.signing_bytes()))
    _rehash(item)


def _resign_by_an_unregistered_key(ledger: Ledger, data: bytes) -> bytes:
    impostor = INTL.signature.generate()
    return rewrite(data, lambda b: _resign(b["entries"][2], impostor))


def _resign_by_another_actors_key(ledger: Ledger, data: bytes) -> bytes:
    def mutate(b: dict[str, Any]) -> None:
        key_id = next(i["entry"]["filing"]["payload"]["key_id"] for i in b["registry"]
                      if i["entry"]["filing"]["type"] == "KeyRegistered"
                      and i["entry"]["filing"]["payload"]["actor"] == "office-li")
        item = b["entries"][3]  # edu-wang's ContractFiled, now under office-li's key
        item["entry"]["filing"]["key"] = key_id
        _resign(item, ledger.custody.signer(key_id))

    return rewrite(data, mutate)


def _edit_and_resign_by_the_author(ledger: Ledger, data: bytes) -> bytes:
    def mutate(b: dict[str, Any]) -> None:
        _edit_payload(b["entries"][1])
        key_id = b["entries"][1]["entry"]["filing"]["key"]
        _resign(b["entries"][1], ledger.custody.signer(key_id))

    return rewrite(data, mutate)


def _chain_gap(ledger: Ledger, data: bytes) -> bytes:
    return rewrite(data, lambda b: b["entries"].pop(2))


def _entries_reordered(ledger: Ledger, data: bytes) -> bytes:
    def mutate(b: dict[str, Any]) -> None:
        b["entries"][1], b["entries"][2] = b["entries"][2], b["entries"][1]

    return rewrite(data, mutate)


def _proof_node_changed(ledger: Ledger, data: bytes) -> bytes:
    def mutate(b: dict[str, Any]) -> None:
        proof = b["entries"][0]["inclusion_proof"]
        proof[1] = ("0" if proof[1][0] != "0" else "1") + proof[1][1:]

    return rewrite(data, mutate)


def _proof_truncated(ledger: Ledger, data: bytes) -> bytes:
    return rewrite(data, lambda b: b["entries"][0]["inclusion_proof"].pop())


def _leaf_index_changed(ledger: Ledger, data: bytes) -> bytes:
    def mutate(b: dict[str, Any]) -> None:
        b["entries"][0]["leaf_index"] += 1

    return rewrite(data, mutate)


def _recorded_at_moved(ledger: Ledger, data: bytes) -> bytes:
    def mutate(b: dict[str, Any]) -> None:
        b["entries"][3]["entry"]["recorded_at"] = b["entries"][0]["entry"]["recorded_at"]
        _rehash(b["entries"][3])

    return rewrite(data, mutate)


def _checkpoint_by_another_key(ledger: Ledger, data: bytes) -> bytes:
    """Re-signed by an impostor who also swaps the bundle's log_key for its own."""
    def mutate(b: dict[str, Any]) -> None:
        body = SignedNote.parse(b["checkpoint"]).checkpoint
        impostor = INTL.signature.generate()
        b["checkpoint"] = sign_checkpoint(Checkpoint(body.origin, body.size, body.root),
                                          body.origin, impostor).text()
        b["log_key"] = VerifierKey.for_signer(body.origin, impostor).encode()

    return rewrite(data, mutate)


def _checkpoint_resigned_only(ledger: Ledger, data: bytes) -> bytes:
    def mutate(b: dict[str, Any]) -> None:
        body = SignedNote.parse(b["checkpoint"]).checkpoint
        b["checkpoint"] = sign_checkpoint(body, body.origin, INTL.signature.generate()).text()

    return rewrite(data, mutate)


def _checkpoint_root_changed(ledger: Ledger, data: bytes) -> bytes:
    def mutate(b: dict[str, Any]) -> None:
        root = SignedNote.parse(b["checkpoint"]).checkpoint.root
        forged = bytes([root[0] ^ 1]) + root[1:]
        b["checkpoint"] = b["checkpoint"].replace(b64encode(root), b64encode(forged), 1)

    return rewrite(data, mutate)


def _registry_key_swapped(ledger: Ledger, data: bytes) -> bytes:
    def mutate(b: dict[str, Any]) -> None:
        for item in b["registry"]:
            filing = item["entry"]["filing"]
            if filing["type"] == "KeyRegistered" and filing["payload"]["actor"] == "office-li":
                filing["payload"]["public_key"] = b64encode(INTL.signature.generate().public_key)
                _rehash(item)
                return

    return rewrite(data, mutate)


def _document_swapped(ledger: Ledger, data: bytes) -> bytes:
    members = _members(data)
    first, second = sorted(n for n in members if n.startswith("documents/"))[:2]
    return _zip(members | {first: members[second]})


def _document_replaced_under_its_own_name(ledger: Ledger, data: bytes) -> bytes:
    members = _members(data)
    name = next(n for n in members if n.startswith("documents/"))
    forged = members.pop(name) + b" (amended)"
    return _zip(members | {f"documents/{hashlib.sha256(forged).hexdigest()}": forged})


def _names_with_a_path(ledger: Ledger, data: bytes) -> bytes:
    """names.json giving a document a name with a path in it."""
    members = _members(data)
    sha = next(n for n in members if n.startswith("documents/")).removeprefix("documents/")
    return _zip(members | {"names.json": json.dumps({sha: "../etc/passwd"}).encode()})


def _names_of_an_unshipped_document(ledger: Ledger, data: bytes) -> bytes:
    """names.json naming a document that is neither shipped nor referenced."""
    return _zip(_members(data) | {"names.json": json.dumps({"ab" * 32: "x.pdf"}).encode()})


def _member_added(ledger: Ledger, data: bytes) -> bytes:
    return _zip(_members(data) | {"notes.txt": b"trust me"})


def _registry_tail_dropped(ledger: Ledger, data: bytes) -> bytes:
    """The registry's newest entry (audit-sun's key, which signed nothing) left out."""
    return rewrite(data, lambda b: b["registry"].pop())


def _head_proof_of_another_stream(ledger: Ledger, data: bytes) -> bytes:
    def mutate(b: dict[str, Any]) -> None:
        b["heads"]["project"] = b["heads"]["registry"]

    return rewrite(data, mutate)


def _head_proof_truncated(ledger: Ledger, data: bytes) -> bytes:
    return rewrite(data, lambda b: b["heads"]["project"]["proof"]["siblings"].pop())


def _heads_removed(ledger: Ledger, data: bytes) -> bytes:
    return rewrite(data, lambda b: b.pop("heads"))


def _heads_line_dropped_and_resigned(ledger: Ledger, data: bytes) -> bytes:
    """The checkpoint signed again by the real log key without its heads line."""
    def mutate(b: dict[str, Any]) -> None:
        body = SignedNote.parse(b["checkpoint"]).checkpoint
        b["checkpoint"] = sign_checkpoint(Checkpoint(body.origin, body.size, body.root),
                                          body.origin, ledger.custody.signer("log")).text()

    return rewrite(data, mutate)


def _float_in_bundle_json(ledger: Ledger, data: bytes) -> bytes:
    members = _members(data)
    text = members["bundle.json"].decode().replace('"seq":1,', '"seq":1.0,', 1)
    return _zip(members | {"bundle.json": text.encode()})


TAMPERS: list[tuple[str, Tamper, Failure]] = [
    ("an entry changed", _edit_an_entry, (4, "entry-hash")),
    ("an entry re-signed by an unregistered key", _resign_by_an_unregistered_key,
     (3, "inclusion")),
    ("an entry re-signed by another actor's key", _resign_by_another_actors_key,
     (3, "inclusion")),
    ("an entry changed and re-signed by its author", _edit_and_resign_by_the_author,
     (3, "inclusion")),
    ("a chain gap", _chain_gap, (5, "chain")),
    ("entries reordered", _entries_reordered, (5, "chain")),
    ("a bad inclusion proof", _proof_node_changed, (3, "inclusion")),
    ("a truncated inclusion proof", _proof_truncated, (3, "inclusion")),
    ("a leaf index changed", _leaf_index_changed, (3, "inclusion")),
    ("recorded_at moved", _recorded_at_moved, (3, "inclusion")),
    ("a checkpoint signed by another key", _checkpoint_by_another_key, (2, "log-key")),
    ("a checkpoint re-signed by another key", _checkpoint_resigned_only,
     (2, "checkpoint-signature")),
    ("a checkpoint root changed", _checkpoint_root_changed, (2, "checkpoint-signature")),
    ("a registry key swapped", _registry_key_swapped, (3, "inclusion")),
    ("a document swapped", _document_swapped, (7, "documents")),
    ("a document replaced", _document_replaced_under_its_own_name, (7, "documents")),
    ("a zip member added", _member_added, (1, "format")),
    ("names.json with a path", _names_with_a_path, (1, "format")),
    ("names.json naming no document", _names_of_an_unshipped_document, (7, "documents")),
    ("a float in bundle.json", _float_in_bundle_json, (1, "format")),
    ("the registry's newest entry dropped", _registry_tail_dropped, (9, "complete")),
    ("a head proof of another stream", _head_proof_of_another_stream, (9, "heads-stream")),
    ("a truncated head proof", _head_proof_truncated, (9, "heads-proof")),
    ("the heads member removed", _heads_removed, (1, "format")),
    ("the heads line dropped, re-signed by the log", _heads_line_dropped_and_resigned,
     (9, "heads")),
]


@pytest.mark.parametrize(("tamper", "first"), [(t, f) for _, t, f in TAMPERS],
                         ids=[name for name, _, _ in TAMPERS])
def test_a_tampered_bundle_fails_in_go_too(verify_go: Path, ledger: Ledger, bundle: bytes,
                                           tmp_path: Path, tamper: Tamper,
                                           first: Failure) -> None:
    forged = tamper(ledger, bundle)
    python = python_failures(forged, log_key=_log_key(ledger), root_key=_root_key(ledger))
    go = run_go(verify_go, forged, tmp_path, *_pins(ledger))
    assert go.code == 1, go
    assert go.stderr.startswith("REJECTED:"), go
    assert python[0] == first
    assert go.failures[0] == first, go
    # Every failure, in order, as Python reports it (leaving out what verify-go does not check).
    assert go.failures == [f for f in python if not _not_checked_in_go(f)], go


def test_which_failures_name_what(verify_go: Path, ledger: Ledger, bundle: bytes,
                                  tmp_path: Path) -> None:
    """The messages say what happened, as ``ledger verify-bundle`` does."""
    def go(tamper: Tamper) -> str:
        return run_go(verify_go, tamper(ledger, bundle), tmp_path, *_pins(ledger)).stderr

    assert "(the entry was edited)" in go(_edit_an_entry)
    assert re.search(r"entries\[1\] \(leaf \d+ seq 2\): the ReviewOpinionIssued signature by"
                     r" 'office-li' \(key 'office-li:[0-9a-f]{12}'\) does not verify",
                     go(_edit_an_entry).replace('"', "'"))
    assert "is \"office-li\"'s, not \"edu-wang\"'s" in go(_resign_by_another_actors_key)
    assert "entries missing, added or reordered" in go(_chain_gap)
    assert "does not hash to its name (the document was altered)" in go(_document_swapped)
    assert "is referenced but not shipped" in go(_document_replaced_under_its_own_name)
    assert "unexpected zip member \"notes.txt\"" in go(_member_added)
    assert "a float" in go(_float_in_bundle_json)
    assert re.search(r"step 9 \[complete\] heads.registry: registry: the bundle ends at seq"
                     r" (\d+) but checkpoint \d+ commits to seq \d+: entry \d+ is missing",
                     go(_registry_tail_dropped))


def test_completeness_and_format_1_in_go(verify_go: Path, ledger: Ledger, bundle: bytes,
                                         tmp_path: Path) -> None:
    """A format 2 bundle is complete as of its checkpoint in both verifiers; a format 1 bundle
    verifies in both, with the warning that completeness is not proven."""
    report = verify_bundle(bundle, log_key=_log_key(ledger), root_key=_root_key(ledger))
    go = run_go(verify_go, bundle, tmp_path, *_pins(ledger))
    assert go.code == 0, go
    assert (f"complete as of checkpoint {report.checkpoint_size} (newest entry recorded"
            f" {report.complete_as_of}): each stream ends at its head in the stream heads map"
            " (project head seq 6; registry head seq") in go.stdout

    def downgrade(b: dict[str, Any]) -> None:
        b["format"] = "audit-ledger-evidence/1"
        del b["heads"]

    old = rewrite(bundle, downgrade)
    (warning,) = verify_bundle(old, log_key=_log_key(ledger)).warnings
    go = run_go(verify_go, old, tmp_path, *_pins(ledger))
    assert go.code == 0, go
    assert f"warning: {warning}\n" in go.stdout
    assert "complete as of" not in go.stdout


# --- witnesses ----------------------------------------------------------------------------------


def _with_line(data: bytes, line: Callable[[bytes], str]) -> bytes:
    """The bundle whose checkpoint note has one more signature line, made from its body."""
    def mutate(b: dict[str, Any]) -> None:
        body = SignedNote.parse(b["checkpoint"]).checkpoint.body()
        b["checkpoint"] += line(body)

    return rewrite(data, mutate)


def _ed25519_line(name: str, signer: Signer) -> Callable[[bytes], str]:
    key_id = VerifierKey.for_signer(name, signer).key_id
    return lambda body: f"— {name} {b64encode(key_id + signer.sign(body))}\n"


def _cosignature_v1(name: str, signer: Signer, timestamp: int,
                    claimed: int | None = None) -> tuple[str, Callable[[bytes], str]]:
    """A c2sp.org/tlog-cosignature Ed25519 key (type 0x04) and its line for a note body."""
    typed = b"\x04" + signer.public_key
    key_id = hashlib.sha256(name.encode() + b"\n" + typed).digest()[:4]
    vkey = f"{name}+{key_id.hex()}+{base64.b64encode(typed).decode()}"

    def line(body: bytes) -> str:
        message = b"cosignature/v1\ntime %d\n" % timestamp + body
        shown = timestamp if claimed is None else claimed
        raw = key_id + shown.to_bytes(8, "big") + signer.sign(message)
        return f"— {name} {b64encode(raw)}\n"

    return vkey, line


def test_witness_cosignatures(verify_go: Path, ledger: Ledger, bundle: bytes,
                              tmp_path: Path) -> None:
    sun, qian = INTL.signature.generate(), INTL.signature.generate()
    sun_key = VerifierKey.for_signer("audit.example/sun", sun).encode()
    qian_key = VerifierKey.for_signer("audit.example/qian", qian).encode()
    cosigned = _with_line(bundle, _ed25519_line("audit.example/sun", sun))
    pins = [*_pins(ledger), "-witness-key", sun_key]
    assert python_failures(cosigned, log_key=_log_key(ledger), witness_keys=[sun_key]) == []
    go = run_go(verify_go, cosigned, tmp_path, *pins)
    assert go.code == 0, go
    assert "cosigned by witness(es): audit.example/sun+" in go.stdout
    assert "(1 of 1 pinned, 1 required)" in go.stdout
    # A second pinned witness that did not cosign: all are required by default, or -quorum 1.
    both = [*pins, "-witness-key", qian_key]
    go = run_go(verify_go, cosigned, tmp_path, *both)
    python = python_failures(cosigned, log_key=_log_key(ledger),
                             witness_keys=[sun_key, qian_key])
    assert go.failures == python == [(2, "witness")], go
    assert run_go(verify_go, cosigned, tmp_path, *both, "-quorum", "1").code == 0
    # A pinned witness's line that does not verify fails whatever the quorum.
    sun_id = VerifierKey.for_signer("audit.example/sun", sun).key_id

    def bad_sun_line(body: bytes) -> str:
        return f"— audit.example/sun {b64encode(sun_id + qian.sign(body))}\n"

    forged = _with_line(bundle, bad_sun_line)
    go = run_go(verify_go, forged, tmp_path, *both, "-quorum", "1")
    python = python_failures(forged, log_key=_log_key(ledger), witness_keys=[sun_key, qian_key],
                             quorum=1)
    assert go.failures == python == [(2, "witness"), (2, "witness")], go
    assert "by pinned witness audit.example/sun+" in go.stderr


def test_cosignature_v1_witness_lines(verify_go: Path, ledger: Ledger, bundle: bytes,
                                      tmp_path: Path) -> None:
    """C2SP tlog-cosignature (type 0x04), which x/mod's note package does not know: verify-go
    checks it when its key is pinned; ledger verify-bundle lists it as not checked."""
    witness = INTL.signature.generate()
    vkey, line = _cosignature_v1("witness.example/w1", witness, 1_790_000_000)
    cosigned = _with_line(bundle, line)
    assert python_failures(cosigned, log_key=_log_key(ledger)) == []
    go = run_go(verify_go, cosigned, tmp_path, *_pins(ledger), "-witness-key", vkey)
    assert go.code == 0, go
    assert "cosigned by witness(es): witness.example/w1+" in go.stdout
    unpinned = run_go(verify_go, cosigned, tmp_path, *_pins(ledger))
    assert "not checked): witness.example/w1+" in unpinned.stdout
    _, lying = _cosignature_v1("witness.example/w1", witness, 1_790_000_000, claimed=1_790_000_001)
    go = run_go(verify_go, _with_line(bundle, lying), tmp_path, *_pins(ledger),
                "-witness-key", vkey)
    assert go.failures == [(2, "witness"), (2, "witness")], go


# --- JCS (RFC 8785) -------------------------------------------------------------------------------


def go_jcs(binary: Path, text: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(binary), "-jcs"], input=text, capture_output=True, check=False,
                          timeout=60)


def test_jcs_rfc8785_vectors(verify_go: Path) -> None:
    sorted_out = go_jcs(verify_go, SORTING_INPUT.encode())
    assert sorted_out.stdout == rfc8785.dumps(json.loads(SORTING_INPUT)), sorted_out.stderr
    assert go_jcs(verify_go, STRING_INPUT.encode()).stdout.decode() == STRING_OUTPUT


@pytest.mark.parametrize("text", ["1.5", "[0.0]", "1e3", "9007199254740992",
                                  "-9007199254740992", '"\\ud800"', '{"a":1,"a":2}', "NaN",
                                  "[1,]", "\ufeff{}", "[" * 65 + "]" * 65])
def test_jcs_refuses_what_the_format_cannot_hold(verify_go: Path, text: str) -> None:
    result = go_jcs(verify_go, text.encode())
    assert result.returncode == 1, result.stdout


@settings(max_examples=120, deadline=None)
@given(json_values)
def test_jcs_equals_the_rfc8785_library(verify_go: Path, value: object) -> None:
    expected = rfc8785.dumps(value)  # type: ignore[arg-type]
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False, indent=1)):
        result = go_jcs(verify_go, text.encode())
        assert result.stdout == expected, (text, result.stderr)


def test_jcs_of_a_real_bundle_json_is_itself(verify_go: Path, bundle: bytes) -> None:
    data = _members(bundle)["bundle.json"]
    assert go_jcs(verify_go, data).stdout == data
    pretty = json.dumps(json.loads(data), indent=2, ensure_ascii=True).encode()
    assert go_jcs(verify_go, pretty).stdout == data


# --- the Go sources ---------------------------------------------------------------------------


def test_go_sources_are_gofmt_clean_vetted_and_unit_tested(verify_go: Path) -> None:
    env = {"GOPROXY": "off", "GOFLAGS": "-mod=readonly -buildvcs=false", "GOTOOLCHAIN": "local"}
    unformatted = subprocess.run(["gofmt", "-l", "."], cwd=GO_DIR, capture_output=True,
                                 text=True, check=False)
    assert (unformatted.returncode, unformatted.stdout) == (0, ""), unformatted.stderr
    for command in (["go", "vet", "."], ["go", "test", "-count=1", "."]):
        result = subprocess.run(command, cwd=GO_DIR, capture_output=True, text=True,
                                check=False, timeout=900, env=_go_env(env))
        assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}{result.stderr}"


def _go_env(extra: dict[str, str]) -> dict[str, str]:
    env = {**os.environ, **extra}
    if not env.get("GOCACHE") and not env.get("HOME") and not env.get("XDG_CACHE_HOME"):
        env["GOCACHE"] = "/tmp/verify-go-gocache"  # as build.sh does
    return env


def test_hex_strings_of_payloads_are_exactly_their_documents() -> None:
    """verify-go takes every 64-hex string of a project payload for a document reference
    (it has no catalogue); the catalogue's only such type is DocumentRef: on every example."""
    def strings(value: object) -> set[str]:
        if isinstance(value, str):
            return {value} if _HEX64.fullmatch(value) else set()
        if isinstance(value, dict):
            return set().union(*map(strings, value.values()))
        if isinstance(value, list):
            return set().union(*map(strings, value))
        return set()

    for event_type, payload in sorted(EXAMPLES.items()):
        if spec_for(event_type).stream != "project":
            continue
        model = validate_payload(event_type, payload)
        assert strings(payload) == set(documents_referenced(model)), event_type


# --- the tamper corpus (tests/vectors/evidence), once it exists --------------------------------


def _go_args(trust: dict[str, Any]) -> list[str]:
    """verify-go's flags for a trust file (docs/evidence-format.md, *Trust file*)."""
    args = ["-log-key", trust["log_key"]]
    if trust.get("root_key"):
        args += ["-root-key", trust["root_key"]]
    for key in trust.get("witness_keys", []):
        args += ["-witness-key", key]
    if trust.get("quorum") is not None:
        args += ["-quorum", str(trust["quorum"])]
    return args


@pytest.mark.skipif(not CORPUS.is_dir(), reason="no tamper corpus yet (tests/vectors/evidence)")
def test_go_verdicts_match_the_tamper_corpus(verify_go: Path, tmp_path: Path) -> None:
    """tests/vectors/evidence/README.md: every ``ok`` file verifies, every other file is
    rejected, and (check names being shared) the first failure is the expected (step, check).
    verify-go accepts the files whose defect only step 8 or the role check can see, saying what
    it did not check, and refuses the gm files as not verifiable here (exit 2)."""
    assert (CORPUS / "expected.json").is_file(), "tests/vectors/evidence has no expected.json"
    expected = json.loads((CORPUS / "expected.json").read_text("utf-8"))
    vectors: dict[str, dict[str, Any]] = expected["vectors"]
    mismatches, checked = [], 0
    for name, spec in sorted(vectors.items()):
        trust_name = spec["trust"]
        trust = expected.get("trust_files", {}).get(trust_name) or json.loads(
            (CORPUS / trust_name).read_text("utf-8"))
        go = run_go(verify_go, (CORPUS / name).read_bytes(), tmp_path, *_go_args(trust))
        if VerifierKey.parse(trust["log_key"]).suite != "ed25519":  # profile gm
            if go.code != 2 or "only the intl profile" not in go.stderr:
                mismatches.append(f"{name} (gm): expected exit 2, got {go}")
            continue
        checked += 1
        want: Failure | None = None if spec["ok"] else (spec["step"], spec["check"])
        warned = "warning" not in spec or any(
            line.startswith("warning: ") and spec["warning"] in line
            for line in go.stdout.splitlines())
        if want is None or _not_checked_in_go(want):
            if go.code != 0 or (want is not None and "not checked by verify-go" not in go.stdout):
                mismatches.append(f"{name}: expected OK ({want or 'a good bundle'}), got {go}")
            elif not warned:
                mismatches.append(f"{name}: expected the warning {spec['warning']!r}, got {go}")
        elif go.code != 1 or go.failures[:1] != [want]:
            mismatches.append(f"{name}: expected step {want[0]} [{want[1]}] first, got {go}")
    assert checked, "tests/vectors/evidence/expected.json lists no intl bundle"
    assert not mismatches, "\n".join(mismatches)
