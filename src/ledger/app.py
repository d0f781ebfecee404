"""The ledger application: eventsourcing's ``Application`` over project and registry streams.

Write path: get the aggregate (cached, fast-forwarded) → decide (key, role, unit, payload,
rules) → append through the recorder, which seals each entry and extends the Merkle log under
one lock in one transaction. Many filings can be decided and committed together (group commit);
a refusal fails only its own filing. Read path: rebuild a stream (every entry hash recomputed,
every link checked) and prove its newest entry in the latest signed checkpoint.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, Repository
from eventsourcing.persistence import ApplicationRecorder, Mapper, PersistenceError, StoredEvent

from ledger.crypto.custody import Custodian
from ledger.crypto.suites import Profile, Signer, profile_named
from ledger.errors import (
    AuthorisationError,
    BadSignatureError,
    ChainBrokenError,
    CheckpointError,
    ConfigurationError,
    ConflictError,
    DuplicateNonceError,
    EntryHashMismatchError,
    IntegrityFailedError,
    KeyNotValidError,
    LedgerError,
    LedgerNotInitialisedError,
    ProjectNotFoundError,
    StaleStreamError,
    ValidationFailedError,
)
from ledger.log import merkle
from ledger.log.checkpoint import (
    Checkpoint,
    SignedNote,
    VerifierKey,
    checkpoint_signer,
    verify_note,
)
from ledger.log.documents import Document, check_document
from ledger.log.entries import ZERO_HASH, Filing, b64decode, b64encode, format_time, parse_time
from ledger.log.sealing import EntrySealer
from ledger.log.store import CustodyRecord, LogStore, StoredCheckpoint
from ledger.log.writer import Appended, BatchOutcome, LeafRow
from ledger.measures import rules
from ledger.measures.aggregates import ActorRecord, KeyRecord, KeyRegistry, Project
from ledger.measures.calendar import HolidayYear, WorkingCalendar, default_calendar, parse_year_file
from ledger.measures.catalogue import (
    EventSpec,
    Payload,
    documents_referenced,
    payload_json,
    spec_for,
    validate_payload,
)
from ledger.measures.events import EntryEvent, event_class
from ledger.measures.facts import ProjectFacts, today_in_china
from ledger.measures.roles import Role
from ledger.service.mapper import EntryMapper
from ledger.settings import Settings

ROOT_ACTOR = "root"
"""The registry's author: the pinned root admin key signs every registry entry."""

_REGISTRY_NAMESPACE = UUID("6f1d2c1e-3b0a-5d7e-9a4b-8c2f0e1d3a5b")
_STALE_RETRIES = 5
_CALENDAR_TTL = 60.0  # seconds a process uses the holiday years it read
_TOKEN_TTL = 1.0  # seconds a live bearer token is trusted without asking the database
# Signature checks of a group commit this large are shared with worker threads.
_PARALLEL_CHECKS_FROM = 16
_WORKERS = min(3, (os.cpu_count() or 1) - 1)


def registry_stream_id(origin: str) -> UUID:
    """The key registry's stream id, derived from the ledger's origin."""
    return uuid.uuid5(_REGISTRY_NAMESPACE, origin)


def key_id_for(actor: str, public_key: bytes, profile: Profile) -> str:
    """A readable, URL-safe key id: ``actor:`` + 12 hex of the key's hash."""
    return f"{actor}:{profile.digest(public_key).hex()[:12]}"


@dataclass(frozen=True)
class SignedFiling:
    """A filing and its author's signature (standard base64), as submitted."""

    filing: Filing
    signature: str
    # Set by :meth:`Ledger.prepare` only: the payload as validated there (the filing's payload
    # is ``payload_json`` of it), so that the append does not validate it a second time.
    payload_model: Payload | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Receipt:
    """Where an accepted filing landed in the ledger."""

    stream: UUID
    seq: int
    type: str
    entry_hash: str
    leaf_index: int
    recorded_at: str
    nonce: str


