"""``/api/v1/documents``: content-addressed uploads (the body is the file), and downloads
scoped to what the caller may see.

A unit reads a document only if it (any actor of the unit) uploaded it, or a project of the
unit cites it; any other document is "not found" for it, as another unit's project is, so
that its existence does not leak. The roles that read every project (office, finance,
approval, audit, cdr, investigator) read every document; ``admin`` none (403). Uploads are
limited per bearer token (``LEDGER_UPLOADS_PER_MINUTE``; 429 with ``Retry-After``).
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security.utils import get_authorization_scheme_param

from api.deps import CurrentActor, ServiceDep
from api.limits import RateLimiter
from api.schemas import DocumentPublic
from api.services import Actor, LedgerService
from ledger.errors import DocumentNotFoundError, RequestTooLargeError
from ledger.measures.catalogue import documents_referenced, validate_payload
from ledger.measures.roles import Role
from ledger.service.documents import ACCEPTED, extension_of, served

router = APIRouter(prefix="/api/v1/documents", tags=["documents"])

_BINARY = {"schema": {"type": "string", "format": "binary", "minLength": 1}}
_ANY_JSON: dict[str, object] = {"schema": {"description": "Any JSON document"}}
_ACCEPTED_LIST = ", ".join(f"{a.name} (`{a.media_type}`)" for a in ACCEPTED)


def owner_of(actor: Actor) -> str:
    """Whose upload a document is: a unit's (any of its actors), or one actor's."""
    return f"unit:{actor.unit}" if actor.role is Role.UNIT else f"actor:{actor.actor}"


def upload_limiter(service: LedgerService) -> RateLimiter:
    """The upload limiter (``uploads_per_minute``, kept in the ledger's database for every
    process): the API spends from it per bearer token, the pages' upload per actor (however
    many sessions they open)."""
    return RateLimiter(service.ledger.log, service.ledger.settings.uploads_per_minute,
                       "document uploads")


@router.post("", status_code=status.HTTP_201_CREATED, response_model=DocumentPublic,
             summary="Upload a document (body = the file, Content-Type = its media type)",
             description=f"Accepted: {_ACCEPTED_LIST}. The content must be what the media "
                         "type says (docs/api.md, Documents).",
             openapi_extra={"requestBody": {"required": True, "content": {
                 a.media_type: _ANY_JSON if a.media_type == "application/json" else _BINARY
                 for a in ACCEPTED}}})
async def upload(request: Request, service: ServiceDep, actor: CurrentActor) -> DocumentPublic:
    """Stored by SHA-256; uploading the same file twice returns the same document, with the
    time the caller's unit (or the caller) first uploaded it."""
    service.require_reader(actor)
    # Keyed by the token, not the header: the scheme's case (bearer, BEARER, ...) is free, and
    # would otherwise give one token an allowance per spelling.
    _, token = get_authorization_scheme_param(request.headers.get("authorization"))
    await run_in_threadpool(  # a database write: off the event loop
        upload_limiter(service).take, f"token:{token}" if token else f"actor:{actor.actor}")
    limit = service.ledger.settings.max_document_bytes
    data = bytearray()
    async for chunk in request.stream():  # the size is also capped while read (api.limits)
        data.extend(chunk)
        if len(data) > limit:
            raise RequestTooLargeError(limit)
    document = await run_in_threadpool(
        service.ledger.documents.add, bytes(data), request.headers.get("content-type", ""),
        owner=owner_of(actor), actor=actor.actor)
    return DocumentPublic(sha256=document.sha256, media_type=document.media_type,
                          size=document.size, added_at=document.added_at)


def may_read(service: LedgerService, actor: Actor, sha256: str) -> bool:
    """Whether the caller may read the document (it is stored: the caller checks)."""
    service.require_reader(actor)
    if actor.role is not Role.UNIT:
        return True
    if service.ledger.documents.owned_by(sha256, owner_of(actor)):
        return True
    state = service.library_state()
    for project_id, facts in state.projects.items():
        if state.unit_of(facts) != actor.unit:
            continue
        for event in service.ledger.events_of(UUID(str(project_id))):
            model = validate_payload(event.filing.type, event.filing.payload)
            if sha256 in documents_referenced(model):
                return True
    return False


@router.get("/{sha256}", summary="Download a document (as an attachment)",
            response_class=Response,
            responses={200: {"content": {a.media_type: _BINARY for a in ACCEPTED},
                             "description": "The document, as an attachment"}})
def download(sha256: Annotated[str, Path(pattern="^[0-9a-f]{64}$")], service: ServiceDep,
             actor: CurrentActor) -> Response:
    """The stored bytes with their declared (and checked) media type, as an attachment that a
    browser neither renders nor sniffs."""
    service.require_reader(actor)
    document = service.ledger.log.get_document(sha256)
    if document is None or not may_read(service, actor, sha256):
        raise DocumentNotFoundError(sha256)
    document = served(document)
    media_type = document.media_type
    if media_type == "text/plain":
        media_type += "; charset=utf-8"
    name = f"{sha256}.{extension_of(document.media_type)}"
    return Response(document.data, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
        "Cache-Control": "private, no-store"})
