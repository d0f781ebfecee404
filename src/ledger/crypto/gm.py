"""The ``gm`` profile: SM3 hashes and SM2 signatures (docs/design.md §5, Profile;
docs/gm-profile.md).

* :class:`Sm3` (GB/T 32905-2016) is the profile's hash, from ``cryptography`` (PyCA), which
  ships SM3 in every wheel.
* :class:`Sm2Suite` (GB/T 32918.2-2016 on the GB/T 32918.5-2017 recommended curve ``sm2p256v1``)
  is the signature suite ``sm2-sm3``: user id ``1234567812345678``, signatures DER-encoded
  ``SEQUENCE {r INTEGER, s INTEGER}`` (GM/T 0009), public keys uncompressed ``04 ‖ X ‖ Y``
  (65 bytes), private keys the raw 32-byte big-endian ``d``.

SM2 signs ``e = SM3(Z ‖ M)`` where ``Z = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA)``
(GB/T 32918.2 §5.5 and §6.1 steps A1–A2). This module computes ``Z`` (cached per public key)
and ``e`` itself, and hands only the 32-byte ``e`` to the elliptic-curve backend, GmSSL 3.2.0
through ``gmssl-pyx`` (``sm2_sign_sm3_digest`` / ``sm2_verify_sm3_digest``).

The private key sits behind one seam, :class:`Sm2DigestSigner` (``public_key`` and
``sign_digest(e)``): :class:`SoftwareSm2Key` is the software implementation, and a GM/T 0018
HSM or a signing server plugs in by implementing the same two members (see the operators'
section of docs/gm-profile.md). :class:`Sm2Signer` wraps any such backend into the ledger's
:class:`~ledger.crypto.suites.Signer`.

Everything a verifier receives is checked here before it reaches GmSSL: the public key's length,
prefix and curve membership; the signature's strict DER form and ``r, s ∈ [1, n−1]`` with
``r + s ≢ 0 (mod n)`` (GB/T 32918.2 §7.1 steps B1, B2 and B5).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Final, Protocol

from gmssl_pyx import gmsslext as _gmssl  # type: ignore[import-untyped]

from ledger.crypto.sm2_openssl import Verify, verifier
from ledger.errors import BadSignatureError

if TYPE_CHECKING:
    from ledger.crypto.interface import Signer

__all__ = [
    "PRIVATE_KEY_SIZE",
    "PUBLIC_KEY_SIZE",
    "SM2_P256V1",
    "SUITE_NAME",
    "USER_ID",
    "Sm2Curve",
    "Sm2DigestSigner",
    "Sm2Signer",
    "Sm2Suite",
    "Sm3",
    "SoftwareSm2Key",
    "decode_signature",
    "encode_signature",
    "message_digest",
    "public_key_from_private",
    "z_value",
]

SUITE_NAME: Final = "sm2-sm3"
"""The signature suite's registered name (docs/design.md §5; the ``suite`` of ``KeyRegistered``)."""

USER_ID: Final = b"1234567812345678"
"""The signer's distinguishing identifier, fixed for the ledger (GM/T 0009 §10 default)."""

PUBLIC_KEY_SIZE: Final = 65
"""An uncompressed point ``04 ‖ X ‖ Y`` (GB/T 32918.1 §4.2.9)."""

PRIVATE_KEY_SIZE: Final = 32
"""The private key ``d`` as a 32-byte big-endian integer."""

_UNCOMPRESSED: Final = 0x04
_FIELD_BYTES: Final = 32
_DIGEST_BYTES: Final = 32
_MAX_USER_ID_BITS: Final = 0xFFFF  # ENTL is two bytes (GB/T 32918.2 §5.5)

# DER (X.690 §8.1, §8.3, §10.1): tags and the short-form length limit.
_DER_SEQUENCE: Final = 0x30
_DER_INTEGER: Final = 0x02
_DER_SHORT_LENGTH_MAX: Final = 0x7F
_DER_LONG_LENGTH_ONE_BYTE: Final = 0x81


# --- SM3 ----------------------------------------------------------------------------------------

