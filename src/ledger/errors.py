"""The ledger's exception hierarchy: one root, specific leaves, messages built in ``__init__``.

Every error that a user can cause carries what an official needs to act on it: the stream and
seq for integrity failures, the rule and article for regulatory refusals. ``src/api`` maps
these types to problem+json in one place; ``tests/ledger/test_errors.py`` pins the tree.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID


class LedgerError(Exception):
    """Root of every error raised by the ledger's own code."""

    def __reduce__(self) -> tuple[object, ...]:
        # Subclasses take their own arguments (and build the message from them), so the
        # default pickling — calling the class with ``args`` — would fail: an error is rebuilt
        # from its message and fields instead (a server's writer process sends refusals back).
        return _rebuilt, (type(self), self.args, dict(self.__dict__))


def _rebuilt(cls: type[LedgerError], args: tuple[object, ...],
             fields: dict[str, object]) -> LedgerError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(fields)
    return error


# --- input and configuration -------------------------------------------------------------


class NotCanonicalError(LedgerError, ValueError):
    """Raised when a value cannot be RFC 8785-canonicalised (a float, a huge integer…)."""

    def __init__(self, path: str, found: str) -> None:
        self.path = path
        super().__init__(f"cannot canonicalise {path}: expected plain JSON, got {found}")


class ConfigurationError(LedgerError):
    """Raised when settings are missing, inconsistent or unsafe for the environment."""


class SigningUnavailableError(LedgerError):
    """Raised when the device that holds a private key (an HSM) does not sign now: unreachable,
    reset, or refusing, even after logging in again. Nothing was recorded; a retry may succeed
    once the device is back."""

    def __init__(self, device: str, reason: str) -> None:
        self.device = device
        self.reason = reason
        super().__init__(f"the key store {device} did not sign: {reason}")


class UnknownProfileError(ConfigurationError):
    """Raised when a ledger names a hash/signature profile this build does not implement."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        self.name = name
        super().__init__(f"unknown profile {name!r}: expected one of {', '.join(known)}")


class LedgerNotInitialisedError(ConfigurationError):
    """Raised when the database has no ledger yet (run ``ledger init``)."""

    def __init__(self, url: str) -> None:
        super().__init__(f"no ledger in {url}: run `ledger init` first")


class ValidationFailedError(LedgerError, ValueError):
    """Raised when a filing's payload fails validation; lists every bad field."""

    def __init__(self, event_type: str, problems: Sequence[tuple[str, str]],
                 articles: Sequence[int] = ()) -> None:
        self.event_type = event_type
        self.problems = tuple(problems)
        self.articles = tuple(articles)
        listed = "; ".join(f"{field}: {msg}" for field, msg in self.problems)
        cite = f" (Art. {', '.join(map(str, self.articles))})" if self.articles else ""
        super().__init__(f"{event_type} is invalid{cite}: {listed}")


class FutureDateError(ValidationFailedError):
    """Raised when a filing states as a fact a date (``effective``, ``signed_on``, a report's
    year...) later than the ledger's today in Beijing: a fact cannot have happened tomorrow.

    Deadlines and plans (an order's deadline, a fiscal year applied for) are exempt; the
    catalogue names them (docs/design.md §4.6). ``today`` is the ledger's date it was judged on.
    """

    def __init__(self, event_type: str, problems: Sequence[tuple[str, str]], today: str) -> None:
        self.today = today
        super().__init__(event_type, problems)


class UnknownEventTypeError(LedgerError, ValueError):
    """Raised when a filing names an event type that the catalogue does not know."""

    def __init__(self, event_type: str) -> None:
        self.event_type = event_type
        super().__init__(f"unknown event type {event_type!r}")


# --- authorisation and keys --------------------------------------------------------------


class AuthorisationError(LedgerError):
    """Raised when an actor may not file this event, or not on this project."""

    def __init__(self, actor: str, what: str) -> None:
        self.actor = actor
        super().__init__(f"actor {actor!r} may not {what}")


