"""The per-entry half of ``ledger verify``: what a worker process checks on a page of rows.

:mod:`ledger.evidence.verify` reads the log in the main process and keeps only what must be
sequential (chain links, time order, the key registry, the Merkle tree). Everything that depends
on one
entry alone runs here, in the pool's worker processes, on pages of raw rows: the hash of the
stored bytes against the leaf, the strict parse, the canonical (RFC 8785) form, the entry's
position, ledger and time against its leaf, and its signature. Each entry comes back as one
small tuple (:data:`Result`), so that little crosses the process boundary and the main process
does a few dictionary operations per entry.

The functions are pure (no I/O) and module-level, so that the pool can pickle them; with one
worker :mod:`ledger.evidence.verify` calls them in-process.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from sys import intern
from typing import Any, NamedTuple

import msgspec
import orjson

from ledger.crypto.suites import profile_named
from ledger.errors import BadSignatureError, MalformedEntryError, NotCanonicalError
from ledger.log import native
from ledger.log.canonical import canonical_bytes
from ledger.log.entries import (
    DATE_PATTERN,
    ENTRY_KEYS,
    FILING_KEYS,
    FILING_VERSION,
    HEX64,
    TIME_PATTERN,
    TOO_DEEP,
    UUID_PATTERN,
    Entry,
    Filing,
    b64decode,
)

Row = tuple[int, str, int, bytes, str, str | None, bytes]
"""One log row: leaf index, stream, seq, the leaf's entry hash and ``recorded_at``, topic (None:
stored as NULL), bytes."""

Problem = tuple[str, str]
"""A failed check of one entry: (check, message); the main process adds where it is."""

Result = tuple[str, int | None, str | None, str | None, str | None, str | None, str,
               tuple[Problem, ...], tuple[bytes, bytes] | None]
"""What a worker returns per row, by position (a plain tuple: cheap to pickle):

0. ``digest``: hex of the entry bytes' hash (the stream's head for the next ``prev``);
1. ``seq``, 2. ``prev``, 3. ``recorded_at``: as the entry says (None: the entry did not parse);
4. ``key``: the key id the filing names;
5. ``actor``: the filing's actor; None for a registry entry (signed by the pinned root key);
6. ``verdict``: the signature, one of :data:`OK`, :data:`BAD`, :data:`UNKNOWN_KEY`,
   :data:`NOT_ROOT` or :data:`UNCHECKED` (the entry did not parse);
7. ``problems``: the entry's failed checks, in the order ``ledger verify`` reports them;
8. ``deferred``: for :data:`UNKNOWN_KEY`, (signed bytes, signature) to check at the end.
"""

OK = "ok"
BAD = "bad"
UNKNOWN_KEY = "unknown-key"
"""The key was not registered in the page's snapshot: checked at the end (same-batch keys)."""
NOT_ROOT = "not-root"
"""A registry entry signed with a key other than the pinned root key."""
UNCHECKED = "unchecked"

_MAX_SAFE_INTEGER = 2**53 - 1
_NO_PROBLEMS: tuple[Problem, ...] = ()
_HASH_PROBLEM: Problem = ("hash", "the entry's bytes do not hash to its log leaf (edited?)")
_CANONICAL_PROBLEM: Problem = ("entry", "the stored bytes are not the entry's canonical JCS form")
_FILING_PREFIX = len(b'{"filing":')


@dataclass(frozen=True)
class PageContext:
    """What every page needs besides its rows: fixed for one verification."""

    profile: str
    origin: str
    registry_stream: str
    root_key_id: str
    root_public_key: bytes


KeyTable = Mapping[str, tuple[str, bytes]]
"""Registered keys as of a page: key id -> (actor, public key)."""


# --- canonical form --------------------------------------------------------------------------


class _NotExactError(ValueError):
    """A float, NaN/Infinity or an integer beyond ±2^53: JSON that JCS does not hash."""


def _reject_number(text: str) -> Any:
    raise _NotExactError(text)


def _safe_int(text: str) -> int:
    value = int(text)
    if len(text) > 15 and abs(value) > _MAX_SAFE_INTEGER:
        raise _NotExactError(text)
    return value


