"""Fixtures shared by the witnessing tests: bearer headers for the ``ledger`` fixture's actors,
and more ledgers opened on the test database with other settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from ledger.app import Ledger
from ledger.settings import Settings

Auth = Callable[[str], dict[str, str]]


@pytest.fixture
def headers(ledger: Ledger) -> Auth:
    """Bearer headers for an actor of the ``ledger`` fixture."""
    tokens: dict[str, str] = {}

    def make(actor: str) -> dict[str, str]:
        if actor not in tokens:
            tokens[actor] = ledger.tokens.issue(actor)
        return {"Authorization": f"Bearer {tokens[actor]}"}

    return make


@pytest.fixture
def opened() -> Iterator[Callable[[Settings], Ledger]]:
    """Open more ledgers on the test database with other settings; closed after."""
    ledgers: list[Ledger] = []

    def make(settings: Settings) -> Ledger:
        ledgers.append(Ledger(settings))
        return ledgers[-1]

    yield make
    for ledger in ledgers:
        ledger.close()
