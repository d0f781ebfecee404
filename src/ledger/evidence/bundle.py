"""Evidence bundles (docs/design.md §5, *Evidence bundle*): the format, and the offline verifier.

A bundle is a zip holding ``bundle.json``, ``report.html`` (a printable rendering, not evidence)
and ``documents/<sha256>`` for every document the entries reference. ``bundle.json`` is::

    {"format": "audit-ledger-evidence/2", "profile": "intl", "origin": ORIGIN, "stream": UUID,
     "exported_at": TIME, "checkpoint": NOTE_TEXT, "log_key": VKEY,
     "root_key": {"key_id", "suite", "public_key"},
     "entries": [ITEM...], "registry": [ITEM...],
     "heads": {"project": HEAD_PROOF, "registry": HEAD_PROOF},
     "projections": {NAME: {"state": {...}, "state_hash": HEX64}},
     "evaluation": {"on": DATE, "as_known_at": TIME|null, "calendar": {...},
                    "calendar_digest": HEX64}}

with ITEM = ``{"entry": ENTRY, "hash": HEX64, "leaf_index": INT, "inclusion_proof": [HEX64...]}``
and HEAD_PROOF = ``{"stream": UUID, "head": HEAD|null, "proof": PROOF}`` (the stream heads map's
proof of the stream's head at the checkpoint: :mod:`ledger.log.headmap`). Format 1 is the same
without ``heads``: it still verifies, with a warning that its completeness is not proven
(``docs/evidence-format.md`` is the full description, with a worked example).

This module builds that dict and the zip bytes from plain inputs (:func:`build_bundle_json`,
:func:`pack_bundle`) and verifies a bundle with :func:`verify_bundle`, offline: it imports only
the pure parts of ``ledger`` (canonical bytes, entries, Merkle proofs, checkpoints, suites,
facts, rules, views, trail, calendar, catalogue, and the domain events and ``fact_entry`` that
the trail already folds with, which need only ``eventsourcing.domain``) and the standard
library — no database driver, no eventsourcing recorder or application, no web framework
(``tests/ledger/evidence/test_bundle.py`` pins that in a fresh interpreter).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import stat
import struct
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import IO, Any, Final, NoReturn, cast
from uuid import UUID

from ledger.crypto.suites import Profile, profile_named
from ledger.errors import ConfigurationError, IntegrityFailedError, LedgerError
from ledger.log import merkle
from ledger.log.canonical import JSONValue, canonical_bytes
from ledger.log.checkpoint import (
    COSIGNATURE_V1,
    SignedNote,
    VerifierKey,
    cosignature_timestamp,
    verify_note,
)
from ledger.log.entries import ZERO_HASH, Entry, b64decode, b64encode, format_time, parse_time
from ledger.log.headmap import (
    HeadProof,
    StreamHead,
    head_from_json,
    head_to_json,
    heads_root,
    proof_from_json,
    proof_to_json,
    verify_head,
)
from ledger.measures import views
from ledger.measures.aggregates import KeyRecord, fact_entry
from ledger.measures.calendar import WorkingCalendar
from ledger.measures.catalogue import documents_referenced, spec_for, validate_payload
from ledger.measures.events import EntryEvent, event_class
from ledger.measures.facts import ProjectFacts, empty_facts, fold
from ledger.measures.roles import Role
from ledger.measures.trail import TrailActor, trail

__all__ = [
    "BUNDLE_JSON",
    "DEFAULT_LIMITS",
    "DOCUMENTS_DIR",
    "FORMAT",
    "FORMATS",
    "FORMAT_V1",
    "PROJECTION_NAMES",
    "REPORT_HTML",
    "BundleFailure",
    "BundleFormatError",
    "BundleHead",
    "BundleItem",
    "BundleLimits",
    "BundleReport",
    "BundleSigner",
    "BundleTrustError",
    "BundleVerificationError",
    "LogKeyNotPinnedError",
    "build_bundle_json",
    "loads_strict",
    "pack_bundle",
    "read_bundle_json",
    "recompute_projections",
    "registry_stream_for",
    "verify_bundle",
]

FORMAT: Final = "audit-ledger-evidence/2"
"""The ``format`` member of the bundles this module writes: format 2, with the stream heads."""
FORMAT_V1: Final = "audit-ledger-evidence/1"
"""Format 1: no ``heads`` member. Written only for a checkpoint signed before the log's heads map
started (it has no ``heads`` line); verified with a warning that completeness is not proven."""
FORMATS: Final = (FORMAT_V1, FORMAT)
"""The formats :func:`verify_bundle` reads."""
BUNDLE_JSON: Final = "bundle.json"
REPORT_HTML: Final = "report.html"
DOCUMENTS_DIR: Final = "documents/"
NAMES_JSON: Final = "names.json"
"""Optional: ``{sha256: file name}`` for the shipped documents, so that people (and tools that
extract a bundle) see ``合同文本.pdf`` rather than a bare hash. Not evidence: a verifier checks
that it is well formed and names only shipped documents, and nothing else depends on it."""
_SAFE_FILE_NAME: Final = re.compile(r"^(?!\.{1,2}$)[^\x00-\x1f\x7f/\\:*?\"<>|]{1,120}$")
PROJECTION_NAMES: Final = ("project", "eligibility", "obligations", "trail")
"""The per-project views a bundle ships (docs/design.md §4.1, 4.2, 4.3, 4.5), all recomputed."""

ROOT_ACTOR: Final = "root"
# The registry stream id is uuid5(this namespace, ORIGIN): the same constant as
# ``ledger.app._REGISTRY_NAMESPACE`` (repeated here because ledger.app needs a database;
# tests/ledger/evidence/test_bundle.py pins that the two agree).
_REGISTRY_NAMESPACE: Final = UUID("6f1d2c1e-3b0a-5d7e-9a4b-8c2f0e1d3a5b")

_BUNDLE_KEYS_V1: Final = frozenset({
    "format", "profile", "origin", "stream", "exported_at", "checkpoint", "log_key",
    "root_key", "entries", "registry", "projections", "evaluation"})
_BUNDLE_KEYS: Final = _BUNDLE_KEYS_V1 | {"heads"}
_HEADS_KEYS: Final = frozenset({"project", "registry"})
_HEAD_PROOF_KEYS: Final = frozenset({"stream", "head", "proof"})
_ITEM_KEYS: Final = frozenset({"entry", "hash", "leaf_index", "inclusion_proof"})
_ROOT_KEY_KEYS: Final = frozenset({"key_id", "suite", "public_key"})
_PROJECTION_KEYS: Final = frozenset({"state", "state_hash"})
_EVALUATION_KEYS: Final = frozenset({"on", "as_known_at", "calendar", "calendar_digest"})
_HEX64: Final = re.compile(r"[0-9a-f]{64}")
_TIME: Final = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
_ZIP_TIME: Final = (1980, 1, 1, 0, 0, 0)  # fixed member times: the same bundle, the same bytes
_CHUNK: Final = 64 * 1024  # members are read (and documents hashed) in chunks of this size
_ZIP_METHODS: Final = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
# What zipfile and zlib raise on a damaged or hostile archive (zlib.error and EOFError are not
# wrapped in BadZipFile; RuntimeError is an encrypted member, NotImplementedError a method).
_ZIP_ERRORS: Final = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError,
                      ValueError, RuntimeError, NotImplementedError, struct.error, IndexError)


@dataclass(frozen=True)
class BundleLimits:
    """What :func:`verify_bundle` reads at most (docs/evidence-format.md, *Limits*).

    Every limit is checked against the zip's own directory before a member is read, and again
    on the bytes actually inflated while reading, so a lying header cannot get past it. A
    bundle over a limit is rejected at step 1 with a message naming the limit; raise a limit
    only for a bundle you have reason to expect is that large.
    """

    max_members: int = 10_000
    """Zip members, ``bundle.json`` and ``report.html`` included (also bounds the directory)."""
    max_member_bytes: int = 256 * 1024**2
    """Uncompressed bytes of one member (a document is hashed as a stream, never held)."""
    max_total_bytes: int = 1024**3
    """Uncompressed bytes of all members together."""
    max_json_bytes: int = 32 * 1024**2
    """Uncompressed bytes of ``bundle.json``, which is parsed in memory (~20,000 entries)."""
    max_json_depth: int = 64
    """Nesting of arrays and objects in ``bundle.json`` (a real bundle nests about 8 deep)."""

    def __post_init__(self) -> None:
        """Refuse a limit that is not a positive integer."""
        for name in ("max_members", "max_member_bytes", "max_total_bytes", "max_json_bytes",
                     "max_json_depth"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"BundleLimits.{name} must be a positive integer,"
                                         f" got {value!r}")


DEFAULT_LIMITS: Final = BundleLimits()
"""The limits :func:`verify_bundle` uses unless given others."""


# --- errors ------------------------------------------------------------------------------------


class BundleFormatError(IntegrityFailedError):
    """Raised when building or reading a bundle whose zip or JSON is not the §5 format."""


class BundleTrustError(ConfigurationError):
    """Raised before a bundle is read when the verifier's trust anchors are unusable.

    A malformed pinned key, a witness quorum the given witness keys cannot meet, a pinned key
    together with an instruction to trust the bundle's own keys, or an unreadable trust file.
    """


class LogKeyNotPinnedError(BundleTrustError):
    """Raised when no log key is pinned and the bundle's own keys were not explicitly trusted."""

    def __init__(self) -> None:
        super().__init__(
            "no log key pinned: pass --log-key NAME+KEYID+KEY or set LEDGER_TRUST to a trust"
            " file (docs/evidence-format.md); --trust-embedded-keys checks a bundle against its"
            " own keys (integrity, not origin)")


class BundleVerificationError(IntegrityFailedError):
    """Raised by :func:`verify_bundle` when any check fails; ``report`` lists every failure.

    The message names the first failure (step, check, where) and how many there are.
    """

    def __init__(self, report: BundleReport) -> None:
        self.report = report
        first = report.failures[0]
        more = len(report.failures) - 1
        suffix = f" (and {more} more)" if more else ""
        super().__init__(f"evidence bundle rejected: {first.describe()}{suffix}")


