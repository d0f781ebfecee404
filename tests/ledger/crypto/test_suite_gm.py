"""The ``gm`` profile's suites: SM3 and SM2 known answers, OpenSSL interop, strictness, the seam.

Where the vectors come from:

* SM3: GB/T 32905-2016 Annex A, examples 1 ("abc") and 2 ("abcd" × 16).
* SM2, example curve: GB/T 32918.2-2016 Annex A.2 (the 2010 OSCCA text's signature example) on
  the 256-bit example curve of Annex A.1 (not the recommended curve), user id
  ``ALICE123@YAHOO.COM``, message ``message digest``, with the published private key, public
  key, Z_A, e, random k and (r, s). GmSSL implements only the recommended curve, so this one is
  checked with the suite's own Z and e and a ten-line reference of the §6.1/§7.1 steps over
  :class:`ledger.crypto.gm.Sm2Curve`.
* SM2, recommended curve: GB/T 32918.5-2017 Annex A (GM/T 0003.5-2012), the signature example
  with user id ``1234567812345678`` and message ``message digest``: the published signature is
  verified by the real suite (GmSSL), and re-derived from the published k by the reference.
* Interop: OpenSSL 3's ``pkeyutl -rawin -digest sm3 -pkeyopt distid:1234567812345678``, both
  directions (skipped, with the reason, where the ``openssl`` binary lacks SM2).
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.crypto.gm import (
    SM2_P256V1,
    USER_ID,
    Sm2Curve,
    Sm2Signer,
    Sm2Suite,
    Sm3,
    SoftwareSm2Key,
    _sm3,
    decode_signature,
    encode_signature,
    message_digest,
    public_key_from_private,
    z_value,
)
from ledger.crypto.suites import GM, INTL, profile_named
from ledger.errors import BadSignatureError, CheckpointError
from ledger.log.checkpoint import (
    Checkpoint,
    SignedNote,
    VerifierKey,
    sign_checkpoint,
    verify_note,
)

SUITE = Sm2Suite()
N = SM2_P256V1.n


def _hex(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


def _int(text: str) -> int:
    return int("".join(text.split()), 16)


def _point_bytes(x: int, y: int) -> bytes:
    return b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")


# --- SM3: GB/T 32905-2016 Annex A -----------------------------------------------------------------


def test_sm3_example_1_abc() -> None:
    assert Sm3().digest(b"abc") == _hex(
        "66c7f0f4 62eeedd9 d1f2d46b dc10e4e2 4167c487 5cf2f7a2 297da02b 8f4ba8e0")


def test_sm3_example_2_abcd_sixteen_times() -> None:
    message = b"abcd" * 16
    assert len(message) == 64
    assert Sm3().digest(message) == _hex(
        "debe9ff9 2275b8a1 38604889 c18e5a4d 6fdb70e5 387e5765 293dcba3 9c0c5732")


def test_gm_profile_is_registered() -> None:
    assert profile_named("gm") is GM
    assert GM.hash.name == "sm3"
    assert GM.signature.name == "sm2-sm3"
    assert GM.digest(b"abc") == Sm3().digest(b"abc")
    assert INTL.signature.name == "ed25519"  # untouched


# --- a reference of GB/T 32918.2 §6.1 / §7.1 (tests only: any curve, pure Python) ---------------


def _reference_sign(curve: Sm2Curve, d: int, k: int, e: bytes) -> tuple[int, int]:
    """§6.1 A3–A7 with a given k."""
    x1, _ = curve.multiply(k)
    r = (int.from_bytes(e, "big") + x1) % curve.n
    s = pow(1 + d, -1, curve.n) * (k - r * d) % curve.n
    return r, s


def _reference_verify(curve: Sm2Curve, public: tuple[int, int], e: bytes, r: int,
                      s: int) -> bool:
    """§7.1 B1–B7."""
    if not (0 < r < curve.n and 0 < s < curve.n):
        return False
    t = (r + s) % curve.n
    if t == 0:
        return False
    x1, _ = curve.add(curve.multiply(s), curve.multiply(t, public))
    return (int.from_bytes(e, "big") + x1) % curve.n == r


# --- SM2 on the example curve: GB/T 32918.2-2016 Annex A.2, ID ALICE123@YAHOO.COM -------------

EXAMPLE_CURVE = Sm2Curve(
    p=_int("8542D69E 4C044F18 E8B92435 BF6FF7DE 45728391 5C45517D 722EDB8B 08F1DFC3"),
    a=_int("787968B4 FA32C3FD 2417842E 73BBFEFF 2F3C848B 6831D7E0 EC65228B 3937E498"),
    b=_int("63E4C6D3 B23B0C84 9CF84241 484BFE48 F61D59A5 B16BA06E 6E12D1DA 27C5249A"),
    gx=_int("421DEBD6 1B62EAB6 746434EB C3CC315E 32220B3B ADD50BDC 4C4E6C14 7FEDD43D"),
    gy=_int("0680512B CBB42C07 D47349D2 153B70C4 E5D7FDFC BFA36EA1 A85841B9 E46E09A2"),
    n=_int("8542D69E 4C044F18 E8B92435 BF6FF7DD 29772063 0485628D 5AE74EE7 C32E79B7"),
)
ALICE_ID = b"ALICE123@YAHOO.COM"
ALICE_D = _int("128B2FA8 BD433C6C 068C8D80 3DFF7979 2A519A55 171B1B65 0C23661D 15897263")
ALICE_X = _int("0AE4C779 8AA0F119 471BEE11 825BE462 02BB79E2 A5844495 E97C04FF 4DF2548A")
ALICE_Y = _int("7C0240F8 8F1CD4E1 6352A73C 17B7F16F 07353E53 A176D684 A9FE0C6B B798E857")
ALICE_Z = _hex("F4A38489 E32B45B6 F876E3AC 2168CA39 2362DC8F 23459C1D 1146FC3D BFB7BC9A")
ALICE_E = _hex("B524F552 CD82B8B0 28476E00 5C377FB1 9A87E6FC 682D48BB 5D42E3D9 B9EFFE76")
ALICE_K = _int("6CB28D99 385C175C 94F94E93 4817663F C176D925 DD72B727 260DBAAE 1FB2F96F")
ALICE_R = _int("40F1EC59 F793D9F4 9E09DCEF 49130D41 94F79FB1 EED2CAA5 5BACDB49 C4E755D1")
ALICE_S = _int("6FC6DAC3 2C5D5CF1 0C77DFB2 0F7C2EB6 67A45787 2FB09EC5 6327A67E C7DEEBE7")
MESSAGE = b"message digest"


def test_example_curve_public_key_from_the_published_private_key() -> None:
    assert EXAMPLE_CURVE.contains(EXAMPLE_CURVE.gx, EXAMPLE_CURVE.gy)
    assert EXAMPLE_CURVE.multiply(ALICE_D) == (ALICE_X, ALICE_Y)


def test_example_curve_z_and_e_are_the_published_ones() -> None:
    public = _point_bytes(ALICE_X, ALICE_Y)
    z = z_value(public, ALICE_ID, EXAMPLE_CURVE)
    assert z == ALICE_Z
    assert Sm3().digest(z + MESSAGE) == ALICE_E


def test_example_curve_published_signature_verifies_and_reproduces() -> None:
    public = (ALICE_X, ALICE_Y)
    assert _reference_verify(EXAMPLE_CURVE, public, ALICE_E, ALICE_R, ALICE_S)
    assert _reference_sign(EXAMPLE_CURVE, ALICE_D, ALICE_K, ALICE_E) == (ALICE_R, ALICE_S)
    tampered = Sm3().digest(ALICE_Z + b"message digesT")
    assert not _reference_verify(EXAMPLE_CURVE, public, tampered, ALICE_R, ALICE_S)
    assert not _reference_verify(EXAMPLE_CURVE, public, ALICE_E, ALICE_R, ALICE_S ^ 1)


# --- SM2 on the recommended curve: GB/T 32918.5-2017 Annex A, ID 1234567812345678 ------------

STD_D = _hex("3945208F 7B2144B1 3F36E38A C6D39F95 88939369 2860B51A 42FB81EF 4DF7C5B8")
STD_PUBLIC = _hex("04"
                  "09F9DF31 1E5421A1 50DD7D16 1E4BC5C6 72179FAD 1833FC07 6BB08FF3 56F35020"
                  "CCEA490C E26775A5 2DC6EA71 8CC1AA60 0AED05FB F35E084A 6632F607 2DA9AD13")
STD_K = _int("59276E27 D506861A 16680F3A D9C02DCC EF3CC1FA 3CDBE4CE 6D54B80D EAC1BC21")
STD_R = _int("F5A03B06 48D2C463 0EEAC513 E1BB81A1 5944DA38 27D5B741 43AC7EAC EEE720B3")
STD_S = _int("B1B6AA29 DF212FD8 763182BC 0D421CA1 BB9038FD 1F7F42D4 840B69C4 85BBC1AA")
STD_DER = _hex("3046 022100 F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
               "     022100 B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA")


def test_recommended_curve_parameters_hold() -> None:
    assert SM2_P256V1.contains(SM2_P256V1.gx, SM2_P256V1.gy)
    assert SM2_P256V1.a == SM2_P256V1.p - 3
    with pytest.raises(ValueError, match="infinity"):
        SM2_P256V1.multiply(N)  # G has order n


def test_standard_private_key_gives_the_published_public_key() -> None:
    assert public_key_from_private(STD_D) == STD_PUBLIC
    assert SUITE.load(STD_D).public_key == STD_PUBLIC


def test_standard_signature_verifies_with_the_suite() -> None:
    assert encode_signature(STD_R, STD_S) == STD_DER
    assert decode_signature(STD_DER) == (STD_R, STD_S)
    SUITE.verify(STD_PUBLIC, MESSAGE, STD_DER)
    with pytest.raises(BadSignatureError):
        SUITE.verify(STD_PUBLIC, b"message digest.", STD_DER)


def test_standard_signature_reproduces_from_the_published_k() -> None:
    e = message_digest(STD_PUBLIC, MESSAGE)
    d = int.from_bytes(STD_D, "big")
    assert _reference_sign(SM2_P256V1, d, STD_K, e) == (STD_R, STD_S)


def test_the_user_id_is_part_of_the_signature() -> None:
    assert USER_ID == b"1234567812345678"
    other = Sm3().digest(z_value(STD_PUBLIC, ALICE_ID) + MESSAGE)
    point = (int.from_bytes(STD_PUBLIC[1:33], "big"), int.from_bytes(STD_PUBLIC[33:], "big"))
    assert not _reference_verify(SM2_P256V1, point, other, STD_R, STD_S)
    assert _reference_verify(SM2_P256V1, point, message_digest(STD_PUBLIC, MESSAGE), STD_R,
                             STD_S)


# --- sign, verify, keys -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def signer() -> Sm2Signer:
    return SUITE.generate()


def test_sign_then_verify(signer: Sm2Signer) -> None:
    assert signer.suite == "sm2-sm3"
    assert len(signer.public_key) == 65
    assert signer.public_key[0] == 4
    for message in (b"", b"x", b'{"v":1}' * 100):
        SUITE.verify(signer.public_key, message, signer.sign(message))


def test_tampered_message_is_rejected(signer: Sm2Signer) -> None:
    signature = signer.sign(b"contract 100 fen")
    with pytest.raises(BadSignatureError):
        SUITE.verify(signer.public_key, b"contract 900 fen", signature)


def test_tampered_signature_is_rejected(signer: Sm2Signer) -> None:
    message = b"review opinion"
    r, s = decode_signature(signer.sign(message))
    for bad in ((r ^ 1, s), (r, s ^ 1), (s, r)):
        with pytest.raises(BadSignatureError):
            SUITE.verify(signer.public_key, message, encode_signature(*bad))


def test_another_key_is_rejected(signer: Sm2Signer) -> None:
    signature = signer.sign(b"m")
    with pytest.raises(BadSignatureError):
        SUITE.verify(SUITE.generate().public_key, b"m", signature)


def _der(*elements: bytes, tag: int = 0x30) -> bytes:
    body = b"".join(elements)
    return bytes([tag, len(body)]) + body


def _integer(contents: bytes) -> bytes:
    return bytes([0x02, len(contents)]) + contents


@pytest.fixture(scope="module")
def good(signer: Sm2Signer) -> tuple[bytes, bytes]:
    """A message and its valid signature."""
    return b"malformed DER corpus", signer.sign(b"malformed DER corpus")


MALFORMED: dict[str, Callable[[bytes, int, int], bytes]] = {
    "empty": lambda sig, r, s: b"",
    "empty sequence": lambda sig, r, s: b"\x30\x00",
    "trailing byte": lambda sig, r, s: sig + b"\x00",
    "truncated": lambda sig, r, s: sig[:-1],
    "length too long": lambda sig, r, s: sig[:1] + bytes([sig[1] + 1]) + sig[2:],
    "set, not sequence": lambda sig, r, s: b"\x31" + sig[1:],
    "raw r||s": lambda sig, r, s: r.to_bytes(32, "big") + s.to_bytes(32, "big"),
    "leading zero on r": lambda sig, r, s: _der(
        _integer(b"\x00\x00" + r.to_bytes(32, "big")), _integer(s.to_bytes(33, "big"))),
    "negative r": lambda sig, r, s: _der(_integer(b"\x80" + r.to_bytes(32, "big")),
                                         _integer(s.to_bytes(33, "big"))),
    "third integer": lambda sig, r, s: _der(_integer(r.to_bytes(33, "big")),
                                            _integer(s.to_bytes(33, "big")), _integer(b"\x01")),
    "one integer": lambda sig, r, s: _der(_integer(r.to_bytes(33, "big"))),
    "octet string r": lambda sig, r, s: _der(b"\x04\x21" + r.to_bytes(33, "big"),
                                             _integer(s.to_bytes(33, "big"))),
    "empty integer": lambda sig, r, s: _der(b"\x02\x00", _integer(s.to_bytes(33, "big"))),
    "long-form length": lambda sig, r, s: b"\x30\x81" + sig[1:],
    "r = 0": lambda sig, r, s: _der(_integer(b"\x00"), _integer(s.to_bytes(33, "big"))),
    "r = n": lambda sig, r, s: _der(_integer(N.to_bytes(33, "big")),
                                    _integer(s.to_bytes(33, "big"))),
    "s = n + 1": lambda sig, r, s: _der(_integer(r.to_bytes(33, "big")),
                                        _integer((N + 1).to_bytes(33, "big"))),
    "r + s = n": lambda sig, r, s: encode_signature(r, N - r),
}


@pytest.mark.parametrize("defect", sorted(MALFORMED))
def test_malformed_der_is_rejected(signer: Sm2Signer, good: tuple[bytes, bytes],
                                   defect: str) -> None:
    message, signature = good
    r, s = decode_signature(signature)
    bad = MALFORMED[defect](signature, r, s)
    with pytest.raises(ValueError, match=r"."):
        decode_signature(bad)
    with pytest.raises(BadSignatureError):
        SUITE.verify(signer.public_key, message, bad)


def test_signatures_are_strict_der(signer: Sm2Signer) -> None:
    """GmSSL's output is minimal DER: re-encoding (r, s) gives back the same bytes."""
    for index in range(200):
        signature = signer.sign(index.to_bytes(4, "big"))
        assert encode_signature(*decode_signature(signature)) == signature


