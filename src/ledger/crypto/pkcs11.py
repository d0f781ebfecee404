"""Signing keys held in an HSM through PKCS#11 (Cryptoki), with ``python-pkcs11``.

A key generated here never leaves its token: the private half is created with
``CKA_SENSITIVE`` true and ``CKA_EXTRACTABLE`` false, and every signature is a ``C_Sign`` by the
token. The ledger keeps, in its custody table, only a handle (the object's ``CKA_ID``): see
:mod:`ledger.crypto.custody`. Ed25519 is ``CKK_EC_EDWARDS`` keys with ``CKM_EDDSA`` (PKCS#11 3.0;
SoftHSM2 ≥ 2.6 implements both), so a token signature is byte-for-byte what the software
suite's key would make and verifies with the same code.

The token is named by an RFC 7512 PKCS#11 URI, ``LEDGER_KEYS=pkcs11:token=LABEL?module-path=
/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/secrets/hsm-pin`` (docs/keys.md). One
process logs in once per token (PKCS#11 login belongs to the application, not the session), so
connections are shared process-wide, and one lock serialises a connection's calls (a PKCS#11
session serves one call at a time).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass, TokenFlag
from pkcs11.exceptions import PKCS11Error
from pkcs11.util.ec import encode_named_curve_parameters

from ledger.crypto.suites import Ed25519Suite
from ledger.errors import (
    BadSignatureError,
    ConfigurationError,
    KeyNotValidError,
    SigningUnavailableError,
)

ED25519_OID = "1.3.101.112"
"""``id-Ed25519`` (RFC 8410): the curve's ``CKA_EC_PARAMS`` as a named-curve OID."""

_PROBE = b"audit-ledger pkcs11 self-test"
_PATH_ATTRIBUTES = frozenset({"token", "manufacturer", "serial", "model", "slot-id",
                              "slot-description", "slot-manufacturer", "library-manufacturer",
                              "library-description", "library-version", "pin-value",
                              "pin-source"})
_QUERY_ATTRIBUTES = frozenset({"module-path", "pin-value", "pin-source"})


@dataclass(frozen=True)
class Pkcs11Uri:
    """The parts of an RFC 7512 URI the ledger uses: which module, which token, which PIN.

    ``object``, ``id`` and ``type`` are refused: the ledger names its own objects.
    """

    module_path: str
    token: str | None = None
    serial: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    slot_id: int | None = None
    pin: str | None = field(default=None, repr=False)

    @property
    def selector(self) -> tuple[object, ...]:
        """What tells this token apart from others behind the same module (not the PIN)."""
        return (self.module_path, self.token, self.serial, self.manufacturer, self.model,
                self.slot_id)

    def describe(self) -> str:
        """The token as an operator would recognise it (never the PIN)."""
        parts = [f"{name}={value}" for name, value in (
            ("token", self.token), ("serial", self.serial), ("manufacturer", self.manufacturer),
            ("model", self.model), ("slot-id", self.slot_id)) if value is not None]
        return f"pkcs11:{';'.join(parts)}?module-path={self.module_path}"


def parse_pkcs11_uri(text: str) -> Pkcs11Uri:
    """Parse ``pkcs11:PATH-ATTRS[?QUERY-ATTRS]`` (RFC 7512); :class:`ConfigurationError` if bad.

    Path attributes are separated by ``;``, query attributes by ``&``; values are
    percent-decoded. ``pin-value`` (or ``pin-source=file:PATH``, whose file holds the PIN) and
    ``module-path`` are query attributes in RFC 7512; they are accepted in the path too.
    """
    if not text.startswith("pkcs11:"):
        raise ConfigurationError(f"LEDGER_KEYS must be `software` or a pkcs11: URI, got"
                                 f" {text.split(':', 1)[0]!r}…")
    path, _, query = text.removeprefix("pkcs11:").partition("?")
    values: dict[str, str] = {}
    for component, separator, allowed in ((path, ";", _PATH_ATTRIBUTES | {"module-path"}),
                                          (query, "&", _QUERY_ATTRIBUTES)):
        for item in filter(None, component.split(separator)):
            name, equals, value = item.partition("=")
            if not equals:
                raise ConfigurationError(f"LEDGER_KEYS: {name!r} has no value (name=value)")
            if name in {"object", "id", "type"}:
                raise ConfigurationError(
                    f"LEDGER_KEYS names the token only; {name!r} is chosen by the ledger")
            if name not in allowed:
                raise ConfigurationError(f"LEDGER_KEYS: unknown attribute {name!r}")
            values[name] = unquote(value)
    module = values.get("module-path")
    if not module:
        raise ConfigurationError("LEDGER_KEYS needs module-path=/path/to/the/pkcs11/module.so")
    pin = values.get("pin-value")
    source = values.get("pin-source")
    if source is not None:
        file = Path(source.removeprefix("file:") if source.startswith("file:") else source)
        try:
            pin = file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ConfigurationError(f"LEDGER_KEYS pin-source {file}: {exc.strerror}") from None
    slot = values.get("slot-id")
    if slot is not None and not slot.isdigit():
        raise ConfigurationError(f"LEDGER_KEYS slot-id must be a number, got {slot!r}")
    return Pkcs11Uri(module_path=module, token=values.get("token"),
                     serial=values.get("serial"), manufacturer=values.get("manufacturer"),
                     model=values.get("model"),
                     slot_id=None if slot is None else int(slot), pin=pin)


