"""API fixtures: a test client around the ledger, tokens per actor."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.app import Ledger
from ledger.measures.roles import Role


@pytest.fixture
def client(ledger: Ledger) -> Iterator[TestClient]:
    """A client of the app over the ``ledger`` fixture (group commit on)."""
    with TestClient(create_app(ledger=ledger)) as test_client:
        yield test_client


@pytest.fixture
def auth(ledger: Ledger) -> Callable[[str], dict[str, str]]:
    """Bearer headers for an actor (tokens cached per actor)."""
    tokens: dict[str, str] = {}
    for actor, role, unit in (("admin-zhou", Role.ADMIN, None), ("audit-sun", Role.AUDIT, None),
                              ("investigator-wu", Role.INVESTIGATOR, None),
                              ("approval-he", Role.APPROVAL, None), ("cdr-qian", Role.CDR, None)):
        if actor not in ledger.registry().actors:
            ledger.register_actor(actor, role, unit, actor)

    def headers(actor: str) -> dict[str, str]:
        if actor not in tokens:
            tokens[actor] = ledger.tokens.issue(actor)
        return {"Authorization": f"Bearer {tokens[actor]}"}

    return headers
