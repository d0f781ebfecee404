"""Witnessing checkpoints (docs/design.md §1, §5 Checkpoint): cosign only what extends the past.

A witness keeps a *state*: the last checkpoint it cosigned. Each run it fetches the log's current
checkpoint, checks the log's signature under the pinned log key, and proves with an RFC 9162
consistency proof that the new tree extends the one it cosigned before; only then does it add
its own signature line (a C2SP signed-note cosignature) and send it to the log. A checkpoint
smaller than the state (a rewind), of the same size with another root, or whose consistency
proof fails (a fork: history was rewritten) is refused with :class:`WitnessRefusedError` and
the state is left unchanged.

The server side of ``POST /log/checkpoint/cosign`` is :func:`accept_cosignatures`: the note must
be exactly a stored checkpoint, signed by the log, and carry at least one valid signature by a
registered witness key. The witness's private key file uses the ``golang.org/x/mod/sumdb/note``
signer-key form, ``PRIVATE+KEY+NAME+KEYIDHEX+BASE64(TYPE ‖ PRIVATE KEY)``.

This module does no I/O but the state file: the log is reached through a :class:`LogClient`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ledger.crypto.suites import PROFILES, Profile, Signer
from ledger.errors import CheckpointError, IntegrityFailedError, LedgerError
from ledger.log import merkle
from ledger.log.checkpoint import Note, NoteSignature, SignedNote, VerifierKey, verify_note
from ledger.log.entries import b64decode, b64encode

__all__ = [
    "LogClient",
    "WitnessKey",
    "WitnessRefusedError",
    "WitnessRun",
    "WitnessState",
    "WitnessStateError",
    "accept_cosignatures",
    "cosigned_note",
    "generate_witness_key",
    "public_verifier_key",
    "witness_once",
]

_STATE_VERSION = 1
_PRIVATE_PREFIX = "PRIVATE+KEY+"


class WitnessRefusedError(IntegrityFailedError):
    """Raised when the log's checkpoint does not extend the last one the witness cosigned.

    ``kind`` is ``rewind`` (smaller tree), ``fork`` (same size, other root; or a failed
    consistency proof), ``origin`` (another log), ``log-key`` (another log key) or
    ``signature`` (the checkpoint is not validly signed by the log).
    """

    def __init__(self, kind: str, what: str) -> None:
        self.kind = kind
        super().__init__(f"witness refuses to cosign ({kind}): {what}")


class WitnessStateError(LedgerError):
    """Raised when the witness state file or key file cannot be read or is malformed."""


# --- keys ------------------------------------------------------------------------------------


def _profile_for_suite(suite: str) -> Profile:
    for profile in PROFILES.values():
        if profile.signature.name == suite:
            return profile
    raise CheckpointError(f"no profile signs with suite {suite!r}")


@dataclass(frozen=True)
class _PublicOnly:
    """A public key in the shape of a :class:`Signer`, to derive its C2SP key id; never signs."""

    suite: str
    public_key: bytes

    def sign(self, message: bytes) -> bytes:
        raise TypeError("a public key cannot sign")


def public_verifier_key(name: str, suite: str, public_key: bytes) -> VerifierKey:
    """The C2SP verifier key of a raw public key under a key name."""
    return VerifierKey.for_signer(name, _PublicOnly(suite, public_key))


def _type_prefix(name: str, signer: Signer) -> bytes:
    """The C2SP signature-type bytes of a signer's suite (read off its verifier key)."""
    encoded = b64decode(VerifierKey.for_signer(name, signer).encode().split("+", 2)[2])
    return encoded[: len(encoded) - len(signer.public_key)]


