"""The ledger's identity and the private keys the server holds (custodial signing)."""

from __future__ import annotations

import threading
from typing import cast

from eventsourcing.persistence import PersistenceError

from ledger.crypto.custody import Custodian
from ledger.crypto.suites import Profile, Signer, profile_named
from ledger.errors import ConfigurationError, KeyNotValidError, LedgerNotInitialisedError
from ledger.log.checkpoint import Checkpoint, VerifierKey, checkpoint_signer
from ledger.log.entries import b64decode, b64encode
from ledger.log.headmap import checkpoint_extension
from ledger.log.identity import ROOT_ACTOR, LedgerIdentity, key_id_for
from ledger.log.sealing import EntrySealer
from ledger.log.store import CustodyRecord, LogStore
from ledger.service.mapper import EntryMapper
from ledger.settings import Settings


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

    @property
    def profile(self) -> Profile:
        """The ledger's cryptographic profile (the database's, once the identity is read)."""
        return self._profile

    @property
    def custodian(self) -> Custodian:
        """Seals and opens custodial private keys under the master key."""
        return Custodian(self._settings.master_key_bytes)

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
            root = chosen.signature.generate()
            log_signer = chosen.signature.generate()
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

    def keep(self, key_id: str, actor: str, signer: Signer) -> None:
        """Store a private key sealed under the master key (before its key is registered)."""
        sealed = self.custodian.seal(key_id, self._profile.signature.export(signer))
        self._log.put_custody(CustodyRecord(key_id, actor, sealed))

    def _set_profile(self, profile: Profile) -> None:
        self._profile = profile
        self._mapper.profile = profile
        self._log.profile = profile
        self._log.sealer = EntrySealer(profile)

    @property
    def identity(self) -> LedgerIdentity:
        """The ledger's identity from the database, checked against the pinned root key."""
        if self._identity is not None:
            return self._identity
        with self._lock:
            try:
                origin = self._log.get_meta("origin")
            except PersistenceError:
                origin = None  # no tables yet
            if origin is None:
                raise LedgerNotInitialisedError(self._settings.database_url)
            profile = profile_named(cast(str, self._log.get_meta("profile")))
            self._set_profile(profile)
            root_public = b64decode(cast(str, self._log.get_meta("root_public_key")))
            pinned = self._settings.root_key
            if pinned is not None and b64decode(pinned) != root_public:
                raise ConfigurationError(
                    "LEDGER_ROOT_KEY does not match the root key recorded at `ledger init`")
            identity = LedgerIdentity(
                origin=origin, profile=profile,
                log_key=VerifierKey.parse(cast(str, self._log.get_meta("log_key"))),
                root_key_id=cast(str, self._log.get_meta("root_key_id")),
                root_public_key=root_public,
            )
            sign = checkpoint_signer(identity.log_key.name, self.signer("log"))
            # Every checkpoint carries the stream heads map's root as its ``heads`` line
            # (docs/evidence-format.md, Stream heads map, In the checkpoint).
            self._log.sign_checkpoint = (
                lambda size, root, heads: sign(Checkpoint(
                    origin, size, root, (checkpoint_extension(heads),))).text())
            self._identity = identity
            return identity

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
            signer = self._profile.signature.load(self.custodian.open(key_id, record.sealed))
            self._signers[key_id] = signer
        return signer


__all__ = ["KeyCustody"]
