"""Filings and entries exactly as docs/design.md §5 defines them.

A *filing* is what an author signs. An *entry* is what the ledger stores: the filing, its
signature, the stream position (``seq``), the previous entry's hash (``prev``) and the time the
ledger recorded it. The entry hash is the profile's hash of the entry's canonical bytes, and the
stored bytes *are* those canonical bytes, so an independent verifier recomputes exactly them.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property, lru_cache
from typing import Any, cast
from uuid import UUID

from ledger.errors import MalformedEntryError
from ledger.log.canonical import JSONValue, canonical_bytes

FILING_VERSION = 1
ZERO_HASH = "0" * 64
"""``prev`` of every stream's first entry (seq 1)."""

FILING_KEYS = frozenset(
    {"v", "ledger", "stream", "type", "effective", "payload", "actor", "key", "nonce"}
)
"""A filing's keys, exactly (docs/evidence-format.md)."""
ENTRY_KEYS = frozenset({"filing", "signature", "seq", "prev", "recorded_at"})
"""An entry's keys, exactly."""
_PENDING_KEYS = frozenset({"filing", "signature", "seq"})
HEX64 = re.compile(r"[0-9a-f]{64}")
"""A SHA-256 (or SM3) hash as entries write it: 64 lowercase hex digits."""
# re.ASCII: \d is [0-9] only (unflagged it also takes other scripts' digits, e.g. '２').
TIME_PATTERN = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", re.ASCII)
"""``recorded_at`` and other log times: UTC, microseconds, ``Z``."""
UUID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
"""Exactly the strings ``str(UUID(s)) == s`` accepts: a filing's ``stream`` and ``nonce``."""
DATE_PATTERN = re.compile(r"\d{4}-\d\d-\d\d", re.ASCII)
"""A filing's ``effective`` day, before it is checked as a real day."""
_DECODER = json.JSONDecoder()
TOO_DEEP = "JSON nested too deeply to be an entry"
"""The message for bytes whose nesting exhausts the parser's stack (no entry the ledger writes
comes near it: only an edited row does). Reported as malformed, never as a crash."""


@lru_cache(maxsize=4096)
def _stream_id(text: str) -> UUID:
    """A stream id's UUID: a stream's entries all name it, so a read parses it once."""
    return UUID(text)


def format_time(moment: datetime) -> str:
    """Return RFC 3339 UTC with six fractional digits: ``2026-03-02T01:02:03.000004Z``."""
    if moment.tzinfo is None:
        raise ValueError("recorded times must be timezone-aware")
    # isoformat: a third of strftime's cost, and always four year digits.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


END_OF_TIME = "9999-12-31T23:59:59.999999Z"
"""Later than any ``recorded_at`` (fixed-width RFC 3339 strings compare as times)."""


def parse_time(text: str) -> datetime:
    """Parse a time written by :func:`format_time` (strictly that form)."""
    if not TIME_PATTERN.fullmatch(text):
        raise ValueError(f"expected RFC 3339 UTC with microseconds, got {text!r}")
    # The form is checked above; fromisoformat is ~50x faster than strptime on a read path.
    return datetime.fromisoformat(text)


def b64encode(data: bytes) -> str:
    """Standard base64 with padding (docs/design.md §5: signatures and keys)."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str) -> bytes:
    """Strict standard base64 with padding."""
    try:  # base64.b64decode(validate=True) is this call behind a Python wrapper
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError) as exc:  # ValueError: not ASCII
        raise ValueError(f"not standard base64: {text[:16]!r}…") from exc


@dataclass(frozen=True)
class Filing:
    """What the author signs (docs/design.md §5 *Filing*)."""

    ledger: str
    stream: UUID
    type: str
    effective: date
    payload: Mapping[str, Any]
    actor: str
    key: str
    nonce: UUID
    v: int = FILING_VERSION

    def to_json(self) -> dict[str, JSONValue]:
        """The filing as plain JSON, ready for :func:`canonical_bytes`."""
        return {
            "v": self.v,
            "ledger": self.ledger,
            "stream": str(self.stream),
            "type": self.type,
            "effective": self.effective.isoformat(),
            "payload": cast(JSONValue, self.payload),
            "actor": self.actor,
            "key": self.key,
            "nonce": str(self.nonce),
        }

    def signing_bytes(self) -> bytes:
        """JCS(filing): the exact bytes the author's signature covers."""
        return self._signing_bytes

    @cached_property
    def _signing_bytes(self) -> bytes:
        # A filing is signed, checked, stored pending and sealed: encode it once.
        return canonical_bytes(self.to_json())

    @classmethod
    def from_json(cls, data: object) -> Filing:
        """Parse a filing strictly: exact key set, types, canonical UUID and date forms."""
        if not isinstance(data, dict) or set(data) != FILING_KEYS:
            keys = sorted(data) if isinstance(data, dict) else type(data).__name__
            raise ValueError(f"a filing has exactly the keys {sorted(FILING_KEYS)}, got {keys}")
        if data["v"] != FILING_VERSION or isinstance(data["v"], bool):
            raise ValueError(f"unsupported filing version {data['v']!r}")
        for name in ("ledger", "stream", "type", "effective", "actor", "key", "nonce"):
            if not isinstance(data[name], str) or not data[name]:
                raise ValueError(f"filing.{name} must be a non-empty string")
        if not isinstance(data["payload"], dict):
            raise ValueError("filing.payload must be an object")
        if not (UUID_PATTERN.fullmatch(data["stream"])
                and UUID_PATTERN.fullmatch(data["nonce"])):
            raise ValueError("stream and nonce must be lowercase hyphenated UUIDs")
        if not DATE_PATTERN.fullmatch(data["effective"]):
            raise ValueError("effective must be YYYY-MM-DD")
        effective = date.fromisoformat(data["effective"])  # also refuses 2026-02-30
        return cls(
            ledger=data["ledger"], stream=_stream_id(data["stream"]), type=data["type"],
            effective=effective,
            payload=data["payload"], actor=data["actor"], key=data["key"],
            nonce=UUID(data["nonce"]),
        )


