"""What the pages read, through :class:`~api.services.LedgerService` and its access rules.

The pages call the same service methods and the same projections as the API; this module only
remembers results that cannot change, so that a page is fast on its second view:

* a library row depends only on the project's facts (identified by their last entry hash),
  its unit, the evaluation date and the working-day calendar;
* a project's views as known at T depend only on the log prefix known at T (fixed for good
  once T is in the past), the evaluation date and the calendar;
* an author signature over an entry is valid or not once and for all for that entry hash and
  key; whether the key was valid at ``recorded_at`` is judged again on every view (a later
  revocation takes effect at once).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast
from uuid import UUID

from api.pages.units import UnitNames
from api.services import Actor, LedgerService, VerifyRecord
from ledger.errors import BadSignatureError, ProjectNotFoundError, StoredValueError
from ledger.evidence.verify_record import VerifyRecordSignatureError
from ledger.log.canonical import JSONValue
from ledger.log.checkpoint import SignedNote
from ledger.log.entries import b64decode, b64encode
from ledger.log.store import StoredCheckpoint
from ledger.measures import views
from ledger.measures.aggregates import KeyRegistry
from ledger.measures.events import EntryEvent
from ledger.measures.facts import ProjectFacts
from ledger.measures.roles import Role
from projections.replay import replay_events
from projections.state import LibraryState

_ROW_MEMO_LIMIT = 200_000
_LIBRARY_MEMO_LIMIT = 16
_PROJECT_MEMO_LIMIT = 64
_SIGNATURE_MEMO_LIMIT = 500_000
_WITNESS_LOOKBACK = 256
DATED_KEYS = ("eligible", "overdue", "flags")
"""The keys of a library row computed for its evaluation date (filled by ``Library.dated``)."""


@dataclass(frozen=True)
class Library:
    """The library rows a caller may see, as known at T (None: now), evaluated on ``on``."""

    rows: list[dict[str, JSONValue]]
    units: list[str]
    on: date
    as_known_at: str | None
    entries: int
    last_recorded_at: str
    money: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per project id: construction and O&M money apart (``arranged_c_fen``, ``arranged_om_fen``,
    ``disbursed_c_fen``, ``disbursed_om_fen``): the row adds them up, the pages show them apart
    (the approved budget is construction money only)."""
    views: dict[Hashable, Any] = field(default_factory=dict, compare=False)
    """What the pages derive from these rows (per unit names and query), kept with them: the
    rows do not change while this object is the current library. ``"previous"``: the library
    this one was derived from, whose derived rows may be reused (taken once)."""
    by_id: dict[str, tuple[Any, ...]] = field(default_factory=dict, compare=False)
    """Per project id: (facts, unit, row, money), to derive the next library from this one."""
    fill: Callable[[str, ProjectFacts, str | None], dict[str, JSONValue]] | None = field(
        default=None, compare=False)
    """The full row of a project on ``on`` (``views.library_row``), for :meth:`dated`."""

    def dated(self, row: dict[str, JSONValue]) -> dict[str, JSONValue]:
        """The row with what depends on the evaluation date filled in (eligibility, overdue
        obligations, flags): a row is made without them, and filled when a page shows, filters
        or sorts by them, so that the first library of a day computes the shown page's rows
        only, not all ten thousand. Filled in place, once; returns the row."""
        if DATED_KEYS[0] not in row and self.fill is not None:
            facts, owner = self.by_id[str(row["id"])][:2]
            row.update(self.fill(str(row["id"]), facts, owner))
        return row

    def complete(self) -> list[dict[str, JSONValue]]:
        """Every row with its dated part (for exports, state hashes, date filters)."""
        for row in self.rows:
            self.dated(row)
        return self.rows