# The decoder refuses what canonical_bytes would refuse, so that a successful parse needs no
# separate walk over the value (canonical._check): that walk was half of the canonical check.
_EXACT = json.JSONDecoder(parse_float=_reject_number, parse_constant=_reject_number,
                          parse_int=_safe_int)
_SCAN: Callable[[str, int], tuple[Any, int]] = _EXACT.scan_once  # type: ignore[attr-defined]
# The same encoder as ledger.log.canonical's fast path: with keys in code point order it writes
# RFC 8785 (see canonical._check's docstring and tests/ledger/log/test_canonical.py).
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)
# Its C core, made once: JSONEncoder.encode builds one per call, with a dict of the containers
# seen (for cycles, which decoded JSON cannot have); a quarter of the encoding's cost.
_C_ENCODE = None if c_make_encoder is None else c_make_encoder(
    None, _ENCODER.default, encode_basestring, None, ":", ",", True, False, True)


def _encode(value: Any) -> str:
    """``_ENCODER.encode(value)`` for a value decoded from JSON (no cycles)."""
    if _C_ENCODE is None:  # an interpreter without the json C accelerator
        return _ENCODER.encode(value)
    return "".join(_C_ENCODE(value, 0))


def _has_supplementary(data: bytes) -> bool:
    """True iff UTF-8 ``data`` holds a character beyond U+FFFF (a 4-byte sequence's lead byte).

    Only then can Python's key order (code points) differ from RFC 8785's (UTF-16 code
    units). Five memchr scans cost a fifth of one regex character-class scan.
    """
    return (b"\xf0" in data or b"\xf1" in data or b"\xf2" in data or b"\xf3" in data
            or b"\xf4" in data)


# The fast path: both halves in C. msgspec's decoder refuses floats through the hook (JCS
# entries hold none); orjson's encoder, with these options, writes compact JSON with keys in
# code point order and RFC 8785's string escapes, and refuses integers beyond +-(2^53 - 1).
# So where its output equals the stored bytes and no key can sort differently in UTF-16,
# those bytes are the value's JCS (tests/ledger/evidence/test_verify_bytes.py holds it to
# canonical_bytes). Anything else is decided by the exact path below, unchanged.
_FAST_DECODE: Callable[[bytes], Any] = msgspec.json.Decoder(float_hook=_reject_number).decode
_FAST_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
_FAST_ENCODE = orjson.dumps


def load_canonical(data: bytes) -> tuple[Any, bool]:
    """Parse JSON bytes as ``json.loads`` does; also say whether they are the value's JCS.

    The flag equals ``canonical_bytes(json.loads(data)) == data`` (False where that raises
    :class:`NotCanonicalError`), at a fifth of its cost for canonical bytes. Raises
    ValueError exactly where ``json.loads`` does, with its message, and for nesting deeper
    than the parser's stack (:data:`TOO_DEEP`).
    """
    try:
        value = _FAST_DECODE(data)
        if (_FAST_ENCODE(value, option=_FAST_OPTIONS) == data
                and (data.isascii() or not _has_supplementary(data))):
            return value, True
    except (msgspec.DecodeError, orjson.JSONEncodeError, RecursionError):
        pass  # not canonical (or not JSON): the exact path decides, and says why
    try:
        return _load_exactly(data)
    except RecursionError as exc:
        raise ValueError(TOO_DEEP) from exc


def _load_exactly(data: bytes) -> tuple[Any, bool]:
    """:func:`load_canonical` with the standard library's parser and encoder alone."""
    try:
        text = data.decode("utf-8")
        # The decoder's scanner without JSONDecoder.decode's whitespace skipping: JCS has no
        # whitespace, so bytes with any around the value (or after it) take the slow way.
        value, end = _SCAN(text, 0)
        if end != len(text):
            raise ValueError("data after the value")
    except (ValueError, StopIteration):  # not UTF-8 or JSON, a BOM, a number JCS refuses,
        return json.loads(data), False   # whitespace: json.loads decides, with its message
    if data.isascii() or not _has_supplementary(data):
        # Every key is in the BMP, so the sort order is RFC 8785's and the comparison decides.
        # (Compared as text: ``data`` is its UTF-8; a lone surrogate, which has no UTF-8 and
        # so no JCS form, can only be in the encoding, from a \ud800 escape, and differs.)
        return value, _encode(value) == text
    try:
        return value, canonical_bytes(value) == data
    except NotCanonicalError:
        return value, False


