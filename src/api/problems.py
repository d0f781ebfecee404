"""The one place that maps domain errors to RFC 9457 problem+json responses."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.batcher import OverloadedError
from api.outages import DATABASE_ERRORS
from api.writer import WriterUnavailableError
from ledger.errors import (
    AuthorisationError,
    BadSignatureError,
    ConflictError,
    DocumentNotFoundError,
    DuplicateNonceError,
    FutureDateError,
    IntegrityFailedError,
    KeyNotValidError,
    LedgerError,
    NotCanonicalError,
    ProjectNotFoundError,
    RateLimitedError,
    RequestTooLargeError,
    RoleNotPermittedError,
    RuleViolationError,
    SigningUnavailableError,
    StaleStreamError,
    UnknownActorError,
    UnknownEventTypeError,
    ValidationFailedError,
)
from ledger.measures.catalogue import CATALOGUE
from ledger.store.edited import edited_beneath

PROBLEM = "application/problem+json"
_TYPE = "https://ledger.gaoxin.example/problems/"

# Most specific first: the first matching class decides status and type.
class NotAuthenticatedError(LedgerError):
    """Raised when a request has no valid bearer token."""

    def __init__(self) -> None:
        super().__init__("a valid bearer token is required (ledger actors token ACTOR)")


_STATUS: tuple[tuple[type[LedgerError], int, str, str], ...] = (
    (NotAuthenticatedError, 401, "unauthenticated", "Not authenticated"),
    (FutureDateError, 422, "future-date", "A fact is dated after today"),
    (ValidationFailedError, 422, "validation", "The filing is invalid"),
    (UnknownEventTypeError, 422, "unknown-event-type", "Unknown event type"),
    (NotCanonicalError, 422, "not-canonical", "Value cannot be canonicalised"),
    (BadSignatureError, 422, "bad-signature", "Signature does not verify"),
    (KeyNotValidError, 422, "key-not-valid", "Signing key is not valid"),
    (UnknownActorError, 403, "unknown-actor", "Unknown actor"),
    (AuthorisationError, 403, "forbidden", "Not allowed"),
    (ProjectNotFoundError, 404, "project-not-found", "Project not found"),
    (DocumentNotFoundError, 404, "document-not-found", "Document not found"),
    (RequestTooLargeError, 413, "request-too-large", "The request body is too large"),
    (RateLimitedError, 429, "rate-limited", "Too many requests; retry later"),
    (RuleViolationError, 409, "rule-violation", "Refused by the Measures"),
    (ConflictError, 409, "conflict", "The project changed; retry"),
    (DuplicateNonceError, 409, "duplicate-nonce", "Filing already recorded"),
    (StaleStreamError, 503, "busy", "The key registry changed; retry"),
    (OverloadedError, 503, "overloaded", "Too many filings waiting; retry"),
    (WriterUnavailableError, 503, "writer-unavailable", "The ledger writer restarted; retry"),
    (SigningUnavailableError, 503, "signing-unavailable", "The signing device is unavailable;"
                                                          " retry"),
    (IntegrityFailedError, 500, "integrity", "Ledger integrity check failed"),
)


DATABASE_RETRY_AFTER = 2
"""Seconds a client is asked to wait after a database error."""

_log = logging.getLogger("api.problems")
_UNPARSED = "There was an error parsing the body"


def problem(status: int, kind: str, title: str, detail: str, *,
            headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    """A problem+json response."""
    body = {"type": _TYPE + kind, "title": title, "status": status, "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None})
    chosen = {"Retry-After": "1"} if status == 503 else {}
    if status == 401:
        chosen = {"WWW-Authenticate": "Bearer"}
    chosen.update(headers or {})
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=chosen or None)


def _invalid_title(exc: ValidationFailedError) -> str:
    """What was invalid, by what the error names: a filing, a document or the request."""
    if exc.event_type in CATALOGUE or exc.event_type == "filing":
        return "The filing is invalid"
    if exc.event_type == "document":
        return "The document is invalid"
    return "The request is invalid"


def database_problem(exc: Exception) -> JSONResponse:
    """503 for a database error: the request may be retried once the database is back; the
    integrity failure it is where it reports a cell edited beneath the ledger."""
    edited = edited_beneath(exc)
    if edited is not None:
        _log.error("database edited beneath the ledger: %s", edited)
        return ledger_problem(edited)
    _log.warning("database unavailable: %s: %s", type(exc).__name__, exc)
    return problem(503, "database-unavailable", "The database is unavailable; retry",
                   "the ledger's database did not answer; nothing was recorded by this request"
                   " unless a retry with the same Idempotency-Key says so",
                   headers={"Retry-After": str(DATABASE_RETRY_AFTER)})


def ledger_problem(exc: LedgerError) -> JSONResponse:
    """Map a ledger error to its problem response (articles, rules and causes included)."""
    if isinstance(exc, DATABASE_ERRORS):  # the writer process's report of an outage
        return database_problem(exc)
    status, kind, title = next(
        ((code, name, text) for cls, code, name, text in _STATUS if isinstance(exc, cls)),
        (400, "ledger-error", "Request refused"))
    extra: dict[str, Any] = {}
    headers: dict[str, str] | None = None
    if isinstance(exc, ValidationFailedError) and not isinstance(exc, FutureDateError):
        title = _invalid_title(exc)
    if isinstance(exc, RuleViolationError):
        extra = {"rule": exc.rule, "article": exc.article, "quote_zh": exc.quote_zh or None,
                 "caused_by": list(exc.caused_by)}
    elif isinstance(exc, ValidationFailedError):
        extra = {"errors": [{"field": f, "message": m} for f, m in exc.problems],
                 "article": ", ".join(f"Art. {a}" for a in exc.articles) or None}
        if isinstance(exc, FutureDateError):
            extra["today"] = exc.today
    elif isinstance(exc, RoleNotPermittedError):
        extra = {"event_type": exc.event_type, "role": exc.role, "filed_by": list(exc.filed_by),
                 "article": ", ".join(f"Art. {a}" for a in exc.articles) or None}
    elif isinstance(exc, IntegrityFailedError):
        extra = {"stream": str(exc.stream) if exc.stream else None, "seq": exc.seq,
                 "leaf_index": exc.leaf_index}
    elif isinstance(exc, RequestTooLargeError):
        extra = {"limit": exc.limit}
    elif isinstance(exc, RateLimitedError):
        headers = {"Retry-After": str(exc.retry_after)}
    return problem(status, kind, title, str(exc), headers=headers, **extra)


def allowed_methods(request: Request) -> list[str]:
    """Every method the OpenAPI document gives the request's path (for ``Allow`` on a 405)."""
    app = request.app
    templates: list[tuple[re.Pattern[str], list[str]]] | None = getattr(
        app.state, "allowed_methods", None)
    if templates is None:
        templates = [
            (re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$"),
             sorted(method.upper() for method in item))
            for path, item in app.openapi().get("paths", {}).items()]
        app.state.allowed_methods = templates
    path = request.url.path
    return sorted({m for pattern, methods in templates if pattern.match(path) for m in methods})


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(LedgerError)
    async def _ledger(_: Request, exc: LedgerError) -> JSONResponse:
        return ledger_problem(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": ".".join(str(p) for p in e.get("loc", ())),
                   "message": str(e.get("msg", ""))} for e in exc.errors()]
        return problem(422, "validation", "The request is invalid",
                       "; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == _UNPARSED:  # FastAPI's: not valid JSON
            return problem(422, "validation", "The request is invalid", "the body cannot be"
                           " parsed as its Content-Type says",
                           errors=[{"field": "body", "message": "cannot be parsed"}])
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request)) or headers.get("Allow", "")
        return problem(exc.status_code, "http", str(exc.detail), str(exc.detail),
                       headers=headers)

    for error in DATABASE_ERRORS:
        @app.exception_handler(error)
        async def _database(_: Request, exc: Exception) -> JSONResponse:
            return database_problem(exc)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, DATABASE_ERRORS):  # raised where the handlers above do not reach
            return database_problem(exc)
        _log.error("unexpected error", exc_info=exc)
        return problem(500, "internal", "Internal error",
                       "the server failed on this request; it was logged")


