"""Custodial keys: private keys the server holds, sealed at rest under the master key, or
held in an HSM and only named here.

A software key is sealed with AES-256-GCM from ``cryptography``; the key id is the associated
data, so a sealed key moved to another id does not open. A key in a PKCS#11 token
(:mod:`ledger.crypto.pkcs11`) is stored as a *handle record* instead: a fixed prefix and the
object's ``CKA_ID``, nothing secret. (Client-held keys, which the server never sees, come with
the API.)
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.errors import ConfigurationError, KeyNotValidError

_NONCE_BYTES = 12
MASTER_KEY_BYTES = 32
HANDLE_PREFIX = b"\x00pkcs11-handle\x00"
"""Starts a handle record. A sealed key starts with a random 12-byte nonce, which begins with
these 15 bytes with probability 2^-96."""


def handle_record(object_id: bytes) -> bytes:
    """The custody record of a key held in a PKCS#11 token under ``CKA_ID`` = ``object_id``."""
    return HANDLE_PREFIX + object_id


def handle_of(record: bytes) -> bytes | None:
    """The ``CKA_ID`` a handle record names, or None for a sealed software key."""
    return record[len(HANDLE_PREFIX):] if record.startswith(HANDLE_PREFIX) else None


class Custodian:
    """Seals and opens private keys with one master key."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != MASTER_KEY_BYTES:
            raise ConfigurationError(
                f"the master key must be {MASTER_KEY_BYTES} bytes, got {len(master_key)}")
        self._aead = AESGCM(master_key)

    def seal(self, key_id: str, private_key: bytes) -> bytes:
        """Return nonce ‖ ciphertext of ``private_key``, bound to ``key_id``."""
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, private_key, key_id.encode())

    def open(self, key_id: str, sealed: bytes) -> bytes:
        """Return the private key; :class:`KeyNotValidError` if it was sealed otherwise."""
        try:
            return self._aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:],
                                      key_id.encode())
        except InvalidTag:
            raise KeyNotValidError(
                key_id, "its sealed private key does not open with this master key") from None
        except ValueError:  # shorter than a nonce: an edited row, not a sealed key
            raise KeyNotValidError(
                key_id, "its stored sealed private key is malformed (edited?)") from None
