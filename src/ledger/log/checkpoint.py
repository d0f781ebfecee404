"""Signed checkpoints: C2SP signed notes in the ``tlog-checkpoint`` format (docs/design.md §5,
Checkpoint).

Two layers, each validated on construction:

* the generic signed note (https://c2sp.org/signed-note): :class:`Note` (any text ending in a
  newline, plus signature lines), :class:`NoteSignature`, :class:`VerifierKey`, and
  :func:`verify_signatures`;
* the log checkpoint (https://c2sp.org/tlog-checkpoint) carried in it: :class:`Checkpoint`
  (origin, tree size, root hash, optional extension lines), :class:`SignedNote`,
  :func:`sign_checkpoint` and :func:`verify_note`.

A note looks like this (the blank line separates the signed text from the signatures)::

    ORIGIN
    SIZE
    BASE64(ROOT)

    — NAME BASE64(KEYID4 || SIGNATURE)

Signature suites plug in through one table, :data:`_SIGNATURE_TYPES`, that maps a suite name
to its C2SP signature-type identifier; verification goes through a ``verify`` callable that
defaults to the suites of :data:`ledger.crypto.suites.PROFILES`. Every failure raises
:class:`~ledger.errors.CheckpointError` naming what is wrong.

Witness cosignatures (https://c2sp.org/tlog-cosignature) are signature lines too: an Ed25519
``cosignature/v1`` key has type 0x04 (suite name :data:`COSIGNATURE_V1`), its signature is an
8-byte big-endian timestamp followed by an Ed25519 signature over
``cosignature/v1\ntime T\n`` and the note body (:func:`cosignature_v1_message`). A verifier key
of that type is checked that way by :func:`verify_signatures`; :func:`cosign_v1` makes one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from ledger.crypto.interface import SignatureSuite
from ledger.crypto.suites import PROFILES, Signer
from ledger.errors import BadSignatureError, CheckpointError

__all__ = [
    "COSIGNATURE_V1",
    "Checkpoint",
    "Note",
    "NoteSignature",
    "SignedNote",
    "SignerKey",
    "VerifierKey",
    "VerifyFunction",
    "checkpoint_signer",
    "cosign_v1",
    "cosignature_timestamp",
    "cosignature_v1_message",
    "cosignature_verifier_key",
    "sign_checkpoint",
    "sign_note",
    "verify_note",
    "verify_signatures",
]

VerifyFunction = Callable[[str, bytes, bytes, bytes], None]
"""``verify(suite, public_key, message, signature)``: None, or raise BadSignatureError."""

# signed-note §Signature types: the identifier that starts the encoded verifier key and enters
# the key ID. A suite without an assigned byte uses 0xff followed by a longer,
# collision-resistant algorithm tag, which is why the values are byte strings. sm2-sm3 is
# 0xff || "sm2-sm3/1234567812345678" (SM2 over SM3 with that user id, DER signatures,
# 04||X||Y keys): see docs/gm-profile.md.
# cosignature/v1 is tlog-cosignature's Ed25519 cosigner key (type 0x04): its signatures are
# timestamped and sign a message that is not the note body alone (see cosignature_v1_message).
COSIGNATURE_V1: Final = "cosignature/v1"
_SIGNATURE_TYPES: Final[Mapping[str, bytes]] = {
    "ed25519": b"\x01",
    COSIGNATURE_V1: b"\x04",
    "sm2-sm3": b"\xffsm2-sm3/1234567812345678",
}

# Raw public-key sizes, checked when a verifier key is built; suites not listed are unchecked.
_PUBLIC_KEY_SIZES: Final[Mapping[str, int]] = {"ed25519": 32, COSIGNATURE_V1: 32,
                                               "sm2-sm3": 65}
# tlog-cosignature §Format: timestamped_signature = u64 timestamp (big-endian) || Ed25519 (64).
_TIMESTAMP_SIZE: Final = 8
_ED25519_SIGNATURE_SIZE: Final = 64
_MAX_TIMESTAMP: Final = 2**63 - 1  # "It MUST NOT exceed 2^63 - 1"

_SIGNATURE_PREFIX: Final = "\u2014 "  # signed-note §Format: em dash (U+2014), space
_KEY_ID_SIZE: Final = 4  # signed-note §Signatures: uint32 key ID, big-endian
_ROOT_SIZE: Final = 32  # tlog-checkpoint §Note text 3: an RFC 6962 (RFC 9162) root hash
_MAX_TREE_SIZE: Final = 2**64 - 1  # RFC 9162 tree sizes are uint64
# signed-note §Format: verifiers SHOULD cap the signature count and MUST accept at least 16;
# golang.org/x/mod/sumdb/note caps it at 100.
_MAX_SIGNATURES: Final = 100
_TREE_SIZE_PATTERN: Final = re.compile(r"0|[1-9][0-9]*")  # no leading zeros, ASCII digits
_KEY_ID_HEX_PATTERN: Final = re.compile(r"[0-9a-f]{8}")


# --- text checks -----------------------------------------------------------------------------


_CONTROL = re.compile("[\x00-\x09\x0b-\x1f]")  # control characters but newline
_SPACE_OR_PLUS = re.compile(r"[\s+]")  # \s on str: exactly what str.isspace() calls space


def _check_text(text: str, what: str) -> None:
    """Require valid UTF-8 with no control character but newline (signed-note §Format)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise CheckpointError(f"{what} is not valid UTF-8") from None
    if found := _CONTROL.search(text):
        raise CheckpointError(
            f"{what} contains control character U+{ord(found.group()):04X}:"
            " expected none but newline")


