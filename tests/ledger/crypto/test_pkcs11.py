"""Signing keys in a PKCS#11 token (``ledger.crypto.pkcs11``), against a real SoftHSM2 token.

The URI is RFC 7512's; the keys are Ed25519 (``CKK_EC_EDWARDS``, ``CKM_EDDSA``), generated in the
token, never extractable; the ledger keeps only handles to them, and checkpoints and custodial
filings are signed by the token on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pkcs11
import pytest
from pkcs11 import Attribute, ObjectClass

from ledger.app import Ledger
from ledger.crypto.custody import handle_of, handle_record
from ledger.crypto.interface import HeldKey
from ledger.crypto.keystores import keystore_for
from ledger.crypto.pkcs11 import Pkcs11Ed25519Signer, Pkcs11Uri, open_token, parse_pkcs11_uri
from ledger.crypto.suites import Ed25519Suite
from ledger.errors import (
    BadSignatureError,
    ConfigurationError,
    KeyNotValidError,
    SigningUnavailableError,
)
from ledger.evidence.verify import verify_ledger
from ledger.log.checkpoint import SignedNote, verify_note
from ledger.log.entries import b64decode
from ledger.log.store import CustodyRecord
from ledger.measures.catalogue import EXAMPLES
from ledger.measures.roles import Role
from ledger.settings import Settings
from ledgertest import free_port, server_process, upload_example_documents

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
MASTER = "mFtN2nn8cH0vR3Zx8qzL3eQm9V0l1k2hJ4s6Y7b8c9A="


# --- the URI ------------------------------------------------------------------------------------


def test_uri_in_rfc7512_form(tmp_path: Path) -> None:
    pin = tmp_path / "pin"
    pin.write_text("1234\n", encoding="utf-8")
    uri = parse_pkcs11_uri(f"pkcs11:token=my%20ledger;serial=abc?module-path={MODULE}"
                           f"&pin-source=file:{pin}")
    assert uri == Pkcs11Uri(module_path=MODULE, token="my ledger", serial="abc", pin="1234")
    assert "1234" not in repr(uri)
    assert "1234" not in uri.describe()
    # pin-value in the query, and (as some tools write it) in the path
    assert parse_pkcs11_uri(f"pkcs11:token=t?module-path={MODULE}&pin-value=99").pin == "99"
    assert parse_pkcs11_uri(f"pkcs11:token=t;pin-value=98?module-path={MODULE}").pin == "98"
    assert parse_pkcs11_uri(f"pkcs11:slot-id=7?module-path={MODULE}").slot_id == 7


@pytest.mark.parametrize(("text", "says"), [
    ("pkcs12:token=t", "software` or a pkcs11: URI"),
    ("pkcs11:token=t", "module-path"),
    (f"pkcs11:token=t;object=log?module-path={MODULE}", "chosen by the ledger"),
    (f"pkcs11:token=t;colour=red?module-path={MODULE}", "unknown attribute 'colour'"),
    (f"pkcs11:token?module-path={MODULE}", "no value"),
    (f"pkcs11:slot-id=one?module-path={MODULE}", "slot-id must be a number"),
    (f"pkcs11:token=t?module-path={MODULE}&pin-source=/no/such/pin", "pin-source"),
])
def test_uri_refusals_name_the_problem(text: str, says: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_pkcs11_uri(text)
    assert says in str(caught.value)


# --- the token ----------------------------------------------------------------------------------


def test_generated_key_signs_ed25519_and_never_leaves_the_token(softhsm_uri: str) -> None:
    token = open_token(parse_pkcs11_uri(softhsm_uri))
    signer = token.generate("audit-ledger test")
    assert signer.suite == "ed25519"
    assert len(signer.public_key) == 32
    signature = signer.sign(b"a checkpoint body\n")
    Ed25519Suite().verify(signer.public_key, b"a checkpoint body\n", signature)
    with pytest.raises(BadSignatureError):
        Ed25519Suite().verify(signer.public_key, b"another body\n", signature)
    # RFC 8032 Ed25519 is deterministic: the token's signature is the one the key must make.
    assert signer.sign(b"a checkpoint body\n") == signature
    private = token.private_key(signer.object_id)
    assert private[Attribute.SENSITIVE] is True
    assert private[Attribute.EXTRACTABLE] is False
    assert private[Attribute.NEVER_EXTRACTABLE] is True
    with pytest.raises(pkcs11.PKCS11Error):
        private[Attribute.VALUE]
    with pytest.raises(TypeError):
        Ed25519Suite().export(signer)  # and the software suite will not seal it


def test_tokens_are_chosen_by_every_attribute_the_uri_gives(softhsm_uri: str) -> None:
    token = open_token(parse_pkcs11_uri(softhsm_uri))
    serial = token._session.token.serial.strip()
    by_serial = open_token(parse_pkcs11_uri(
        f"pkcs11:serial={serial};manufacturer=SoftHSM%20project?module-path={MODULE}"
        "&pin-value=246810"))
    assert by_serial.label == "ledger-test"
    with pytest.raises(ConfigurationError, match="2 PKCS#11 tokens match"):
        open_token(parse_pkcs11_uri(
            f"pkcs11:manufacturer=SoftHSM%20project?module-path={MODULE}&pin-value=1"))
    with pytest.raises(ConfigurationError, match="no PKCS#11 token"):
        open_token(parse_pkcs11_uri(
            f"pkcs11:token=ledger-test;model=Other?module-path={MODULE}&pin-value=1"))


def test_unknown_key_store_schemes_are_named() -> None:
    with pytest.raises(ConfigurationError, match="no key store for 'sdf'; known: software, pkcs11"):
        keystore_for("sdf:device=1")


def test_key_is_found_again_by_its_handle(softhsm_uri: str) -> None:
    token = open_token(parse_pkcs11_uri(softhsm_uri))
    made = token.generate("audit-ledger found")
    found = token.find("k", made.object_id)
    assert isinstance(found, HeldKey)
    assert found.handle == made.object_id
    assert found.public_key == made.public_key
    Ed25519Suite().verify(made.public_key, b"m", found.sign(b"m"))
    with pytest.raises(KeyNotValidError, match="holds no key with CKA_ID"):
        token.find("k", b"\x01" * 16)
    assert handle_of(handle_record(made.object_id)) == made.object_id
    assert handle_of(b"\x00" * 60) is None


def test_a_lost_session_is_logged_in_again_and_a_lost_key_is_told(softhsm_uri: str) -> None:
    token = open_token(parse_pkcs11_uri(softhsm_uri))
    signer = token.generate("audit-ledger reconnect")
    token._session.close()  # as when an HSM restarts or a network HSM drops the connection
    Ed25519Suite().verify(signer.public_key, b"after", signer.sign(b"after"))
    token.private_key(signer.object_id).destroy()
    with pytest.raises(SigningUnavailableError, match="did not sign: no key with CKA_ID"):
        signer.sign(b"gone")


def test_a_wrong_pin_or_missing_token_is_one_clear_error(softhsm_uri: str) -> None:
    open_token(parse_pkcs11_uri(softhsm_uri))  # the module is loaded with the test tokens
    with pytest.raises(ConfigurationError,
                       match=r"the PIN for pkcs11:token=ledger-other\?module-path=\S+ is wrong"):
        open_token(parse_pkcs11_uri(f"pkcs11:token=ledger-other?module-path={MODULE}"
                                    "&pin-value=000000"))
    with pytest.raises(ConfigurationError, match="no PKCS#11 token pkcs11:token=absent"):
        open_token(parse_pkcs11_uri(f"pkcs11:token=absent?module-path={MODULE}&pin-value=1"))
    with pytest.raises(ConfigurationError, match=r"no PKCS#11 module at /nowhere\.so"):
        open_token(parse_pkcs11_uri("pkcs11:token=t?module-path=/nowhere.so&pin-value=1"))


# --- the ledger with its keys in the token ------------------------------------------------------


@pytest.fixture
def hsm_settings(database_url: str, softhsm_uri: str) -> Settings:
    """Keys in the token; a real master key that this ledger never needs."""
    return Settings(database_url=database_url, environment="test", keys=softhsm_uri,
                    master_key=MASTER)


@pytest.fixture
def hsm_ledger(hsm_settings: Settings) -> Iterator[Ledger]:
    ledger = Ledger(hsm_settings)
    ledger.initialise()
    upload_example_documents(ledger)
    ledger.register_actor("office-li", Role.OFFICE, None, "综合管理办公室 李")
    ledger.register_actor("edu-wang", Role.UNIT, "edu", "教育和体育部 王")
    yield ledger
    ledger.close()


def _token_objects(ledger: Ledger, key_id: str) -> list[object]:
    record = ledger.log.get_custody(key_id)
    assert record is not None
    handle = handle_of(record.sealed)
    assert handle is not None, f"{key_id} is sealed in software, not held in the token"
    signer = ledger.custody.signer(key_id)
    assert isinstance(signer, Pkcs11Ed25519Signer)
    assert signer.object_id == handle
    return [signer]


def test_log_root_and_custodial_keys_live_in_the_token(hsm_ledger: Ledger) -> None:
    assert hsm_ledger.custody.keystore == "pkcs11"
    registry = hsm_ledger.registry()
    custodial = [k.key_id for k in registry.keys.values()]
    for key_id in ["log", hsm_ledger.identity.root_key_id, *custodial]:
        _token_objects(hsm_ledger, key_id)
    # What the database holds is a handle: nothing in it opens to a private key.
    record = hsm_ledger.log.get_custody("log")
    assert record is not None
    assert len(record.sealed) == 15 + 16


def test_checkpoints_and_custodial_filings_are_signed_by_the_token(
        hsm_ledger: Ledger, hsm_settings: Settings) -> None:
    first = hsm_ledger.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"])
    hsm_ledger.file("office-li", "ReviewOpinionIssued", EXAMPLES["ReviewOpinionIssued"],
                    stream=first.stream)
    identity = hsm_ledger.identity
    latest = hsm_ledger.log.latest_checkpoint()
    assert latest is not None
    assert latest.size == hsm_ledger.log.tree_size()
    verify_note(SignedNote.parse(latest.note), [identity.log_key])
    # A filing's signature is the author key's, made by the token: check it against the
    # registered public key, and that the token's key is that key.
    entry = hsm_ledger.reads.events_of(first.stream)[0]
    key = hsm_ledger.registry().keys[entry.filing.key]
    assert hsm_ledger.custody.signer(key.key_id).public_key == key.public_key
    Ed25519Suite().verify(key.public_key, entry.filing.signing_bytes(),
                          b64decode(entry.signature))
    # A restarted server (a new process's view) finds the keys in the token again.
    again = Ledger(hsm_settings)
    try:
        again.custody.check_signing()
        again.file("edu-wang", "MaterialsSupplemented", EXAMPLES["MaterialsSupplemented"],
                   stream=first.stream)
    finally:
        again.close()
    report = verify_ledger(hsm_ledger.log, identity, workers=1)
    assert report.ok, report.first
    assert report.entries == hsm_ledger.log.tree_size()
    assert report.checkpoints >= 3


def test_verify_needs_neither_the_token_nor_a_master_key(
        hsm_ledger: Ledger, database_url: str) -> None:
    hsm_ledger.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"])
    reader = Ledger(Settings(database_url=database_url, environment="development"))
    try:
        report = verify_ledger(reader.log, reader.identity, workers=1)
        assert report.ok, report.first
        with pytest.raises(ConfigurationError, match="held in a PKCS#11 token: set LEDGER_KEYS"):
            reader.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"])
    finally:
        reader.close()


def test_a_log_key_that_is_not_the_recorded_one_is_refused(
        hsm_ledger: Ledger, hsm_settings: Settings, softhsm_uri: str) -> None:
    stranger = open_token(parse_pkcs11_uri(softhsm_uri)).generate("not the log key")
    hsm_ledger.log.reseal_custody(
        lambda record: handle_record(stranger.object_id) if record.key_id == "log" else None)
    restarted = Ledger(hsm_settings)
    try:
        with pytest.raises(ConfigurationError, match="not the one recorded at `ledger init`"):
            restarted.custody.check_signing()
    finally:
        restarted.close()


def test_new_keys_go_to_the_token_beside_older_software_keys(
        database_url: str, softhsm_uri: str) -> None:
    software = Settings(database_url=database_url, environment="test", master_key=MASTER)
    ledger = Ledger(software)
    ledger.initialise()
    ledger.close()
    hsm = Ledger(software.model_copy(update={"keys": Settings(keys=softhsm_uri).keys}))
    try:
        key = hsm.register_actor("office-li", Role.OFFICE, None, "李")
        assert handle_of(_custody(hsm, key.key_id).sealed) is not None
        assert handle_of(_custody(hsm, "log").sealed) is None  # the log key stays sealed
        hsm.custody.check_signing()
        upload_example_documents(hsm)
        hsm.register_actor("edu-wang", Role.UNIT, "edu", "王")
        hsm.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"])
        assert verify_ledger(hsm.log, hsm.identity, workers=1).ok
    finally:
        hsm.close()


def test_gm_ledgers_are_told_how_sm2_cipher_machines_plug_in(
        database_url: str, softhsm_uri: str) -> None:
    ledger = Ledger(Settings(database_url=database_url, environment="test", keys=softhsm_uri,
                             profile="gm"))
    try:
        with pytest.raises(ConfigurationError, match=r"docs/gm-profile\.md"):
            ledger.initialise()
        assert ledger.log.get_meta("origin") is None
    finally:
        ledger.close()


def _custody(ledger: Ledger, key_id: str) -> CustodyRecord:
    record = ledger.log.get_custody(key_id)
    assert record is not None
    return record


def test_private_key_objects_are_private_and_labelled(hsm_ledger: Ledger, softhsm_uri: str) -> None:
    token = open_token(parse_pkcs11_uri(softhsm_uri))
    handle = handle_of(_custody(hsm_ledger, "log").sealed)
    objects = list(token._session.get_objects({Attribute.ID: handle}))
    classes = sorted(int(o[Attribute.CLASS]) for o in objects)
    assert classes == sorted([int(ObjectClass.PUBLIC_KEY), int(ObjectClass.PRIVATE_KEY)])
    for obj in objects:
        assert obj[Attribute.TOKEN] is True
        assert obj[Attribute.LABEL] == "audit-ledger log"
        if int(obj[Attribute.CLASS]) == int(ObjectClass.PRIVATE_KEY):
            assert obj[Attribute.PRIVATE] is True


def test_a_server_and_its_writer_process_sign_with_the_token(
        database_url: str, softhsm_uri: str, tmp_path: Path) -> None:
    """`uvicorn api.app:create_app`: the API process checks the log key at start, its writer
    process (spawned) logs in to the token itself and signs the custodial filings and the
    checkpoints; everything verifies."""
    import sys  # noqa: PLC0415

    import httpx  # noqa: PLC0415

    settings = Settings(database_url=database_url, environment="test", keys=softhsm_uri,
                        master_key=MASTER)
    ledger = Ledger(settings)
    try:
        ledger.initialise()
        upload_example_documents(ledger)
        ledger.register_actor("edu-wang", Role.UNIT, "edu", "王")
        token = ledger.tokens.issue("edu-wang")
    finally:
        ledger.close()
    port = free_port()
    env = dict(os.environ, LEDGER_DATABASE_URL=database_url, LEDGER_ENVIRONMENT="test",
               LEDGER_KEYS=softhsm_uri, LEDGER_MASTER_KEY=MASTER, LEDGER_WRITER="process")
    with server_process(
            [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host",
             "127.0.0.1", "--port", str(port), "--log-level", "warning"], port, env=env,
            ready="/readyz", log=tmp_path / "server.log") as url:
        headers = {"Authorization": f"Bearer {token}"}
        opened = httpx.post(f"{url}/api/v1/projects", headers=headers, timeout=60,
                            json={"payload": EXAMPLES["ApplicationFiled"]})
        assert opened.status_code == 201, opened.text
        stream = opened.json()["stream"]
        for _ in range(3):
            filed = httpx.post(f"{url}/api/v1/projects/{stream}/events", headers=headers,
                               timeout=60, json={"type": "MaterialsSupplemented",
                                                 "payload": EXAMPLES["MaterialsSupplemented"]})
            assert filed.status_code == 201, filed.text
    reader = Ledger(Settings(database_url=database_url, environment="test"))
    try:
        report = verify_ledger(reader.log, reader.identity, workers=1)
        assert report.ok, report.first
        latest = reader.log.latest_checkpoint()
        assert latest is not None
        assert latest.size == reader.log.tree_size()
        verify_note(SignedNote.parse(latest.note), [reader.identity.log_key])
        assert handle_of(_custody(reader, "log").sealed) is not None
    finally:
        reader.close()


def test_cli_hsm_check_says_where_the_keys_live(
        database_url: str, softhsm_uri: str, tmp_path: Path) -> None:
    import json  # noqa: PLC0415

    from typer.testing import CliRunner  # noqa: PLC0415

    from api.cli import app  # noqa: PLC0415

    runner = CliRunner()
    url = database_url if not database_url.startswith("sqlite") else (
        f"sqlite:///{tmp_path / 'cli.db'}")
    env = {"LEDGER_DATABASE_URL": url, "LEDGER_KEYS": softhsm_uri, "LEDGER_MASTER_KEY": MASTER}
    before = runner.invoke(app, ["keys", "hsm-check", "--json"], env=env)
    assert before.exit_code == 0, before.output
    assert json.loads(before.stdout)["token"] == "ledger-test"
    assert runner.invoke(app, ["init"], env=env).exit_code == 0
    after = runner.invoke(app, ["keys", "hsm-check", "--json"], env=env)
    assert after.exit_code == 0, after.output
    shown = json.loads(after.stdout)
    assert shown["log_key"] == shown["root_key"] == "in the token"
    software = runner.invoke(app, ["keys", "hsm-check"], env={**env, "LEDGER_KEYS": "software"})
    assert software.exit_code == 2
    assert "LEDGER_KEYS is `software`" in software.output
