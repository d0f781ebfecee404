"""The witness's own Ed25519 key: a file only its owner may read, never the log's.

The file holds one line, ``PRIVATE+KEY+NAME+KEYIDHEX+BASE64(0x04 ‖ SEED)``: the signer-key form of
``golang.org/x/mod/sumdb/note`` with tlog-cosignature's type byte 0x04 and the cosigner key ID
``SHA-256(NAME ‖ 0x0A ‖ 0x04 ‖ PUBLIC KEY)[:4]``, so the file says what it is. The public half,
``NAME+KEYIDHEX+BASE64(0x04 ‖ PUBLIC KEY)``, is the witness's vkey: log operators and bundle
verifiers pin it (``verify-bundle --witness-key``).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ledger.crypto.suites import INTL, Signer
from ledger.errors import CheckpointError
from ledger.log.checkpoint import (
    COSIGNATURE_V1,
    NoteSignature,
    SignerKey,
    VerifierKey,
    cosign_v1,
    cosignature_verifier_key,
)
from witness.errors import WitnessSetupError


@dataclass(frozen=True)
class CosignerKey:
    """The witness's name (on its cosignature lines) and its Ed25519 signing key."""

    name: str
    signer: Signer

    @property
    def verifier_key(self) -> VerifierKey:
        """The ``cosignature/v1`` vkey (type 0x04) that verifiers pin."""
        return cosignature_verifier_key(self.name, self.signer.public_key)

    def cosign(self, body: bytes, timestamp: int) -> NoteSignature:
        """The ``cosignature/v1`` line on checkpoint note text ``body`` at POSIX ``timestamp``."""
        return cosign_v1(body, self.name, self.signer, timestamp)

    def encode(self) -> str:
        """The private key line (keep it secret)."""
        return SignerKey(self.name, COSIGNATURE_V1, self.signer).encode()

    @classmethod
    def parse(cls, text: str) -> CosignerKey:
        """Parse a private key line; raise :class:`WitnessSetupError` naming the defect (one
        parser for every key line: :class:`ledger.log.checkpoint.SignerKey`)."""
        try:
            key = SignerKey.parse(text)
        except CheckpointError as exc:
            raise WitnessSetupError(f"the witness key is malformed: {exc.what}") from None
        if key.suite != COSIGNATURE_V1:
            raise WitnessSetupError("the witness key is not an Ed25519 cosignature/v1 key"
                                    f" (type 0x04): got a {key.suite} key")
        return cls(key.name, key.signer)


def generate_cosigner_key(name: str) -> CosignerKey:
    """A new random key under ``name`` (a schema-less URL the Audit Branch controls)."""
    key = CosignerKey(name, INTL.signature.generate())
    try:
        key.verifier_key  # noqa: B018 - validates the name now
    except CheckpointError as exc:
        raise WitnessSetupError(f"bad witness name {name!r}: {exc}") from None
    return key


def write_key_file(path: Path, key: CosignerKey) -> None:
    """Create ``path`` with mode 0600 holding ``key``; an existing file is never overwritten."""
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise WitnessSetupError(f"{path} exists: a witness key is never overwritten") from None
    except OSError as exc:
        raise WitnessSetupError(f"cannot create {path}: {exc}") from None
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(key.encode() + "\n")
        out.flush()
        os.fsync(out.fileno())


def check_private_mode(path: Path, what: str) -> None:
    """Refuse a file that its group or others may read or write (it must be 0600 or stricter)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise WitnessSetupError(f"{what} {path} does not exist: run `ledger witness init`"
                                " (or restore it; never start a witness without it)") from None
    except OSError as exc:
        raise WitnessSetupError(f"cannot read {what} {path}: {exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise WitnessSetupError(f"{what} {path} has mode {stat.S_IMODE(mode):04o}: its group"
                                " and others must have no access (chmod 600)")


def read_key_file(path: Path) -> CosignerKey:
    """Load the key file, refusing one that is missing or readable by others."""
    check_private_mode(path, "the witness key file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WitnessSetupError(f"cannot read the witness key file {path}: {exc}") from None
    return CosignerKey.parse(text)


__all__ = ["CosignerKey", "check_private_mode", "generate_cosigner_key", "read_key_file",
           "write_key_file"]