@pytest.mark.parametrize(
    ("what", "public_key"),
    [
        ("empty", b""),
        ("raw X||Y, 64 bytes", STD_PUBLIC[1:]),
        ("compressed, 33 bytes", b"\x02" + STD_PUBLIC[1:33]),
        ("66 bytes", STD_PUBLIC + b"\x00"),
        ("hybrid prefix 0x06", b"\x06" + STD_PUBLIC[1:]),
        ("off the curve", STD_PUBLIC[:-1] + bytes([STD_PUBLIC[-1] ^ 1])),
        ("x = p", _point_bytes(SM2_P256V1.p, 0)),
    ],
)
def test_bad_public_keys_are_rejected(what: str, public_key: bytes) -> None:
    with pytest.raises(BadSignatureError, match="public key"):
        SUITE.verify(public_key, MESSAGE, STD_DER)


@pytest.mark.parametrize(
    "private_key",
    [b"", bytes(31), STD_D + b"\x00", bytes(32), (N - 1).to_bytes(32, "big"),
     N.to_bytes(32, "big"), b"\xff" * 32],
    ids=["empty", "31 bytes", "33 bytes", "zero", "n-1", "n", "all ones"],
)
def test_bad_private_keys_are_refused(private_key: bytes) -> None:
    with pytest.raises(ValueError, match="private key"):
        SUITE.load(private_key)


