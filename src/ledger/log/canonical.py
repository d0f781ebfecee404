"""The one function that makes every byte string the ledger hashes or signs.

docs/design.md §5: canonical bytes are RFC 8785 (JSON Canonicalization Scheme) of plain JSON,
with no floats anywhere in hashed data. Nothing else in the code base may hash the
output of ``json.dumps`` or ``model_dump_json``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeAlias, cast

import rfc8785

from ledger.errors import NotCanonicalError

JSONValue: TypeAlias = (
    bool | int | str | Sequence["JSONValue"] | Mapping[str, "JSONValue"] | None
)

# RFC 8785 §3.2.2.3 / I-JSON: integers must be exactly representable as IEEE 754 doubles.
_MAX_SAFE_INTEGER = 2**53 - 1

_FAST = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)
_encode_string: Callable[[str], str] = json.encoder.encode_basestring  # what _FAST uses for str


def _check(value: object, path: str) -> bool:
    """Reject what JCS may not hash; return True iff every object key is ASCII.

    With ASCII keys (our field names; payload keys almost always), Python's ``sort_keys``
    order equals JCS's UTF-16 order and ``json`` escapes strings exactly as RFC 8785 §3.2.2.2
    does, so the standard encoder yields the same bytes six times faster than ``rfc8785``;
    ``tests/ledger/log/test_canonical.py`` proves the equality on generated JSON.
    """
    if isinstance(value, float):
        # Money is integer fen and dates are strings: a float is always a bug upstream.
        raise NotCanonicalError(path, "a float (use integer fen or a string)")
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return True
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INTEGER:
            raise NotCanonicalError(path, f"an integer beyond ±2^53 ({value})")
        return True
    if isinstance(value, Mapping):
        ascii_keys = True
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotCanonicalError(path, f"a non-string key {key!r}")
            ascii_keys = _check(item, f"{path}.{key}") and ascii_keys and key.isascii()
        return ascii_keys
    if isinstance(value, list | tuple):
        ascii_keys = True
        for index, item in enumerate(value):
            ascii_keys = _check(item, f"{path}[{index}]") and ascii_keys
        return ascii_keys
    raise NotCanonicalError(path, f"a {type(value).__name__}, which JSON cannot hold")


def _scan(value: object) -> bool | None:
    """:func:`_check` without the paths: None where it would raise (then it runs, to say
    where). Every filing is scanned several times on the write path and every view when it is
    hashed, so this is kept lean: leaves are tested inline, only containers recurse."""
    kind = type(value)
    if kind is dict:
        mapping = cast(dict[object, object], value)
        ascii_keys = True
        for key in mapping:
            if type(key) is not str:
                return None
            if not key.isascii():
                ascii_keys = False
        return _scan_all(mapping.values(), ascii_keys)
    if kind is list or kind is tuple:
        return _scan_all(cast(Iterable[object], value), True)
    return _scan_all((value,), True)  # a bare leaf (or what the careful check must judge)


def _scan_all(items: Iterable[object], ascii_keys: bool) -> bool | None:
    for item in items:
        kind = type(item)
        if kind is str or item is None or kind is bool or (
                kind is int and -_MAX_SAFE_INTEGER <= cast(int, item) <= _MAX_SAFE_INTEGER):
            continue
        if kind is not dict and kind is not list and kind is not tuple:
            return None  # floats, big integers, other mappings and types
        found = _scan(item)
        if found is None:
            return None
        ascii_keys = ascii_keys and found
    return ascii_keys


def canonical_bytes(value: JSONValue) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of a plain JSON value.

    Raises :class:`NotCanonicalError` for floats, integers beyond ±2^53, non-string keys,
    lone surrogates or values JSON cannot hold.
    """
    kind = type(value)
    # Scalars first (an entry's members are sealed one by one on every append): a string is
    # what ``json`` writes without ASCII-escaping, a safe integer its digits.
    if kind is str:
        with contextlib.suppress(UnicodeEncodeError):  # a lone surrogate: the path below says so
            return _encode_string(cast(str, value)).encode("utf-8")
    elif kind is int and -_MAX_SAFE_INTEGER <= cast(int, value) <= _MAX_SAFE_INTEGER:
        return str(value).encode("ascii")
    scanned = _scan(value)
    ascii_keys = _check(value, "$") if scanned is None else scanned
    try:
        if ascii_keys:
            return _FAST.encode(value).encode("utf-8")
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError, ValueError) as exc:
        raise NotCanonicalError("$", str(exc)) from exc
