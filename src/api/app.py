"""The FastAPI application (DESIGN §6)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import problems
from api.routers import projects
from api.schemas import HealthPublic
from ledger.app import Ledger
from ledger.settings import Settings


def create_app(settings: Settings | None = None, ledger: Ledger | None = None) -> FastAPI:
    """Build the app around one ledger (opened from ``settings`` unless given)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = ledger is None
        app.state.ledger = ledger or Ledger(settings or Settings())
        app.state.ledger.identity  # noqa: B018 - fail at start if the ledger is not initialised
        try:
            yield
        finally:
            if owned:
                app.state.ledger.close()

    app = FastAPI(title="Project-supervision audit ledger 项目监管审计账本", version="0.1.0",
                  lifespan=lifespan)
    problems.install(app)
    app.include_router(projects.router)

    @app.get("/healthz", response_model=HealthPublic, tags=["operations"])
    def healthz() -> HealthPublic:
        """Liveness: the process answers."""
        return HealthPublic(status="ok")

    return app