def test_export_load_round_trip(signer: Sm2Signer) -> None:
    raw = SUITE.export(signer)
    assert len(raw) == 32
    loaded = SUITE.load(raw)
    assert loaded.public_key == signer.public_key
    SUITE.verify(signer.public_key, b"m", loaded.sign(b"m"))
    assert raw.hex() not in repr(signer)  # the private key stays out of repr


def test_generated_keys_match_their_private_keys() -> None:
    """GmSSL's generated public key is [d]G as derived independently here, key after key."""
    for _ in range(40):
        generated = SUITE.generate()
        assert public_key_from_private(SUITE.export(generated)) == generated.public_key


def test_export_refuses_keys_it_cannot_hold(signer: Sm2Signer) -> None:
    with pytest.raises(TypeError, match="SoftwareSm2Key"):
        SUITE.export(Sm2Signer(_RecordingBackend(signer)))
    with pytest.raises(TypeError, match="Sm2Signer"):
        SUITE.export(INTL.signature.generate())


# --- the signer seam: an HSM-shaped backend --------------------------------------------------


@dataclass
class _RecordingBackend:
    """Stands in for an HSM: signs digests only, answers raw r||s re-encoded as DER."""

    inner: Sm2Signer
    digests: list[bytes] = field(default_factory=list)

    @property
    def public_key(self) -> bytes:
        return self.inner.public_key

    def sign_digest(self, digest: bytes) -> bytes:
        self.digests.append(digest)
        assert isinstance(self.inner.backend, SoftwareSm2Key)
        raw = decode_signature(self.inner.backend.sign_digest(digest))
        return encode_signature(*raw)


