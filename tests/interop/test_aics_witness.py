"""Interoperability with a C2SP witness not written here: the PyPI package ``aics-witness``.

* Its ``aics-witness serve`` (on 127.0.0.1) cosigns our ledger's real checkpoints, ``heads``
  extension line included, through ``POST /add-checkpoint``; our ``ledger.log.checkpoint``
  verifies its ``cosignature/v1`` lines, and ``ledger verify-bundle --witness-key`` accepts a
  bundle whose checkpoint carries one.
* Its log-side client (``aics_witness.feeder``, which verifies every returned line under the
  witness vkey) accepts the cosignatures of our ``ledger witness serve``.

aics-witness needs Python ≥ 3.12; it is installed once into its own venv under the user's cache
(``$XDG_CACHE_HOME`` or ``~/.cache``, ``audit-ledger-tests/``), from PyPI. Without such a Python
or without the registry these tests skip saying why; under CI (``CI=true``) they fail.
Set ``LEDGER_TEST_PYTHON312`` to name the interpreter.
"""

from __future__ import annotations

import base64
import fcntl
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ledger.app import Ledger
from ledger.crypto.suites import INTL
from ledger.log.checkpoint import (
    Checkpoint,
    SignedNote,
    VerifierKey,
    cosignature_timestamp,
    sign_checkpoint,
    verify_note,
)
from ledger.measures.catalogue import EXAMPLES
from ledger.measures.roles import Role
from ledger.settings import Settings
from ledgertest import IN_CI, upload_example_documents
from projections.evidence import export_bundle

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "aics-witness==0.1.0"
# What it needs, pinned too (aics-witness asks for aics-tlog and cryptography>=50.0.2).
PINNED = (PACKAGE, "aics-tlog==0.2.1", "cryptography==51.0.1", "cffi==2.1.1")
AICS_NAME = "aics.audit.gaoxin.example/w1"
OURS_NAME = "audit.gaoxin.example/w1"


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI requires {PACKAGE} for the interoperability tests: {reason}")
    pytest.skip(reason)


def _python312() -> str | None:
    """A Python ≥ 3.12: $LEDGER_TEST_PYTHON312, python3.12/3.13 on PATH, or pyenv's."""
    pyenv = os.path.expanduser("~/.pyenv/versions/3.1[2-9]*/bin/python3")
    candidates = [os.environ.get("LEDGER_TEST_PYTHON312", ""),
                  shutil.which("python3.12") or "", shutil.which("python3.13") or "",
                  *sorted(glob.glob(pyenv))]
    check = "import sys; sys.exit(sys.version_info < (3, 12))"
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-c", check], capture_output=True, check=False,
                               timeout=60)
        if probe.returncode == 0:
            return candidate
    return None


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or (
        os.path.expanduser("~/.cache") if os.environ.get("HOME") else tempfile.gettempdir())
    return Path(base) / "audit-ledger-tests"


@pytest.fixture(scope="session")
def aics_bin() -> Path:
    """The bin/ directory of a venv with aics-witness installed (made once, under a lock)."""
    python = _python312()
    if python is None:
        _unavailable("no Python >= 3.12 found (set LEDGER_TEST_PYTHON312)")
    assert python is not None
    cache = _cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    pins = hashlib.sha256(" ".join(PINNED).encode()).hexdigest()[:12]
    venv = cache / f"venv-{PACKAGE.replace('==', '-')}-{pins}"
    with (cache / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / "bin" / "aics-witness").exists():
            shutil.rmtree(venv, ignore_errors=True)
            made = subprocess.run([python, "-m", "venv", str(venv)], capture_output=True,
                                  text=True, check=False, timeout=300)
            if made.returncode != 0:
                _unavailable(f"cannot create a venv with {python}: {made.stderr[-500:]}")
            installed = subprocess.run(
                [str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                 "--disable-pip-version-check", *PINNED],
                capture_output=True, text=True, check=False, timeout=900)
            if installed.returncode != 0:
                shutil.rmtree(venv, ignore_errors=True)
                _unavailable(f"pip install {PACKAGE} failed: {installed.stderr[-800:]}")
    return venv / "bin"


def _free_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


@dataclass(frozen=True)
class AicsWitness:
    """A running ``aics-witness serve``."""

    url: str
    vkey: VerifierKey


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    """An intl SQLite ledger with a unit actor and one project."""
    opened = Ledger(Settings(database_url=f"sqlite:///{tmp_path / 'ledger.db'}",
                             environment="test"))
    opened.initialise()
    upload_example_documents(opened)
    opened.register_actor("edu-wang", Role.UNIT, "edu", "edu")
    opened.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"])
    yield opened
    opened.close()


