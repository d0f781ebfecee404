"""``ledger witness init|serve|status``: set up and run the Audit Branch's witness service.

``init`` creates the witness's key file and state file (both 0600) and pins log keys; run again,
it pins more log keys and prints the vkey. It never recreates a state for an existing key, nor a
key for an existing state: a witness that lost its state could be led to cosign a fork, so it is
retired (a new name and key), not restarted. ``serve`` refuses to start without both files.

Exit codes: 0 done; 2 a usage, setup or state error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from ledger.errors import CheckpointError, LedgerError
from ledger.log.checkpoint import VerifierKey
from witness.errors import WitnessSetupError
from witness.keys import generate_cosigner_key, read_key_file, write_key_file
from witness.service import Witness
from witness.store import WitnessStore

State = Annotated[Path, typer.Option("--state", help="The witness's SQLite state file.")]
KeyFile = Annotated[Path | None, typer.Option(
    "--key", help="The witness's private key file (default: the state file's path + .key).")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _key_path(state: Path, key: Path | None) -> Path:
    return key if key is not None else state.with_name(state.name + ".key")


def _fail(message: str) -> typer.Exit:
    sys.stderr.write(f"error: {message}\n")
    return typer.Exit(2)


def open_witness(state: Path, key: Path | None = None) -> Witness:
    """The witness over an existing state and key file; WitnessSetupError if either is wrong."""
    cosigner = read_key_file(_key_path(state, key))
    store = WitnessStore.open(state)
    try:
        return Witness(store, cosigner)
    except LedgerError:
        store.close()
        raise


def init(state: State,
         name: Annotated[str | None, typer.Option(
             "--name", help="The witness's key name, a schema-less URL the Audit Branch controls"
                            " (required the first time; it is part of the vkey).")] = None,
         log_vkey: Annotated[list[str] | None, typer.Option(
             "--log-vkey", help="A log's verifier key NAME+KEYID+KEY to pin; its name is the log's"
                                " origin (repeatable).")] = None,
         key: KeyFile = None, as_json: JsonFlag = False) -> None:
    """Create the witness's key and state (0600), pin log keys, and print the witness's vkey."""
    key_path = _key_path(state, key)
    try:
        pinned = [VerifierKey.parse(text) for text in log_vkey or ()]
    except CheckpointError as exc:
        raise _fail(f"bad --log-vkey: {exc}") from None
    try:
        if not state.exists() and not key_path.exists():
            if name is None:
                raise WitnessSetupError("--name is required to create a witness")
            cosigner = generate_cosigner_key(name)
            write_key_file(key_path, cosigner)
            WitnessStore.create(state, cosigner.name, cosigner.verifier_key.encode()).close()
        elif not state.exists():
            raise WitnessSetupError(
                f"{key_path} exists but the state {state} does not: that key may have cosigned,"
                " and a witness without its state can be led to cosign a fork. Restore the"
                " state, or retire the key and init a new witness under a new name")
        witness = open_witness(state, key)
        if name is not None and name != witness.key.name:
            raise WitnessSetupError(f"this witness is named {witness.key.name!r}, not {name!r}")
        added = [k.encode() for k in pinned if witness.store.add_log_key(k)]
        logs = {origin: [k.encode() for k in keys]
                for origin, keys in witness.store.log_keys().items()}
        witness.store.close()
    except LedgerError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        sys.stdout.write(json.dumps({"name": witness.key.name, "vkey": witness.vkey,
                                     "state": str(state), "key": str(key_path),
                                     "logs": logs, "added": added}, indent=2) + "\n")
    else:
        sys.stdout.write(witness.vkey + "\n")


def serve(state: State, key: KeyFile = None,
          host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="TCP port.")] = 7380) -> None:
    """Serve POST /add-checkpoint (C2SP tlog-witness) with uvicorn; needs init's files."""
    import uvicorn  # noqa: PLC0415 - only the server needs it

    from witness.app import create_app  # noqa: PLC0415

    try:
        witness = open_witness(state, key)
    except LedgerError as exc:
        raise _fail(str(exc)) from None
    if not witness.log_keys:
        witness.store.close()
        raise _fail(f"{state} pins no log key: `ledger witness init --state {state}"
                    " --log-vkey VKEY`")
    sys.stderr.write(f"witness {witness.key.name} {witness.vkey} for"
                     f" {', '.join(sorted(witness.log_keys))} on {host}:{port}\n")
    try:
        uvicorn.run(create_app(witness), host=host, port=port, log_level="warning",
                    access_log=False)
    finally:
        witness.store.close()


def status(state: State, key: KeyFile = None, as_json: JsonFlag = False) -> None:
    """Print the witness's vkey, the pinned logs and the latest size cosigned for each."""
    try:
        witness = open_witness(state, key)
    except LedgerError as exc:
        raise _fail(str(exc)) from None
    latest = {c.origin: c for c in witness.store.all_latest()}
    evidence = witness.store.evidence()
    witness.store.close()
    logs = [{"origin": origin, "log_keys": [k.encode() for k in keys],
             "size": latest[origin].size if origin in latest else None,
             "cosigned_at": latest[origin].time if origin in latest else None,
             "evidence": sum(1 for row in evidence if row[0] == origin)}
            for origin, keys in sorted(witness.log_keys.items())]
    if as_json:
        sys.stdout.write(json.dumps({"name": witness.key.name, "vkey": witness.vkey,
                                     "logs": logs}, indent=2) + "\n")
        return
    sys.stdout.write(f"{witness.vkey}\n")
    for log in logs:
        size = "nothing cosigned yet" if log["size"] is None else f"size {log['size']}"
        sys.stdout.write(f"  {log['origin']}: {size}; {log['evidence']} refused request(s)"
                         " kept as evidence\n")


def add_commands(group: typer.Typer) -> None:
    """Add ``init``, ``serve`` and ``status`` to a typer group (``ledger witness``)."""
    group.command("init")(init)
    group.command("serve")(serve)
    group.command("status")(status)


__all__ = ["add_commands", "init", "open_witness", "serve", "status"]
