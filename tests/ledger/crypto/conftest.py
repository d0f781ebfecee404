"""A real SoftHSM2 token for the PKCS#11 tests, made once per test process in a temporary folder.

SoftHSM2 reads ``SOFTHSM2_CONF`` and scans its token folder when the module is first loaded
into a process, so the token is made (``softhsm2-util --init-token --free``) before any test
loads it, and every test of the process shares it: each key is a new object with a random
``CKA_ID``, so tests never see each other's keys. Without SoftHSM2 the tests are skipped with
the reason; under CI (``CI=true``) that is a failure, as for PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledgertest import require

SOFTHSM_MODULE = os.environ.get("LEDGER_TEST_SOFTHSM_MODULE", "/usr/lib/softhsm/libsofthsm2.so")
TOKEN_LABEL = "ledger-test"
OTHER_LABEL = "ledger-other"
"""A second token, never logged in by the shared fixture (wrong PINs, another ledger's token)."""
USER_PIN = "246810"
SO_PIN = "13579111"


def softhsm_problem() -> str | None:
    """Why SoftHSM2 cannot be used here, or None."""
    if not Path(SOFTHSM_MODULE).is_file():
        return (f"SoftHSM2 is not installed: no PKCS#11 module at {SOFTHSM_MODULE}"
                " (apt install softhsm2)")
    if shutil.which("softhsm2-util") is None:
        return "SoftHSM2 is not installed: no softhsm2-util on PATH (apt install softhsm2)"
    return None


def require_softhsm() -> None:
    """Skip (or, under CI, fail) when SoftHSM2 is not there."""
    require(softhsm_problem(), "SoftHSM2")


def make_tokens(folder: Path, labels: tuple[str, ...] = (TOKEN_LABEL, OTHER_LABEL),
                pin: str = USER_PIN) -> dict[str, str]:
    """Initialise SoftHSM2 tokens in ``folder``; the environment that points the module at it."""
    tokens = folder / "tokens"
    tokens.mkdir(parents=True, exist_ok=True)
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n"
                    "log.level = ERROR\nslots.removable = false\n", encoding="utf-8")
    env = dict(os.environ, SOFTHSM2_CONF=str(conf))
    for label in labels:
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label, "--pin",
                        pin, "--so-pin", SO_PIN], env=env, check=True, capture_output=True,
                       timeout=60)
    return {"SOFTHSM2_CONF": str(conf)}


@pytest.fixture(scope="session")
def softhsm_uri() -> Iterator[str]:
    """``LEDGER_KEYS`` for the process's SoftHSM2 token (its PIN in a file, as in production)."""
    require_softhsm()
    folder = Path(tempfile.mkdtemp(prefix="ledger-softhsm-"))
    try:
        env = make_tokens(folder)
        os.environ.update(env)  # read by the module when it is loaded, in this process only
        pin = folder / "pin"
        pin.write_text(USER_PIN + "\n", encoding="utf-8")
        pin.chmod(0o600)
        yield (f"pkcs11:token={TOKEN_LABEL}?module-path={SOFTHSM_MODULE}"
               f"&pin-source=file:{pin}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
