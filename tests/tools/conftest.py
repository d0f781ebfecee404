"""Fixtures of tests/tools: the Go tools (tools/verify-go, tools/tiles-check), each built once per
session with its ``build.sh`` (Debian's ``golang-go`` and ``golang-golang-x-mod-dev``, offline;
without them the tests skip, and under CI they fail), and the evidence-bundle history and bundle
of tests/ledger/evidence/test_bundle.py, on SQLite only (the tools read bundles, which do not
depend on the backend).

tests/ledger and its folders are put on ``sys.path`` as pytest itself does when it collects a
module there (``prepend`` import mode), so ``test_bundle`` and its helpers import under the same
name.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ledgertest import require

_LEDGER_TESTS = Path(__file__).resolve().parents[1] / "ledger"
for _folder in (_LEDGER_TESTS, _LEDGER_TESTS / "log", _LEDGER_TESTS / "evidence"):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

from test_bundle import bundle, history  # noqa: E402

__all__ = ["bundle", "database_url", "history", "tiles_check", "verify_go"]

TOOLS = Path(__file__).resolve().parents[2] / "tools"
X_MOD = Path("/usr/share/gocode/src/golang.org/x/mod/sumdb/note/note.go")
APT = "apt-get install golang-go golang-golang-x-mod-dev"


def go_problem() -> str | None:
    """Why the Go tools cannot be built here, or None."""
    if shutil.which("go") is None:
        return f"the Go toolchain is not installed ({APT})"
    if not X_MOD.is_file():
        return f"golang.org/x/mod's sources are not at {X_MOD.parents[2]} ({APT})"
    return None


def build_go_tool(name: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tools/{name}`` built by its ``build.sh`` into a temporary folder; its binary."""
    require(go_problem(), f"Go for tools/{name}")
    binary = tmp_path_factory.mktemp(name) / name
    result = subprocess.run(["bash", str(TOOLS / name / "build.sh"), str(binary)],
                            capture_output=True, text=True, check=False, timeout=900)
    assert result.returncode == 0, f"tools/{name}/build.sh failed:\n{result.stderr}"
    return binary


@pytest.fixture(scope="session")
def verify_go(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The verify-go binary, built once per session."""
    return build_go_tool("verify-go", tmp_path_factory)


@pytest.fixture(scope="session")
def tiles_check(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiles-check binary, built once per session."""
    return build_go_tool("tiles-check", tmp_path_factory)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """A fresh SQLite ledger (overrides the root conftest's SQLite/PostgreSQL pair)."""
    return f"sqlite:///{tmp_path / 'ledger.db'}"
