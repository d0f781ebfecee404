"""Request and response models (``*Create`` / ``*Public`` pairs).

The event body is a discriminated union on ``type``: one model per catalogue event, so the
OpenAPI document shows every event's payload with an example.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal, Union, cast
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model

from ledger.measures.catalogue import CATALOGUE, EXAMPLES

_DAY = re.compile(r"^\d{4}-\d\d-\d\d$")


def _iso_day(value: Any) -> Any:
    """Only ``YYYY-MM-DD`` is a date here (pydantic alone would take ``0`` as 1970-01-01)."""
    if not isinstance(value, date) and not (isinstance(value, str) and _DAY.fullmatch(value)):
        raise ValueError("expected a date YYYY-MM-DD")
    return value


Day = Annotated[date, BeforeValidator(_iso_day)]
"""A date as the API takes it, in a body or a query: ``YYYY-MM-DD`` and nothing else."""

_SIGNED_FIELDS = {
    "effective": (Day | None, Field(default=None, description="When the fact took effect.")),
    "key": (str | None, Field(default=None, description="Client-signed: your key id.")),
    "nonce": (UUID | None, Field(default=None, description=(
        "Client-signed: the filing nonce (= Idempotency-Key)."))),
    "signature": (str | None, Field(default=None, description=(
        "Client-signed: base64 signature over JCS(filing) (docs/design.md §5)."))),
}


def _event_model(name: str) -> type[BaseModel]:
    spec = CATALOGUE[name]
    articles = ", ".join(f"Art. {a}" for a in spec.articles)
    return cast(type[BaseModel], create_model(  # type: ignore[call-overload]
        f"{name}Create",
        __config__=ConfigDict(extra="forbid", json_schema_extra={
            "examples": [{"type": name, "payload": cast(dict[str, Any], EXAMPLES[name])}]}),
        __doc__=f"{spec.summary_zh} {name} ({articles}); filed by "
                f"{', '.join(sorted(spec.filed_by))}.",
        type=(Literal[name], ...),
        payload=(spec.payload, ...),
        **_SIGNED_FIELDS,
    ))


EVENT_MODELS: dict[str, type[BaseModel]] = {
    name: _event_model(name) for name, spec in CATALOGUE.items()
    if spec.stream == "project" and not spec.opens_project
}

EventCreate = Annotated[Union[tuple(EVENT_MODELS.values())],  # type: ignore[valid-type]  # noqa: UP007
                        Field(discriminator="type")]


ApplicationPayload = CATALOGUE["ApplicationFiled"].payload


class ProjectCreate(BaseModel):
    """File an application (ApplicationFiled, Arts. 6–8, 24) for a new project.

    Custodial: send ``payload`` (and optionally ``effective``). Client-signed: also send
    ``stream`` (the new project's UUID), ``effective``, ``key``, ``nonce`` and ``signature``.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"effective": "2026-10-15",
                      "payload": cast(dict[str, Any], EXAMPLES["ApplicationFiled"])}]})

    payload: ApplicationPayload  # type: ignore[valid-type]
    stream: UUID | None = None
    effective: Day | None = None
    key: str | None = None
    nonce: UUID | None = None
    signature: str | None = None


class _FilingEnvelope(BaseModel):
    """What a filing route checks of a body before the ledger validates the payload once
    (the ``*Create`` models document the same body, payload included)."""

    model_config = ConfigDict(extra="forbid")

    payload: dict[str, Any]
    effective: Day | None = None
    key: str | None = None
    nonce: UUID | None = None
    signature: str | None = None


class EventEnvelope(_FilingEnvelope):
    """The body of ``POST /api/v1/projects/{id}/events`` (:data:`EventCreate`)."""

    type: str


class ApplicationEnvelope(_FilingEnvelope):
    """The body of ``POST /api/v1/projects`` (:class:`ProjectCreate`)."""

    stream: UUID | None = None


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
    """One verified entry of a project stream (docs/design.md §5 entry, flattened for reading)."""

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


