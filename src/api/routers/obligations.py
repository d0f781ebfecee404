"""``/api/v1/obligations``: the compliance calendar across projects."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CurrentActor, Day, ServiceDep
from api.schemas import ObligationPublic

router = APIRouter(prefix="/api/v1/obligations", tags=["obligations"])


@router.get("", response_model=list[ObligationPublic],
            summary="Every deadline the caller may see (overdue only on request)")
def list_obligations(service: ServiceDep, actor: CurrentActor,
                     on: Annotated[Day | None, Query()] = None, overdue: bool = False,
                     as_known_at: Annotated[str | None, Query(
                         pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")] = None,
                     ) -> list[ObligationPublic]:
    """Statuses: open, met, met_late, overdue, pending_calendar."""
    return [ObligationPublic.model_validate(row) for row in service.obligations(
        actor, on=on, overdue_only=overdue, as_known_at=as_known_at)]
