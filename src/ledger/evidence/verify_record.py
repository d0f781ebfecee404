"""Kept ``ledger verify`` results, signed with the log key.

The log page shows the newest kept result (通过 / 未通过). It lives in ``ledger_meta``, a table
the database's operator can edit, so a result is kept with a signature by the log key (which
the operator does not hold: it is sealed under the master key, or in an HSM), and is shown as
a result only if that signature holds. An operator can still delete results, which the page's
age warning shows; what an operator can no longer do is write "passed" where no run passed.

The signed message is a context line and the record's RFC 8785 form::

    audit-ledger/verify-result/v1 LF JCS(record, with "origin" and "number")

A checkpoint note's second line is its tree size in decimal, and here the second line is a
JSON object, so no signed result can be taken for a checkpoint, nor a checkpoint for a result,
whatever the origin. ``origin`` binds the record to its ledger and ``number`` to its place in the
history (``verify.run.N``): a result copied to a newer number, or from another ledger, fails.

No I/O here: the service stores and reads the text; this module signs and checks it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from ledger.crypto.interface import Signer
from ledger.crypto.suites import Profile
from ledger.errors import BadSignatureError, StoredValueError
from ledger.log.canonical import JSONValue, canonical_bytes
from ledger.log.entries import b64decode, b64encode

CONTEXT = b"audit-ledger/verify-result/v1\n"
"""The first line of every signed result: a domain apart from checkpoint notes."""

_BOUND = ("origin", "number")
"""Fields the signature binds beside the result's own."""


class VerifyRecordSignatureError(StoredValueError):
    """A kept verify result whose log-key signature is missing or does not hold: written by
    someone other than the ledger (a database edited beneath it), so it proves nothing."""


def signed_message(result: Mapping[str, JSONValue], *, origin: str, number: int) -> bytes:
    """The bytes the log key signs for ``result`` kept as ``verify.run.<number>``."""
    body = {**result, "origin": origin, "number": number}
    body.pop("signature", None)
    return CONTEXT + canonical_bytes(body)


def sign_result(signer: Signer, result: Mapping[str, JSONValue], *, origin: str,
                number: int) -> str:
    """The text to keep as ``verify.run.<number>``: the result, the fields bound to it and
    the log key's signature (base64), as JSON."""
    signature = signer.sign(signed_message(result, origin=origin, number=number))
    return json.dumps({**result, "origin": origin, "number": number,
                       "signature": b64encode(signature)}, ensure_ascii=False, sort_keys=True)


def check_result(text: str | None, *, profile: Profile, log_public_key: bytes, origin: str,
                 number: int) -> dict[str, JSONValue]:
    """The kept result of ``verify.run.<number>``, its signature checked; the fields are then
    the result's as :func:`sign_result` was given them (their types are the caller's to check).

    Raises :class:`StoredValueError` for text that is not a JSON object, and
    :class:`VerifyRecordSignatureError` where the signature is missing, is not the log key's
    over these fields, or the record names another ledger or place in the history.
    """
    try:
        value = json.loads(text or "")
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's stack
        value = None
    if not isinstance(value, dict):
        raise StoredValueError(f"the kept verify result verify.run.{number} is not a JSON"
                               " object")
    where = f"the kept verify result verify.run.{number}"
    signature = value.pop("signature", None)
    if not isinstance(signature, str):
        raise VerifyRecordSignatureError(f"{where} carries no signature by the log key")
    if value.get("origin") != origin or value.get("number") != number:
        raise VerifyRecordSignatureError(
            f"{where} was signed for {value.get('origin')!r} as run {value.get('number')!r},"
            f" not for this ledger as run {number}: copied from elsewhere")
    try:
        message = signed_message(value, origin=origin, number=number)
        profile.signature.verify(log_public_key, message, b64decode(signature))
    except (ValueError, RecursionError, BadSignatureError) as exc:  # no JCS form, not base64
        raise VerifyRecordSignatureError(
            f"{where}'s signature is not the log key's over what it says") from exc
    for name in _BOUND:
        del value[name]
    return value


__all__ = ["CONTEXT", "VerifyRecordSignatureError", "check_result", "sign_result",
           "signed_message"]
