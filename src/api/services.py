"""What the API and the pages do for a caller, independent of HTTP (the pages reuse it).

Access rules (docs/design.md §1): a ``unit`` sees and files only its own projects — another unit's
project is "not found", so that its existence does not leak; ``office``, ``finance``,
``approval``, ``audit``, ``cdr`` and ``investigator`` read everything; ``admin`` manages actors
and keys and reads no project data.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, cast
from uuid import UUID

from eventsourcing.persistence import IntegrityError as PersistenceIntegrityError
from fastapi.concurrency import run_in_threadpool
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from api.batcher import GroupCommitter
from ledger.app import Ledger, Receipt, SignedFiling
from ledger.errors import (
    AuthorisationError,
    BadSignatureError,
    LedgerError,
    ProjectNotFoundError,
    StoredValueError,
    UnknownActorError,
    ValidationFailedError,
)
from ledger.evidence.verify import VerifyReport, verify_ledger
from ledger.evidence.verify_record import check_result, sign_result
from ledger.log.canonical import JSONValue
from ledger.log.entries import Filing, b64decode, parse_time
from ledger.measures import rules, views
from ledger.measures.catalogue import payload_json, validate_payload
from ledger.measures.events import EntryEvent
from ledger.measures.facts import ProjectFacts
from ledger.measures.roles import Role
from ledger.measures.trail import TrailActor, trail
from projections.replay import actors_as_known_at, replay_library, replay_project
from projections.runner import Library
from projections.state import LibraryState


@dataclass(frozen=True)
class Actor:
    """The caller: a registered actor and the role (and unit) it acts in."""

    actor: str
    role: Role
    unit: str | None


@dataclass(frozen=True)
class EventInput:
    """A filing as the API receives it: custodial (no signature) or client-signed."""

    type: str
    payload: Mapping[str, Any]
    effective: date | None = None
    key: str | None = None
    nonce: UUID | None = None
    signature: str | None = None
    stream: UUID | None = None


@dataclass(frozen=True)
class Filed:
    """The outcome of a filing request."""

    receipt: Receipt
    replayed: bool


class IdempotencyConflictError(ValidationFailedError):
    """Raised when an Idempotency-Key is reused with a different filing."""

    def __init__(self, key: str) -> None:
        super().__init__("filing", [("Idempotency-Key", f"{key} was already used for a"
                                     " different filing")])


READ_ROLES = frozenset(Role) - {Role.ADMIN}

_log = logging.getLogger("api.services")


def _ledger_time(text: str) -> str:
    """``text`` if it is a ledger time as :func:`format_time` writes it (else ValueError)."""
    parse_time(text)
    return text


_LedgerTime = Annotated[str, AfterValidator(_ledger_time)]


class VerifyRecord(BaseModel):
    """A kept ``ledger verify`` result, as :meth:`LedgerService.record_verify` writes it: read
    back strictly, since ``ledger_meta`` is a table the database's operator can edit."""

    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")

    ok: bool
    entries: int = Field(ge=0)
    streams: int = Field(ge=0)
    signatures: int = Field(ge=0)
    checkpoints: int = Field(ge=0)
    nodes: int = Field(ge=0)
    failures: int = Field(ge=0)
    first_failure: str | None
    started_at: _LedgerTime
    finished_at: _LedgerTime
    duration_ms: int = Field(ge=0)
    by: str


