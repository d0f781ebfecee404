"""Operations endpoints: liveness, readiness, metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.deps import ServiceDep
from api.problems import problem
from api.schemas import HealthPublic
from api.witnessing import halted, pending, pending_problem, rollback_problem

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=HealthPublic)
def healthz() -> HealthPublic:
    """Liveness: the process answers."""
    return HealthPublic(status="ok")


@router.get("/readyz", response_model=HealthPublic,
            responses={503: {"description": "database unreachable, the log was rolled back"
                                            " (a witness holds more than it has), or the"
                                            " witnesses have not yet confirmed the log since"
                                            " the server started"}})
def readyz(request: Request, service: ServiceDep) -> HealthPublic | Response:
    """Readiness: the database answers, no witness has shown the log rolled back, and (with
    witnesses configured) a quorum of them confirmed the log since the server started."""
    alarm = halted(request.app)
    if alarm is not None:
        return rollback_problem(alarm)
    waiting = pending(request.app)
    if waiting is not None:
        return pending_problem(waiting)
    try:
        service.ledger.log.tree_size()
    except Exception as exc:
        return problem(503, "not-ready", "Database unreachable", str(exc))
    return HealthPublic(status="ready")


@router.get("/metrics", response_class=Response, include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus exposition."""
    return request.app.state.metrics.render()  # type: ignore[no-any-return]
