"""The ``ledger`` command line end to end on both backends; ``verify-bundle``'s trust, failure
and output rules on the evidence corpus (tests/vectors/evidence/, no database)."""

from __future__ import annotations

import base64
import json
import re
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.cli_errors import CONNECT_TIMEOUT, DatabaseUnreachableError
from api.cli_lazy import LAZY, loaded
from api.services import LedgerService
from ledger.app import Ledger
from ledger.evidence.bundle import LogKeyNotPinnedError
from ledger.evidence.trust import TRUST_ENV, load_trust_file
from ledger.measures.catalogue import EXAMPLES
from ledger.settings import Settings
from ledgertest import PG_URL, require_postgres, run_sql

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "evidence"


TEST_ENV = {"LEDGER_ENVIRONMENT": "test"}  # the placeholder master key seals test databases


def _run(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"LEDGER_DATABASE_URL": url, **TEST_ENV})
    return result.exit_code, result.stdout


def test_demo_init_projects_verify(database_url: str) -> None:
    code, out = _run(database_url, "demo", "--json")
    assert code == 0, out
    demo = json.loads(out)
    assert len(demo["projects"]) >= 12
    assert _run(database_url, "demo")[0] == 2  # the demo needs an empty database
    code, out = _run(database_url, "init", "--json")
    assert code == 0, out
    identity = json.loads(out)
    assert identity["profile"] == "intl"
    assert identity["log_key"].startswith(identity["origin"] + "+")
    assert _run(database_url, "init", "--json")[1] == out  # idempotent
    code, out = _run(database_url, "projects", "--json")
    stages = {row["stage"] for row in json.loads(out)["projects"]}
    assert {"in_construction", "rejected", "filed", "terminated"} <= stages
    code, out = _run(database_url, "verify", "--json")
    assert code == 0, out
    assert json.loads(out)["ok"] is True


def test_verify_record_keeps_the_result_for_the_log_page(database_url: str) -> None:
    """The scheduled verify (``--record``) is the page's last integrity check; a plain
    ``ledger verify`` keeps nothing."""
    assert _run(database_url, "demo")[0] == 0
    ledger = Ledger(Settings(database_url=database_url, environment="test"))
    try:
        service = LedgerService(ledger)
        assert _run(database_url, "verify")[0] == 0
        assert service.last_verify() is None
        code, out = _run(database_url, "verify", "--record", "--json")
        assert code == 0, out
        assert json.loads(out)["recorded"] is True
        last = service.last_verify()
        assert last is not None
        assert (last["ok"], last["by"], last["entries"], last["failures"]) == (
            True, "ledger verify", ledger.log.tree_size(), 0)
        run_sql(database_url, "UPDATE {log_leaves}"  # backdated beneath the ledger
                " SET recorded_at = '2020-01-01T00:00:00.000000Z' WHERE leaf_index = 5")
        code, out = _run(database_url, "verify", "--record", "--json")
        assert code == 1
        failed = service.last_verify()
        assert failed is not None
        assert failed["ok"] is False
        assert failed["failures"] == len(json.loads(out)["failures"])
        assert failed["first_failure"]
    finally:
        ledger.close()


def test_verify_record_needs_the_log_key(database_url: str) -> None:
    """A kept result is signed with the log key: a process that cannot unseal it (another
    master key) still verifies, says the result was not kept, and keeps nothing."""
    assert _run(database_url, "demo")[0] == 0
    other_key = base64.b64encode(bytes(range(32))).decode()
    result = CliRunner().invoke(app, ["verify", "--record", "--json"], env={
        "LEDGER_DATABASE_URL": database_url, **TEST_ENV, "LEDGER_MASTER_KEY": other_key})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["recorded"] is False
    assert "the result was not recorded" in result.stderr
    ledger = Ledger(Settings(database_url=database_url, environment="test"))
    try:
        assert LedgerService(ledger).last_verify() is None
    finally:
        ledger.close()