# --- building ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BundleItem:
    """One entry as a bundle ships it: the entry, its hash, leaf index and inclusion proof."""

    entry: Entry
    entry_hash: str
    leaf_index: int
    inclusion_proof: tuple[bytes, ...]

    def to_json(self) -> dict[str, JSONValue]:
        """The ITEM object of docs/design.md §5."""
        return {"entry": self.entry.to_json(), "hash": self.entry_hash,
                "leaf_index": self.leaf_index,
                "inclusion_proof": [node.hex() for node in self.inclusion_proof]}


@dataclass(frozen=True)
class BundleHead:
    """A stream's head at the bundle's checkpoint and its stream heads map proof.

    ``head`` is ``None`` when the map holds no entry of the stream at that size (the proof is
    then a non-inclusion proof).
    """

    stream: UUID
    head: StreamHead | None
    proof: HeadProof

    def to_json(self) -> dict[str, JSONValue]:
        """The HEAD_PROOF object: ``{"stream", "head", "proof"}`` (docs/evidence-format.md)."""
        head = None if self.head is None else cast(JSONValue, head_to_json(self.head))
        return {"stream": str(self.stream), "head": head,
                "proof": cast(JSONValue, proof_to_json(self.proof))}


def registry_stream_for(origin: str) -> UUID:
    """The key registry's stream id for a ledger origin: ``uuid5(namespace, ORIGIN)``."""
    return uuid.uuid5(_REGISTRY_NAMESPACE, origin)


def build_bundle_json(*, profile: Profile, origin: str, stream: UUID, exported_at: str,
                      checkpoint: str, log_key: VerifierKey, root_key_id: str,
                      root_public_key: bytes,
                      entries: Sequence[BundleItem], registry: Sequence[BundleItem],
                      projections: Mapping[str, Mapping[str, JSONValue]], on: date,
                      as_known_at: str | None,
                      calendar: WorkingCalendar,
                      heads: tuple[BundleHead, BundleHead] | None = None,
                      ) -> dict[str, JSONValue]:
    """Return the ``bundle.json`` object (docs/design.md §5) from plain inputs, validating them.

    ``heads`` are the project stream's and the registry stream's heads with their proofs at the
    checkpoint: given, the bundle is format 2 (:data:`FORMAT`); ``None`` writes format 1
    (:data:`FORMAT_V1`), for a checkpoint that has no ``heads`` line. Raises
    :class:`BundleFormatError` when an input cannot make a well-formed bundle (no entries, a
    projection name this format does not define, a bad time, heads of other streams).
    """
    if not entries:
        raise BundleFormatError("a bundle needs the stream's entries from seq 1: got none")
    if not registry:
        raise BundleFormatError("a bundle needs the key registry stream: got no entries")
    if set(projections) != set(PROJECTION_NAMES):
        raise BundleFormatError(
            f"expected projections {list(PROJECTION_NAMES)}, got {sorted(projections)}")
    for what, value in (("exported_at", exported_at), ("as_known_at", as_known_at)):
        if value is not None and not _TIME.fullmatch(value):
            raise BundleFormatError(f"{what} must be RFC 3339 UTC with microseconds: {value!r}")
    if heads is not None and (heads[0].stream, heads[1].stream) != (
            stream, registry_stream_for(origin)):
        raise BundleFormatError(
            f"expected the heads of the project {stream} and of the registry"
            f" {registry_stream_for(origin)}, got {heads[0].stream} and {heads[1].stream}")
    bundle: dict[str, JSONValue] = {
        "format": FORMAT if heads is not None else FORMAT_V1,
        "profile": profile.name,
        "origin": origin,
        "stream": str(stream),
        "exported_at": exported_at,
        "checkpoint": checkpoint,
        "log_key": log_key.encode(),
        "root_key": {"key_id": root_key_id,
                     "suite": profile.signature.name,
                     "public_key": b64encode(root_public_key)},
        "entries": [item.to_json() for item in entries],
        "registry": [item.to_json() for item in registry],
        "projections": {name: {"state": projections[name]["state"],
                               "state_hash": projections[name]["state_hash"]}
                        for name in PROJECTION_NAMES},
        "evaluation": {"on": on.isoformat(), "as_known_at": as_known_at,
                       "calendar": calendar.to_json_value(),
                       "calendar_digest": calendar.digest},
    }
    if heads is not None:
        bundle["heads"] = {"project": heads[0].to_json(), "registry": heads[1].to_json()}
    return bundle


def pack_bundle(bundle: Mapping[str, JSONValue], documents: Mapping[str, bytes],
                report_html: str | None = None,
                names: Mapping[str, str] | None = None) -> bytes:
    """Return the zip bytes: ``bundle.json`` (JCS bytes), ``report.html``, ``names.json`` (the
    documents' file names, when given) and ``documents/<sha256>``.

    Members are written in a fixed order with fixed times, so the same inputs give the same
    bytes. Raises :class:`BundleFormatError` if a document does not hash to its name.
    """
    for name, content in documents.items():
        if not _HEX64.fullmatch(name) or hashlib.sha256(content).hexdigest() != name:
            raise BundleFormatError(f"document {name!r} does not hash to its name")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        _write_member(archive, BUNDLE_JSON, canonical_bytes(cast(JSONValue, bundle)))
        if report_html is not None:
            _write_member(archive, REPORT_HTML, report_html.encode("utf-8"))
        if names:
            text = canonical_bytes(cast(JSONValue, dict(names)))
            parse_names(text)  # what a verifier will accept
            _write_member(archive, NAMES_JSON, text)
        for name in sorted(documents):
            _write_member(archive, DOCUMENTS_DIR + name, documents[name])
    return buffer.getvalue()


