"""schemathesis against the app's own OpenAPI: no input makes the server fail (no 5xx).

The app is built at import time (schemathesis reads the schema while collecting) over a SQLite
ledger in a temporary directory, with one project and the office's token.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings

from api.app import create_app
from ledger.app import Ledger
from ledger.measures.catalogue import EXAMPLES, example_documents
from ledger.measures.roles import Role
from ledger.settings import Settings

_DIR = tempfile.TemporaryDirectory(prefix="schemathesis-")
_LEDGER = Ledger(Settings(database_url=f"sqlite:///{Path(_DIR.name) / 'l.db'}",
                          environment="test"))
_LEDGER.initialise()
_LEDGER.register_actor("office-li", Role.OFFICE, None, "office")
_LEDGER.register_actor("edu-wang", Role.UNIT, "edu", "edu")
for _content in example_documents().values():
    _LEDGER.add_document(_content, "text/plain")
_LEDGER.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"])
_HEADERS = {"Authorization": f"Bearer {_LEDGER.tokens.issue('edu-wang')}"}
APP = create_app(ledger=_LEDGER)

schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: Any) -> None:
    response = case.call(headers=_HEADERS)
    assert response.status_code < 500, (case.method, case.path, response.text[:500])


def test_openapi_has_an_example_for_every_event() -> None:
    schemas = APP.openapi()["components"]["schemas"]
    for name in EXAMPLES:
        if name in ("ApplicationFiled", "ActorRegistered", "KeyRegistered", "KeyRevoked"):
            continue
        assert schemas[f"{name}Create"].get("examples"), name
