"""README.md's five-minute tour works as written: its commands, extracted from the README, run in
order against a fresh demo ledger (a temporary folder laid out as ``scripts/serve`` leaves the
project's: ``.venv``, ``var/ledger.db``, ``var/demo-tokens.txt``), and then its HTTP calls
against a real server on that ledger. Only the demo's paths and the port are substituted."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledgertest import free_port, server_process

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
VENV = Path(sys.prefix)


def tour_blocks() -> list[str]:
    """The ```bash blocks of the README's tour section, in order."""
    text = README.read_text(encoding="utf-8")
    start = text.index("## A five-minute tour")
    end = text.index("\n## ", start + 1)
    return re.findall(r"```bash\n(.*?)```", text[start:end], flags=re.DOTALL)


def _env(folder: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("LEDGER_")}
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["LEDGER_DATABASE_URL"] = f"sqlite:///{folder / 'var' / 'ledger.db'}"
    env["COLUMNS"] = "120"
    return env


def _ledger(folder: Path, *args: str) -> str:
    done = subprocess.run([str(VENV / "bin" / "ledger"), *args], cwd=folder, env=_env(folder),
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder as ``scripts/serve`` leaves the project's after its first start."""
    folder = tmp_path_factory.mktemp("tour")
    (folder / ".venv").symlink_to(VENV)
    (folder / "var").mkdir()
    _ledger(folder, "demo")
    actors = [row["actor"] for row in json.loads(_ledger(folder, "actors", "list", "--json"))]
    tokens = [f"{actor} {_ledger(folder, 'actors', 'token', actor).strip()}"
              for actor in ("edu-wang", "office-li") if actor in actors]
    (folder / "var" / "demo-tokens.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    return folder


def test_the_tour_has_its_two_blocks() -> None:
    blocks = tour_blocks()
    assert len(blocks) == 2
    assert "ledger replay --project $P --as-known-at" in blocks[0]
    assert "curl" in blocks[1]


def test_the_cli_tour_runs_as_written(demo_folder: Path) -> None:
    script = tour_blocks()[0].replace("/tmp/case.zip", str(demo_folder / "case.zip"))
    # Each command's output follows a marker, so a failure names the command that failed.
    lines = [line for line in script.splitlines() if line.strip()]
    traced = "\n".join(f"echo '>>> {index}' >&2\n{line}" for index, line in enumerate(lines))
    done = subprocess.run(["bash", "-c", "set -euo pipefail\n" + traced], cwd=demo_folder,
                          env=_env(demo_folder), capture_output=True, text=True, timeout=600,
                          check=False)
    last = re.findall(r">>> (\d+)", done.stderr)
    failed = lines[int(last[-1])] if last else "(before the first command)"
    assert done.returncode == 0, f"{failed}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert len(last) == len(lines)
    out = done.stdout
    assert "Eligibility 资金拨付条件" in out  # the replay shows its tables
    assert "not yet recorded" not in done.stderr
    assert re.search(r"OK: \d+ entries in \d+ streams", out)  # ledger verify
    assert (demo_folder / "case.zip").stat().st_size > 1000


@pytest.fixture
def server(demo_folder: Path) -> Iterator[int]:
    """``ledger serve`` on the demo ledger (its writer in a thread: one process to stop)."""
    port = free_port()
    env = _env(demo_folder) | {"LEDGER_WRITER": "thread"}
    with server_process([str(VENV / "bin" / "ledger"), "serve", "--port", str(port)], port,
                        cwd=demo_folder, env=env):
        yield port


def test_the_http_tour_runs_as_written(demo_folder: Path, server: int) -> None:
    script = tour_blocks()[1].replace("localhost:8000", f"127.0.0.1:{server}")
    lines = [line for line in script.splitlines() if line.strip()]
    assert lines[0].startswith("TOKEN=")
    answers = []
    for line in lines[1:]:
        # curl fails on an HTTP error here (the README's lines end in comments).
        prelude = 'set -euo pipefail\ncurl() { command curl --fail "$@"; }\n'
        done = subprocess.run(["bash", "-c", f"{prelude}{lines[0]}\n{line}"],
                              cwd=demo_folder, env=_env(demo_folder), capture_output=True,
                              text=True, timeout=60, check=False)
        assert done.returncode == 0, (line, done.stdout, done.stderr)
        answers.append(json.loads(done.stdout))
    projects, overdue = answers
    assert {row["unit"] for row in projects["items"]} == {"edu"}  # only 教育和体育部's
    rows = overdue["obligations"] if isinstance(overdue, dict) else overdue
    assert rows
    assert {row["status"] for row in rows} == {"overdue"}
