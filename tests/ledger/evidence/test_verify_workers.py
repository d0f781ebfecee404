"""``ledger verify`` with worker processes finds exactly what it finds in-process.

The tamper corpus (``test_tamper.py``) runs verify with ``workers=1``; here a few of its
defects, and signatures whose key a page did not know yet, run both ways.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable

import pytest
from tampering import Tamperer
from test_tamper import build_history

from ledger.app import Ledger
from ledger.evidence import verify as verify_module
from ledger.evidence.verify import VerifyReport, verify_ledger
from ledger.settings import Settings

Tamper = Callable[[Tamperer, Ledger], None]


def _edit_payload(tamper: Tamperer, ledger: Ledger) -> None:
    stream = ledger.log.stream_ids()[1]
    tamper.edit_payload_byte(stream, 1)


def _alter_leaf(tamper: Tamperer, ledger: Ledger) -> None:
    tamper.alter_leaf(ledger.log.tree_size() // 2)


def _backdate_leaf(tamper: Tamperer, ledger: Ledger) -> None:
    tamper.backdate_leaf(ledger.log.tree_size() - 1, "2020-01-01T00:00:00.000000Z")


def _alter_checkpoint(tamper: Tamperer, ledger: Ledger) -> None:
    tamper.alter_checkpoint(ledger.log.tree_size(), note=True)


def _alter_node(tamper: Tamperer, ledger: Ledger) -> None:
    tamper.alter_node(1, 2)


def _untouched(tamper: Tamperer, ledger: Ledger) -> None:
    return None


def _summary(report: VerifyReport) -> tuple[object, ...]:
    return (report.entries, report.streams, report.signatures, report.checkpoints,
            report.nodes, [f.describe() for f in report.failures])


@pytest.mark.parametrize("defect", [_untouched, _edit_payload, _alter_leaf, _backdate_leaf,
                                    _alter_checkpoint, _alter_node])
def test_workers_find_what_one_process_finds(defect: Tamper, ledger: Ledger,
                                             settings: Settings) -> None:
    build_history(ledger)
    defect(Tamperer(settings.database_url, ledger.identity.profile), ledger)
    inline = verify_ledger(ledger.log, ledger.identity, workers=1)
    assert _summary(verify_ledger(ledger.log, ledger.identity, workers=2)) == _summary(inline)
    assert inline.ok == (defect is _untouched), [f.describe() for f in inline.failures]


@pytest.mark.parametrize("workers", [1, 2])
def test_signatures_of_keys_unknown_to_the_page_are_checked_at_the_end(
        workers: int, ledger: Ledger, settings: Settings,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A key registered after its first use (same batch) reaches no page: judged at the end.

    Simulated for every entry by sending the workers an empty key table.
    """
    history = build_history(ledger)
    monkeypatch.setattr(verify_module._Registry, "table", lambda self: pickle.dumps({}))
    report = verify_ledger(ledger.log, ledger.identity, workers=workers)
    assert report.ok, [f.describe() for f in report.failures]
    assert report.signatures == report.entries
    Tamperer(settings.database_url, ledger.identity.profile).edit_payload_byte(
        history.stream("A"), 2)
    report = verify_ledger(ledger.log, ledger.identity, workers=workers)
    assert {(f.check, f.leaf_index) for f in report.failures} >= {
        ("hash", history.leaf("A", 2)), ("signature", history.leaf("A", 2))}
