"""Dependencies shared by the routers: the ledger and the authenticated actor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.problems import NotAuthenticatedError
from ledger.app import Ledger
from ledger.roles import Role


@dataclass(frozen=True)
class Actor:
    """The caller: a registered actor and the role (and unit) it acts in."""

    actor: str
    role: Role
    unit: str | None


def get_ledger(request: Request) -> Ledger:
    """The application's ledger."""
    ledger: Ledger = request.app.state.ledger
    return ledger


LedgerDep = Annotated[Ledger, Depends(get_ledger)]

_bearer = HTTPBearer(auto_error=False)


def current_actor(ledger: LedgerDep, credentials: Annotated[
        HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Actor:
    """The actor behind the bearer token (checked on every request, so revocation is immediate)."""
    if credentials is None:
        raise NotAuthenticatedError
    actor_id = ledger.actor_for_token(credentials.credentials)
    if actor_id is None:
        raise NotAuthenticatedError
    record = ledger.registry().actor(actor_id)
    return Actor(record.actor, record.role, record.unit)


CurrentActor = Annotated[Actor, Depends(current_actor)]
