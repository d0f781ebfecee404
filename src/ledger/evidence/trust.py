"""Trust files for ``ledger verify-bundle``: the keys an investigator pins, kept in one file.

A trust file is a small JSON object (docs/evidence-format.md, *Trust file*)::

    {"log_key": "NAME+KEYID+KEY",            required: the log's verifier key
     "root_key": "BASE64",                   optional: the registry root public key
     "witness_keys": ["NAME+KEYID+KEY", ...], optional: witness verifier keys
     "quorum": 2}                            optional: how many of them must have cosigned
                                             (default: all of them)

It is parsed as strictly as a bundle (UTF-8, no duplicate keys, no floats, no other members)
and validated by :class:`TrustFile`, a strict pydantic model; ``ledger verify-bundle`` reads
the file named by the environment variable ``LEDGER_TRUST``, and its command-line options
override the file's members one by one (:func:`merge_trust`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ledger.errors import LedgerError
from ledger.evidence.bundle import BundleFormatError, BundleTrustError, loads_strict
from ledger.log.checkpoint import VerifierKey

__all__ = ["TRUST_ENV", "TrustAnchors", "TrustFile", "TrustFileError", "load_trust_file",
           "merge_trust"]

TRUST_ENV: Final = "LEDGER_TRUST"
"""The environment variable naming the trust file ``ledger verify-bundle`` reads."""
_MAX_TRUST_FILE_BYTES: Final = 64 * 1024
_MAX_TRUST_FILE_DEPTH: Final = 4


class TrustFileError(BundleTrustError):
    """Raised when a trust file cannot be read or is not the documented format."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = str(path)
        super().__init__(f"trust file {path}: {problem}")


def _verifier_key(text: str) -> str:
    try:
        VerifierKey.parse(text)
    except LedgerError as exc:
        raise ValueError(f"not a verifier key NAME+KEYID+KEY: {exc}") from None
    return text


class TrustFile(BaseModel):
    """A trust file's contents: strict types, no other members, every key well formed."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    log_key: str = Field(description="The log's C2SP verifier key NAME+KEYID+KEY.")
    root_key: str | None = Field(default=None,
                                 description="The registry root public key, standard base64.")
    witness_keys: list[str] = Field(default_factory=list,
                                    description="Witness verifier keys NAME+KEYID+KEY.")
    quorum: int | None = Field(default=None, description="How many distinct witnesses must"
                               " have cosigned; default all of witness_keys.")

    @field_validator("log_key")
    @classmethod
    def _log_key_parses(cls, value: str) -> str:
        return _verifier_key(value)

    @field_validator("witness_keys")
    @classmethod
    def _witness_keys_parse(cls, value: list[str]) -> list[str]:
        for text in value:
            _verifier_key(text)
        return value

    @field_validator("root_key")
    @classmethod
    def _root_key_is_base64(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                base64.b64decode(value, validate=True)
            except binascii.Error:
                raise ValueError("not standard base64") from None
        return value

    @model_validator(mode="after")
    def _quorum_can_be_met(self) -> Self:
        distinct = len(set(self.witness_keys))
        if self.quorum is not None and not 1 <= self.quorum <= distinct:
            raise ValueError(f"quorum {self.quorum} cannot be met by {distinct} distinct"
                             f" witness key(s): it must be between 1 and {distinct}")
        return self


def load_trust_file(path: Path | str) -> TrustFile:
    """Read and validate a trust file; raise :class:`TrustFileError` saying what is wrong."""
    try:
        with Path(path).open("rb") as handle:
            data = handle.read(_MAX_TRUST_FILE_BYTES + 1)
    except OSError as exc:
        raise TrustFileError(path, f"cannot be read: {exc}") from None
    if len(data) > _MAX_TRUST_FILE_BYTES:
        raise TrustFileError(path, f"larger than {_MAX_TRUST_FILE_BYTES} bytes")
    try:
        value = loads_strict(data, max_depth=_MAX_TRUST_FILE_DEPTH, what="the trust file")
    except BundleFormatError as exc:
        raise TrustFileError(path, exc.what) from None
    try:
        return TrustFile.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc'])) or 'the file'}: {error['msg']}"
            for error in exc.errors())
        raise TrustFileError(path, problems) from None


@dataclass(frozen=True)
class TrustAnchors:
    """The keys a verification is run with, once the file and the options are merged."""

    log_key: str | None
    root_key: str | None
    witness_keys: tuple[str, ...]
    quorum: int | None
    source: str
    """Where the log key came from: ``--log-key``, the trust file's path, or ``embedded``."""


def merge_trust(trust_file: TrustFile | None, *, trust_file_name: str = "",
                log_key: str | None = None, root_key: str | None = None,
                witness_keys: Sequence[str] = (), quorum: int | None = None,
                trust_embedded_keys: bool = False) -> TrustAnchors:
    """Merge a trust file with command-line options: each option given replaces the file's.

    Witness keys given on the command line replace the file's list, and then the file's
    quorum no longer applies (the default is again all of them). ``trust_embedded_keys``
    ignores the file altogether and refuses a pinned ``log_key`` (raises
    :class:`BundleTrustError`).
    """
    if trust_embedded_keys:
        if log_key is not None:
            raise BundleTrustError("--log-key and --trust-embedded-keys exclude each other:"
                                   " pin the log key or trust the bundle's own, not both")
        return TrustAnchors(None, root_key, tuple(witness_keys), quorum, "embedded")
    file_witnesses: tuple[str, ...] = ()
    file_quorum = None
    if trust_file is not None:
        file_witnesses, file_quorum = tuple(trust_file.witness_keys), trust_file.quorum
        root_key = root_key if root_key is not None else trust_file.root_key
    if witness_keys:
        file_witnesses, file_quorum = tuple(witness_keys), None
    if log_key is not None:
        source = "--log-key"
    elif trust_file is not None:
        log_key, source = trust_file.log_key, trust_file_name or "trust file"
    else:
        source = ""
    return TrustAnchors(log_key, root_key, file_witnesses,
                        quorum if quorum is not None else file_quorum, source)
