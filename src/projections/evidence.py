"""Evidence export (docs/design.md §5, *Evidence bundle*): one project's bundle, built from the
database.

The bundle proves a *log prefix*: every entry of the project (and of the key registry) recorded
at or before a moment T, each with an RFC 9162 inclusion proof against one signed checkpoint.

* Without T, the checkpoint is the latest one, and the entries are those its tree contains.
* With T ("as known at"), the tree size known at T is the number of leaves with
  ``recorded_at`` ≤ T (a prefix, because ``recorded_at`` never decreases along the log); the
  checkpoint is the largest stored one of at most that size, and it must contain every entry
  recorded at or before T, or the export is refused naming what is not covered.

The projections are :func:`projections.replay.replay_project`'s, as known at the same moment and
evaluated on ``on`` (default today in Asia/Shanghai) with the ledger's calendar, which the bundle
ships so that a verifier recomputes them.

The bundle is format 2: it carries the project stream's and the registry stream's heads in the
stream heads map at the checkpoint, with their proofs (``Ledger.proofs.head_proof``), so that a
verifier proves nothing newer was left out. A checkpoint signed before the database's map started
has no ``heads`` line; a bundle proven against one is format 1 (no heads).

``exported_at`` is read when the export starts, and every entry of the project and of the
registry recorded at or before it (before ``as_known_at``, when given) is in the bundle: the
export checks this last and starts again otherwise (an append was in flight), so that
``ledger verify-bundle --online`` can tell a bundle that was current when exported from one
rolled back to an older checkpoint. Every bundle is verified with
:func:`ledger.evidence.bundle.verify_bundle` (log and root key pinned) before it is returned.

With witnesses configured (``LEDGER_WITNESSES``), a bundle without T is proven against the newest
checkpoint that a quorum of them cosigned (``LEDGER_WITNESS_QUORUM``, default all), provided it
contains the project's and the registry's newest entries; the bundle then carries their
cosignatures. When none does yet (a filing newer than the last push), the export waits up to two
push intervals for the next cosigned checkpoint, and otherwise uses the latest checkpoint, logs
a warning and says in its report that the checkpoint is not cosigned by a witness.
"""

from __future__ import annotations

import html
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from uuid import UUID

from ledger.app import Ledger
from ledger.errors import (
    CheckpointError,
    HeadsMapUnavailableError,
    IntegrityFailedError,
    ProjectNotFoundError,
    ValidationFailedError,
)
from ledger.evidence.bundle import (
    BundleHead,
    BundleItem,
    BundleVerificationError,
    build_bundle_json,
    pack_bundle,
    verify_bundle,
)
from ledger.log import merkle
from ledger.log.checkpoint import SignedNote, verify_note
from ledger.log.entries import b64encode, format_time
from ledger.log.headmap import heads_root
from ledger.log.merkle import NodeId
from ledger.log.store import StoredCheckpoint
from ledger.log.witness import (
    WitnessEndpoint,
    cosigned_by,
    cosigned_note,
    parse_witnesses,
    quorum_of,
)
from ledger.measures.catalogue import CATALOGUE, documents_referenced, validate_payload
from ledger.measures.events import EntryEvent
from ledger.measures.report import render_report
from projections.replay import replay_project

__all__ = ["EvidenceExportError", "WitnessRule", "cosigned_checkpoint", "export_bundle",
           "normalise_time", "tree_size_known_at"]

_ATTEMPTS = 3
_SCAN = 256  # newest cosigned checkpoints searched for one a quorum of witnesses cosigned
_POLL = 0.05  # seconds between looks for the next cosigned checkpoint
_UNCOSIGNED = "checkpoint not cosigned by a witness"
_log = logging.getLogger("ledger.evidence")
_NODE_BATCH = 4000  # node ids per query (SQLite allows 32766 bound parameters; two per id)


class EvidenceExportError(IntegrityFailedError):
    """Raised when a bundle cannot be exported intact: a referenced document is missing from
    the database, or the bundle built does not pass the offline verifier."""


