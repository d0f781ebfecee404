"""Documents: files a filing references by SHA-256 (申报材料, 合同文本, 验收报告 …).

They are stored content-addressed in the ledger's own database (so a backup is one thing) and a
filing that references a document not uploaded is refused. What an upload may be (the media
types, and the content that each must have) is :mod:`ledger.service.documents`'s to check.
A document is read back only if its bytes still hash to its name: a filing cites it by that
hash alone, and the table is one the database's operator can edit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ledger.errors import DocumentAlteredError


@dataclass(frozen=True)
class Document:
    """A stored document."""

    sha256: str
    media_type: str
    data: bytes
    added_at: str

    @property
    def size(self) -> int:
        """Size in bytes."""
        return len(self.data)


def check_stored(document: Document) -> Document:
    """``document`` as read back from the database, if its bytes hash to its name; else
    :class:`DocumentAlteredError`."""
    if hashlib.sha256(document.data).hexdigest() != document.sha256:
        raise DocumentAlteredError(document.sha256, "does not hash to its name")
    return document
