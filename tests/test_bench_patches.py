"""The benchmarks' patches (scripts/bench/patches) still apply to the tree: each is "this commit
less one feature", the baseline of a figure in docs/performance.md, and one that no longer
applies would leave that figure unmeasurable."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PATCHES = sorted((ROOT / "scripts" / "bench" / "patches").glob("*.patch"))


def test_there_are_patches() -> None:
    assert {p.name for p in PATCHES} >= {"without-heads-map.patch",
                                         "verify-without-heads-map.patch"}


@pytest.mark.parametrize("patch", PATCHES, ids=lambda p: p.name)
def test_each_patch_applies_to_the_tree(patch: Path) -> None:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the patches are applied by git")
    result = subprocess.run([git, "apply", "--check", str(patch)], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, (
        f"{patch.name} no longer applies; make it again against the changed file: "
        f"{result.stderr.strip()}")
