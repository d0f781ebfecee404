"""Uploaded documents: stored content-addressed, and required before a filing cites them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ledger.errors import ValidationFailedError
from ledger.log.documents import Document, check_document
from ledger.log.entries import format_time
from ledger.log.store import LogStore
from ledger.measures.catalogue import documents_referenced
from ledger.settings import Settings


class DocumentBook:
    """Stores documents and checks that every document a payload cites exists."""

    def __init__(self, log: LogStore, settings: Settings,
                 clock: Callable[[], datetime]) -> None:
        self._log = log
        self._settings = settings
        self._clock = clock
        self._known: set[str] = set()

    def add(self, data: bytes, media_type: str) -> Document:
        """Store an uploaded document content-addressed; return it (idempotent)."""
        sha256 = check_document(data, media_type, self._settings.max_document_bytes)
        document = Document(sha256, media_type.split(";", 1)[0].strip().lower(), data,
                            format_time(self._clock()))
        self._log.put_document(document)
        return self._log.get_document(sha256) or document

    def check_cited(self, event_type: str, model: Any) -> None:
        """Every document a payload cites must have been uploaded."""
        referenced = documents_referenced(model)
        if not referenced or not self._settings.require_documents:
            return
        known = self._known
        unknown = [h for h in referenced if h not in known]
        if unknown:  # documents are immutable once stored: remember what exists
            known.update(self._log.existing_documents(unknown))
        missing = sorted(set(referenced) - known)
        if missing:
            raise ValidationFailedError(event_type, [
                ("documents", f"document {h} has not been uploaded (POST /documents)")
                for h in missing])


__all__ = ["DocumentBook"]
