"""The evidence tamper corpus (``tests/vectors/evidence/``): every file gets the verdict that
``expected.json`` declares, from the library and from ``ledger verify-bundle``, and
``scripts/make_evidence_vectors.py`` still reproduces the same verdicts."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api.cli import app as cli_app
from ledger.evidence.bundle import BUNDLE_JSON, BundleVerificationError, verify_bundle
from ledger.evidence.trust import TRUST_ENV, TrustFile, load_trust_file

ROOT = Path(__file__).resolve().parents[3]
VECTORS = ROOT / "tests" / "vectors" / "evidence"
EXPECTED: dict[str, Any] = json.loads((VECTORS / "expected.json").read_text(encoding="utf-8"))


def _verify(data: bytes, trust: TrustFile) -> dict[str, Any]:
    try:
        report = verify_bundle(data, log_key=trust.log_key, root_key=trust.root_key,
                               witness_keys=trust.witness_keys, quorum=trust.quorum)
    except BundleVerificationError as exc:
        first = exc.report.failures[0]
        return {"ok": False, "step": first.step, "check": first.check, "message": first.message}
    return {"ok": True, "warnings": report.warnings}


def _agrees(spec: dict[str, Any], found: dict[str, Any]) -> bool:
    if spec["ok"]:  # with the declared warning, or none
        warning = spec.get("warning")
        warned = [w for w in found["warnings"] if warning and warning in w]
        return bool(found["ok"]) and warned == found["warnings"] and bool(warned) == bool(
            warning)
    return (not found["ok"] and (found["step"], found["check"]) == (spec["step"], spec["check"])
            and spec["error"] in found["message"])


def test_the_corpus_is_complete() -> None:
    vectors = EXPECTED["vectors"]
    bad = [name for name, spec in vectors.items() if not spec["ok"]]
    assert len(bad) >= 25
    assert {"ok_intl.zip", "ok_gm.zip"} <= set(vectors)
    for step in range(1, 10):  # every verification step has a file that only it rejects
        assert any(vectors[name]["step"] == step for name in bad), step
    on_disk = {p.name for p in VECTORS.glob("*.zip")}
    assert on_disk == set(vectors)
    assert max((VECTORS / name).stat().st_size for name in vectors) < 16 * 1024
    for name, contents in EXPECTED["trust_files"].items():
        assert load_trust_file(VECTORS / name) == TrustFile.model_validate(contents)


@pytest.mark.parametrize("name", sorted(EXPECTED["vectors"]))
def test_vector_gets_its_declared_verdict(name: str) -> None:
    spec = EXPECTED["vectors"][name]
    found = _verify((VECTORS / name).read_bytes(), load_trust_file(VECTORS / spec["trust"]))
    assert _agrees(spec, found), (spec, found)


def test_verify_bundle_cli_over_the_corpus() -> None:
    """Exit 0 or 1 as declared, one JSON object each time, never a traceback."""
    runner = CliRunner()
    for name, spec in sorted(EXPECTED["vectors"].items()):
        result = runner.invoke(cli_app, ["verify-bundle", str(VECTORS / name), "--json"],
                               env={TRUST_ENV: str(VECTORS / spec["trust"])})
        assert result.exception is None or isinstance(result.exception, SystemExit), name
        assert result.exit_code == (0 if spec["ok"] else 1), (name, result.output)
        report = json.loads(result.stdout)
        assert report["ok"] is spec["ok"], name
        if not spec["ok"]:
            assert report["error"].startswith(f"step {spec['step']} [{spec['check']}]"), name
            assert spec["error"] in report["error"], name
        elif "warning" in spec:
            assert any(spec["warning"] in w for w in report["warnings"]), name
            assert report["completeness"]["proven"] is False, name
        else:
            assert report["completeness"]["proven"] is True, name
        assert "Traceback" not in result.output, name


def test_the_script_reproduces_the_verdicts(tmp_path: Path) -> None:
    out = tmp_path / "evidence"
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_evidence_vectors.py"), "--out", str(out)],
        capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr  # it checks each verdict as it writes it
    again = json.loads((out / "expected.json").read_text(encoding="utf-8"))
    assert again == EXPECTED  # same files, keys and verdicts (same seed)
    for name, spec in again["vectors"].items():
        found = _verify((out / name).read_bytes(), load_trust_file(out / spec["trust"]))
        assert _agrees(spec, found), (name, spec, found)
    # intl signatures are deterministic: the same evidence; gm (SM2) signs anew each time.
    for name in ("ok_intl.zip", "chain_gap.zip", "entry_resigned_wrong_key.zip"):
        with zipfile.ZipFile(io.BytesIO((out / name).read_bytes())) as fresh, \
                zipfile.ZipFile(VECTORS / name) as kept:
            assert fresh.read(BUNDLE_JSON) == kept.read(BUNDLE_JSON), name
