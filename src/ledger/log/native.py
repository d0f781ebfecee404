"""What ``ledger verify`` recomputes, in C where it was built (``_replay.c``, by ``setup.py``).

Two loops that run once a node are compiled for the SHA-256 profile: the stream heads map's
replay (:class:`~ledger.log.verify_heads.ReplayedMap`) and the log's Merkle tree
(:func:`~ledger.log.merkle.extend_nodes`). They are optional: without a compiler or OpenSSL's
headers at install, or with ``LEDGER_NATIVE_REPLAY=0`` (to compare the two, or to rule the C
out), the Python loops run, and the tests hold both to the same results.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from ledger.log._replay import Replay

MerkleExtend = Callable[[int, list[tuple[int, bytes]], Sequence[bytes], list[list[bytes]]],
                        int]


def _compiled() -> tuple[type[Replay], MerkleExtend] | None:
    """The compiled module's two parts, if it was built."""
    try:
        from ledger.log._replay import Replay, merkle_extend  # noqa: PLC0415 (optional)
    except ImportError:  # not built: the Python loops alone
        return None
    return Replay, merkle_extend


_BUILT: Final = _compiled()
BUILT: Final = _BUILT is not None
"""Whether the C loops were built with this install."""
ENABLED: Final = BUILT and os.environ.get("LEDGER_NATIVE_REPLAY") != "0"
"""Whether ``ledger verify`` runs them (SHA-256 profile only)."""
REPLAY: Final = _BUILT[0] if _BUILT is not None and ENABLED else None
MERKLE_EXTEND: Final = _BUILT[1] if _BUILT is not None and ENABLED else None