@dataclass(frozen=True)
class WitnessKey:
    """A witness's signing key and its key name (the name on its cosignature lines)."""

    name: str
    signer: Signer

    @property
    def verifier_key(self) -> VerifierKey:
        """The public verifier key to register with the log and give to bundle verifiers."""
        return VerifierKey.for_signer(self.name, self.signer)

    def encode(self) -> str:
        """``PRIVATE+KEY+NAME+KEYIDHEX+BASE64(TYPE ‖ PRIVATE KEY)`` (keep it secret)."""
        profile = _profile_for_suite(self.signer.suite)
        private = profile.signature.export(self.signer)
        key = self.verifier_key
        prefix = _type_prefix(self.name, self.signer)
        return f"{_PRIVATE_PREFIX}{self.name}+{key.key_id.hex()}+{b64encode(prefix + private)}"

    @classmethod
    def parse(cls, text: str) -> WitnessKey:
        """Parse a private key file's text; raise :class:`WitnessStateError` if malformed."""
        text = text.strip()
        if not text.startswith(_PRIVATE_PREFIX):
            raise WitnessStateError("the witness key file does not start with PRIVATE+KEY+")
        parts = text[len(_PRIVATE_PREFIX):].split("+", 2)
        if len(parts) != 3:
            raise WitnessStateError("the witness key is not PRIVATE+KEY+NAME+KEYID+KEY")
        name, key_id_hex, encoded = parts
        try:
            raw = b64decode(encoded)
        except ValueError:
            raise WitnessStateError("the witness key is not base64") from None
        for profile in PROFILES.values():
            suite = profile.signature
            probe = suite.generate()
            prefix = _type_prefix(name, probe)
            if raw.startswith(prefix) and len(raw) > len(prefix):
                try:
                    signer = suite.load(raw[len(prefix):])
                except (ValueError, TypeError, LedgerError) as exc:
                    raise WitnessStateError(f"the witness key cannot be loaded: {exc}") from None
                key = cls(name, signer)
                if key.verifier_key.key_id.hex() != key_id_hex:
                    raise WitnessStateError("the witness key's id does not match its key")
                return key
        raise WitnessStateError("the witness key has an unknown signature type")


def generate_witness_key(name: str, suite: str = "ed25519") -> WitnessKey:
    """A new witness key (Ed25519 unless told) under key ``name``."""
    key = WitnessKey(name, _profile_for_suite(suite).signature.generate())
    key.verifier_key  # noqa: B018 - validates the name now
    return key


