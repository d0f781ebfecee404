"""Fixtures of tests/ledger/evidence: the evidence-bundle history and bundle of
``test_bundle.py`` here, on both backends, for the other modules of this folder.

tests/ledger is put on ``sys.path`` as pytest itself does when it collects a module there
(``prepend`` import mode), so ``tampering`` imports under the same name as from tests/ledger.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
for _folder in (_HERE, _HERE.parent):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

from test_bundle import bundle, history  # noqa: E402

__all__ = ["bundle", "history"]
