"""条目查询 (look up an entry of the log): by its entry hash or its leaf index, the entry's
content as the reader's role allows, its RFC 9162 inclusion proof in the latest checkpoint
(checked here, and given in full so anyone can check it again) and that checkpoint's signed
note with its witnesses' cosignatures.

What a role sees follows the API (``GET /api/v1/log/proof/inclusion``): a construction unit
learns nothing about another unit's entries (they are "not found"), the administrator sees that
a project entry exists and its proof but not its content (admin reads no project data; the key
registry's entries are its own), every other role sees everything.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response

from api.pages.formspec import Node, fen_to_wan, form_for
from api.pages.i18n import ROLES, label
from api.pages.routes import PageRoute, _ctx, _render
from ledger.errors import LedgerError, ProjectNotFoundError
from ledger.log import merkle
from ledger.log.store import LogStore
from ledger.log.witness import cosigned_note
from ledger.log.writer import LeafRow
from ledger.measures.catalogue import CATALOGUE
from ledger.measures.roles import Role

router = APIRouter(route_class=PageRoute, include_in_schema=False)

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_INDEX = re.compile(r"^\d{1,15}$")


_REGISTRY_LABELS = {
    "actor": ("用户", "Actor"), "role": ("角色", "Role"), "unit": ("所属单位", "Unit"),
    "display_name": ("显示名称", "Display name"), "key_id": ("密钥编号", "Key id"),
    "suite": ("签名算法", "Suite"), "public_key": ("公钥", "Public key"),
    "revoked_from": ("吊销时间（协调世界时）", "Revoked from (UTC)"), "reason": ("原因", "Reason"),
}

_REGISTRY_CODES = frozenset({"actor", "unit", "key_id", "suite", "public_key", "revoked_from"})


def readable(event_type: str, payload: dict[str, Any],
             lang: str) -> list[tuple[str, str, bool]]:
    """The payload's fields as (label, value) in ``lang``: choices by their names, money in
    万元, lists and nested parts summarised (the full content is in the JSON beside it); the
    third item says whether the value is a code (an id, a key) rather than words."""
    spec = CATALOGUE.get(event_type)
    if spec is not None and spec.stream == "registry":
        return [(_REGISTRY_LABELS[name][0 if lang == "zh" else 1],
                 label(ROLES, str(value), lang) if name == "role" else str(value),
                 name in _REGISTRY_CODES)
                for name, value in payload.items()
                if name in _REGISTRY_LABELS and value is not None]
    nodes: tuple[Node, ...] = form_for(spec.payload) if spec is not None else ()
    out = []
    for node in nodes:
        if node.name not in payload:
            continue
        out.append((node.label(lang), _value(node, payload[node.name], lang),
                    node.kind in ("uuid", "document")))
    return out


def _value(node: Node, value: Any, lang: str) -> str:  # noqa: PLR0911 - one per kind
    if value is None:
        return "—"
    if node.kind == "money" and isinstance(value, int):
        return f"{fen_to_wan(value)} {'万元' if lang == 'zh' else '10k yuan'}"
    if node.kind in ("enum", "enums"):
        names = {v: (zh if lang == "zh" else en) for v, zh, en in node.choices}
        values = value if isinstance(value, list) else [value]
        return "、".join(names.get(str(v), str(v)) for v in values)
    if node.kind == "bool":
        return ("是" if value else "否") if lang == "zh" else ("yes" if value else "no")
    if node.kind == "document" and isinstance(value, dict):
        return str(value.get("name") or value.get("sha256", ""))[:80]
    if node.kind == "document" and isinstance(value, str):
        return value[:16] + "…"
    if isinstance(value, list):
        return (f"{len(value)} 项" if lang == "zh" else f"{len(value)} items")
    if isinstance(value, dict):
        return "…"
    return str(value)


def find_leaf(log: LogStore, text: str) -> LeafRow | None:
    """The leaf of an entry hash (64 hex digits) or of a leaf index (digits), if any."""
    text = text.strip().lower()
    if _HEX64.match(text):
        return log.leaf_for_hash(bytes.fromhex(text))
    if _INDEX.match(text):
        return log.leaf(int(text))
    return None


@router.get("/log/entry")
def entry_page(request: Request, q: str | None = None) -> Response:
    """The entry with this hash or leaf index, its inclusion proof and checkpoint."""
    ctx = _ctx(request)
    actor = ctx.need_actor()
    ledger = ctx.service.ledger
    query = (q or "").strip()[:80]
    found: dict[str, Any] | None = None
    problem = None
    if query:
        leaf = find_leaf(ledger.log, query)
        if leaf is None:
            problem = ctx.t("lookup.not_found") if (
                _HEX64.match(query.lower()) or _INDEX.match(query)) else ctx.t("lookup.bad")
        else:
            try:
                found = _describe(ctx, actor.role, leaf)
            except ProjectNotFoundError:
                problem = ctx.t("lookup.not_found")  # another unit's entry does not exist
    return _render(ctx, "log_entry.html", query=query, found=found, problem=problem)


def _describe(ctx: Any, role: Role, leaf: LeafRow) -> dict[str, Any]:
    ledger = ctx.service.ledger
    stream = UUID(str(leaf.originator_id))
    registry = stream == ledger.identity.registry_stream
    title = None
    if not registry:
        # A unit and another unit's project: ProjectNotFoundError (as the API's 404).
        _, facts = ctx.reads.visible_facts(ctx.actor, stream) if role is not Role.ADMIN else (
            None, None)
        title = facts.title if facts is not None else None
    show_content = registry or role is not Role.ADMIN
    event = ledger.entry_at(stream, leaf.originator_version) if show_content else None
    checkpoint = ledger.trusted_checkpoint()
    proof: list[str] = []
    verified = None
    note = None
    size = checkpoint.size if checkpoint is not None else 0
    if checkpoint is not None and leaf.leaf_index < size:
        hashes = ledger.proofs.inclusion_proof(leaf.leaf_index, size)
        proof = [h.hex() for h in hashes]
        try:
            merkle.verify_inclusion(ledger.identity.profile.hash, leaf.leaf_index, size,
                                    leaf.entry_hash, hashes, checkpoint.root)
            verified = True
        except (LedgerError, ValueError):
            verified = False
        note = cosigned_note(checkpoint.note, ledger.log.cosignatures(size))
    signer = None
    payload: list[tuple[str, str, bool]] | None = None
    if event is not None:
        record = ledger.registry().actors.get(event.filing.actor)
        signer = record.display_name if record is not None else (
            ctx.t("lookup.root") if event.filing.actor == "root" else event.filing.actor)
        payload = readable(event.filing.type, dict(event.filing.payload), ctx.lang)
    return {
        "leaf_index": leaf.leaf_index, "entry_hash": leaf.entry_hash.hex(),
        "recorded_at": leaf.recorded_at, "stream": str(stream), "seq": leaf.originator_version,
        "registry": registry, "title": title, "show_content": show_content, "event": event,
        "signer": signer, "fields": payload,
        "json": event.filing.payload if event is not None else None,
        "checkpoint": checkpoint, "tree_size": size,
        "proof": proof, "verified": verified, "note": note,
        "root": checkpoint.root.hex() if checkpoint is not None else None,
    }