class ProjectPage(BaseModel):
    """A page of the project library."""

    items: list[dict[str, Any]]
    next_cursor: str | None
    on: date
    as_known_at: str | None


class ViewPublic(BaseModel):
    """One projection's state and its state hash."""

    state: Any
    state_hash: str


class ProjectPublic(BaseModel):
    """A project's projections as known at a time, on a date."""

    project: UUID
    as_known_at: str | None
    on: date
    entries: int
    calendar: str
    views: dict[str, ViewPublic]
    flags: list[dict[str, Any]] = Field(default_factory=list, description=(
        "Every flag in full: rule, article, detail, quote_zh (the article's words), since,"
        " caused_by (the project view names them only)."))


class ObligationPublic(BaseModel):
    """One deadline of the compliance calendar."""

    project: str
    title: str
    unit: str | None
    rule: str
    article: str
    detail: str
    due: str | None
    status: str
    met_by: str | None
    missing_year: int | None
    caused_by: list[str]


class StandingPublic(BaseModel):
    """A unit's Art. 22 standing."""

    unit: str
    barred: bool
    reasons: list[dict[str, Any]]


class DocumentPublic(BaseModel):
    """A stored document."""

    sha256: str
    media_type: str
    size: int
    added_at: str


class ActorCreate(BaseModel):
    """Register an actor (admin)."""

    model_config = ConfigDict(extra="forbid")

    actor: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    role: Literal["unit", "office", "finance", "approval", "audit", "cdr", "investigator",
                  "admin"]
    unit: str | None = Field(default=None, max_length=64)
    display_name: str = Field(min_length=1, max_length=100)


class KeyCreate(BaseModel):
    """Register a client-held public key (base64), or omit it to rotate the custodial key."""

    model_config = ConfigDict(extra="forbid")

    public_key: str | None = None


class KeyPublic(BaseModel):
    """A registered key."""

    key_id: str
    actor: str
    role: str
    unit: str | None
    suite: str
    registered_at: str
    revoked_from: str | None


class TokenPublic(BaseModel):
    """A bearer token, shown once."""

    actor: str
    token: str
    expires_at: str | None = None
    """When it expires (RFC 3339)."""


class HealthPublic(BaseModel):
    """Liveness or readiness."""

    status: str


class StreamHeadPublic(BaseModel):
    """A stream's head in the stream heads map: its newest entry's seq, hash and leaf index
    (docs/evidence-format.md, Stream heads map, Proof encoding)."""

    seq: int
    entry_hash: str = Field(description="The entry hash (hex).")
    leaf_index: int


class TerminalLeafPublic(BaseModel):
    """The other stream's leaf that ends a non-inclusion proof's path."""

    key: str = Field(description="Its map key (hex).")
    value_hash: str = Field(description="H(value) of its head (hex).")


class HeadMapProofPublic(BaseModel):
    """A stream heads map proof: siblings bottom-up, and the terminal leaf if any."""

    siblings: list[str] = Field(description="Hashes beside the path, deepest first (hex).")
    terminal: TerminalLeafPublic | None


class HeadProofPublic(BaseModel):
    """A stream's head at a checkpoint and its proof against that checkpoint's ``heads`` line.

    ``stream``, ``head`` and ``proof`` are the HEAD_PROOF object of an evidence bundle (its
    ``heads`` member): verify them with ``ledger.log.headmap.verify_head`` against the root of
    the ``heads`` line of ``checkpoint``, after checking the checkpoint's signature.
    """

    stream: UUID
    tree_size: int = Field(description="The checkpoint's size: the map's version.")
    head: StreamHeadPublic | None = Field(description="null: the stream has no entry in the"
                                                      " checkpoint's tree (non-inclusion).")
    proof: HeadMapProofPublic
    heads_root: str = Field(description="The checkpoint's heads root (hex), for convenience;"
                                        " trust only the one in the signed checkpoint.")
    checkpoint: str = Field(description="The signed checkpoint of tree_size, with the witness"
                                        " cosignatures stored (as of at most a second before:"
                                        " GET /log/checkpoint reads them anew), a C2SP signed"
                                        " note.")
