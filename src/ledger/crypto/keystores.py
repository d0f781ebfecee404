"""Which device ``LEDGER_KEYS`` names: the URI's scheme picks a
:class:`~ledger.crypto.interface.KeyStore` (docs/keys.md).

``pkcs11:`` is built in (:mod:`ledger.crypto.pkcs11`). A vendor adapter — a GM/T 0018 cipher
machine for a ``gm`` ledger's SM2 keys (docs/gm-profile.md) — adds its scheme to
:data:`KEYSTORES` with a function from the URI to its open key store.
"""

from __future__ import annotations

from collections.abc import Callable

from ledger.crypto.interface import KeyStore
from ledger.crypto.pkcs11 import open_keystore
from ledger.errors import ConfigurationError

KEYSTORES: dict[str, Callable[[str], KeyStore]] = {"pkcs11": open_keystore}
"""URI scheme → opens the key store the URI names (once per process is the opener's care)."""


def keystore_for(uri: str) -> KeyStore:
    """The key store ``uri`` names; :class:`ConfigurationError` for a scheme none implements."""
    scheme = uri.partition(":")[0]
    opener = KEYSTORES.get(scheme)
    if opener is None:
        raise ConfigurationError(
            f"LEDGER_KEYS: no key store for {scheme!r}; known: software,"
            f" {', '.join(sorted(KEYSTORES))}")
    return opener(uri)


__all__ = ["KEYSTORES", "keystore_for"]