# --- one entry ---------------------------------------------------------------------------------


def entry_from_json(obj: Any, *, stream: str, seq: int) -> Entry:
    """``Entry.parse`` from an already decoded value (verify decodes the bytes once)."""
    return Entry.from_json(obj, stream=stream, seq=seq)


class EntryFields(NamedTuple):
    """What verify needs of a well-formed entry (strings as stored: ``stream`` is canonical)."""

    seq: int
    prev: str
    recorded_at: str
    signature: str
    stream: str
    type: str
    ledger: str
    key: str
    actor: str
    filing: dict[str, Any]
    """The decoded filing (to encode it where the entry bytes are not canonical)."""


_SHAPES = re.compile(" ".join(pattern.pattern for pattern in (
    HEX64, TIME_PATTERN, UUID_PATTERN, UUID_PATTERN, DATE_PATTERN)), re.ASCII)
"""``prev``, ``recorded_at``, ``stream``, ``nonce`` and ``effective`` joined by spaces, in one
match of the patterns ``Entry.parse`` checks them by (a quarter less than five matches): every
part is of fixed length and holds no space, so the whole matches only where each part matches
its own pattern. (All five are ASCII-only, ``\\d`` included.)"""


def entry_fields(obj: Any, *, stream: str, seq: int) -> EntryFields:
    """The fields of a decoded entry, checked exactly as ``Entry.parse`` checks them.

    Raises :class:`MalformedEntryError` with ``Entry.parse``'s message. Most entries pass
    :func:`_plainly_valid`, a few cheap tests that imply every check of ``Entry.parse`` (no
    ``UUID`` or dataclass objects built: those were a third of a worker's parsing); anything
    else takes ``Entry.parse``'s own path, for its verdict and its message.
    """
    if _plainly_valid(obj):
        filing = obj["filing"]
        return EntryFields(obj["seq"], obj["prev"], obj["recorded_at"], obj["signature"],
                           filing["stream"], filing["type"], filing["ledger"], filing["key"],
                           filing["actor"], filing)
    entry = entry_from_json(obj, stream=stream, seq=seq)
    parsed = entry.filing
    return EntryFields(entry.seq, entry.prev, entry.recorded_at, entry.signature,
                       str(parsed.stream), parsed.type, parsed.ledger, parsed.key, parsed.actor,
                       obj["filing"])


def _plainly_valid(obj: Any) -> bool:
    """True only if ``Entry.parse`` accepts ``obj`` (False: let it decide, and say why)."""
    return (type(obj) is dict and obj.keys() == ENTRY_KEYS
            and type(obj["seq"]) is int and obj["seq"] >= 1
            and type(obj["signature"]) is str
            and type(obj["prev"]) is str and type(obj["recorded_at"]) is str
            and _plainly_valid_filing(obj["filing"], obj["prev"], obj["recorded_at"]))


def _plain_strings(filing: dict[str, Any]) -> bool:
    """Every string field of the filing is a non-empty ``str`` (written out: a generator
    expression here cost a fifth of the whole test)."""
    ledger, stream, type_, effective = (filing["ledger"], filing["stream"], filing["type"],
                                        filing["effective"])
    actor, key, nonce = filing["actor"], filing["key"], filing["nonce"]
    return (type(ledger) is str and type(stream) is str and type(type_) is str
            and type(effective) is str and type(actor) is str and type(key) is str
            and type(nonce) is str
            and bool(ledger and stream and type_ and effective and actor and key and nonce))


def _plainly_valid_filing(filing: Any, prev: str, recorded_at: str) -> bool:
    """True only if ``Filing.from_json`` accepts ``filing``, and ``prev`` and ``recorded_at``
    (strings) are of their patterns."""
    if not (type(filing) is dict and filing.keys() == FILING_KEYS
            and type(filing["v"]) is int and filing["v"] == FILING_VERSION
            and type(filing["payload"]) is dict
            and _plain_strings(filing)
            and _SHAPES.fullmatch(" ".join((prev, recorded_at, filing["stream"],
                                            filing["nonce"], filing["effective"])))):
        return False
    try:
        date.fromisoformat(filing["effective"])  # a real day (not 2025-02-30)
    except ValueError:
        return False
    return True


