"""Documents: files a filing references by SHA-256 (申报材料, 合同文本, 验收报告 …).

They are stored content-addressed in the ledger's own database (so a backup is one thing) and a
filing that references a document not uploaded is refused. The media-type check accepts the
formats officials file (PDF, OFD, images, office documents, text, zip) and sniffs the leading
bytes of those that have a signature, so a file cannot claim to be what it is not.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ledger.errors import ValidationFailedError

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024

# media type → accepted leading bytes (empty: no reliable signature to check).
_MEDIA_TYPES: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "application/ofd": (b"PK\x03\x04",),  # GB/T 33190 OFD is a zip container
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "application/zip": (b"PK\x03\x04",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (b"PK\x03\x04",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (b"PK\x03\x04",),
    "application/msword": (b"\xd0\xcf\x11\xe0",),
    "application/vnd.ms-excel": (b"\xd0\xcf\x11\xe0",),
    "text/plain": (),
    "application/json": (),
}


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


def check_document(data: bytes, media_type: str, limit: int = MAX_DOCUMENT_BYTES) -> str:
    """Validate a document for upload; return its SHA-256 (hex) or raise ValidationFailedError."""
    media_type = media_type.split(";", 1)[0].strip().lower()
    problems: list[tuple[str, str]] = []
    if not data:
        problems.append(("file", "the document is empty"))
    if len(data) > limit:
        problems.append(("file", f"the document is {len(data)} bytes; the limit is {limit}"))
    signatures = _MEDIA_TYPES.get(media_type)
    if signatures is None:
        problems.append(("media_type", f"{media_type or 'none'} is not accepted; use one of "
                         + ", ".join(sorted(_MEDIA_TYPES))))
    elif signatures and not data.startswith(signatures):
        problems.append(("media_type", f"the content is not {media_type}"))
    elif media_type.startswith("text/") or media_type == "application/json":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(("media_type", f"{media_type} must be UTF-8 text"))
    if problems:
        raise ValidationFailedError("document", problems)
    return hashlib.sha256(data).hexdigest()