def _sm3(*parts: bytes) -> bytes:
    """SM3 of the concatenation of ``parts`` (GmSSL's: a third of ``cryptography``'s cost per
    call on the 32–600-byte inputs the log hashes; ``tests/ledger/crypto/test_suite_gm.py`` holds it
    to the GB/T 32905 vectors and to OpenSSL's SM3)."""
    return bytes(_gmssl.sm3_hash(b"".join(parts)))


@dataclass(frozen=True)
class Sm3:
    """SM3 (GB/T 32905-2016), the ``gm`` profile's hash: 32-byte digests."""

    name: str = "sm3"

    def digest(self, data: bytes) -> bytes:
        """Return SM3(data)."""
        return _sm3(data)


# --- the curve ----------------------------------------------------------------------------------

_Jacobian = tuple[int, int, int]
"""A point in Jacobian coordinates ``(X, Y, Z)`` ↔ affine ``(X/Z², Y/Z³)``; ``Z = 0`` is O."""

_INFINITY: Final[_Jacobian] = (1, 1, 0)


@dataclass(frozen=True)
class Sm2Curve:
    """A short-Weierstrass curve ``y² = x³ + ax + b`` over F_p with base point G of order n.

    Only what the suite needs in Python: membership, and scalar multiplication to derive a
    public key from a loaded private key (once per key) and to run the standard's worked
    examples in tests. Signing and verification go through GmSSL.
    """

    p: int
    a: int
    b: int
    gx: int
    gy: int
    n: int

    def contains(self, x: int, y: int) -> bool:
        """True iff ``(x, y)`` has coordinates in [0, p) and lies on the curve."""
        p = self.p
        return 0 <= x < p and 0 <= y < p and (y * y - (x * x * x + self.a * x + self.b)) % p == 0

    def multiply(self, k: int, point: tuple[int, int] | None = None) -> tuple[int, int]:
        """Return ``[k]point`` (default G) in affine coordinates; ValueError if it is O.

        ``k`` is taken mod n (the curves here have cofactor 1, so every point has order n).
        A Montgomery ladder over the order's bit length: the same sequence of point
        operations for every scalar (Python integers are not constant-time, see
        docs/gm-profile.md).
        """
        k %= self.n
        x, y = (self.gx, self.gy) if point is None else point
        low: _Jacobian = _INFINITY
        high: _Jacobian = (x, y, 1)
        for bit in range(self.n.bit_length() - 1, -1, -1):
            if (k >> bit) & 1:
                low, high = self._add(low, high), self._double(high)
            else:
                low, high = self._double(low), self._add(low, high)
        return self._affine(low)

    def add(self, first: tuple[int, int], second: tuple[int, int]) -> tuple[int, int]:
        """Return ``first + second`` in affine coordinates; ValueError if it is O."""
        return self._affine(self._add((*first, 1), (*second, 1)))

    def _double(self, point: _Jacobian) -> _Jacobian:
        x, y, z = point
        p = self.p
        if z == 0 or y == 0:
            return _INFINITY
        yy = y * y % p
        s = 4 * x * yy % p
        zz = z * z % p
        m = (3 * x * x + self.a * zz * zz) % p
        x3 = (m * m - 2 * s) % p
        y3 = (m * (s - x3) - 8 * yy * yy) % p
        return x3, y3, 2 * y * z % p

    def _add(self, first: _Jacobian, second: _Jacobian) -> _Jacobian:
        x1, y1, z1 = first
        x2, y2, z2 = second
        if z1 == 0:
            return second
        if z2 == 0:
            return first
        p = self.p
        z1z1, z2z2 = z1 * z1 % p, z2 * z2 % p
        u1, u2 = x1 * z2z2 % p, x2 * z1z1 % p
        s1, s2 = y1 * z2 * z2z2 % p, y2 * z1 * z1z1 % p
        h, r = (u2 - u1) % p, (s2 - s1) % p
        if h == 0:
            return self._double(first) if r == 0 else _INFINITY
        hh = h * h % p
        hhh = h * hh % p
        v = u1 * hh % p
        x3 = (r * r - hhh - 2 * v) % p
        y3 = (r * (v - x3) - s1 * hhh) % p
        return x3, y3, h * z1 * z2 % p

    def _affine(self, point: _Jacobian) -> tuple[int, int]:
        x, y, z = point
        if z == 0:
            raise ValueError("the result is the point at infinity")
        p = self.p
        z_inv = pow(z, -1, p)
        z_inv2 = z_inv * z_inv % p
        return x * z_inv2 % p, y * z_inv2 * z_inv % p