def _check_key_name(name: str) -> None:
    """Require a non-empty key name without Unicode spaces or '+' (signed-note §Format)."""
    if not name:
        raise CheckpointError("key name is empty: expected a non-empty name")
    _check_text(name, f"key name {name!r}")
    if _SPACE_OR_PLUS.search(name):
        raise CheckpointError(f"key name {name!r} contains a space or '+': expected neither")


def _b64encode(data: bytes) -> str:
    """Standard base64 with padding (RFC 4648 §4)."""
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: str, what: str) -> bytes:
    """Decode canonical standard base64 with padding, or raise CheckpointError.

    Canonical means re-encoding gives back ``text``: no whitespace, no missing padding, no
    non-zero trailing bits, so one value has exactly one accepted spelling.
    """
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise CheckpointError(f"{what} is not valid base64: got {text!r}") from None
    if _b64encode(data) != text:
        raise CheckpointError(f"{what} is not canonical base64: got {text!r}")
    return data


# --- keys ---------------------------------------------------------------------------------------


def _signature_type(suite: str) -> bytes:
    """Return the C2SP signature-type identifier of ``suite``, or raise CheckpointError."""
    try:
        return _SIGNATURE_TYPES[suite]
    except KeyError:
        known = ", ".join(sorted(_SIGNATURE_TYPES))
        raise CheckpointError(
            f"suite {suite!r} has no C2SP signature type: expected one of {known}"
        ) from None


def _key_id(name: str, suite: str, public_key: bytes) -> bytes:
    """signed-note §Signatures: SHA-256(name || 0x0A || type || public key)[:4].

    The key ID is an identifier fixed by C2SP, not a security hash, so it is SHA-256 in every
    profile (``gm`` included); the signature itself uses the profile's suite.
    """
    data = name.encode("utf-8") + b"\n" + _signature_type(suite) + public_key
    return hashlib.sha256(data).digest()[:_KEY_ID_SIZE]


