"""Configuration: the one place that reads the environment (docs/design.md §6)."""

from __future__ import annotations

import base64
import binascii
import hashlib
from functools import cached_property
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger.errors import ConfigurationError

DEVELOPMENT_MASTER_KEY = "development-only-master-key-do-not-use"
DEVELOPMENT_MASTER_KEY_BYTES = hashlib.sha256(DEVELOPMENT_MASTER_KEY.encode()).digest()
"""What the placeholder stretches to (it is published: whoever has it opens what it sealed)."""


class Settings(BaseSettings):
    """Settings read from ``LEDGER_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore", frozen=True)

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///./var/ledger.db"
    master_key: SecretStr = SecretStr(DEVELOPMENT_MASTER_KEY)
    """Base64 of 32 random bytes (``ledger keys master-key``); seals custodial private keys kept
    in software. The placeholder default opens only a database made by ``ledger demo`` (or the
    test suite's), never under ``production`` (docs/keys.md)."""
    keys: SecretStr = SecretStr("software")
    """Where new signing keys are made and kept: ``software`` (sealed in the database under the
    master key) or an RFC 7512 ``pkcs11:`` URI naming a token (module path, token, PIN), where
    the log, root and custodial keys are generated and never leave (docs/keys.md)."""
    root_key: str | None = None
    """Pinned root admin public key (base64). Unset: trust the one recorded at ``ledger init``."""
    origin: str = "ledger.gaoxin.example/projects"
    """Log origin (checkpoint first line) used by ``ledger init``."""
    profile: str = "intl"
    pool_size: int = Field(default=5, ge=1, le=200)
    require_documents: bool = True
    """Refuse filings that reference documents not uploaded (off only for bulk imports)."""
    max_document_bytes: int = Field(default=50 * 1024 * 1024, ge=1)
    """The largest document upload (``POST /api/v1/documents``), refused while it is read."""
    max_request_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    """The largest body of any other request (filings, sign-in, forms), refused while read."""
    uploads_per_minute: int = Field(default=30, ge=1)
    """Document uploads one bearer token may make per minute (a burst of as many, then 429)."""
    pool_timeout: float = Field(default=5.0, gt=0, le=300)
    """Seconds a request waits for a database connection before it is refused with 503."""
    token_days: int = Field(default=90, ge=1)
    """Days a bearer token lives from its issue (``ledger actors token --rotate`` renews)."""
    session_hours: int = Field(default=12, ge=1)
    """Hours a pages session lives from sign-in."""
    writer: Literal["process", "thread"] = "process"
    """Where a server decides and appends filings: a writer process of its own (the API's event
    loop and the writes then each have an interpreter lock), or a thread beside the loop."""
    witnesses: str = ""
    """Witnesses the server pushes each new checkpoint to (C2SP tlog-witness): ``NAME URL VKEY``
    entries separated by ``;`` or newlines (``ledger.log.witness.parse_witnesses``)."""
    witness_interval: float = Field(default=1.0, gt=0, le=3600)
    """Seconds between pushes: new checkpoints are coalesced to at most one push per interval."""
    witness_quorum: int | None = Field(default=None, ge=1)
    """How many witnesses must agree with the log before a starting server takes filings, and
    must have cosigned the checkpoint an evidence export uses (default: all configured)."""
    witness_start: Literal["strict", "lenient"] = "strict"
    """A starting server whose witnesses have not agreed within ``witness_start_wait`` seconds
    goes on refusing filings (``strict``) or takes them unconfirmed (``lenient``, weaker: a
    rollback made while it was down is then caught only when a witness answers)."""
    witness_start_wait: float = Field(default=30.0, gt=0, le=3600)
    """Seconds a starting server waits for its witnesses before ``witness_start`` applies."""
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Reminders (ledger remind; docs/import.md, Reminders).
    public_url: str = "http://localhost:8000"
    """Where officials open the pages: reminders link to ``{public_url}/projects/{id}``."""
    remind_days: int = Field(default=3, ge=0, le=30)
    """A reminder goes out this many working days before an obligation is due (and on the day,
    and once overdue)."""
    remind_every: int = Field(default=0, ge=0)
    """Seconds between reminder runs inside ``ledger serve`` (0: off; a systemd timer runs
    ``ledger remind`` instead)."""
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "ledger@localhost"
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False

    @property
    def placeholder_master_key(self) -> bool:
        """Whether the master key is the published development placeholder. Judged where it
        would be used (:class:`ledger.service.custody.KeyCustody`), not here, so that
        reading and ``ledger verify`` never need a master key."""
        return self.master_key.get_secret_value() == DEVELOPMENT_MASTER_KEY

    @property
    def keys_uri(self) -> str | None:
        """The URI of ``LEDGER_KEYS`` (``pkcs11:…``), or None for the software keystore."""
        value = self.keys.get_secret_value().strip()
        if value in {"", "software"}:
            return None
        if ":" not in value:
            raise ConfigurationError(
                "LEDGER_KEYS must be `software` or a key store's URI (pkcs11:…), got"
                f" {value[:12]!r}")
        return value

    @cached_property
    def master_key_bytes(self) -> bytes:
        """The 32-byte master key (the placeholder is stretched only in development)."""
        text = self.master_key.get_secret_value()
        if text == DEVELOPMENT_MASTER_KEY:
            return DEVELOPMENT_MASTER_KEY_BYTES
        return decode_master_key(text)


def decode_master_key(text: str, name: str = "LEDGER_MASTER_KEY") -> bytes:
    """The 32 bytes of a master key written as base64; :class:`ConfigurationError` otherwise."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except binascii.Error:
        raise ConfigurationError(f"{name} must be base64 of 32 bytes") from None
    if len(raw) != 32:
        raise ConfigurationError(f"{name} must decode to 32 bytes, got {len(raw)}")
    return raw