def test_actor_key_and_token_admin(database_url: str) -> None:
    _run(database_url, "init")
    code, out = _run(database_url, "actors", "add", "town-zhang", "--role", "unit",
                     "--unit", "town", "--name", "某镇 张", "--json")
    assert code == 0, out
    first_key = json.loads(out)["key_id"]
    code, out = _run(database_url, "keys", "rotate", "town-zhang", "--json")
    second_key = json.loads(out)["key_id"]
    assert second_key != first_key
    code, out = _run(database_url, "keys", "revoke", first_key, "--json")
    assert json.loads(out)["revoked_from"] is not None
    code, out = _run(database_url, "keys", "list", "--json")
    keys = {row["key_id"]: row for row in json.loads(out)}
    assert keys[first_key]["revoked_from"]
    assert not keys[second_key]["revoked_from"]
    code, token = _run(database_url, "actors", "token", "town-zhang")
    assert code == 0
    assert len(token.strip()) > 30
    code, out = _run(database_url, "actors", "add", "town-zhang", "--role", "unit")
    assert code == 2  # already registered: a clear error, not a traceback
    assert _run(database_url, "verify")[0] == 0


def test_uninitialised_database_is_a_clear_error(database_url: str) -> None:
    result = CliRunner().invoke(app, ["projects"],
                                env={"LEDGER_DATABASE_URL": database_url, **TEST_ENV})
    assert result.exit_code == 2
    assert "ledger init" in result.stderr


# --- verify-bundle: pinning, trust files, quorum, failures ----------------------------------


def _verify_bundle(name: str, *args: str, trust: str | None = None) -> tuple[int, str, str]:
    env = {TRUST_ENV: None if trust is None else str(VECTORS / trust)}
    result = CliRunner().invoke(app, ["verify-bundle", str(VECTORS / name), *args], env=env)
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


def test_verify_bundle_refuses_an_unpinned_log_key_saying_how_to_pin() -> None:
    code, out, err = _verify_bundle("ok_intl.zip")
    assert code == 2
    (line,) = err.strip().splitlines()  # one line
    assert "--log-key" in line
    assert TRUST_ENV in line
    code, out, _ = _verify_bundle("ok_intl.zip", "--json")
    assert code == 2
    assert json.loads(out) == {"ok": False, "kind": "trust", "error": str(LogKeyNotPinnedError())}


def test_verify_bundle_pins_from_a_trust_file_or_options() -> None:
    code, out, _ = _verify_bundle("ok_intl.zip", trust="trust-intl.json")
    assert code == 0
    assert out.startswith("OK")
    assert "(pinned)" in out
    assert "(2 of 2 pinned, 2 required)" in out
    trust = load_trust_file(VECTORS / "trust-intl.json")
    code, out, _ = _verify_bundle("ok_intl.zip", "--log-key", trust.log_key,
                                  "--witness-key", trust.witness_keys[0])
    assert code == 0
    assert "(1 of 1 pinned, 1 required)" in out
    # An option replaces the file's member: another log key refuses the bundle.
    gm = load_trust_file(VECTORS / "trust-gm.json")
    code, _, err = _verify_bundle("ok_intl.zip", "--log-key", gm.log_key,
                                  trust="trust-intl.json")
    assert code == 1
    assert "refusing a bundle of another log" in err


def test_verify_bundle_witness_quorum() -> None:
    missing = "witness_cosignature_missing.zip"  # cosigned by witness A only
    code, _, err = _verify_bundle(missing, trust="trust-intl.json")
    assert code == 1
    assert "cosigned by 1 of the 2 pinned witnesses, 2 required" in err
    assert "signed: witness-a.audit.example+" in err
    assert "not signed: witness-b.audit.example+" in err
    assert _verify_bundle(missing, "--quorum", "1", trust="trust-intl.json")[0] == 0
    assert _verify_bundle(missing, trust="trust-intl-quorum-1.json")[0] == 0
    code, out, err = _verify_bundle(missing, "--quorum", "3", "--json", trust="trust-intl.json")
    assert code == 2
    assert json.loads(out)["kind"] == "trust"
    assert "cannot be met by the 2 distinct witness key(s)" in err


def test_verify_bundle_trust_embedded_keys_warns(tmp_path: Path) -> None:
    code, out, err = _verify_bundle("ok_intl.zip", "--trust-embedded-keys", "--json")
    assert code == 0
    assert json.loads(out)["checkpoint"]["log_key_pinned"] is False
    assert "warning: --trust-embedded-keys" in err
    assert "not that it comes from your log" in err
    trust = load_trust_file(VECTORS / "trust-intl.json")
    code, _, err = _verify_bundle("ok_intl.zip", "--trust-embedded-keys", "--log-key",
                                  trust.log_key)
    assert code == 2
    assert "exclude each other" in err
    code, _, err = _verify_bundle("ok_intl.zip", "--trust-embedded-keys",
                                  trust="trust-intl.json")
    assert code == 0
    assert f"${TRUST_ENV} ignored" in err


