"""OpenSSL's SM2 check (ledger.crypto.sm2_openssl) gives GmSSL's verdicts, where libcrypto 3 is."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.crypto.gm import gmssl_verify_digest, message_digest, openssl_verify
from ledger.crypto.suites import GM

_OPENSSL_SM2 = openssl_verify()
needs_openssl_sm2 = pytest.mark.skipif(
    _OPENSSL_SM2 is None, reason="no libcrypto 3 with SM2 here: the suite uses GmSSL alone")


@needs_openssl_sm2
@settings(max_examples=25, deadline=None)
@given(message=st.binary(max_size=200), flip=st.integers(0, 255))
def test_openssl_and_gmssl_give_the_same_verdicts(message: bytes, flip: int) -> None:
    assert _OPENSSL_SM2 is not None
    signer = GM.signature.generate()
    digest = message_digest(signer.public_key, message)
    signature = signer.sign(message)
    other = bytes([digest[0] ^ (flip or 1)]) + digest[1:]
    changed = signature[:-1] + bytes([signature[-1] ^ (flip or 1)])
    for case in ((digest, signature), (other, signature), (digest, changed)):
        assert _OPENSSL_SM2(signer.public_key, *case) == gmssl_verify_digest(
            signer.public_key, *case)
    assert _OPENSSL_SM2(signer.public_key, digest, signature)


@needs_openssl_sm2
def test_openssl_sm2_refuses_a_signature_by_another_key() -> None:
    assert _OPENSSL_SM2 is not None
    one, two = GM.signature.generate(), GM.signature.generate()
    digest = message_digest(one.public_key, b"m")
    assert not _OPENSSL_SM2(two.public_key, message_digest(two.public_key, b"m"),
                            one.sign(b"m"))
    assert _OPENSSL_SM2(one.public_key, digest, one.sign(b"m"))
