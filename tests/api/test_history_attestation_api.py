"""History attestations (历史记录确认) through the API: only the Office may file one, and one filed
alone (its entries not following in its own group commit) is refused, both naming the articles."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi.testclient import TestClient
from filingtest import Auth, open_project

from ledger.app import Ledger
from ledger.measures.catalogue import EXAMPLES


def _attestation(received_on: str = "2024-10-09") -> dict[str, object]:
    return {"type": "HistoryAttested", "payload": {
        "source": EXAMPLES["HistoryAttested"]["source"],
        "entries": [{"nonce": str(uuid.uuid4()), "received_on": received_on}]}}


def test_art6_a_unit_may_not_attest_the_day_its_filing_was_received(client: TestClient,
                                                                    auth: Auth) -> None:
    project = open_project(client, auth)
    refused = client.post(f"/api/v1/projects/{project}/events", headers=auth("edu-wang"),
                          json=_attestation())
    assert refused.status_code == 403, refused.text
    body = refused.json()
    assert body["filed_by"] == ["office"]
    assert "Art. 6, 13, 14, 19" in body["detail"]


def test_art6_an_attestation_filed_alone_is_refused(client: TestClient, auth: Auth,
                                                    ledger: Ledger) -> None:
    project = open_project(client, auth)
    refused = client.post(f"/api/v1/projects/{project}/events", headers=auth("office-li"),
                          json=_attestation())
    assert refused.status_code == 409, refused.text
    assert refused.json()["article"] == "Art. 6, 13, 14, 19"
    assert refused.json()["rule"] == "history_attestation"
    future = client.post(f"/api/v1/projects/{project}/events", headers=auth("office-li"),
                         json=_attestation((ledger.today() + timedelta(days=1)).isoformat()))
    assert future.status_code == 422, future.text
    assert "entries[0].received_on" in future.text