@dataclass(frozen=True)
class PendingEntry:
    """An entry before the ledger seals it: position chosen, ``prev`` and time not yet."""

    filing: Filing
    signature: str
    seq: int

    def to_json(self) -> dict[str, JSONValue]:
        """Plain JSON of the pending entry (what travels to the sealer)."""
        return {"filing": self.filing.to_json(), "signature": self.signature, "seq": self.seq}

    def canonical(self) -> bytes:
        """JCS of :meth:`to_json`, around the filing's own canonical bytes."""
        return _around_filing(self.filing, (("seq", self.seq), ("signature", self.signature)))

    def sealed(self, prev: str, recorded_at: str) -> Entry:
        """Return the entry with its chain link and ledger time."""
        return Entry(self.filing, self.signature, self.seq, prev, recorded_at)

    @classmethod
    def from_bytes(cls, data: bytes) -> PendingEntry:
        """Parse the pending form written by :meth:`to_json`."""
        try:
            obj = json.loads(data)
        except RecursionError as exc:
            raise ValueError(TOO_DEEP) from exc
        if not isinstance(obj, dict) or set(obj) != _PENDING_KEYS:
            raise ValueError("not a pending entry")
        return cls(Filing.from_json(obj["filing"]), obj["signature"], obj["seq"])


@dataclass(frozen=True)
class Entry:
    """What the ledger stores (docs/design.md §5 *Entry*)."""

    filing: Filing
    signature: str
    seq: int
    prev: str
    recorded_at: str

    def to_json(self) -> dict[str, JSONValue]:
        """The entry as plain JSON."""
        return {
            "filing": self.filing.to_json(),
            "signature": self.signature,
            "seq": self.seq,
            "prev": self.prev,
            "recorded_at": self.recorded_at,
        }

    def canonical(self) -> bytes:
        """JCS(entry): the stored bytes, and the input of the entry hash."""
        return _around_filing(self.filing, (
            ("prev", self.prev), ("recorded_at", self.recorded_at), ("seq", self.seq),
            ("signature", self.signature)))

    @classmethod
    def parse(cls, data: bytes, *, stream: UUID | str | None = None,
              seq: int | None = None) -> Entry:
        """Parse stored bytes into an entry, checking shape and canonical form.

        Raises :class:`MalformedEntryError` naming the stream and seq the caller expected.
        """
        try:
            obj = _DECODER.decode(data.decode("utf-8"))  # stored entries are UTF-8 (JCS)
        except ValueError as exc:
            raise MalformedEntryError(str(exc), stream=stream, seq=seq) from exc
        except AttributeError as exc:  # not bytes at all: SQLite keeps any type in a column
            raise MalformedEntryError(f"the entry is stored as {type(data).__name__}, not bytes",
                                      stream=stream, seq=seq) from exc
        except RecursionError as exc:  # an edited row nested past the stack: malformed too
            raise MalformedEntryError(TOO_DEEP, stream=stream, seq=seq) from exc
        return cls.from_json(obj, stream=stream, seq=seq)

    @classmethod
    def from_json(cls, obj: object, *, stream: UUID | str | None = None,
                  seq: int | None = None) -> Entry:
        """:meth:`parse` of an already decoded value (verify decodes once for several checks).

        Raises :class:`MalformedEntryError` naming the stream and seq the caller expected.
        """
        try:
            if not isinstance(obj, dict) or set(obj) != ENTRY_KEYS:
                raise ValueError(f"an entry has exactly the keys {sorted(ENTRY_KEYS)}")
            entry_seq, prev, recorded_at = obj["seq"], obj["prev"], obj["recorded_at"]
            if not isinstance(entry_seq, int) or isinstance(entry_seq, bool) or entry_seq < 1:
                raise ValueError("seq must be a positive integer")
            if not isinstance(prev, str) or not HEX64.fullmatch(prev):
                raise ValueError("prev must be 64 lowercase hex digits")
            if not isinstance(recorded_at, str) or not TIME_PATTERN.fullmatch(recorded_at):
                raise ValueError("recorded_at must be RFC 3339 UTC with microseconds")
            if not isinstance(obj["signature"], str):
                raise ValueError("signature must be a base64 string")
            entry = cls(Filing.from_json(obj["filing"]), obj["signature"], entry_seq, prev,
                        recorded_at)
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedEntryError(str(exc), stream=stream, seq=seq) from exc
        except RecursionError as exc:  # the canonical check's walk of a too deep payload
            raise MalformedEntryError(TOO_DEEP, stream=stream, seq=seq) from exc
        return entry


def _around_filing(filing: Filing, members: tuple[tuple[str, JSONValue], ...]) -> bytes:
    """JCS of ``{"filing": filing, **members}`` with the filing's bytes spliced in, not
    encoded again. ``members`` come in JCS order: every key sorts after ``filing``."""
    parts = [b'{"filing":', filing.signing_bytes()]
    for key, value in members:
        parts += (b',"', key.encode("ascii"), b'":', canonical_bytes(value))
    parts.append(b"}")
    return b"".join(parts)