def test_a_digest_backend_signs_through_the_seam(signer: Sm2Signer) -> None:
    backend = _RecordingBackend(signer)
    hsm = Sm2Signer(backend)
    message = b"filing bytes"
    signature = hsm.sign(message)
    SUITE.verify(signer.public_key, message, signature)
    assert backend.digests == [message_digest(signer.public_key, message)]  # never the message


def test_a_backend_returning_garbage_is_caught(signer: Sm2Signer) -> None:
    @dataclass
    class Broken:
        public_key: bytes

        def sign_digest(self, digest: bytes) -> bytes:
            return b"\x30\x00"

    with pytest.raises(BadSignatureError, match="malformed"):
        Sm2Signer(Broken(signer.public_key)).sign(b"m")


# --- checkpoints: C2SP signature type 0xff || "sm2-sm3/1234567812345678" -------------------------

LOG = "ledger.gaoxin.example/projects"
TYPE_ID = b"\xff" + b"sm2-sm3/1234567812345678"


def test_verifier_key_uses_the_0xff_tag(signer: Sm2Signer) -> None:
    key = VerifierKey.for_signer(LOG, signer)
    expected_id = hashlib.sha256(LOG.encode() + b"\n" + TYPE_ID + signer.public_key).digest()[:4]
    assert key.key_id == expected_id
    name, key_id, encoded = key.encode().split("+", 2)
    assert (name, key_id) == (LOG, expected_id.hex())
    assert base64.b64decode(encoded) == TYPE_ID + signer.public_key
    assert VerifierKey.parse(key.encode()) == key


