"""SM2 signature checks through the system's OpenSSL 3 (``libcrypto``), where it is present.

OpenSSL's SM2 verify costs about half of GmSSL's on the reference machine (344 against 600 µs:
``openssl speed sm2``), and ``ledger verify`` under the ``gm`` profile is bound by it. Only one
operation is bound here: checking a DER signature over a precomputed digest
``e = SM3(Z ‖ M)`` (GB/T 32918.2 §7.1 B5–B7). The provider's plain *verify* takes ``e`` as the
data to check (``providers/implementations/signature/sm2_sig.c``: ``sm2sig_verify`` →
``ossl_sm2_internal_verify``); Z and e stay in :mod:`ledger.crypto.gm`, as with GmSSL.

Nothing else depends on it: :func:`verifier` returns None where ``libcrypto`` 3 cannot be loaded
or cannot build an SM2 key, and the suite keeps using GmSSL.
``tests/ledger/crypto/test_suite_gm.py`` holds the two to the same verdicts.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections.abc import Callable
from typing import Final, TypeAlias

# EVP_PKEY_PUBLIC_KEY: OSSL_KEYMGMT_SELECT_ALL_PARAMETERS (0x84) | ..._PUBLIC_KEY (0x02).
_SELECT_PUBLIC_KEY: Final = 0x86
_OPENSSL_3: Final = 0x30000000
_KEYS_KEPT: Final = 4096  # public keys whose OpenSSL key objects are kept (a registry's worth)

Verify: TypeAlias = Callable[[bytes, bytes, bytes], bool]
"""(uncompressed public key 04‖X‖Y, digest e, DER signature) → valid?"""


def _library() -> ctypes.CDLL | None:
    """libcrypto 3, with the prototypes used here declared; None if there is none."""
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("crypto") or "libcrypto.so.3")
        lib.OpenSSL_version_num.restype = ctypes.c_ulong
        if lib.OpenSSL_version_num() < _OPENSSL_3:
            return None
    except (OSError, AttributeError):
        return None
    p, i, s = ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t
    prototypes: dict[str, tuple[object, list[object]]] = {
        "OSSL_PARAM_BLD_new": (p, []),
        "OSSL_PARAM_BLD_push_utf8_string": (i, [p, ctypes.c_char_p, ctypes.c_char_p, s]),
        "OSSL_PARAM_BLD_push_octet_string": (i, [p, ctypes.c_char_p, ctypes.c_char_p, s]),
        "OSSL_PARAM_BLD_to_param": (p, [p]),
        "OSSL_PARAM_BLD_free": (None, [p]),
        "OSSL_PARAM_free": (None, [p]),
        "EVP_PKEY_CTX_new_from_name": (p, [p, ctypes.c_char_p, ctypes.c_char_p]),
        "EVP_PKEY_CTX_new_from_pkey": (p, [p, p, ctypes.c_char_p]),
        "EVP_PKEY_CTX_free": (None, [p]),
        "EVP_PKEY_fromdata_init": (i, [p]),
        "EVP_PKEY_fromdata": (i, [p, ctypes.POINTER(p), i, p]),
        "EVP_PKEY_free": (None, [p]),
        "EVP_PKEY_verify_init": (i, [p]),
        "EVP_PKEY_verify": (i, [p, ctypes.c_char_p, s, ctypes.c_char_p, s]),
        "ERR_clear_error": (None, []),
    }
    try:
        for name, (restype, argtypes) in prototypes.items():
            function = getattr(lib, name)
            function.restype = restype
            function.argtypes = argtypes
    except AttributeError:
        return None
    return lib


class _PublicKey:
    """An OpenSSL ``EVP_PKEY`` for one SM2 public key, freed with this object."""

    def __init__(self, lib: ctypes.CDLL, public_key: bytes) -> None:
        self._lib = lib
        self.handle = ctypes.c_void_p()
        builder = lib.OSSL_PARAM_BLD_new()
        params = ctx = None
        try:
            if not (builder
                    and lib.OSSL_PARAM_BLD_push_utf8_string(builder, b"group", b"SM2", 0)
                    and lib.OSSL_PARAM_BLD_push_octet_string(
                        builder, b"pub", public_key, len(public_key))):
                raise ValueError("OpenSSL could not hold the SM2 key parameters")
            params = lib.OSSL_PARAM_BLD_to_param(builder)
            ctx = lib.EVP_PKEY_CTX_new_from_name(None, b"SM2", None)
            if not (params and ctx and lib.EVP_PKEY_fromdata_init(ctx) == 1
                    and lib.EVP_PKEY_fromdata(ctx, ctypes.byref(self.handle),
                                              _SELECT_PUBLIC_KEY, params) == 1):
                raise ValueError("OpenSSL refused the SM2 public key")
        finally:
            if ctx:
                lib.EVP_PKEY_CTX_free(ctx)
            if params:
                lib.OSSL_PARAM_free(params)
            if builder:
                lib.OSSL_PARAM_BLD_free(builder)
            lib.ERR_clear_error()

    def __del__(self) -> None:
        if self.handle:
            self._lib.EVP_PKEY_free(self.handle)


class _OpenSslSm2:
    """The bound verify, with the key objects of recently seen public keys kept."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self._lib = lib
        self._keys: dict[bytes, _PublicKey] = {}
        self._lock = threading.Lock()

    def _key(self, public_key: bytes) -> _PublicKey:
        key = self._keys.get(public_key)
        if key is None:
            key = _PublicKey(self._lib, public_key)
            with self._lock:
                if len(self._keys) >= _KEYS_KEPT:
                    self._keys.clear()  # a registry never has this many live keys
                self._keys[public_key] = key
        return key

    def __call__(self, public_key: bytes, digest: bytes, signature: bytes) -> bool:
        """True iff ``signature`` (DER) is an SM2 signature of ``digest`` under the key."""
        lib, key = self._lib, self._key(public_key)
        ctx = lib.EVP_PKEY_CTX_new_from_pkey(None, key.handle, None)
        if not ctx:
            raise MemoryError("OpenSSL could not make a verify context")
        try:
            if lib.EVP_PKEY_verify_init(ctx) != 1:
                raise ValueError("OpenSSL could not start an SM2 verify")
            verdict = lib.EVP_PKEY_verify(ctx, signature, len(signature), digest, len(digest))
        finally:
            lib.EVP_PKEY_CTX_free(ctx)
            lib.ERR_clear_error()  # a refused signature leaves an error on this thread's queue
        return bool(verdict == 1)


def verifier(probe: Callable[[Verify], bool]) -> Verify | None:
    """OpenSSL's SM2 verify, if ``libcrypto`` 3 is here and passes ``probe`` (the caller's
    known-answer check against GmSSL); else None."""
    lib = _library()
    if lib is None:
        return None
    try:
        candidate = _OpenSslSm2(lib)
        return candidate if probe(candidate) else None
    except (ValueError, MemoryError, OSError):
        return None