@dataclass(frozen=True)
class VerifierKey:
    """A trusted public key under a key name, as C2SP publishes it: ``NAME+KEYIDHEX+BASE64``.

    Constructing one checks the name, the suite, the key size and that ``key_id`` is the key's
    own ID, so a key that exists is consistent.
    """

    name: str
    key_id: bytes
    suite: str
    public_key: bytes

    def __post_init__(self) -> None:
        """Validate the name, suite, key size and key ID; raise CheckpointError if wrong."""
        _check_key_name(self.name)
        expected_size = _PUBLIC_KEY_SIZES.get(self.suite)
        if expected_size is not None and len(self.public_key) != expected_size:
            raise CheckpointError(
                f"{self.suite} public key of {self.name!r} is {len(self.public_key)} bytes: "
                f"expected {expected_size}"
            )
        expected_id = _key_id(self.name, self.suite, self.public_key)
        if self.key_id != expected_id:
            raise CheckpointError(
                f"key ID of {self.name!r} does not match its key: expected "
                f"{expected_id.hex()}, got {self.key_id.hex()}"
            )

    @classmethod
    def for_signer(cls, name: str, signer: Signer) -> VerifierKey:
        """Return the verifier key of ``signer`` under key name ``name``."""
        public_key = signer.public_key
        return cls(name, _key_id(name, signer.suite, public_key), signer.suite, public_key)

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        """Parse ``NAME+KEYIDHEX+BASE64(TYPE || PUBLIC_KEY)``; raise CheckpointError if bad.

        The key ID must be 8 lowercase hex digits and must match the key it names.
        """
        parts = text.split("+", 2)  # the name holds no '+'; the base64 may
        if len(parts) != 3:
            raise CheckpointError(f"verifier key is not NAME+KEYID+KEY: got {text!r}")
        name, key_id_hex, key_b64 = parts
        if not _KEY_ID_HEX_PATTERN.fullmatch(key_id_hex):
            raise CheckpointError(
                f"verifier key ID is not 8 lowercase hex digits: got {key_id_hex!r}"
            )
        encoded = _b64decode(key_b64, "verifier key")
        # Longest matching type identifier wins, so 0xff-prefixed tags cannot shadow each other.
        matches = [
            (type_id, suite)
            for suite, type_id in _SIGNATURE_TYPES.items()
            if encoded.startswith(type_id)
        ]
        if not matches:
            raise CheckpointError(
                f"verifier key {name!r} has an unknown signature type: got "
                f"{'0x' + encoded[:1].hex() if encoded else 'an empty key'}"
            )
        type_id, suite = max(matches, key=lambda match: len(match[0]))
        return cls(name, bytes.fromhex(key_id_hex), suite, encoded[len(type_id) :])

    def encode(self) -> str:
        """Return the C2SP verifier key string ``NAME+KEYIDHEX+BASE64(TYPE || PUBLIC_KEY)``."""
        encoded = _b64encode(_signature_type(self.suite) + self.public_key)
        return f"{self.name}+{self.key_id.hex()}+{encoded}"


# --- the generic signed note ----------------------------------------------------------------


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, 4-byte key ID and the suite's raw signature bytes."""

    name: str
    key_id: bytes
    signature: bytes

    def __post_init__(self) -> None:
        """Validate the name and sizes; raise CheckpointError if wrong."""
        _check_key_name(self.name)
        if len(self.key_id) != _KEY_ID_SIZE:
            raise CheckpointError(
                f"key ID of signature by {self.name!r} is {len(self.key_id)} bytes: "
                f"expected {_KEY_ID_SIZE}"
            )
        if not self.signature:
            raise CheckpointError(f"signature by {self.name!r} is empty")

    def line(self) -> str:
        """Return the signature line ``— NAME BASE64(KEYID || SIGNATURE)``, newline included."""
        return f"{_SIGNATURE_PREFIX}{self.name} {_b64encode(self.key_id + self.signature)}\n"

    @classmethod
    def _parse_line(cls, line: str) -> NoteSignature:
        """Parse one signature line without its newline; raise CheckpointError if malformed."""
        if not line.startswith(_SIGNATURE_PREFIX):
            raise CheckpointError(
                f"signature line does not start with an em dash and a space: got {line!r}"
            )
        name, space, encoded = line[len(_SIGNATURE_PREFIX) :].partition(" ")
        if not space:
            raise CheckpointError(f"signature line is not '— NAME SIGNATURE': got {line!r}")
        raw = _b64decode(encoded, f"signature by {name!r}")
        if len(raw) <= _KEY_ID_SIZE:
            raise CheckpointError(
                f"signature by {name!r} is {len(raw)} bytes: expected a "
                f"{_KEY_ID_SIZE}-byte key ID and a signature"
            )
        return cls(name, raw[:_KEY_ID_SIZE], raw[_KEY_ID_SIZE:])