def normalise_time(text: str) -> str:
    """An RFC 3339 time with an offset, as the ledger writes it (UTC, six fractional digits).

    ``recorded_at`` values compare as fixed-width strings, so "as known at" must be in exactly
    that form. Raises :class:`ValidationFailedError` for a time without an offset.
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationFailedError("evidence", [
            ("as_known_at", f"expected an RFC 3339 time such as 2026-03-02T01:02:03Z,"
                            f" got {text!r}")]) from None
    if moment.tzinfo is None:
        raise ValidationFailedError("evidence", [
            ("as_known_at", f"the time needs an offset (Z or +08:00), got {text!r}")])
    return format_time(moment.astimezone(UTC))


def tree_size_known_at(ledger: Ledger, as_known_at: str) -> int:
    """The number of leaves recorded at or before ``as_known_at`` (binary search, O(log n)).

    ``recorded_at`` never decreases along the log (docs/design.md §5 Entry), so these leaves are a
    prefix of the log.
    """
    low, high = 0, ledger.log.tree_size()
    while low < high:
        middle = (low + high) // 2
        leaf = ledger.log.leaf(middle)
        if leaf is None:
            raise IntegrityFailedError("the log has a gap (run `ledger verify`)",
                                       leaf_index=middle)
        if leaf.recorded_at <= as_known_at:
            low = middle + 1
        else:
            high = middle
    return low


def _checked(ledger: Ledger, stored: StoredCheckpoint) -> StoredCheckpoint:
    """The stored checkpoint, its log signature and size/root verified."""
    note = SignedNote.parse(stored.note)
    verify_note(note, [ledger.identity.log_key])
    if (note.checkpoint.size, note.checkpoint.root) != (stored.size, stored.root):
        raise CheckpointError("stored size/root disagree with the signed note",
                              leaf_index=stored.size)
    return stored


def _leaves(ledger: Ledger, events: Sequence[EntryEvent]) -> list[int]:
    indexes = []
    for event in events:
        leaf = ledger.log.leaf_for(event.originator_id, event.originator_version)
        if leaf is None:
            raise IntegrityFailedError("the entry has no log leaf (run `ledger verify`)",
                                       stream=event.originator_id, seq=event.originator_version)
        indexes.append(leaf.leaf_index)
    return indexes


def _proofs(ledger: Ledger, leaves: Sequence[int], size: int) -> list[tuple[bytes, ...]]:
    """RFC 9162 §2.1.3.1 inclusion proofs from stored nodes, fetched in a few batched queries."""
    ranges = [merkle.inclusion_ranges(leaf, size) for leaf in leaves]
    wanted = sorted(merkle.nodes_needed(r for rs in ranges for r in rs))
    nodes: dict[NodeId, bytes] = {}
    for start in range(0, len(wanted), _NODE_BATCH):
        nodes.update(ledger.log.nodes(wanted[start:start + _NODE_BATCH]))
    hashes = iter(merkle.stored_range_hashes(ledger.identity.profile.hash,
                                             [r for rs in ranges for r in rs], nodes))
    return [tuple(next(hashes) for _ in rs) for rs in ranges]


def _items(ledger: Ledger, events: Sequence[EntryEvent], leaves: Sequence[int],
           size: int) -> list[BundleItem]:
    proofs = _proofs(ledger, leaves, size)
    return [BundleItem(event.entry(), str(event.entry_hash), leaf, proof)
            for event, leaf, proof in zip(events, leaves, proofs, strict=True)]


_EXTENSIONS = {
    "application/pdf": "pdf", "application/ofd": "ofd", "image/png": "png",
    "image/jpeg": "jpg", "application/zip": "zip", "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "text/plain": "txt", "application/json": "json",
}


def _field_of(value: object, sha256: str, field: str = "document") -> str | None:
    """The payload field (the innermost key) that holds a document's hash."""
    if value == sha256:
        return field
    if isinstance(value, dict):
        for key, inner in value.items():
            found = _field_of(inner, sha256, str(key))
            if found is not None:
                return found
    if isinstance(value, list):
        for inner in value:
            found = _field_of(inner, sha256, field)
            if found is not None:
                return found
    return None


