"""The ``ledger`` command line end to end on both backends; ``verify-bundle``'s trust, failure
and output rules on the evidence corpus (tests/vectors/evidence/, no database)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from ledger.evidence.bundle import LogKeyNotPinnedError
from ledger.evidence.trust import TRUST_ENV, load_trust_file

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "evidence"


def _run(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"LEDGER_DATABASE_URL": url})
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
    result = CliRunner().invoke(app, ["projects"], env={"LEDGER_DATABASE_URL": database_url})
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
