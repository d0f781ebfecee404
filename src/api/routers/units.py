"""``/api/v1/units``: a unit's standing under Art. 22."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.deps import CurrentActor, ServiceDep
from api.schemas import StandingPublic

router = APIRouter(prefix="/api/v1/units", tags=["units"])


@router.get("/{unit}/standing", response_model=StandingPublic,
            summary="May the unit build new, altered or expanded systems? (Art. 22)")
def unit_standing(unit: Annotated[str, Path(max_length=64)], service: ServiceDep,
                  actor: CurrentActor,
                  as_known_at: Annotated[str | None, Query(
                      pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")] = None,
                  ) -> StandingPublic:
    """Barred while a sharing or security non-compliance stands on any of its projects."""
    return StandingPublic.model_validate(service.unit_standing(actor, unit, as_known_at))
