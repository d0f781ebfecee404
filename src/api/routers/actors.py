"""``/api/v1/actors`` and ``/api/v1/keys``: the key registry (admin only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from api.deps import CurrentActor, ServiceDep
from api.schemas import ActorCreate, KeyCreate, KeyPublic, TokenPublic
from ledger.errors import ValidationFailedError
from ledger.log.entries import b64decode
from ledger.measures.aggregates import KeyRecord
from ledger.measures.roles import Role
from ledger.service.tokens import parse_lifetime

router = APIRouter(prefix="/api/v1", tags=["actors and keys"])
ActorId = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]


def _key(record: KeyRecord) -> KeyPublic:
    return KeyPublic(key_id=record.key_id, actor=record.actor, role=record.role.value,
                     unit=record.unit, suite=record.suite, registered_at=record.registered_at,
                     revoked_from=record.revoked_from)


@router.post("/actors", status_code=status.HTTP_201_CREATED, response_model=KeyPublic,
             summary="Register an actor with a custodial key")
def add_actor(body: ActorCreate, service: ServiceDep, actor: CurrentActor) -> KeyPublic:
    """A unit actor needs its unit."""
    service.require_admin(actor)
    service.require_appendable()  # the log is halted or its witnesses not yet heard
    role = Role(body.role)
    if (role is Role.UNIT) != (body.unit is not None):
        raise ValidationFailedError("ActorRegistered", [("unit", "required for, and only for,"
                                                          " role unit")])
    return _key(service.ledger.register_actor(body.actor, role, body.unit, body.display_name))


@router.post("/actors/{actor_id}/keys", status_code=status.HTTP_201_CREATED,
             response_model=KeyPublic, summary="Register a client key or rotate the custodial key")
def add_key(actor_id: ActorId, body: KeyCreate, service: ServiceDep,
            actor: CurrentActor) -> KeyPublic:
    """With ``public_key`` the server never holds the private half."""
    service.require_admin(actor)
    service.require_appendable()
    if body.public_key is None:
        return _key(service.ledger.rotate_key(actor_id))
    try:
        public_key = b64decode(body.public_key)
    except ValueError:
        raise ValidationFailedError("KeyRegistered", [("public_key", "not base64")]) from None
    return _key(service.ledger.register_public_key(actor_id, public_key))


@router.delete("/keys/{key_id}", response_model=KeyPublic, summary="Revoke a key from now")
def revoke_key(key_id: Annotated[str, Path(max_length=128)], service: ServiceDep,
               actor: CurrentActor) -> KeyPublic:
    """Entries recorded from now on with this key are refused."""
    service.require_admin(actor)
    service.require_appendable()
    return _key(service.ledger.revoke_key(key_id))


@router.post("/actors/{actor_id}/tokens", status_code=status.HTTP_201_CREATED,
             response_model=TokenPublic, summary="Issue a bearer token (shown once)")
def issue_token(actor_id: ActorId, service: ServiceDep, actor: CurrentActor,
                expires_in: Annotated[str | None, Query(
                    max_length=16, description="The token's own lifetime (`12h`, `30d`, `2w`;"
                                               " at most ten years); without it the configured"
                                               " lifetime (`LEDGER_TOKEN_DAYS`).")] = None,
                ) -> TokenPublic:
    """Only the token's hash is stored. An expired token is refused (401)."""
    service.require_admin(actor)
    tokens = service.ledger.tokens
    token = tokens.issue(actor_id, parse_lifetime(expires_in) if expires_in else None)
    return TokenPublic(actor=actor_id, token=token, expires_at=tokens.expiry_of(actor_id, token))
