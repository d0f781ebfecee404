"""The ledger application: eventsourcing's ``Application`` over project and registry streams.

A thin application service: it builds the eventsourcing machinery (mapper, recorder, event
store, repositories) and hands each job to one collaborator of :mod:`ledger.service`:

* :class:`~ledger.service.custody.KeyCustody` — the ledger's identity and custodial keys;
* :class:`~ledger.service.cache.AggregateCache` — stream states as this process holds them;
* :class:`~ledger.service.filing.FilingPipeline` — prepare, authenticate
  (:class:`~ledger.service.authentication.Authenticator`), decide
  (:class:`~ledger.service.decisions.Decider`) and append, with group commit;
* :class:`~ledger.service.reads.VerifiedReads` and :class:`~ledger.service.proofs.LogProofs` —
  verified reads of streams and proofs from the Merkle log;
* :class:`~ledger.service.actors.ActorAdmin`, :class:`~ledger.service.tokens.BearerTokens`,
  :class:`~ledger.service.documents.DocumentBook`, :class:`~ledger.service.calendar.CalendarBook`.

Write path: get the aggregate (cached, fast-forwarded) → decide (key, role, unit, payload,
rules) → append through the recorder, which seals each entry and extends the Merkle log under
one lock in one transaction. Many filings can be decided and committed together (group commit);
a refusal fails only its own filing. Read path: rebuild a stream (every entry hash recomputed,
every link checked) and prove its newest entry in the latest signed checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import UUID

from eventsourcing.application import Application, Repository
from eventsourcing.persistence import ApplicationRecorder, Mapper, StoredEvent

from ledger.crypto.suites import profile_named
from ledger.errors import ConfigurationError, LedgerError
from ledger.log.documents import Document
from ledger.log.entries import format_time
from ledger.log.identity import ROOT_ACTOR, LedgerIdentity, key_id_for, registry_stream_id
from ledger.log.sealing import EntrySealer
from ledger.log.store import LogStore, StoredCheckpoint
from ledger.measures import rules
from ledger.measures.aggregates import ActorRecord, KeyRecord, KeyRegistry, Project
from ledger.measures.calendar import HolidayYear, WorkingCalendar
from ledger.measures.events import EntryEvent
from ledger.measures.roles import Role
from ledger.service.actors import ActorAdmin
from ledger.service.authentication import Authenticator
from ledger.service.cache import AggregateCache
from ledger.service.calendar import CalendarBook
from ledger.service.custody import KeyCustody
from ledger.service.decisions import Decider
from ledger.service.documents import DocumentBook
from ledger.service.filing import FilingPipeline
from ledger.service.mapper import EntryMapper
from ledger.service.proofs import LogProofs
from ledger.service.reads import VerifiedReads
from ledger.service.submission import Receipt, SignedFiling
from ledger.service.tokens import BearerTokens
from ledger.settings import Settings
from ledger.store import migrations


def _persistence_env(settings: Settings) -> dict[str, str]:
    """eventsourcing's environment for the configured database URL."""
    url = settings.database_url
    env = {"CREATE_TABLE": "n", "AGGREGATE_CACHE_MAXSIZE": "5000"}
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if not path:
            raise ConfigurationError("LEDGER_DATABASE_URL sqlite:/// needs a file path")
        env |= {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": path,
                "SQLITE_LOCK_TIMEOUT": "30"}
        return env
    if url.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(url)
        env |= {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": parts.path.lstrip("/") or "postgres",
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_POOL_SIZE": str(settings.pool_size),
            # How long a request waits for a pool connection (or a new one) before it fails:
            # during an outage a filing is refused fast (503) rather than hanging.
            "POSTGRES_CONNECT_TIMEOUT": str(max(1, round(settings.pool_timeout))),
            "POSTGRES_MAX_OVERFLOW": "30",
            "POSTGRES_CONN_MAX_AGE": "3600",
            "POSTGRES_LOCK_TIMEOUT": "30",
        }
        schema = parse_qs(parts.query).get("schema")
        if schema:
            env["POSTGRES_SCHEMA"] = schema[0]
        return env
    raise ConfigurationError(
        f"LEDGER_DATABASE_URL must start with sqlite:/// or postgresql://, got {url!r}")


