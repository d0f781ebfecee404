"""The master key that seals software custodial keys (``ledger.service.custody``, docs/keys.md).

The development placeholder is refused wherever it would be used, unless the database was made
by ``ledger demo`` (or the environment is the test suite's), and always under ``production``;
reading and ``ledger verify`` never need a master key; ``ledger keys reseal`` moves every
sealed key to a new master key in one transaction, on SQLite and PostgreSQL, and a wrong old
key changes nothing.
"""

from __future__ import annotations

import base64
import logging
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from ledger.app import Ledger
from ledger.crypto.custody import Custodian
from ledger.errors import ConfigurationError, KeyNotValidError
from ledger.evidence.verify import verify_ledger
from ledger.log.store import CustodyRecord
from ledger.measures.catalogue import EXAMPLES
from ledger.measures.roles import Role
from ledger.service.custody import (
    DEMO_MARK,
    NOT_DEMO_REFUSAL,
    PLACEHOLDER_WARNING,
    PRODUCTION_REFUSAL,
)
from ledger.settings import DEVELOPMENT_MASTER_KEY, Settings
from ledgertest import upload_example_documents


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def _records(ledger: Ledger, key_ids: list[str]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for key_id in key_ids:
        record = ledger.log.get_custody(key_id)
        assert record is not None
        found[key_id] = record.sealed
    return found


@pytest.fixture
def opened() -> Callable[..., Ledger]:
    """Open ledgers; closed at the end of the test."""
    ledgers: list[Ledger] = []

    def open_(settings: Settings) -> Ledger:
        ledger = Ledger(settings)
        ledgers.append(ledger)
        return ledger

    yield open_  # type: ignore[misc]
    for ledger in ledgers:
        ledger.close()


# --- the placeholder ----------------------------------------------------------------------------


def test_placeholder_is_refused_outside_a_demo_database(
        database_url: str, opened: Callable[..., Ledger]) -> None:
    ledger = opened(Settings(database_url=database_url, environment="development"))
    with pytest.raises(ConfigurationError) as caught:
        ledger.initialise()
    assert str(caught.value) == NOT_DEMO_REFUSAL
    assert ledger.log.get_meta("origin") is None  # no key was made, nothing was fixed
    assert ledger.log.get_custody("log") is None


def test_placeholder_seals_a_demo_database_with_a_loud_warning(
        database_url: str, opened: Callable[..., Ledger],
        caplog: pytest.LogCaptureFixture) -> None:
    ledger = opened(Settings(database_url=database_url, environment="development"))
    ledger.custody.mark_demo("made by a test")
    with caplog.at_level(logging.WARNING, logger="ledger.keys"):
        ledger.initialise()
        ledger.register_actor("office-li", Role.OFFICE, None, "李")
    assert [r.getMessage() for r in caplog.records] == [PLACEHOLDER_WARNING]
    assert ledger.log.get_meta(DEMO_MARK) == "made by a test"
    # Another process on the same demo database finds the mark.
    again = opened(Settings(database_url=database_url, environment="development"))
    again.custody.check_signing()


def test_production_refuses_the_placeholder_in_one_line_even_on_a_demo(
        database_url: str, opened: Callable[..., Ledger]) -> None:
    settings = Settings(database_url=database_url, environment="production")  # no traceback
    assert settings.placeholder_master_key
    ledger = opened(settings)
    ledger.custody.mark_demo("made by a test")
    with pytest.raises(ConfigurationError) as caught:
        ledger.initialise()
    assert str(caught.value) == PRODUCTION_REFUSAL
    assert "\n" not in PRODUCTION_REFUSAL


def test_production_with_a_real_key_and_verify_without_any_key(
        database_url: str, opened: Callable[..., Ledger]) -> None:
    real = Settings(database_url=database_url, environment="production", master_key=_key())
    ledger = opened(real)
    ledger.initialise()
    upload_example_documents(ledger)
    ledger.register_actor("edu-wang", Role.UNIT, "edu", "王")
    ledger.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"])
    ledger.custody.check_signing()
    # A reader with no master key at all (the placeholder, production) verifies everything.
    reader = opened(Settings(database_url=database_url, environment="production"))
    report = verify_ledger(reader.log, reader.identity, workers=1)
    assert report.ok
    assert report.entries == ledger.log.tree_size()
    with pytest.raises(ConfigurationError, match="production refuses"):
        reader.custody.check_signing()  # but it could not serve


def test_cli_production_placeholder_is_one_line_and_verify_still_runs(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    runner = CliRunner()
    refused = runner.invoke(app, ["init"], env={
        "LEDGER_DATABASE_URL": url, "LEDGER_ENVIRONMENT": "production",
        "LEDGER_MASTER_KEY": DEVELOPMENT_MASTER_KEY})
    assert refused.exit_code == 2
    lines = refused.stderr.strip().splitlines() if hasattr(refused, "stderr") else []
    assert lines
    assert lines[0].startswith("error: LEDGER_ENVIRONMENT=production refuses")
    assert "Traceback" not in refused.output
    made = runner.invoke(app, ["init"], env={
        "LEDGER_DATABASE_URL": url, "LEDGER_ENVIRONMENT": "production",
        "LEDGER_MASTER_KEY": _key()})
    assert made.exit_code == 0, made.output
    verified = runner.invoke(app, ["verify", "--json"], env={
        "LEDGER_DATABASE_URL": url, "LEDGER_ENVIRONMENT": "production",
        "LEDGER_MASTER_KEY": DEVELOPMENT_MASTER_KEY})
    assert verified.exit_code == 0, verified.output


# --- reseal -------------------------------------------------------------------------------------


def test_reseal_moves_every_key_in_one_transaction(
        database_url: str, opened: Callable[..., Ledger]) -> None:
    old, new = _key(), _key()
    before = opened(Settings(database_url=database_url, environment="production",
                             master_key=old))
    before.initialise()
    upload_example_documents(before)
    before.register_actor("edu-wang", Role.UNIT, "edu", "王")
    before.register_actor("office-li", Role.OFFICE, None, "李")
    key_ids = ["log", before.identity.root_key_id,
               *(k.key_id for k in before.registry().keys.values())]
    sealed = _records(before, key_ids)
    assert before.custody.reseal(base64.b64decode(new)) == len(key_ids) == 5  # + admin
    resealed = _records(before, key_ids)
    assert all(resealed[k] != sealed[k] for k in key_ids)
    # The new key opens every key, signs filings and checkpoints; the old one opens nothing.
    after = opened(Settings(database_url=database_url, environment="production",
                            master_key=new))
    after.custody.check_signing()
    after.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"])
    assert verify_ledger(after.log, after.identity, workers=1).ok
    stale = opened(Settings(database_url=database_url, environment="production",
                            master_key=old))
    with pytest.raises(KeyNotValidError, match="does not open with this master key"):
        stale.custody.check_signing()


def test_reseal_with_a_wrong_old_key_changes_nothing(
        database_url: str, opened: Callable[..., Ledger]) -> None:
    right = _key()
    ledger = opened(Settings(database_url=database_url, environment="test", master_key=right))
    ledger.initialise()
    ledger.register_actor("office-li", Role.OFFICE, None, "李")
    key_ids = ["log", ledger.identity.root_key_id,
               *(k.key_id for k in ledger.registry().keys.values())]
    sealed = _records(ledger, key_ids)
    wrong = opened(Settings(database_url=database_url, environment="test", master_key=_key()))
    with pytest.raises(KeyNotValidError, match="does not open with this master key"):
        wrong.custody.reseal(base64.b64decode(_key()))
    assert _records(ledger, key_ids) == sealed
    # A half-opened set (one key sealed otherwise) is refused as a whole too.
    ledger.log.put_custody(CustodyRecord("stray", "nobody", os.urandom(60)))
    with pytest.raises(KeyNotValidError, match="'stray'"):
        ledger.custody.reseal(base64.b64decode(_key()))
    assert _records(ledger, key_ids) == sealed


def test_reseal_leaves_the_placeholder_but_never_goes_to_it(
        database_url: str, opened: Callable[..., Ledger]) -> None:
    # A database sealed under the placeholder before it was refused: reseal is the way out.
    legacy = opened(Settings(database_url=database_url, environment="test"))
    legacy.initialise()
    mover = opened(Settings(database_url=database_url, environment="development"))
    with pytest.raises(ConfigurationError, match="only seals a database made by `ledger demo`"):
        mover.custody.check_signing()
    with pytest.raises(ConfigurationError, match="may not be the placeholder"):
        mover.custody.reseal(Settings().master_key_bytes)
    new = _key()
    assert mover.custody.reseal(base64.b64decode(new)) == 3  # log, root, admin
    opened(Settings(database_url=database_url, environment="development",
                    master_key=new)).custody.check_signing()


def test_cli_master_key_and_reseal(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    runner = CliRunner()
    old = _key()
    env = {"LEDGER_DATABASE_URL": url, "LEDGER_ENVIRONMENT": "development",
           "LEDGER_MASTER_KEY": old}
    assert runner.invoke(app, ["init"], env=env).exit_code == 0
    key_file = tmp_path / "new.key"
    made = runner.invoke(app, ["keys", "master-key", "--output", str(key_file)], env=env)
    assert made.exit_code == 0, made.output
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert runner.invoke(app, ["keys", "master-key", "-o", str(key_file)], env=env
                         ).exit_code == 2  # never overwritten
    wrong = runner.invoke(app, ["keys", "reseal", "--new-key-file", str(key_file)],
                          env={**env, "LEDGER_MASTER_KEY": _key()})
    assert wrong.exit_code == 2
    assert "does not open with this master key" in wrong.output
    done = runner.invoke(app, ["keys", "reseal", "--new-key-file", str(key_file), "--json"],
                         env=env)
    assert done.exit_code == 0, done.output
    assert '"resealed": 3' in done.stdout  # log, root, admin
    new = key_file.read_text(encoding="ascii").strip()
    added = runner.invoke(app, ["actors", "add", "office-li", "--role", "office"],
                          env={**env, "LEDGER_MASTER_KEY": new})
    assert added.exit_code == 0, added.output


# --- the database file --------------------------------------------------------------------------


def test_sqlite_database_files_are_created_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    ledger = Ledger(Settings(database_url=f"sqlite:///{path}", environment="test"))
    try:
        ledger.initialise()
        for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            if file.exists():
                assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    finally:
        ledger.close()


def test_ledger_demo_marks_its_database_and_runs_on_the_placeholder(
        tmp_path: Path, opened: Callable[..., Ledger],
        caplog: pytest.LogCaptureFixture) -> None:
    from ledger.demo import load_demo  # noqa: PLC0415

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'demo.db'}",
                        environment="development")
    with caplog.at_level(logging.WARNING, logger="ledger.keys"):
        result = load_demo(settings)
    assert result.entries > 0
    assert PLACEHOLDER_WARNING in [r.getMessage() for r in caplog.records]
    demo = opened(settings)
    mark = demo.log.get_meta(DEMO_MARK)
    assert mark is not None
    assert mark.startswith("made by `ledger demo`")
    demo.custody.check_signing()  # a server may start on it, warned
    assert verify_ledger(demo.log, demo.identity, workers=1).ok


@pytest.mark.parametrize("sealed", [b"", b"\x00" * 5, b"\x00" * 40])
def test_a_sealed_key_edited_in_the_database_is_not_valid(sealed: bytes) -> None:
    """A custody row cut short or replaced: KeyNotValidError naming the key, not AESGCM's
    ValueError or InvalidTag."""
    with pytest.raises(KeyNotValidError, match="log"):
        Custodian(os.urandom(32)).open("log", sealed)
