"""``/api/v1/documents``: content-addressed uploads (the body is the file)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from api.deps import CurrentActor, ServiceDep
from api.schemas import DocumentPublic
from ledger.errors import ValidationFailedError

router = APIRouter(prefix="/api/v1/documents", tags=["documents"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=DocumentPublic,
             summary="Upload a document (body = the file, Content-Type = its media type)",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                 "text/plain": {"schema": {"type": "string"}}}}})
async def upload(request: Request, service: ServiceDep, actor: CurrentActor,
                 content_type: Annotated[str | None, Header()] = None) -> DocumentPublic:
    """Stored by SHA-256; uploading the same file twice returns the same document."""
    service.require_reader(actor)
    limit = service.ledger.settings.max_document_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ValidationFailedError("document", [("file", f"larger than {limit} bytes")])
    data = bytearray()
    async for chunk in request.stream():
        data.extend(chunk)
        if len(data) > limit:
            raise ValidationFailedError("document", [("file", f"larger than {limit} bytes")])
    document = await run_in_threadpool(service.ledger.add_document, bytes(data),
                                       content_type or "")
    return DocumentPublic(sha256=document.sha256, media_type=document.media_type,
                          size=document.size, added_at=document.added_at)


@router.get("/{sha256}", summary="Download a document", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}}}})
def download(sha256: Annotated[str, Path(pattern="^[0-9a-f]{64}$")], service: ServiceDep,
             actor: CurrentActor) -> Response:
    """The stored bytes with their media type."""
    service.require_reader(actor)
    document = service.ledger.log.get_document(sha256)
    if document is None:
        raise ValidationFailedError("document", [("sha256", f"no document {sha256}")])
    return Response(document.data, media_type=document.media_type)
