"""Filing through the API: custodial and client-signed, idempotency, refusals, documents."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from filingtest import Auth, open_project

from ledger.app import Ledger
from ledger.evidence.verify import verify_ledger
from ledger.log.entries import Filing, b64encode
from ledger.measures.catalogue import EXAMPLES


def test_event_body_is_discriminated_on_type_and_cites_articles(client: TestClient,
                                                                auth: Auth) -> None:
    project = open_project(client, auth)
    refused = client.post(f"/api/v1/projects/{project}/events", headers=auth("edu-wang"),
                          json={"type": "ContractFiled", "payload": EXAMPLES["ContractFiled"]})
    assert refused.status_code == 409
    assert refused.json()["article"] == "Art. 9"
    ok = client.post(f"/api/v1/projects/{project}/events", headers=auth("office-li"),
                     json={"type": "ReviewOpinionIssued",
                           "payload": EXAMPLES["ReviewOpinionIssued"]})
    assert ok.status_code == 201, ok.text
    bad = client.post(f"/api/v1/projects/{project}/events", headers=auth("edu-wang"),
                      json={"type": "ContractFiled",
                            "payload": dict(EXAMPLES["ContractFiled"]) | {"amount_fen": 1.5}})
    assert bad.status_code == 422
    assert any("amount_fen" in e["field"] for e in bad.json()["errors"])
    unknown = client.post(f"/api/v1/projects/{project}/events", headers=auth("edu-wang"),
                          json={"type": "NoSuchEvent", "payload": {}})
    assert unknown.status_code == 422


def test_idempotency_key_returns_the_original_entry(client: TestClient, auth: Auth,
                                                    ledger: Ledger) -> None:
    project = open_project(client, auth)
    key = str(uuid.uuid4())
    body = {"type": "MaterialsSupplemented", "payload": EXAMPLES["MaterialsSupplemented"]}
    headers = auth("edu-wang") | {"Idempotency-Key": key}
    first = client.post(f"/api/v1/projects/{project}/events", json=body, headers=headers)
    size = ledger.log.tree_size()
    again = client.post(f"/api/v1/projects/{project}/events", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert ledger.log.tree_size() == size
    other = dict(body) | {"payload": dict(EXAMPLES["MaterialsSupplemented"]) | {
        "remarks": "另一份说明"}}
    conflict = client.post(f"/api/v1/projects/{project}/events", json=other, headers=headers)
    assert conflict.status_code == 422
    assert ledger.log.tree_size() == size


def _client_filing(ledger: Ledger, key_id: str, stream: uuid.UUID,
                   event_type: str = "MaterialsSupplemented") -> Filing:
    return Filing(ledger=ledger.identity.origin, stream=stream, type=event_type,
                  effective=ledger.today(), payload=EXAMPLES[event_type], actor="edu-wang",
                  key=key_id, nonce=uuid.uuid4())


def _signed_body(filing: Filing, signature: bytes) -> dict[str, object]:
    return {"type": filing.type, "payload": filing.payload,
            "effective": filing.effective.isoformat(), "key": filing.key,
            "nonce": str(filing.nonce), "signature": b64encode(signature)}


def test_client_signed_filing_is_stored_untouched(client: TestClient, auth: Auth,
                                                  ledger: Ledger) -> None:
    project = uuid.UUID(open_project(client, auth))
    signer = ledger.identity.profile.signature.generate()
    key = client.post("/api/v1/actors/edu-wang/keys", headers=auth("admin-zhou"),
                      json={"public_key": b64encode(signer.public_key)})
    assert key.status_code == 201, key.text
    filing = _client_filing(ledger, key.json()["key_id"], project)
    response = client.post(f"/api/v1/projects/{project}/events", headers=auth("edu-wang"),
                           json=_signed_body(filing, signer.sign(filing.signing_bytes())))
    assert response.status_code == 201, response.text
    stored = ledger.events_of(project)[-1]
    assert stored.filing == filing
    assert verify_ledger(ledger.log, ledger.identity, workers=1).ok


def test_client_signed_with_wrong_revoked_or_other_key_is_refused(
        client: TestClient, auth: Auth, ledger: Ledger) -> None:
    project = uuid.UUID(open_project(client, auth))
    suite = ledger.identity.profile.signature
    signer, stranger = suite.generate(), suite.generate()
    key_id = client.post("/api/v1/actors/edu-wang/keys", headers=auth("admin-zhou"),
                         json={"public_key": b64encode(signer.public_key)}).json()["key_id"]
    size = ledger.log.tree_size()
    filing = _client_filing(ledger, key_id, project)
    wrong = client.post(f"/api/v1/projects/{project}/events", headers=auth("edu-wang"),
                        json=_signed_body(filing, stranger.sign(filing.signing_bytes())))
    assert wrong.status_code == 422
    assert wrong.json()["type"].endswith("/bad-signature")
    other_key = ledger.registry().current_key("health-chen", ledger.now()).key_id
    other = _client_filing(ledger, other_key, project)
    response = client.post(f"/api/v1/projects/{project}/events", headers=auth("edu-wang"),
                           json=_signed_body(other, signer.sign(other.signing_bytes())))
    assert response.status_code == 422  # key registered to another actor
    assert ledger.log.tree_size() == size
    assert client.delete(f"/api/v1/keys/{key_id}", headers=auth("admin-zhou")).status_code == 200
    size = ledger.log.tree_size()  # the revocation is itself an entry
    revoked = _client_filing(ledger, key_id, project)
    response = client.post(f"/api/v1/projects/{project}/events", headers=auth("edu-wang"),
                           json=_signed_body(revoked, signer.sign(revoked.signing_bytes())))
    assert response.status_code == 422
    assert response.json()["type"].endswith("/key-not-valid")
    assert ledger.log.tree_size() == size


def test_documents_upload_and_missing_reference(client: TestClient, auth: Auth) -> None:
    project = open_project(client, auth)
    pdf = b"%PDF-1.7\n% a contract\n"
    uploaded = client.post("/api/v1/documents", content=pdf,
                           headers=auth("edu-wang") | {"Content-Type": "application/pdf"})
    assert uploaded.status_code == 201, uploaded.text
    sha = uploaded.json()["sha256"]
    again = client.post("/api/v1/documents", content=pdf,
                        headers=auth("edu-wang") | {"Content-Type": "application/pdf"})
    assert again.json()["sha256"] == sha
    fake = client.post("/api/v1/documents", content=b"not a pdf",
                       headers=auth("edu-wang") | {"Content-Type": "application/pdf"})
    assert fake.status_code == 422
    exe = client.post("/api/v1/documents", content=b"MZ\x90",
                      headers=auth("edu-wang") | {"Content-Type": "application/x-msdownload"})
    assert exe.status_code == 422
    assert client.get(f"/api/v1/documents/{sha}", headers=auth("office-li")).content == pdf
    missing = "0" * 63 + "1"
    payload = dict(EXAMPLES["MaterialsSupplemented"]) | {
        "documents": {"basis_documents": [missing], "other_documents": []}}
    response = client.post(f"/api/v1/projects/{project}/events", headers=auth("edu-wang"),
                           json={"type": "MaterialsSupplemented", "payload": payload})
    assert response.status_code == 422
    assert missing in response.json()["detail"]


def test_reads_take_as_known_at_and_on(client: TestClient, auth: Auth, ledger: Ledger) -> None:
    project = open_project(client, auth)
    first = ledger.events_of(uuid.UUID(project))[0].recorded_at
    client.post(f"/api/v1/projects/{project}/events", headers=auth("office-li"),
                json={"type": "ReviewOpinionIssued", "payload": EXAMPLES["ReviewOpinionIssued"]})
    now = client.get(f"/api/v1/projects/{project}", headers=auth("office-li")).json()
    then = client.get(f"/api/v1/projects/{project}", headers=auth("office-li"),
                      params={"as_known_at": first}).json()
    assert (now["entries"], then["entries"]) == (2, 1)
    assert then["views"]["project"]["state"]["stage"] == "filed"
    assert now["views"]["project"]["state"]["stage"] == "approved"
    events = client.get(f"/api/v1/projects/{project}/events", headers=auth("audit-sun"),
                        params={"as_known_at": first})
    assert len(events.json()) == 1
    listing = client.get("/api/v1/projects", headers=auth("office-li"),
                         params={"stage": "approved", "on": "2026-11-25"}).json()
    assert [row["id"] for row in listing["items"]] == [project]
    trail = client.get(f"/api/v1/projects/{project}/trail", headers=auth("investigator-wu"))
    assert [row["signature"] for row in trail.json()] == ["valid", "valid"]


def test_list_pages_with_a_cursor(client: TestClient, auth: Auth) -> None:
    projects = sorted(open_project(client, auth) for _ in range(5))
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/projects", headers=auth("office-li"), params=params).json()
        seen += [row["id"] for row in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == projects


def test_metrics_and_readiness(client: TestClient, auth: Auth) -> None:
    open_project(client, auth)
    assert client.get("/readyz").json() == {"status": "ready"}
    text = client.get("/metrics").text
    assert "ledger_request_seconds_bucket" in text
    assert 'ledger_appends_total{result="accepted"}' in text
    assert "ledger_batch_size_count" in text


def test_filing_bodies_are_checked_before_anything_is_written(
        client: TestClient, auth: Auth, ledger: Ledger) -> None:
    project = open_project(client, auth)
    size = ledger.log.tree_size()
    url = f"/api/v1/projects/{project}/events"
    body = {"type": "MaterialsSupplemented", "payload": EXAMPLES["MaterialsSupplemented"]}
    refusals = {
        "not JSON": client.post(url, content=b"{not json", headers=auth("edu-wang") | {
            "Content-Type": "application/json"}),
        "form encoded": client.post(url, data={"type": "MaterialsSupplemented"},
                                    headers=auth("edu-wang")),
        "extra field": client.post(url, json=body | {"colour": "red"}, headers=auth("edu-wang")),
        "payload not an object": client.post(url, json=body | {"payload": [1]},
                                             headers=auth("edu-wang")),
        "opening event": client.post(url, json={"type": "ApplicationFiled",
                                                "payload": EXAMPLES["ApplicationFiled"]},
                                     headers=auth("edu-wang")),
        "registry event": client.post(url, json={"type": "KeyRevoked", "payload": {}},
                                      headers=auth("edu-wang")),
        "bad date": client.post(url, json=body | {"effective": "2026-13-40"},
                                headers=auth("edu-wang")),
        "bad idempotency key": client.post(url, json=body, headers=auth("edu-wang") | {
            "Idempotency-Key": "not-a-uuid"}),
        "bad project id": client.post("/api/v1/projects/not-a-uuid/events", json=body,
                                      headers=auth("edu-wang")),
    }
    for name, response in refusals.items():
        assert response.status_code == 422, (name, response.text)
        assert response.headers["content-type"] == "application/problem+json", name
        assert response.json()["errors"], name
    assert "type" in refusals["opening event"].json()["errors"][0]["field"]
    assert refusals["extra field"].json()["errors"][0]["field"] == "body.colour"
    # No caller, no reading of the body: 401 first, as FastAPI's dependencies did.
    assert client.post(url, content=b"{not json").status_code == 401
    assert client.post(url, json=body, headers={"Authorization": "Basic eDp5"}
                       ).status_code == 401
    assert ledger.log.tree_size() == size


def test_filing_routes_are_documented_by_their_models(client: TestClient) -> None:
    operations = client.get("/openapi.json").json()["paths"]
    event = operations["/api/v1/projects/{project_id}/events"]["post"]
    schema = event["requestBody"]["content"]["application/json"]["schema"]
    assert schema["discriminator"]["propertyName"] == "type"
    assert {"$ref": "#/components/schemas/ContractFiledCreate"} in schema["oneOf"]
    assert event["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ReceiptPublic"}
    assert {p["name"] for p in event["parameters"]} == {"project_id", "idempotency-key"}
    assert event["security"] == [{"HTTPBearer": []}]
    application = operations["/api/v1/projects"]["post"]
    assert application["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ProjectCreate"}
