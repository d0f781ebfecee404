"""schemathesis against the app's own OpenAPI document, with every check it has (its
``--checks all``), on SQLite and on PostgreSQL: no server errors, every status, content type,
header and body as declared (errors as ``application/problem+json`` with the ``Problem``
schema), invalid input refused, 405s with ``Allow``, auth not ignored.

Each backend gets a ledger with one unit's project and the unit's token; a bounded number of
cases per operation keeps the two runs within about a minute.
"""

from __future__ import annotations

import atexit
import tempfile
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis import checks
from schemathesis.config import SchemathesisConfig

from api.app import create_app
from ledger.app import Ledger
from ledger.measures.catalogue import EXAMPLES
from ledger.measures.roles import Role
from ledger.service.documents import ACCEPTED
from ledger.settings import Settings
from ledgertest import PG_URL, require_postgres, upload_example_documents

checks.load_all_checks()
for _accepted in ACCEPTED:  # documents are sent as the bytes generated for them
    if _accepted.media_type not in ("application/json", "text/plain"):
        schemathesis.serializer.alias(_accepted.media_type, "application/octet-stream")
ALL_CHECKS = list(checks.CHECKS.get_all())
CASES = 4  # per operation and backend: the whole file runs in about a minute

# schemathesis reads the schema while pytest collects, so each backend's app is built at import
# time: a ledger with one unit's project and that unit's token.
_DIR = tempfile.TemporaryDirectory(prefix="schemathesis-")


def _app(database_url: str) -> tuple[FastAPI, dict[str, str]]:
    ledger = Ledger(Settings(database_url=database_url, environment="test"))
    ledger.initialise()
    upload_example_documents(ledger)
    ledger.register_actor("office-li", Role.OFFICE, None, "office")
    ledger.register_actor("edu-wang", Role.UNIT, "edu", "edu")
    ledger.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"])
    atexit.register(ledger.close)
    return create_app(ledger=ledger), {
        "Authorization": f"Bearer {ledger.tokens.issue('edu-wang')}"}


def _postgres_url() -> str | None:
    """A private schema in the test PostgreSQL (dropped at exit), or None without one."""
    try:
        with psycopg.connect(PG_URL, autocommit=True, connect_timeout=3) as conn:
            schema = f"st_{uuid.uuid4().hex[:16]}"
            conn.execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.Error:
        return None

    def drop() -> None:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')

    atexit.register(drop)
    return f"{PG_URL}?schema={schema}"


SQLITE_APP, SQLITE_HEADERS = _app(f"sqlite:///{Path(_DIR.name) / 'l.db'}")
# Every check runs. One is told what the API promises beyond its schema: a request that
# satisfies the schema may still be refused with 422 for what no schema can state (a document
# not uploaded, a date after today, a PDF whose bytes are not a PDF, exactly one of three query
# parameters), named field by field in the problem.
# The filing of any later event is one operation whose body is a union of some forty event
# types: its coverage phase alone (every boundary of every event's fields) would take minutes.
# It keeps the examples phase (every event's example) and fuzzing; every other operation
# runs all three.
CONFIG = SchemathesisConfig.from_dict({
    "checks": {"positive_data_acceptance": {
        "expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]}},
    "operations": [{"include-path": "/api/v1/projects/{project_id}/events",
                    "phases": {"coverage": {"enabled": False}}}]})
sqlite_schema = schemathesis.openapi.from_asgi("/openapi.json", SQLITE_APP, config=CONFIG)
_PG_URL = _postgres_url()
PG_APP, PG_HEADERS = _app(_PG_URL) if _PG_URL else (SQLITE_APP, SQLITE_HEADERS)
postgres_schema = schemathesis.openapi.from_asgi("/openapi.json", PG_APP, config=CONFIG)


@sqlite_schema.parametrize()
@settings(max_examples=CASES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_check_holds_on_sqlite(case: Any) -> None:
    case.call_and_validate(headers=SQLITE_HEADERS, checks=ALL_CHECKS)


@postgres_schema.parametrize()
@settings(max_examples=CASES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_check_holds_on_postgres(case: Any) -> None:
    if _PG_URL is None:
        require_postgres()
    case.call_and_validate(headers=PG_HEADERS, checks=ALL_CHECKS)


@pytest.fixture
def ledger_app(ledger: Ledger) -> FastAPI:
    """An app over the parametrised ``ledger`` fixture."""
    return create_app(ledger=ledger)


def test_openapi_has_an_example_for_every_event(ledger: Ledger) -> None:
    schemas = create_app(ledger=ledger).openapi()["components"]["schemas"]
    for name in EXAMPLES:
        if name in ("ApplicationFiled", "ActorRegistered", "KeyRegistered", "KeyRevoked"):
            continue
        assert schemas[f"{name}Create"].get("examples"), name


def test_every_operation_declares_its_errors_as_problems(ledger: Ledger) -> None:
    document = create_app(ledger=ledger).openapi()
    assert "Problem" in document["components"]["schemas"]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            errors = {int(s) for s in responses if s[0] in "45"}
            assert 413 in errors, (method, path)
            if "security" in operation:
                assert {401, 403, 503} <= errors, (method, path)
            if "{" in path:
                assert 404 in errors, (method, path)
            for status in errors:
                content = responses[str(status)]["content"]
                assert list(content) == ["application/problem+json"], (method, path, status)
                assert content["application/problem+json"]["schema"] == {
                    "$ref": "#/components/schemas/Problem"}
    upload = document["paths"]["/api/v1/documents"]["post"]["responses"]
    assert "Retry-After" in upload["429"]["headers"]


def test_405_names_the_allowed_methods(ledger: Ledger) -> None:
    from fastapi.testclient import TestClient  # noqa: PLC0415

    client = TestClient(create_app(ledger=ledger))
    response = client.delete("/api/v1/projects")
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert set(response.headers["allow"].split(", ")) == {"GET", "POST"}


def test_log_query_errors_are_not_called_invalid_filings(ledger: Ledger) -> None:
    from fastapi.testclient import TestClient  # noqa: PLC0415

    ledger.register_actor("office-x", Role.OFFICE, None, "office")
    client = TestClient(create_app(ledger=ledger))
    headers = {"Authorization": f"Bearer {ledger.tokens.issue('office-x')}"}
    response = client.get("/log/proof/consistency?first=5&second=2", headers=headers)
    assert response.status_code == 422
    assert response.json()["title"] == "The request is invalid"


def test_a_query_parameter_an_operation_does_not_take_is_refused(ledger: Ledger) -> None:
    """FastAPI ignores query parameters it was not told of: a misspelt filter would quietly
    answer for every unit. Every operation of the API document refuses them, naming them."""
    from fastapi.testclient import TestClient  # noqa: PLC0415

    ledger.register_actor("office-y", Role.OFFICE, None, "office")
    client = TestClient(create_app(ledger=ledger))
    headers = {"Authorization": f"Bearer {ledger.tokens.issue('office-y')}"}
    assert client.get("/api/v1/projects?unit=edu", headers=headers).status_code == 200
    response = client.get("/api/v1/projects?unti=edu", headers=headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "query.unti"
    assert "unit" in response.json()["errors"][0]["message"]  # what it does take
    assert client.get("/api/v1/obligations?overdue=true&foo=1",
                      headers=headers).status_code == 422
    assert client.get("/log/checkpoint?x=1", headers=headers).status_code == 422  # the log's
    assert client.get("/log/checkpoint", headers=headers).status_code == 200
