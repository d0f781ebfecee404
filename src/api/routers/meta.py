"""``/api/v1/ledger`` and ``/api/v1/me``: what a client needs to build and sign filings."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import CurrentActor, ServiceDep
from ledger.log.entries import b64encode

router = APIRouter(prefix="/api/v1", tags=["ledger"])


class LedgerPublic(BaseModel):
    """The ledger's identity: origin, profile and the keys verifiers pin."""

    origin: str
    profile: str
    log_key: str
    root_key_id: str
    root_public_key: str


class MePublic(BaseModel):
    """The caller's actor, role and unit."""

    actor: str
    role: str
    unit: str | None


@router.get("/ledger", response_model=LedgerPublic, summary="The ledger's identity")
def ledger_identity(service: ServiceDep, actor: CurrentActor) -> LedgerPublic:
    """Origin, profile, the log's C2SP verifier key and the pinned root key."""
    identity = service.ledger.identity
    return LedgerPublic(origin=identity.origin, profile=identity.profile.name,
                        log_key=identity.log_key.encode(), root_key_id=identity.root_key_id,
                        root_public_key=b64encode(identity.root_public_key))


@router.get("/me", response_model=MePublic, summary="Who the token stands for")
def me(actor: CurrentActor) -> MePublic:
    """The caller as the registry knows it."""
    return MePublic(actor=actor.actor, role=actor.role.value, unit=actor.unit)
