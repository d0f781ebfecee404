"""With witnesses configured, an evidence export uses the newest checkpoint a quorum of them
cosigned that contains the project's newest entry (waiting up to two push intervals for it), so
that a bundle taken while filings arrive verifies with ``--witness-key … --quorum 1``; with no
cosigned checkpoint in time, it is exported against the latest and says it is not cosigned."""

from __future__ import annotations

import threading
import time
import zipfile
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from uuid import UUID

import pytest
from pushtest import make_witness, open_project, serving, wait_for, witnessed_settings
from typer.testing import CliRunner

from api.cli import app as cli
from ledger.app import Ledger
from ledger.evidence.bundle import BundleVerificationError, verify_bundle
from ledger.log.checkpoint import NoteSignature, SignedNote
from ledger.measures.catalogue import EXAMPLES
from ledger.settings import Settings
from projections.evidence import WitnessRule, cosigned_checkpoint, export_bundle

Auth = Callable[[str], dict[str, str]]


def test_an_export_during_filing_carries_a_witness_cosignature(
        tmp_path: Path, settings: Settings, ledger: Ledger, headers: Auth,
        opened: Callable[[Settings], Ledger]) -> None:
    witness = make_witness(tmp_path, ledger)
    served = opened(witnessed_settings(settings, witness, interval=0.2))
    log_key = ledger.identity.log_key.encode()
    with serving(served, witness) as client:
        wait_for(lambda: client.get("/readyz").status_code == 200)
        stream = open_project(client, headers("edu-wang")).json()["stream"]
        route = f"/api/v1/projects/{stream}/evidence"
        # At once: the project's entry is newer than any cosigned checkpoint; the export
        # waits for the next push rather than prove it against the log's signature alone.
        first = client.get(route, headers=headers("office-li"))
        assert first.status_code == 200, first.text
        report = verify_bundle(first.content, log_key=log_key,
                               witness_keys=[witness.witness.vkey], quorum=1)
        assert [name.split("+")[0] for name in report.witnesses_verified] == [
            witness.witness.key.name]
        stop = threading.Event()
        filed: list[int] = []

        def keep_filing() -> None:  # other projects: the latest checkpoint keeps moving
            while not stop.is_set():
                filed.append(open_project(client, headers("edu-wang")).status_code)

        filer = threading.Thread(target=keep_filing)
        filer.start()
        try:
            sizes: set[bool] = set()
            for _ in range(4):
                answer = client.get(route, headers=headers("office-li"))
                assert answer.status_code == 200, answer.text
                report = verify_bundle(answer.content, log_key=log_key,
                                       witness_keys=[witness.witness.vkey], quorum=1)
                assert report.entries == 1
                assert report.checkpoint_size is not None
                sizes.add(report.checkpoint_size < served.log.tree_size())
                time.sleep(0.1)
        finally:
            stop.set()
            filer.join()
        assert filed
        assert set(filed) == {201}
        assert True in sizes  # at least once the latest checkpoint was newer than the one used
        bundle = tmp_path / "bundle.zip"
        bundle.write_bytes(answer.content)
    result = CliRunner().invoke(cli, ["verify-bundle", str(bundle), "--log-key", log_key,
                                      "--witness-key", witness.witness.vkey, "--quorum", "1"])
    assert result.exit_code == 0, result.output
    assert "cosigned by witness(es)" in result.stdout
    assert "not cosigned" not in result.stdout


def test_with_no_cosigned_checkpoint_the_export_says_so(
        tmp_path: Path, settings: Settings, ledger: Ledger,
        opened: Callable[[Settings], Ledger]) -> None:
    """No server pushes: the export waits two intervals, then proves the bundle against the
    latest checkpoint and warns in its report; ``verify-bundle`` prints it, and a quorum of
    the witness fails."""
    witness = make_witness(tmp_path, ledger)
    config = witnessed_settings(settings, witness, interval=0.1)
    quiet = opened(config)
    stream = UUID(str(ledger.file("edu-wang", "ApplicationFiled",
                                  EXAMPLES["ApplicationFiled"]).stream))
    started = time.monotonic()
    data = export_bundle(quiet, stream)
    assert time.monotonic() - started >= 0.2  # it waited for a push that never came
    log_key = ledger.identity.log_key.encode()
    report = verify_bundle(data, log_key=log_key)
    assert "checkpoint not cosigned by a witness" in report.summary()
    with zipfile.ZipFile(BytesIO(data)) as archive:
        shown = archive.read("report.html").decode()
    assert "checkpoint not cosigned by a witness" in shown
    with pytest.raises(BundleVerificationError):
        verify_bundle(data, log_key=log_key, witness_keys=[witness.witness.vkey], quorum=1)
    # `ledger export` says so too.
    out = tmp_path / "exported.zip"
    result = CliRunner().invoke(cli, ["export", "--project", str(stream), "-o", str(out)], env={
        "LEDGER_DATABASE_URL": settings.database_url, "LEDGER_ENVIRONMENT": "test",
        "LEDGER_WITNESSES": witness.config, "LEDGER_WITNESS_INTERVAL": "0.05"})
    assert result.exit_code == 0, result.output
    assert "checkpoint not cosigned by a witness" in result.stderr
    # Without witnesses configured, nothing waits and nothing warns in the report.
    plain = export_bundle(ledger, stream)
    with zipfile.ZipFile(BytesIO(plain)) as archive:
        assert "not cosigned" not in archive.read("report.html").decode()


def test_a_forged_cosignature_line_counts_for_nobody(
        tmp_path: Path, settings: Settings, ledger: Ledger,
        opened: Callable[[Settings], Ledger]) -> None:
    """A line under the witness's key name stored by someone with the database but not the
    witness's key does not make a checkpoint cosigned."""
    witness = make_witness(tmp_path, ledger)
    impostor = make_witness(tmp_path, ledger, "audit-w1-forged")
    quiet = opened(witnessed_settings(settings, witness, interval=0.05))
    rule = WitnessRule.of(quiet)
    assert rule is not None
    size = ledger.log.tree_size()
    stored = ledger.log.checkpoint_at_most(size)
    assert stored is not None
    body = SignedNote.parse(stored.note).checkpoint.body()
    signed = impostor.witness.key.cosign(body, int(time.time()))
    genuine = witness.witness.key.cosign(body, int(time.time()))
    # The witness's name and key id over the impostor's signature bytes.
    line = NoteSignature(genuine.name, genuine.key_id, signed.signature)
    quiet.log.put_cosignature(size, line.name, line.key_id.hex(), line.line(), ledger.now())
    assert cosigned_checkpoint(quiet, rule, -1) is None
    quiet.log.put_cosignature(size, genuine.name, genuine.key_id.hex(), genuine.line(),
                              ledger.now())
    found = cosigned_checkpoint(quiet, rule, -1)
    assert found is not None
    assert found.size == size
    assert cosigned_checkpoint(quiet, rule, size) is None  # must contain leaf `size`
