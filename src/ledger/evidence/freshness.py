"""Is a verified bundle still current? ``ledger verify-bundle --online`` (docs/evidence-format.md,
*Online freshness*).

A bundle proves what the log held at its checkpoint, and (format 2) that each stream ended at its
head there. Whether anything was recorded since, and whether the bundle was current when it was
exported, only the live log can say. :func:`check_freshness` asks it, through a
:class:`LiveLog` (the HTTP client is the CLI's: this module does no I/O, so the offline verifier's
package stays free of network libraries), and checks every answer against the pinned log key:

1. the live checkpoint: signed by the pinned log key, of the bundle's origin;
2. it extends the bundle's checkpoint: not smaller (a **rollback** of the log), the same root at
   the same size, else an RFC 9162 consistency proof from the bundle's size to it (a **fork**);
3. the project's and the registry's current heads, each with a stream heads map proof against
   the live checkpoint's ``heads`` root; a head behind the bundle's last entry, or another entry
   at its seq, is a fork;
4. for a stream with newer entries, the newest and the first of them (inclusion proofs
   against the live root; the newest must be the head): the first must lie beyond the bundle's
   checkpoint (else the bundle was incomplete there), and must have been recorded after the
   bundle's ``exported_at`` (``as_known_at`` when given), since an export ships every entry
   recorded before it: otherwise the bundle was **rolled back** to an older checkpoint, or
   exported from a stale copy. The times are the log's ``recorded_at`` of those leaves, as the
   answers state them (the proofs cover the entry hashes, not the times).

What it reports: per stream, how many entries were recorded since the bundle's checkpoint and
the newest one's seq and time ("3 entries recorded on the project since the export, newest seq 12
at …"). Problems of steps 1–4 are errors (the CLI exits 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

from ledger.crypto.suites import Profile, profile_named
from ledger.errors import IntegrityFailedError, LedgerError
from ledger.evidence.bundle import BundleReport, registry_stream_for
from ledger.log import merkle
from ledger.log.canonical import JSONValue
from ledger.log.checkpoint import SignedNote, VerifierKey, verify_note
from ledger.log.headmap import (
    head_from_json,
    head_to_json,
    heads_root,
    proof_from_json,
    verify_head,
)

__all__ = ["FreshnessReport", "LiveLog", "LiveLogError", "StreamNews", "check_freshness"]


class LiveLogError(LedgerError):
    """Raised by a :class:`LiveLog` that cannot answer: no connection, an HTTP error, an answer
    that is not JSON. Not a finding about the bundle: :func:`check_freshness` lets it through
    (``verify-bundle --online`` exits 2)."""


class LiveLog(Protocol):
    """What :func:`check_freshness` asks the live log (``/log`` routes, docs/api.md); each
    method raises :class:`LiveLogError` when the log cannot answer."""

    def checkpoint(self) -> str:
        """``GET /log/checkpoint``: the latest signed checkpoint note."""
        ...

    def consistency(self, first: int, second: int) -> list[bytes]:
        """``GET /log/proof/consistency``: the RFC 9162 proof from ``first`` to ``second``."""
        ...

    def head(self, stream: UUID, tree_size: int) -> Mapping[str, Any]:
        """``GET /log/proof/head``: the JSON answer (``stream``, ``head``, ``proof``, …)."""
        ...

    def entry(self, stream: UUID, seq: int, tree_size: int) -> Mapping[str, Any]:
        """``GET /log/proof/inclusion?stream=…&seq=…``: the JSON answer."""
        ...


@dataclass
class StreamNews:
    """What the live log holds of one stream beyond the bundle."""

    name: str  # "project" | "registry"
    stream: str
    bundle_seq: int
    current_seq: int | None = None
    recorded_since: int = 0
    newest_recorded_at: str | None = None
    first_new_recorded_at: str | None = None

    def describe(self) -> str:
        """``3 entries recorded on the project since the export, newest seq 12 at …``."""
        where = "on the project" if self.name == "project" else "in the key registry"
        if not self.recorded_since:
            return f"no entry recorded {where} since the export (head seq {self.bundle_seq})"
        count = "1 entry" if self.recorded_since == 1 else f"{self.recorded_since} entries"
        return (f"{count} recorded {where} since the export, newest seq {self.current_seq}"
                f" at {self.newest_recorded_at}")

    def to_json(self) -> dict[str, JSONValue]:
        """Plain JSON."""
        return {"stream": self.stream, "bundle_seq": self.bundle_seq,
                "current_seq": self.current_seq, "recorded_since": self.recorded_since,
                "newest_recorded_at": self.newest_recorded_at,
                "first_new_recorded_at": self.first_new_recorded_at}


@dataclass
class FreshnessReport:
    """The live log's answer about one verified bundle."""

    url: str
    bundle_size: int | None = None
    current_size: int | None = None
    current_root: str | None = None
    streams: list[StreamNews] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True iff the live log extends the bundle's checkpoint and the bundle was current."""
        return not self.errors

    def to_json(self) -> dict[str, JSONValue]:
        """The ``online`` member of ``verify-bundle --json``."""
        return {"ok": self.ok, "url": self.url, "error": self.errors[0] if self.errors else None,
                "errors": list(self.errors), "bundle_checkpoint": self.bundle_size,
                "current_checkpoint": {"size": self.current_size, "root": self.current_root},
                "streams": {news.name: news.to_json() for news in self.streams}}

    def summary(self) -> str:
        """Lines for people."""
        if self.errors:
            lines = [f"ONLINE CHECK FAILED against {self.url}: {len(self.errors)} problem(s):"]
            lines += [f"  {error}" for error in self.errors]
            return "\n".join(lines)
        lines = [f"online ({self.url}): the live checkpoint {self.current_size} extends the"
                 f" bundle's checkpoint {self.bundle_size} (consistency proven)"]
        lines += [f"  {news.describe()}" for news in self.streams]
        return "\n".join(lines)


