"""The HTTP slice: /healthz, POST /api/v1/projects, GET /api/v1/projects/{id}/events."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from ledger.app import Ledger
from ledger.measures.catalogue import EXAMPLES


def _auth(ledger: Ledger, actor: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {ledger.tokens.issue(actor)}"}


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_file_application_and_read_it_back(client: TestClient, ledger: Ledger) -> None:
    headers = _auth(ledger, "edu-wang")
    created = client.post("/api/v1/projects", json={"payload": EXAMPLES["ApplicationFiled"]},
                          headers=headers)
    assert created.status_code == 201, created.text
    receipt = created.json()
    events = client.get(f"/api/v1/projects/{receipt['stream']}/events", headers=headers)
    assert events.status_code == 200
    (entry,) = events.json()
    assert entry["entry_hash"] == receipt["entry_hash"]
    assert entry["type"] == "ApplicationFiled"
    assert entry["prev"] == "0" * 64


def test_unauthenticated_is_401_problem(client: TestClient) -> None:
    response = client.post("/api/v1/projects", json={"payload": {}})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_revoked_token_stops_working_immediately(client: TestClient, ledger: Ledger) -> None:
    headers = _auth(ledger, "edu-wang")
    ledger.tokens.revoke("edu-wang")
    assert client.get(f"/api/v1/projects/{uuid.uuid4()}/events",
                      headers=headers).status_code == 401


def test_invalid_payload_is_422_listing_fields_and_changes_nothing(
        client: TestClient, ledger: Ledger) -> None:
    size = ledger.log.tree_size()
    payload = dict(EXAMPLES["ApplicationFiled"]) | {"budget_estimate_fen": "lots"}
    del payload["documents"]
    response = client.post("/api/v1/projects", json={"payload": payload},
                           headers=_auth(ledger, "edu-wang"))
    assert response.status_code == 422
    body = response.json()
    fields = {e["field"] for e in body["errors"]}
    assert any("budget_estimate_fen" in f for f in fields)
    assert any("documents" in f for f in fields)
    assert ledger.log.tree_size() == size


def test_wrong_role_is_403_problem(client: TestClient, ledger: Ledger) -> None:
    response = client.post("/api/v1/projects", json={"payload": EXAMPLES["ApplicationFiled"]},
                           headers=_auth(ledger, "office-li"))
    assert response.status_code == 403
    assert response.json()["type"].endswith("/forbidden")


def test_unit_cannot_see_another_units_project(client: TestClient, ledger: Ledger) -> None:
    stream = ledger.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"]).stream
    response = client.get(f"/api/v1/projects/{stream}/events",
                          headers=_auth(ledger, "health-chen"))
    assert response.status_code == 404
    assert client.get(f"/api/v1/projects/{stream}/events",
                      headers=_auth(ledger, "office-li")).status_code == 200


def test_unknown_project_is_404_and_bad_id_is_422(client: TestClient, ledger: Ledger) -> None:
    headers = _auth(ledger, "office-li")
    assert client.get(f"/api/v1/projects/{uuid.uuid4()}/events",
                      headers=headers).status_code == 404
    assert client.get("/api/v1/projects/not-a-uuid/events", headers=headers).status_code == 422