def _write_member(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (stat.S_IFREG | 0o644) << 16
    archive.writestr(info, data)


# --- the report ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BundleFailure:
    """One failed check: the §5 step it belongs to, a short check name, where, and what."""

    step: int
    check: str
    message: str
    where: str = ""

    def describe(self) -> str:
        """One line for people: ``step 5 [chain] entries[3] (seq 4): …``."""
        place = f" {self.where}" if self.where else ""
        return f"step {self.step} [{self.check}]{place}: {self.message}"

    def to_json(self) -> dict[str, JSONValue]:
        """Plain JSON."""
        return {"step": self.step, "check": self.check, "where": self.where,
                "message": self.message}


@dataclass(frozen=True)
class BundleSigner:
    """Who signed entries of the bundle: actor, role, unit, key, and how many entries."""

    actor: str
    display_name: str | None
    role: str | None
    unit: str | None
    key_id: str
    entries: int

    def to_json(self) -> dict[str, JSONValue]:
        """Plain JSON."""
        return {"actor": self.actor, "display_name": self.display_name, "role": self.role,
                "unit": self.unit, "key_id": self.key_id, "entries": self.entries}


@dataclass
class BundleReport:
    """What :func:`verify_bundle` established about one bundle.

    :func:`verify_bundle` returns a report only when ``failures`` is empty; a report with
    failures exists only inside a :class:`BundleVerificationError`.
    """

    format: str = ""
    profile: str = ""
    origin: str = ""
    stream: str = ""
    exported_at: str = ""
    checkpoint_size: int | None = None
    checkpoint_root: str | None = None
    log_key: str | None = None
    log_key_pinned: bool = False
    root_key_id: str | None = None
    root_key_pinned: bool = False
    witnesses_pinned: list[str] = field(default_factory=list)
    witness_quorum: int = 0
    witnesses_verified: list[str] = field(default_factory=list)
    cosignatures_unchecked: list[str] = field(default_factory=list)
    entries: int = 0
    registry_entries: int = 0
    first_recorded_at: str | None = None
    last_recorded_at: str | None = None
    signatures: int = 0
    documents: int = 0
    signers: list[BundleSigner] = field(default_factory=list)
    projections: dict[str, str] = field(default_factory=dict)
    evaluated_on: str | None = None
    as_known_at: str | None = None
    calendar_digest: str | None = None
    complete: bool = False
    """True when step 9 proved the bundle ends at each stream's head (format 2 only)."""
    complete_as_of: str | None = None
    """When the proven completeness holds: the newest verified witness cosignature/v1 time,
    else the newest ``recorded_at`` in the bundle."""
    complete_as_of_source: str | None = None  # "cosignature" | "recorded_at"
    heads: dict[str, dict[str, JSONValue] | None] = field(default_factory=dict)
    """The heads proven at the checkpoint, by member name (``project``, ``registry``)."""
    last_entries: dict[str, dict[str, JSONValue]] = field(default_factory=dict)
    """Each stream's last shipped entry as a HEAD object (``seq``, ``entry_hash``,
    ``leaf_index``), by member name (``project``, ``registry``): what ``--online`` compares
    with the live log's heads."""
    cosigned_at: str | None = None
    """The newest time stated by a verified pinned witness's cosignature/v1 line."""
    warnings: list[str] = field(default_factory=list)
    failures: list[BundleFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True iff every check held."""
        return not self.failures

    @property
    def error(self) -> str | None:
        """The first failure in one line (``None`` when every check held)."""
        return self.failures[0].describe() if self.failures else None

    def to_json(self) -> dict[str, JSONValue]:
        """The machine report (``ledger verify-bundle --json``)."""
        return {
            "ok": self.ok, "error": self.error, "format": self.format, "profile": self.profile,
            "origin": self.origin, "stream": self.stream, "exported_at": self.exported_at,
            "checkpoint": {"size": self.checkpoint_size, "root": self.checkpoint_root,
                           "log_key": self.log_key, "log_key_pinned": self.log_key_pinned},
            "root_key": {"key_id": self.root_key_id, "pinned": self.root_key_pinned},
            "witnesses": {"pinned": list(self.witnesses_pinned),
                          "quorum": self.witness_quorum,
                          "verified": list(self.witnesses_verified),
                          "unchecked": list(self.cosignatures_unchecked)},
            "entries": self.entries, "registry_entries": self.registry_entries,
            "first_recorded_at": self.first_recorded_at,
            "last_recorded_at": self.last_recorded_at,
            "signatures": self.signatures, "documents": self.documents,
            "signers": [s.to_json() for s in self.signers],
            "projections": dict(self.projections),
            "evaluation": {"on": self.evaluated_on, "as_known_at": self.as_known_at,
                           "calendar_digest": self.calendar_digest},
            "completeness": {"proven": self.complete, "checkpoint": self.checkpoint_size,
                             "as_of": self.complete_as_of if self.complete else None,
                             "as_of_source": (self.complete_as_of_source if self.complete
                                              else None),
                             "heads": dict(self.heads)},
            "warnings": list(self.warnings),
            "failures": [f.to_json() for f in self.failures],
        }

    def completeness(self) -> str:
        """One line on what step 9 proved, e.g. ``complete as of checkpoint 120 (…)``."""
        if not self.complete:
            return "completeness not proven"
        source = ("cosigned" if self.complete_as_of_source == "cosignature"
                  else "newest entry recorded")
        heads = "; ".join(
            f"{name} head seq {head['seq']}" if head is not None else f"{name}: no entry"
            for name, head in self.heads.items())
        return (f"complete as of checkpoint {self.checkpoint_size} ({source}"
                f" {self.complete_as_of}): each stream ends at its head in the stream heads"
                f" map ({heads})")

    def summary(self) -> str:
        """The human summary: what was proven, by whom, up to which checkpoint."""
        if not self.ok:
            lines = [f"REJECTED: {len(self.failures)} check(s) failed; first:",
                     f"  {self.failures[0].describe()}"]
            lines += [f"  {f.describe()}" for f in self.failures[1:20]]
            lines += [f"warning: {w}" for w in self.warnings]
            return "\n".join(lines)
        pin = "pinned" if self.log_key_pinned else "NOT pinned (trusted the bundle's own key)"
        lines = [
            f"OK: project {self.stream} on log {self.origin} ({self.profile})",
            f"  checkpoint: size {self.checkpoint_size}, root {self.checkpoint_root},"
            f" signed by log key {self.log_key} ({pin})",
        ]
        if self.witnesses_verified:
            lines.append(f"  cosigned by witness(es): {', '.join(self.witnesses_verified)}"
                         f" ({len(self.witnesses_verified)} of {len(self.witnesses_pinned)}"
                         f" pinned, {self.witness_quorum} required)")
        if self.cosignatures_unchecked:
            lines.append("  other cosignatures present (no key given, not checked): "
                         + ", ".join(self.cosignatures_unchecked))
        if not self.witnesses_verified and not self.cosignatures_unchecked:
            lines.append("  checkpoint not cosigned by a witness: signed by the log alone")
        lines += [
            f"  {self.entries} project entries (seq 1–{self.entries}) and"
            f" {self.registry_entries} registry entries: each included in the checkpoint"
            " (RFC 9162), hashed, chained, time-ordered",
            f"  recorded {self.first_recorded_at} … {self.last_recorded_at}",
            f"  {self.signatures} signatures verified: registry by root key {self.root_key_id}"
            f" ({'pinned' if self.root_key_pinned else 'from the bundle, checked by the log'});"
            " authors under keys valid at each entry's recorded_at",
            "  signers: " + "; ".join(
                f"{s.actor} ({s.role}{', ' + s.unit if s.unit else ''}) ×{s.entries}"
                for s in self.signers),
            f"  {self.documents} documents match their SHA-256",
            f"  projections recomputed on {self.evaluated_on} (calendar"
            f" {(self.calendar_digest or '')[:16]}…) and equal: "
            + ", ".join(f"{name} {digest[:16]}…" for name, digest in self.projections.items()),
        ]
        if self.complete:
            lines.append(f"  {self.completeness()}")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


# --- step 1 helpers: strict parsing ------------------------------------------------------------


class _FatalError(Exception):
    """Internal: a failure after which no later step can run."""


def _refuse_float(text: str) -> NoReturn:
    raise ValueError(f"a float ({text}): the format has no floats")


def _refuse_constant(text: str) -> NoReturn:
    raise ValueError(f"the constant {text}: not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


# Every byte but quotes and brackets is dropped (braces count as brackets), then the strings
# that remain as quotes around stray brackets; all in C, in time linear in the input.
_NOT_SKELETON: Final = bytes(b for b in range(256) if b not in b'"[]{}')
_BRACES_AS_BRACKETS: Final = bytes.maketrans(b"{}", b"[]")
_SKELETON_STRING: Final = re.compile(rb'"[^"]*"?')


def _nesting(data: bytes, limit: int) -> int:
    r"""The nesting of arrays and objects in JSON text, counted without parsing it.

    Exact for valid JSON (``[[]]`` is 2) and an upper bound for invalid text (up to the first
    error, which is as far as a parser gets); a value above ``limit`` is returned as soon as
    the nesting is known to exceed it. Escapes are removed first (``\\`` pairs, then ``\"``),
    so the quotes left delimit the strings, whose brackets do not count; then each round
    removes the innermost ``[]`` pairs, and the rounds are the depth.
    """
    skeleton = (data.replace(b"\\\\", b"").replace(b'\\"', b"")
                .translate(_BRACES_AS_BRACKETS, _NOT_SKELETON))
    brackets = _SKELETON_STRING.sub(b"", skeleton)
    rounds = 0
    while brackets and rounds <= limit:
        inner = brackets.replace(b"[]", b"")
        if len(inner) == len(brackets):
            break  # unbalanced: what is left opens without closing
        brackets, rounds = inner, rounds + 1
    return rounds + brackets.count(b"[")


def loads_strict(data: bytes, *, max_depth: int = DEFAULT_LIMITS.max_json_depth,
                 what: str = "bundle.json") -> Any:
    """Parse JSON strictly: UTF-8, no duplicate keys, no floats, no NaN/Infinity, and at most
    ``max_depth`` nested arrays and objects (checked before parsing, so a deeply nested text
    cannot exhaust the parser's recursion). Raises :class:`BundleFormatError` naming ``what``.
    """
    if _nesting(data, max_depth) > max_depth:
        raise BundleFormatError(f"{what} nests arrays and objects more than {max_depth} deep"
                                " (the limit)")
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=_unique_keys,
                          parse_float=_refuse_float, parse_constant=_refuse_constant)
    except RecursionError:  # not reached after the depth check; kept as the last guard
        raise BundleFormatError(f"{what} is nested too deeply to parse") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, our refusals
        raise BundleFormatError(f"{what} is not strict JSON: {exc}") from None


def read_bundle_json(data: bytes | IO[bytes],
                     limits: BundleLimits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Return the parsed ``bundle.json`` of a bundle's zip (no verification).

    For tools that rewrite a bundle (tests' tamperers); the zip is read under ``limits`` as
    :func:`verify_bundle` reads it. Raises :class:`BundleFormatError`.
    """
    contents = _read_zip(data, limits)
    value = loads_strict(contents.bundle_json, max_depth=limits.max_json_depth)
    if not isinstance(value, dict):
        raise BundleFormatError("bundle.json is not a JSON object")
    return value


@dataclass(frozen=True)
class _ZipContents:
    """What step 1 takes from the zip: ``bundle.json``'s bytes and each document's SHA-256."""

    bundle_json: bytes
    documents: dict[str, str]  # name (the claimed SHA-256) -> SHA-256 of the bytes shipped
    names_json: bytes | None = None  # names.json, when shipped


# The end of central directory record, and the zip64 locator and record (APPNOTE 4.3.14-16).
_EOCD: Final = struct.Struct("<4s4H2LH")
_EOCD64_LOCATOR: Final = struct.Struct("<4sLQL")
_EOCD64: Final = struct.Struct("<4sQ2H2L4Q")
_DIRECTORY_BYTES_PER_MEMBER: Final = 256  # 46 fixed + a name of at most 74 + extra fields


def _directory_size(handle: IO[bytes]) -> int:
    """The central directory's size as the end records state it, read before zipfile does.

    zipfile builds an object per directory entry before anything can be counted, so the
    directory's size is bounded first. The end record is found as zipfile finds it; where a
    zip64 record could be taken from two places (right before its locator, as zipfile 3.11
    assumes, or where the locator points), the larger size counts.
    """
    handle.seek(0, io.SEEK_END)
    size = handle.tell()
    tail_size = min(size, _EOCD.size + 0xFFFF)
    handle.seek(size - tail_size)
    tail = handle.read(tail_size)
    at = len(tail) - _EOCD.size
    if at < 0 or tail[at:at + 4] != b"PK\x05\x06" or tail[-2:] != b"\0\0":
        at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + _EOCD.size > len(tail):
        raise BundleFormatError("not a zip file: no end of central directory record")
    sizes = [int(_EOCD.unpack_from(tail, at)[5])]
    locator_at = size - tail_size + at - _EOCD64_LOCATOR.size
    if locator_at >= 0:
        handle.seek(locator_at)
        locator = handle.read(_EOCD64_LOCATOR.size)
        if locator[:4] == b"PK\x06\x07":
            for record_at in (locator_at - _EOCD64.size,
                              int(_EOCD64_LOCATOR.unpack(locator)[2])):
                if 0 <= record_at <= size - _EOCD64.size:
                    handle.seek(record_at)
                    record = handle.read(_EOCD64.size)
                    if record[:4] == b"PK\x06\x06":
                        sizes.append(int(_EOCD64.unpack(record)[8]))
    return max(sizes)


_UNSAFE_NAME: Final = re.compile(r"[\x00-\x1f\x7f\\:]|^/|(?:^|/)\.\.?(?:/|$)")


def _check_names(infos: Sequence[zipfile.ZipInfo]) -> None:
    """Refuse unsafe names (absolute, ``..``/``.``, backslash, drive, control characters),
    duplicates, and any member but ``bundle.json``, ``report.html``, ``names.json``,
    ``documents/<sha256>``."""
    seen: set[str] = set()
    for info in infos:
        name = info.orig_filename  # before zipfile cuts a name at a NUL byte
        if not name or _UNSAFE_NAME.search(name):
            raise BundleFormatError(
                f"zip member name {name!r} is unsafe: absolute, a '..' or '.' component, a"
                " backslash, a drive or a control character")
        if info.filename in seen:
            raise BundleFormatError(f"zip member {info.filename!r} appears twice")
        seen.add(info.filename)
        if (info.filename not in (BUNDLE_JSON, REPORT_HTML, NAMES_JSON)
                and not _is_document(info.filename)):
            raise BundleFormatError(
                f"unexpected zip member {info.filename!r}: expected bundle.json, report.html,"
                " names.json and documents/<64 lowercase hex>")


def _is_document(name: str) -> bool:
    return name.startswith(DOCUMENTS_DIR) and bool(_HEX64.fullmatch(name[len(DOCUMENTS_DIR):]))


def _read_zip(data: bytes | IO[bytes], limits: BundleLimits) -> _ZipContents:
    """Read a bundle's zip under ``limits``: ``bundle.json``'s bytes and each document's digest.

    Documents are hashed as streams, in chunks; ``report.html`` is not evidence and is not
    read. Raises :class:`BundleFormatError`.
    """
    handle: IO[bytes] = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    try:
        directory = _directory_size(handle)
        if directory > limits.max_members * _DIRECTORY_BYTES_PER_MEMBER:
            raise BundleFormatError(
                f"the zip's central directory is {directory} bytes: at most"
                f" {limits.max_members * _DIRECTORY_BYTES_PER_MEMBER} for"
                f" {limits.max_members} members")
        handle.seek(0)
        archive = zipfile.ZipFile(handle)
    except _ZIP_ERRORS as exc:
        raise BundleFormatError(f"not a zip file: {exc}") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_members:
            raise BundleFormatError(f"the zip has {len(infos)} members: at most"
                                    f" {limits.max_members}")
        _check_names(infos)
        declared = 0
        for info in infos:
            if info.flag_bits & 0x1:
                raise BundleFormatError(f"zip member {info.filename!r} is encrypted")
            if info.compress_type not in _ZIP_METHODS:
                raise BundleFormatError(f"zip member {info.filename!r} uses compression method"
                                        f" {info.compress_type}: only stored (0) and deflated"
                                        " (8) are read")
            limit = (limits.max_json_bytes if info.filename in (BUNDLE_JSON, NAMES_JSON)
                     else limits.max_member_bytes)
            if info.file_size > limit:
                raise BundleFormatError(f"zip member {info.filename!r} expands to"
                                        f" {info.file_size} bytes: at most {limit}")
            declared += info.file_size
        if declared > limits.max_total_bytes:
            raise BundleFormatError(f"the zip expands to {declared} bytes: at most"
                                    f" {limits.max_total_bytes}")
        reader = _MemberReader(handle, limits)
        read = {info.filename: reader.read(info, limits.max_json_bytes) for info in infos
                if info.filename in (BUNDLE_JSON, NAMES_JSON)}
        documents = {info.filename[len(DOCUMENTS_DIR):]: reader.sha256(info) for info in infos
                     if _is_document(info.filename)}
    bundle_json, names_json = read.get(BUNDLE_JSON), read.get(NAMES_JSON)
    if bundle_json is None:
        raise BundleFormatError("the zip has no bundle.json")
    return _ZipContents(bundle_json, documents, names_json)


def parse_names(data: bytes, limits: BundleLimits = DEFAULT_LIMITS) -> dict[str, str]:
    """``names.json``: a JSON object from document SHA-256 to a file name that is safe to write
    anywhere (no path, no control or reserved character, at most 120 characters), each name
    used once. Raises :class:`BundleFormatError`."""
    value = loads_strict(data, max_depth=limits.max_json_depth)
    if not isinstance(value, dict):
        raise BundleFormatError("names.json must be a JSON object {sha256: file name}")
    seen: set[str] = set()
    for sha256, name in value.items():
        if not _HEX64.fullmatch(sha256):
            raise BundleFormatError(f"names.json: {sha256!r} is not a document's SHA-256")
        if not isinstance(name, str) or not _SAFE_FILE_NAME.match(name):
            raise BundleFormatError(f"names.json: the name of {sha256} is not a safe file"
                                    " name (no path, no control or reserved character, 1 to"
                                    " 120 characters)")
        if name.casefold() in seen:
            raise BundleFormatError(f"names.json: {name!r} names two documents")
        seen.add(name.casefold())
    return cast(dict[str, str], value)


_LOCAL_HEADER: Final = struct.Struct("<4s5H3L2H")  # APPNOTE 4.3.7, before name and extra


class _MemberReader:
    """Reads members straight from the archive's bytes, in chunks, under the limits.

    zipfile only parses the central directory: it stops inflating a member at the size its
    header states, so bytes past that would be ignored here and extracted by other tools. Each
    member is read from its local header instead (same name and method as the directory's),
    inflated in bounded steps, and must end its deflate stream exactly where its compressed
    bytes end, with the stated size and CRC-32: one byte sequence per member, whatever tool
    reads it.
    """

    def __init__(self, handle: IO[bytes], limits: BundleLimits) -> None:
        self.handle = handle
        self.limits = limits
        self.total = 0

    def _chunks(self, info: zipfile.ZipInfo, limit: int) -> Iterator[bytes]:
        name = info.filename
        size = 0
        crc = 0
        try:
            for chunk in self._inflated(info):
                size += len(chunk)
                self.total += len(chunk)
                if size > info.file_size:  # stop at the stated size, whatever the data holds
                    raise BundleFormatError(f"zip member {name!r} expands past the"
                                            f" {info.file_size} bytes its header states")
                if size > limit:
                    raise BundleFormatError(f"zip member {name!r} expands past {limit} bytes")
                if self.total > self.limits.max_total_bytes:
                    raise BundleFormatError("the zip expands past"
                                            f" {self.limits.max_total_bytes} bytes")
                crc = zlib.crc32(chunk, crc)
                yield chunk
        except _ZIP_ERRORS as exc:
            raise BundleFormatError(f"zip member {name!r} cannot be read: {exc}") from None
        if size != info.file_size:
            raise BundleFormatError(f"zip member {name!r} is {size} bytes, its header says"
                                    f" {info.file_size}")
        if crc != info.CRC:
            raise BundleFormatError(f"zip member {name!r} fails its CRC-32 check")

    def _compressed(self, info: zipfile.ZipInfo) -> Iterator[bytes]:
        """The member's compressed bytes, from after its local header."""
        name = info.filename
        self.handle.seek(info.header_offset)
        header = self.handle.read(_LOCAL_HEADER.size)
        if len(header) != _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
            raise BundleFormatError(f"zip member {name!r} has no local header")
        fields = _LOCAL_HEADER.unpack(header)
        flags, method, name_size, extra_size = fields[2], fields[3], fields[9], fields[10]
        if self.handle.read(name_size) != name.encode("ascii") or method != info.compress_type:
            raise BundleFormatError(f"zip member {name!r}: the local header names another"
                                    " member or method than the central directory")
        if flags & 0x1:
            raise BundleFormatError(f"zip member {name!r} is encrypted")
        self.handle.seek(extra_size, io.SEEK_CUR)
        remaining = info.compress_size
        while remaining:
            chunk = self.handle.read(min(_CHUNK, remaining))
            if not chunk:
                raise BundleFormatError(f"zip member {name!r} is truncated")
            remaining -= len(chunk)
            yield chunk

    def _inflated(self, info: zipfile.ZipInfo) -> Iterator[bytes]:
        if info.compress_type == zipfile.ZIP_STORED:
            yield from self._compressed(info)
            return
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        for chunk in self._compressed(info):
            data = inflater.decompress(chunk, _CHUNK)
            while data:
                yield data
                data = inflater.decompress(inflater.unconsumed_tail, _CHUNK)
        if not inflater.eof or inflater.unused_data:
            raise BundleFormatError(f"zip member {info.filename!r}: its deflate stream does not"
                                    " end where its compressed bytes do")

    def read(self, info: zipfile.ZipInfo, limit: int) -> bytes:
        """The member's bytes (for ``bundle.json``, which is parsed whole)."""
        return b"".join(self._chunks(info, limit))

    def sha256(self, info: zipfile.ZipInfo) -> str:
        """The SHA-256 of the member's bytes, hashed as they are inflated."""
        digest = hashlib.sha256()
        for chunk in self._chunks(info, self.limits.max_member_bytes):
            digest.update(chunk)
        return digest.hexdigest()


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise BundleFormatError(message)


def _string(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = obj[key]
    _require(isinstance(value, str) and bool(value), f"{where}{key} must be a non-empty string")
    return cast(str, value)


def _int(value: Any, what: str) -> int:
    _require(isinstance(value, int) and not isinstance(value, bool) and value >= 0,
             f"{what} must be a non-negative integer")
    return cast(int, value)


def _exact_keys(value: Any, keys: frozenset[str], what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BundleFormatError(f"{what} must be a JSON object")
    if set(value) != keys:
        missing, extra = sorted(keys - set(value)), sorted(set(value) - keys)
        raise BundleFormatError(f"{what} must have exactly the keys {sorted(keys)}:"
                                f" missing {missing}, unexpected {extra}")
    return value


@dataclass(frozen=True)
class _Item:
    """A parsed ITEM: the entry JSON as shipped, the parsed entry (None if malformed)."""

    section: str  # "entries" | "registry"
    position: int
    entry_json: dict[str, Any]
    entry: Entry | None
    hash: str
    leaf_index: int
    proof: tuple[bytes, ...]

    @property
    def where(self) -> str:
        seq = f" seq {self.entry.seq}" if self.entry is not None else ""
        return f"{self.section}[{self.position}] (leaf {self.leaf_index}{seq})"


def _parse_item(value: Any, section: str, position: int) -> tuple[_Item, str | None]:
    """Parse an ITEM's shape (fatal if wrong); the entry's own defect is returned, not raised."""
    what = f"{section}[{position}]"
    item = _exact_keys(value, _ITEM_KEYS, what)
    entry_hash = item["hash"]
    _require(isinstance(entry_hash, str) and bool(_HEX64.fullmatch(entry_hash)),
             f"{what}.hash must be 64 lowercase hex digits")
    leaf_index = _int(item["leaf_index"], f"{what}.leaf_index")
    proof_json = item["inclusion_proof"]
    _require(isinstance(proof_json, list) and all(
        isinstance(p, str) and _HEX64.fullmatch(p) for p in proof_json),
        f"{what}.inclusion_proof must be a list of 64-hex hashes")
    entry_json = item["entry"]
    _require(isinstance(entry_json, dict), f"{what}.entry must be a JSON object")
    entry: Entry | None = None
    problem: str | None = None
    try:
        entry = Entry.parse(canonical_bytes(entry_json))
    except LedgerError as exc:  # MalformedEntryError, NotCanonicalError
        problem = str(exc)
    return _Item(section, position, entry_json, entry, entry_hash, leaf_index,
                 tuple(bytes.fromhex(p) for p in proof_json)), problem


def _parse_projections(value: Any) -> dict[str, dict[str, Any]]:
    _require(isinstance(value, dict), "projections must be a JSON object")
    projections: dict[str, dict[str, Any]] = {}
    for name, item in value.items():
        view = _exact_keys(item, _PROJECTION_KEYS, f"projections.{name}")
        digest = view["state_hash"]
        _require(isinstance(digest, str) and bool(_HEX64.fullmatch(digest)),
                 f"projections.{name}.state_hash must be 64 lowercase hex digits")
        projections[name] = view
    return projections


def _parse_heads(value: Any) -> dict[str, BundleHead]:
    """Parse the ``heads`` member strictly: exactly ``project`` and ``registry``, each a
    HEAD_PROOF ``{"stream", "head", "proof"}`` in the map's JSON forms (whether the proofs
    verify is step 9)."""
    heads = _exact_keys(value, _HEADS_KEYS, "heads")
    parsed: dict[str, BundleHead] = {}
    for name in sorted(_HEADS_KEYS):
        what = f"heads.{name}"
        answer = _exact_keys(heads[name], _HEAD_PROOF_KEYS, what)
        text = answer["stream"]
        _require(isinstance(text, str), f"{what}.stream must be a UUID string")
        try:
            stream = UUID(text)
        except ValueError:
            raise BundleFormatError(f"{what}.stream is not a UUID: {text!r}") from None
        _require(str(stream) == text, f"{what}.stream must be a lowercase hyphenated UUID")
        try:
            head = None if answer["head"] is None else head_from_json(answer["head"])
            proof = proof_from_json(answer["proof"])
        except LedgerError as exc:  # HeadProofError: the proof's JSON is malformed
            raise BundleFormatError(f"{what} is malformed: {exc}") from None
        parsed[name] = BundleHead(stream, head, proof)
    return parsed


def _parse_evaluation(value: Any) -> dict[str, Any]:
    evaluation = _exact_keys(value, _EVALUATION_KEYS, "evaluation")
    on = evaluation["on"]
    _require(isinstance(on, str), "evaluation.on must be a date YYYY-MM-DD")
    try:
        _require(date.fromisoformat(on).isoformat() == on,
                 "evaluation.on must be a date YYYY-MM-DD")
    except ValueError:
        raise BundleFormatError(f"evaluation.on is not a date: {on!r}") from None
    known = evaluation["as_known_at"]
    _require(known is None or (isinstance(known, str) and bool(_TIME.fullmatch(known))),
             "evaluation.as_known_at must be null or RFC 3339 UTC with microseconds")
    digest = evaluation["calendar_digest"]
    _require(isinstance(digest, str) and bool(_HEX64.fullmatch(digest)),
             "evaluation.calendar_digest must be 64 lowercase hex digits")
    _require(isinstance(evaluation["calendar"], dict), "evaluation.calendar must be an object")
    return evaluation


@dataclass(frozen=True)
class _Parsed:
    format: str
    profile: Profile
    origin: str
    stream: UUID
    exported_at: str
    checkpoint: str
    log_key: str
    root_key: dict[str, Any]
    entries: tuple[_Item, ...]
    registry: tuple[_Item, ...]
    projections: dict[str, dict[str, Any]]
    evaluation: dict[str, Any]
    documents: dict[str, str]  # name -> SHA-256 of the bytes shipped under it
    heads: dict[str, BundleHead] | None  # None: format 1
    names: dict[str, str] = field(default_factory=dict)  # names.json: SHA-256 -> file name


def _parse_bundle(data: bytes | IO[bytes], limits: BundleLimits,
                  fail: Callable[[int, str, str, str], None]) -> _Parsed:
    """Step 1: the zip and ``bundle.json``, strictly. A malformed entry is reported with
    ``fail`` and parsing goes on; any other defect raises :class:`BundleFormatError`."""
    contents = _read_zip(data, limits)
    documents = contents.documents
    bundle = loads_strict(contents.bundle_json, max_depth=limits.max_json_depth)
    _require(isinstance(bundle, dict), "bundle.json must be a JSON object")
    found = bundle.get("format")
    _require(found in FORMATS,
             f"format must be {FORMAT!r} (or {FORMAT_V1!r}), got {found!r}")
    bundle = _exact_keys(bundle, _BUNDLE_KEYS if found == FORMAT else _BUNDLE_KEYS_V1,
                         "bundle.json")
    try:
        profile = profile_named(_string(bundle, "profile", ""))
    except LedgerError as exc:
        raise BundleFormatError(str(exc)) from None
    origin = _string(bundle, "origin", "")
    stream_text = _string(bundle, "stream", "")
    try:
        stream = UUID(stream_text)
    except ValueError:
        raise BundleFormatError(f"stream is not a UUID: {stream_text!r}") from None
    _require(str(stream) == stream_text, "stream must be a lowercase hyphenated UUID")
    exported_at = _string(bundle, "exported_at", "")
    _require(bool(_TIME.fullmatch(exported_at)),
             "exported_at must be RFC 3339 UTC with microseconds")
    checkpoint = _string(bundle, "checkpoint", "")
    log_key = _string(bundle, "log_key", "")
    root_key = _exact_keys(bundle["root_key"], _ROOT_KEY_KEYS, "root_key")
    for key in sorted(_ROOT_KEY_KEYS):
        _string(root_key, key, "root_key.")
    sections: dict[str, list[_Item]] = {}
    for section in ("entries", "registry"):
        raw = bundle[section]
        _require(isinstance(raw, list) and bool(raw), f"{section} must be a non-empty list")
        items = []
        for position, value in enumerate(raw):
            item, problem = _parse_item(value, section, position)
            if problem is not None:
                fail(1, "entry-shape", problem, item.where)
            items.append(item)
        sections[section] = items
    heads = _parse_heads(bundle["heads"]) if found == FORMAT else None
    names = parse_names(contents.names_json, limits) if contents.names_json is not None else {}
    return _Parsed(found, profile, origin, stream, exported_at, checkpoint, log_key,
                   root_key, tuple(sections["entries"]), tuple(sections["registry"]),
                   _parse_projections(bundle["projections"]),
                   _parse_evaluation(bundle["evaluation"]), documents, heads, names)


# --- the verifier ------------------------------------------------------------------------------


class _Verifier:
    """Runs the numbered steps over one bundle, collecting every failure."""

    def __init__(self, data: bytes | IO[bytes], trust: _Trust, limits: BundleLimits) -> None:
        self.data = data
        self.pinned_log_key = trust.log_key
        self.witness_keys = trust.witness_keys
        self.quorum = trust.quorum
        self.pinned_root_key = trust.root_key
        self.limits = limits
        self.report = BundleReport()
        self.report.witnesses_pinned = [_key_name(w) for w in trust.witness_keys]
        self.report.witness_quorum = trust.quorum
        self.parsed: _Parsed | None = None
        self.checkpoint_size = 0
        self.checkpoint_root = b""
        self.checkpoint_extensions: tuple[str, ...] | None = None  # None: no parsed checkpoint
        self.actors: dict[str, tuple[str, str | None, str | None]] = {}
        self.keys: dict[str, KeyRecord] = {}

    def fail(self, step: int, check: str, message: str, where: str = "") -> None:
        self.report.failures.append(BundleFailure(step, check, message, where))

    def run(self) -> BundleReport:
        try:
            self.step1_parse()
        except _FatalError:
            return self.report
        parsed = self.parsed
        assert parsed is not None
        self.step2_checkpoint(parsed)
        self.step3_inclusion(parsed)
        self.step4_hashes(parsed)
        self.step5_chains(parsed)
        self.step6_signatures(parsed)
        self.step7_documents(parsed)
        self.step8_projections(parsed)
        _Completeness(self).run(parsed)
        return self.report

    # Step 1: parse the zip and bundle.json strictly (docs/design.md §5 Evidence bundle).
    def step1_parse(self) -> None:
        try:
            self.parsed = _parse_bundle(self.data, self.limits, self.fail)
        except BundleFormatError as exc:
            self.fail(1, "format", exc.what)
            raise _FatalError from None

    # Step 2: the checkpoint's signatures (C2SP signed-note, tlog-checkpoint; docs/design.md §5
    # Checkpoint): the log's against the pinned key (or, unpinned, the bundle's own key),
    # then each given witness key's cosignature.
    def step2_checkpoint(self, p: _Parsed) -> None:
        report = self.report
        report.format, report.profile, report.origin = p.format, p.profile.name, p.origin
        report.stream, report.exported_at = str(p.stream), p.exported_at
        try:
            note = SignedNote.parse(p.checkpoint)
        except LedgerError as exc:
            self.fail(2, "checkpoint", f"the checkpoint note is malformed: {exc}")
            return
        checkpoint = note.checkpoint
        self.checkpoint_size, self.checkpoint_root = checkpoint.size, checkpoint.root
        self.checkpoint_extensions = checkpoint.extensions
        report.checkpoint_size, report.checkpoint_root = checkpoint.size, checkpoint.root.hex()
        if checkpoint.origin != p.origin:
            self.fail(2, "checkpoint", f"the checkpoint is for origin {checkpoint.origin!r},"
                      f" the bundle for {p.origin!r}")
        trusted = self._log_key(p)
        if trusted is None:
            return
        report.log_key = trusted.encode()
        if trusted.suite != p.profile.signature.name:
            self.fail(2, "log-key", f"the log key is {trusted.suite}, but profile"
                      f" {p.profile.name} signs with {p.profile.signature.name}")
        try:
            verify_note(note, [trusted])
        except LedgerError as exc:
            self.fail(2, "checkpoint-signature", f"the checkpoint is not validly signed by"
                      f" log key {trusted.name}+{trusted.key_id.hex()}: {exc}")
        known = {(trusted.name, trusted.key_id)}
        known.update((w.name, w.key_id) for w in self.witness_keys)
        self._witnesses(note)
        report.cosignatures_unchecked = [
            f"{s.name}+{s.key_id.hex()}" for s in note.signatures
            if (s.name, s.key_id) not in known]

    def _witnesses(self, note: SignedNote) -> None:
        """Count the pinned witnesses with a valid cosignature; fewer than the quorum fails.

        A cosignature line of a pinned witness that does not verify is a failure of its own
        (signed-note: a given key's bad signature is tampering), whatever the quorum.
        """
        size = note.checkpoint.size
        absent: list[str] = []
        for witness in self.witness_keys:
            name = _key_name(witness)
            if not any((s.name, s.key_id) == (witness.name, witness.key_id)
                       for s in note.signatures):
                absent.append(name)
                continue
            try:
                verify_note(note, [witness])
            except LedgerError:
                self.fail(2, "witness", f"the cosignature of checkpoint {size} by pinned"
                          f" witness {name} does not verify")
                absent.append(name)
                continue
            self.report.witnesses_verified.append(name)
            if witness.suite == COSIGNATURE_V1:  # its lines state when it cosigned
                for line in note.signatures:
                    if (line.name, line.key_id) == (witness.name, witness.key_id):
                        self._cosigned(cosignature_timestamp(line))
        signed = self.report.witnesses_verified
        if len(signed) < self.quorum:
            self.fail(2, "witness", f"checkpoint {size} is cosigned by {len(signed)} of the"
                      f" {len(self.witness_keys)} pinned witnesses, {self.quorum} required;"
                      f" signed: {', '.join(signed) or 'none'}; not signed: {', '.join(absent)}")

    def _cosigned(self, timestamp: int) -> None:
        """Keep the newest time a verified pinned witness states it cosigned."""
        try:
            stated = format_time(datetime.fromtimestamp(timestamp, UTC))
        except (OverflowError, OSError, ValueError):  # beyond what a datetime holds
            return
        if self.report.cosigned_at is None or stated > self.report.cosigned_at:
            self.report.cosigned_at = stated

    def _log_key(self, p: _Parsed) -> VerifierKey | None:
        try:
            shipped: VerifierKey | None = VerifierKey.parse(p.log_key)
        except LedgerError as exc:
            shipped = None
            self.fail(2, "log-key", f"the bundle's log_key is malformed: {exc}")
        pinned = self.pinned_log_key
        if pinned is None:
            self.report.warnings.append(
                "the log key was not pinned (the bundle's own keys were trusted): the"
                " checkpoint was checked against the key the bundle itself names, which proves"
                " integrity but not origin; pin it with --log-key or LEDGER_TRUST")
            return shipped
        self.report.log_key_pinned = True
        if shipped != pinned:
            self.fail(2, "log-key", f"the bundle names log key {p.log_key!r}, but"
                      f" {pinned.encode()!r} is pinned: refusing a bundle of another log")
        return pinned

    # Step 3: every inclusion proof against the checkpoint (RFC 9162 §2.1.3.2); the leaf data
    # is the entry hash, so the leaf hash is H(0x00 ‖ entry hash) (docs/design.md §5 Log).
    def step3_inclusion(self, p: _Parsed) -> None:
        if not self.checkpoint_root:
            self.fail(3, "inclusion", "no checkpoint to prove the entries against")
            return
        seen: dict[int, str] = {}
        for item in (*p.entries, *p.registry):
            if item.leaf_index in seen:
                self.fail(3, "inclusion", f"leaf {item.leaf_index} is claimed twice (also by"
                          f" {seen[item.leaf_index]})", item.where)
                continue
            seen[item.leaf_index] = item.where
            try:
                merkle.verify_inclusion(p.profile.hash, item.leaf_index, self.checkpoint_size,
                                        bytes.fromhex(item.hash), item.proof,
                                        self.checkpoint_root)
            except LedgerError as exc:
                what = exc.what if isinstance(exc, IntegrityFailedError) else str(exc)
                self.fail(3, "inclusion", f"not included in checkpoint {self.checkpoint_size}:"
                          f" {what}", item.where)

    # Step 4: every entry hash = H(JCS(entry)), recomputed from the parsed JSON (docs/design.md §5
    # Canonical bytes, Entry); JCS is RFC 8785.
    def step4_hashes(self, p: _Parsed) -> None:
        for item in (*p.entries, *p.registry):
            try:
                recomputed = p.profile.digest(canonical_bytes(item.entry_json)).hex()
            except LedgerError as exc:
                self.fail(4, "entry-hash", f"the entry cannot be canonicalised: {exc}",
                          item.where)
                continue
            if recomputed != item.hash:
                self.fail(4, "entry-hash", f"the entry hashes to {recomputed[:16]}…, the item"
                          f" says {item.hash[:16]}… (the entry was edited)", item.where)

    # Step 5: chain links and seq for the stream and for the registry (docs/design.md §5 Entry:
    # seq 1, 2, … and prev = hash of seq − 1, 64 zeros for seq 1), and recorded_at never
    # decreasing along the leaf order.
    def step5_chains(self, p: _Parsed) -> None:
        self._chain(p, p.entries, p.stream, "entries")
        self._chain(p, p.registry, registry_stream_for(p.origin), "registry")
        for name, items in (("project", p.entries), ("registry", p.registry)):
            final = items[-1]
            if final.entry is not None:
                self.report.last_entries[name] = {"seq": final.entry.seq,
                                                  "entry_hash": final.hash,
                                                  "leaf_index": final.leaf_index}
        if p.stream == registry_stream_for(p.origin):
            self.fail(5, "stream", "the bundle's stream is the key registry, not a project")
        ordered = sorted((i for i in (*p.entries, *p.registry) if i.entry is not None),
                         key=lambda i: i.leaf_index)
        last: _Item | None = None
        bound = p.evaluation["as_known_at"]
        for item in ordered:
            assert item.entry is not None
            if last is not None and last.entry is not None and (
                item.entry.recorded_at < last.entry.recorded_at
            ):
                self.fail(5, "time", f"recorded_at {item.entry.recorded_at} is before"
                          f" {last.entry.recorded_at} of leaf {last.leaf_index}, an earlier"
                          " leaf", item.where)
            if bound is not None and item.entry.recorded_at > bound:
                self.fail(5, "time", f"recorded_at {item.entry.recorded_at} is after the"
                          f" bundle's as_known_at {bound}", item.where)
            last = item
        times = [i.entry.recorded_at for i in ordered if i.entry is not None]
        if times:
            self.report.first_recorded_at, self.report.last_recorded_at = times[0], times[-1]
        self.report.entries, self.report.registry_entries = len(p.entries), len(p.registry)

    def _chain(self, p: _Parsed, items: Sequence[_Item], stream: UUID, section: str) -> None:
        prev_hash, prev_leaf = ZERO_HASH, -1
        for position, item in enumerate(items):
            entry = item.entry
            if entry is None:
                prev_hash = item.hash  # reported in step 1; keep checking the rest
                continue
            if entry.filing.stream != stream:
                self.fail(5, "stream", f"the entry belongs to stream {entry.filing.stream},"
                          f" expected {stream}", item.where)
            if entry.filing.ledger != p.origin:
                self.fail(5, "stream", f"the entry was filed for ledger {entry.filing.ledger!r},"
                          f" not {p.origin!r}", item.where)
            if entry.seq != position + 1:
                self.fail(5, "chain", f"{section}[{position}] has seq {entry.seq}, expected"
                          f" {position + 1} (entries missing, added or reordered)", item.where)
            if entry.prev != prev_hash:
                self.fail(5, "chain", f"prev {entry.prev[:16]}… is not the hash of the entry"
                          f" before ({prev_hash[:16]}…)", item.where)
            if item.leaf_index <= prev_leaf:
                self.fail(5, "chain", f"leaf {item.leaf_index} does not follow leaf"
                          f" {prev_leaf} of the entry before", item.where)
            prev_leaf = item.leaf_index
            try:
                prev_hash = p.profile.digest(canonical_bytes(item.entry_json)).hex()
            except LedgerError:
                prev_hash = item.hash

    # Step 6: registry entries signed by the root key (docs/design.md §5 Key registry); author
    # signatures against the key valid at recorded_at, derived from the registry entries.
    def step6_signatures(self, p: _Parsed) -> None:
        root = self._root_key(p)
        for item in p.registry:
            entry = item.entry
            if entry is None:
                continue
            filing = entry.filing
            if root is not None:
                if filing.actor != ROOT_ACTOR or filing.key != root[0]:
                    self.fail(6, "registry-signature", f"registry entry filed by"
                              f" {filing.actor!r} with key {filing.key!r}, not the root key"
                              f" {root[0]!r}", item.where)
                else:
                    self._check_signature(p, item, root[1], "registry-signature")
            self._apply_registry(item, entry)
        signers: dict[tuple[str, str], int] = {}
        for item in p.entries:
            key = self._author_key(p, item)
            if key is not None and self._check_signature(p, item, key.public_key,
                                                         "author-signature"):
                signers[(key.actor, key.key_id)] = signers.get((key.actor, key.key_id), 0) + 1
        self.report.signers = [
            BundleSigner(actor, self.actors.get(actor, (None, None, None))[2],
                         self.keys[key_id].role, self.keys[key_id].unit, key_id, count)
            for (actor, key_id), count in signers.items()]

    def _author_key(self, p: _Parsed, item: _Item) -> KeyRecord | None:  # noqa: PLR0911
        """The registered key that must have signed a project entry, or None (failure noted).

        A precedence list of refusals, so it reads best as early returns.
        """
        entry = item.entry
        if entry is None:
            return None
        filing = entry.filing
        key = self.keys.get(filing.key)
        if key is None:
            self.fail(6, "author-key", f"signed with key {filing.key!r}, which the registry"
                      " does not hold", item.where)
            return None
        if key.actor != filing.actor:
            self.fail(6, "author-key", f"key {filing.key!r} is {key.actor!r}'s, not"
                      f" {filing.actor!r}'s", item.where)
            return None
        if key.purpose != "filing":
            self.fail(6, "author-key", f"key {filing.key!r} has purpose {key.purpose!r}: only"
                      " a filing key signs filings", item.where)
            return None
        if not key.valid_at(entry.recorded_at):
            why = (f"revoked from {key.revoked_from}" if key.revoked_from is not None
                   and entry.recorded_at >= key.revoked_from
                   else f"registered only at {key.registered_at}")
            self.fail(6, "author-key", f"key {filing.key!r} was not valid at"
                      f" {entry.recorded_at} ({why})", item.where)
            return None
        if key.suite != p.profile.signature.name:
            self.fail(6, "author-key", f"key {filing.key!r} is {key.suite}, not"
                      f" {p.profile.signature.name}", item.where)
            return None
        try:
            spec = spec_for(filing.type)
        except LedgerError as exc:
            self.fail(6, "authority", str(exc), item.where)
            return None
        if spec.stream != "project" or key.role not in spec.filed_by:
            allowed = ", ".join(sorted(spec.filed_by))
            self.fail(6, "authority", f"{filing.type} filed as {key.role}; it is filed by"
                      f" {allowed}", item.where)
            return None
        return key

    def _root_key(self, p: _Parsed) -> tuple[str, bytes] | None:
        shipped = p.root_key
        try:
            public_key = b64decode(shipped["public_key"])
        except ValueError:
            self.fail(6, "root-key", "root_key.public_key is not standard base64")
            return None
        self.report.root_key_id = shipped["key_id"]
        if shipped["suite"] != p.profile.signature.name:
            self.fail(6, "root-key", f"the root key is {shipped['suite']}, but profile"
                      f" {p.profile.name} signs with {p.profile.signature.name}")
            return None
        if self.pinned_root_key is not None:
            self.report.root_key_pinned = True
            if self.pinned_root_key != public_key:
                self.fail(6, "root-key", "the bundle's root key is not the pinned root key")
                return None
        return str(shipped["key_id"]), public_key

    def _check_signature(self, p: _Parsed, item: _Item, public_key: bytes, check: str) -> bool:
        assert item.entry is not None
        entry = item.entry
        try:
            raw = b64decode(entry.signature)
            p.profile.signature.verify(public_key, entry.filing.signing_bytes(), raw)
        except (ValueError, LedgerError):
            self.fail(6, check, f"the {entry.filing.type} signature by {entry.filing.actor!r}"
                      f" (key {entry.filing.key!r}) does not verify over JCS(filing)",
                      item.where)
            return False
        self.report.signatures += 1
        return True

    def _apply_registry(self, item: _Item, entry: Entry) -> None:
        filing = entry.filing
        try:
            model = validate_payload(filing.type, filing.payload)
        except LedgerError as exc:
            self.fail(6, "registry", f"the registry payload is invalid: {exc}", item.where)
            return
        del model  # validated; the signed payload itself is what counts
        payload = filing.payload
        if filing.type == "ActorRegistered":
            self.actors[payload["actor"]] = (payload["role"], payload.get("unit"),
                                             payload.get("display_name"))
        elif filing.type == "KeyRegistered":
            try:
                public_key = b64decode(payload["public_key"])
            except ValueError:
                self.fail(6, "registry", "KeyRegistered.public_key is not base64", item.where)
                return
            if payload["key_id"] in self.keys:
                self.fail(6, "registry", f"key {payload['key_id']!r} is registered twice",
                          item.where)
                return
            try:
                role = Role(payload["role"])
            except ValueError:
                self.fail(6, "registry", f"KeyRegistered.role {payload['role']!r} is unknown",
                          item.where)
                return
            self.keys[payload["key_id"]] = KeyRecord(
                payload["key_id"], payload["actor"], role, payload.get("unit"),
                payload["suite"], public_key, entry.recorded_at,
                purpose=payload.get("purpose") or "filing")
        elif filing.type == "KeyRevoked":
            key = self.keys.get(payload["key_id"])
            if key is None:
                self.fail(6, "registry", f"revokes unknown key {payload['key_id']!r}",
                          item.where)
                return
            self.keys[key.key_id] = replace(key, revoked_from=payload["revoked_from"])
        else:
            self.fail(6, "registry", f"{filing.type} is not a registry event", item.where)

    # Step 7: every document the entries reference is shipped as documents/<sha256> and its
    # bytes hash to that name (docs/design.md §5 Evidence bundle); nothing else is shipped.
    def step7_documents(self, p: _Parsed) -> None:
        referenced: dict[str, str] = {}
        for item in p.entries:
            if item.entry is None:
                continue
            try:
                model = validate_payload(item.entry.filing.type, item.entry.filing.payload)
            except LedgerError as exc:
                self.fail(7, "documents", f"the payload does not validate, so its documents"
                          f" cannot be listed: {exc}", item.where)
                continue
            for sha256 in documents_referenced(model):
                referenced.setdefault(sha256, item.where)
        for sha256, where in sorted(referenced.items()):
            shipped = p.documents.get(sha256)
            if shipped is None:
                self.fail(7, "documents", f"document {sha256} is referenced but not shipped"
                          f" as documents/{sha256}", where)
            elif shipped != sha256:
                self.fail(7, "documents", f"documents/{sha256} does not hash to its name"
                          " (the document was altered)", where)
        for sha256 in sorted(set(p.documents) - set(referenced)):
            self.fail(7, "documents", f"documents/{sha256} is shipped but no entry references"
                      " it")
        for sha256 in sorted(set(p.names) - set(referenced)):
            self.fail(7, "documents", f"names.json names {sha256}, which no entry references"
                      " and is not shipped")
        self.report.documents = len(referenced)

    # Step 8: recompute the projections (docs/design.md §4: pure folds of the entries) from the
    # bundle's own entries, at the exported evaluation date with the shipped calendar, and
    # compare the state hashes (views.state_hash: profile hash of JCS(view)).
    def step8_projections(self, p: _Parsed) -> None:
        evaluation = p.evaluation
        self.report.evaluated_on = evaluation["on"]
        self.report.as_known_at = evaluation["as_known_at"]
        self.report.calendar_digest = evaluation["calendar_digest"]
        try:
            calendar = WorkingCalendar.from_json(json.dumps(evaluation["calendar"]))
        except (LedgerError, ValueError) as exc:
            self.fail(8, "calendar", f"the shipped calendar is invalid: {exc}")
            return
        if calendar.digest != evaluation["calendar_digest"]:
            self.fail(8, "calendar", f"the shipped calendar hashes to {calendar.digest}, not"
                      f" the calendar_digest {evaluation['calendar_digest']}")
            return
        if any(item.entry is None for item in p.entries):
            self.fail(8, "projection", "cannot recompute projections from malformed entries")
            return
        try:
            recomputed = _recompute(p, calendar)
        except (LedgerError, ValueError, KeyError, TypeError) as exc:
            self.fail(8, "projection", f"the projections cannot be recomputed: {exc}")
            return
        for name in sorted(set(p.projections) | set(recomputed)):
            shipped = p.projections.get(name)
            if shipped is None:
                self.fail(8, "projection", f"projection {name!r} is missing")
                continue
            if name not in recomputed:
                self.fail(8, "projection", f"projection {name!r} is not one this format"
                          " defines, so it cannot be recomputed")
                continue
            expected = recomputed[name]
            try:
                shipped_hash = views.state_hash(shipped["state"], p.profile)
            except LedgerError as exc:
                self.fail(8, "projection", f"{name}: the shipped state cannot be hashed: {exc}")
                continue
            if shipped_hash != shipped["state_hash"]:
                self.fail(8, "projection", f"{name}: the shipped state hashes to"
                          f" {shipped_hash[:16]}…, not its state_hash"
                          f" {shipped['state_hash'][:16]}… (the state was edited)")
            elif expected != shipped["state_hash"]:
                self.fail(8, "projection", f"{name}: recomputed from the entries the state"
                          f" hash is {expected[:16]}…, the bundle says"
                          f" {shipped['state_hash'][:16]}…")
            else:
                self.report.projections[name] = expected


class _Completeness:
    """Step 9 of a :class:`_Verifier`: completeness (docs/evidence-format.md, Stream heads map).

    Each stream's head proof verifies against the heads root of the (signature-checked)
    checkpoint, and the stream's last shipped entry is that head: nothing newer was left out.
    """

    def __init__(self, verifier: _Verifier) -> None:
        self.v = verifier

    def run(self, p: _Parsed) -> None:
        """Check both streams (format 2) or warn (format 1); mark the report complete."""
        if p.heads is None:
            line = ("" if self.v.checkpoint_extensions is None or not any(
                e.split(" ", 1)[0] == "heads" for e in self.v.checkpoint_extensions)
                else " although its checkpoint commits to the stream heads (a 'heads' line):"
                     " ask for a format 2 export, or verify it --online")
            self.v.report.warnings.append(
                f"format 1 bundle: completeness is not proven{line}; it carries no stream heads"
                " proofs, so entries of the project or the registry newer than those shipped"
                " may exist before its checkpoint (docs/evidence-format.md, What a bundle"
                " cannot prove)")
            return
        if self.v.checkpoint_extensions is None:
            self.v.fail(9, "heads", "no checkpoint to prove the stream heads against")
            return
        try:
            root = heads_root(self.v.checkpoint_extensions)
        except LedgerError as exc:
            what = exc.what if isinstance(exc, IntegrityFailedError) else str(exc)
            self.v.fail(9, "heads", f"a format 2 bundle needs a checkpoint that commits to the"
                        f" stream heads, but checkpoint {self.v.checkpoint_size} does not: {what}")
            return
        complete = True
        for name, stream, items in (("project", p.stream, p.entries),
                                    ("registry", registry_stream_for(p.origin), p.registry)):
            complete &= self._stream_complete(p, root, name, stream, items)
        if complete and not self.v.report.failures:
            self.v.report.complete = True
            if self.v.report.cosigned_at is not None:
                self.v.report.complete_as_of = self.v.report.cosigned_at
                self.v.report.complete_as_of_source = "cosignature"
            else:
                self.v.report.complete_as_of = self.v.report.last_recorded_at
                self.v.report.complete_as_of_source = "recorded_at"

    def _stream_complete(self, p: _Parsed, root: bytes, name: str, stream: UUID,
                         items: Sequence[_Item]) -> bool:
        """Verify one stream's head proof and that ``items`` end at that head."""
        assert p.heads is not None
        claim = p.heads[name]
        where = f"heads.{name}"
        if claim.stream != stream:
            self.v.fail(9, "heads-stream", f"the proof is for stream {claim.stream}, but the"
                        f" bundle's {name} stream is {stream}", where)
            return False
        try:
            verify_head(p.profile, root, stream, claim.head, claim.proof)
        except LedgerError as exc:
            what = exc.what if isinstance(exc, IntegrityFailedError) else str(exc)
            self.v.fail(9, "heads-proof", f"the head proof of the {name} stream {stream} does"
                        f" not verify against checkpoint {self.v.checkpoint_size}'s heads root:"
                        f" {what}", where)
            return False
        head = claim.head
        self.v.report.heads[name] = None if head is None else cast(
            dict[str, JSONValue], head_to_json(head))
        if items and items[-1].entry is None:
            return False  # a malformed entry, reported in step 1
        problem = _short_of_head(name, stream, items, head, self.v.checkpoint_size)
        if problem is not None:
            self.v.fail(9, "complete", problem, where)
            return False
        return True


def _short_of_head(name: str, stream: UUID, items: Sequence[_Item], head: StreamHead | None,
                   size: int) -> str | None:
    """What keeps ``items`` (one stream, in seq order) from ending at its committed ``head``
    at checkpoint ``size``, or None if the last item is the head."""
    if head is None:
        return (f"{name}: checkpoint {size} commits to no entry of stream {stream}, but the"
                f" bundle ships {len(items)}")
    last = items[-1]
    assert last.entry is not None
    seq = last.entry.seq
    if seq < head.seq:
        missing = (f"entry {head.seq} is" if head.seq == seq + 1
                   else f"entries {seq + 1}–{head.seq} are")
        return (f"{name}: the bundle ends at seq {seq} but checkpoint {size} commits to seq"
                f" {head.seq}: {missing} missing")
    if seq > head.seq:
        return (f"{name}: the bundle ends at seq {seq} but checkpoint {size} commits to seq"
                f" {head.seq} as the stream's head")
    if (last.hash, last.leaf_index) != (head.entry_hash.hex(), head.leaf_index):
        return (f"{name}: the bundle's seq {seq} is entry {last.hash[:16]}… at leaf"
                f" {last.leaf_index}, but checkpoint {size} commits to entry"
                f" {head.entry_hash.hex()[:16]}… at leaf {head.leaf_index}")
    return None


def _views(stream: UUID, entries: Sequence[tuple[Entry, str]], registry: Sequence[Entry],
           on: date, calendar: WorkingCalendar) -> dict[str, JSONValue]:
    """Each projection's view (the same in every profile; only its hash differs)."""
    events: list[EntryEvent] = []
    for entry, entry_hash in entries:
        cls: Any = event_class(entry.filing.type)
        events.append(cls(originator_id=entry.filing.stream, originator_version=entry.seq,
                          timestamp=parse_time(entry.recorded_at), filing=entry.filing,
                          signature=entry.signature, prev=entry.prev,
                          recorded_at=entry.recorded_at, entry_hash=entry_hash))
    facts: ProjectFacts = empty_facts(str(stream))
    for event in events:
        facts = fold(facts, fact_entry(event))
    actors: dict[str, TrailActor] = {}
    for registered in registry:
        if registered.filing.type == "ActorRegistered":
            payload = registered.filing.payload
            actors[payload["actor"]] = TrailActor(payload["role"], payload.get("unit"))
    opener = actors.get(facts.opened_by)
    unit = opener.unit if opener else None
    return {
        "project": views.library_row(facts, unit, on, calendar),
        "eligibility": views.eligibility_view(facts, on, calendar),
        "obligations": views.obligations_view(facts, on, calendar),
        "trail": trail(events, actors),
    }


def _recompute(p: _Parsed, calendar: WorkingCalendar) -> dict[str, str]:
    """The state hash of each projection, recomputed from the bundle's entries."""
    entries = []
    for item in p.entries:
        assert item.entry is not None
        entries.append((item.entry, item.hash))
    named = _views(p.stream, entries,
                   [i.entry for i in p.registry if i.entry is not None],
                   date.fromisoformat(p.evaluation["on"]), calendar)
    return {name: views.state_hash(view, p.profile) for name, view in named.items()}


def recompute_projections(bundle: Mapping[str, Any]) -> dict[str, JSONValue]:
    """The ``projections`` member a ``bundle.json`` object should carry, recomputed.

    The computation of step 8 (docs/design.md §5), from the object's own entries, registry,
    evaluation date and calendar, as ``{name: {"state", "state_hash"}}``; for tools that
    build or rewrite bundles (``scripts/make_evidence_vectors.py``). Nothing is verified:
    raises :class:`~ledger.errors.LedgerError` (or ``KeyError``) on a malformed object.
    """
    profile = profile_named(bundle["profile"])
    entries = [(Entry.parse(canonical_bytes(item["entry"])), item["hash"])
               for item in bundle["entries"]]
    registry = [Entry.parse(canonical_bytes(item["entry"])) for item in bundle["registry"]]
    evaluation = bundle["evaluation"]
    calendar = WorkingCalendar.from_json(json.dumps(evaluation["calendar"]))
    named = _views(UUID(bundle["stream"]), entries, registry,
                   date.fromisoformat(evaluation["on"]), calendar)
    return {name: {"state": view, "state_hash": views.state_hash(view, profile)}
            for name, view in named.items()}


@dataclass(frozen=True)
class _Trust:
    """The verifier's parsed trust anchors."""

    log_key: VerifierKey | None  # None: the bundle's own key, explicitly trusted
    root_key: bytes | None
    witness_keys: tuple[VerifierKey, ...]  # distinct (name, key id)
    quorum: int


def _key_name(key: VerifierKey) -> str:
    return f"{key.name}+{key.key_id.hex()}"


def _resolve_trust(log_key: str | None, witness_keys: Sequence[str], root_key: str | None,
                   quorum: int | None, trust_embedded_keys: bool) -> _Trust:
    """Parse and check the trust anchors before any byte of the bundle is read."""
    if log_key is None and not trust_embedded_keys:
        raise LogKeyNotPinnedError
    if log_key is not None and trust_embedded_keys:
        raise BundleTrustError("a log key is pinned and the bundle's own keys are to be"
                               " trusted: give one or the other")
    try:
        pinned = None if log_key is None else VerifierKey.parse(log_key)
    except LedgerError as exc:
        raise BundleTrustError(f"the pinned log key is malformed: {exc}") from None
    try:
        root = None if root_key is None else b64decode(root_key)
    except ValueError:
        raise BundleTrustError("the pinned root key is not standard base64") from None
    witnesses: dict[tuple[str, bytes], VerifierKey] = {}
    for text in witness_keys:
        try:
            witness = VerifierKey.parse(text)
        except LedgerError as exc:
            raise BundleTrustError(f"witness key {text!r} is malformed: {exc}") from None
        held = witnesses.setdefault((witness.name, witness.key_id), witness)
        if held != witness:
            raise BundleTrustError(f"two different witness keys are named {_key_name(witness)}")
    required = len(witnesses) if quorum is None else quorum
    if quorum is not None and (isinstance(quorum, bool) or not 1 <= quorum <= len(witnesses)):
        raise BundleTrustError(f"a witness quorum of {quorum!r} cannot be met by the"
                               f" {len(witnesses)} distinct witness key(s) given: it must be"
                               f" between 1 and {len(witnesses)}")
    return _Trust(pinned, root, tuple(witnesses.values()), required)


def verify_bundle(data: bytes | IO[bytes], *, log_key: str | None,
                  witness_keys: Sequence[str] = (), root_key: str | None = None,
                  quorum: int | None = None, trust_embedded_keys: bool = False,
                  limits: BundleLimits = DEFAULT_LIMITS) -> BundleReport:
    """Verify an evidence bundle offline; return its report, or raise with every failure.

    ``data`` is the zip's bytes or a seekable binary file (read member by member, so a large
    file is never held whole). Trust anchors, checked before the bundle is read:

    * ``log_key`` pins the log's C2SP verifier key (``NAME+KEYID+KEY``): a bundle naming any
      other key is refused. It is required: ``None`` raises :class:`LogKeyNotPinnedError`
      unless ``trust_embedded_keys`` says to check the bundle against the key it names itself
      (which proves integrity, not origin; the report warns).
    * ``witness_keys`` are witness verifier keys; the checkpoint must carry valid cosignatures
      by ``quorum`` distinct ones of them (default: all).
    * ``root_key`` (base64) pins the registry's root key.

    ``limits`` bound what is read (:class:`BundleLimits`; the defaults are safe). Steps
    (docs/design.md §5):

    1. parse the zip and ``bundle.json`` strictly (format, fields, types, limits);
    2. the checkpoint's log signature against the pinned key, and the witness quorum;
    3. every inclusion proof against the checkpoint root and size (RFC 9162 §2.1.3.2);
    4. every entry hash = H(JCS(entry)), recomputed;
    5. chain links and seq of the stream and the registry; recorded_at non-decreasing;
    6. registry signatures by the root key; author signatures by keys valid at recorded_at;
    7. every referenced document present and hashing to its name;
    8. the projections recomputed from the entries equal the shipped state hashes;
    9. completeness (format 2): the project's and the registry's head proofs verify against
       the checkpoint's ``heads`` root, and each stream's last shipped entry is its head (a
       format 1 bundle verifies with a warning that completeness is not proven).

    Raises :class:`BundleTrustError` for unusable trust anchors and
    :class:`BundleVerificationError` (its ``report`` lists every failure) for a rejected
    bundle.
    """
    trust = _resolve_trust(log_key, witness_keys, root_key, quorum, trust_embedded_keys)
    report = _Verifier(data, trust, limits).run()
    if report.failures:
        raise BundleVerificationError(report)
    return report
