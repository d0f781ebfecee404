"""``/api/v1/projects``: file applications, read verified project streams."""

from __future__ import annotations

from typing import cast
from uuid import UUID

from fastapi import APIRouter, status

from api.deps import CurrentActor, LedgerDep
from api.schemas import EntryPublic, ProjectCreate, ReceiptPublic
from ledger.errors import ProjectNotFoundError
from ledger.roles import Role
from ledger.rules import unit_of_opener

router = APIRouter(prefix="/api/v1/projects", tags=["projects"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ReceiptPublic)
def file_application(body: ProjectCreate, ledger: LedgerDep,
                     actor: CurrentActor) -> ReceiptPublic:
    """File an application (ApplicationFiled): opens a new project stream."""
    receipt = ledger.file(actor.actor, "ApplicationFiled", body.payload, effective=body.effective)
    return ReceiptPublic(stream=receipt.stream, seq=receipt.seq, type=receipt.type,
                         entry_hash=receipt.entry_hash, leaf_index=receipt.leaf_index,
                         recorded_at=receipt.recorded_at, nonce=receipt.nonce)


@router.get("/{project_id}/events", response_model=list[EntryPublic])
def project_events(project_id: UUID, ledger: LedgerDep,
                   actor: CurrentActor) -> list[EntryPublic]:
    """Every entry of a project, verified (hashes, links, newest entry in the checkpoint)."""
    if project_id == ledger.identity.registry_stream:
        raise ProjectNotFoundError(project_id)
    project = ledger.project(project_id)
    if actor.role is Role.UNIT and unit_of_opener(project.facts, ledger.registry()) != actor.unit:
        # A unit may not learn that another unit's project exists.
        raise ProjectNotFoundError(project_id)
    return [
        EntryPublic(seq=e.originator_version, type=e.filing.type, effective=e.filing.effective,
                    actor=e.filing.actor, key=e.filing.key, nonce=str(e.filing.nonce),
                    payload=dict(e.filing.payload), signature=e.signature,
                    prev=cast(str, e.prev), recorded_at=cast(str, e.recorded_at),
                    entry_hash=cast(str, e.entry_hash))
        for e in ledger.events_of(project_id)
    ]
