"""The HTTP baseline: a minimal FastAPI endpoint doing one bare eventsourcing save per request."""

from __future__ import annotations

import os
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from fastapi import FastAPI


class Dossier(Aggregate):
    """A plain aggregate whose events carry the same payload as ours."""

    @event("Opened")
    def __init__(self, payload: dict[str, Any]) -> None:
        self.count = 1

    @event("Filed")
    def file(self, payload: dict[str, Any]) -> None:
        self.count += 1


class Bare(Application[UUID]):
    """Bare eventsourcing on the same database."""


def create_app() -> FastAPI:
    """A FastAPI app with open and file endpoints."""
    bare = Bare(env={"PERSISTENCE_MODULE": "eventsourcing.postgres", "CREATE_TABLE": "y",
                     "POSTGRES_DBNAME": "test", "POSTGRES_HOST": "127.0.0.1",
                     "POSTGRES_PORT": "5432", "POSTGRES_USER": "postgres",
                     "POSTGRES_PASSWORD": "", "POSTGRES_POOL_SIZE": "10",
                     "POSTGRES_MAX_OVERFLOW": "30",
                     "POSTGRES_SCHEMA": os.environ["BARE_SCHEMA"],
                     "AGGREGATE_CACHE_MAXSIZE": "5000"})
    app = FastAPI()

    @app.post("/open", status_code=201)
    def open_one(body: dict[str, Any]) -> dict[str, str]:
        dossier = Dossier(body["payload"])
        bare.save(dossier)
        return {"id": str(dossier.id)}

    @app.post("/file/{dossier_id}", status_code=201)
    def file_one(dossier_id: UUID, body: dict[str, Any]) -> dict[str, int]:
        dossier: Dossier = bare.repository.get(dossier_id)
        dossier.file(body["payload"])
        bare.save(dossier)
        return {"version": dossier.version}

    @app.post("/noop/{dossier_id}", status_code=201)
    async def noop(dossier_id: UUID, body: dict[str, Any]) -> dict[str, int]:
        """The framework's own ceiling here: the same request, no work, no database."""
        return {"version": len(body)}

    return app