def test_verifier_key_of_the_wrong_size_is_refused(signer: Sm2Signer) -> None:
    raw = signer.public_key[1:]
    key_id = hashlib.sha256(LOG.encode() + b"\n" + TYPE_ID + raw).digest()[:4]
    text = f"{LOG}+{key_id.hex()}+{base64.b64encode(TYPE_ID + raw).decode()}"
    with pytest.raises(CheckpointError, match="65"):
        VerifierKey.parse(text)


def test_checkpoint_signed_with_sm2_verifies_and_tamper_fails(signer: Sm2Signer) -> None:
    key = VerifierKey.for_signer(LOG, signer)
    note = sign_checkpoint(Checkpoint(LOG, 7, GM.digest(b"root")), LOG, signer)
    parsed = SignedNote.parse(note.text())
    assert verify_note(parsed, [key]) == (key,)
    forged = SignedNote(Checkpoint(LOG, 8, GM.digest(b"root")), parsed.signatures)
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_note(forged, [key])


def test_an_ed25519_only_verifier_skips_the_sm2_line(signer: Sm2Signer) -> None:
    witness = INTL.signature.generate()
    witness_key = VerifierKey.for_signer("witness.example/audit", witness)
    note = sign_checkpoint(Checkpoint(LOG, 3, bytes(32)), LOG, signer)
    cosigned = SignedNote.parse(note.add_signature("witness.example/audit", witness).text())
    assert verify_note(cosigned, [witness_key]) == (witness_key,)
    both = [VerifierKey.for_signer(LOG, signer), witness_key]
    assert verify_note(cosigned, both) == tuple(both)


