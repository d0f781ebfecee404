"""``/api/v1/projects``: file applications and later filings; read verified projects."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, cast
from uuid import UUID

from fastapi import APIRouter, Body, Header, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from api.deps import CurrentActor, ServiceDep
from api.schemas import (
    EntryPublic,
    EventCreate,
    ProjectCreate,
    ProjectPage,
    ProjectPublic,
    ReceiptPublic,
    ViewPublic,
)
from api.services import EventInput, Filed
from ledger.errors import ValidationFailedError

router = APIRouter(prefix="/api/v1/projects", tags=["projects"])

AsKnownAt = Annotated[str | None, Query(
    description="Only entries recorded at or before this RFC 3339 UTC time "
                "(e.g. 2025-06-30T16:00:00.000000Z).",
    pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")]
On = Annotated[date | None, Query(description="Evaluation date (default: today, Beijing).")]
IdempotencyKey = Annotated[str | None, Header(
    description="The filing nonce (a UUID): a retry with the same key returns the original "
                "entry; the same key with a different filing is 422.")]


def _nonce(key: str | None, body_nonce: UUID | None) -> UUID | None:
    if key is None:
        return body_nonce
    try:
        nonce = UUID(key)
    except ValueError:
        raise ValidationFailedError("filing", [("Idempotency-Key", "must be a UUID")]) from None
    if body_nonce is not None and body_nonce != nonce:
        raise ValidationFailedError("filing", [("Idempotency-Key", "differs from the nonce")])
    return nonce


def _receipt(filed: Filed, response: Response) -> ReceiptPublic:
    r = filed.receipt
    if filed.replayed:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/api/v1/projects/{r.stream}/events"
    return ReceiptPublic.model_validate(r, from_attributes=True)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ReceiptPublic,
             summary="File an application (ApplicationFiled, 立项申请)")
async def file_application(body: ProjectCreate, request: Request, response: Response,
                           service: ServiceDep, actor: CurrentActor,
                           idempotency_key: IdempotencyKey = None) -> ReceiptPublic:
    """Opens a new project stream. Refused for a unit barred under Art. 22."""
    raw = cast(dict[str, Any], await request.json())
    event = EventInput(type="ApplicationFiled", payload=raw["payload"], effective=body.effective,
                       key=body.key, nonce=_nonce(idempotency_key, body.nonce),
                       signature=body.signature, stream=body.stream)
    filed = await run_in_threadpool(service.file, actor, event)
    return _receipt(filed, response)


@router.post("/{project_id}/events", status_code=status.HTTP_201_CREATED,
             response_model=ReceiptPublic, summary="File an event on a project")
async def file_event(project_id: UUID, body: Annotated[EventCreate, Body()],  # type: ignore[valid-type]
                     request: Request,
                     response: Response, service: ServiceDep, actor: CurrentActor,
                     idempotency_key: IdempotencyKey = None) -> ReceiptPublic:
    """The body is discriminated on ``type``; see the schemas for every event's payload."""
    raw = cast(dict[str, Any], await request.json())
    event = EventInput(type=raw["type"], payload=raw["payload"],
                       effective=body.effective, key=body.key,  # type: ignore[attr-defined]
                       nonce=_nonce(idempotency_key, body.nonce),  # type: ignore[attr-defined]
                       signature=body.signature, stream=project_id)  # type: ignore[attr-defined]
    filed = await run_in_threadpool(service.file, actor, event)
    return _receipt(filed, response)


@router.get("", response_model=ProjectPage, summary="The project library (项目库, Art. 12)")
def list_projects(service: ServiceDep, actor: CurrentActor, on: On = None,
                  as_known_at: AsKnownAt = None,
                  unit: Annotated[str | None, Query(max_length=64)] = None,
                  stage: Annotated[str | None, Query(max_length=32)] = None,
                  eligible: Annotated[str | None, Query(
                      pattern="^(construction|operation_maintenance)$")] = None,
                  overdue: bool | None = None,
                  cursor: Annotated[str | None, Query(max_length=64)] = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 50) -> ProjectPage:
    """Filtered and paged; a unit sees only its own projects."""
    rows, next_cursor = service.list_projects(
        actor, on=on, as_known_at=as_known_at, unit=unit, stage=stage, eligible=eligible,
        overdue=overdue, cursor=cursor, limit=limit)
    return ProjectPage(items=cast(list[dict[str, Any]], rows), next_cursor=next_cursor,
                       on=on or service.ledger.today(), as_known_at=as_known_at)


@router.get("/{project_id}", response_model=ProjectPublic,
            summary="A project's projections (with state hashes)")
def get_project(project_id: UUID, service: ServiceDep, actor: CurrentActor, on: On = None,
                as_known_at: AsKnownAt = None) -> ProjectPublic:
    """Library row, eligibility, obligations and trail, replayed exactly as known at T."""
    return ProjectPublic.model_validate(
        service.project_views(actor, project_id, on=on, as_known_at=as_known_at))


def _view(service: ServiceDep, actor: CurrentActor, project_id: UUID, name: str,
          on: date | None, as_known_at: str | None) -> ViewPublic:
    views = service.project_views(actor, project_id, on=on, as_known_at=as_known_at)["views"]
    return ViewPublic.model_validate(views[name])


@router.get("/{project_id}/eligibility", response_model=ViewPublic,
            summary="Funding eligibility, with the article behind every no")
def get_eligibility(project_id: UUID, service: ServiceDep, actor: CurrentActor, on: On = None,
                    as_known_at: AsKnownAt = None) -> ViewPublic:
    """Construction and O&M eligibility (Arts. 9, 15, 19, 22, 26, 30)."""
    return _view(service, actor, project_id, "eligibility", on, as_known_at)


@router.get("/{project_id}/obligations", response_model=ViewPublic,
            summary="The project's deadlines and their status")
def get_obligations(project_id: UUID, service: ServiceDep, actor: CurrentActor, on: On = None,
                    as_known_at: AsKnownAt = None) -> ViewPublic:
    """Arts. 6, 13, 14, 19, 20, 26, 30."""
    return _view(service, actor, project_id, "obligations", on, as_known_at)


@router.get("/{project_id}/trail", response_model=list[dict[str, Any]],
            summary="The audit trail, signatures checked")
def get_trail(project_id: UUID, service: ServiceDep, actor: CurrentActor,
              as_known_at: AsKnownAt = None) -> list[dict[str, Any]]:
    """Every entry with actor, role, articles, signature and chain status, and what changed."""
    return cast(list[dict[str, Any]], service.trail(actor, project_id, as_known_at))


@router.get("/{project_id}/events", response_model=list[EntryPublic],
            summary="The project's entries, verified on read")
def project_events(project_id: UUID, service: ServiceDep, actor: CurrentActor,
                   as_known_at: AsKnownAt = None) -> list[EntryPublic]:
    """Every entry (hashes, links and the newest entry's inclusion proof checked)."""
    return [
        EntryPublic(seq=e.originator_version, type=e.filing.type, effective=e.filing.effective,
                    actor=e.filing.actor, key=e.filing.key, nonce=str(e.filing.nonce),
                    payload=dict(e.filing.payload), signature=e.signature,
                    prev=cast(str, e.prev), recorded_at=cast(str, e.recorded_at),
                    entry_hash=cast(str, e.entry_hash))
        for e in service.events(actor, project_id, as_known_at)
    ]
