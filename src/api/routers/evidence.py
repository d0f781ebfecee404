"""``GET /api/v1/projects/{id}/evidence``: the project's signed evidence bundle (docs/design.md §5,
§6).

Investigators, the Audit Branch and the Integrated Management Office may export any project's
bundle; a construction unit only its own projects' (another unit's project is "not found", as
everywhere else, so that its existence does not leak).
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import CurrentActor, Day, ServiceDep
from ledger.errors import AuthorisationError
from ledger.measures.roles import Role
from projections.evidence import export_bundle

router = APIRouter(prefix="/api/v1/projects", tags=["evidence"])

_EXPORTERS = frozenset({Role.INVESTIGATOR, Role.AUDIT, Role.OFFICE})


@router.get("/{project_id}/evidence", response_class=Response, response_model=None,
            responses={200: {"content": {"application/zip": {}},
                             "description": "The evidence bundle (zip)"}})
def project_evidence(
    project_id: UUID, service: ServiceDep, actor: CurrentActor,
    as_known_at: Annotated[str | None, Query(
        description="Only entries recorded at or before this RFC 3339 time.")] = None,
    on: Annotated[Day | None, Query(description="Evaluation date (default today).")] = None,
) -> Response:
    """The evidence bundle of a project: entries, proofs, checkpoint, documents, projections."""
    if actor.role is not Role.UNIT and actor.role not in _EXPORTERS:
        raise AuthorisationError(actor.actor, f"export evidence as {actor.role} (investigator,"
                                 " audit, office or the project's own unit)")
    service.project_facts(actor, project_id)  # not found, or another unit's: 404
    data = export_bundle(service.ledger, project_id, as_known_at=as_known_at, on=on)
    name = f"evidence-{project_id}.zip"
    return Response(data, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
