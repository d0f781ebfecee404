"""Operations: request ids, structured JSON logs, and Prometheus metrics."""

from __future__ import annotations

import itertools
import json
import logging
import time
import uuid
from contextvars import ContextVar

from fastapi import FastAPI, Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id: ContextVar[str] = ContextVar("request_id", default="-")
# Request ids this process makes up: unique per process (a random prefix) and cheap (a counter,
# where uuid4 would ask the kernel for random bytes on every request).
_PROCESS = uuid.uuid4().hex[:12]
_SERIAL = itertools.count(1)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the request id."""

    def format(self, record: logging.LogRecord) -> str:
        """Render a record."""
        body = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
                "level": record.levelname, "logger": record.name,
                "message": record.getMessage(), "request_id": request_id.get()}
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            body.update(extra)
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, ensure_ascii=False)


def configure_logging() -> None:
    """JSON logs on stderr for the ``ledger`` and ``api`` loggers."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    for name in ("ledger", "api"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(handler)
        logger.setLevel(logging.INFO)


class Metrics:
    """The service's Prometheus metrics (one registry per app, so tests stay independent)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "ledger_request_seconds", "HTTP request latency", ["method", "route", "status"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
        self.appends = Counter("ledger_appends_total", "Filings appended or refused",
                               ["result"], registry=self.registry)
        self.batch_size = Histogram("ledger_batch_size", "Filings per group commit",
                                    registry=self.registry,
                                    buckets=(1, 2, 5, 10, 20, 50, 100, 200))
        self.verify_failures = Counter("ledger_verify_failures_total",
                                       "Integrity checks that failed on read",
                                       registry=self.registry)

    def render(self) -> Response:
        """The exposition text."""
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


def install(app: FastAPI, metrics: Metrics) -> None:
    """Request id, access log and latency histogram for every request."""
    app.add_middleware(ObserveMiddleware, metrics=metrics)


class ObserveMiddleware:
    """Plain ASGI (Starlette's ``BaseHTTPMiddleware`` costs a task and a stream per request):
    sets the request id, answers with ``X-Request-ID``, logs and times the request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.log = logging.getLogger("api.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Wrap one HTTP request (other scopes pass through)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((value for name, value in scope["headers"] if name == b"x-request-id"),
                     None)
        rid = (given.decode("latin-1") if given else f"{_PROCESS}-{next(_SERIAL):x}")[:64]
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500  # unless the app starts a response

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()),
                                      (b"x-request-id", rid.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            path = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.latency.labels(scope["method"], path, str(status)).observe(elapsed)
            self.log.info("request", extra={"fields": {
                "method": scope["method"], "path": path, "status": status,
                "ms": round(elapsed * 1000, 2)}})
            request_id.reset(token)
