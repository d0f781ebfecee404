"""The reference client: build a filing, sign it locally, submit it (``ledger submit``).

The private key never leaves the client. The key file is JSON
``{"key_id": "...", "suite": "ed25519", "private_key": "<base64>"}`` made by
``ledger keys generate``; an admin registers its public half
(``POST /api/v1/actors/{actor}/keys``) and the registry returns the key id to put in the file.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from ledger.crypto.suites import PROFILES, Signer
from ledger.errors import LedgerError
from ledger.log.entries import Filing, b64decode, b64encode


class ClientError(LedgerError):
    """Raised when the server refuses a submission or the inputs are unusable."""


class ServerUnreachableError(ClientError):
    """Raised when the ledger's URL cannot be reached at all (nothing was submitted)."""

    def __init__(self, url: str, exc: httpx.TransportError) -> None:
        self.url = url
        cause = str(exc).strip() or type(exc).__name__
        super().__init__(f"cannot reach the ledger at {url}: {cause} (check --url or"
                         " LEDGER_URL; nothing was submitted)")


@dataclass(frozen=True)
class KeyFile:
    """A client-held signing key."""

    key_id: str
    suite: str
    private_key: bytes

    @classmethod
    def load(cls, path: Path) -> KeyFile:
        """Read a key file."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(str(data["key_id"]), str(data["suite"]), b64decode(data["private_key"]))
        except (OSError, ValueError, KeyError) as exc:
            raise ClientError(f"cannot read key file {path}: {exc}") from exc

    def signer(self, profile: str) -> Signer:
        """The signer for this key under the ledger's profile."""
        suite = PROFILES[profile].signature
        if suite.name != self.suite:
            raise ClientError(f"the key is {self.suite} but the ledger's profile signs with"
                              f" {suite.name}")
        return suite.load(self.private_key)


def generate_key_file(path: Path, profile: str = "intl", key_id: str = "") -> str:
    """Write a new key file; return its public key (base64) to register."""
    suite = PROFILES[profile].signature
    signer = suite.generate()
    path.write_text(json.dumps({"key_id": key_id, "suite": suite.name,
                                "private_key": b64encode(suite.export(signer))}, indent=2),
                    encoding="utf-8")
    path.chmod(0o600)
    return b64encode(signer.public_key)


@dataclass(frozen=True)
class Submitted:
    """What the server answered."""

    status: int
    receipt: dict[str, Any]


def submit(document: dict[str, Any], key: KeyFile, url: str, token: str,
           *, timeout: float = 30.0) -> Submitted:
    """Sign ``document`` ({type, project?, effective?, payload}) locally and submit it.

    Retries on 503 and network errors with the same nonce (Idempotency-Key), so a retry never
    records the filing twice.
    """
    headers = {"Authorization": f"Bearer {token}"}
    # A connection is given a few seconds (an unreachable URL is said at once); an answer, the
    # whole timeout (a group commit under load).
    limits = httpx.Timeout(timeout, connect=min(timeout, 5.0))
    with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=limits) as http:
        try:
            identity = _json(http.get("/api/v1/ledger"))
            me = _json(http.get("/api/v1/me"))
        except httpx.TransportError as exc:
            raise ServerUnreachableError(url, exc) from exc
        event_type = str(document["type"])
        opening = event_type == "ApplicationFiled"
        stream = uuid.uuid4() if opening else uuid.UUID(str(document["project"]))
        filing = Filing(
            ledger=identity["origin"], stream=stream, type=event_type,
            effective=date.fromisoformat(document.get("effective") or date.today().isoformat()),
            payload=document["payload"], actor=me["actor"], key=key.key_id, nonce=uuid.uuid4())
        signature = key.signer(identity["profile"]).sign(filing.signing_bytes())
        body: dict[str, Any] = {"payload": filing.payload,
                                "effective": filing.effective.isoformat(), "key": key.key_id,
                                "nonce": str(filing.nonce), "signature": b64encode(signature)}
        if opening:
            path, body["stream"] = "/api/v1/projects", str(stream)
        else:
            path, body["type"] = f"/api/v1/projects/{stream}/events", event_type
        for _attempt in range(5):
            try:
                response = http.post(path, json=body,
                                     headers={"Idempotency-Key": str(filing.nonce)})
            except httpx.TransportError:
                continue
            if response.status_code != 503:
                return Submitted(response.status_code, _json(response))
        raise ClientError("the server stayed unavailable; the filing may be retried safely")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        data = {"detail": response.text}
    if response.status_code >= 400:
        raise ClientError(f"{response.status_code}: {data.get('detail', data)}")
    return data  # type: ignore[no-any-return]