class RoleNotPermittedError(AuthorisationError):
    """Raised when an actor's role may not file an event type at all (docs/design.md §3 "filed
    by"); checked before the payload, so a wrong role is told 403 whatever it sent."""

    def __init__(self, actor: str, event_type: str, role: str, filed_by: Sequence[str],
                 articles: Sequence[int]) -> None:
        self.event_type = event_type
        self.role = role
        self.filed_by = tuple(filed_by)
        self.articles = tuple(articles)
        cite = f"; Art. {', '.join(map(str, self.articles))}" if self.articles else ""
        super().__init__(actor, f"file {event_type} as {role} (filed by"
                                f" {', '.join(self.filed_by)}{cite})")


class UnknownActorError(LedgerError, LookupError):
    """Raised when an actor id is not in the key registry."""

    def __init__(self, actor: str) -> None:
        self.actor = actor
        super().__init__(f"actor {actor!r} is not registered")


class DuplicateActorError(LedgerError, ValueError):
    """Raised when registering an actor id that the registry already holds."""

    def __init__(self, actor: str) -> None:
        self.actor = actor
        super().__init__(f"actor {actor!r} is already registered")


class KeyNotValidError(LedgerError):
    """Raised when a signing key is unknown, not its actor's, or revoked at the entry's time."""

    def __init__(self, key_id: str, reason: str) -> None:
        self.key_id = key_id
        self.reason = reason
        super().__init__(f"key {key_id!r} is not valid: {reason}")


class BadSignatureError(LedgerError):
    """Raised when a signature does not verify against the registered public key."""

    def __init__(self, what: str) -> None:
        super().__init__(f"signature does not verify: {what}")


# --- regulation ----------------------------------------------------------------------------


class RuleViolationError(LedgerError):
    """Raised when the Measures forbid this act now (docs/design.md §2 principle 3: refuse).

    ``quote_zh`` is the article's own words, short, in Chinese (the authoritative text), shown
    beside the English ``detail``.
    """

    def __init__(self, rule: str, article: str, detail: str,
                 caused_by: Sequence[str] = (), quote_zh: str = "") -> None:
        self.rule = rule
        self.article = article
        self.detail = detail
        self.caused_by = tuple(caused_by)
        self.quote_zh = quote_zh
        super().__init__(f"{detail} ({article}, rule {rule})")


class ProjectNotFoundError(LedgerError, LookupError):
    """Raised when a project id has no stream in the ledger."""

    def __init__(self, project_id: UUID) -> None:
        self.project_id = project_id
        super().__init__(f"project {project_id} not found")


# --- storage and concurrency ---------------------------------------------------------------


class ConflictError(LedgerError):
    """Raised when a filing was decided on a stream that has since moved (same ``seq`` taken).

    Retrying re-reads the stream and decides again.
    """

    def __init__(self, stream: UUID, seq: int, head: int) -> None:
        self.stream = stream
        self.seq = seq
        self.head = head
        super().__init__(
            f"stream {stream} expected seq {seq} to be next, but its head is at seq {head}"
        )


class StaleStreamError(LedgerError):
    """Raised when a stream a batch relied on (the key registry) moved before the lock.

    Nothing was written; the caller re-reads the stream, decides again and retries.
    """

    def __init__(self, stream: str, expected: int, found: int) -> None:
        self.stream = stream
        super().__init__(f"stream {stream} moved from seq {expected} to {found}; retry")


class DuplicateNonceError(LedgerError):
    """Raised when a filing's nonce was already recorded (an idempotent retry or a replay)."""

    def __init__(self, nonce: str) -> None:
        self.nonce = nonce
        super().__init__(f"a filing with nonce {nonce} is already recorded")


# --- integrity -----------------------------------------------------------------------------


