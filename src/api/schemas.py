"""Request and response models (``*Create`` / ``*Public`` pairs)."""

from __future__ import annotations

from datetime import date
from typing import Any, cast
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from ledger.catalogue import EXAMPLES


class ProjectCreate(BaseModel):
    """File an application (ApplicationFiled, Arts. 6–8, 24) for a new project."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"effective": "2026-10-15",
                   "payload": cast(dict[str, Any], EXAMPLES["ApplicationFiled"])}]})

    effective: date | None = Field(default=None, description="When the fact took effect.")
    payload: dict[str, Any] = Field(description="The ApplicationFiled payload (DESIGN §3).")


class ReceiptPublic(BaseModel):
    """Where an accepted filing landed."""

    stream: UUID
    seq: int
    type: str
    entry_hash: str
    leaf_index: int
    recorded_at: str
    nonce: str


class EntryPublic(BaseModel):
    """One verified entry of a project stream (DESIGN §5 entry, flattened for reading)."""

    seq: int
    type: str
    effective: date
    actor: str
    key: str
    nonce: str
    payload: dict[str, Any]
    signature: str
    prev: str
    recorded_at: str
    entry_hash: str


class HealthPublic(BaseModel):
    """Liveness."""

    status: str
