"""Uploaded documents: stored content-addressed, checked against what they claim to be, kept
with who uploaded them, and required before a filing cites them.

**What is accepted** (:data:`ACCEPTED`, listed in docs/api.md): the declared media type must be
one of these and the content must be what it says — PDF (``%PDF-``); PNG (its signature, then
an ``IHDR`` chunk); JPEG (``FF D8 FF``); GIF (``GIF87a``/``GIF89a``); the Office formats as the
containers they are (docx, xlsx, pptx: a zip holding ``[Content_Types].xml`` and the format's
own part; doc, xls, ppt: an OLE compound file); OFD (GB/T 33190: a zip holding ``OFD.xml``);
a zip; JSON (well-formed); plain text (UTF-8, with no HTML in it). An image with HTML in its
first kilobyte is refused too: a browser that sniffs would render it as a page. Downloads are
served as attachments with ``nosniff`` and a sandboxing CSP besides (docs/api.md).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.errors import DocumentAlteredError, ValidationFailedError
from ledger.log.documents import Document
from ledger.log.entries import format_time
from ledger.log.store import LogStore
from ledger.measures.catalogue import documents_referenced
from ledger.settings import Settings

_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OOXML = "application/vnd.openxmlformats-officedocument."


@dataclass(frozen=True)
class Accepted:
    """One accepted media type: how its content is recognised, and the file extension a
    download is named with."""

    media_type: str
    extension: str
    name: str
    check: Callable[[bytes], str | None]
    """None if the content is this type, else what is wrong with it."""


def _starts(*magic: bytes) -> Callable[[bytes], str | None]:
    def check(data: bytes) -> str | None:
        return None if data.startswith(magic) else "its first bytes are not this type's"
    return check


def _png(data: bytes) -> str | None:
    if not data.startswith(b"\x89PNG\r\n\x1a\n") or data[12:16] != b"IHDR":
        return "it is not a PNG image (signature and IHDR chunk)"
    return None


def _zip_with(*required: str, prefix: str | None = None) -> Callable[[bytes], str | None]:
    """A zip container holding ``required`` members (and one under ``prefix``)."""

    def check(data: bytes) -> str | None:
        if not data.startswith(_ZIP):
            return "it is not a zip container"
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())  # the central directory only: nothing inflated
        except (zipfile.BadZipFile, ValueError, EOFError):
            return "its zip container is damaged"
        missing = [name for name in required if name not in names]
        if prefix is not None and not any(name.startswith(prefix) for name in names):
            missing.append(prefix + "…")
        return f"its container lacks {', '.join(missing)}" if missing else None

    return check


def _ofd(data: bytes) -> str | None:
    found = _zip_with()(data)
    if found is not None:
        return found
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        if not any(name.rsplit("/", 1)[-1] == "OFD.xml" for name in archive.namelist()):
            return "its container lacks OFD.xml (GB/T 33190)"
    return None


def _utf8(data: bytes) -> str | None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "it is not UTF-8 text"
    return None


def _json(data: bytes) -> str | None:
    try:
        json.loads(data)
    except (ValueError, RecursionError):
        return "it is not well-formed UTF-8 JSON"
    return None


def _text(data: bytes) -> str | None:
    problem = _utf8(data)
    if problem is None and _HTML.search(data):
        return "it holds HTML markup (upload a PDF or OFD of it instead)"
    return problem


ACCEPTED: tuple[Accepted, ...] = (
    Accepted("application/pdf", "pdf", "PDF", _starts(b"%PDF-")),
    Accepted("application/ofd", "ofd", "OFD (GB/T 33190, zip with OFD.xml)", _ofd),
    Accepted("image/png", "png", "PNG", _png),
    Accepted("image/jpeg", "jpg", "JPEG", _starts(b"\xff\xd8\xff")),
    Accepted("image/gif", "gif", "GIF", _starts(b"GIF87a", b"GIF89a")),
    Accepted(_OOXML + "wordprocessingml.document", "docx", "Word (docx)",
             _zip_with("[Content_Types].xml", prefix="word/")),
    Accepted(_OOXML + "spreadsheetml.sheet", "xlsx", "Excel (xlsx)",
             _zip_with("[Content_Types].xml", prefix="xl/")),
    Accepted(_OOXML + "presentationml.presentation", "pptx", "PowerPoint (pptx)",
             _zip_with("[Content_Types].xml", prefix="ppt/")),
    Accepted("application/msword", "doc", "Word 97–2003 (doc, OLE)", _starts(_OLE)),
    Accepted("application/vnd.ms-excel", "xls", "Excel 97–2003 (xls, OLE)", _starts(_OLE)),
    Accepted("application/vnd.ms-powerpoint", "ppt", "PowerPoint 97–2003 (ppt, OLE)",
             _starts(_OLE)),
    Accepted("application/zip", "zip", "zip", _zip_with()),
    Accepted("application/json", "json", "JSON", _json),
    Accepted("text/plain", "txt", "plain text (UTF-8, no HTML)", _text),
)
_BY_TYPE = {accepted.media_type: accepted for accepted in ACCEPTED}

# What a browser that sniffs takes for HTML (the WHATWG MIME sniffing standard's HTML patterns,
# with SVG, XML and a few more): refused in text, and in any document's first kilobyte.
_HTML = re.compile(
    rb"<(?:!doctype|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p"
    rb"|svg|img|object|embed|meta|link|form|base|\?xml|!--)(?:[\s>/]|$)", re.IGNORECASE)
_SNIFFED = 1024


def extension_of(media_type: str) -> str:
    """The file extension a download of this media type is named with."""
    accepted = _BY_TYPE.get(media_type)
    return accepted.extension if accepted is not None else "bin"


def served(document: Document) -> Document:
    """``document`` if it may be served as its stored media type: one accepted, with content of
    that type (as its upload was checked); else :class:`DocumentAlteredError` (the media type
    was edited in the database; its bytes are checked against its hash when it is read)."""
    accepted = _BY_TYPE.get(document.media_type)
    wrong = "is not an accepted type" if accepted is None else accepted.check(document.data)
    if wrong is not None:
        raise DocumentAlteredError(document.sha256, f"is stored as {document.media_type!r},"
                                                    f" which its content is not ({wrong})")
    return document


def check_content(data: bytes, media_type: str, limit: int) -> str:
    """Validate an upload: its size, an accepted media type, content that is that type and
    no HTML a browser could render; return its SHA-256 or raise ValidationFailedError."""
    media = media_type.split(";", 1)[0].strip().lower()
    accepted = _BY_TYPE.get(media)
    if accepted is None:
        raise ValidationFailedError("document", [("media_type", (
            f"{media or 'none'} is not accepted; use one of "
            + ", ".join(a.media_type for a in ACCEPTED)))])
    problems: list[tuple[str, str]] = []
    if not data:
        problems.append(("file", "the document is empty"))
    elif len(data) > limit:
        problems.append(("file", f"the document is {len(data)} bytes; the limit is {limit}"))
    else:
        wrong = accepted.check(data)
        if wrong is None and media.startswith("image/") and _HTML.search(data[:_SNIFFED]):
            wrong = "it holds HTML markup a browser could render"
        if wrong is not None:
            problems.append(("media_type", f"the content is not {media}: {wrong}"))
    if problems:
        raise ValidationFailedError("document", problems)
    return hashlib.sha256(data).hexdigest()


class DocumentBook:
    """Stores documents, records who uploaded them, and checks that every document a payload
    cites exists."""

    def __init__(self, log: LogStore, settings: Settings,
                 clock: Callable[[], datetime]) -> None:
        self._log = log
        self._settings = settings
        self._clock = clock
        self._known: set[str] = set()

    def add(self, data: bytes, media_type: str, *, owner: str | None = None,
            actor: str | None = None) -> Document:
        """Store an uploaded document content-addressed; return it (idempotent).

        With ``owner`` (a unit, or an actor of another role) the upload is recorded as that
        owner's, and the returned ``added_at`` is when *that owner* first uploaded it: another
        unit's earlier upload of the same bytes is not revealed.
        """
        sha256 = check_content(data, media_type, self._settings.max_document_bytes)
        now = format_time(self._clock())
        document = Document(sha256, media_type.split(";", 1)[0].strip().lower(), data, now)
        self._log.put_document(document)
        stored = self._log.get_document(sha256) or document
        if owner is None:
            return stored
        first = self._log.put_document_owner(sha256, owner, actor or owner, now)
        return Document(stored.sha256, stored.media_type, stored.data, first)

    def owned_by(self, sha256: str, owner: str) -> bool:
        """Whether ``owner`` uploaded the document."""
        return self._log.document_owned_by(sha256, owner)

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


__all__ = ["ACCEPTED", "Accepted", "DocumentBook", "check_content", "extension_of"]