class _StopError(Exception):
    """Internal: a finding after which the next checks cannot run (already reported)."""


class _StreamError(Exception):
    """Internal: one stream's finding, worded for the report."""


def check_freshness(bundle: BundleReport, log: LiveLog, log_key: VerifierKey,
                    url: str) -> FreshnessReport:
    """Ask the live log whether the verified ``bundle`` is current (module docstring, 1–4).

    ``bundle`` is :func:`~ledger.evidence.bundle.verify_bundle`'s report of a bundle that
    verified; ``log_key`` the pinned log key. Answers of the wrong shape are findings too.
    Raises only :class:`LiveLogError` (the log could not answer); every finding is in the
    report.
    """
    report = FreshnessReport(url, bundle_size=bundle.checkpoint_size)
    with suppress(_StopError):
        _check(bundle, log, log_key, report)
    return report


def _check(bundle: BundleReport, log: LiveLog, log_key: VerifierKey,
           report: FreshnessReport) -> None:
    profile = profile_named(bundle.profile)
    size1 = bundle.checkpoint_size
    assert size1 is not None
    assert bundle.checkpoint_root is not None
    root1 = bytes.fromhex(bundle.checkpoint_root)

    def stop(message: str) -> _StopError:
        report.errors.append(message)
        return _StopError()

    # 1. The live checkpoint, under the pinned key.
    text = log.checkpoint()
    try:
        note = SignedNote.parse(text)
        verify_note(note, [log_key])
    except LedgerError as exc:
        raise stop(f"the live log's checkpoint is not validly signed by the pinned log key"
                   f" {log_key.name}+{log_key.key_id.hex()}: {_what(exc)}") from None
    current = note.checkpoint
    report.current_size, report.current_root = current.size, current.root.hex()
    if current.origin != bundle.origin:
        raise stop(f"the live log is {current.origin!r}, the bundle's is {bundle.origin!r}")
    # 2. It extends the bundle's checkpoint.
    if current.size < size1:
        raise stop(f"rollback: the live log's checkpoint has {current.size} leaves, fewer"
                   f" than the bundle's checkpoint {size1} (the log was rolled back, or this"
                   " is not the log that signed the bundle)")
    proof = [] if current.size == size1 else log.consistency(size1, current.size)
    try:
        merkle.verify_consistency(profile.hash, size1, current.size, root1, current.root, proof)
    except LedgerError as exc:
        raise stop(f"fork: the live checkpoint {current.size} is not an extension of the"
                   f" bundle's checkpoint {size1}: {_what(exc)}") from None
    try:
        heads = heads_root(current.extensions)
    except LedgerError as exc:
        raise stop(f"the live checkpoint {current.size} does not commit to the stream heads:"
                   f" {_what(exc)}") from None
    # 3 and 4, per stream.
    asker = _Asker(log, profile, heads, current.size, current.root, size1,
                   ("as_known_at", bundle.as_known_at) if bundle.as_known_at
                   else ("exported_at", bundle.exported_at))
    for name, stream in (("project", UUID(bundle.stream)),
                         ("registry", registry_stream_for(bundle.origin))):
        shipped = bundle.last_entries[name]
        news = StreamNews(name, str(stream), int(str(shipped["seq"])))
        report.streams.append(news)
        try:
            asker.stream(stream, shipped, news)
        except _StreamError as problem:
            report.errors.append(f"{name}: {problem}")
        except LiveLogError:
            raise
        except (LedgerError, KeyError, TypeError, ValueError) as exc:
            report.errors.append(f"{name}: the live log's answer is malformed: {_what(exc)}")


