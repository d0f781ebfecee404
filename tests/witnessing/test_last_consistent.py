"""The last checkpoint a witness cosigned that the log still extends
(:func:`api.witness_check.last_cosigned`): a bounded binary search over the witness's stored
cosignatures, found however far back it is, and never a checkpoint the rewritten log does not
extend, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable

from pushtest import _cursor

from api.witness_check import last_cosigned
from ledger.app import Ledger
from ledger.log.checkpoint import SignedNote
from ledger.measures.catalogue import EXAMPLES
from witness.keys import CosignerKey, generate_cosigner_key

_FILINGS = 90  # more checkpoints than the 64 the log page's search used to look at


def _grow(ledger: Ledger) -> list[int]:
    """File ``_FILINGS`` applications; the checkpoint sizes, oldest first."""
    for _ in range(_FILINGS):
        ledger.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"])
    sizes: list[int] = []
    size = ledger.log.tree_size()
    while (stored := ledger.log.checkpoint_at_most(size)) is not None:
        sizes.append(stored.size)
        if stored.size == 0:
            break
        size = stored.size - 1
    return sorted(sizes)


def _cosign(ledger: Ledger, key: CosignerKey, size: int) -> None:
    stored = ledger.log.checkpoint_at_most(size)
    assert stored is not None
    assert stored.size == size
    line = key.cosign(SignedNote.parse(stored.note).checkpoint.body(), int(time.time()))
    ledger.log.put_cosignature(size, line.name, line.key_id.hex(), line.line(), ledger.now())


def test_found_however_far_back(ledger: Ledger) -> None:
    sizes = _grow(ledger)
    assert len(sizes) > 80
    key = generate_cosigner_key("audit.gaoxin.example/w1")
    vkey = key.verifier_key
    assert last_cosigned(ledger, vkey, sizes[-1]) is None
    _cosign(ledger, key, sizes[3])  # more than 80 checkpoints behind the latest
    assert last_cosigned(ledger, vkey, sizes[-1]) == sizes[3]
    assert last_cosigned(ledger, vkey, sizes[3] - 1) is None
    _cosign(ledger, key, sizes[40])
    assert last_cosigned(ledger, vkey, sizes[-1]) == sizes[40]
    assert last_cosigned(ledger, vkey, sizes[40] - 1) == sizes[3]
    # Another key's lines count for nothing.
    other = generate_cosigner_key("audit.gaoxin.example/w2")
    _cosign(ledger, other, sizes[-1])
    assert last_cosigned(ledger, vkey, sizes[-1]) == sizes[40]


def test_never_a_checkpoint_the_rewritten_log_does_not_extend(
        ledger: Ledger, database_url: str, make_ledger: Callable[..., Ledger]) -> None:
    """Every checkpoint cosigned; then every node covering leaf ``cut`` is changed in the
    database (the log rewritten from there, its old checkpoints and their cosignatures kept):
    the answer is the newest cosigned checkpoint without that leaf, found in a bounded number
    of look-ups."""
    sizes = _grow(ledger)
    key = generate_cosigner_key("audit.gaoxin.example/w1")
    for size in sizes:
        if size > 0:
            _cosign(ledger, key, size)
    cut = sizes[len(sizes) // 3] + 1  # a leaf index inside the next checkpoint's tree
    postgres = database_url.startswith(("postgresql://", "postgres://"))
    p = "%s" if postgres else "?"
    with _cursor(database_url) as curs:
        curs.execute(f"UPDATE log_nodes SET hash = {p} WHERE idx = ({p} >> level)",
                     (bytes(32), cut))
        assert curs.rowcount > 1
    rewritten = make_ledger()
    expected = max(size for size in sizes if size <= cut)
    looked: list[int] = []
    cosigned_at_most = rewritten.log.cosigned_at_most

    def counted(name: str, key_id: str, size: int) -> int | None:
        looked.append(size)
        return cosigned_at_most(name, key_id, size)

    rewritten.log.cosigned_at_most = counted  # type: ignore[method-assign]
    assert last_cosigned(rewritten, key.verifier_key, sizes[-1]) == expected
    assert len(looked) <= sizes[-1].bit_length() + 3  # a binary search, not a walk
    # Below the cut, the newest cosigned checkpoint is the answer at once.
    looked.clear()
    assert last_cosigned(rewritten, key.verifier_key, expected) == expected
    assert len(looked) == 1
