"""Fixtures of tests/tools: the evidence-bundle history and bundle of
tests/ledger/evidence/test_bundle.py, on SQLite only (the tools read bundles, which do not depend
on the backend).

tests/ledger and its folders are put on ``sys.path`` as pytest itself does when it collects a
module there (``prepend`` import mode), so ``test_bundle`` and its helpers import under the same
name.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_LEDGER_TESTS = Path(__file__).resolve().parents[1] / "ledger"
for _folder in (_LEDGER_TESTS, _LEDGER_TESTS / "log", _LEDGER_TESTS / "evidence"):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

from test_bundle import bundle, history  # noqa: E402

__all__ = ["bundle", "database_url", "history"]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """A fresh SQLite ledger (overrides the root conftest's SQLite/PostgreSQL pair)."""
    return f"sqlite:///{tmp_path / 'ledger.db'}"