@pytest.mark.parametrize(("content", "problem"), [
    ('{"log_key": "x"}', "log_key: Value error, not a verifier key"),
    ('{"log_key": "LOG", "comment": 1}', "comment: Extra inputs are not permitted"),
    ('{"log_key": "LOG", "log_key": "LOG"}', "duplicate key 'log_key'"),
    ('{"log_key": "LOG", "quorum": 1.0}', "a float"),
    ('{"log_key": "LOG", "quorum": true, "witness_keys": ["WITNESS"]}', "quorum: Input should"),
    ('{"log_key": "LOG", "quorum": 2, "witness_keys": ["WITNESS"]}', "quorum 2 cannot be met"),
    ('{"log_key": "LOG", "root_key": "***"}', "root_key: Value error, not standard base64"),
    ("[" * 10 + "]" * 10, "nests arrays and objects more than 4 deep"),
    (None, "cannot be read"),
])
def test_verify_bundle_refuses_a_bad_trust_file(tmp_path: Path, content: str | None,
                                                problem: str) -> None:
    trust = load_trust_file(VECTORS / "trust-intl.json")
    path = tmp_path / "trust.json"
    if content is not None:
        path.write_text(content.replace("LOG", trust.log_key)
                        .replace("WITNESS", trust.witness_keys[0]), encoding="utf-8")
    result = CliRunner().invoke(app, ["verify-bundle", str(VECTORS / "ok_intl.zip"), "--json"],
                                env={TRUST_ENV: str(path)})
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error.startswith(f"trust file {path}: ")
    assert problem in error


