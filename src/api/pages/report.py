"""可打印报告: a project's evidence bundle, in the reader's language, for print.

Rendered from the very ``bundle.json`` the evidence bundle download carries (same roles, same
access rules, same checkpoint), so what is printed is what an investigator can verify offline:
the project and its money (元, construction and O&M apart), funding eligibility and obligations
at the evaluation date with their explanations, every entry with its signer, Beijing time and
entry hash, the documents it cites, the signed checkpoint and the state hashes. Times are in
Beijing time with the zone named; units by name. The bundle's own ``report.html`` (bilingual,
UTC) stays inside the zip for readers without this server.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from fastapi import APIRouter, Request, Response

from api.pages.explain import explain
from api.pages.routes import PageRoute, _ctx, _day, _known_at, _project_id, _render
from api.routers.evidence import project_evidence
from ledger.errors import LedgerError
from ledger.measures.catalogue import documents_referenced, spec_for, validate_payload

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _state(bundle: dict[str, Any], name: str) -> Any:
    return bundle.get("projections", {}).get(name, {}).get("state")


def _money(entries: list[dict[str, Any]]) -> dict[str, int]:
    """Arranged and disbursed money by kind, from the bundle's own entries."""
    money = {"arranged_c_fen": 0, "arranged_om_fen": 0, "disbursed_c_fen": 0,
             "disbursed_om_fen": 0}
    for item in entries:
        filing = item["entry"]["filing"]
        payload = filing.get("payload", {})
        kind = "c" if payload.get("kind") == "construction" else "om"
        amount = payload.get("amount_fen")
        if not isinstance(amount, int):
            continue
        if filing["type"] == "FundingArranged":
            money[f"arranged_{kind}_fen"] += amount
        elif filing["type"] == "FundsDisbursed":
            money[f"disbursed_{kind}_fen"] += amount
    return money


def _documents(entries: list[dict[str, Any]], files: dict[str, str]) -> list[dict[str, Any]]:
    """Every document the entries cite, with the entry that cites it and its file name."""
    found = []
    seen: set[str] = set()
    for item in entries:
        filing = item["entry"]["filing"]
        try:
            cited = documents_referenced(validate_payload(filing["type"], filing["payload"]))
        except LedgerError:
            continue
        for sha256 in cited:
            if sha256 not in seen:
                seen.add(sha256)
                found.append({"sha256": sha256, "seq": item["entry"]["seq"],
                              "type": filing["type"], "name": files.get(sha256, "")})
    return found


@router.get("/projects/{project}/report")
def evidence_report(project: str, request: Request, on: str | None = None,
                    as_known_at: str | None = None) -> Response:
    """The evidence bundle's printable report, in the reader's language (Beijing time)."""
    ctx = _ctx(request)
    actor = ctx.need_actor()
    zipped = project_evidence(_project_id(project), ctx.service, actor,
                              as_known_at=_known_at(ctx, as_known_at), on=_day(ctx, on))
    with zipfile.ZipFile(io.BytesIO(bytes(zipped.body))) as archive:
        bundle: dict[str, Any] = json.loads(archive.read("bundle.json"))
        files: dict[str, str] = (json.loads(archive.read("names.json"))
                                 if "names.json" in archive.namelist() else {})
    entries: list[dict[str, Any]] = bundle.get("entries", [])
    names = {}
    for item in bundle.get("registry", []):
        filing = item["entry"]["filing"]
        if filing["type"] == "ActorRegistered":
            names[filing["payload"]["actor"]] = filing["payload"].get("display_name")
    articles = {}
    for item in entries:
        event_type = item["entry"]["filing"]["type"]
        try:
            articles[event_type] = [f"Art. {a}" for a in spec_for(event_type).articles]
        except LedgerError:
            articles[event_type] = []
    eligibility = _state(bundle, "eligibility") or {}
    obligations = _state(bundle, "obligations") or []
    for verdict in eligibility.values():
        for reason in verdict.get("reasons", []):
            reason["said"] = explain(reason, ctx.lang, ctx.unit_name)
    for obligation in obligations:
        obligation["said"] = explain(obligation, ctx.lang, ctx.unit_name)
    hashes = {name: view.get("state_hash") for name, view in
              bundle.get("projections", {}).items()}
    return _render(ctx, "print_report.html", bundle=bundle, row=_state(bundle, "project") or {},
                   money=_money(entries), eligibility=eligibility, obligations=obligations,
                   entries=entries, names=names, articles=articles,
                   documents=_documents(entries, files), hashes=hashes,
                   evaluation=bundle.get("evaluation", {}),
                   query=request.url.query)
