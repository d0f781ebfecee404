"""Configuration: the one place that reads the environment (docs/design.md §6)."""

from __future__ import annotations

import base64
import binascii
import hashlib
from functools import cached_property
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger.errors import ConfigurationError

DEVELOPMENT_MASTER_KEY = "development-only-master-key-do-not-use"


class Settings(BaseSettings):
    """Settings read from ``LEDGER_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore", frozen=True)

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///./var/ledger.db"
    master_key: SecretStr = SecretStr(DEVELOPMENT_MASTER_KEY)
    """Base64 of 32 random bytes (``ledger keygen-master``); seals custodial private keys."""
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
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Settings:
        if self.environment == "production" and (
            self.master_key.get_secret_value() == DEVELOPMENT_MASTER_KEY
        ):
            raise ValueError("LEDGER_MASTER_KEY is the development placeholder; set a real key")
        return self

    @cached_property
    def master_key_bytes(self) -> bytes:
        """The 32-byte master key (the placeholder is stretched only in development)."""
        text = self.master_key.get_secret_value()
        if text == DEVELOPMENT_MASTER_KEY:
            return hashlib.sha256(text.encode()).digest()
        try:
            raw = base64.b64decode(text, validate=True)
        except binascii.Error as exc:
            raise ConfigurationError("LEDGER_MASTER_KEY must be base64 of 32 bytes") from exc
        if len(raw) != 32:
            raise ConfigurationError(
                f"LEDGER_MASTER_KEY must decode to 32 bytes, got {len(raw)}")
        return raw