def _check_signatures(signatures: tuple[NoteSignature, ...]) -> None:
    """Require one to :data:`_MAX_SIGNATURES` signature lines (signed-note §Format)."""
    if not signatures:
        raise CheckpointError("note has no signature line: expected at least one")
    if len(signatures) > _MAX_SIGNATURES:
        raise CheckpointError(
            f"note has {len(signatures)} signature lines: expected at most {_MAX_SIGNATURES}"
        )


def _with_signature(
    signatures: tuple[NoteSignature, ...], message: bytes, name: str, signer: Signer
) -> tuple[NoteSignature, ...]:
    """Sign ``message``; replace the line of the same key name and ID, or append one."""
    key = VerifierKey.for_signer(name, signer)
    new = NoteSignature(name, key.key_id, signer.sign(message))
    kept: list[NoteSignature] = []
    placed = False
    for signature in signatures:
        if (signature.name, signature.key_id) != (name, key.key_id):
            kept.append(signature)
        elif not placed:  # the first line of this key becomes the new one; repeats drop
            kept.append(new)
            placed = True
    if not placed:
        kept.append(new)
    return tuple(kept)


@dataclass(frozen=True)
class Note:
    """A C2SP signed note of any text: ``body`` (ending in newline), a blank line, signatures.

    This is the envelope; a log checkpoint is a :class:`SignedNote`, whose body is a
    :class:`Checkpoint`. A note that exists is well-formed, not verified: see
    :func:`verify_signatures`.
    """

    body: str
    signatures: tuple[NoteSignature, ...]

    def __post_init__(self) -> None:
        """Validate the body and the signature count; raise CheckpointError if wrong."""
        _check_text(self.body, "note text")
        if not self.body.endswith("\n"):
            raise CheckpointError("note text does not end with a newline")
        _check_signatures(self.signatures)

    def text(self) -> str:
        """Return the whole note: the body, a blank line, then one line per signature."""
        return self.body + "\n" + "".join(sig.line() for sig in self.signatures)

    @classmethod
    def parse(cls, text: str) -> Note:
        """Parse a signed note (signed-note §Format); raise CheckpointError if malformed.

        The text is separated from the signatures by the note's last blank line.
        """
        _check_text(text, "note")
        split = text.rfind("\n\n")
        if split < 0:
            raise CheckpointError("note has no blank line before its signatures")
        body, block = text[: split + 1], text[split + 2 :]
        if not block.endswith("\n"):
            raise CheckpointError("note does not end with a signature line and a newline")
        lines = block[:-1].split("\n")
        if len(lines) > _MAX_SIGNATURES:
            raise CheckpointError(
                f"note has {len(lines)} signature lines: expected at most {_MAX_SIGNATURES}"
            )
        return cls(body, tuple(NoteSignature._parse_line(line) for line in lines))

    def add_signature(self, name: str, signer: Signer) -> Note:
        """Return this note signed also by ``signer`` under ``name`` (same key: replaced)."""
        message = self.body.encode("utf-8")
        return Note(self.body, _with_signature(self.signatures, message, name, signer))