def test_verify_bundle_prints_one_json_object_on_every_failure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = _verify_bundle("bundle_json_too_deep.zip", "--json", trust="trust-intl.json")
    assert code == 1
    report = json.loads(out)
    assert report["ok"] is False
    assert report["error"] == ("step 1 [format]: bundle.json nests arrays and objects more than"
                               " 64 deep (the limit)")
    code, out, _ = _verify_bundle("no_such_file.zip", "--json", trust="trust-intl.json")
    assert code == 2
    assert json.loads(out)["kind"] == "unreadable"

    def crash(*args: object, **kwargs: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr("api.cli_evidence.verify_bundle", crash)
    code, out, err = _verify_bundle("ok_intl.zip", "--json", trust="trust-intl.json")
    assert code == 1
    assert json.loads(out) == {"ok": False, "kind": "malformed", "error":
                               "the bundle is malformed: RecursionError: maximum recursion"
                               " depth exceeded"}
    code, _, err = _verify_bundle("ok_intl.zip", trust="trust-intl.json")
    assert code == 1
    assert err.strip() == ("error: the bundle is malformed: RecursionError: maximum recursion"
                           " depth exceeded")
    result = CliRunner().invoke(app, ["verify-bundle", str(VECTORS / "ok_intl.zip"),
                                      "--debug"], env={TRUST_ENV: str(VECTORS / "trust-intl.json")})
    assert isinstance(result.exception, RecursionError)  # --debug lets the traceback through


# --- configuration and connection errors: one line naming cause and fix, exit 2 -------------


def _one_line_error(args: list[str], env: dict[str, str | None]) -> str:
    """Run the CLI; assert it failed with exit 2 and one line on stderr; return that line."""
    started = time.monotonic()
    result = CliRunner().invoke(app, args, env=env)
    assert time.monotonic() - started < 10  # bounded: not a pool waiting 30 s
    assert result.exit_code == 2, (result.output, result.exception)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("command", [["projects"], ["verify"], ["init"]])
def test_a_closed_port_is_named(command: list[str]) -> None:
    url = f"postgresql://postgres@127.0.0.1:{_free_port()}/test"
    line = _one_line_error(command, {"LEDGER_DATABASE_URL": url})
    assert "nothing accepts connections on 127.0.0.1:" in line
    assert "start PostgreSQL or correct the port" in line


def test_an_unknown_host_is_named() -> None:
    line = _one_line_error(["projects"], {
        "LEDGER_DATABASE_URL": "postgresql://postgres@no-such-host.invalid:5432/test"})
    assert "unknown host 'no-such-host.invalid'" in line


def test_a_missing_database_is_named() -> None:
    require_postgres()
    name = f"ledger_missing_{uuid.uuid4().hex[:8]}"
    url = PG_URL.rsplit("/", 1)[0] + "/" + name
    line = _one_line_error(["projects"], {"LEDGER_DATABASE_URL": url})
    assert f"database '{name}' does not exist" in line
    assert "createdb" in line


def test_a_wrong_user_is_named_and_the_password_is_not_printed() -> None:
    require_postgres()
    parts = urlsplit(PG_URL)
    url = f"postgresql://no_such_role_x:s3cret@{parts.hostname}:{parts.port or 5432}/test"
    line = _one_line_error(["projects"], {"LEDGER_DATABASE_URL": url})
    assert "PostgreSQL refused user 'no_such_role_x'" in line
    assert "s3cret" not in line
    assert ":***@" in line


def test_production_with_the_placeholder_key_is_one_line(tmp_path: Path) -> None:
    line = _one_line_error(["init"], {"LEDGER_ENVIRONMENT": "production",
                                      "LEDGER_MASTER_KEY": None,
                                      "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'l.db'}"})
    assert "LEDGER_MASTER_KEY" in line
    assert "placeholder" in line


def test_a_bad_setting_names_its_variable() -> None:
    line = _one_line_error(["projects"], {"LEDGER_POOL_SIZE": "many"})
    assert "LEDGER_POOL_SIZE" in line


def test_outside_the_project_folder_it_points_at_the_variable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    line = _one_line_error(["projects"], {"LEDGER_DATABASE_URL": None})
    assert "LEDGER_DATABASE_URL is not set" in line
    assert "ledger init" not in line  # that would create a new, empty ledger here
    assert not (tmp_path / "var").exists()


def test_a_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.db"
    line = _one_line_error(["verify"], {"LEDGER_DATABASE_URL": f"sqlite:///{path}"})
    assert f"no ledger database at {path}" in line
    assert not path.exists()


def test_debug_shows_the_traceback() -> None:
    url = f"postgresql://postgres@127.0.0.1:{_free_port()}/test"
    result = CliRunner().invoke(app, ["--debug", "projects"], env={"LEDGER_DATABASE_URL": url})
    assert result.exit_code != 0
    assert isinstance(result.exception, DatabaseUnreachableError)
    assert result.exception.cause == "port"


# --- the command line itself ---------------------------------------------------------------


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert re.fullmatch(r"ledger \(audit-ledger\) \d+\.\d+\.\d+\S*\n", result.stdout)


@pytest.mark.parametrize("command", [[], ["serve"], ["replay"], ["keys", "generate"],
                                     ["verify-bundle"], ["obligations"], ["init"]])
def test_help_shows_plain_types_defaults_and_env_vars(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "<bool>" not in text
    assert "list[" not in text
    assert "{" not in text
    if command == ["serve"]:
        assert "[env var: LEDGER_HOST]" in text
        assert "[default: 127.0.0.1]" in text
        assert "[default: 8000]" in text
    if command == ["keys", "generate"]:
        assert "--output" in text
        assert "--out " not in text
    if command == ["init"]:
        assert "[env var: LEDGER_PROFILE]" in text
        assert "gm" in text


def test_the_lazy_commands_help_table_matches_their_modules() -> None:
    by_module: dict[str, dict[str, str]] = {}
    for name, (module, short_help) in LAZY.items():
        by_module.setdefault(module, {})[name] = short_help
    for module, declared in by_module.items():
        real = loaded(module)
        assert set(real) == set(declared), module  # every command listed, none invented


def test_help_does_not_import_the_ledger() -> None:
    code = ("import sys; from api.cli import app; from typer.testing import CliRunner;"
            " CliRunner().invoke(app, ['--help']);"
            " print(sorted(m for m in sys.modules if m.startswith(('ledger.app', 'eventsourcing',"
            " 'psycopg', 'projections', 'api.cli_evidence'))))")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.strip()
    assert found == "[]"


def _demo(database_url: str) -> dict[str, str]:
    code, out = _run(database_url, "demo", "--json")
    assert code == 0, out
    return {key: str(value) for key, value in json.loads(out)["projects"].items()}


def test_demo_lists_the_refusals_it_shows(database_url: str) -> None:
    result = CliRunner().invoke(app, ["demo"], env={"LEDGER_DATABASE_URL": database_url,
                                                    "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    count = int(re.search(r"(\d+) filings the ledger refused", result.stdout).group(1))  # type: ignore[union-attr]
    assert count > 0
    assert result.stdout.count("Art. ") >= count


def test_replay_takes_a_prefix_and_shows_tables(database_url: str) -> None:
    projects = _demo(database_url)
    project = projects["hanji-village"] if "hanji-village" in projects else next(
        iter(projects.values()))
    result = CliRunner().invoke(app, ["replay", "--project", project[:6]],
                                env={"LEDGER_DATABASE_URL": database_url, **TEST_ENV,
                                     "COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    for heading in ("Eligibility 资金拨付条件", "Obligations 义务与期限", "Audit trail 审计轨迹",
                    "State hashes"):
        assert heading in result.stdout
    code, out = _run(database_url, "replay", "--project", project[:8], "--json")
    assert code == 0
    views = json.loads(out)["views"]
    assert set(views) == {"project", "eligibility", "obligations", "trail"}
    assert views["trail"]["state"][0]["seq"] == 1
    title = views["project"]["state"]["title"]
    assert title in result.stdout.replace("\n", "").replace(" ", "") or title in result.stdout


def test_titles_are_shown_whole_at_80_columns(database_url: str) -> None:
    _demo(database_url)
    result = CliRunner().invoke(app, ["projects"], env={"LEDGER_DATABASE_URL": database_url,
                                                       "COLUMNS": "80"})
    assert result.exit_code == 0
    assert "…" not in result.stdout
    _, out = _run(database_url, "projects", "--json")
    cells = "".join(line.split("│")[2].strip() for line in result.stdout.splitlines()
                    if line.count("│") > 3)
    for row in json.loads(out)["projects"]:
        assert row["title"] in cells


def test_not_yet_recorded_says_when_it_was(database_url: str) -> None:
    projects = _demo(database_url)
    project = next(iter(projects.values()))
    result = CliRunner().invoke(app, ["replay", "--project", project, "--as-known-at",
                                      "2020-01-01T00:00:00.000000Z"],
                                env={"LEDGER_DATABASE_URL": database_url, **TEST_ENV})
    assert result.exit_code == 2
    assert f"project {project} was not yet recorded at 2020-01-01T00:00:00.000000Z" \
           " (first entry recorded 20" in result.stderr
    assert "not found" not in result.stderr


def test_an_ambiguous_prefix_lists_the_projects(settings: Settings, ledger: Ledger,
                                                database_url: str) -> None:
    streams = [uuid.UUID("abcdef01-0000-4000-8000-000000000001"),
               uuid.UUID("abcdef01-0000-4000-8000-000000000002")]
    for stream in streams:
        ledger.submit(ledger.prepare("edu-wang", "ApplicationFiled",
                                     EXAMPLES["ApplicationFiled"], stream=stream))
    result = CliRunner().invoke(app, ["replay", "--project", "abcdef01"],
                                env={"LEDGER_DATABASE_URL": database_url, **TEST_ENV})
    assert result.exit_code == 2
    assert "ambiguous" in result.stderr
    assert all(str(stream) in result.stderr for stream in streams)
    code, out = _run(database_url, "replay", "--project", "abcdef010000400080000000000000002",
                     "--json")
    assert code == 2  # not a prefix of either (one digit too many)
    code, out = _run(database_url, "replay", "--project", "abcdef01-0000-4000-8000-000000000002",
                     "--json")
    assert code == 0, out
    assert json.loads(out)["project"] == str(streams[1])
    code, out = _run(database_url, "replay", "--project", "abcde", "--json")
    assert code == 2  # too short


def test_obligations_and_units(database_url: str) -> None:
    _demo(database_url)
    code, out = _run(database_url, "obligations", "--json")
    assert code == 0, out
    everything = json.loads(out)["obligations"]
    code, out = _run(database_url, "obligations", "--overdue", "--json")
    overdue = json.loads(out)["obligations"]
    assert overdue
    assert all(row["status"] == "overdue" for row in overdue)
    assert len(overdue) < len(everything)
    unit = overdue[0]["unit"]
    code, out = _run(database_url, "obligations", "--overdue", "--unit", unit, "--json")
    assert {row["unit"] for row in json.loads(out)["obligations"]} == {unit}
    code, out = _run(database_url, "units", "--standing", "--json")
    assert code == 0, out
    units = {row["unit"]: row for row in json.loads(out)["units"]}
    assert units[unit]["overdue"] >= 1
    barred = [row for row in units.values() if row["barred"]]
    assert barred
    assert all(reason["article"].startswith("Art. 22") for row in barred
               for reason in row["reasons"])
    result = CliRunner().invoke(app, ["units", "--standing"],
                                env={"LEDGER_DATABASE_URL": database_url, **TEST_ENV,
                                     "COLUMNS": "120"})
    assert result.exit_code == 0
    assert "barred" in result.stdout


def test_catch_up_brings_the_read_model_to_the_log(database_url: str) -> None:
    _demo(database_url)
    code, out = _run(database_url, "catch-up")
    assert code == 0, out
    entries = int(re.search(r"read model at entry (\d+)", out).group(1))  # type: ignore[union-attr]
    code, out = _run(database_url, "catch-up")
    assert f"read model at entry {entries} (0 new)" in out
    code, out = _run(database_url, "rebuild", "--json")
    assert json.loads(out)["entries"] >= entries > 0


def test_export_takes_a_prefix(database_url: str, tmp_path: Path) -> None:
    projects = _demo(database_url)
    project = next(iter(projects.values()))
    code, out = _run(database_url, "export", "--project", project[:7], "-o",
                     str(tmp_path / "case.zip"), "--json")
    assert code == 0, out
    assert json.loads(out)["project"] == project
    code, _ = _run(database_url, "export", "--project", "12345", "-o", str(tmp_path / "x.zip"))
    assert code == 2
    assert not (tmp_path / "x.zip").exists()


@pytest.mark.parametrize("where", ["127.0.0.1:{port}", "no-such-host.invalid"])
def test_submit_to_an_unreachable_ledger_is_one_line(tmp_path: Path, where: str) -> None:
    key = tmp_path / "key.json"
    assert CliRunner().invoke(app, ["keys", "generate", "--output", str(key)]).exit_code == 0
    filing = tmp_path / "filing.json"
    filing.write_text(json.dumps({"type": "ApplicationFiled", "payload": {}}), encoding="utf-8")
    url = "http://" + where.format(port=_free_port())
    line = _one_line_error(["submit", str(filing), "--key", str(key), "--url", url, "--token",
                            "t"], {})
    assert f"cannot reach the ledger at {url}" in line
    assert "nothing was submitted" in line


def _command_paths() -> list[list[str]]:
    """Every command and sub-command of the CLI, the lazily imported ones included."""
    import typer  # noqa: PLC0415

    root = typer.main.get_command(app)
    found: list[list[str]] = []

    def walk(command: object, path: list[str]) -> None:
        found.append(path)
        real = command.real() if hasattr(command, "real") else command
        for name, sub in getattr(real, "commands", {}).items():
            walk(sub, [*path, name])

    walk(root, [])
    return found


@pytest.mark.parametrize("path", _command_paths(), ids=lambda path: " ".join(path) or "ledger")
def test_every_help_is_plain(path: list[str]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for artefact in ("<bool>", "<str>", "<int>", "<float>", "<path>", "list["):
        assert artefact not in result.stdout, (path, artefact)
    usage = next(line for line in result.stdout.splitlines() if "Usage:" in line)
    assert "{" not in usage, usage  # an argument is NAME, not {name}


def test_a_silent_server_is_given_a_few_seconds() -> None:
    # Something listens on the port but never answers (a wrong service, a stuck proxy): the
    # connection is given up after CONNECT_TIMEOUT seconds, said as such.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        started = time.monotonic()
        line = _one_line_error(["projects"], {
            "LEDGER_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{port}/test"})
    assert f"did not answer within {CONNECT_TIMEOUT:g} s" in line
    assert CONNECT_TIMEOUT - 1 <= time.monotonic() - started < CONNECT_TIMEOUT + 5


def test_init_into_a_missing_folder_names_it(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "ledger.db"
    line = _one_line_error(["init"], {"LEDGER_DATABASE_URL": f"sqlite:///{path}", **TEST_ENV})
    assert f"the folder {path.parent} of LEDGER_DATABASE_URL" in line
    assert not path.parent.exists()