# --- interop with OpenSSL 3 ----------------------------------------------------------------------

_SPKI_PREFIX = _hex("3059 3013 0607 2a8648ce3d0201 0608 2a811ccf5501822d 0342 00")
"""SubjectPublicKeyInfo {id-ecPublicKey, sm2 (1.2.156.10197.1.301)} up to the 65-byte point."""
_DISTID = "distid:1234567812345678"


@dataclass(frozen=True)
class OpenSsl:
    """The openssl binary, known to handle SM2."""

    binary: str
    workdir: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([self.binary, *args], cwd=self.workdir, capture_output=True,
                              check=False, timeout=30)


@pytest.fixture
def openssl(tmp_path: Path) -> OpenSsl:
    binary = shutil.which("openssl")
    if binary is None:
        pytest.skip("no openssl binary on PATH: OpenSSL interop not checked")
    tool = OpenSsl(binary, tmp_path)
    probe = tool.run("genpkey", "-algorithm", "SM2", "-out", "probe.pem")
    if probe.returncode != 0:
        pytest.skip(f"this openssl has no SM2 ({probe.stderr.decode(errors='replace').strip()})")
    return tool


def _write_public_pem(path: Path, public_key: bytes) -> None:
    der = base64.encodebytes(_SPKI_PREFIX + public_key).decode()
    path.write_text(f"-----BEGIN PUBLIC KEY-----\n{der}-----END PUBLIC KEY-----\n")