# --- the OpenAPI document: every operation's error responses, declared once ----------------

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; `article`, `rule`, `quote_zh` and `caused_by` "
                   "where the Measures are the reason, `errors` listing every bad field.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"},
        "status": {"type": "integer"}, "detail": {"type": "string"},
        "article": {"type": "string"}, "rule": {"type": "string"},
        "quote_zh": {"type": "string"},
        "caused_by": {"type": "array", "items": {"type": "string"}},
        "errors": {"type": "array", "items": {
            "type": "object", "required": ["field", "message"],
            "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}},
    },
    "additionalProperties": True,
}

_WHY: dict[int, str] = {
    401: "No, unknown, expired or revoked bearer token",
    403: "The caller's role may not do this (the article cited)",
    404: "Not found, or not one the caller may see",
    409: "Refused by a rule of the Measures, or the project changed meanwhile (retry)",
    413: "The request body is larger than the server accepts",
    422: "The request is invalid: every bad field is named",
    429: "Too many requests from this token; retry after `Retry-After` seconds",
    503: "Overloaded, or the database is unavailable; retry after `Retry-After` seconds",
}

_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying",
                                "schema": {"type": "integer"}}}


def _statuses(path: str, method: str, operation: dict[str, Any]) -> list[int]:
    """The error statuses an operation may answer with, from what it takes."""
    found = [413]
    public = "security" not in operation
    if not public:
        found += [401, 403]
    if "{" in path or (not public and path.startswith("/log/")):  # the log's by stream or hash
        found.append(404)
    if operation.get("parameters") or operation.get("requestBody") or "{" in path:
        found.append(422)
    if method == "post" and path.startswith("/api/v1/projects"):
        found.append(409)
    if method == "post" and path == "/api/v1/documents":
        found.append(429)
    if not public or path == "/readyz":
        found.append(503)
    return sorted(found)


def document_problems(schema: dict[str, Any], *, paths: frozenset[str] | None = None,
                      ) -> dict[str, Any]:
    """Declare every operation's error responses as ``application/problem+json`` with the
    ``Problem`` schema (replacing FastAPI's own 422 model, which the app never sends), in
    place; ``paths`` limits it to those paths."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    reference = {"$ref": "#/components/schemas/Problem"}
    for path, item in schema.get("paths", {}).items():
        if paths is not None and path not in paths:
            continue
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status in _statuses(path, method, operation):
                response: dict[str, Any] = {
                    "description": _WHY[status],
                    "content": {PROBLEM: {"schema": reference}}}
                if status in (429, 503):
                    response["headers"] = _RETRY_AFTER
                if status == 401:
                    response["headers"] = {"WWW-Authenticate": {
                        "description": "Bearer", "schema": {"type": "string"}}}
                described = responses.get(str(status), {}).get("description")
                if described and status != 422:
                    response["description"] = described
                responses[str(status)] = response
            for status, response in responses.items():  # declared by a route, without a body
                if status[0] in "45" and "content" not in response:
                    response["content"] = {PROBLEM: {"schema": reference}}
    return schema