class IntegrityFailedError(LedgerError):
    """Base of every failed integrity check: names the stream, seq and what broke."""

    def __init__(self, what: str, stream: UUID | str | None = None,
                 seq: int | None = None, leaf_index: int | None = None) -> None:
        self.what = what
        self.stream = stream
        self.seq = seq
        self.leaf_index = leaf_index
        where = []
        if stream is not None:
            where.append(f"stream {stream}")
        if seq is not None:
            where.append(f"seq {seq}")
        if leaf_index is not None:
            where.append(f"leaf {leaf_index}")
        super().__init__(f"{', '.join(where) or 'ledger'}: {what}")


class StoredValueError(IntegrityFailedError):
    """A stored value of a type its column cannot hold, met while reading the log (a database
    edited beneath its schema: SQLite keeps text in a blob column). What depends on it cannot
    be checked, so ``ledger verify`` stops there and names it."""


class ChainBrokenError(IntegrityFailedError):
    """Raised when an entry's ``prev`` or ``seq`` does not follow its predecessor."""


class EntryHashMismatchError(IntegrityFailedError):
    """Raised when an entry's bytes do not hash to what the log recorded for it."""


class MalformedEntryError(IntegrityFailedError):
    """Raised when stored bytes are not a well-formed, canonical docs/design.md §5 entry."""


class SignatureInvalidError(IntegrityFailedError):
    """Raised by verification when an author or registry signature does not hold."""


class ProofError(IntegrityFailedError):
    """Raised when an inclusion or consistency proof does not verify (RFC 9162 §2.1)."""


class HeadProofError(ProofError):
    """Raised when a stream heads map proof is malformed or does not verify.

    docs/evidence-format.md, Stream heads map: the map's proofs are not RFC 9162 proofs, but a
    caller that rejects on any failed proof catches both through :class:`ProofError`.
    """


class CheckpointError(IntegrityFailedError):
    """Raised when a checkpoint is malformed, badly signed, or disagrees with the log."""


class HeadsMapUnavailableError(LedgerError, LookupError):
    """Raised when a stream heads proof is asked at a log size the map does not cover: before
    the map's first version (a log upgraded by ``ledger init`` starts its map at the size it had
    then), beyond the log, or in a database that has no map yet."""

    def __init__(self, size: int, start: int | None, log_size: int | None = None) -> None:
        self.size = size
        self.start = start
        self.log_size = log_size
        if start is None:
            why = "the database has no heads map yet: run `ledger init`"
        elif log_size is not None and size > log_size:
            why = f"the log has {log_size} leaves"
        else:
            why = f"the map starts at size {start}"
        super().__init__(f"no heads map at size {size} ({why})")


# --- requests beyond the service's limits -------------------------------------------------


class RequestTooLargeError(LedgerError):
    """Raised when a request's body is larger than the service accepts (refused while it is
    read, before it is parsed: the server never holds more than the limit)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"the request body is larger than {limit} bytes")


class RateLimitedError(LedgerError):
    """Raised when one bearer token makes more requests of a kind than its rate allows."""

    def __init__(self, what: str, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"too many {what}; retry after {retry_after} s")


class DocumentAlteredError(IntegrityFailedError):
    """Raised when a stored document's bytes do not hash to the SHA-256 it is stored under, or
    its stored media type is not one accepted for its content: the documents table was edited
    beneath the ledger, and the filings that cite the document no longer describe what it
    holds."""

    def __init__(self, sha256: str, why: str) -> None:
        self.sha256 = sha256
        super().__init__(f"document {sha256} {why}: its stored copy was altered beneath the"
                         " ledger (restore it from a backup or from the unit's own copy)")


class DocumentNotFoundError(LedgerError, LookupError):
    """Raised when a document is not stored, or is not one the caller may read (the two are
    not told apart, so that a document's existence does not leak to another unit)."""

    def __init__(self, sha256: str) -> None:
        self.sha256 = sha256
        super().__init__(f"document {sha256} not found")


class DatabaseUnavailableError(LedgerError):
    """Raised in place of a database driver's error (down, restarting, unreachable, out of
    connections) where the error must cross a process boundary: the API answers 503 with
    ``Retry-After`` as it does for the driver's own errors."""

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(f"the database is unavailable: {what}")