def _openssl_verifies(tool: OpenSsl, public_key: bytes, message: bytes,
                      signature: bytes) -> bool:
    _write_public_pem(tool.workdir / "ours.pem", public_key)
    (tool.workdir / "msg").write_bytes(message)
    (tool.workdir / "sig").write_bytes(signature)
    done = tool.run("pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pkeyopt", _DISTID,
                    "-pubin", "-inkey", "ours.pem", "-in", "msg", "-sigfile", "sig")
    return done.returncode == 0 and b"Signature Verified Successfully" in done.stdout


def test_openssl_verifies_our_signatures(openssl: OpenSsl, signer: Sm2Signer) -> None:
    for message in (b"", b"message digest", b'{"filing":{"v":1}}' * 50):
        signature = signer.sign(message)
        assert _openssl_verifies(openssl, signer.public_key, message, signature), message
    assert not _openssl_verifies(openssl, signer.public_key, b"tampered", signer.sign(b"x"))


def test_openssl_verifies_the_standard_signature(openssl: OpenSsl) -> None:
    assert _openssl_verifies(openssl, STD_PUBLIC, MESSAGE, STD_DER)


def test_we_verify_openssl_signatures(openssl: OpenSsl) -> None:
    assert openssl.run("genpkey", "-algorithm", "SM2", "-out", "key.pem").returncode == 0
    der = openssl.run("pkey", "-in", "key.pem", "-pubout", "-outform", "DER").stdout
    assert der.startswith(_SPKI_PREFIX)
    public_key = der[len(_SPKI_PREFIX):]
    for message in (b"", b"message digest", b"\x00\xff" * 300):
        (openssl.workdir / "msg").write_bytes(message)
        done = openssl.run("pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-pkeyopt", _DISTID,
                           "-inkey", "key.pem", "-in", "msg", "-out", "sig")
        assert done.returncode == 0, done.stderr
        signature = (openssl.workdir / "sig").read_bytes()
        SUITE.verify(public_key, message, signature)
        with pytest.raises(BadSignatureError):
            SUITE.verify(public_key, message + b"!", signature)


def test_openssl_private_key_loads_to_the_same_public_key(openssl: OpenSsl) -> None:
    """Our [d]G agrees with OpenSSL's for its key, and OpenSSL accepts what that key signs."""
    assert openssl.run("genpkey", "-algorithm", "SM2", "-out", "key.pem").returncode == 0
    text = openssl.run("pkey", "-in", "key.pem", "-text", "-noout").stdout.decode()
    found = re.search(r"priv:\s*((?:[0-9a-f]{2}:?\s*)+)pub:", text)
    assert found is not None, text
    private_key = int(re.sub(r"[^0-9a-f]", "", found.group(1)), 16).to_bytes(32, "big")
    der = openssl.run("pkey", "-in", "key.pem", "-pubout", "-outform", "DER").stdout
    loaded = SUITE.load(private_key)
    assert loaded.public_key == der[len(_SPKI_PREFIX):]
    assert _openssl_verifies(openssl, loaded.public_key, b"m", loaded.sign(b"m"))


def test_verifier_key_known_answer() -> None:
    """The worked example of docs/gm-profile.md: the GB/T 32918.5 public key as a log key."""
    key = VerifierKey.for_signer(LOG, SUITE.load(STD_D))
    assert key.encode() == (
        "ledger.gaoxin.example/projects+88bddd7f+/3NtMi1zbTMvMTIzNDU2NzgxMjM0NTY3OAQJ+d8xHlQhoVDd"
        "fRYeS8XGchefrRgz/AdrsI/zVvNQIMzqSQziZ3WlLcbqcYzBqmAK7QX7814ISmYy9gctqa0T")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=4))
def test_sm3_equals_openssls_sm3(parts: list[bytes]) -> None:
    # GmSSL computes the profile's SM3; OpenSSL's (through cryptography) is the reference.
    reference = hashes.Hash(hashes.SM3())
    reference.update(b"".join(parts))
    assert _sm3(*parts) == reference.finalize()

