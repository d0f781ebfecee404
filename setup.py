"""The one compiled part: ``ledger verify``'s replay of the stream heads map in C
(src/ledger/log/_replay.c). Optional: without a compiler or OpenSSL's headers the install goes
on and the same loops run in Python (ledger.log.verify_heads.NATIVE_REPLAY says which)."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("ledger.log._replay", ["src/ledger/log/_replay.c"],
                             libraries=["crypto"], optional=True)])
