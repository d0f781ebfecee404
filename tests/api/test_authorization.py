"""The authorization matrix: every role × every endpoint × own/other unit → expected status."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledger.app import Ledger
from ledger.measures.catalogue import EXAMPLES

Auth = Callable[[str], dict[str, str]]

# The caller for each column; "unit" owns the project, "other_unit" does not.
CALLERS = {"unit": "edu-wang", "other_unit": "health-chen", "office": "office-li",
           "finance": "finance-zhao", "approval": "approval-he", "audit": "audit-sun",
           "cdr": "cdr-qian", "investigator": "investigator-wu", "admin": "admin-zhou"}
ROLES = list(CALLERS)
READ = dict.fromkeys(ROLES, 200) | {"other_unit": 404, "admin": 403}
LIST = dict.fromkeys(ROLES, 200) | {"admin": 403}

# (method, path template, body factory, expected status per caller)
MATRIX: list[tuple[str, str, Any, dict[str, int]]] = [
    ("GET", "/api/v1/projects", None, LIST),
    ("GET", "/api/v1/projects/{p}", None, READ),
    ("GET", "/api/v1/projects/{p}/events", None, READ),
    ("GET", "/api/v1/projects/{p}/eligibility", None, READ),
    ("GET", "/api/v1/projects/{p}/obligations", None, READ),
    ("GET", "/api/v1/projects/{p}/trail", None, READ),
    ("GET", "/api/v1/obligations", None, LIST),
    ("GET", "/api/v1/units/edu/standing", None, LIST | {"other_unit": 403}),
    ("POST", "/api/v1/projects", lambda: {"payload": EXAMPLES["ApplicationFiled"]},
     dict.fromkeys(ROLES, 403) | {"unit": 201, "other_unit": 201}),
    ("POST", "/api/v1/projects/{p}/events",
     lambda: {"type": "MaterialsSupplemented", "payload": EXAMPLES["MaterialsSupplemented"]},
     dict.fromkeys(ROLES, 403) | {"unit": 201, "other_unit": 404}),
    ("POST", "/api/v1/projects/{p}/events",
     lambda: {"type": "HigherLevelDeclarationConsented",
              "payload": EXAMPLES["HigherLevelDeclarationConsented"]},
     dict.fromkeys(ROLES, 403) | {"office": 201, "other_unit": 404}),
    ("POST", "/api/v1/projects/{p}/events",
     lambda: {"type": "AuditFindingRecorded", "payload": EXAMPLES["AuditFindingRecorded"]},
     dict.fromkeys(ROLES, 403) | {"audit": 201, "other_unit": 404}),
    ("POST", "/api/v1/projects/{p}/events",
     lambda: {"type": "FixedAssetApprovalIssued",
              "payload": EXAMPLES["FixedAssetApprovalIssued"]},
     dict.fromkeys(ROLES, 403) | {"approval": 201, "other_unit": 404}),
    ("POST", "/api/v1/actors", lambda: {"actor": "new-one", "role": "office",
                                        "display_name": "新人"},
     dict.fromkeys(ROLES, 403) | {"admin": 201}),
    ("POST", "/api/v1/actors/office-li/tokens", None, dict.fromkeys(ROLES, 403) | {"admin": 201}),
    ("POST", "/api/v1/actors/office-li/keys", lambda: {}, dict.fromkeys(ROLES, 403) | {
        "admin": 201}),
]


@pytest.mark.parametrize(("method", "path", "body", "expected"), MATRIX,
                         ids=[f"{m} {p} {i}" for i, (m, p, _, _) in enumerate(MATRIX)])
def test_authorization_matrix(client: TestClient, auth: Auth, ledger: Ledger, method: str,
                              path: str, body: Any, expected: dict[str, int]) -> None:
    project = ledger.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"]).stream
    got = {}
    for role, actor in CALLERS.items():
        url = path.format(p=project)
        kwargs: dict[str, Any] = {"headers": auth(actor)}
        if body is not None:
            kwargs["json"] = body()
            if path == "/api/v1/actors":
                kwargs["json"]["actor"] = f"new-{role}"
        got[role] = client.request(method, url, **kwargs).status_code
    assert got == expected


def test_no_token_and_unknown_token_are_401(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        response = client.get("/api/v1/projects", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
