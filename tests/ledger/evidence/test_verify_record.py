"""Kept verify results signed with the log key (``ledger.evidence.verify_record``): what is
signed comes back as it was, under both profiles, and no edit of it, of its ledger or of its
number, nor another key's signature, is taken for the log key's."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.crypto.suites import GM, INTL, Profile
from ledger.errors import CheckpointError, StoredValueError
from ledger.evidence.verify_record import (
    CONTEXT,
    VerifyRecordSignatureError,
    check_result,
    sign_result,
    signed_message,
)
from ledger.log.checkpoint import Checkpoint

ORIGIN = "ledger.example.gov.cn/zone"

_results = st.fixed_dictionaries({
    "ok": st.booleans(),
    "entries": st.integers(0, 2**53 - 1),
    "failures": st.integers(0, 10**6),
    "first_failure": st.none() | st.text(max_size=40),
    "finished_at": st.just("2026-12-07T12:00:00.000000Z"),
    "by": st.text(min_size=1, max_size=20),
})


def _check(profile: Profile, public_key: bytes, text: str | None,
           number: int = 3, origin: str = ORIGIN) -> dict[str, Any]:
    return check_result(text, profile=profile, log_public_key=public_key, origin=origin,
                        number=number)


@pytest.mark.parametrize("profile", [INTL, GM], ids=["intl", "gm"])
def test_a_signed_result_reads_back_as_it_was(profile: Profile) -> None:
    key = profile.signature.generate()
    result = {"ok": True, "entries": 12, "first_failure": None, "by": "审计分局 孙"}
    text = sign_result(key, result, origin=ORIGIN, number=3)
    assert _check(profile, key.public_key, text) == result


@settings(max_examples=40, deadline=None)
@given(result=_results, field=st.sampled_from(["ok", "entries", "failures", "first_failure",
                                               "by", "origin", "number", "extra"]))
def test_no_edit_of_a_signed_result_is_taken_for_the_log_keys(result: dict[str, Any],
                                                              field: str) -> None:
    key = INTL.signature.generate()
    kept = json.loads(sign_result(key, result, origin=ORIGIN, number=3))
    assert _check(INTL, key.public_key, json.dumps(kept)) == result
    edited = {**kept}
    match field:
        case "ok":
            edited["ok"] = not kept["ok"]
        case "entries" | "failures" | "number":
            edited[field] = kept[field] + 1
        case "first_failure":
            edited[field] = None if kept[field] else "leaf 5: edited"
        case "by" | "origin":
            edited[field] = kept[field] + "x"
        case _:
            edited["extra"] = 1
    with pytest.raises(VerifyRecordSignatureError):
        _check(INTL, key.public_key, json.dumps(edited))


def test_the_number_and_ledger_are_bound() -> None:
    """A result signed as run 3 of this ledger is not run 4, nor a run of another ledger."""
    key = INTL.signature.generate()
    text = sign_result(key, {"ok": True}, origin=ORIGIN, number=3)
    with pytest.raises(VerifyRecordSignatureError, match="copied from elsewhere"):
        _check(INTL, key.public_key, text, number=4)
    with pytest.raises(VerifyRecordSignatureError, match="copied from elsewhere"):
        _check(INTL, key.public_key, text, origin="another.example/ledger")


def test_another_key_or_no_signature_is_refused() -> None:
    key, other = INTL.signature.generate(), INTL.signature.generate()
    text = sign_result(other, {"ok": True}, origin=ORIGIN, number=3)
    with pytest.raises(VerifyRecordSignatureError, match="not the log key's"):
        _check(INTL, key.public_key, text)
    unsigned = json.loads(text)
    del unsigned["signature"]
    with pytest.raises(VerifyRecordSignatureError, match="no signature"):
        _check(INTL, key.public_key, json.dumps(unsigned))
    for bad in ("!!", "", "AAAA"):
        with pytest.raises(VerifyRecordSignatureError):
            _check(INTL, key.public_key, json.dumps({**unsigned, "signature": bad}))


@pytest.mark.parametrize("text", [None, "", "[]", '"passed"', "{", "1", "[" * 100_000,
                                  "[" * 100_000 + "]" * 100_000])
def test_text_that_is_no_record_is_unreadable(text: str | None) -> None:
    key = INTL.signature.generate()
    with pytest.raises(StoredValueError) as raised:
        _check(INTL, key.public_key, text)
    assert not isinstance(raised.value, VerifyRecordSignatureError)


def test_a_value_with_no_canonical_form_is_refused_not_raised() -> None:
    """A float (no JCS form in this ledger), or nesting past any parser's stack, in an edited
    record: refused as unsigned, never a traceback."""
    key = INTL.signature.generate()
    kept = json.loads(sign_result(key, {"ok": True, "entries": 1}, origin=ORIGIN, number=3))
    with pytest.raises(VerifyRecordSignatureError):
        _check(INTL, key.public_key, json.dumps({**kept, "entries": 1.5}))
    for depth in (500, 5_000):  # a parse, and then no signature; no parse
        deep = json.dumps({**kept, "by": "@"}).replace('"@"', "[" * depth + "]" * depth)
        with pytest.raises(StoredValueError):
            _check(INTL, key.public_key, deep)


def test_no_signed_result_is_a_checkpoint_note() -> None:
    """The context line is followed by a JSON object, where a checkpoint's second line is its
    size: the signed bytes of a result never parse as a checkpoint, whatever the origin."""
    message = signed_message({"ok": True}, origin=ORIGIN, number=3)
    assert message.startswith(CONTEXT + b"{")
    with pytest.raises(CheckpointError):
        Checkpoint.parse_body(message)
