"""Helpers of the API filing tests (importable as ``filingtest``): opening a project as a unit."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from ledger.measures.catalogue import EXAMPLES

Auth = Callable[[str], dict[str, str]]
"""The ``auth`` fixture: an actor's name to its bearer-token headers."""


def open_project(client: TestClient, auth: Auth) -> str:
    """File the example application (申报) as ``edu-wang``; return the new project's stream id."""
    response = client.post("/api/v1/projects", json={"payload": EXAMPLES["ApplicationFiled"]},
                           headers=auth("edu-wang"))
    assert response.status_code == 201, response.text
    return str(response.json()["stream"])
