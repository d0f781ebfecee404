"""Custodial keys: private keys the server holds, sealed at rest under the master key.

AES-256-GCM from ``cryptography``; the key id is the associated data, so a sealed key moved to
another id does not open. (Client-held keys, which the server never sees, come with the API.)
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.errors import ConfigurationError, KeyNotValidError

_NONCE_BYTES = 12
MASTER_KEY_BYTES = 32


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