@dataclass(frozen=True)
class _Asker:
    """Steps 3 and 4 against one live checkpoint."""

    log: LiveLog
    profile: Profile
    heads: bytes  # the live checkpoint's heads root
    size: int
    root: bytes
    bundle_size: int
    bound: tuple[str, str]  # which of the bundle's times, and its value

    def stream(self, stream: UUID, shipped: Mapping[str, JSONValue], news: StreamNews) -> None:
        """Fill ``news`` for one stream; raise _StreamError with what is wrong."""
        answer = self.log.head(stream, self.size)
        head = None if answer["head"] is None else head_from_json(answer["head"])
        try:
            verify_head(self.profile, self.heads, stream, head, proof_from_json(answer["proof"]))
        except LedgerError as exc:
            raise _StreamError(f"the live log's head proof does not verify against checkpoint"
                               f" {self.size}'s heads root: {_what(exc)}") from None
        seq = int(str(shipped["seq"]))
        if head is None or head.seq < seq:
            found = "no entry" if head is None else f"head seq {head.seq}"
            raise _StreamError(f"fork: the live log's stream heads map gives {found} at"
                               f" checkpoint {self.size}, but the bundle proves seq {seq} in"
                               f" checkpoint {self.bundle_size}")
        news.current_seq = head.seq
        if head.seq == seq:
            if head_to_json(head) != shipped:
                raise _StreamError(f"fork: the live log's seq {seq} is entry"
                                   f" {head.entry_hash.hex()} at leaf {head.leaf_index}, the"
                                   f" bundle's {shipped['entry_hash']} at leaf"
                                   f" {shipped['leaf_index']}")
            return
        news.recorded_since = head.seq - seq
        newest = self._entry(stream, head.seq)
        if (newest["entry_hash"], newest["leaf_index"]) != (head.entry_hash.hex(),
                                                            head.leaf_index):
            raise _StreamError(f"the live log's entry seq {head.seq} is not its committed head")
        news.newest_recorded_at = _time(newest.get("recorded_at"))
        first = newest if head.seq == seq + 1 else self._entry(stream, seq + 1)
        news.first_new_recorded_at = _time(first.get("recorded_at"))
        index = int(first["leaf_index"])
        if index < self.bundle_size:
            raise _StreamError(f"incomplete: seq {seq + 1} is leaf {index}, inside the bundle's"
                               f" checkpoint {self.bundle_size}, but the bundle ends at seq"
                               f" {seq}: entries {seq + 1}–{head.seq} are missing from it")
        label, moment = self.bound
        if news.first_new_recorded_at is not None and news.first_new_recorded_at <= moment:
            raise _StreamError(f"not current when exported: seq {seq + 1} was recorded at"
                               f" {news.first_new_recorded_at}, before the bundle's {label}"
                               f" {moment}, yet the bundle does not hold it (a bundle rolled"
                               " back to an older checkpoint, or exported from a stale copy)")


    def _entry(self, stream: UUID, seq: int) -> Mapping[str, Any]:
        """Entry ``seq`` of ``stream`` in the live tree: its leaf, proven included."""
        found = self.log.entry(stream, seq, self.size)
        index = int(found["leaf_index"])
        try:
            merkle.verify_inclusion(self.profile.hash, index, self.size,
                                    bytes.fromhex(str(found["entry_hash"])),
                                    [bytes.fromhex(str(n)) for n in found["inclusion_proof"]],
                                    self.root)
        except LedgerError as exc:
            raise _StreamError(f"the live log's inclusion proof of seq {seq} does not"
                               f" verify: {_what(exc)}") from None
        return found


def _time(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _what(exc: Exception) -> str:
    return exc.what if isinstance(exc, IntegrityFailedError) else str(exc)
