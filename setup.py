"""The compiled parts, both for ``ledger verify``: its recomputation of the stream heads map and
the Merkle tree (src/ledger/log/_replay.c, with OpenSSL's SHA-256) and its first check that an
entry's bytes are canonical (src/ledger/log/_canonical.c). Optional: without a compiler or
OpenSSL's headers the install goes on and the same work runs in Python (``ledger.log.native``
says which)."""

from setuptools import Extension, setup

setup(ext_modules=[
    Extension("ledger.log._replay", ["src/ledger/log/_replay.c"], libraries=["crypto"],
              optional=True),
    Extension("ledger.log._canonical", ["src/ledger/log/_canonical.c"], optional=True),
])