SM2_P256V1: Final = Sm2Curve(
    p=0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_FFFFFFFF_00000000_FFFFFFFF_FFFFFFFF,
    a=0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_FFFFFFFF_00000000_FFFFFFFF_FFFFFFFC,
    b=0x28E9FA9E_9D9F5E34_4D5A9E4B_CF6509A7_F39789F5_15AB8F92_DDBCBD41_4D940E93,
    gx=0x32C4AE2C_1F198119_5F990446_6A39C994_8FE30BBF_F2660BE1_715A4589_334C74C7,
    gy=0xBC3736A2_F4F6779C_59BDCEE3_6B692153_D0A9877C_C62A4740_02DF32E5_2139F0A0,
    n=0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_7203DF6B_21C6052B_53BBF409_39D54123,
)
"""The recommended curve of GB/T 32918.5-2017 (GM/T 0003.5-2012), the only one this suite uses."""


def _int32(value: int) -> bytes:
    return value.to_bytes(_FIELD_BYTES, "big")


def _point(public_key: bytes, curve: Sm2Curve) -> tuple[int, int]:
    """Parse ``04 ‖ X ‖ Y`` and check it is on ``curve``; ValueError naming the defect."""
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise ValueError(
            f"an SM2 public key is {PUBLIC_KEY_SIZE} bytes (04 ‖ X ‖ Y), got {len(public_key)}"
        )
    if public_key[0] != _UNCOMPRESSED:
        raise ValueError(f"an SM2 public key starts with 0x04, got 0x{public_key[0]:02x}")
    x = int.from_bytes(public_key[1 : 1 + _FIELD_BYTES], "big")
    y = int.from_bytes(public_key[1 + _FIELD_BYTES :], "big")
    if not curve.contains(x, y):
        raise ValueError("the SM2 public key is not a point on the curve")
    return x, y


# --- Z and e (GB/T 32918.2 §5.5, §6.1) -----------------------------------------------------------


def z_value(public_key: bytes, user_id: bytes = USER_ID, curve: Sm2Curve = SM2_P256V1) -> bytes:
    """Return ``Z = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA)`` (GB/T 32918.2 §5.5).

    ENTL is the id's length in **bits**, two bytes big-endian. The public key is checked to
    be an uncompressed point on ``curve`` (ValueError otherwise).
    """
    _point(public_key, curve)
    bits = len(user_id) * 8
    if bits > _MAX_USER_ID_BITS:
        raise ValueError(f"an SM2 user id is at most 8191 bytes, got {len(user_id)}")
    return _sm3(
        bits.to_bytes(2, "big"),
        user_id,
        _int32(curve.a),
        _int32(curve.b),
        _int32(curve.gx),
        _int32(curve.gy),
        public_key[1:],
    )


@lru_cache(maxsize=4096)
def _cached_z(public_key: bytes) -> bytes:
    """Z of a checked public key under the fixed user id and curve (cached: one per key)."""
    return z_value(public_key)


def message_digest(public_key: bytes, message: bytes) -> bytes:
    """Return ``e = SM3(Z ‖ M)``, the 32 bytes SM2 signs (GB/T 32918.2 §6.1 steps A1–A2).

    ``Z`` is computed once per public key (fixed user id ``1234567812345678``) and cached.
    Raises ValueError if the public key is not an uncompressed point on the curve.
    """
    return _sm3(_cached_z(public_key), message)


# --- DER signatures (GM/T 0009 §7.3: SM2Signature ::= SEQUENCE { r INTEGER, s INTEGER }) ------


def _der_length(length: int) -> bytes:
    if length <= _DER_SHORT_LENGTH_MAX:
        return bytes([length])
    return bytes([_DER_LONG_LENGTH_ONE_BYTE, length])  # SM2 signatures never need more