def sign_note(body: str, name: str, signer: Signer) -> Note:
    """Return the note of ``body`` (ending in newline) signed by ``signer`` under ``name``."""
    key = VerifierKey.for_signer(name, signer)
    _check_text(body, "note text")
    return Note(body, (NoteSignature(name, key.key_id, signer.sign(body.encode("utf-8"))),))


def _default_verify(suite: str, public_key: bytes, message: bytes, signature: bytes) -> None:
    """Verify with the signature suite of that name among :data:`ledger.crypto.suites.PROFILES`."""
    for profile in PROFILES.values():
        if profile.signature.name == suite:
            profile.signature.verify(public_key, message, signature)
            return
    raise CheckpointError(f"no signature suite named {suite!r} in this build")


def verify_signatures(
    note: Note,
    verifiers: Sequence[VerifierKey],
    verify: VerifyFunction | None = None,
) -> tuple[VerifierKey, ...]:
    """Return the given verifiers that validly signed ``note``, in signature order.

    signed-note §Signatures, fail-closed:

    1. no verifiers given, or two different keys under one name and key ID: error;
    2. a signature whose (name, key ID) is not among ``verifiers`` is ignored;
    3. a signature from a given verifier that does not verify is tampering: error;
    4. no given verifier signed the note: error.

    ``verify(suite, public_key, message, signature)`` checks one signature, raising
    :class:`~ledger.errors.BadSignatureError`; it defaults to the suites of ``PROFILES``.
    Raises :class:`~ledger.errors.CheckpointError`.
    """
    check = _default_verify if verify is None else verify
    # Step 1.
    if not verifiers:
        raise CheckpointError("no trusted verifier keys given: expected at least one")
    trusted: dict[tuple[str, bytes], VerifierKey] = {}
    for given in verifiers:
        held = trusted.setdefault((given.name, given.key_id), given)
        if held != given:
            raise CheckpointError(
                f"ambiguous verifier keys {given.name}+{given.key_id.hex()}: two different keys"
            )
    message = note.body.encode("utf-8")
    verified: list[VerifierKey] = []
    for signature in note.signatures:
        key = trusted.get((signature.name, signature.key_id))
        # Step 2.
        if key is None:
            continue
        # Step 3.
        try:
            if key.suite == COSIGNATURE_V1:
                timestamp, raw = _split_timestamped(signature)
                check("ed25519", key.public_key, cosignature_v1_message(message, timestamp), raw)
            else:
                check(key.suite, key.public_key, message, signature.signature)
        except BadSignatureError:
            raise CheckpointError(
                f"signature by {key.name}+{key.key_id.hex()} does not verify"
            ) from None
        if key not in verified:
            verified.append(key)
    # Step 4.
    if not verified:
        names = ", ".join(f"{key.name}+{key.key_id.hex()}" for key in trusted.values())
        found = ", ".join(f"{sig.name}+{sig.key_id.hex()}" for sig in note.signatures)
        raise CheckpointError(
            f"note has no signature from a trusted key: expected one of {names}, got {found}"
        )
    return tuple(verified)


# --- witness cosignatures (tlog-cosignature) ---------------------------------------------------


def cosignature_v1_message(body: bytes, timestamp: int) -> bytes:
    """tlog-cosignature §Ed25519 signed message: ``cosignature/v1\\ntime T\\n`` + the note body.

    ``body`` is the whole note text (extension lines included, final newline included, no
    signature lines); ``T`` is ASCII decimal without leading zeros.
    """
    if not 0 <= timestamp <= _MAX_TIMESTAMP:
        raise CheckpointError(f"cosignature timestamp {timestamp} is outside 0..2^63-1")
    return b"cosignature/v1\ntime " + str(timestamp).encode("ascii") + b"\n" + body


