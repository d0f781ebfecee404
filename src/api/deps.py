"""Dependencies shared by the routers: the service and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.problems import NotAuthenticatedError
from api.services import Actor, LedgerService
from ledger.app import Ledger


def get_service(request: Request) -> LedgerService:
    """The application's service."""
    service: LedgerService = request.app.state.service
    return service


def get_ledger(request: Request) -> Ledger:
    """The application's ledger."""
    return get_service(request).ledger


ServiceDep = Annotated[LedgerService, Depends(get_service)]
LedgerDep = Annotated[Ledger, Depends(get_ledger)]

_bearer = HTTPBearer(auto_error=False, description="`ledger actors token ACTOR`")


def current_actor(service: ServiceDep, credentials: Annotated[
        HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Actor:
    """The actor behind the bearer token, checked on every request (a token revoked in
    another process stops within a second: :meth:`Ledger.actor_for_token`)."""
    if credentials is None:
        raise NotAuthenticatedError
    actor_id = service.ledger.actor_for_token(credentials.credentials)
    if actor_id is None:
        raise NotAuthenticatedError
    record = service.ledger.actor_record(actor_id)
    return Actor(record.actor, record.role, record.unit)


CurrentActor = Annotated[Actor, Depends(current_actor)]
