"""The files in deploy/ refer to what exists: the Containerfile's sources, the compose file's
build, mounts and commands, the systemd units' ``ledger`` commands and options, the proxy
configurations' forwarded headers. (No container builder runs here: these are checked as text,
and each ``ledger`` command line they hold is checked against the CLI's own help.)"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from api.cli import app

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))


def _check_ledger_command(args: list[str]) -> None:
    """``ledger ARGS`` names a real command, and each --option it passes is in its help."""
    words = [word for word in args if not word.startswith("-")]
    options = [word.split("=")[0] for word in args if word.startswith("--")]
    # The command is the leading words that are not values of options.
    for size in (2, 1):
        result = CliRunner().invoke(app, [*words[:size], "--help"], env={"COLUMNS": "300"},
                                    prog_name="ledger")
        if result.exit_code == 0 and "Usage: ledger " + " ".join(words[:size]) in \
                " ".join(result.stdout.split()):
            break
    else:
        raise AssertionError(f"no such command: ledger {' '.join(args)}")
    for option in options:
        assert option in result.stdout, f"ledger {' '.join(words[:size])} has no {option}"


def test_the_containerfile_copies_what_exists() -> None:
    text = (DEPLOY / "Containerfile").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("COPY") and "--from=" not in line:
            *sources, _ = line.split()[1:]
            for source in sources:
                assert (ROOT / source).exists(), source
    assert 'ENTRYPOINT ["ledger"]' in text
    [command] = re.findall(r"^CMD (\[.*\])$", text, flags=re.MULTILINE)
    _check_ledger_command(yaml.safe_load(command))
    assert "/healthz" in text


def test_the_compose_file_builds_mounts_and_runs_real_commands() -> None:
    path = DEPLOY / "compose" / "compose.yaml"
    compose = yaml.safe_load(path.read_text(encoding="utf-8"))
    services = compose["services"]
    assert {"db", "init", "ledger", "projections", "witness"} <= set(services)
    for name, service in services.items():
        build = service.get("build")
        if build:
            context = (path.parent / build["context"]).resolve()
            assert (context / build["dockerfile"]).is_file(), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (path.parent / source).exists(), (name, source)
            else:
                assert source in compose["volumes"], (name, source)
        for dependency in service.get("depends_on", {}):
            assert dependency in services, (name, dependency)
        command = service.get("command")
        if isinstance(command, list) and service.get("entrypoint") is None and name != "db":
            _check_ledger_command([str(word) for word in command])
    assert services["ledger"]["depends_on"]["init"]["condition"] == \
        "service_completed_successfully"
    assert "grants.sql" in services["init"]["command"][0]
    assert "?schema=ledger" in services["ledger"]["environment"]["LEDGER_DATABASE_URL"]
    assert "ledger_app:" in services["ledger"]["environment"]["LEDGER_DATABASE_URL"]


@pytest.mark.parametrize("unit", UNITS, ids=[unit.name for unit in UNITS])
def test_each_unit_runs_a_real_ledger_command(unit: Path) -> None:
    text = unit.read_text(encoding="utf-8")
    sections = re.findall(r"^\[(\w+)\]$", text, flags=re.MULTILINE)
    assert sections[:2] == ["Unit", "Service"]
    commands = re.findall(r"^ExecStart=(.+)$", text, flags=re.MULTILINE)
    assert commands
    assert len(commands) == 1 or "Type=oneshot" in text  # several run in turn only once
    for exec_start in commands:
        program, *args = shlex.split(exec_start)
        if program.endswith("/ledger"):
            _check_ledger_command(args)
        else:
            assert (ROOT / program.removeprefix("/opt/ledger/")).is_file(), program
    timer = unit.with_suffix(".timer")
    if "Type=oneshot" in text:
        assert timer.exists(), f"{unit.name} runs once: it needs its timer"
        assert re.search(r"^OnCalendar=", timer.read_text(encoding="utf-8"), re.MULTILINE)


def test_the_proxies_forward_scheme_and_address() -> None:
    nginx = (DEPLOY / "nginx" / "ledger.conf").read_text(encoding="utf-8")
    for header in ("X-Forwarded-For", "X-Forwarded-Proto", "Host"):
        assert f"proxy_set_header {header}" in nginx
    assert "proxy_pass http://ledger;" in nginx
    assert "server 127.0.0.1:8000;" in nginx  # where `ledger serve` listens by default
    caddy = (DEPLOY / "caddy" / "Caddyfile").read_text(encoding="utf-8")
    assert "reverse_proxy 127.0.0.1:8000" in caddy
    assert "reverse_proxy 127.0.0.1:7380" in caddy  # the witness's port in its unit


def test_the_environment_example_names_real_settings() -> None:
    from ledger.settings import Settings  # noqa: PLC0415

    known = {f"LEDGER_{name.upper()}" for name in Settings.model_fields}
    for path in (DEPLOY / "systemd" / "ledger.env.example", DEPLOY / "compose" / "env.example"):
        for line in path.read_text(encoding="utf-8").splitlines():
            name = line.lstrip("# ").split("=")[0]
            if re.fullmatch(r"LEDGER_[A-Z_]+", name) and "=" in line and not name.endswith(
                    ("_PASSWORD",)):
                assert name in known, (path.name, name)


def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    # As installed: the venv and deploy/ under /opt/ledger, here this checkout's.
    for unit in (DEPLOY / "systemd").glob("*.*"):
        if unit.suffix in {".service", ".timer"}:
            text = unit.read_text(encoding="utf-8").replace(
                "/opt/ledger/.venv/bin/ledger", str(Path(sys.executable).parent / "ledger"))
            (tmp_path / unit.name).write_text(text.replace("/opt/ledger/deploy",
                                                           str(DEPLOY)), encoding="utf-8")
    units = sorted(str(path) for path in tmp_path.iterdir())
    done = subprocess.run([analyze, "verify", "--man=no", *units], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr  # unknown keys and bad values are warnings