def signed_bytes(fields: EntryFields, data: bytes, canonical: bool) -> bytes | None:
    """JCS(filing), the bytes the author signed; None if the filing has no JCS form.

    Canonical entry bytes (``canonical``: ``data`` is the JCS of the entry ``fields`` came
    from) start with the filing's JCS (RFC 8785 sorts ``filing`` first), so it is sliced out
    of them rather than encoded again.
    """
    if canonical:
        # In JCS the filing is followed by ``,"prev":"``, the last such bytes: the members after
        # it are a hash, a time, a number and a string (in which a quote is escaped, so a comma
        # is never right before one).
        end = data.rfind(b',"prev":"')
        if end > _FILING_PREFIX:
            return data[_FILING_PREFIX:end]
    try:
        return Filing.from_json(fields.filing).signing_bytes()
    except NotCanonicalError:
        return None


def _position_problems(fields: EntryFields, row: Row, ctx: PageContext) -> list[Problem]:
    """The entry against its leaf: stream, seq, type, ledger and time."""
    _, stream, seq, _, leaf_time, topic, _ = row
    problems: list[Problem] = []
    if fields.seq != seq or fields.stream != stream or fields.type != topic:
        problems.append(("entry", f"the entry says stream {fields.stream} seq {fields.seq}"
                                  f" type {fields.type}"))
    if fields.ledger != ctx.origin:
        problems.append(("entry", f"filed for ledger {fields.ledger!r}"))
    if fields.recorded_at != leaf_time:
        problems.append(("time", f"recorded_at {fields.recorded_at} differs from its leaf's"
                                 f" {leaf_time}"))
    return problems


def check_row(row: Row, ctx: PageContext, keys: KeyTable) -> Result:
    """Every check of one entry that needs nothing but the entry, its leaf and the keys."""
    result, task = _check_row(row, ctx, keys)
    if task is not None:
        result = _with_verdict(result, task, ctx.profile)
    return result


_Task = tuple[bytes, bytes, bytes]
"""A signature to check: public key, message, signature."""


def _with_verdict(result: Result, task: _Task, profile: str) -> Result:
    """``result`` with the verdict of its signature ``task``."""
    verdict = OK if verifies(profile, *task) else BAD
    return (*result[:6], verdict, *result[7:])


def _check_row(row: Row, ctx: PageContext, keys: KeyTable) -> tuple[Result, _Task | None]:
    """:func:`check_row` but for the signature's check itself: the result (its verdict
    :data:`UNCHECKED` where a task is returned) and the signature to check, if any."""
    _, stream, seq, leaf_hash, _, _, data = row
    digest = _digest(ctx.profile)(data)
    problems: list[Problem] = [] if digest == leaf_hash else [_HASH_PROBLEM]
    fields = _scanned_fields(data)
    canonical = fields is not None
    if fields is None:
        try:
            try:
                obj, canonical = load_canonical(data)
            except ValueError as exc:  # not JSON: Entry.parse's error and message
                raise MalformedEntryError(str(exc), stream=stream, seq=seq) from exc
            fields = entry_fields(obj, stream=stream, seq=seq)
        except MalformedEntryError as exc:
            problems.append(("entry", exc.what))
            return (digest.hex(), None, None, None, None, None, UNCHECKED, tuple(problems),
                    None), None
    if not canonical:
        problems.append(_CANONICAL_PROBLEM)
    problems += _position_problems(fields, row, ctx)
    registry = fields.stream == ctx.registry_stream
    verdict, deferred, task = _signature(fields, data, canonical, ctx, keys,
                                         registry=registry)
    # Key, actor and time repeat from entry to entry: interned, each is pickled once a page
    # and the main process keeps one copy of it, not one per entry.
    return (digest.hex(), fields.seq, fields.prev, intern(fields.recorded_at),
            intern(fields.key), None if registry else intern(fields.actor), verdict,
            tuple(problems) or _NO_PROBLEMS, deferred), task