@dataclass
class ProjectData:
    """Everything the project page shows, computed once per log prefix and date."""

    project_id: UUID
    as_known_at: str | None
    on: date
    views: dict[str, Any]
    """``replay_project`` views: ``{name: {"state", "state_hash"}}``."""
    signatures: dict[int, str]
    """seq → ``valid`` | ``invalid``."""
    names: dict[str, str]
    """actor → display name."""
    flags: list[dict[str, JSONValue]]
    seq_of_hash: dict[str, int]
    svg: dict[str, str] = field(default_factory=dict)
    """The timeline SVG per language (filled by the page)."""
    money: dict[str, int] = field(default_factory=dict)
    """Construction and O&M money apart (``arranged_c_fen``, ``arranged_om_fen``,
    ``disbursed_c_fen``, ``disbursed_om_fen``), as known at T."""
    payloads: dict[int, dict[str, Any]] = field(default_factory=dict)
    """seq → the entry's payload (what its author filed)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """What the page derives from the above once (entries in words, leaf indexes)."""


@dataclass(frozen=True)
class Witness:
    """The newest checkpoint a witness cosigned, and how far it lags the latest."""

    names: list[str]
    size: int
    time: str | None
    lag_entries: int


@dataclass(frozen=True)
class LogStatus:
    """The latest checkpoint, its witness, and the last integrity check."""

    checkpoint: StoredCheckpoint | None
    checkpoint_time: str | None
    root_hex: str | None
    root_b64: str | None
    note: str | None
    tree_size: int
    witness: Witness | None
    verify: VerifyRecord | None
    verify_problem: str | None = None
    """Why the newest kept verify result is not shown as one: ``unreadable`` (not one, edited
    in the database) or ``unsigned`` (not signed by the log key as this ledger's run of its
    number: written or copied by someone else)."""


class Memo:
    """A small thread-safe map that forgets the least recently used (the pages' memos)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)


class PageReads:
    """Reads for the pages over one service (one per app)."""

    def __init__(self, service: LedgerService) -> None:
        self.service = service
        self._rows = Memo(_ROW_MEMO_LIMIT)
        self._projects = Memo(_PROJECT_MEMO_LIMIT)
        self._signatures = Memo(_SIGNATURE_MEMO_LIMIT)
        self._libraries = Memo(_LIBRARY_MEMO_LIMIT)
        self._current: dict[tuple[Any, ...], Library] = {}
        """The newest library "now" per (day, calendar, scope): the next one starts from it."""
        self.fragments = Memo(_ROW_MEMO_LIMIT)
        """Rendered HTML of library rows, by (row object, language, link suffix)."""
        self.units = UnitNames(service.ledger)
        """Display names of the construction units."""

    # --- library -----------------------------------------------------------------------

    def library(self, actor: Actor, *, on: date | None = None,
                as_known_at: str | None = None) -> Library:
        """Every row the caller may see: all of them, or a unit's own (as ``list_projects``)."""
        service = self.service
        service.require_reader(actor)
        day = on or service.ledger.today()
        state = service.library_state(as_known_at)
        calendar = service.ledger.calendar
        digest = calendar.digest  # computed, not stored: once per call
        only = actor.unit if actor.role is Role.UNIT else None
        # The read model is one object, changed in place as entries arrive: while it holds the
        # same number of entries, every row is what it was (10,000 rows take ~100 ms to walk).
        whole = (id(state), state.entries, state.last_recorded_at, day, digest, only,
                 as_known_at)
        known: Library | None = self._libraries.get(whole)
        if known is not None:
            return known
        # After a filing only its project's facts are a new object: the rest of the previous
        # library (same day, calendar and scope) is taken as it was, without the row memo.
        scope = (day, digest, only)
        previous = self._current.get(scope) if as_known_at is None else None
        before = previous.by_id if previous is not None else {}
        rows: list[dict[str, JSONValue]] = []
        money: dict[str, dict[str, int]] = {}
        by_id: dict[str, tuple[Any, ...]] = {}
        for project_id, facts in state.projects.items():
            owner = state.unit_of(facts)
            if actor.role is Role.UNIT and owner != only:
                continue
            hit = before.get(project_id)
            if hit is not None and hit[0] is facts and hit[1] == owner:
                row, amounts = hit[2], hit[3]
            else:
                row, amounts = views.undated_library_row(facts, owner), {
                    "arranged_c_fen": facts.arranged_construction_fen,
                    "arranged_om_fen": facts.arranged_om_fen,
                    "disbursed_c_fen": facts.disbursed_construction_fen,
                    "disbursed_om_fen": facts.disbursed_om_fen}
            rows.append(row)
            money[project_id] = amounts
            by_id[project_id] = (facts, owner, row, amounts)
        rows.sort(key=lambda r: str(r["id"]))
        units = [only] if only is not None else state.units()
        library = Library(rows, [u for u in units if u], day, as_known_at, state.entries,
                          state.last_recorded_at, money, by_id=by_id,
                          fill=lambda pid, facts, owner: self._row(pid, facts, owner, day,
                                                                   digest))
        if as_known_at is None:
            if previous is not None:
                previous.views.pop("previous", None)  # one step back at most: no chain
                library.views["previous"] = previous
            if scope not in self._current:  # a new day or calendar: forget the old ones
                self._current = {k: v for k, v in self._current.items()
                                 if k[:2] == scope[:2]}
            self._current[scope] = library
        self._libraries.put(whole, library)
        return library

    def _row(self, project_id: str, facts: ProjectFacts, owner: str | None, day: date,
             digest: str) -> dict[str, JSONValue]:
        """A project's library row, computed once per project state, unit, day and calendar."""
        key = (project_id, facts.last_hash, owner, day, digest)
        row: dict[str, JSONValue] | None = self._rows.get(key)
        if row is None:
            row = views.library_row(facts, owner, day, self.service.ledger.calendar)
            self._rows.put(key, row)
        return row

    def library_hash(self, library: Library) -> str:
        """The state hash of the rows shown (the whole library view for a reader of all)."""
        return views.state_hash(list(library.complete()), self.service.ledger.identity.profile)

    def terminated(self, actor: Actor) -> set[str]:
        """Ids of terminated projects (their deadlines no longer call for action)."""
        self.service.require_reader(actor)
        state = self.service.library_state()
        return {pid for pid, facts in state.projects.items() if facts.terminated is not None}

    # --- one project ---------------------------------------------------------------------

    def visible_facts(self, actor: Actor, project_id: UUID) -> tuple[LibraryState, ProjectFacts]:
        """The project's current facts from the read model, if the caller may see it."""
        service = self.service
        service.require_reader(actor)
        state = service.library_state()
        facts = state.projects.get(str(project_id))
        if facts is None or str(project_id) == state.registry_stream:
            raise ProjectNotFoundError(project_id)
        service.visible(actor, facts, project_id)  # a unit and another unit's project: 404
        return state, facts

    def project(self, actor: Actor, project_id: UUID, *, on: date | None = None,
                as_known_at: str | None = None) -> ProjectData:
        """The project page's data (as known at T, evaluated on ``on``)."""
        state, facts = self.visible_facts(actor, project_id)
        ledger = self.service.ledger
        day = on or ledger.today()
        registry_leaf = ledger.log.stream_head_leaf(ledger.identity.registry_stream)
        registry_head = registry_leaf.leaf_index if registry_leaf is not None else -1
        settled = as_known_at is not None and as_known_at < state.last_recorded_at
        key = (str(project_id), as_known_at, day, ledger.calendar.digest, registry_head,
               None if settled else facts.last_hash)
        data: ProjectData | None = self._projects.get(key)
        if data is None:
            data = self._compute(project_id, as_known_at, day)
            self._projects.put(key, data)
        return data

    def _compute(self, project_id: UUID, as_known_at: str | None, day: date) -> ProjectData:
        ledger = self.service.ledger
        events = ledger.events_of(project_id, as_known_at=as_known_at)  # read once, verified
        replay, facts = replay_events(ledger, project_id, events, as_known_at=as_known_at,
                                      on=day)
        registry = ledger.registry()
        signatures = {e.originator_version: "valid" if self._signature_ok(e, registry)
                      else "invalid" for e in events}
        flags = cast(list[dict[str, JSONValue]], replay.flags)
        names = {a: r.display_name for a, r in registry.actors.items()}
        seq_of_hash = {e.entry_hash: e.originator_version for e in events if e.entry_hash}
        money = {"arranged_c_fen": facts.arranged_construction_fen,
                 "arranged_om_fen": facts.arranged_om_fen,
                 "disbursed_c_fen": facts.disbursed_construction_fen,
                 "disbursed_om_fen": facts.disbursed_om_fen}
        return ProjectData(project_id, as_known_at, day, replay.views, signatures, names,
                           flags, seq_of_hash, money=money,
                           payloads={e.originator_version: e.payload for e in events})

    def _signature_ok(self, event: EntryEvent, registry: KeyRegistry) -> bool:
        """As ``LedgerService.trail``: the key valid at ``recorded_at`` and the signature good."""
        key = registry.keys.get(event.filing.key)
        if key is None or not key.valid_at(event.recorded_at or ""):
            return False
        memo_key = (event.entry_hash, key.key_id, key.public_key)
        known: bool | None = self._signatures.get(memo_key)
        if known is None:
            suite = self.service.ledger.identity.profile.signature
            try:
                suite.verify(key.public_key, event.filing.signing_bytes(),
                             b64decode(event.signature))
                known = True
            except (ValueError, BadSignatureError):
                known = False
            self._signatures.put(memo_key, known)
        return known

    # --- the log -------------------------------------------------------------------------

    def log_status(self) -> LogStatus:
        """Latest checkpoint (size, root, time), its witness and lag, the last verify run."""
        ledger = self.service.ledger
        latest = ledger.trusted_checkpoint()
        tree_size = ledger.log.tree_size()
        verify, problem = None, None
        try:
            verify = self.service.last_verify_record()
        except VerifyRecordSignatureError:
            problem = "unsigned"
        except StoredValueError:
            problem = "unreadable"
        if latest is None:
            return LogStatus(None, None, None, None, None, tree_size, None, verify, problem)
        note = SignedNote.parse(latest.note)
        lines = ledger.log.cosignatures(latest.size)
        return LogStatus(latest, self._leaf_time(latest.size), latest.root.hex(),
                         b64encode(latest.root),
                         "".join([latest.note, *(
                             line for line in lines
                             if line not in {s.line() for s in note.signatures})]),
                         tree_size, self._witness(latest), verify, problem)

    def _leaf_time(self, size: int) -> str | None:
        leaf = self.service.ledger.log.leaf(size - 1) if size > 0 else None
        return leaf.recorded_at if leaf is not None else None

    def _witness(self, latest: StoredCheckpoint) -> Witness | None:
        """The newest cosigned checkpoint among the latest few (checkpoints are per batch)."""
        log = self.service.ledger.log
        current: StoredCheckpoint | None = latest
        for _ in range(_WITNESS_LOOKBACK):
            if current is None:
                return None
            lines = log.cosignatures(current.size)
            if lines:
                names = sorted({line.split(" ")[1] for line in lines if " " in line})
                return Witness(names, current.size, self._leaf_time(current.size),
                               latest.size - current.size)
            current = log.checkpoint_at_most(current.size - 1) if current.size > 1 else None
        return None
