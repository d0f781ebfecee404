"""Purpose-bound keys: a witness key registered by ``ledger witness-register`` has purpose
``witness`` and can never sign a filing (422 naming the key and its purpose), not even the Audit
Branch's own; the log and root keys cannot be registered as anyone's key; registry entries
without a purpose (the form before purposes) still mean ``filing``."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from witnesstest import ROOT

from api.app import create_app
from ledger.app import Ledger
from ledger.errors import KeyNotValidError
from ledger.evidence.verify import verify_ledger
from ledger.log.checkpoint import SignerKey
from ledger.log.entries import Filing, b64encode
from ledger.measures.aggregates import registered_key
from ledger.measures.catalogue import EXAMPLES, validate_payload
from ledger.measures.roles import Role


def _register_witness(database_url: str, vkey: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LEDGER_DATABASE_URL": database_url, "LEDGER_ENVIRONMENT": "test"}
    return subprocess.run([sys.executable, "-m", "api.cli", "witness-register", "audit-sun",
                           "--verifier-key", vkey, "--json"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_a_witness_key_never_files(ledger: Ledger, database_url: str,
                                   make_ledger: Callable[..., Ledger]) -> None:
    ledger.register_actor("audit-sun", Role.AUDIT, None, "审计分局 孙")
    ledger.register_actor("admin-zhou", Role.ADMIN, None, "管理员 周")
    witness = SignerKey.generate("audit.gaoxin.example/w1")  # cosignature/v1, Ed25519
    done = _register_witness(database_url, witness.verifier_key.encode())
    assert done.returncode == 0, done.stderr
    assert '"purpose": "witness"' in done.stdout
    fresh = make_ledger()
    [record] = [k for k in fresh.registry().keys.values() if k.purpose == "witness"]
    assert (record.actor, record.suite, record.public_key) == (
        "audit-sun", "ed25519", witness.signer.public_key)
    # The custodial key stays the actor's key for server-signed filings.
    assert fresh.registry().current_key("audit-sun", fresh.now()).purpose == "filing"
    with TestClient(create_app(ledger=fresh)) as client:
        unit = {"Authorization": f"Bearer {fresh.tokens.issue('edu-wang')}"}
        audit = {"Authorization": f"Bearer {fresh.tokens.issue('audit-sun')}"}
        opened = client.post("/api/v1/projects", headers=unit,
                             json={"payload": EXAMPLES["ApplicationFiled"]})
        assert opened.status_code == 201, opened.text
        project = uuid.UUID(opened.json()["stream"])
        size = fresh.log.tree_size()
        filing = Filing(ledger=fresh.identity.origin, stream=project,
                        type="AuditFindingRecorded", effective=fresh.today(),
                        payload=EXAMPLES["AuditFindingRecorded"], actor="audit-sun",
                        key=record.key_id, nonce=uuid.uuid4())
        body = {"type": filing.type, "payload": filing.payload,
                "effective": filing.effective.isoformat(), "key": filing.key,
                "nonce": str(filing.nonce),
                "signature": b64encode(witness.signer.sign(filing.signing_bytes()))}
        refused = client.post(f"/api/v1/projects/{project}/events", headers=audit, json=body)
        assert refused.status_code == 422, refused.text
        problem = refused.json()
        assert problem["type"].endswith("/key-not-valid")
        assert record.key_id in problem["detail"]
        assert "purpose is 'witness'" in problem["detail"]
        assert fresh.log.tree_size() == size
        # Nor can the same key be registered again as a filing key.
        admin = {"Authorization": f"Bearer {fresh.tokens.issue('admin-zhou')}"}
        again = client.post("/api/v1/actors/audit-sun/keys", headers=admin,
                            json={"public_key": b64encode(witness.signer.public_key)})
        assert again.status_code == 422, again.text
        assert "one purpose" in again.json()["detail"]
    with pytest.raises(KeyNotValidError, match="one purpose"):
        fresh.register_public_key("audit-sun", witness.signer.public_key)
    assert verify_ledger(fresh.log, fresh.identity, workers=1).ok


def test_the_log_and_root_keys_are_nobody_s(ledger: Ledger) -> None:
    for public, which in ((ledger.identity.log_key.public_key, "log"),
                          (ledger.identity.root_public_key, "root")):
        with pytest.raises(KeyNotValidError, match=f"the ledger's {which} key cannot be"):
            ledger.register_public_key("office-li", public)


def test_old_registry_entries_mean_filing_keys() -> None:
    payload = {"key_id": "edu-wang:0123456789ab", "actor": "edu-wang", "role": "unit",
               "unit": "edu", "suite": "ed25519", "public_key": b64encode(bytes(32))}
    assert registered_key(payload, "2026-01-01T00:00:00.000000Z").purpose == "filing"
    assert registered_key(payload | {"purpose": "witness"}, "t").purpose == "witness"
    validate_payload("KeyRegistered", payload)
    validate_payload("KeyRegistered", payload | {"purpose": "witness"})
    with pytest.raises(Exception, match="purpose"):
        validate_payload("KeyRegistered", payload | {"purpose": "anything"})
