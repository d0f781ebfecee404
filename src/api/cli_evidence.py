"""Evidence and witness commands of the ``ledger`` CLI (docs/design.md §5, §6).

``export`` writes a project's evidence bundle; ``verify-bundle`` checks one offline (it opens no
database and, unless asked ``--online``, no network connection: then it also asks the live log,
over HTTP with httpx, whether the bundle is still current: :mod:`ledger.evidence.freshness`);
``witness init|serve|status`` run the Audit Branch's C2SP tlog-witness service
(:mod:`witness.cli`), to which the server pushes its checkpoints; ``witness-keygen`` makes a
witness key file and ``witness-register`` (admin) registers its public half for an ``audit``
actor, as a key of purpose ``witness`` that can never sign a filing.

Exit codes: 0 everything held; 1 the bundle was rejected (or, ``--online``, the live log shows a
fork, a rollback or a bundle not current when exported); 2 a usage,
input or connection error.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext, suppress
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import httpx
import typer
from rich.console import Console
from rich.markup import escape

from ledger.app import Ledger
from ledger.errors import LedgerError
from ledger.evidence.bundle import (
    BundleReport,
    BundleTrustError,
    BundleVerificationError,
    verify_bundle,
)
from ledger.evidence.freshness import FreshnessReport, LiveLogError, check_freshness
from ledger.evidence.trust import TRUST_ENV, TrustAnchors, load_trust_file, merge_trust
from ledger.log.checkpoint import COSIGNATURE_V1, SignerKey, VerifierKey
from ledger.measures.roles import Role
from witness import cli as witness_service

console = Console()
errors = Console(stderr=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
_TIMEOUT = 30.0


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")


def _fail(message: str, code: int = 2) -> typer.Exit:
    errors.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True, markup=True,
                 highlight=False)
    return typer.Exit(code)


@contextmanager
def _ledger() -> Iterator[Ledger]:
    """Open the configured, initialised ledger; configuration, connection and ledger errors
    become one line and exit 2 (:func:`api.cli_errors.open_ledger`)."""
    from api.cli_errors import open_ledger  # noqa: PLC0415

    with open_ledger() as ledger:
        yield ledger


# --- export / verify-bundle ----------------------------------------------------------------


def export(project: Annotated[str, typer.Option(
               "--project", metavar="ID", help="Project id, or its first 6+ hex digits.")],
           output: Annotated[Path, typer.Option("-o", "--output", help="Bundle file (.zip).")],
           as_known_at: Annotated[str | None, typer.Option(
               help="Only entries recorded at or before this RFC 3339 time.")] = None,
           on: Annotated[str | None, typer.Option(
               help="Evaluation date YYYY-MM-DD (default today, Beijing).")] = None,
           as_json: JsonFlag = False) -> None:
    """Export a project's signed evidence bundle (entries, proofs, documents, projections)."""
    from api.cli_views import resolve_project  # noqa: PLC0415
    from projections.evidence import export_bundle  # noqa: PLC0415 - keeps verify-bundle light

    try:
        day = None if on is None else date.fromisoformat(on)
    except ValueError as exc:
        raise _fail(f"bad --on: {exc}") from None
    with _ledger() as ledger:
        project_id = resolve_project(ledger, project)  # the id or its first 6+ hex digits
        busy = (console.status(f"exporting {project_id} …") if console.is_terminal
                and not as_json else nullcontext())
        with busy:
            data = export_bundle(ledger, project_id, as_known_at=as_known_at, on=day)
        log_key = ledger.identity.log_key.encode()
        witnessed = bool(ledger.settings.witnesses.strip())
    try:
        output.write_bytes(data)
    except OSError as exc:
        raise _fail(f"cannot write {output}: {exc}") from None
    report = verify_bundle(data, log_key=log_key)
    info = {"file": str(output), "bytes": len(data), "project": str(project_id),
            "entries": report.entries, "checkpoint_size": report.checkpoint_size,
            "log_key": log_key, "as_known_at": report.as_known_at,
            "evaluated_on": report.evaluated_on}
    uncosigned = witnessed and not report.cosignatures_unchecked
    if as_json:
        _print_json(info | {"cosigned": not uncosigned} if witnessed else info)
        return
    if uncosigned:  # projections.evidence waited for the witnesses in vain
        errors.print("[yellow]warning:[/yellow] checkpoint not cosigned by a witness (none of"
                     " the checkpoints containing the project's newest entry carries a quorum"
                     " of cosignatures yet; is the server pushing to its witnesses?)",
                     soft_wrap=True, highlight=False)
    console.print(f"wrote {output} ({len(data)} bytes): {report.entries} entries proven in"
                  f" checkpoint {report.checkpoint_size}; verify with\n  ledger verify-bundle"
                  f" {output} --log-key '{log_key}'", soft_wrap=True, highlight=False)


