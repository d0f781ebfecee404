"""What a hash, a signer and a signature suite must offer (docs/design.md §5, Profile).

The seams every algorithm plugs into: the ``intl`` suites (:mod:`ledger.crypto.suites`) and the
``gm`` ones (:mod:`ledger.crypto.gm`) both implement them, so neither imports the other.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


class HashSuite(Protocol):
    """A collision-resistant hash with a 32-byte digest."""

    @property
    def name(self) -> str:
        """The suite's registered name (``sha256``, ``sm3``)."""
        ...

    def digest(self, data: bytes) -> bytes:
        """Return the 32-byte digest of ``data``."""
        ...


class Signer(Protocol):
    """Something that signs with one private key: a software key, or a :class:`HeldKey` in an
    HSM or cipher machine."""

    @property
    def suite(self) -> str:
        """The name of the signature suite this key belongs to."""
        ...

    @property
    def public_key(self) -> bytes:
        """The raw public key bytes as the registry publishes them."""
        ...

    def sign(self, message: bytes) -> bytes:
        """Return the signature over ``message``."""
        ...


class SignatureSuite(Protocol):
    """A signature algorithm: key generation, loading, and verification."""

    @property
    def name(self) -> str:
        """The suite's registered name (``ed25519``, ``sm2-sm3``)."""
        ...

    def generate(self) -> Signer:
        """Return a signer for a freshly generated key."""
        ...

    def load(self, private_key: bytes) -> Signer:
        """Return a signer for a raw private key as produced by :meth:`export`."""
        ...

    def export(self, signer: Signer) -> bytes:
        """Return the raw private key of a software signer (for encrypted custody)."""
        ...

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> None:
        """Return None if ``signature`` is valid, else raise :class:`BadSignatureError`."""
        ...


@runtime_checkable
class HeldKey(Signer, Protocol):
    """A signer whose private key stays in a device (an HSM, a cipher machine): it signs there
    and cannot be exported; ``handle`` names it in the device, and is all the ledger stores."""

    @property
    def handle(self) -> bytes:
        """The key's name in its device (PKCS#11: its ``CKA_ID``; GM/T 0018: its key index)."""
        ...


class KeyStore(Protocol):
    """A device that makes and keeps private keys (docs/keys.md; docs/gm-profile.md): PKCS#11
    tokens (:mod:`ledger.crypto.pkcs11`) and, through a vendor adapter, GM/T 0018 cipher
    machines. ``LEDGER_KEYS`` names it by a URI whose scheme picks the implementation."""

    @property
    def suite(self) -> str:
        """The signature suite its keys belong to (``ed25519``, ``sm2-sm3``)."""
        ...

    def generate(self, label: str) -> HeldKey:
        """Make a key pair in the device (the private half never leaves it); self-tested."""
        ...

    def find(self, key_id: str, handle: bytes) -> HeldKey:
        """The key ``handle`` names; :class:`~ledger.errors.KeyNotValidError` if the device
        holds none."""
        ...


__all__ = ["HashSuite", "HeldKey", "KeyStore", "SignatureSuite", "Signer"]