@dataclass(frozen=True)
class LedgerIdentity:
    """What ``ledger init`` fixed: origin, profile, and the public keys verifiers pin."""

    origin: str
    profile: Profile
    log_key: VerifierKey
    root_key_id: str
    root_public_key: bytes

    @cached_property
    def registry_stream(self) -> UUID:
        """The key registry's stream id."""
        return registry_stream_id(self.origin)


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
    """The audit ledger (审计账本) over one database."""

    name = "Ledger"

    def __init__(self, settings: Settings | None = None, *,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.settings = settings or Settings()
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self._profile = profile_named(self.settings.profile)
        self._identity: LedgerIdentity | None = None
        self._signers: dict[str, Signer] = {}
        self._custody: dict[str, bool] = {}
        self._tokens: dict[str, tuple[str, float]] = {}  # token hash → (actor, checked at)
        self._trusted: StoredCheckpoint | None = None
        self._calendar: WorkingCalendar | None = None
        self._calendar_read_at = 0.0
        self._documents_known: set[str] = set()
        self._lock = threading.Lock()
        self._cache_lock = threading.Lock()
        self._checker_pool: ThreadPoolExecutor | None = None
        super().__init__(env=_persistence_env(self.settings))
        self.log.clock = self.clock
        self._verified_repository: Repository[UUID] = Repository(event_store=self.events)

    def close(self) -> None:
        """Close the database connections and stop the signature-check threads."""
        if self._checker_pool is not None:
            self._checker_pool.shutdown(wait=False)
        super().close()

    # --- eventsourcing construction hooks ---------------------------------------------------

    def construct_mapper(self) -> Mapper[UUID]:
        """Entries, not eventsourcing's private JSON, are what gets stored."""
        return EntryMapper(self._profile)

    def construct_recorder(self) -> ApplicationRecorder:
        """The backend's recorder that extends the Merkle log on every insert."""
        datastore = cast(Any, self.factory).datastore
        sealer = EntrySealer(self._profile)
        if self.env.get("PERSISTENCE_MODULE") == "eventsourcing.postgres":
            from ledger.store.postgres import PostgresLedgerRecorder  # noqa: PLC0415

            return PostgresLedgerRecorder(datastore, profile=self._profile, sealer=sealer)
        from ledger.store.sqlite import SQLiteLedgerRecorder  # noqa: PLC0415

        return SQLiteLedgerRecorder(datastore, profile=self._profile, sealer=sealer)

    @property
    def log(self) -> LogStore:  # type: ignore[override]
        """The recorder seen as the log store (both backends implement LogStore)."""
        return cast(LogStore, self.recorder)

    # --- identity: init and open ----------------------------------------------------------

    @property
    def custodian(self) -> Custodian:
        """Seals and opens custodial private keys under the master key."""
        return Custodian(self.settings.master_key_bytes)

    def initialise(self, *, origin: str | None = None, profile: str | None = None,
                   admin: str = "admin") -> LedgerIdentity:
        """``ledger init``: create tables, fix origin/profile/keys, register the first admin.

        Idempotent: on an initialised database it only checks and returns the identity.
        """
        self.log.create_table()
        if self.log.get_meta("origin") is None:
            chosen = profile_named(profile or self.settings.profile)
            self._set_profile(chosen)
            origin = origin or self.settings.origin
            root = chosen.signature.generate()
            log_signer = chosen.signature.generate()
            root_key_id = key_id_for(ROOT_ACTOR, root.public_key, chosen)
            log_key = VerifierKey.for_signer(origin, log_signer)
            self._keep_custody(root_key_id, ROOT_ACTOR, root)
            self._keep_custody("log", "log", log_signer)
            # The origin goes last: its presence marks a complete initialisation.
            self.log.put_meta("profile", chosen.name)
            self.log.put_meta("log_key", log_key.encode())
            self.log.put_meta("root_key_id", root_key_id)
            self.log.put_meta("root_public_key", b64encode(root.public_key))
            self.log.put_meta("origin", origin)
        identity = self.identity
        if self.registry().version == 0:
            self.register_actor(admin, Role.ADMIN, None, "Administrator 管理员")
        return identity

    def _keep_custody(self, key_id: str, actor: str, signer: Signer) -> None:
        sealed = self.custodian.seal(key_id, self._profile.signature.export(signer))
        self.log.put_custody(CustodyRecord(key_id, actor, sealed))

    def _set_profile(self, profile: Profile) -> None:
        self._profile = profile
        cast(EntryMapper, self.mapper).profile = profile
        self.log.profile = profile
        self.log.sealer = EntrySealer(profile)

    @property
    def identity(self) -> LedgerIdentity:
        """The ledger's identity from the database, checked against the pinned root key."""
        if self._identity is not None:
            return self._identity
        with self._lock:
            try:
                origin = self.log.get_meta("origin")
            except PersistenceError:
                origin = None  # no tables yet
            if origin is None:
                raise LedgerNotInitialisedError(self.settings.database_url)
            profile = profile_named(cast(str, self.log.get_meta("profile")))
            self._set_profile(profile)
            root_public = b64decode(cast(str, self.log.get_meta("root_public_key")))
            pinned = self.settings.root_key
            if pinned is not None and b64decode(pinned) != root_public:
                raise ConfigurationError(
                    "LEDGER_ROOT_KEY does not match the root key recorded at `ledger init`")
            identity = LedgerIdentity(
                origin=origin, profile=profile,
                log_key=VerifierKey.parse(cast(str, self.log.get_meta("log_key"))),
                root_key_id=cast(str, self.log.get_meta("root_key_id")),
                root_public_key=root_public,
            )
            sign = checkpoint_signer(identity.log_key.name, self._custodial_signer("log"))
            self.log.sign_checkpoint = (
                lambda size, root: sign(Checkpoint(origin, size, root)).text())
            self._identity = identity
            return identity

    def _holds(self, key_id: str) -> bool:
        """Whether the server holds this key's private half (custodial signing).

        Remembered per key: custody is stored before a key is registered and never changes.
        """
        held = self._custody.get(key_id)
        if held is None:
            held = key_id in self._signers or self.log.get_custody(key_id) is not None
            self._custody[key_id] = held
        return held

    def _custodial_signer(self, key_id: str) -> Signer:
        signer = self._signers.get(key_id)
        if signer is None:
            record = self.log.get_custody(key_id)
            if record is None:
                raise KeyNotValidError(key_id, "the server holds no private key for it")
            signer = self._profile.signature.load(self.custodian.open(key_id, record.sealed))
            self._signers[key_id] = signer
        return signer

    # --- reads of aggregates --------------------------------------------------------------

    def registry(self) -> KeyRegistry:
        """The key registry as of now (cached, brought up to date; chain-checked)."""
        return self._registry(fresh=True)

    def _registry(self, *, fresh: bool) -> KeyRegistry:
        current = self._current(self.identity.registry_stream, fresh=fresh)
        return current if isinstance(current, KeyRegistry) else self._empty_registry()

    def remembered_actor(self, actor_id: str) -> ActorRecord | None:
        """:meth:`actor_record` from the cached registry only (no database), or None."""
        cached = self._cached(self.identity.registry_stream)
        return cached.actors.get(actor_id) if isinstance(cached, KeyRegistry) else None

    def actor_record(self, actor_id: str) -> ActorRecord:
        """A registered actor (role, unit). Actor records never change once registered, so
        the cached registry answers; only an actor it does not know yet costs a read."""
        known = self._registry(fresh=False).actors.get(actor_id)
        return known if known is not None else self.registry().actor(actor_id)

    def current_project(self, stream: UUID) -> Project:
        """The project as this process last appended or read it (no database read when
        cached): for access checks that depend only on facts that never change, such as
        the opener's unit. Decisions never rely on it alone (see :meth:`_current`)."""
        current = self._current(stream, fresh=False)
        if not isinstance(current, Project):
            raise ProjectNotFoundError(stream)
        return current

    def _current(self, stream: UUID, *, fresh: bool) -> Project | KeyRegistry | None:
        """A stream's aggregate from the cache, brought up to date from the database if
        ``fresh`` (or if it is not cached); None if the stream has no entries.

        Aggregates in the cache are never mutated — a newer state replaces them — so threads
        share them without copies. Appends put their result in the cache, so within one
        process the cache is current and the write path decides without reading. Another
        process's appends are caught under the log lock (the stream heads, ``expected_heads``),
        and those filings are decided again on a fresh read.
        """
        cached = self._cached(stream)
        if cached is not None and not fresh:
            return cached
        aggregate = cached
        for event in self.events.get(stream, gt=cached.version if cached else None):
            if aggregate is not None and aggregate is cached:
                aggregate = aggregate.fork()
            aggregate = cast(EntryEvent, event).mutate(aggregate)  # hashes and links checked
        if aggregate is not None and aggregate is not cached:
            self._remember(aggregate)
        return aggregate

    def _cached(self, stream: UUID) -> Project | KeyRegistry | None:
        cache = self.repository.cache
        if cache is None:
            return None
        try:
            return cast(Project | KeyRegistry, cache.get(stream))
        except KeyError:
            return None

    def _remember(self, aggregate: Project | KeyRegistry) -> None:
        """Cache a newer state of a stream (never an older one: threads race to put)."""
        cache = self.repository.cache
        if cache is None:
            return
        with self._cache_lock:
            cached = self._cached(aggregate.id)
            if cached is None or cached.version < aggregate.version:
                cache.put(aggregate.id, aggregate)

    def _empty_registry(self) -> KeyRegistry:
        empty = KeyRegistry.__new__(KeyRegistry)
        empty.__base_init__(self.identity.registry_stream, 0, self.clock())
        empty.__init__()  # type: ignore[misc]
        return empty

    def project(self, project_id: UUID) -> Project:
        """A project rebuilt from its stream, verified: hashes, links, newest in checkpoint."""
        newest = self.log.stream_head_leaf(project_id)  # before the entries: see check_head
        try:
            project = cast(Project, self._verified_repository.get(
                project_id, projector_func=_fold_entries))
        except AggregateNotFoundError:
            raise ProjectNotFoundError(project_id) from None
        except ChainBrokenError as exc:
            raise self._pinpoint(exc) from None
        if not isinstance(project, Project):
            raise ProjectNotFoundError(project_id)
        self.check_head(project_id, project.version, project.head_hash, newest)
        return project

    def events_of(self, stream: UUID, *, as_known_at: str | None = None) -> list[EntryEvent]:
        """Every entry of a stream, verified like :meth:`project`; with ``as_known_at``, those
        recorded at or before it. They are a prefix of the stream (``recorded_at`` never
        decreases along the log), so only that prefix is read and checked, ending at its leaf.
        """
        newest = self.log.stream_head_leaf(stream, as_known_at)  # before the entries
        if newest is None and as_known_at is not None:
            raise ProjectNotFoundError(stream)
        stop = newest.originator_version if as_known_at is not None and newest else None
        events = cast(list[EntryEvent], list(self.events.get(stream, lte=stop)))
        if not events:
            raise ProjectNotFoundError(stream)
        head = ZERO_HASH
        for expected_seq, event in enumerate(events, start=1):
            if event.originator_version != expected_seq or event.prev != head:
                raise self._pinpoint(ChainBrokenError(
                    f"expected seq {expected_seq} linked to {head}", stream=stream,
                    seq=event.originator_version))
            head = cast(str, event.entry_hash)
        self.check_head(stream, len(events), head, newest)
        return events

    def _pinpoint(self, error: ChainBrokenError) -> IntegrityFailedError:
        """A broken link at seq n usually means entry n−1 changed: name it if its leaf says so.

        Runs only on the failure path, so reads stay at hash cost.
        """
        if error.seq is None or error.seq < 2 or error.stream is None:
            return error
        stream = UUID(str(error.stream))
        previous = self.log.leaf_for(stream, error.seq - 1)
        stored = self.recorder.select_events(stream, gt=error.seq - 2, lte=error.seq - 1)
        if previous is None or not stored:
            return ChainBrokenError(f"entry seq {error.seq - 1} is missing", stream=stream,
                                    seq=error.seq - 1)
        if self._profile.digest(stored[0].state) != previous.entry_hash:
            return EntryHashMismatchError(
                "the entry's bytes do not hash to its log leaf (edited?)", stream=stream,
                seq=error.seq - 1, leaf_index=previous.leaf_index)
        return error

    def check_head(self, stream: UUID, seq: int, head_hash: str,
                   newest: LeafRow | None) -> None:
        """The newest entry read must be in the log, and the stream must not be truncated.

        ``newest`` is the stream's newest leaf, read *before* the entries: the log only grows,
        so fewer entries than that leaf's seq means entries were deleted, while more means
        appends landed in between (normal traffic) — then the leaf of the entry read is used.
        """
        if newest is None or seq < newest.originator_version:
            found = ("no leaf" if newest is None
                     else f"its newest leaf is seq {newest.originator_version}")
            raise ChainBrokenError(
                f"the stream ends at seq {seq} but {found} (entries deleted)",
                stream=stream, seq=seq + 1 if newest else seq)
        leaf = newest if newest.originator_version == seq else self.log.leaf_for(stream, seq)
        if leaf is None:
            raise ChainBrokenError(f"entry seq {seq} has no log leaf (inserted outside the log)",
                                   stream=stream, seq=seq)
        if leaf.entry_hash.hex() != head_hash:
            raise EntryHashMismatchError(
                f"entry hashes to {head_hash} but its log leaf holds {leaf.entry_hash.hex()}",
                stream=stream, seq=seq, leaf_index=leaf.leaf_index)
        checkpoint = self.trusted_checkpoint()
        if checkpoint is not None and leaf.leaf_index < checkpoint.size:
            proof = self.inclusion_proof(leaf.leaf_index, checkpoint.size)
            try:
                merkle.verify_inclusion(self._profile.hash, leaf.leaf_index, checkpoint.size,
                                        leaf.entry_hash, proof, checkpoint.root)
            except IntegrityFailedError as exc:
                raise type(exc)(f"newest entry not in checkpoint {checkpoint.size}: {exc.what}",
                                stream=stream, seq=seq, leaf_index=leaf.leaf_index) from None

    def trusted_checkpoint(self) -> StoredCheckpoint | None:
        """The latest checkpoint, its signature checked once per new size."""
        latest = self.log.latest_checkpoint()
        if latest is None:
            return None
        if self._trusted is not None and self._trusted.size == latest.size and (
            self._trusted == latest
        ):
            return latest
        note = SignedNote.parse(latest.note)
        verify_note(note, [self.identity.log_key])
        if note.checkpoint.size != latest.size or note.checkpoint.root != latest.root:
            raise CheckpointError("stored size/root disagree with the signed note",
                                  leaf_index=latest.size)
        self._trusted = latest
        return latest

    # --- proofs -----------------------------------------------------------------------------

    def root_at(self, size: int) -> bytes:
        """The Merkle root of the first ``size`` leaves (O(log n) stored nodes)."""
        if size == 0:
            return merkle.empty_root(self._profile.hash)
        nodes = self.log.nodes(merkle.root_nodes(size))
        return merkle.range_hash(self._profile.hash, 0, size, nodes)

    def inclusion_proof(self, leaf_index: int, tree_size: int) -> list[bytes]:
        """RFC 9162 §2.1.3.1 inclusion proof from stored nodes."""
        ranges = merkle.inclusion_ranges(leaf_index, tree_size)
        nodes = self.log.nodes(merkle.nodes_needed(ranges))
        return [merkle.range_hash(self._profile.hash, a, b, nodes) for a, b in ranges]

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        """RFC 9162 §2.1.4.1 consistency proof from stored nodes."""
        ranges = merkle.consistency_ranges(size1, size2)
        nodes = self.log.nodes(merkle.nodes_needed(ranges))
        return [merkle.range_hash(self._profile.hash, a, b, nodes) for a, b in ranges]

    # --- writes -----------------------------------------------------------------------------

    def now(self) -> str:
        """The ledger clock as an RFC 3339 string."""
        return format_time(self.clock())

    @property
    def calendar(self) -> WorkingCalendar:
        """The working-day calendar: the shipped table plus the years an operator added."""
        # Read again after a minute: `ledger calendar add` runs in another process, and every
        # server process (API and writer) must come to use the year it adds.
        if self._calendar is None or time.monotonic() - self._calendar_read_at > _CALENDAR_TTL:
            calendar = default_calendar()
            for text in self.log.calendar_years():
                calendar = calendar.with_year(parse_year_file(text), replace=True)
            self._calendar, self._calendar_read_at = calendar, time.monotonic()
        return self._calendar

    def add_calendar_year(self, text: str, *, replace: bool = False) -> HolidayYear:
        """``ledger calendar add``: validate a State Council year file and keep it."""
        year = parse_year_file(text)
        self.calendar.with_year(year, replace=replace)  # refuses an existing year unless asked
        self.log.put_calendar_year(year.year, json.dumps(year.to_json_value(),
                                                         ensure_ascii=False), self.now())
        self._calendar = None
        return year

    def add_document(self, data: bytes, media_type: str) -> Document:
        """Store an uploaded document content-addressed; return it (idempotent)."""
        sha256 = check_document(data, media_type, self.settings.max_document_bytes)
        document = Document(sha256, media_type.split(";", 1)[0].strip().lower(), data,
                            self.now())
        self.log.put_document(document)
        return self.log.get_document(sha256) or document

    def today(self) -> date:
        """Today in Asia/Shanghai by the ledger clock (the guards' evaluation date)."""
        return today_in_china(self.clock())

    def unit_standing(self, unit: str | None,
                      registry: KeyRegistry | None = None) -> tuple[rules.Reason, ...]:
        """Why a unit is barred from new/altered/expanded projects now (Art. 22), from the log.

        Only projects with a non-compliance finding can bar a unit; the recorder finds those
        streams by event type (indexed), and their aggregates are read from the cache.
        """
        if unit is None:
            return ()
        registry = registry or self.registry()
        streams = self.log.streams_with_topics(rules.FINDING_EVENTS)
        facts: list[ProjectFacts] = []
        for stream in streams:
            project = self._current(stream, fresh=True)
            if isinstance(project, Project) and rules.unit_of_opener(
                project.facts, registry) == unit:
                facts.append(project.facts)
        return rules.unit_standing(unit, facts)

    def prepare(self, actor: str, event_type: str, payload: Mapping[str, Any], *,
                stream: UUID | None = None, effective: date | None = None,
                nonce: UUID | None = None, fresh: bool = False) -> SignedFiling:
        """Build and sign a filing with the actor's custodial key (custodial signing).

        The key is chosen from the cached registry unless ``fresh``; the append re-checks it.
        """
        identity = self.identity
        spec = spec_for(event_type)
        model = validate_payload(event_type, payload)
        if spec.stream == "registry":
            stream, key_id = identity.registry_stream, identity.root_key_id
        else:
            if stream is None:
                if not spec.opens_project:
                    raise ValidationFailedError(
                        event_type, [("stream", "a project id is required")])
                stream = uuid.uuid4()
            key_id = self._registry(fresh=fresh).current_key(
                actor, self.now(), lambda key: self._holds(key.key_id)).key_id
        filing = Filing(
            ledger=identity.origin, stream=stream, type=event_type,
            effective=effective or self.clock().date(), payload=payload_json(model),
            actor=actor, key=key_id, nonce=nonce or uuid.uuid4(),
        )
        signature = self._custodial_signer(key_id).sign(filing.signing_bytes())
        return SignedFiling(filing, b64encode(signature), model)

    def file(self, actor: str, event_type: str, payload: Mapping[str, Any], *,
             stream: UUID | None = None, effective: date | None = None) -> Receipt:
        """Sign custodially and append one filing; raises its refusal."""
        registry_version = self.registry_version
        signed = self.prepare(actor, event_type, payload, stream=stream, effective=effective)
        result = self.submit_prepared([signed], registry_version)[0]
        if isinstance(result, LedgerError):
            raise result
        return result

    @property
    def registry_version(self) -> int:
        """The key registry's version as this process holds it (no database read): what
        :meth:`prepare` chooses custodial keys from unless asked for a fresh read."""
        return self._registry(fresh=False).version

    def submit_prepared(self, filings: Sequence[SignedFiling],
                        registry_version: int) -> list[Receipt | LedgerError]:
        """:meth:`submit_many` for filings that may have been signed here (:meth:`prepare`)
        with keys chosen from the registry at ``registry_version``.

        If another process changed the registry meanwhile (rotated or revoked the key chosen
        from the cache), a filing refused for its key that the server signed — it holds the
        key — is signed again with the key chosen now and appended once more: its author chose
        no key, so that refusal would be ours. Client-signed filings are never re-signed.
        """
        results = self.submit_many(filings)
        again = [i for i, result in enumerate(results)
                 if isinstance(result, KeyNotValidError) and self._holds(filings[i].filing.key)]
        if not again or self.registry().version == registry_version:
            return results
        fresh: list[tuple[int, SignedFiling]] = []
        for i in again:
            first = filings[i].filing
            try:
                fresh.append((i, self.prepare(
                    first.actor, first.type, first.payload, stream=first.stream,
                    effective=first.effective, nonce=first.nonce, fresh=True)))
            except LedgerError as exc:
                results[i] = exc
        if fresh:
            retried = self.submit_many([signed for _, signed in fresh])
            for (i, _), result in zip(fresh, retried, strict=True):
                results[i] = result
        return results

    def submit(self, signed: SignedFiling) -> Receipt:
        """Append one signed filing; raises its refusal."""
        result = self.submit_many([signed])[0]
        if isinstance(result, LedgerError):
            raise result
        return result

    def submit_many(self, filings: Sequence[SignedFiling]) -> list[Receipt | LedgerError]:
        """Group commit: decide every filing, then append all accepted ones in one transaction.

        Each position gets its own receipt or its own error; one refusal never fails another
        filing (except later filings of the same project in the batch, decided on top of it).
        Decisions are taken on cached aggregates; a filing whose stream another writer moved
        meanwhile (a conflict under the lock) is decided once more on a fresh read.
        """
        results = self._submit_retrying(filings, fresh=False)
        again = [i for i, result in enumerate(results) if isinstance(result, ConflictError)]
        if again:
            retried = self._submit_retrying([filings[i] for i in again], fresh=True)
            for position, result in zip(again, retried, strict=True):
                results[position] = result
        return results

    def _submit_retrying(self, filings: Sequence[SignedFiling], *,
                         fresh: bool) -> list[Receipt | LedgerError]:
        for attempt in range(_STALE_RETRIES):
            try:
                return self._submit_once(filings, fresh=fresh or attempt > 0)
            except StaleStreamError:
                continue  # the registry moved under us: re-read it and decide again
        raise StaleStreamError(str(self.identity.registry_stream), -1, -1)

    def _submit_once(self, filings: Sequence[SignedFiling], *,
                     fresh: bool) -> list[Receipt | LedgerError]:
        identity = self.identity
        registry = self._registry(fresh=fresh)
        now = self.now()
        results: list[Receipt | LedgerError | None] = [None] * len(filings)
        batch = _Batch(registry=registry, fresh=fresh,
                       left=Counter(signed.filing.stream for signed in filings))
        pending: list[tuple[int, EntryEvent]] = []
        refusals = self._authenticate_all(filings, identity, registry, now)
        for position, signed in enumerate(filings):
            if (refusal := refusals[position]) is not None:
                results[position] = refusal
                continue
            try:
                event = self._decide(signed, registry, batch)
            except LedgerError as exc:
                results[position] = exc
            else:
                pending.append((position, event))
        if pending:
            stored: list[StoredEvent] = [self.mapper.to_stored_event(e) for _, e in pending]
            entries = [e.pending() for _, e in pending]  # the sealer need not parse them back
            expected = {} if any(
                e.originator_id == identity.registry_stream for _, e in pending
            ) else {str(identity.registry_stream): registry.version}
            outcome = self.log.append(stored, expected_heads=expected, pending=entries)
            for batch_position, error in outcome.rejected.items():
                results[pending[batch_position][0]] = error
            for appended in outcome.appended:
                position, event = pending[appended.position]
                results[position] = Receipt(
                    stream=event.originator_id, seq=event.originator_version,
                    type=event.filing.type, entry_hash=appended.entry_hash.hex(),
                    leaf_index=appended.leaf_index, recorded_at=appended.recorded_at,
                    nonce=str(event.filing.nonce))
            self._cache_appended(pending, outcome, batch)
        return [cast(Receipt | LedgerError, r) for r in results]

    def _cache_appended(self, pending: Sequence[tuple[int, EntryEvent]], outcome: BatchOutcome,
                        batch: _Batch) -> None:
        """Put each stream's state after the append in the cache: its state before the batch
        plus its entries as sealed (the same events a rebuild from the database reads back).
        A stream whose entry was refused keeps its state before the batch — if another
        process moved it (a conflict), the next fresh read fast-forwards from there — unless
        the refusal was anything but a conflict: then it is evicted, to be read afresh."""
        refused = {pending[i][1].originator_id for i in outcome.rejected}
        for i, error in outcome.rejected.items():
            if not isinstance(error, ConflictError):
                self._evict(pending[i][1].originator_id)
        sealed: dict[UUID, list[EntryEvent]] = {}
        for appended in outcome.appended:
            event = pending[appended.position][1]
            if event.originator_id not in refused:
                sealed.setdefault(event.originator_id, []).append(_sealed(event, appended))
        for stream, events in sealed.items():
            base = batch.bases.get(stream)
            aggregate: Any = base.fork() if base is not None else None
            try:
                for event in events:
                    aggregate = event.mutate(aggregate)
            except LedgerError:  # the cached state was not what the log holds: read it anew
                self._evict(stream)  # (the filings are committed; only the cache is at stake)
                continue
            self._remember(aggregate)

    def _evict(self, stream: UUID) -> None:
        cache = self.repository.cache
        if cache is not None:
            with contextlib.suppress(KeyError):
                cache.get(stream, evict=True)

    def _authenticate_all(self, filings: Sequence[SignedFiling], identity: LedgerIdentity,
                          registry: KeyRegistry, now: str) -> list[LedgerError | None]:
        """Each filing's author check (or its refusal). A large batch is shared with worker
        threads: the signature check, most of the cost, releases the GIL."""
        def check(chunk: Sequence[SignedFiling]) -> list[LedgerError | None]:
            verdicts: list[LedgerError | None] = []
            for signed in chunk:
                try:
                    self._authenticate(signed, identity, registry, now)
                except LedgerError as exc:
                    verdicts.append(exc)
                else:
                    verdicts.append(None)
            return verdicts

        pool = self._checkers()
        if pool is None or len(filings) < _PARALLEL_CHECKS_FROM:
            return check(filings)
        parts = _WORKERS + 1  # the calling thread takes a share too
        size = -(-len(filings) // parts)
        chunks = [filings[i:i + size] for i in range(0, len(filings), size)]
        futures = [pool.submit(check, chunk) for chunk in chunks[1:]]
        verdicts = check(chunks[0])
        for future in futures:
            verdicts += future.result()
        return verdicts

    def _checkers(self) -> ThreadPoolExecutor | None:
        if _WORKERS < 1:
            return None
        with self._lock:
            if self._checker_pool is None:
                self._checker_pool = ThreadPoolExecutor(_WORKERS, "ledger-signatures")
            return self._checker_pool

    def _authenticate(self, signed: SignedFiling, identity: LedgerIdentity,
                      registry: KeyRegistry, now: str) -> None:
        """This ledger, a known type, the right author and role, a valid signature."""
        filing = signed.filing
        if filing.ledger != identity.origin:
            raise ValidationFailedError(
                filing.type, [("ledger", f"expected {identity.origin!r}, got {filing.ledger!r}")])
        public_key = self._author_key(filing, spec_for(filing.type), identity, registry, now)
        try:
            signature = b64decode(signed.signature)
        except ValueError:
            raise BadSignatureError("the signature is not standard base64") from None
        self._profile.signature.verify(public_key, filing.signing_bytes(), signature)

    def _decide(self, signed: SignedFiling, registry: KeyRegistry, batch: _Batch) -> EntryEvent:
        """Decide an authenticated filing on its stream's state: payload, documents, rules."""
        filing = signed.filing
        batch.left[filing.stream] -= 1
        spec = spec_for(filing.type)
        model = signed.payload_model
        if model is None or type(model) is not spec.payload or (
                payload_json(model) != filing.payload):  # a third of a validation's cost
            model = validate_payload(filing.type, filing.payload)
        self._check_documents(filing.type, model)
        aggregate = batch.decided.get(filing.stream)
        if aggregate is None:
            aggregate = self._aggregate_for_write(filing.stream, spec.opens_project, batch)
        if isinstance(aggregate, KeyRegistry) or spec.stream == "registry":
            current = aggregate if isinstance(aggregate, KeyRegistry) else self._empty_registry()
            check_registry_filing(current, filing.type, filing.payload)
        elif isinstance(aggregate, Project):
            rules.check_unit_scope(aggregate.facts, filing, registry.keys[filing.key], registry)
            rules.check_filing(aggregate.facts, filing, self.today(), self.calendar)
        else:  # a new project: the opener's unit must be in good standing (Art. 22)
            unit = registry.keys[filing.key].unit
            rules.check_application(filing.payload, unit, self.unit_standing(unit, registry))
        if str(filing.nonce) in getattr(aggregate, "nonces", ()):
            raise DuplicateNonceError(str(filing.nonce))
        cls: Any = event_class(filing.type)
        fields = {"filing": filing, "signature": signed.signature, "prev": None,
                  "recorded_at": None, "entry_hash": None}
        if not batch.left[filing.stream]:
            # The stream's last filing in this batch: nothing later is decided on the state
            # after it, so it is not folded here (the append folds the sealed entry into the
            # cache once).
            version = 1 if aggregate is _NEW else aggregate.version + 1
            return cast(EntryEvent, cls(originator_id=filing.stream, originator_version=version,
                                        timestamp=self.clock(), **fields))
        if aggregate is _NEW:
            event = cls(originator_id=filing.stream, originator_version=1,
                        timestamp=self.clock(), **fields)
            aggregate = event.mutate(None)
            aggregate.pending_events.append(event)
        else:
            if aggregate is batch.bases.get(filing.stream):  # the cached state stays as it is
                aggregate = cast(Project | KeyRegistry, aggregate).fork()
            aggregate.trigger_event(cls, timestamp=self.clock(), **fields)
            event = aggregate.pending_events[-1]
        batch.decided[filing.stream] = aggregate
        return cast(EntryEvent, event)

    def _check_documents(self, event_type: str, model: Any) -> None:
        """Every document a payload cites must have been uploaded."""
        referenced = documents_referenced(model)
        if not referenced or not self.settings.require_documents:
            return
        known = self._documents_known
        unknown = [h for h in referenced if h not in known]
        if unknown:  # documents are immutable once stored: remember what exists
            known.update(self.log.existing_documents(unknown))
        missing = sorted(set(referenced) - known)
        if missing:
            raise ValidationFailedError(event_type, [
                ("documents", f"document {h} has not been uploaded (POST /documents)")
                for h in missing])

    @staticmethod
    def _author_key(filing: Filing, spec: EventSpec, identity: LedgerIdentity,
                    registry: KeyRegistry, now: str) -> bytes:
        """The public key the filing must be signed with; refuses the wrong actor or role."""
        if spec.stream == "registry":
            if filing.stream != identity.registry_stream or filing.actor != ROOT_ACTOR or (
                filing.key != identity.root_key_id
            ):
                raise AuthorisationError(filing.actor, f"file {filing.type} (root key only)")
            return identity.root_public_key
        if filing.stream == identity.registry_stream:
            raise AuthorisationError(filing.actor, f"file {filing.type} on the registry")
        key = registry.key_for(filing.key, filing.actor, now)
        if key.role not in spec.filed_by:
            roles = ", ".join(sorted(spec.filed_by))
            articles = ", ".join(map(str, spec.articles))
            raise AuthorisationError(
                filing.actor,
                f"file {filing.type} as {key.role} (filed by {roles}; Art. {articles})")
        return key.public_key

    def _aggregate_for_write(self, stream: UUID, opens: bool, batch: _Batch) -> Any:
        """The stream's state before this batch (recorded in ``batch.bases``), or ``_NEW``."""
        if stream == self.identity.registry_stream:
            base: Project | KeyRegistry | None = (
                batch.registry if batch.registry.version else None)
        elif opens and not batch.fresh:
            # A new project's id is not cached; that it is unused is checked under the lock
            # (a conflict there is decided again on a fresh read, which finds the project).
            base = self._cached(stream)
        else:
            base = self._current(stream, fresh=batch.fresh)
        batch.bases[stream] = base
        if base is None:
            if opens or stream == self.identity.registry_stream:
                return _NEW
            raise ProjectNotFoundError(stream)
        if opens:
            raise ConflictError(stream, 1, base.version)
        return base

    # --- the key registry (admin) --------------------------------------------------------

    def register_actor(self, actor: str, role: Role, unit: str | None,
                       display_name: str) -> KeyRecord:
        """Register an actor and a custodial key for it (``ledger actors add``)."""
        registry = self.registry()
        registry.require_new_actor(actor)
        signer = self._profile.signature.generate()
        key_id = key_id_for(actor, signer.public_key, self._profile)
        self._keep_custody(key_id, actor, signer)
        self._append_registry([
            ("ActorRegistered", {"actor": actor, "role": role.value, "unit": unit,
                                 "display_name": display_name}),
            ("KeyRegistered", self._key_payload(key_id, actor, role, unit, signer)),
        ])
        return self.registry().keys[key_id]

    def rotate_key(self, actor: str) -> KeyRecord:
        """Register a new custodial key for an actor; the old one stays valid until revoked."""
        record = self.registry().actor(actor)
        signer = self._profile.signature.generate()
        key_id = key_id_for(actor, signer.public_key, self._profile)
        self._keep_custody(key_id, actor, signer)
        self._append_registry([("KeyRegistered", self._key_payload(
            key_id, actor, record.role, record.unit, signer))])
        return self.registry().keys[key_id]

    def register_public_key(self, actor: str, public_key: bytes) -> KeyRecord:
        """Register a client-held public key (the server never sees the private half)."""
        record = self.registry().actor(actor)
        key_id = key_id_for(actor, public_key, self._profile)
        self._append_registry([("KeyRegistered", {
            "key_id": key_id, "actor": actor, "role": record.role.value, "unit": record.unit,
            "suite": self._profile.signature.name, "public_key": b64encode(public_key)})])
        return self.registry().keys[key_id]

    def revoke_key(self, key_id: str, *, revoked_from: str | None = None,
                   reason: str = "revoked by the administrator") -> KeyRecord:
        """Revoke a key from a moment (default now); entries from then on are refused."""
        if key_id not in self.registry().keys:
            raise KeyNotValidError(key_id, "not in the key registry")
        self._append_registry([("KeyRevoked", {
            "key_id": key_id, "revoked_from": revoked_from or self.now(), "reason": reason})])
        return self.registry().keys[key_id]

    def _key_payload(self, key_id: str, actor: str, role: Role, unit: str | None,
                     signer: Signer) -> dict[str, Any]:
        return {"key_id": key_id, "actor": actor, "role": role.value, "unit": unit,
                "suite": signer.suite, "public_key": b64encode(signer.public_key)}

    def _append_registry(self, items: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        signed = [self.prepare(ROOT_ACTOR, event_type, payload) for event_type, payload in items]
        for result in self.submit_many(signed):
            if isinstance(result, LedgerError):
                raise result

    def issue_token(self, actor: str) -> str:
        """A new bearer token for an actor (``ledger actors token``); only its hash is kept."""
        self.registry().actor(actor)
        token = secrets.token_urlsafe(32)
        self.log.put_token(token_hash(token), actor, self.now())
        return token

    def remembered_actor_for_token(self, token: str) -> str | None:
        """:meth:`actor_for_token` when it can answer without the database, else None (for
        callers on an event loop, which must not block on a query)."""
        return self._live_token(token_hash(token))

    def _live_token(self, digest: str) -> str | None:
        hit = self._tokens.get(digest)
        return hit[0] if hit is not None and time.monotonic() - hit[1] < _TOKEN_TTL else None

    def actor_for_token(self, token: str) -> str | None:
        """The actor a bearer token stands for, if it is live.

        A live token is remembered for a second (every request asks): revoked through this
        ledger it stops at once, revoked by another process within a second.
        """
        digest = token_hash(token)
        remembered = self._live_token(digest)
        if remembered is not None:
            return remembered
        checked = time.monotonic()  # before the query: trusted from when it was asked
        actor = self.log.actor_for_token(digest)
        if actor is None:
            self._tokens.pop(digest, None)
        else:
            self._tokens[digest] = (actor, checked)
        return actor

    def revoke_tokens(self, actor: str) -> int:
        """Revoke every token of an actor (``ledger actors revoke-tokens``); returns how many."""
        count = self.log.revoke_tokens(actor)
        self._tokens = {k: v for k, v in self._tokens.items() if v[0] != actor}
        return count

    def entry_at(self, stream: UUID, seq: int) -> EntryEvent | None:
        """One stored entry of a stream (hash computed from its bytes), or None."""
        stored = self.recorder.select_events(stream, gt=seq - 1, lte=seq)
        if not stored:
            return None
        return cast(EntryEvent, self.mapper.to_domain_event(stored[0]))

    def receipt_for_nonce(self, nonce: str) -> tuple[Receipt, EntryEvent] | None:
        """The receipt and entry of an already-recorded filing (idempotent retries)."""
        leaf = self.log.leaf_for_nonce(nonce)
        if leaf is None:
            return None
        stream = UUID(str(leaf.originator_id))
        event = self.entry_at(stream, leaf.originator_version)
        if event is None:
            return None
        return Receipt(stream=stream, seq=leaf.originator_version, type=event.filing.type,
                       entry_hash=leaf.entry_hash.hex(), leaf_index=leaf.leaf_index,
                       recorded_at=leaf.recorded_at, nonce=nonce), event

    def iter_entries(self) -> Iterator[tuple[int, StoredEvent | None]]:
        """Every leaf index with its stored event, in log order."""
        for leaf, event in self.log.iter_log():
            yield leaf.leaf_index, event


_NEW: Any = object()


def _fold_entries(aggregate: Any, events: Iterable[Any]) -> Any:
    """eventsourcing's ``project_aggregate`` without its per-event runtime Protocol check
    (a quarter of a verified read's time): the mapper only ever yields ``EntryEvent``s."""
    for event in events:
        aggregate = cast(EntryEvent, event).mutate(aggregate)
    return aggregate


@dataclass
class _Batch:
    """One group commit's decisions: each stream's state before the batch and after the
    filings decided so far."""

    registry: KeyRegistry
    fresh: bool
    left: Counter[UUID] = field(default_factory=Counter)  # filings not yet decided, by stream
    bases: dict[UUID, Project | KeyRegistry | None] = field(default_factory=dict)
    decided: dict[UUID, Any] = field(default_factory=dict)


def _sealed(event: EntryEvent, appended: Appended) -> EntryEvent:
    """The pending event as the log sealed it: what the mapper reads back from the database."""
    cls: Any = type(event)
    return cast(EntryEvent, cls(
        originator_id=event.originator_id, originator_version=event.originator_version,
        timestamp=parse_time(appended.recorded_at), filing=event.filing,
        signature=event.signature, prev=appended.prev, recorded_at=appended.recorded_at,
        entry_hash=appended.entry_hash.hex()))


def token_hash(token: str) -> str:
    """What the database keeps of a bearer token."""
    return hashlib.sha256(token.encode()).hexdigest()


def check_registry_filing(registry: KeyRegistry, event_type: str,
                          payload: Mapping[str, Any]) -> None:
    """Registry invariants: actors once, keys once and for a registered actor, revoke known."""
    if event_type == "ActorRegistered":
        registry.require_new_actor(str(payload["actor"]))
    elif event_type == "KeyRegistered":
        if payload["key_id"] in registry.keys:
            raise ValidationFailedError(event_type, [("key_id", "already registered")])
        # Actors registered earlier in the same batch are already applied to ``registry``.
        if payload["actor"] not in registry.actors:
            raise ValidationFailedError(event_type, [("actor", "not a registered actor")])
    elif event_type == "KeyRevoked" and payload["key_id"] not in registry.keys:
        raise KeyNotValidError(str(payload["key_id"]), "not in the key registry")


__all__ = ["Ledger", "LedgerIdentity", "Receipt", "SignedFiling", "key_id_for",
           "registry_stream_id"]