@pytest.fixture
def aics(aics_bin: Path, tmp_path: Path, ledger: Ledger) -> Iterator[AicsWitness]:
    """aics-witness trusting our log (extension lines allowed: ours carry ``heads``)."""
    config = tmp_path / "aics" / "witness.json"
    config.parent.mkdir()
    port = _free_port()
    cli = str(aics_bin / "aics-witness")
    made = subprocess.run([cli, "init", "--config", str(config), "--name", AICS_NAME,
                           "--listen", f"127.0.0.1:{port}"],
                          capture_output=True, text=True, check=False, timeout=120)
    assert made.returncode == 0, made.stderr
    vkey = VerifierKey.parse(made.stdout.strip().splitlines()[-1])
    added = subprocess.run([cli, "add-log", "--config", str(config), "--origin",
                            ledger.identity.origin, "--vkey", ledger.identity.log_key.encode()],
                           capture_output=True, text=True, check=False, timeout=120)
    assert added.returncode == 0, added.stderr
    document = json.loads(config.read_text())
    for log in document["logs"]:
        log["extension_lines"] = True
    config.write_text(json.dumps(document, indent=2))
    process = subprocess.Popen([cli, "serve", "--config", str(config), "--log-level", "WARNING"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(f"{url}/healthz", process)
        yield AicsWitness(url, vkey)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _add_checkpoint(url: str, old: int, proof: list[bytes], note: str) -> httpx.Response:
    lines = [f"old {old}", *(base64.b64encode(node).decode() for node in proof)]
    return httpx.post(f"{url}/add-checkpoint", timeout=30,
                      content=("\n".join(lines) + "\n\n" + note).encode())


def _grow(ledger: Ledger, filings: int) -> None:
    project = ledger.log.stream_ids()[-1]  # the project is the newest stream
    for _ in range(filings):
        ledger.file("edu-wang", "MaterialsSupplemented", EXAMPLES["MaterialsSupplemented"],
                    stream=project)


def test_aics_witness_cosigns_our_checkpoints_and_we_verify_its_lines(
        aics: AicsWitness, ledger: Ledger, tmp_path: Path) -> None:
    assert aics.vkey.suite == "cosignature/v1"
    first = ledger.trusted_checkpoint()
    assert first is not None
    assert "\nheads " in first.note
    answer = _add_checkpoint(aics.url, 0, [], first.note)
    assert answer.status_code == 200, answer.text
    cosigned = SignedNote.parse(first.note + answer.text)
    assert verify_note(cosigned, [aics.vkey]) == (aics.vkey,)
    assert abs(cosignature_timestamp(cosigned.signatures[-1]) - time.time()) < 120
    # Growth with our RFC 9162 consistency proof (from the stored nodes).
    _grow(ledger, 40)
    second = ledger.trusted_checkpoint()
    assert second is not None
    proof = ledger.proofs.consistency_proof(first.size, second.size)
    answer = _add_checkpoint(aics.url, first.size, proof, second.note)
    assert answer.status_code == 200, answer.text
    line = answer.text
    verify_note(SignedNote.parse(second.note + line), [aics.vkey])
    # Its 409 is the spec's: text/x.tlog.size, the size it holds.
    stale = _add_checkpoint(aics.url, 0, [], second.note)
    assert stale.status_code == 409
    assert stale.headers["content-type"].startswith("text/x.tlog.size")
    assert stale.text == f"{second.size}\n"
    # A fork signed with our log key: refused (422), as ours refuses it.
    forged = sign_checkpoint(Checkpoint(ledger.identity.origin, second.size, bytes(32)),
                             ledger.identity.origin, ledger.custody.signer("log"))
    assert _add_checkpoint(aics.url, second.size, [], forged.text()).status_code == 422
    # The line in a bundle: verify-bundle --witness-key counts it.
    signature = SignedNote.parse(second.note + line).signatures[-1]
    ledger.log.put_cosignature(second.size, signature.name, signature.key_id.hex(),
                               signature.line(), ledger.now())
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(export_bundle(ledger, ledger.log.stream_ids()[-1]))
    verified = subprocess.run(
        [sys.executable, "-m", "api.cli", "verify-bundle", str(bundle), "--log-key",
         ledger.identity.log_key.encode(), "--witness-key", aics.vkey.encode(), "--json"],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=120,
        env={k: v for k, v in os.environ.items() if k != "LEDGER_TRUST"})
    assert verified.returncode == 0, verified.stdout + verified.stderr
    report = json.loads(verified.stdout)
    assert report["ok"] is True
    assert report["witnesses"]["verified"] == [f"{aics.vkey.name}+{aics.vkey.key_id.hex()}"]
    # A witness key it was not signed with: the pinned witness's quorum is not met.
    unknown = subprocess.run(
        [sys.executable, "-m", "api.cli", "verify-bundle", str(bundle), "--log-key",
         ledger.identity.log_key.encode(), "--witness-key",
         f"{AICS_NAME}+{_other_key_id()}", "--json"],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=120)
    assert unknown.returncode == 1, unknown.stdout


def _other_key_id() -> str:
    """A cosignature/v1 vkey of another key under the same name (not the witness's)."""
    from ledger.log.checkpoint import cosignature_verifier_key  # noqa: PLC0415

    key = cosignature_verifier_key(AICS_NAME, INTL.signature.generate().public_key)
    return key.encode().split("+", 1)[1]


_FEEDER = """
import json, sys
from aics_witness.feeder import submit_checkpoint
args = json.load(sys.stdin)
lines = submit_checkpoint(args["url"], args["note"], (args["old"], [bytes.fromhex(h) for h in
                          args["proof"]]), witness_vkey=args["vkey"])
print(json.dumps({"lines": lines}))
"""


def test_aics_feeder_accepts_our_witness(aics_bin: Path, ledger: Ledger, tmp_path: Path) -> None:
    state = tmp_path / "ours.db"
    made = subprocess.run(
        [sys.executable, "-m", "api.cli", "witness", "init", "--state", str(state), "--name",
         OURS_NAME, "--log-vkey", ledger.identity.log_key.encode()],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=120)
    assert made.returncode == 0, made.stderr
    vkey = made.stdout.strip()
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "witness", "serve", "--state", str(state), "--port",
         str(port)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(f"{url}/", process)

        def feed(old: int, proof: list[bytes], note: str) -> str:
            run = subprocess.run(
                [str(aics_bin / "python"), "-c", _FEEDER], capture_output=True, text=True,
                check=False, timeout=120,
                input=json.dumps({"url": url, "note": note, "old": old, "vkey": vkey,
                                  "proof": [node.hex() for node in proof]}))
            assert run.returncode == 0, run.stderr[-2000:]
            return str(json.loads(run.stdout)["lines"])

        first = ledger.trusted_checkpoint()
        assert first is not None
        lines = feed(0, [], first.note)
        verify_note(SignedNote.parse(first.note + lines), [VerifierKey.parse(vkey)])
        _grow(ledger, 10)
        second = ledger.trusted_checkpoint()
        assert second is not None
        proof = ledger.proofs.consistency_proof(first.size, second.size)
        lines = feed(first.size, proof, second.note)
        verify_note(SignedNote.parse(second.note + lines), [VerifierKey.parse(vkey)])
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_server_pushes_to_aics_witness(aics: AicsWitness, ledger: Ledger) -> None:
    """The push task of the server (api.witnessing) against a witness not written here: it
    cosigns, we store its lines; a fresh task learns its size from its 409 and pushes growth."""
    import asyncio  # noqa: PLC0415

    from api.witnessing import Witnessing  # noqa: PLC0415
    from ledger.log.witness import parse_witnesses  # noqa: PLC0415

    endpoints = parse_witnesses(f"aics {aics.url} {aics.vkey.encode()}")

    def push() -> Witnessing:
        pushing = Witnessing(ledger, endpoints, 0.05)

        async def once() -> None:
            await pushing.push_once()
            await pushing.stop()

        asyncio.run(once())
        return pushing

    first = push()
    size = ledger.log.tree_size()
    assert [(v.cosigned_size, v.error) for v in first.views()] == [(size, None)]
    [line] = ledger.log.cosignatures(size)
    stored = ledger.trusted_checkpoint()
    assert stored is not None
    verify_note(SignedNote.parse(stored.note + line), [aics.vkey])
    _grow(ledger, 5)
    second = push()  # old 0 -> 409 with `size` -> from `size` with our consistency proof
    grown = ledger.log.tree_size()
    assert [(v.cosigned_size, v.error) for v in second.views()] == [(grown, None)]
    assert second.halt is None
    assert len(ledger.log.cosignatures(grown)) == 1