def _split_timestamped(signature: NoteSignature) -> tuple[int, bytes]:
    """``timestamped_signature``: the big-endian u64 timestamp and the 64-byte Ed25519 part.

    A wrong size or a timestamp above 2^63-1 is a signature that does not verify
    (:class:`~ledger.errors.BadSignatureError`), as a bad Ed25519 signature is.
    """
    raw = signature.signature
    if len(raw) != _TIMESTAMP_SIZE + _ED25519_SIGNATURE_SIZE:
        raise BadSignatureError(
            f"cosignature/v1 by {signature.name!r} is {len(raw)} bytes: expected"
            f" {_TIMESTAMP_SIZE + _ED25519_SIGNATURE_SIZE}")
    timestamp = int.from_bytes(raw[:_TIMESTAMP_SIZE], "big")
    if timestamp > _MAX_TIMESTAMP:
        raise BadSignatureError(f"cosignature/v1 by {signature.name!r} has timestamp"
                                f" {timestamp} above 2^63-1")
    return timestamp, raw[_TIMESTAMP_SIZE:]


def cosignature_timestamp(signature: NoteSignature) -> int:
    """The POSIX time a ``cosignature/v1`` line states (not verified: see verify_signatures)."""
    try:
        return _split_timestamped(signature)[0]
    except BadSignatureError as exc:
        raise CheckpointError(str(exc)) from None


def cosignature_verifier_key(name: str, public_key: bytes) -> VerifierKey:
    """The ``cosignature/v1`` verifier key (type 0x04) of an Ed25519 public key under ``name``.

    Its key ID is SHA-256(name || 0x0A || 0x04 || public key)[:4] (tlog-cosignature §Format).
    """
    return VerifierKey(name, _key_id(name, COSIGNATURE_V1, public_key), COSIGNATURE_V1,
                       public_key)


def cosign_v1(body: bytes, name: str, signer: Signer, timestamp: int) -> NoteSignature:
    """An Ed25519 ``cosignature/v1`` line by ``signer`` under ``name`` on note text ``body``.

    ``signer`` must be an Ed25519 key (tlog-cosignature has no other classical type); the key
    must not also sign notes as type 0x01 elsewhere (the message does not name the cosigner).
    """
    if signer.suite != "ed25519":
        raise CheckpointError(f"a cosignature/v1 key is Ed25519: got {signer.suite}")
    key = cosignature_verifier_key(name, signer.public_key)
    Checkpoint.parse_body(body)  # a cosignature is over a checkpoint's note text
    message = cosignature_v1_message(body, timestamp)  # checks the range first
    stamp = timestamp.to_bytes(_TIMESTAMP_SIZE, "big")
    return NoteSignature(name, key.key_id, stamp + signer.sign(message))


# --- private key lines ---------------------------------------------------------------------


_PRIVATE_PREFIX: Final = "PRIVATE+KEY+"


def _signature_suite(suite: str) -> str:
    """The ``ledger.crypto`` suite that makes a key's signatures (``cosignature/v1`` keys are
    Ed25519 keys whose signatures are timestamped)."""
    return "ed25519" if suite == COSIGNATURE_V1 else suite


def _crypto_suite(suite: str) -> SignatureSuite:
    wanted = _signature_suite(suite)
    for profile in PROFILES.values():
        if profile.signature.name == wanted:
            return profile.signature
    raise CheckpointError(f"no signature suite named {wanted!r} in this build")