# --- the state ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class WitnessState:
    """The last checkpoint this witness cosigned, and the log it belongs to."""

    origin: str
    log_key: str
    size: int
    root: bytes
    checkpoint: str

    def to_json(self) -> dict[str, Any]:
        """Plain JSON for the state file."""
        return {"version": _STATE_VERSION, "origin": self.origin, "log_key": self.log_key,
                "size": self.size, "root": b64encode(self.root), "checkpoint": self.checkpoint}

    @classmethod
    def load(cls, path: Path) -> WitnessState | None:
        """Read the state file; None if it does not exist (the first run)."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise WitnessStateError(f"cannot read the witness state {path}: {exc}") from None
        try:
            data = json.loads(text)
            if data.get("version") != _STATE_VERSION:
                raise ValueError(f"unsupported state version {data.get('version')!r}")
            state = cls(str(data["origin"]), str(data["log_key"]), int(data["size"]),
                        b64decode(str(data["root"])), str(data["checkpoint"]))
            VerifierKey.parse(state.log_key)
            note = SignedNote.parse(state.checkpoint)
        except (ValueError, KeyError, TypeError, AttributeError, LedgerError) as exc:
            raise WitnessStateError(f"the witness state {path} is malformed: {exc}") from None
        if (note.checkpoint.size, note.checkpoint.root) != (state.size, state.root):
            raise WitnessStateError(f"the witness state {path} disagrees with its checkpoint")
        return state

    def save(self, path: Path) -> None:
        """Write the state file atomically (write a temporary file, then rename it)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".witness-", dir=path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(self.to_json(), out, ensure_ascii=False, indent=2)
                out.write("\n")
                out.flush()
                os.fsync(out.fileno())
            Path(temporary).replace(path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


# --- the witness -------------------------------------------------------------------------------


class LogClient(Protocol):
    """How the witness reaches a log (HTTP in the CLI; a test client in tests)."""

    def checkpoint(self) -> str:
        """``GET /log/checkpoint``: the latest checkpoint note text."""
        ...

    def consistency(self, first: int, second: int) -> list[bytes]:
        """``GET /log/proof/consistency``: the RFC 9162 proof between two tree sizes."""
        ...

    def cosign(self, note: str) -> str:
        """``POST /log/checkpoint/cosign``: send the cosigned note; return the stored note."""
        ...


@dataclass(frozen=True)
class WitnessRun:
    """What one witness run did."""

    previous_size: int | None
    size: int
    root: bytes
    note: str
    state: WitnessState

    def describe(self) -> str:
        """One line for people."""
        since = ("first checkpoint (trusted on first use)" if self.previous_size is None
                 else f"consistent with size {self.previous_size}")
        return f"cosigned checkpoint size {self.size} root {b64encode(self.root)}: {since}"


def witness_once(client: LogClient, key: WitnessKey, state: WitnessState | None, *,
                 log_key: str | None = None) -> WitnessRun:
    """Fetch, verify and cosign the log's current checkpoint; return the run and new state.

    1. the checkpoint verifies under the log key (pinned in ``state``, or ``log_key`` on the
       first run; a different ``log_key`` than the state's is refused);
    2. its origin is the state's;
    3. its size is not smaller than the state's (no rewind); at the same size the root is the
       same; at a larger size the RFC 9162 §2.1.4.2 consistency proof from the state's tree
       verifies (no fork);
    4. then the witness signs the checkpoint body and sends the cosigned note.

    Raises :class:`WitnessRefusedError` (nothing is signed or sent) for any failure of 1–3.
    """
    if state is not None and log_key is not None and log_key != state.log_key:
        raise WitnessRefusedError("log-key", f"the state pins log key {state.log_key}, but"
                                  f" {log_key} was given")
    pinned_text = state.log_key if state is not None else log_key
    if pinned_text is None:
        raise WitnessStateError("the first run needs the log's verifier key (--log-key)")
    pinned = VerifierKey.parse(pinned_text)
    text = client.checkpoint()
    # Step 1: the log's signature (C2SP signed-note) under the pinned key.
    try:
        note = SignedNote.parse(text)
        verify_note(note, [pinned])
    except CheckpointError as exc:
        raise WitnessRefusedError("signature", exc.what) from None
    checkpoint = note.checkpoint
    # Step 2: the same log.
    if state is not None and checkpoint.origin != state.origin:
        raise WitnessRefusedError("origin", f"the checkpoint is for {checkpoint.origin!r}, the"
                                  f" witness follows {state.origin!r}")
    # Step 3: no rewind, no fork (RFC 9162 §2.1.4.2).
    previous = None if state is None else state.size
    if state is not None:
        if checkpoint.size < state.size:
            raise WitnessRefusedError(
                "rewind", f"the log now shows {checkpoint.size} leaves, but this witness"
                f" already cosigned {state.size}: the log was rolled back or forked")
        if checkpoint.size == state.size and checkpoint.root != state.root:
            raise WitnessRefusedError(
                "fork", f"the log shows another root for size {state.size}"
                f" ({b64encode(checkpoint.root)}, cosigned {b64encode(state.root)}):"
                " its history was rewritten")
        if checkpoint.size > state.size:
            proof = client.consistency(state.size, checkpoint.size)
            hash_suite = _profile_for_suite(pinned.suite).hash
            try:
                merkle.verify_consistency(hash_suite, state.size, checkpoint.size, state.root,
                                          checkpoint.root, proof)
            except IntegrityFailedError as exc:
                raise WitnessRefusedError(
                    "fork", f"size {checkpoint.size} does not extend the cosigned size"
                    f" {state.size} ({exc.what}): the log's history was rewritten") from None
    # Step 4: cosign and send.
    cosigned = note.add_signature(key.name, key.signer)
    stored = client.cosign(cosigned.text())
    new_state = WitnessState(checkpoint.origin, pinned.encode(), checkpoint.size,
                             checkpoint.root, cosigned.text())
    return WitnessRun(previous, checkpoint.size, checkpoint.root, stored, new_state)


# --- the log's side ------------------------------------------------------------------------------


def accept_cosignatures(text: str, *, origin: str, size: int, root: bytes,
                        log_key: VerifierKey,
                        witness_keys: Sequence[VerifierKey]) -> list[NoteSignature]:
    """Return the valid witness signature lines of a cosigned checkpoint note.

    1. the note parses (C2SP signed-note, tlog-checkpoint) and is the stored checkpoint
       ``(origin, size, root)``;
    2. it carries the log's own valid signature;
    3. at least one signature line verifies under one of ``witness_keys``; a line claiming a
       witness key that does not verify is an error (signed-note §Signatures).

    Raises :class:`~ledger.errors.CheckpointError` naming what is wrong.
    """
    note = SignedNote.parse(text)
    body = note.checkpoint
    if (body.origin, body.size, body.root) != (origin, size, root):
        raise CheckpointError(f"the note is not this log's checkpoint of size {body.size}")
    verify_note(note, [log_key])
    if not witness_keys:
        raise CheckpointError("no witness key is registered for this actor")
    trusted = {(k.name, k.key_id): k for k in witness_keys}
    accepted: list[NoteSignature] = []
    for signature in note.signatures:
        key = trusted.get((signature.name, signature.key_id))
        if key is None:
            continue
        verify_note(SignedNote(body, (signature,)), [key])
        accepted.append(signature)
    if not accepted:
        raise CheckpointError("the note carries no signature by a registered witness key")
    return accepted


def cosigned_note(note: str, lines: Sequence[str]) -> str:
    """The stored checkpoint note with stored cosignature lines appended (each once)."""
    parsed = Note.parse(note)
    present = {signature.line() for signature in parsed.signatures}
    extra = "".join(line for line in lines if line not in present)
    result = note + extra
    SignedNote.parse(result)  # still a well-formed note
    return result