class LedgerService:
    """The application services behind the routes and the pages."""

    def __init__(self, ledger: Ledger, *, group_commit: bool = False,
                 writes: Callable[[Sequence[tuple[Actor, EventInput]]],
                                  list[Filed | Exception]] | None = None,
                 on_append: Callable[[str], None] | None = None,
                 on_batch: Callable[[int], object] | None = None) -> None:
        self.ledger = ledger
        self.on_append = on_append or (lambda _result: None)
        # Where a batch of filings is decided and appended: here (file_many), or in a writer
        # process of this server's own (api.writer).
        self._writes = writes or self.file_many
        # Concurrent filings share one transaction (a server); without, each commits alone.
        self.committer: GroupCommitter[tuple[Actor, EventInput], Filed] | None = (
            GroupCommitter(self._commit, on_batch=on_batch) if group_commit else None)
        self.library = Library(ledger)
        # Set when a witness proves the log was rolled back (api.witnessing): every filing is
        # then refused with it (503) until the server is restarted; also, from a start until
        # its witnesses confirmed the log, to the pending start check (503, Retry-After).
        self.halted: LedgerError | None = None

    # --- access ----------------------------------------------------------------------

    def require_reader(self, actor: Actor) -> None:
        """Admins manage keys; they do not read project data."""
        if actor.role not in READ_ROLES:
            raise AuthorisationError(actor.actor, "read project data (role admin)")

    def require_admin(self, actor: Actor) -> None:
        """Only admin manages actors, keys and tokens."""
        if actor.role is not Role.ADMIN:
            raise AuthorisationError(actor.actor, "manage actors and keys (admin only)")

    def require_appendable(self) -> None:
        """Raise :attr:`halted` if set: key registry changes append to the log like filings."""
        if self.halted is not None:
            raise self.halted

    def _unit_of(self, facts: ProjectFacts) -> str | None:
        if not facts.opened_by:
            return None
        try:
            return self.ledger.actor_record(facts.opened_by).unit
        except UnknownActorError:
            return None

    def visible(self, actor: Actor, facts: ProjectFacts, project_id: UUID) -> None:
        """404 for a unit looking at another unit's project."""
        if actor.role is Role.UNIT and self._unit_of(facts) != actor.unit:
            raise ProjectNotFoundError(project_id)

    # --- reads -----------------------------------------------------------------------

    def library_state(self, as_known_at: str | None = None) -> LibraryState:
        """The library now (read model, caught up) or as known at a time (replayed)."""
        if as_known_at is not None:
            return replay_library(self.ledger, as_known_at=as_known_at)
        self.library.catch_up()  # serialised by the library's own lock
        return self.library.state

    def list_projects(self, actor: Actor, *, on: date | None = None,
                      as_known_at: str | None = None, unit: str | None = None,
                      stage: str | None = None, eligible: str | None = None,
                      overdue: bool | None = None, cursor: str | None = None,
                      limit: int = 50) -> tuple[list[dict[str, JSONValue]], str | None]:
        """A page of the project library, filtered; returns (rows, next cursor)."""
        self.require_reader(actor)
        day = on or self.ledger.today()
        state = self.library_state(as_known_at)
        if actor.role is Role.UNIT:
            unit = actor.unit
        rows: list[dict[str, JSONValue]] = []
        calendar = self.ledger.calendar
        for project_id, facts in sorted(state.projects.items()):
            if cursor is not None and project_id <= cursor:
                continue
            owner = state.unit_of(facts)
            if unit is not None and owner != unit:
                continue
            if stage is not None and facts.stage != stage:
                continue
            row = views.library_row(facts, owner, day, calendar)
            if eligible is not None and not row["eligible"][eligible]:  # type: ignore[index,call-overload]
                continue
            if overdue is not None and (bool(row["overdue"]) != overdue):
                continue
            rows.append(row)
            if len(rows) > limit:
                break
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = str(rows[-1]["id"])
        return rows, next_cursor

    def project_facts(self, actor: Actor, project_id: UUID) -> ProjectFacts:
        """A project's facts from its verified stream, if the caller may see it."""
        self.require_reader(actor)
        if project_id == self.ledger.identity.registry_stream:
            raise ProjectNotFoundError(project_id)
        facts = self.ledger.project(project_id).facts
        self.visible(actor, facts, project_id)
        return facts

    def project_views(self, actor: Actor, project_id: UUID, *, on: date | None = None,
                      as_known_at: str | None = None) -> dict[str, Any]:
        """Every per-project view with state hashes (as known at T when asked)."""
        self.project_facts(actor, project_id)  # access check on the current stream
        result = replay_project(self.ledger, project_id, as_known_at=as_known_at, on=on)
        return result.to_json()

    def events(self, actor: Actor, project_id: UUID,
               as_known_at: str | None = None) -> list[EntryEvent]:
        """The verified entries of a project (as known at T when asked)."""
        self.project_facts(actor, project_id)
        return self.ledger.events_of(project_id, as_known_at=as_known_at)

    def trail(self, actor: Actor, project_id: UUID,
              as_known_at: str | None = None) -> list[JSONValue]:
        """The audit trail, with every author signature checked."""
        events = self.events(actor, project_id, as_known_at)
        actors = actors_as_known_at(self.ledger, as_known_at)
        registry = self.ledger.registry()
        suite = self.ledger.identity.profile.signature
        checked: dict[int, bool] = {}
        for event in events:
            key = registry.keys.get(event.filing.key)
            ok = key is not None and key.valid_at(event.recorded_at or "")
            if ok and key is not None:
                try:
                    suite.verify(key.public_key, event.filing.signing_bytes(),
                                 b64decode(event.signature))
                except (ValueError, BadSignatureError):
                    ok = False
            checked[event.originator_version] = ok
        return trail(events, {a: TrailActor(t.role, t.unit) for a, t in actors.items()},
                     checked)

    def obligations(self, actor: Actor, *, on: date | None = None, overdue_only: bool = False,
                    as_known_at: str | None = None) -> list[dict[str, JSONValue]]:
        """Every project's obligations the caller may see."""
        self.require_reader(actor)
        day = on or self.ledger.today()
        state = self.library_state(as_known_at)
        found: list[dict[str, JSONValue]] = []
        for project_id, facts in sorted(state.projects.items()):
            if actor.role is Role.UNIT and state.unit_of(facts) != actor.unit:
                continue
            if overdue_only and facts.terminated is not None:
                continue  # a terminated project's deadlines no longer call for action
            for obligation in rules.obligations(facts, day, self.ledger.calendar):
                if overdue_only and obligation.status != "overdue":
                    continue
                found.append({"project": project_id, "title": facts.title,
                              "unit": state.unit_of(facts), **obligation.to_json()})
        return found

    def unit_standing(self, actor: Actor, unit: str,
                      as_known_at: str | None = None) -> dict[str, JSONValue]:
        """Art. 22 standing of a unit (a unit may ask only about itself)."""
        self.require_reader(actor)
        if actor.role is Role.UNIT and actor.unit != unit:
            raise AuthorisationError(actor.actor, f"see the standing of unit {unit}")
        state = self.library_state(as_known_at)
        reasons = rules.unit_standing(unit, state.projects_of(unit))
        return {"unit": unit, "barred": bool(reasons),
                "reasons": [r.to_json() for r in reasons]}

    # --- writes ----------------------------------------------------------------------

    def file(self, actor: Actor, event: EventInput) -> Filed:
        """File custodially or client-signed (blocking): through the group commit when the
        server runs one; raises the refusal. Retries with the same nonce are idempotent."""
        if self.halted is not None:
            raise self.halted
        if self.committer is not None:
            return self.committer.submit((actor, event))
        result = self._commit([(actor, event)])[0]
        if isinstance(result, Exception):
            raise result
        return result

    async def file_async(self, actor: Actor, event: EventInput) -> Filed:
        """:meth:`file`, awaited on the event loop (no worker thread waits for the commit)."""
        if self.halted is not None:
            raise self.halted
        if self.committer is not None:
            return await self.committer.file((actor, event))
        return await run_in_threadpool(self.file, actor, event)

    def file_many(self, requests: Sequence[tuple[Actor, EventInput]],
                  ) -> list[Filed | Exception]:
        """One group commit: check access and sign (custodial) each request, append all in
        one transaction, then answer each alone — its receipt or its own refusal.

        A refused request that carries a nonce already recorded is a retry (Idempotency-Key):
        it gets the original receipt, or a conflict if the filing differs. Looking the nonce
        up only after a refusal keeps the database read off the path of every new filing;
        the answer is the same, as a recorded nonce is always refused by the append.
        """
        results: list[Filed | Exception | None] = [None] * len(requests)
        positions: list[int] = []
        signed: list[SignedFiling] = []
        registry_version = self.ledger.registry_version  # custodial keys are chosen from it
        for position, (actor, event) in enumerate(requests):
            try:
                self._may_file_on(actor, event)
                signed.append(self._signed(actor, event))
            except LedgerError as exc:
                results[position] = exc
            except Exception as exc:  # a bug must fail its own request, not the batch
                _log.exception("preparing a filing failed")
                results[position] = exc
            else:
                positions.append(position)
        outcomes = self.ledger.submit_prepared(signed, registry_version) if signed else []
        for position, outcome in zip(positions, outcomes, strict=True):
            results[position] = (outcome if isinstance(outcome, LedgerError)
                                 else Filed(outcome, replayed=False))
        for position, (actor, event) in enumerate(requests):
            result = results[position]
            if isinstance(result, LedgerError) and event.nonce is not None:
                try:
                    replay = self._replayed(actor, event)
                except LedgerError as exc:
                    replay = None
                    results[position] = exc
                if replay is not None:
                    results[position] = replay
        return [cast(Filed | Exception, r) for r in results]

    def _commit(self, requests: Sequence[tuple[Actor, EventInput]],
                ) -> list[Filed | Exception]:
        """One batch through wherever writes run, counted for the metrics."""
        results = self._writes(requests)
        for result in results:
            if isinstance(result, Exception):
                self.on_append(type(result).__name__)
            elif not result.replayed:
                self.on_append("accepted")
        return results

    def _may_file_on(self, actor: Actor, event: EventInput) -> None:
        """A unit filing on another unit's project is told it does not exist (404)."""
        if actor.role is not Role.UNIT or event.stream is None or event.type == "ApplicationFiled":
            return
        # The opener's unit never changes, so the cached project answers (no database read).
        self.visible(actor, self.ledger.current_project(event.stream).facts, event.stream)

    def _signed(self, actor: Actor, event: EventInput) -> SignedFiling:
        if event.signature is None:
            if event.key is not None:
                raise ValidationFailedError(event.type, [("signature", "a key was given"
                                                           " without a signature")])
            return self.ledger.prepare(actor.actor, event.type, event.payload,
                                       stream=event.stream, effective=event.effective,
                                       nonce=event.nonce)
        problems = [(name, "required for a client-signed filing")
                    for name, value in (("key", event.key), ("nonce", event.nonce),
                                        ("effective", event.effective),
                                        ("stream", event.stream)) if value is None]
        if problems:
            raise ValidationFailedError(event.type, problems)
        assert event.key is not None
        assert event.nonce is not None
        assert event.effective is not None
        assert event.stream is not None
        filing = Filing(ledger=self.ledger.identity.origin, stream=event.stream, type=event.type,
                        effective=event.effective, payload=dict(event.payload),
                        actor=actor.actor, key=event.key, nonce=event.nonce)
        return SignedFiling(filing, event.signature)

    def _replayed(self, actor: Actor, event: EventInput) -> Filed | None:
        assert event.nonce is not None
        found = self.ledger.receipt_for_nonce(str(event.nonce))
        if found is None:
            return None
        receipt, stored = found
        filing = stored.filing
        payload = dict(event.payload)
        if event.signature is None:  # custodial filings store the normalised payload
            try:
                payload = dict(payload_json(validate_payload(event.type, payload)))
            except ValidationFailedError:
                raise IdempotencyConflictError(str(event.nonce)) from None
        same = (filing.type == event.type and filing.actor == actor.actor
                and dict(filing.payload) == payload
                and (event.stream is None or filing.stream == event.stream)
                and (event.effective is None or filing.effective == event.effective))
        if not same:
            raise IdempotencyConflictError(str(event.nonce))
        return Filed(receipt, replayed=True)

    # --- the last integrity check (pages: log status) ----------------------------------
    # ``ledger_meta`` values are set once, so each run is kept under its own key
    # ``verify.run.N`` (N = 1, 2, ...): a history of checks, the newest found by search.

    def require_verifier(self, actor: Actor) -> None:
        """Refuse anyone but admin and audit the integrity check."""
        if actor.role not in (Role.ADMIN, Role.AUDIT):
            raise AuthorisationError(actor.actor, "run the integrity check (admin or audit)")

    def run_verify(self, actor: Actor, *,
                   progress: Callable[[int, int], None] | None = None) -> dict[str, JSONValue]:
        """Run ``ledger verify`` now (admin or audit only) and keep its result and time;
        ``progress(checked, total)`` is called after each page of entries."""
        self.require_verifier(actor)
        started, clock = self.ledger.now(), time.monotonic()
        report = verify_ledger(self.ledger.log, self.ledger.identity, workers=1,
                               progress=progress)
        return self.record_verify(report, by=actor.actor, started_at=started,
                                  seconds=time.monotonic() - clock)

    def record_verify(self, report: VerifyReport, *, by: str, started_at: str,
                      seconds: float, also_failed: str | None = None) -> dict[str, JSONValue]:
        """Keep the result of a ``ledger verify`` run (``ledger verify --record`` calls this
        too); ``also_failed``: a check beside the report's that failed (the witnesses'), which
        makes the run a failure and is its first problem if the report has none."""
        first = report.first
        failures = len(report.failures) + (also_failed is not None)
        result: dict[str, JSONValue] = {
            "ok": report.ok and also_failed is None, "entries": report.entries,
            "streams": report.streams, "signatures": report.signatures,
            "checkpoints": report.checkpoints, "nodes": report.nodes, "failures": failures,
            "first_failure": first.describe() if first is not None else also_failed,
            "started_at": started_at, "finished_at": self.ledger.now(),
            "duration_ms": round(seconds * 1000), "by": by}
        signer, origin = self.ledger.custody.log_signer(), self.ledger.identity.origin
        number = self._verify_runs() + 1
        while True:
            # Signed with the log key for its number: the page shows it only if that holds.
            text = sign_result(signer, result, origin=origin, number=number)
            try:
                self.ledger.log.put_meta(f"verify.run.{number}", text)
            except PersistenceIntegrityError:  # another process kept a run under this number
                number += 1
                continue
            return result

    def last_verify(self) -> dict[str, JSONValue] | None:
        """The result of the newest kept ``ledger verify`` run, if any, as
        :meth:`record_verify` returned it; StoredValueError as :meth:`last_verify_record`."""
        record = self.last_verify_record()
        return None if record is None else cast(dict[str, JSONValue], record.model_dump())

    def last_verify_record(self) -> VerifyRecord | None:
        """The newest kept ``ledger verify`` result, if any; StoredValueError if it is not one
        as :meth:`record_verify` writes them (edited in the database), and its subclass
        VerifyRecordSignatureError if the log key did not sign it as this ledger's run of its
        number (written, or copied, by someone else)."""
        number = self._verify_runs()
        if number == 0:
            return None
        identity = self.ledger.identity
        fields = check_result(self.ledger.log.get_meta(f"verify.run.{number}"),
                              profile=identity.profile,
                              log_public_key=identity.log_key.public_key,
                              origin=identity.origin, number=number)
        try:
            return VerifyRecord.model_validate(fields)
        except ValidationError as exc:
            raise StoredValueError(f"the kept verify result verify.run.{number} is not one"
                                   f" ({exc.error_count()} field(s) wrong)") from None

    def _verify_runs(self) -> int:
        """How many runs are kept: exponential then binary search over ``verify.run.N``."""
        def kept(n: int) -> bool:
            return self.ledger.log.get_meta(f"verify.run.{n}") is not None

        if not kept(1):
            return 0
        low, high = 1, 2
        while kept(high):
            low, high = high, high * 2
        while high - low > 1:  # kept(low) and not kept(high)
            middle = (low + high) // 2
            low, high = (middle, high) if kept(middle) else (low, middle)
        return low
