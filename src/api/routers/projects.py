"""``/api/v1/projects``: file applications and later filings; read verified projects."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any, cast
from uuid import UUID

from fastapi import APIRouter, Body, Header, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter

from api.deps import CurrentActor, Day, ServiceDep, actor_for_authorization
from api.lean_route import json_body, served_by
from api.schemas import (
    EVENT_MODELS,
    ApplicationEnvelope,
    EntryPublic,
    EventCreate,
    EventEnvelope,
    ProjectCreate,
    ProjectPage,
    ProjectPublic,
    ReceiptPublic,
    ViewPublic,
)
from api.services import EventInput, Filed, LedgerService
from ledger.errors import ValidationFailedError

router = APIRouter(prefix="/api/v1/projects", tags=["projects"])

AsKnownAt = Annotated[str | None, Query(
    description="Only entries recorded at or before this RFC 3339 UTC time "
                "(e.g. 2025-06-30T16:00:00.000000Z).",
    pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")]
On = Annotated[Day | None, Query(description="Evaluation date (default: today, Beijing).")]
IdempotencyKey = Annotated[UUID | None, Header(
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


def _receipt(filed: Filed) -> Response:
    """201 with the receipt (200 and ``Idempotent-Replayed`` for a retry)."""
    r = filed.receipt
    body = json.dumps({"stream": str(r.stream), "seq": r.seq, "type": r.type,
                       "entry_hash": r.entry_hash, "leaf_index": r.leaf_index,
                       "recorded_at": r.recorded_at, "nonce": r.nonce},
                      ensure_ascii=False, separators=(",", ":"))
    headers = {"Location": f"/api/v1/projects/{r.stream}/events"}
    if filed.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(body, status.HTTP_200_OK if filed.replayed else status.HTTP_201_CREATED,
                    headers, media_type="application/json")


_APPLICATION = TypeAdapter(ApplicationEnvelope)
_EVENT = TypeAdapter(EventEnvelope)
_PROJECT_EVENTS = ", ".join(sorted(EVENT_MODELS))


async def _serve_application(request: Request) -> Response:
    """``POST /api/v1/projects``: the body is checked as an envelope here and its payload
    once, by the ledger (custodial signing or the append)."""
    service: LedgerService = request.app.state.service
    actor = await actor_for_authorization(service, request.headers.get("authorization"))
    body = await json_body(request, _APPLICATION)
    event = EventInput(type="ApplicationFiled", payload=body.payload, effective=body.effective,
                       key=body.key, nonce=_nonce(request.headers.get("idempotency-key"),
                                                  body.nonce),
                       signature=body.signature, stream=body.stream)
    return _receipt(await service.file_async(actor, event))


async def _serve_event(request: Request) -> Response:
    """``POST /api/v1/projects/{project_id}/events``, checked as in FastAPI's declared order
    (the caller, the path, then the body)."""
    service: LedgerService = request.app.state.service
    actor = await actor_for_authorization(service, request.headers.get("authorization"))
    try:
        project_id = UUID(request.path_params["project_id"])
    except ValueError:
        raise RequestValidationError([{
            "type": "uuid_parsing", "loc": ("path", "project_id"),
            "msg": "Input should be a valid UUID", "input": request.path_params["project_id"]},
        ]) from None
    body = await json_body(request, _EVENT)
    if body.type not in EVENT_MODELS:
        raise RequestValidationError([{
            "type": "union_tag_invalid", "loc": ("body", "type"),
            "msg": f"{body.type!r} is not an event filed on a project ({_PROJECT_EVENTS})",
            "input": body.type}])
    event = EventInput(type=body.type, payload=body.payload, effective=body.effective,
                       key=body.key, nonce=_nonce(request.headers.get("idempotency-key"),
                                                  body.nonce),
                       signature=body.signature, stream=project_id)
    return _receipt(await service.file_async(actor, event))


# The two filing operations: documented by these signatures, served by the handlers above
# (api.lean_route explains why). FastAPI reads the signatures only; the bodies never run.

async def file_application(body: ProjectCreate, actor: CurrentActor,
                           idempotency_key: IdempotencyKey = None) -> ReceiptPublic:
    """Opens a new project stream. Refused for a unit barred under Art. 22."""
    raise NotImplementedError  # pragma: no cover - served by _serve_application


async def file_event(project_id: UUID, body: Annotated[EventCreate, Body()],  # type: ignore[valid-type]
                     actor: CurrentActor,
                     idempotency_key: IdempotencyKey = None) -> ReceiptPublic:
    """The body is discriminated on ``type``; see the schemas for every event's payload."""
    raise NotImplementedError  # pragma: no cover - served by _serve_event


_REPLAYED: dict[int | str, dict[str, Any]] = {200: {
    "model": ReceiptPublic, "description": "A retry with the same Idempotency-Key: the original"
    " receipt (header `Idempotent-Replayed: true`); nothing new is recorded"}}

router.add_api_route("", file_application, methods=["POST"], responses=_REPLAYED,
                     status_code=status.HTTP_201_CREATED, response_model=ReceiptPublic,
                     summary="File an application (ApplicationFiled, 立项申请)",
                     route_class_override=served_by(_serve_application))
router.add_api_route("/{project_id}/events", file_event, methods=["POST"], responses=_REPLAYED,
                     status_code=status.HTTP_201_CREATED, response_model=ReceiptPublic,
                     summary="File an event on a project",
                     route_class_override=served_by(_serve_event))


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