def _scanned_fields(data: bytes) -> EntryFields | None:
    """The fields of an entry whose bytes the compiled scan finds canonical beyond doubt and
    that is plainly valid (``native.SCAN_ENTRY``: its payload is checked, not built); None
    for anything else, which the exact path decides and names.

    The filing's signed bytes are then always sliced from the entry's (``signed_bytes``), so
    the payload that stands empty here is never encoded; an entry they cannot be sliced from
    is left to the exact path as well.
    """
    scan = native.SCAN_ENTRY
    if scan is None:
        return None
    obj = scan(data)
    if obj is None or not _plainly_valid(obj) or data.rfind(b',"prev":"') <= _FILING_PREFIX:
        return None
    filing = obj["filing"]
    return EntryFields(obj["seq"], obj["prev"], obj["recorded_at"], obj["signature"],
                       filing["stream"], filing["type"], filing["ledger"], filing["key"],
                       filing["actor"], filing)


@cache
def _digest(profile: str) -> Callable[[bytes], bytes]:
    """The profile's hash as one call on the stored bytes (hashlib directly for SHA-256: the
    suite's method adds a call per entry for the same bytes)."""
    suite = profile_named(profile).hash
    if suite.name == "sha256":
        sha256 = hashlib.sha256
        return lambda data: sha256(data).digest()
    return suite.digest


def _signature(fields: EntryFields, data: bytes, canonical: bool, ctx: PageContext,
               keys: KeyTable, *, registry: bool
               ) -> tuple[str, tuple[bytes, bytes] | None, _Task | None]:
    """The signature's verdict where it needs no check (else :data:`UNCHECKED`); for a key
    not yet registered, what to check it with later; the check to make, if any."""
    if registry:
        if fields.key != ctx.root_key_id:
            return NOT_ROOT, None, None
        public_key: bytes | None = ctx.root_public_key
    else:
        known = keys.get(fields.key)
        public_key = None if known is None else known[1]
    message = signed_bytes(fields, data, canonical)
    signature = _b64_or_empty(fields.signature)
    if public_key is None:  # registered later in the log (or never): judged at the end
        return UNKNOWN_KEY, (message or b"", signature if message is not None else b""), None
    if message is None:
        return BAD, None, None
    return UNCHECKED, None, (public_key, message, signature)


def verifies(profile: str, public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True iff ``signature`` over ``message`` holds under ``public_key``."""
    try:
        profile_named(profile).signature.verify(public_key, message, signature)
    except BadSignatureError:
        return False
    return True


def _b64_or_empty(text: str) -> bytes:
    """The decoded signature; empty (never valid) if it is not strict base64."""
    try:
        return b64decode(text)
    except ValueError:
        return b""


# --- pages ---------------------------------------------------------------------------------------


_snapshot: tuple[object, KeyTable] = (None, {})
"""The key table last unpickled in this process, with its token (one per registry version)."""


def _key_table(token: object, blob: bytes) -> KeyTable:
    """The key table of ``token``: unpickled once per registry change, not once per page."""
    global _snapshot  # noqa: PLW0603 (a per-process cache, replaced whole: no torn reads)
    cached = _snapshot
    if cached[0] != token:
        cached = (token, pickle.loads(blob))  # noqa: S301 (our own main process pickled it)
        _snapshot = cached
    return cached[1]


def check_page(ctx: PageContext, token: object, keys_blob: bytes,
               rows: Sequence[Row]) -> list[Result]:
    """Worker: :func:`check_row` for each row of a page, the key table given pickled."""
    keys = _key_table(token, keys_blob)
    checked = [_check_row(row, ctx, keys) for row in rows]
    # The signatures after the rest, in one loop: interleaved with them, the rest cost 2-3 µs
    # more an entry in a verify run (20 against 17.5), each evicting the other's code and
    # data from the caches (docs/performance.md).
    profile = ctx.profile
    return [result if task is None else _with_verdict(result, task, profile)
            for result, task in checked]


def check_signatures(profile: str, tasks: Sequence[tuple[bytes, bytes, bytes]]) -> list[int]:
    """Worker: indexes of the (public key, message, signature) tasks that do not verify."""
    return [index for index, (public_key, message, signature) in enumerate(tasks)
            if not verifies(profile, public_key, message, signature)]