@dataclass(frozen=True)
class Pkcs11Ed25519Signer:
    """An Ed25519 key in a token: a :class:`ledger.crypto.interface.Signer` whose ``sign`` is the
    token's ``C_Sign`` with ``CKM_EDDSA`` (pure Ed25519, RFC 8032)."""

    token: Pkcs11Token
    object_id: bytes
    public_key: bytes
    suite: str = "ed25519"

    @property
    def handle(self) -> bytes:
        """The key's ``CKA_ID`` in its token."""
        return self.object_id

    def sign(self, message: bytes) -> bytes:
        """Return the raw 64-byte signature the token makes over ``message``."""
        return self.token.sign(self.object_id, message)


_LIBRARIES: dict[tuple[int, str], Any] = {}
_TOKENS: dict[tuple[int, tuple[object, ...]], Pkcs11Token] = {}
_OPENING = threading.Lock()


class Pkcs11Token:
    """One logged-in session on one token, shared by the process (see :func:`open_token`): a
    :class:`ledger.crypto.interface.KeyStore` of Ed25519 keys."""

    suite = "ed25519"

    def __init__(self, uri: Pkcs11Uri) -> None:
        self.uri = uri
        self._lock = threading.Lock()
        self._suite = Ed25519Suite()
        token = _select(_library(uri.module_path), uri)
        mechanisms = set(token.slot.get_mechanisms())
        missing = {Mechanism.EC_EDWARDS_KEY_PAIR_GEN, Mechanism.EDDSA} - mechanisms
        if missing:
            raise ConfigurationError(
                f"the PKCS#11 token {uri.describe()} lacks"
                f" {', '.join(sorted(m.name for m in missing))}: Ed25519 keys need"
                " CKK_EC_EDWARDS with CKM_EDDSA (PKCS#11 3.0; SoftHSM2 ≥ 2.6)")
        if uri.pin is None:
            raise ConfigurationError(
                f"LEDGER_KEYS names no PIN for {uri.describe()}: add pin-source=file:PATH"
                " (or pin-value=)")
        self._token = token
        self._privates: dict[bytes, Any] = {}
        self._session = self._log_in()
        self.label = str(token.label)

    def _log_in(self) -> Any:
        """A new read-write session, logged in as the user (the login is the application's:
        if it stands already, the session joins it)."""
        uri = self.uri
        try:
            return self._token.open(rw=True, user_pin=uri.pin)
        except pkcs11.PinIncorrect:
            raise ConfigurationError(f"the PIN for {uri.describe()} is wrong") from None
        except pkcs11.UserAlreadyLoggedIn:
            return self._token.open(rw=True)
        except PKCS11Error as exc:
            raise ConfigurationError(
                f"cannot log in to {uri.describe()}: {type(exc).__name__}") from None

    def generate(self, label: str) -> Pkcs11Ed25519Signer:
        """Generate a key pair in the token (private half non-extractable); self-tested."""
        object_id = secrets.token_bytes(16)
        common = {Attribute.TOKEN: True, Attribute.ID: object_id, Attribute.LABEL: label}
        with self._lock:
            try:
                public, private = self._session.generate_keypair(
                    KeyType.EC_EDWARDS, 0, store=True,
                    mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
                    public_template={
                        **common, Attribute.VERIFY: True,
                        Attribute.EC_PARAMS: encode_named_curve_parameters(ED25519_OID)},
                    private_template={
                        **common, Attribute.SIGN: True, Attribute.PRIVATE: True,
                        Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False})
                point = public[Attribute.EC_POINT]
            except PKCS11Error as exc:
                raise ConfigurationError(
                    f"the PKCS#11 token {self.label!r} could not generate an Ed25519 key:"
                    f" {type(exc).__name__}") from None
            self._privates[object_id] = private
        return self._checked(Pkcs11Ed25519Signer(self, object_id, _raw_point(point)))

    def find(self, key_id: str, handle: bytes) -> Pkcs11Ed25519Signer:
        """The key pair with ``CKA_ID`` = ``handle``; :class:`KeyNotValidError` if absent."""
        with self._lock:
            try:
                private = self._find_private(handle)
                public = list(self._session.get_objects({
                    Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.ID: handle}))
                point = public[0][Attribute.EC_POINT] if len(public) == 1 else None
            except PKCS11Error as exc:
                raise ConfigurationError(f"the PKCS#11 token {self.label!r}: {exc!r}") from None
        if private is None or point is None:
            raise KeyNotValidError(key_id, f"the PKCS#11 token {self.label!r} holds no key"
                                           f" with CKA_ID {handle.hex()}")
        return self._checked(Pkcs11Ed25519Signer(self, handle, _raw_point(point)))

    def _find_private(self, object_id: bytes) -> Any | None:
        """The private key object on the current session (the lock held)."""
        found = list(self._session.get_objects({
            Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.ID: object_id}))
        if len(found) != 1:
            return None
        self._privates[object_id] = found[0]
        return found[0]

    def private_key(self, object_id: bytes) -> Any:
        """The private key object (for inspecting its attributes; its value never leaves)."""
        with self._lock:
            return self._privates.get(object_id) or self._find_private(object_id)

    def sign(self, object_id: bytes, message: bytes) -> bytes:
        """``C_Sign`` with ``CKM_EDDSA``, one call at a time on this session.

        A session can be lost under a running server (an HSM restarted, a network HSM's
        connection dropped, the token logged out): then the token is logged in to once more
        and the key found again before :class:`SigningUnavailableError` is raised.
        """
        with self._lock:
            private = self._privates.get(object_id) or self._find_private(object_id)
            if private is not None:
                try:
                    return bytes(private.sign(message, mechanism=Mechanism.EDDSA))
                except PKCS11Error:
                    pass
            try:
                with contextlib.suppress(PKCS11Error):
                    self._session.close()
                self._privates.clear()
                self._session = self._log_in()
                private = self._find_private(object_id)
                if private is None:
                    raise SigningUnavailableError(
                        repr(self.label), f"no key with CKA_ID {object_id.hex()}")
                return bytes(private.sign(message, mechanism=Mechanism.EDDSA))
            except (PKCS11Error, ConfigurationError) as exc:
                raise SigningUnavailableError(repr(self.label), str(exc) or type(exc).__name__
                                              ) from None

    def _checked(self, signer: Pkcs11Ed25519Signer) -> Pkcs11Ed25519Signer:
        """Sign a probe and verify it in software: a token, curve or encoding that disagrees
        with RFC 8032 is refused before its first real signature."""
        try:
            self._suite.verify(signer.public_key, _PROBE, signer.sign(_PROBE))
        except BadSignatureError:
            raise ConfigurationError(
                f"the PKCS#11 token {self.label!r} made an Ed25519 signature that does not"
                " verify (self-test)") from None
        return signer

    def close(self) -> None:
        """Log out and close the session (process exit does the same)."""
        with self._lock:
            self._session.close()


