"""The FastAPI application (docs/design.md §6): one router per resource, errors mapped in one
place."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.routing import request_response

from api import observability, pages, problems, reminding, witnessing
from api.lean_route import (
    Handler,
    query_names,
    refusing_duplicate_keys,
    refusing_unknown_query,
)
from api.limits import BodyLimit, settings_of_app
from api.routers import (
    actors,
    documents,
    evidence,
    feeds,
    log,
    meta,
    obligations,
    ops,
    projects,
    tiles,
    units,
)
from api.services import LedgerService
from api.serving import refuse_unready, tune_for_serving
from api.verify_runs import BackgroundVerify
from api.writer import WriterProcess
from ledger.app import Ledger
from ledger.settings import Settings

DESCRIPTION = """
Signed, hash-chained records of every act in an information-system project's life under the
zone's *Information System Project Management Measures* (聊高新区管办发〔2023〕8号).

Authenticate with `Authorization: Bearer TOKEN` (`ledger actors token ACTOR`). Errors are
RFC 9457 `application/problem+json` citing the article (`article`, `rule`, `caused_by`).
Reads take `as_known_at` (exact replay of what was known then) and `on` (evaluation date).
"""


def create_app(settings: Settings | None = None, ledger: Ledger | None = None, *,
               group_commit: bool = True) -> FastAPI:
    """Build the app around one ledger (opened from ``settings`` unless given)."""
    metrics = observability.Metrics()

    def start(app: FastAPI, opened: Ledger, writer: WriterProcess | None = None) -> None:
        opened.identity  # noqa: B018 - refuse to start on an uninitialised database
        app.state.service = LedgerService(
            opened, group_commit=group_commit,
            writes=writer.file_many if writer is not None else None,
            on_batch=metrics.batch_size.observe,
            on_append=lambda result: metrics.appends.labels(result).inc())
        app.state.metrics = metrics
        app.state.writer = writer

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = getattr(app.state, "service", None) is None
        if owned:  # a server: it opens its ledger, and writes through a writer process
            chosen = settings or Settings()
            opened = Ledger(chosen)
            # Refuse to start on an uninitialised database, without the log key (an HSM not
            # reachable, a wrong master key), or on the placeholder master key in production.
            refuse_unready(opened)  # and a database not at this release's schema version
            writer = WriterProcess(chosen) if (
                group_commit and chosen.writer == "process") else None
            start(app, opened, writer)
            tune_for_serving()
        elif app.state.service.committer is not None and app.state.service.committer.closed:
            start(app, app.state.service.ledger)  # a new lifespan over a given ledger
        running: LedgerService = app.state.service
        pushing = witnessing.attach(  # checkpoints to the witnesses, off the filing path
            app, running.ledger, on_halt=lambda alarm: setattr(running, "halted", alarm))
        if pushing is not None:
            pushing.start()
        stop_reminding = reminding.attach(running.ledger, serving=owned)  # docs/import.md
        try:
            yield
        finally:
            await run_in_threadpool(app.state.verify_runs.stop)  # before its ledger closes
            stop_reminding()
            if pushing is not None:
                await pushing.stop()
            service: LedgerService = app.state.service
            if service.committer is not None:
                service.committer.close()
            if owned:
                if app.state.writer is not None:
                    app.state.writer.close()
                service.ledger.close()

    app = FastAPI(title="Project-supervision audit ledger 项目监管审计账本", version="0.1.0",
                  description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)  # served offline by api.pages.apidocs
    app.state.verify_runs = BackgroundVerify()  # the log page's "verify now"
    observability.configure_logging()
    observability.install(app, metrics)
    problems.install(app)
    witnessing.install(app)
    _routes(app)
    app.add_middleware(BodyLimit, settings=settings_of_app)  # every route, before parsing
    _declare_problems(app)
    if ledger is not None:  # given a ledger, serve at once (tests, embedding)
        start(app, ledger)
    return app


def _routes(app: FastAPI) -> None:
    """Every router and the static files."""
    for module in (ops, meta, projects, documents, obligations, units, actors):
        include(app, module.router)
    include(app, log.router)
    include(app, tiles.router)  # C2SP tlog-tiles: /checkpoint, /tile/… (docs/design.md §5)
    include(app, evidence.router)
    include(app, feeds.router)  # a unit's obligations as an iCalendar feed (docs/import.md)
    include(app, pages.router)  # the web pages at / (docs/design.md §6)
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR), name="static")


def include(app: FastAPI, router: APIRouter) -> None:
    """Include a router (every router goes through here): each of its routes whose body
    FastAPI parses refuses duplicate JSON keys (422), as the filing routes, which parse their
    own body, do (:func:`api.lean_route.refuse_duplicate_keys`); each operation of the API
    document refuses query parameters it does not declare (422,
    :func:`api.lean_route.refusing_unknown_query`)."""
    for route in router.routes:
        if not isinstance(route, APIRoute) or getattr(route, "checked_by_include", False):
            continue
        duplicates = (route.body_field is not None
                      and not getattr(route, "reads_its_own_body", False))
        allowed = query_names(route) if route.include_in_schema else None
        if not duplicates and allowed is None:
            continue
        make = route.get_route_handler  # FastAPI builds the handler from this, per app

        def checked(make: Callable[[], Handler] = make, duplicates: bool = duplicates,
                    allowed: frozenset[str] | None = allowed) -> Handler:
            handler = make()
            if duplicates:
                handler = refusing_duplicate_keys(handler)
            if allowed is not None:
                handler = refusing_unknown_query(handler, allowed)
            return handler

        route.get_route_handler = checked  # type: ignore[method-assign,assignment]
        route.app = request_response(checked())
        route.checked_by_include = True  # type: ignore[attr-defined]
    app.include_router(router)


def _declare_problems(app: FastAPI) -> None:
    """The OpenAPI document declares every operation's error responses in one pass
    (:func:`api.problems.document_problems`), not route by route."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problems.document_problems(get_openapi(
                title=app.title, version=app.version, openapi_version=app.openapi_version,
                description=app.description, routes=app.routes))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