def verify_bundle_command(  # noqa: PLR0917 - typer maps each parameter to an option
    file: Annotated[Path, typer.Argument(help="The evidence bundle (.zip).")],
    log_key: Annotated[str | None, typer.Option(
        "--log-key", help="Pin the log's verifier key NAME+KEYID+KEY (refuse any other);"
                          f" or name a trust file in ${TRUST_ENV}.")] = None,
    witness_key: Annotated[list[str] | None, typer.Option(
        "--witness-key", help="A witness verifier key whose cosignature counts towards the"
                              " quorum (repeatable).")] = None,
    quorum: Annotated[int | None, typer.Option(
        "--quorum", help="How many distinct --witness-key witnesses must have validly"
                         " cosigned the checkpoint (default: all of them).")] = None,
    root_key: Annotated[str | None, typer.Option(
        "--root-key", help="Pin the registry root public key (base64).")] = None,
    trust_embedded_keys: Annotated[bool, typer.Option(
        "--trust-embedded-keys", help="Explore a bundle without pinned keys: check it against"
                                      " the log key it carries itself (proves it is intact,"
                                      " not where it comes from).")] = False,
    online: Annotated[str | None, typer.Option(
        "--online", help="Also ask the live log at this base URL whether the bundle is still"
                         " current: a consistency proof from its checkpoint, the project's and"
                         " the registry's current heads; a fork or rollback fails.")] = None,
    token: Annotated[str | None, typer.Option(
        "--token", envvar="LEDGER_TOKEN", help="Bearer token for --online (or"
                                               " LEDGER_TOKEN).")] = None,
    debug: Annotated[bool, typer.Option(
        "--debug", help="Show the traceback of an unexpected error.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Verify an evidence bundle offline (no database, no network); exit 0 only if all holds.

    Exit 1: the bundle is rejected (or malformed), or --online finds a fork, a rollback or a
    bundle that was not current when exported; exit 2: no usable pinned keys, the file cannot
    be read, or the live log cannot be asked. With --json, one JSON object is printed in every
    case.
    """
    def refuse(message: str, code: int, kind: str) -> typer.Exit:
        if as_json:
            _print_json({"ok": False, "error": message, "kind": kind})
        errors.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True, markup=True,
                     highlight=False)
        return typer.Exit(code)

    if online is not None and not token:
        raise refuse("--online needs a bearer token: --token TOKEN or LEDGER_TOKEN", 2, "usage")
    try:
        anchors = _anchors(log_key, root_key, witness_key or [], quorum, trust_embedded_keys)
    except BundleTrustError as exc:
        raise refuse(str(exc), 2, "trust") from None
    try:
        handle = file.open("rb")
    except OSError as exc:
        raise refuse(f"cannot read {file}: {exc}", 2, "unreadable") from None
    with handle:
        try:
            report = verify_bundle(handle, log_key=anchors.log_key,
                                   witness_keys=anchors.witness_keys, root_key=anchors.root_key,
                                   quorum=anchors.quorum, trust_embedded_keys=trust_embedded_keys)
        except BundleVerificationError as exc:
            if as_json:
                _print_json(exc.report.to_json())
            else:
                errors.print(exc.report.summary(), soft_wrap=True, markup=False,
                             highlight=False)
            raise typer.Exit(1) from None
        except BundleTrustError as exc:
            raise refuse(str(exc), 2, "trust") from None
        except Exception as exc:
            # Whatever the bundle's bytes provoke that no check names is still a rejection.
            if debug:
                raise
            raise refuse(f"the bundle is malformed: {type(exc).__name__}: {exc}", 1,
                         "malformed") from None
    fresh: FreshnessReport | None = None
    if online is not None:
        try:
            fresh = _ask_live_log(report, online, token or "")
        except LiveLogError as exc:
            raise refuse(f"cannot ask the live log: {exc}", 2, "online") from None
    _print_verified(report, fresh, as_json)
    if fresh is not None and not fresh.ok:
        raise typer.Exit(1)


def _anchors(log_key: str | None, root_key: str | None, witness_keys: list[str],
             quorum: int | None, trust_embedded_keys: bool) -> TrustAnchors:
    """The pinned keys: the options over the trust file named in ``$LEDGER_TRUST`` (ignored,
    with a warning, when the bundle's own keys are to be trusted)."""
    trust_path = os.environ.get(TRUST_ENV) or None
    trust_file = (None if trust_embedded_keys or trust_path is None
                  else load_trust_file(trust_path))
    anchors = merge_trust(trust_file, trust_file_name=trust_path or "", log_key=log_key,
                          root_key=root_key, witness_keys=witness_keys, quorum=quorum,
                          trust_embedded_keys=trust_embedded_keys)
    if trust_embedded_keys:
        ignored = f" (${TRUST_ENV} ignored)" if trust_path else ""
        errors.print(f"[yellow]warning:[/yellow] --trust-embedded-keys: checking the bundle"
                     f" against the keys it carries itself{ignored}; this proves it is intact,"
                     " not that it comes from your log", soft_wrap=True, highlight=False)
    return anchors


def _print_verified(report: BundleReport, fresh: FreshnessReport | None, as_json: bool) -> None:
    """The report of a bundle that verified, with the live log's answer if asked."""
    if as_json:
        result = report.to_json()
        if fresh is not None:
            result["online"] = fresh.to_json()
            if not fresh.ok:
                result["ok"], result["error"] = False, f"online: {fresh.errors[0]}"
        _print_json(result)
        return
    console.print(report.summary(), soft_wrap=True, markup=False, highlight=False)
    if fresh is not None:
        (console if fresh.ok else errors).print(fresh.summary(), soft_wrap=True,
                                                markup=False, highlight=False)


def _ask_live_log(report: BundleReport, url: str, token: str) -> FreshnessReport:
    """``--online``: the live log's view of a verified bundle, under the key it was pinned to
    (with --trust-embedded-keys, the bundle's own)."""
    assert report.log_key is not None
    key = VerifierKey.parse(report.log_key)
    with LiveLogClient(url, token) as log:
        return check_freshness(report, log, key, url)


class LiveLogClient:
    """The log's ``/log`` routes over HTTP(S) with httpx, for ``verify-bundle --online``
    (:class:`ledger.evidence.freshness.LiveLog`). ``client`` replaces the connection (tests
    pass an ASGI test client)."""

    def __init__(self, url: str, token: str, *, timeout: float = _TIMEOUT,
                 client: httpx.Client | None = None) -> None:
        if client is None and urllib.parse.urlsplit(url).scheme not in {"http", "https"}:
            raise LiveLogError(f"--online must be http(s)://…, got {url!r}")
        self._client = client or httpx.Client(base_url=url.rstrip("/"), timeout=timeout)
        self._headers = {"Authorization": f"Bearer {token}"}

    def __enter__(self) -> LiveLogClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()

    def _get(self, path: str, params: Mapping[str, str | int] | None = None,
             allow: tuple[int, ...] = ()) -> httpx.Response:
        try:
            response = self._client.get(path, params=params, headers=self._headers)
        except httpx.HTTPError as exc:
            raise LiveLogError(f"GET {path}: {exc}") from None
        if response.status_code != 200 and response.status_code not in allow:
            detail = response.text
            with suppress(ValueError, AttributeError):  # a problem+json body, if it is one
                detail = str(response.json().get("detail", detail))
            raise LiveLogError(f"GET {path}: HTTP {response.status_code}: {detail}")
        return response

    def _json(self, path: str, params: Mapping[str, str | int],
              allow: tuple[int, ...] = ()) -> dict[str, Any]:
        response = self._get(path, params, allow)
        try:
            value = response.json()
        except ValueError:
            raise LiveLogError(f"GET {path}: the answer is not JSON") from None
        if not isinstance(value, dict):
            raise LiveLogError(f"GET {path}: the answer is not a JSON object")
        return value

    def checkpoint(self) -> str:
        """``GET /log/checkpoint``."""
        return self._get("/log/checkpoint").text

    def consistency(self, first: int, second: int) -> list[bytes]:
        """``GET /log/proof/consistency``."""
        body = self._json("/log/proof/consistency", {"first": first, "second": second})
        try:
            return [bytes.fromhex(node) for node in body["consistency_proof"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise LiveLogError(f"malformed consistency proof: {exc}") from None

    def head(self, stream: UUID, tree_size: int) -> Mapping[str, Any]:
        """``GET /log/proof/head``."""
        return self._json("/log/proof/head", {"stream": str(stream), "tree_size": tree_size})

    def entry(self, stream: UUID, seq: int, tree_size: int) -> Mapping[str, Any]:
        """``GET /log/proof/inclusion?stream=…&seq=…``."""
        return self._json("/log/proof/inclusion",
                          {"stream": str(stream), "seq": seq, "tree_size": tree_size})


# --- the witness ---------------------------------------------------------------------------


def witness(ctx: typer.Context) -> None:
    """The Audit Branch's C2SP tlog-witness service: init, serve, status. The ledger server
    pushes its checkpoints to it (LEDGER_WITNESSES) and stores the cosignatures it returns."""
    del ctx


def witness_keygen(name: Annotated[str, typer.Option(help="Key name on cosignature lines.")],
                   output: Annotated[Path, typer.Option(
                       "-o", "--output", help="Private key file to create.")],
                   as_json: JsonFlag = False) -> None:
    """Create a cosignature/v1 witness key file (kept by the witness) and print its verifier
    key (`ledger witness init` makes one with the witness's state)."""
    try:
        key = SignerKey.generate(name)
        with os.fdopen(os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w",
                       encoding="utf-8") as out:
            out.write(key.encode() + "\n")
    except (LedgerError, OSError) as exc:
        raise _fail(f"cannot create {output}: {exc}") from None
    verifier = key.verifier_key.encode()
    if as_json:
        _print_json({"file": str(output), "verifier_key": verifier})
    else:
        console.print(f"wrote {output}; verifier key (register it, give it to verifiers):\n"
                      f"{verifier}", soft_wrap=True, highlight=False)


def witness_register(actor: Annotated[str, typer.Argument(help="An audit actor.")],
                     verifier_key: Annotated[str, typer.Option(
                         help="The witness verifier key NAME+KEYID+KEY.")],
                     as_json: JsonFlag = False) -> None:
    """Register a witness's public key for an audit actor (admin; the server never holds it),
    as a key of purpose ``witness``: it can never sign a filing. The key is Ed25519, a C2SP
    ``cosignature/v1`` (0x04) or note (0x01) verifier key, under every profile (``gm`` too)."""
    try:
        parsed = VerifierKey.parse(verifier_key)
    except LedgerError as exc:
        raise _fail(str(exc)) from None
    if parsed.suite not in {COSIGNATURE_V1, "ed25519"}:
        raise _fail(f"the key is {parsed.suite}; a witness key is Ed25519 (cosignature/v1)")
    with _ledger() as ledger:
        try:
            record = ledger.registry().actor(actor)
            if record.role is not Role.AUDIT:
                raise _fail(f"{actor} is {record.role}; only audit actors witness checkpoints")
            key = ledger.actors.register_public_key(actor, parsed.public_key, purpose="witness",
                                                    suite="ed25519")
        except LedgerError as exc:
            raise _fail(str(exc)) from None
    row = {"key_id": key.key_id, "actor": key.actor, "role": key.role.value,
           "purpose": key.purpose,
           "verifier_key": verifier_key, "registered_at": key.registered_at}
    if as_json:
        _print_json(row)
    else:
        console.print(row)


def register(app: typer.Typer) -> None:
    """Add the evidence and witness commands to the ``ledger`` app."""
    app.command("export")(export)
    app.command("verify-bundle")(verify_bundle_command)
    group = typer.Typer(help="Witness the log's checkpoints (the Audit Branch).",
                        invoke_without_command=True, no_args_is_help=True)
    group.callback()(witness)
    witness_service.add_commands(group)
    app.add_typer(group, name="witness")
    app.command("witness-keygen")(witness_keygen)
    app.command("witness-register")(witness_register)