def open_keystore(uri: str) -> Pkcs11Token:
    """The :class:`ledger.crypto.interface.KeyStore` a ``pkcs11:`` URI names."""
    return open_token(parse_pkcs11_uri(uri))


def open_token(uri: Pkcs11Uri) -> Pkcs11Token:
    """The process's connection to the token ``uri`` names (opened and logged in once).

    Keyed by process id too: a forked child must not use its parent's Cryptoki state
    (PKCS#11 §5.4: it initialises its own).
    """
    key = (os.getpid(), uri.selector)
    with _OPENING:
        token = _TOKENS.get(key)
        if token is None:
            token = _TOKENS[key] = Pkcs11Token(uri)
        return token


def _library(module_path: str) -> Any:
    key = (os.getpid(), module_path)
    library = _LIBRARIES.get(key)
    if library is None:
        if not Path(module_path).is_file():
            raise ConfigurationError(f"no PKCS#11 module at {module_path}")
        try:
            library = _LIBRARIES[key] = pkcs11.lib(module_path)
        except PKCS11Error as exc:
            raise ConfigurationError(f"PKCS#11 module {module_path}: {exc!r}") from None
    return library


def _select(library: Any, uri: Pkcs11Uri) -> Any:
    """The one token with a present slot that matches every attribute the URI gives."""
    wanted = {"label": uri.token, "serial": uri.serial, "manufacturer_id": uri.manufacturer,
              "model": uri.model}
    try:
        matches = [
            token for token in (slot.get_token() for slot in library.get_slots(token_present=True)
                                if uri.slot_id is None or slot.slot_id == uri.slot_id)
            if token.flags & TokenFlag.TOKEN_INITIALIZED  # a free slot's token is not one
            and all(value is None or str(getattr(token, name)).strip() == value
                    for name, value in wanted.items())]
    except PKCS11Error as exc:
        raise ConfigurationError(f"PKCS#11 module {uri.module_path}: {exc!r}") from None
    if not matches:
        raise ConfigurationError(f"no PKCS#11 token {uri.describe()}")
    if len(matches) > 1:
        raise ConfigurationError(
            f"{len(matches)} PKCS#11 tokens match {uri.describe()}; name one by token=LABEL or"
            " serial=")
    return matches[0]


def _raw_point(point: bytes) -> bytes:
    """``CKA_EC_POINT`` of an Edwards key as the raw 32-byte public key: PKCS#11 3.0 says a DER
    OCTET STRING (``04 20 ‖ key``, as SoftHSM2 gives), some tokens give the 32 bytes bare."""
    point = bytes(point)
    if len(point) == 34 and point[:2] == b"\x04\x20":
        return point[2:]
    if len(point) == 32:
        return point
    raise ConfigurationError(f"unexpected CKA_EC_POINT for an Ed25519 key ({len(point)} bytes)")


__all__ = ["ED25519_OID", "Pkcs11Ed25519Signer", "Pkcs11Token", "Pkcs11Uri", "open_keystore",
           "open_token", "parse_pkcs11_uri"]