class Ledger(Application[UUID]):
    """The audit ledger (审计账本) over one database.

    Its collaborators are public for callers that need more than the methods here:
    ``custody`` (identity, custodial signers), ``cache``, ``filings``, ``decider``,
    ``authenticator``, ``reads``, ``proofs`` (RFC 9162 proofs), ``actors``, ``tokens``
    (bearer tokens), ``documents`` and ``calendar_book``.
    """

    name = "Ledger"

    def __init__(self, settings: Settings | None = None, *,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.settings = settings or Settings()
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        # What the mapper and recorder are built with; KeyCustody moves them to the profile
        # the database records once the identity is read.
        self._configured_profile = profile_named(self.settings.profile)
        super().__init__(env=_persistence_env(self.settings))
        self.log.clock = self.clock
        log, clock = self.log, self.clock
        self.custody = KeyCustody(self.settings, log, cast(EntryMapper, self.mapper))
        self.cache = AggregateCache(self.repository, self.events, self.custody, clock)
        self.proofs = LogProofs(log, self.custody)
        # Verified reads rebuild from the database through a repository without the cache.
        self.reads = VerifiedReads(
            repository=Repository(event_store=self.events), events=self.events,
            recorder=self.recorder, mapper=self.mapper, log=log, proofs=self.proofs,
            custody=self.custody)
        self.calendar_book = CalendarBook(log, clock)
        self.documents = DocumentBook(log, self.settings, clock)
        self.decider = Decider(cache=self.cache, custody=self.custody,
                               calendar=self.calendar_book, documents=self.documents, log=log,
                               clock=clock)
        self.authenticator = Authenticator(self.custody)
        self.filings = FilingPipeline(
            custody=self.custody, cache=self.cache, authenticator=self.authenticator,
            decider=self.decider, log=log, mapper=self.mapper, clock=clock)
        self.actors = ActorAdmin(self.custody, self.cache, self.filings, clock)
        self.tokens = BearerTokens(log, self.cache, clock, self.settings)

    def close(self) -> None:
        """Close the database connections and stop the signature-check threads."""
        self.authenticator.close()
        super().close()

    # --- eventsourcing construction hooks ---------------------------------------------------

    def construct_mapper(self) -> Mapper[UUID]:
        """Entries, not eventsourcing's private JSON, are what gets stored."""
        return EntryMapper(self._configured_profile)

    def construct_recorder(self) -> ApplicationRecorder:
        """The backend's recorder that extends the Merkle log on every insert."""
        datastore = cast(Any, self.factory).datastore
        profile = self._configured_profile
        sealer = EntrySealer(profile)
        if self.env.get("PERSISTENCE_MODULE") == "eventsourcing.postgres":
            from ledger.store.postgres import PostgresLedgerRecorder  # noqa: PLC0415

            return PostgresLedgerRecorder(datastore, profile=profile, sealer=sealer)
        from ledger.store.sqlite import SQLiteLedgerRecorder  # noqa: PLC0415

        return SQLiteLedgerRecorder(datastore, profile=profile, sealer=sealer)

    @property
    def log(self) -> LogStore:  # type: ignore[override]
        """The recorder seen as the log store (both backends implement LogStore)."""
        return cast(LogStore, self.recorder)

    # --- identity ---------------------------------------------------------------------------

    @property
    def identity(self) -> LedgerIdentity:
        """The ledger's identity from the database, checked against the pinned root key."""
        return self.custody.identity

    def initialise(self, *, origin: str | None = None, profile: str | None = None,
                   admin: str = "admin") -> LedgerIdentity:
        """``ledger init``: create tables, fix origin/profile/keys, register the first admin.

        Idempotent: on an initialised database it only checks and returns the identity.
        """
        identity = self.custody.initialise(origin=origin, profile=profile)
        # A new database is at this release's schema version; an older one is migrated
        # (docs/deploy.md, Upgrades).
        migrations.migrate(self.log, tables_created=True)  # initialise ran create_table
        if self.registry().version == 0:
            self.actors.register_actor(admin, Role.ADMIN, None, "Administrator 管理员")
        return identity

    # --- the key registry and the cached stream states ----------------------------------------

    def registry(self) -> KeyRegistry:
        """The key registry as of now (cached, brought up to date; chain-checked)."""
        return self.cache.registry(fresh=True)

    @property
    def registry_version(self) -> int:
        """The key registry's version as this process holds it (no database read): what
        :meth:`prepare` chooses custodial keys from unless asked for a fresh read."""
        return self.filings.registry_version

    def remembered_actor(self, actor_id: str) -> ActorRecord | None:
        """:meth:`actor_record` from the cached registry only (no database), or None."""
        return self.cache.remembered_actor(actor_id)

    def actor_record(self, actor_id: str) -> ActorRecord:
        """A registered actor (role, unit), from the cached registry when it knows it."""
        return self.cache.actor_record(actor_id)

    def current_project(self, stream: UUID) -> Project:
        """The project as this process last appended or read it (no database read when
        cached): see :meth:`AggregateCache.current_project`."""
        return self.cache.current_project(stream)

    # --- verified reads -----------------------------------------------------------------------

    def project(self, project_id: UUID) -> Project:
        """A project rebuilt from its stream, verified: hashes, links, newest in checkpoint."""
        return self.reads.project(project_id)

    def events_of(self, stream: UUID, *, as_known_at: str | None = None) -> list[EntryEvent]:
        """Every entry of a stream, verified like :meth:`project`; with ``as_known_at``, those
        recorded at or before it."""
        return self.reads.events_of(stream, as_known_at=as_known_at)

    def entry_at(self, stream: UUID, seq: int) -> EntryEvent | None:
        """One stored entry of a stream (hash computed from its bytes), or None."""
        return self.reads.entry_at(stream, seq)

    def receipt_for_nonce(self, nonce: str) -> tuple[Receipt, EntryEvent] | None:
        """The receipt and entry of an already-recorded filing (idempotent retries)."""
        return self.reads.receipt_for_nonce(nonce)

    def iter_entries(self) -> Iterator[tuple[int, StoredEvent | None]]:
        """Every leaf index with its stored event, in log order."""
        return self.reads.iter_entries()

    def trusted_checkpoint(self) -> StoredCheckpoint | None:
        """The latest checkpoint, its signature checked once per new size (proofs of it:
        :attr:`proofs`)."""
        return self.proofs.trusted_checkpoint()

    # --- time, calendar, documents, standing --------------------------------------------------

    def now(self) -> str:
        """The ledger clock as an RFC 3339 string."""
        return format_time(self.clock())

    def today(self) -> date:
        """Today in Asia/Shanghai by the ledger clock (the guards' evaluation date)."""
        return self.calendar_book.today()

    @property
    def calendar(self) -> WorkingCalendar:
        """The working-day calendar: the shipped table plus the years an operator added."""
        return self.calendar_book.current

    def add_calendar_year(self, text: str, *, replace: bool = False) -> HolidayYear:
        """``ledger calendar add``: validate a State Council year file and keep it."""
        return self.calendar_book.add_year(text, replace=replace)

    def add_document(self, data: bytes, media_type: str) -> Document:
        """Store an uploaded document content-addressed; return it (idempotent)."""
        return self.documents.add(data, media_type)

    def unit_standing(self, unit: str | None,
                      registry: KeyRegistry | None = None) -> tuple[rules.Reason, ...]:
        """Why a unit is barred from new/altered/expanded projects now (Art. 22), from the log."""
        return self.decider.unit_standing(unit, registry)

    # --- filings ------------------------------------------------------------------------------

    def prepare(self, actor: str, event_type: str, payload: Mapping[str, Any], *,
                stream: UUID | None = None, effective: date | None = None,
                nonce: UUID | None = None, fresh: bool = False) -> SignedFiling:
        """Build and sign a filing with the actor's custodial key (custodial signing).

        The key is chosen from the cached registry unless ``fresh``; the append re-checks it.
        """
        return self.filings.prepare(actor, event_type, payload, stream=stream,
                                    effective=effective, nonce=nonce, fresh=fresh)

    def file(self, actor: str, event_type: str, payload: Mapping[str, Any], *,
             stream: UUID | None = None, effective: date | None = None) -> Receipt:
        """Sign custodially and append one filing; raises its refusal."""
        return self.filings.file(actor, event_type, payload, stream=stream,
                                 effective=effective)

    def submit_prepared(self, filings: Sequence[SignedFiling],
                        registry_version: int) -> list[Receipt | LedgerError]:
        """:meth:`submit_many` for filings that may have been signed here (:meth:`prepare`)
        with keys chosen from the registry at ``registry_version`` (re-signed if another
        process changed the key meanwhile: :meth:`FilingPipeline.submit_prepared`)."""
        return self.filings.submit_prepared(filings, registry_version)

    def submit(self, signed: SignedFiling) -> Receipt:
        """Append one signed filing; raises its refusal."""
        return self.filings.submit(signed)

    def submit_many(self, filings: Sequence[SignedFiling]) -> list[Receipt | LedgerError]:
        """Group commit: decide every filing, then append all accepted ones in one transaction;
        each position gets its own receipt or its own error."""
        return self.filings.submit_many(filings)

    # --- the key registry (admin) -------------------------------------------------------------

    def register_actor(self, actor: str, role: Role, unit: str | None,
                       display_name: str) -> KeyRecord:
        """Register an actor and a custodial key for it (``ledger actors add``)."""
        return self.actors.register_actor(actor, role, unit, display_name)

    def rotate_key(self, actor: str) -> KeyRecord:
        """Register a new custodial key for an actor; the old one stays valid until revoked."""
        return self.actors.rotate_key(actor)

    def register_public_key(self, actor: str, public_key: bytes) -> KeyRecord:
        """Register a client-held public key (the server never sees the private half)."""
        return self.actors.register_public_key(actor, public_key)

    def revoke_key(self, key_id: str, *, revoked_from: str | None = None,
                   reason: str = "revoked by the administrator") -> KeyRecord:
        """Revoke a key from a moment (default now); entries from then on are refused."""
        return self.actors.revoke_key(key_id, revoked_from=revoked_from, reason=reason)


__all__ = ["ROOT_ACTOR", "Ledger", "LedgerIdentity", "Receipt", "SignedFiling", "key_id_for",
           "registry_stream_id"]
