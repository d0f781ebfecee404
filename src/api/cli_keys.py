"""Key-custody commands of the ``ledger keys`` group (docs/keys.md).

``master-key`` writes a new master key to a file (owner-only); ``reseal`` seals every software
key again under a new master key, in one transaction (a wrong ``LEDGER_MASTER_KEY`` changes
nothing); ``hsm-check`` logs in to the PKCS#11 token ``LEDGER_KEYS`` names and, on a ledger,
has the log key sign a probe, and says where the log and root keys live.

Exit codes: 0 done; 2 a configuration error, told in one line.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from api.cli_errors import fail, load_settings, open_ledger, reported
from ledger.errors import LedgerNotInitialisedError

console = Console()

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")


def master_key(output: Annotated[Path, typer.Option(
        "--output", "-o", help="File to write the new key to (created 0600; never overwritten).")],
               ) -> None:
    """Write a new random master key (base64 of 32 bytes) to a file only its owner can read."""
    try:
        fd = os.open(output, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        raise fail(f"{output} exists; not overwriting a key") from None
    except OSError as exc:
        raise fail(f"cannot create {output}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(base64.b64encode(os.urandom(32)).decode() + "\n")
    console.print(f"wrote a new master key to {output}. Use it as LEDGER_MASTER_KEY for a new"
                  " ledger, or move an existing one to it with `ledger keys reseal --new-key-file"
                  f" {output}`", soft_wrap=True)


def reseal(new_key_file: Annotated[Path, typer.Option(
        "--new-key-file", help="File holding the new master key (`ledger keys master-key`).")],
           as_json: JsonFlag = False) -> None:
    """Seal every software custodial key again under a new master key, in one transaction.

    The old key is LEDGER_MASTER_KEY as set now (the development placeholder too: this is how a
    ledger leaves it). If any key does not open with it, nothing changes. Stop the servers
    first; start them again with LEDGER_MASTER_KEY set to the new key.
    """
    from ledger.settings import decode_master_key  # noqa: PLC0415 - `ledger --help` stays fast

    try:
        text = new_key_file.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {new_key_file}: {exc}") from None
    with reported():
        new = decode_master_key(text, f"the key in {new_key_file}")
    with open_ledger() as ledger:
        count = ledger.custody.reseal(new)
    if as_json:
        _print_json({"resealed": count})
        return
    console.print(f"resealed {count} key(s) under the new master key. Restart every server and"
                  f" writer with LEDGER_MASTER_KEY set to the contents of {new_key_file}; the old"
                  " key opens nothing any more.", soft_wrap=True)


def hsm_check(as_json: JsonFlag = False) -> None:
    """Log in to the PKCS#11 token LEDGER_KEYS names and check it offers Ed25519; on an
    initialised ledger, also find the log key, have it sign a probe and verify that, and say
    where the log and root keys live."""
    from ledger.crypto.custody import handle_of  # noqa: PLC0415
    from ledger.crypto.pkcs11 import open_token, parse_pkcs11_uri  # noqa: PLC0415

    with reported():
        uri_text = load_settings().keys_uri
        if uri_text is None:
            raise fail("LEDGER_KEYS is `software`: set it to the token's pkcs11: URI"
                       " (docs/keys.md)")
        uri = parse_pkcs11_uri(uri_text)
        token = open_token(uri)  # logs in, and checks the Ed25519 mechanisms are there
    info: dict[str, Any] = {"token": token.label, "module": uri.module_path,
                            "mechanisms": "CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA"}
    with open_ledger(initialised=False) as ledger:
        try:
            identity = ledger.identity
        except LedgerNotInitialisedError:  # no ledger here yet: the token alone is checked
            identity = None
        if identity is not None:
            ledger.custody.check_signing()
            for name, key_id in (("log_key", "log"), ("root_key", identity.root_key_id)):
                record = ledger.log.get_custody(key_id)
                held = record is not None and handle_of(record.sealed) is not None
                info[name] = "in the token" if held else "sealed in software"
    if as_json:
        _print_json(info)
        return
    for name, value in info.items():
        console.print(f"[bold]{name}[/bold]: {value}", soft_wrap=True)


def register(keys: typer.Typer) -> None:
    """Add the key-custody commands to the ``ledger keys`` group."""
    keys.command("master-key")(master_key)
    keys.command("reseal")(reseal)
    keys.command("hsm-check")(hsm_check)
