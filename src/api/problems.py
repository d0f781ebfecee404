"""The one place that maps domain errors to RFC 9457 problem+json responses."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.batcher import OverloadedError
from api.writer import WriterUnavailableError
from ledger.errors import (
    AuthorisationError,
    BadSignatureError,
    ConflictError,
    DuplicateNonceError,
    FutureDateError,
    IntegrityFailedError,
    KeyNotValidError,
    LedgerError,
    NotCanonicalError,
    ProjectNotFoundError,
    RoleNotPermittedError,
    RuleViolationError,
    StaleStreamError,
    UnknownActorError,
    UnknownEventTypeError,
    ValidationFailedError,
)

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
    (RuleViolationError, 409, "rule-violation", "Refused by the Measures"),
    (ConflictError, 409, "conflict", "The project changed; retry"),
    (DuplicateNonceError, 409, "duplicate-nonce", "Filing already recorded"),
    (StaleStreamError, 503, "busy", "The key registry changed; retry"),
    (OverloadedError, 503, "overloaded", "Too many filings waiting; retry"),
    (WriterUnavailableError, 503, "writer-unavailable", "The ledger writer restarted; retry"),
    (IntegrityFailedError, 500, "integrity", "Ledger integrity check failed"),
)


def problem(status: int, kind: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    """A problem+json response."""
    body = {"type": _TYPE + kind, "title": title, "status": status, "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None})
    headers = {"Retry-After": "1"} if status == 503 else None
    if status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def ledger_problem(exc: LedgerError) -> JSONResponse:
    """Map a ledger error to its problem response (articles, rules and causes included)."""
    status, kind, title = next(
        ((code, name, text) for cls, code, name, text in _STATUS if isinstance(exc, cls)),
        (400, "ledger-error", "Request refused"))
    extra: dict[str, Any] = {}
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
    return problem(status, kind, title, str(exc), **extra)


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
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, "http", str(exc.detail), str(exc.detail))
