"""The house rules of docs/design.md §7: small classes, and a repository that stands on its own."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"

# A class that needs more than this does more than one job: split it into collaborators.
MAX_METHODS = 35
MAX_LINES = 500


def _classes() -> list[tuple[str, int, int]]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                methods = sum(isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                              for item in node.body)
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                found.append((f"{path.relative_to(SRC)}:{node.name}", methods, lines))
    return found


CLASSES = _classes()


def test_classes_were_found() -> None:
    assert any(name.endswith(":Ledger") for name, _, _ in CLASSES)


@pytest.mark.parametrize(("name", "methods", "lines"), CLASSES, ids=[c[0] for c in CLASSES])
def test_no_class_does_too_much(name: str, methods: int, lines: int) -> None:
    assert methods <= MAX_METHODS, f"{name} has {methods} methods (at most {MAX_METHODS})"
    assert lines <= MAX_LINES, f"{name} spans {lines} lines (at most {MAX_LINES})"


def test_nothing_points_outside_the_repository() -> None:
    """The design, formats and help live in the repository; a clone has nothing beside it."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    offenders = []
    # Split so that this file does not match itself.
    needles = ("../" + "shared", "DESIGN" + " §")
    for name in tracked:
        path = ROOT / name
        if path.suffix in {".png", ".zip", ".xlsx", ".ico", ".woff2"} or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        if any(needle in text for needle in needles):
            offenders.append(name)
    assert offenders == []