def _der_integer(value: int) -> bytes:
    body = value.to_bytes(value.bit_length() // 8 + 1, "big")  # room for the sign bit
    return bytes([_DER_INTEGER]) + _der_length(len(body)) + body


def encode_signature(r: int, s: int) -> bytes:
    """Return the DER ``SEQUENCE {r, s}`` of a raw signature (for adapters given ``r ‖ s``).

    ValueError unless ``1 <= r, s < n``.
    """
    n = SM2_P256V1.n
    if not (0 < r < n and 0 < s < n):
        raise ValueError("SM2 signature values must lie in [1, n-1]")
    body = _der_integer(r) + _der_integer(s)
    return bytes([_DER_SEQUENCE]) + _der_length(len(body)) + body


def _read_der(data: bytes, offset: int, tag: int) -> tuple[bytes, int]:
    """Read one DER element of ``tag`` at ``offset``: (contents, offset after it). Strict."""
    if offset + 2 > len(data) or data[offset] != tag:
        raise ValueError(f"expected DER tag 0x{tag:02x} at byte {offset}")
    length = data[offset + 1]
    offset += 2
    if length == _DER_LONG_LENGTH_ONE_BYTE:
        if offset >= len(data) or data[offset] <= _DER_SHORT_LENGTH_MAX:
            raise ValueError("DER length is not in its shortest form")
        length = data[offset]
        offset += 1
    elif length > _DER_SHORT_LENGTH_MAX:
        raise ValueError("DER length is longer than an SM2 signature can need")
    end = offset + length
    if end > len(data):
        raise ValueError("DER element runs past the end of the signature")
    return data[offset:end], end


def _der_uint(contents: bytes) -> int:
    """A DER INTEGER's value, which must be positive and minimally encoded (X.690 §8.3.2)."""
    if not contents:
        raise ValueError("DER INTEGER is empty")
    if contents[0] & 0x80:
        raise ValueError("DER INTEGER is negative")
    if len(contents) > 1 and contents[0] == 0 and not contents[1] & 0x80:
        raise ValueError("DER INTEGER has a superfluous leading zero")
    return int.from_bytes(contents, "big")


def decode_signature(signature: bytes) -> tuple[int, int]:
    """Return ``(r, s)`` of a strict DER SM2 signature; ValueError naming the defect.

    Strict means exactly one ``SEQUENCE`` of two minimally encoded positive ``INTEGER`` s and
    nothing after it, and ``r, s ∈ [1, n−1]`` with ``(r + s) mod n ≠ 0`` (GB/T 32918.2 §7.1
    B1, B2, B5), so one signature has exactly one accepted encoding.
    """
    body, end = _read_der(signature, 0, _DER_SEQUENCE)
    if end != len(signature):
        raise ValueError("bytes follow the DER signature")
    r_bytes, offset = _read_der(body, 0, _DER_INTEGER)
    s_bytes, offset = _read_der(body, offset, _DER_INTEGER)
    if offset != len(body):
        raise ValueError("the DER SEQUENCE holds more than r and s")
    r, s = _der_uint(r_bytes), _der_uint(s_bytes)
    n = SM2_P256V1.n
    if not (0 < r < n and 0 < s < n):
        raise ValueError("r or s lies outside [1, n-1]")
    if (r + s) % n == 0:
        raise ValueError("r + s is 0 mod n")
    return r, s


# --- keys and the signer seam ----------------------------------------------------------------


def _private_scalar(private_key: bytes) -> int:
    """The private key as an integer in [1, n−2] (GB/T 32918.1 §6.1); ValueError if not."""
    if len(private_key) != PRIVATE_KEY_SIZE:
        raise ValueError(
            f"an SM2 private key is {PRIVATE_KEY_SIZE} bytes, got {len(private_key)}"
        )
    d = int.from_bytes(private_key, "big")
    if not 1 <= d <= SM2_P256V1.n - 2:
        raise ValueError("the SM2 private key lies outside [1, n-2]")
    return d


def public_key_from_private(private_key: bytes) -> bytes:
    """Return ``04 ‖ X ‖ Y`` of ``[d]G`` for a raw 32-byte private key (ValueError if bad)."""
    x, y = SM2_P256V1.multiply(_private_scalar(private_key))
    return bytes([_UNCOMPRESSED]) + _int32(x) + _int32(y)


class Sm2DigestSigner(Protocol):
    """The seam for where an SM2 private key lives: software now, an HSM or signing server later.

    An implementation signs a 32-byte digest ``e`` that the caller has already computed as
    ``SM3(Z ‖ M)`` with the fixed user id: the shape of GM/T 0018's ``SDF_InternalSign_ECC``
    and of most signing servers' "sign hash" call. It never sees the message, and never
    computes Z itself (so an adapter cannot get the user id wrong).
    """

    @property
    def public_key(self) -> bytes:
        """The 65-byte uncompressed public key ``04 ‖ X ‖ Y`` of the key that signs."""
        ...

    def sign_digest(self, digest: bytes) -> bytes:
        """Return the DER ``SEQUENCE {r, s}`` SM2 signature over the 32-byte ``digest``.

        A backend that yields raw ``r ‖ s`` encodes it with :func:`encode_signature`.
        """
        ...


@dataclass(frozen=True)
class SoftwareSm2Key:
    """A private key held in process memory, signing with GmSSL (the default backend).

    Construct it with :meth:`Sm2Suite.generate` or :meth:`Sm2Suite.load`, which derive and
    check the public key; the private key is kept out of ``repr``.
    """

    private_key: bytes = field(repr=False)
    public_key: bytes

    def sign_digest(self, digest: bytes) -> bytes:
        """Return GmSSL's DER signature over ``digest`` (random k from GmSSL's ``rand_bytes``)."""
        if len(digest) != _DIGEST_BYTES:
            raise ValueError(f"an SM3 digest is {_DIGEST_BYTES} bytes, got {len(digest)}")
        return bytes(_gmssl.sm2_sign_sm3_digest(self.private_key, digest))


@dataclass(frozen=True)
class Sm2Signer:
    """A :class:`ledger.crypto.suites.Signer` for ``sm2-sm3`` over any :class:`Sm2DigestSigner`.

    ``sign(message)`` computes ``e = SM3(Z ‖ M)`` here, asks the backend to sign ``e``, and
    checks that what comes back is a strict DER signature before handing it to the ledger.
    """

    backend: Sm2DigestSigner
    suite: str = SUITE_NAME

    @property
    def public_key(self) -> bytes:
        """The 65-byte uncompressed public key ``04 ‖ X ‖ Y``."""
        return self.backend.public_key

    def sign(self, message: bytes) -> bytes:
        """Return the DER SM2 signature over ``message`` with user id ``1234567812345678``."""
        signature = self.backend.sign_digest(message_digest(self.public_key, message))
        try:
            decode_signature(signature)
        except ValueError as exc:
            raise BadSignatureError(
                f"the SM2 signing backend returned a malformed signature ({exc})"
            ) from exc
        return signature


# --- verification ------------------------------------------------------------------------------


def _check_pairwise(signer: Sm2Signer) -> None:
    """Sign and verify one message: a new or loaded key must work end to end, or be refused."""
    probe = b"ledger sm2-sm3 pairwise consistency test"
    try:
        Sm2Suite().verify(signer.public_key, probe, signer.sign(probe))
    except BadSignatureError as exc:
        raise ValueError(f"the SM2 key failed its pairwise consistency test ({exc})") from exc


def gmssl_verify_digest(public_key: bytes, digest: bytes, signature: bytes) -> bool:
    """GmSSL's SM2 check of a DER signature over ``e`` (B5–B7); False where GmSSL refuses."""
    try:  # GmSSL takes the point as X ‖ Y, without the 0x04 prefix
        return _gmssl.sm2_verify_sm3_digest(public_key[1:], digest, signature) is True
    except _gmssl.GmsslInnerError:
        return False


def _agrees_with_gmssl(candidate: Verify) -> bool:
    """Known answers for another SM2 implementation: a GmSSL signature holds, and the same
    signature over another digest, or a changed signature, does not."""
    # A key straight from GmSSL: Sm2Suite.generate's own pairwise test would verify through
    # the very function being decided.
    xy, private_key = _gmssl.sm2_key_generate()
    signer = Sm2Signer(SoftwareSm2Key(bytes(private_key), bytes([_UNCOMPRESSED]) + bytes(xy)))
    digest = message_digest(signer.public_key, b"probe")
    signature = signer.sign(b"probe")
    other = bytes([digest[0] ^ 1]) + digest[1:]
    changed = signature[:-1] + bytes([signature[-1] ^ 1])
    return (candidate(signer.public_key, digest, signature)
            and not candidate(signer.public_key, other, signature)
            and not candidate(signer.public_key, digest, changed)
            and gmssl_verify_digest(signer.public_key, digest, signature))


_fast_verify: list[Verify | None] = []  # [OpenSSL's verify or None], decided on first use
_fast_lock = threading.Lock()


def openssl_verify() -> Verify | None:
    """OpenSSL's SM2 verify (about twice GmSSL's speed) if it is here and agrees with GmSSL."""
    if not _fast_verify:
        with _fast_lock:
            if not _fast_verify:
                _fast_verify.append(verifier(_agrees_with_gmssl))
    return _fast_verify[0]


def verify_digest(public_key: bytes, digest: bytes, signature: bytes) -> bool:
    """B5–B7 of GB/T 32918.2 §7.1 on ``e``: OpenSSL's where it is present, else GmSSL's."""
    fast = openssl_verify()
    if fast is not None:
        return fast(public_key, digest, signature)
    return gmssl_verify_digest(public_key, digest, signature)


@dataclass(frozen=True)
class Sm2Suite:
    """SM2 with SM3 and user id ``1234567812345678`` (suite ``sm2-sm3``), through GmSSL 3.2.0.

    Measured here (one core): sign about 260 µs, verify about 550 µs; see docs/gm-profile.md.
    Keys made by :meth:`generate` and :meth:`load` pass a sign-then-verify self-test first.
    """

    name: str = SUITE_NAME

    def generate(self) -> Sm2Signer:
        """Return a signer for a new key from GmSSL's generator (``/dev/urandom``)."""
        while True:
            xy, private_key = _gmssl.sm2_key_generate()
            try:
                _private_scalar(bytes(private_key))
            except ValueError:  # d = n-1 (probability ~2^-256): SM2 needs d <= n-2
                continue
            key = SoftwareSm2Key(bytes(private_key), bytes([_UNCOMPRESSED]) + bytes(xy))
            signer = Sm2Signer(key)
            _check_pairwise(signer)
            return signer

    def load(self, private_key: bytes) -> Sm2Signer:
        """Return a signer for a raw 32-byte private key; ValueError if it is not one.

        The public key is derived here as ``[d]G`` (about 2 ms in Python, once per load).
        """
        private_key = bytes(private_key)
        signer = Sm2Signer(SoftwareSm2Key(private_key, public_key_from_private(private_key)))
        _check_pairwise(signer)
        return signer

    def export(self, signer: Signer) -> bytes:
        """Return the raw 32-byte private key of a software signer (for encrypted custody).

        TypeError for anything else: a key in an HSM or signing server has no exportable form.
        """
        if not isinstance(signer, Sm2Signer) or not isinstance(signer.backend, SoftwareSm2Key):
            raise TypeError(
                f"expected an Sm2Signer over a SoftwareSm2Key, got {type(signer).__name__}"
            )
        return signer.backend.private_key

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> None:
        """Return None if the signature holds; raise :class:`BadSignatureError` otherwise.

        GB/T 32918.2 §7.1: B1, B2 and B5's ``t ≠ 0`` are checked on the DER form here, B3–B4
        (``e = SM3(Z ‖ M)``) here with the cached Z, and B5–B7 by :func:`verify_digest`.
        """
        public_key = bytes(public_key)
        try:
            z = _cached_z(public_key)  # checks the key once, then cached
        except ValueError as exc:
            raise BadSignatureError(f"sm2-sm3 public key rejected: {exc}") from exc
        try:
            decode_signature(signature)
        except ValueError as exc:
            raise BadSignatureError(f"sm2-sm3 signature is malformed: {exc}") from exc
        if not verify_digest(public_key, _sm3(z, message), signature):
            raise BadSignatureError("sm2-sm3 signature rejected")
