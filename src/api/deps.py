"""Dependencies shared by the routers: the service and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from api.problems import NotAuthenticatedError
from api.schemas import Day
from api.services import Actor, LedgerService
from ledger.app import Ledger


async def get_service(request: Request) -> LedgerService:
    """The application's service (async: FastAPI would run a plain function in a thread)."""
    service: LedgerService = request.app.state.service
    return service


async def get_ledger(request: Request) -> Ledger:
    """The application's ledger."""
    return (await get_service(request)).ledger


__all__ = ["CurrentActor", "Day", "LedgerDep", "ServiceDep", "actor_for_authorization",
           "actor_for_token", "current_actor", "get_ledger", "get_service"]

ServiceDep = Annotated[LedgerService, Depends(get_service)]
LedgerDep = Annotated[Ledger, Depends(get_ledger)]

_bearer = HTTPBearer(auto_error=False, description="`ledger actors token ACTOR`")


async def current_actor(service: ServiceDep, credentials: Annotated[
        HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Actor:
    """The actor behind the bearer token, checked on every request (a token revoked in
    another process stops within a second: :meth:`BearerTokens.actor_for`)."""
    if credentials is None:
        raise NotAuthenticatedError
    return await actor_for_token(service, credentials.credentials)


async def actor_for_authorization(service: LedgerService, authorization: str | None) -> Actor:
    """:func:`current_actor` from the ``Authorization`` header's value, for a handler that
    reads its request itself (the filing routes)."""
    scheme, token = get_authorization_scheme_param(authorization)
    if not (authorization and scheme and token) or scheme.lower() != "bearer":
        raise NotAuthenticatedError
    return await actor_for_token(service, token)


async def actor_for_token(service: LedgerService, token: str) -> Actor:
    """The actor a bearer token stands for. What the ledger remembers answers on the event
    loop; a database read runs in a thread."""
    ledger = service.ledger
    actor_id = (ledger.tokens.remembered_actor_for(token)
                or await run_in_threadpool(ledger.tokens.actor_for, token))
    if actor_id is None:
        raise NotAuthenticatedError
    record = ledger.remembered_actor(actor_id)
    if record is None:
        record = await run_in_threadpool(ledger.actor_record, actor_id)
    return Actor(record.actor, record.role, record.unit)


CurrentActor = Annotated[Actor, Depends(current_actor)]