def document_names(ledger: Ledger, events: Sequence[EntryEvent]) -> dict[str, str]:
    """A file name for every document the entries cite, for ``names.json``: the citing entry's
    seq and Chinese name, the payload field, and the extension of its media type
    (``004-合同备案-contract_text.pdf``), each name used once."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for event in events:
        model = validate_payload(event.filing.type, event.filing.payload)
        for sha256 in documents_referenced(model):
            if sha256 in names:
                continue
            stored = ledger.log.get_document(sha256)
            extension = _EXTENSIONS.get(stored.media_type, "bin") if stored else "bin"
            summary = CATALOGUE[event.filing.type].summary_zh or event.filing.type
            field = _field_of(event.filing.payload, sha256) or "document"
            stem = re.sub(r'[\x00-\x1f\x7f/\\:*?"<>|]', "_",
                          f"{event.originator_version:03d}-{summary}-{field}")[:100]
            name, n = f"{stem}.{extension}", 1
            while name.casefold() in used:
                n += 1
                name = f"{stem}-{n}.{extension}"
            used.add(name.casefold())
            names[sha256] = name
    return names


def _documents(ledger: Ledger, events: Sequence[EntryEvent]) -> dict[str, bytes]:
    documents: dict[str, bytes] = {}
    for event in events:
        model = validate_payload(event.filing.type, event.filing.payload)
        for sha256 in documents_referenced(model):
            if sha256 in documents:
                continue
            document = ledger.log.get_document(sha256)
            if document is None:
                raise EvidenceExportError(
                    f"document {sha256} is referenced but not stored (upload it first)",
                    stream=event.originator_id, seq=event.originator_version)
            documents[sha256] = document.data
    return documents


def _heads(ledger: Ledger, project_id: UUID, stored: StoredCheckpoint,
           ) -> tuple[BundleHead, BundleHead] | None:
    """The project's and the registry's heads at the checkpoint with their map proofs; None
    for a checkpoint without a ``heads`` line (signed before the database's map started)."""
    try:
        heads_root(SignedNote.parse(stored.note).checkpoint.extensions)
    except CheckpointError:
        return None
    found = []
    for stream in (project_id, ledger.identity.registry_stream):
        try:
            head, proof = ledger.proofs.head_proof(stream, stored.size)
        except HeadsMapUnavailableError as exc:  # a heads line, but no map: the store is off
            raise EvidenceExportError(f"checkpoint {stored.size} has a heads line but {exc}",
                                      stream=stream) from None
        found.append(BundleHead(stream, head, proof))
    return found[0], found[1]


def _missed(ledger: Ledger, shipped: Sequence[tuple[UUID, Sequence[EntryEvent]]],
            bound: str) -> bool:
    """Whether a stream has an entry recorded at or before ``bound`` newer than those shipped
    (an append in flight when the export read the log)."""
    for stream, events in shipped:
        newest = ledger.log.stream_head_leaf(stream, recorded_by=bound)
        if newest is not None and newest.originator_version > events[-1].originator_version:
            return True
    return False


def _uncovered(events: Sequence[EntryEvent], leaves: Sequence[int], size: int) -> str | None:
    for event, leaf in zip(events, leaves, strict=True):
        if leaf >= size:
            return (f"{event.filing.type} seq {event.originator_version} of stream"
                    f" {event.originator_id} (leaf {leaf})")
    return None


@dataclass(frozen=True)
class WitnessRule:
    """Which checkpoint an export without ``as_known_at`` may use: one that ``quorum`` of
    ``witnesses`` cosigned, waiting up to ``wait`` seconds for it."""

    witnesses: tuple[WitnessEndpoint, ...]
    quorum: int
    wait: float

    @classmethod
    def of(cls, ledger: Ledger) -> WitnessRule | None:
        """The rule of the ledger's settings (None: no witness configured)."""
        settings = ledger.settings
        witnesses = parse_witnesses(settings.witnesses)
        if not witnesses:
            return None
        return cls(witnesses, quorum_of(len(witnesses), settings.witness_quorum),
                   2 * settings.witness_interval)


def cosigned_checkpoint(ledger: Ledger, rule: WitnessRule,
                        beyond: int) -> StoredCheckpoint | None:
    """The newest stored checkpoint of more than ``beyond`` leaves carrying valid cosignatures
    of at least ``rule.quorum`` configured witnesses; None if there is none among the newest
    ``_SCAN`` checkpoints that carry a line of any of them (only those are looked at)."""
    size = ledger.log.tree_size()
    keys = [(w.vkey.name, w.vkey.key_id.hex()) for w in rule.witnesses]
    for _ in range(_SCAN):
        tops = [ledger.log.cosigned_at_most(name, key_id, size) for name, key_id in keys]
        newest = max((top for top in tops if top is not None), default=None)
        if newest is None or newest <= beyond:
            return None
        stored = ledger.log.checkpoint_at_most(newest)
        if stored is not None and stored.size == newest and len(cosigned_by(
                stored.note, ledger.log.cosignatures(newest), rule.witnesses)) >= rule.quorum:
            return stored
        size = newest - 1
    return None


def _newest_leaf(ledger: Ledger, project_id: UUID) -> int:
    """The largest leaf index of the project's and the registry's entries (-1: none)."""
    leaves = [ledger.log.stream_head_leaf(stream)
              for stream in (project_id, ledger.identity.registry_stream)]
    return max((leaf.leaf_index for leaf in leaves if leaf is not None), default=-1)


def _await_cosigned(ledger: Ledger, project_id: UUID, rule: WitnessRule,
                    deadline: float) -> StoredCheckpoint | None:
    """A cosigned checkpoint containing the project's newest entry, waiting until
    ``deadline`` (monotonic) for the next push to bring one."""
    while True:
        found = cosigned_checkpoint(ledger, rule, _newest_leaf(ledger, project_id))
        if found is not None or time.monotonic() >= deadline:
            return found
        time.sleep(_POLL)


def _warned(report_html: str, warning: str) -> str:
    """The report with ``warning`` at the top of its body."""
    head, body, rest = report_html.partition("<body>")
    if not body:
        return report_html
    return (f'{head}{body}<p class="warning" role="alert"><strong>警告 Warning:'
            f" {html.escape(warning)}</strong></p>{rest}")


def export_bundle(ledger: Ledger, project_id: UUID, *, as_known_at: str | None = None,
                  on: date | None = None) -> bytes:
    """The evidence bundle (zip bytes) of a project, as known at a time, evaluated on a date.

    Raises :class:`ProjectNotFoundError` (no such project, or none yet at ``as_known_at``),
    :class:`ValidationFailedError` (a malformed time, or no checkpoint proving the entries
    recorded by then), :class:`EvidenceExportError` (a missing document, or a bundle that
    does not verify).
    """
    identity = ledger.identity
    if project_id == identity.registry_stream:
        raise ProjectNotFoundError(project_id)
    pinned_time = None if as_known_at is None else normalise_time(as_known_at)
    on = on or ledger.today()
    rule = None if pinned_time is not None else WitnessRule.of(ledger)
    deadline = time.monotonic() + (0.0 if rule is None else rule.wait)
    for _ in range(_ATTEMPTS):
        chosen = None if rule is None else _await_cosigned(ledger, project_id, rule, deadline)
        warning = None
        if rule is not None and chosen is None:
            warning = (f"{_UNCOSIGNED}: no checkpoint containing the project's newest entry"
                       f" was cosigned by {rule.quorum} of the {len(rule.witnesses)} configured"
                       f" witness(es) within {rule.wait:g} s; the bundle is proven against the"
                       " log's latest checkpoint, signed by the log alone")
        data = _export_once(ledger, project_id, pinned_time, on, chosen=chosen,
                            warning=warning)
        if data is not None:
            if warning is not None:
                _log.warning("evidence export of %s: %s", project_id, warning)
            return data
    raise ValidationFailedError("evidence", [(
        "as_known_at", "the log kept moving under the export (entries of the project or the"
                       " registry recorded while it read the log); pass --as-known-at")])


def _export_once(ledger: Ledger, project_id: UUID, pinned_time: str | None, on: date, *,
                 chosen: StoredCheckpoint | None = None,
                 warning: str | None = None) -> bytes | None:
    """One attempt against ``chosen`` (default: the latest checkpoint; with ``pinned_time``:
    the one known then); None when a concurrent append made the prefix ambiguous (retry)."""
    identity = ledger.identity
    exported_at = ledger.now()
    if pinned_time is None:
        latest = ledger.trusted_checkpoint() if chosen is None else _checked(ledger, chosen)
        if latest is None:
            raise ValidationFailedError("evidence", [("checkpoint", "the log is empty")])
        stored = latest
        last_leaf = ledger.log.leaf(stored.size - 1)
        if last_leaf is None:
            raise IntegrityFailedError("the checkpoint's last leaf is missing",
                                       leaf_index=stored.size - 1)
        known_at = last_leaf.recorded_at
    else:
        known_at = pinned_time
    events = [e for e in ledger.events_of(project_id)
              if e.recorded_at is not None and e.recorded_at <= known_at]
    if not events:
        raise ProjectNotFoundError(project_id)
    if pinned_time is not None:
        found = ledger.log.checkpoint_at_most(tree_size_known_at(ledger, known_at))
        if found is None:
            raise ValidationFailedError("evidence", [(
                "as_known_at", f"no signed checkpoint existed at or before {known_at}")])
        stored = _checked(ledger, found)
    registry = [e for e in ledger.events_of(identity.registry_stream)
                if e.recorded_at is not None and e.recorded_at <= known_at]
    leaves, registry_leaves = _leaves(ledger, events), _leaves(ledger, registry)
    uncovered = _uncovered(events, leaves, stored.size) or _uncovered(
        registry, registry_leaves, stored.size)
    if uncovered is not None:
        if pinned_time is None:
            return None  # appended in the same microsecond as the checkpoint's last leaf
        raise ValidationFailedError("evidence", [(
            "as_known_at", f"the largest checkpoint at or before {known_at} has"
                           f" {stored.size} leaves and does not contain {uncovered}")])
    replay = replay_project(ledger, project_id, as_known_at=known_at, on=on)
    if replay.entries != len(events):
        return None
    bundle = build_bundle_json(
        profile=identity.profile, origin=identity.origin, stream=project_id,
        exported_at=exported_at,
        checkpoint=cosigned_note(stored.note, ledger.log.cosignatures(stored.size)),
        log_key=identity.log_key, root_key_id=identity.root_key_id,
        root_public_key=identity.root_public_key,
        entries=_items(ledger, events, leaves, stored.size),
        registry=_items(ledger, registry, registry_leaves, stored.size),
        projections=replay.views, on=on, as_known_at=pinned_time,
        calendar=ledger.calendar, heads=_heads(ledger, project_id, stored))
    if _missed(ledger, [(project_id, events), (identity.registry_stream, registry)],
               pinned_time or exported_at):
        return None
    report = render_report(bundle)
    data = pack_bundle(bundle, _documents(ledger, events),
                       report if warning is None else _warned(report, warning),
                       document_names(ledger, events))
    try:
        verify_bundle(data, log_key=identity.log_key.encode(),
                      root_key=b64encode(identity.root_public_key))
    except BundleVerificationError as exc:
        raise EvidenceExportError(f"the exported bundle does not verify: {exc.what}",
                                  stream=project_id) from None
    return data
