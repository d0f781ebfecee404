"""``ledger verify``'s work in C where it was built (``_replay.c``, ``_canonical.c``, by
``setup.py``).

Under the SHA-256 profile, the two loops that run once a node: the stream heads map's replay
(:class:`~ledger.log.verify_heads.ReplayedMap`) and the log's Merkle tree
(:func:`~ledger.log.merkle.extend_nodes`); under any profile, a worker's first look at an
entry's bytes (:data:`SCAN_ENTRY`: canonical beyond doubt, or left to the exact path). They
are optional: without a compiler or OpenSSL's headers at install, or with
``LEDGER_NATIVE_REPLAY=0`` (to compare, or to rule the C out), Python does the same work, and
the tests hold both to the same results.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

from ledger.log.entries import ENTRY_KEYS, FILING_KEYS

if TYPE_CHECKING:
    from ledger.log._replay import Replay

MerkleExtend = Callable[[int, list[tuple[int, bytes]], Sequence[bytes], list[list[bytes]]],
                        int]


EntryScan = Callable[[bytes], dict[str, Any] | None]


def _compiled() -> tuple[type[Replay], MerkleExtend] | None:
    """``_replay``'s two parts, if it was built."""
    try:
        from ledger.log._replay import Replay, merkle_extend  # noqa: PLC0415 (optional)
    except ImportError:  # not built: the Python loops alone
        return None
    return Replay, merkle_extend


def _scanner() -> EntryScan | None:
    """``_canonical``'s entry scan, if it was built (set up with the entry's keys)."""
    try:
        from ledger.log._canonical import known_keys, scan_entry  # noqa: PLC0415 (optional)
    except ImportError:  # not built: the exact path for every entry
        return None
    known_keys(sorted(ENTRY_KEYS | FILING_KEYS))
    return scan_entry


_BUILT: Final = _compiled()
_SCAN: Final = _scanner()
BUILT: Final = _BUILT is not None and _SCAN is not None
"""Whether the C parts were built with this install."""
ENABLED: Final = os.environ.get("LEDGER_NATIVE_REPLAY") != "0"
"""Whether ``ledger verify`` runs them where they were built (the map and tree: SHA-256)."""
REPLAY: Final = _BUILT[0] if _BUILT is not None and ENABLED else None
MERKLE_EXTEND: Final = _BUILT[1] if _BUILT is not None and ENABLED else None
SCAN_ENTRY: Final = _SCAN if ENABLED else None
"""``scan_entry(data)``: the entry's envelope and filing (the payload standing empty) if the
bytes are beyond doubt canonical JCS, else None (``_canonical.c``)."""