@dataclass(frozen=True)
class SignerKey:
    """A signing key under a key name, as its private key line holds it:
    ``PRIVATE+KEY+NAME+KEYIDHEX+BASE64(TYPE || PRIVATE KEY)`` (the signer-key form of
    ``golang.org/x/mod/sumdb/note``; TYPE as in :data:`_SIGNATURE_TYPES`).

    ``suite`` is the key's C2SP type: ``ed25519`` or ``sm2-sm3`` (a note signer) or
    ``cosignature/v1`` (a tlog-cosignature witness, Ed25519 with type 0x04). The one parser
    of private key lines for the ledger and its witness.
    """

    name: str
    suite: str
    signer: Signer

    def __post_init__(self) -> None:
        """Check that the signer belongs to the suite (and validate the name)."""
        if self.signer.suite != _signature_suite(self.suite):
            raise CheckpointError(f"a {self.suite} key signs with"
                                  f" {_signature_suite(self.suite)}: got {self.signer.suite}")
        self.verifier_key  # noqa: B018 - validates the name and the key's size

    @property
    def verifier_key(self) -> VerifierKey:
        """The public verifier key ``NAME+KEYIDHEX+BASE64(TYPE || PUBLIC KEY)``."""
        public = self.signer.public_key
        return VerifierKey(self.name, _key_id(self.name, self.suite, public), self.suite, public)

    def encode(self) -> str:
        """The private key line (keep it secret)."""
        private = _crypto_suite(self.suite).export(self.signer)
        encoded = _b64encode(_signature_type(self.suite) + private)
        return f"{_PRIVATE_PREFIX}{self.name}+{self.verifier_key.key_id.hex()}+{encoded}"

    @classmethod
    def parse(cls, text: str) -> SignerKey:
        """Parse a private key line (surrounding whitespace ignored); raise CheckpointError
        naming the defect. The key ID must be the key's own."""
        text = text.strip()
        if not text.startswith(_PRIVATE_PREFIX):
            raise CheckpointError("the private key does not start with PRIVATE+KEY+")
        parts = text[len(_PRIVATE_PREFIX):].split("+", 2)
        if len(parts) != 3:
            raise CheckpointError("the private key is not PRIVATE+KEY+NAME+KEYID+KEY")
        name, key_id_hex, encoded = parts
        raw = _b64decode(encoded, "the private key")
        matches = [(type_id, suite) for suite, type_id in _SIGNATURE_TYPES.items()
                   if raw.startswith(type_id)]
        if not matches:
            raise CheckpointError("the private key has an unknown signature type")
        type_id, suite = max(matches, key=lambda match: len(match[0]))
        try:
            signer = _crypto_suite(suite).load(raw[len(type_id):])
        except (ValueError, TypeError) as exc:
            raise CheckpointError(f"the {suite} private key cannot be loaded: {exc}") from None
        key = cls(name, suite, signer)
        if key.verifier_key.key_id.hex() != key_id_hex:
            raise CheckpointError("the private key's ID does not match its key")
        return key

    @classmethod
    def generate(cls, name: str, suite: str = COSIGNATURE_V1) -> SignerKey:
        """A new random key of ``suite`` (a witness's ``cosignature/v1`` unless told)."""
        return cls(name, suite, _crypto_suite(suite).generate())


# --- the log checkpoint -----------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head (tlog-checkpoint §Note text): origin, tree size, root hash.

    ``extensions`` holds the optional extension lines after the root, kept verbatim.
    Constructing one validates it, so :meth:`body` always yields a well-formed note text.
    """

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Validate every line; raise CheckpointError naming what is wrong."""
        # tlog-checkpoint §Note text 1: a non-empty origin, on one line.
        if not self.origin:
            raise CheckpointError("checkpoint origin is empty: expected a log identity")
        _check_text(self.origin, "checkpoint origin")
        if "\n" in self.origin:
            raise CheckpointError(f"checkpoint origin spans lines: got {self.origin!r}")
        # §Note text 2: a tree size; RFC 9162 sizes are uint64.
        if not 0 <= self.size <= _MAX_TREE_SIZE:
            raise CheckpointError(
                f"checkpoint size is out of range: expected 0..2^64-1, got {self.size}"
            )
        # §Note text 3: the root hash.
        if len(self.root) != _ROOT_SIZE:
            raise CheckpointError(
                f"checkpoint root is {len(self.root)} bytes: expected {_ROOT_SIZE}"
            )
        # §Note text 4: extension lines are non-empty.
        for line in self.extensions:
            _check_text(line, "checkpoint extension line")
            if not line or "\n" in line:
                raise CheckpointError(
                    f"checkpoint extension line is empty or spans lines: got {line!r}"
                )

    def body(self) -> bytes:
        """Return the note text that is signed: ``ORIGIN\\nSIZE\\nBASE64(ROOT)\\n`` + extensions.

        This is the one function that makes the checkpoint bytes that are signed.
        """
        lines = (self.origin, str(self.size), _b64encode(self.root), *self.extensions)
        return "".join(line + "\n" for line in lines).encode("utf-8")

    @classmethod
    def parse_body(cls, data: bytes) -> Checkpoint:
        """Parse a checkpoint note text strictly; raise CheckpointError naming the defect."""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise CheckpointError("checkpoint is not valid UTF-8") from None
        _check_text(text, "checkpoint")
        if not text.endswith("\n"):
            raise CheckpointError("checkpoint does not end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointError(
                f"checkpoint has {len(lines)} lines: expected origin, size and root"
            )
        if "" in lines:
            raise CheckpointError(
                f"checkpoint line {lines.index('') + 1} is empty: expected no empty line"
            )
        origin, size_text, root_text, *extensions = lines
        if not _TREE_SIZE_PATTERN.fullmatch(size_text):
            raise CheckpointError(
                f"checkpoint size is not a decimal without leading zeros: got {size_text!r}"
            )
        root = _b64decode(root_text, "checkpoint root")
        return cls(origin, int(size_text), root, tuple(extensions))


