"""The ledger's identity and the private keys the server holds (custodial signing).

Where a key lives is chosen by ``LEDGER_KEYS`` when it is made (docs/keys.md): in software,
sealed in the database under the master key, or in a PKCS#11 token, which the custody table
then only names. The placeholder master key is refused where it would be used unless the
database was made by ``ledger demo`` (or the environment is the test suite's), and always under
``production``; reading, ``ledger verify`` included, never needs a master key.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from eventsourcing.persistence import PersistenceError

from ledger.crypto.custody import Custodian, handle_of, handle_record
from ledger.crypto.interface import HeldKey, KeyStore
from ledger.crypto.keystores import keystore_for
from ledger.crypto.suites import Profile, Signer, profile_named
from ledger.errors import (
    CheckpointError,
    ConfigurationError,
    KeyNotValidError,
    LedgerNotInitialisedError,
)
from ledger.log.checkpoint import Checkpoint, SignedNote, VerifierKey, checkpoint_signer
from ledger.log.entries import b64decode, b64encode
from ledger.log.headmap import checkpoint_extension
from ledger.log.identity import ROOT_ACTOR, LedgerIdentity, key_id_for
from ledger.log.sealing import EntrySealer
from ledger.log.store import CustodyRecord, LogStore
from ledger.service.mapper import EntryMapper
from ledger.settings import DEVELOPMENT_MASTER_KEY_BYTES, Settings

_log = logging.getLogger("ledger.keys")

DEMO_MARK = "demo"
"""The ``ledger_meta`` key ``ledger demo`` sets before it makes any key: the one kind of database
the development placeholder master key may seal."""

PRODUCTION_REFUSAL = (
    "LEDGER_ENVIRONMENT=production refuses the development placeholder master key: set"
    " LEDGER_MASTER_KEY (`ledger keys master-key`), or keep the keys in an HSM"
    " (LEDGER_KEYS=pkcs11:…; docs/keys.md)")
NOT_DEMO_REFUSAL = (
    "the development placeholder master key only seals a database made by `ledger demo`; set"
    " LEDGER_MASTER_KEY (`ledger keys master-key`) or LEDGER_KEYS=pkcs11:… (docs/keys.md). A"
    " database already sealed under the placeholder moves to a real key with"
    " `ledger keys reseal`")
PLACEHOLDER_WARNING = "\n".join([
    "!" * 78,
    "!! WARNING: the DEVELOPMENT PLACEHOLDER master key is in use, and its value is published.",
    "!! What it seals (software custodial keys: log, root, authors) anyone with this",
    "!! database can unseal, and re-sign the ledger. Demo and test data only (docs/keys.md).",
    "!" * 78])


class KeyCustody:
    """Fixes and reads the ledger's identity, and signs with the keys the server holds.

    The profile starts as the configured one (what the mapper and recorder were built with) and
    becomes the database's once the identity is read: the mapper and the log follow it.
    """

    def __init__(self, settings: Settings, log: LogStore, mapper: EntryMapper) -> None:
        self._settings = settings
        self._log = log
        self._mapper = mapper
        self._profile = mapper.profile
        self._identity: LedgerIdentity | None = None
        self._signers: dict[str, Signer] = {}
        self._custody: dict[str, bool] = {}
        self._lock = threading.Lock()
        self._demo: bool | None = None
        self._warned = False
        self._sign_note: Callable[[Checkpoint], SignedNote] | None = None

    @property
    def profile(self) -> Profile:
        """The ledger's cryptographic profile (the database's, once the identity is read)."""
        return self._profile

    # --- where keys live ---------------------------------------------------------------------

    @property
    def keystore(self) -> str:
        """Where new keys are made: ``software``, or the scheme of ``LEDGER_KEYS`` (``pkcs11``)."""
        uri = self._settings.keys_uri
        return "software" if uri is None else uri.partition(":")[0]

    @property
    def is_demo(self) -> bool:
        """Whether ``ledger demo`` made this database (it marks it before making any key)."""
        if self._demo is None:
            try:
                self._demo = self._log.get_meta(DEMO_MARK) is not None
            except PersistenceError:
                return False  # no tables yet
        return self._demo

    def mark_demo(self, note: str) -> None:
        """Mark the database as the demo's (``ledger demo``, before :meth:`initialise`)."""
        self._log.create_table()
        self._log.put_meta(DEMO_MARK, note)
        self._demo = True

    @property
    def custodian(self) -> Custodian:
        """Seals and opens software keys under the master key, if policy allows it here:
        :class:`ConfigurationError` for the placeholder under ``production``, or outside a
        demo database except in the ``test`` environment (warned loudly where it is used)."""
        settings = self._settings
        if settings.placeholder_master_key:
            if settings.environment == "production":
                raise ConfigurationError(PRODUCTION_REFUSAL)
            if settings.environment != "test" and not self.is_demo:
                raise ConfigurationError(NOT_DEMO_REFUSAL)
            self._warn_placeholder()
        return Custodian(settings.master_key_bytes)

    def _warn_placeholder(self) -> None:
        if not self._warned:
            self._warned = True
            _log.warning(PLACEHOLDER_WARNING)

    def _keystore(self, key_id: str | None = None) -> KeyStore:
        uri = self._settings.keys_uri
        if uri is None:
            raise ConfigurationError(
                f"the key {key_id!r} is held in a PKCS#11 token: set LEDGER_KEYS to the token's"
                " pkcs11: URI (docs/keys.md)")
        store = keystore_for(uri)
        if store.suite != self._profile.signature.name:
            raise ConfigurationError(
                f"the key store LEDGER_KEYS names holds {store.suite} keys; this ledger's profile"
                f" {self._profile.name} signs with {self._profile.signature.name}. PKCS#11 tokens"
                " hold Ed25519 (intl); an SM2 cipher machine plugs in through a vendor adapter"
                " (docs/gm-profile.md)")
        return store

    def generate(self, actor: str) -> Signer:
        """A new private key where ``LEDGER_KEYS`` says: generated in the key store (never
        leaving it) or in software (sealed by :meth:`keep`)."""
        if self._settings.keys_uri is None:
            self.custodian  # noqa: B018 - refuse before making a key that could not be kept
            return self._profile.signature.generate()
        return self._keystore().generate(f"audit-ledger {actor}")

    def keep(self, key_id: str, actor: str, signer: Signer) -> None:
        """Record a private key the server holds (before its key is registered): a token's
        as a handle to it, a software key sealed under the master key."""
        if isinstance(signer, HeldKey):
            record = handle_record(signer.handle)
        else:
            record = self.custodian.seal(key_id, self._profile.signature.export(signer))
        self._log.put_custody(CustodyRecord(key_id, actor, record))
        self._signers[key_id] = signer

    # --- the identity ------------------------------------------------------------------------

    def initialise(self, *, origin: str | None = None,
                   profile: str | None = None) -> LedgerIdentity:
        """The log's part of ``ledger init``: create tables, fix origin/profile/keys.

        Idempotent: on an initialised database it only checks and returns the identity.
        """
        self._log.create_table()
        if self._log.get_meta("origin") is None:
            chosen = profile_named(profile or self._settings.profile)
            self._set_profile(chosen)
            origin = origin or self._settings.origin
            root = self.generate(ROOT_ACTOR)
            log_signer = self.generate("log")
            root_key_id = key_id_for(ROOT_ACTOR, root.public_key, chosen)
            log_key = VerifierKey.for_signer(origin, log_signer)
            self.keep(root_key_id, ROOT_ACTOR, root)
            self.keep("log", "log", log_signer)
            # The origin goes last: its presence marks a complete initialisation.
            self._log.put_meta("profile", chosen.name)
            self._log.put_meta("log_key", log_key.encode())
            self._log.put_meta("root_key_id", root_key_id)
            self._log.put_meta("root_public_key", b64encode(root.public_key))
            self._log.put_meta("origin", origin)
        return self.identity

    def _set_profile(self, profile: Profile) -> None:
        self._profile = profile
        self._mapper.profile = profile
        self._log.profile = profile
        self._log.sealer = EntrySealer(profile)

    @property
    def identity(self) -> LedgerIdentity:
        """The ledger's identity from the database, checked against the pinned root key.

        Needs no private key: the log key is found (unsealed, or looked up in its token) at the
        first checkpoint this process signs, or by :meth:`check_signing`.
        """
        if self._identity is not None:
            return self._identity
        with self._lock:
            try:
                origin = self._log.get_meta("origin")
            except PersistenceError:
                origin = None  # no tables yet
            if origin is None:
                raise LedgerNotInitialisedError(self._settings.database_url)
            profile = profile_named(self._recorded("profile"))
            self._set_profile(profile)
            try:
                root_public = b64decode(self._recorded("root_public_key"))
                log_key = VerifierKey.parse(self._recorded("log_key"))
            except (ValueError, CheckpointError) as exc:
                raise ConfigurationError(
                    f"the ledger's recorded keys (ledger_meta) do not parse: {exc}; the"
                    " database was edited beneath the ledger") from exc
            pinned = self._settings.root_key
            if pinned is not None and b64decode(pinned) != root_public:
                raise ConfigurationError(
                    "LEDGER_ROOT_KEY does not match the root key recorded at `ledger init`")
            identity = LedgerIdentity(
                origin=origin, profile=profile, log_key=log_key,
                root_key_id=self._recorded("root_key_id"), root_public_key=root_public,
            )
            # Every checkpoint carries the stream heads map's root as its ``heads`` line
            # (docs/evidence-format.md, Stream heads map, In the checkpoint).
            self._log.sign_checkpoint = (
                lambda size, root, heads: self._checkpoint_signer()(Checkpoint(
                    origin, size, root, (checkpoint_extension(heads),))).text())
            self._identity = identity
            return identity

    def _recorded(self, name: str) -> str:
        """A value ``ledger init`` recorded in ``ledger_meta``; ConfigurationError naming it
        if it is missing or not text (an edited or incomplete database), not a traceback."""
        value = self._log.get_meta(name)
        if not isinstance(value, str) or not value:
            raise ConfigurationError(
                f"the ledger's {name} is missing from its database (ledger_meta) or is not"
                " text: the database was edited beneath the ledger, or `ledger init` did not"
                " finish")
        return value

    def log_signer(self) -> Signer:
        """The log key's signer; refused if it is not the recorded log key (a token or master
        key of another ledger would sign what nobody can verify)."""
        log_key = self.identity.log_key
        signer = self.signer("log")
        if VerifierKey.for_signer(log_key.name, signer) != log_key:
            raise ConfigurationError(
                "the log key this server holds is not the one recorded at `ledger init`")
        return signer

    def _checkpoint_signer(self) -> Callable[[Checkpoint], SignedNote]:
        """The log key's note signer, found once."""
        if self._sign_note is None:
            self._sign_note = checkpoint_signer(self.identity.log_key.name, self.log_signer())
        return self._sign_note

    def check_signing(self) -> None:
        """What a server checks at start: it holds the log key (so it can sign checkpoints),
        and no placeholder master key is in use under ``production``. Warns loudly where the
        placeholder is in use (it seals the software keys and keys the pages' sessions)."""
        self._checkpoint_signer()
        if self._settings.placeholder_master_key:
            if self._settings.environment == "production":
                raise ConfigurationError(PRODUCTION_REFUSAL)
            self._warn_placeholder()

    # --- custodial signers -------------------------------------------------------------------

    def holds(self, key_id: str) -> bool:
        """Whether the server holds this key's private half (custodial signing).

        Remembered per key: custody is stored before a key is registered and never changes.
        """
        held = self._custody.get(key_id)
        if held is None:
            held = key_id in self._signers or self._log.get_custody(key_id) is not None
            self._custody[key_id] = held
        return held

    def signer(self, key_id: str) -> Signer:
        """The signer of a key the server holds; :class:`KeyNotValidError` if it holds none."""
        signer = self._signers.get(key_id)
        if signer is None:
            record = self._log.get_custody(key_id)
            if record is None:
                raise KeyNotValidError(key_id, "the server holds no private key for it")
            handle = handle_of(record.sealed)
            if handle is not None:
                signer = self._keystore(key_id).find(key_id, handle)
            else:
                signer = self._profile.signature.load(
                    self.custodian.open(key_id, record.sealed))
            self._signers[key_id] = signer
        return signer

    def reseal(self, new_master_key: bytes) -> int:
        """``ledger keys reseal``: seal every software key again under ``new_master_key``, in
        one transaction; return how many. The old key is ``LEDGER_MASTER_KEY`` as configured —
        the placeholder too, whatever the database: this is the way away from it. If any key
        does not open with it, :class:`KeyNotValidError` and nothing changes. Keys in a token
        are left as they are."""
        settings = self._settings
        if new_master_key == DEVELOPMENT_MASTER_KEY_BYTES:
            raise ConfigurationError("the new master key may not be the placeholder")
        if new_master_key == settings.master_key_bytes:
            raise ConfigurationError("the new master key is the one in LEDGER_MASTER_KEY")
        old, new = Custodian(settings.master_key_bytes), Custodian(new_master_key)

        def reseal(record: CustodyRecord) -> bytes | None:
            if handle_of(record.sealed) is not None:
                return None
            return new.seal(record.key_id, old.open(record.key_id, record.sealed))

        return self._log.reseal_custody(reseal)


__all__ = ["DEMO_MARK", "KeyCustody"]