@dataclass(frozen=True)
class SignedNote:
    """A checkpoint with its signature lines: the log's own, then any witness cosignatures.

    A signed note that exists is well-formed, not verified: call :func:`verify_note`.
    """

    checkpoint: Checkpoint
    signatures: tuple[NoteSignature, ...]

    def __post_init__(self) -> None:
        """Validate the signature count; raise CheckpointError if wrong."""
        _check_signatures(self.signatures)

    def note(self) -> Note:
        """Return the generic signed note carrying this checkpoint."""
        return Note(self.checkpoint.body().decode("utf-8"), self.signatures)

    def text(self) -> str:
        """Return the full note text: checkpoint body, blank line, signature lines."""
        return self.note().text()

    @classmethod
    def parse(cls, text: str) -> SignedNote:
        """Parse a signed checkpoint note strictly; raise CheckpointError if malformed."""
        note = Note.parse(text)
        return cls(Checkpoint.parse_body(note.body.encode("utf-8")), note.signatures)

    def add_signature(self, name: str, signer: Signer) -> SignedNote:
        """Return this note cosigned by ``signer`` under ``name`` (same key: replaced)."""
        message = self.checkpoint.body()
        return SignedNote(self.checkpoint, _with_signature(self.signatures, message, name, signer))


def sign_checkpoint(checkpoint: Checkpoint, name: str, signer: Signer) -> SignedNote:
    """Return ``checkpoint`` signed by ``signer`` under key name ``name``."""
    return checkpoint_signer(name, signer)(checkpoint)


def checkpoint_signer(name: str, signer: Signer) -> Callable[[Checkpoint], SignedNote]:
    """:func:`sign_checkpoint` for one key, its id computed once (the log signs every
    append)."""
    key_id = VerifierKey.for_signer(name, signer).key_id

    def sign(checkpoint: Checkpoint) -> SignedNote:
        signature = NoteSignature(name, key_id, signer.sign(checkpoint.body()))
        return SignedNote(checkpoint, (signature,))

    return sign


def verify_note(
    note: SignedNote,
    verifiers: Sequence[VerifierKey],
    verify: VerifyFunction | None = None,
) -> tuple[VerifierKey, ...]:
    """Return the given verifiers whose signatures on ``note`` are present and valid.

    Unknown signatures are ignored; raises :class:`~ledger.errors.CheckpointError` if no
    verifiers are given, if none of them signed, or if one of them signed and the signature
    does not verify. See :func:`verify_signatures` for the steps.
    """
    return verify_signatures(note.note(), verifiers, verify)
