"""系统管理 (administration, role ``admin`` only): actors, units, bearer tokens and keys.

The same rules as the CLI (``ledger actors …``, ``ledger keys …``) and the API
(``/api/v1/actors``, ``/api/v1/keys``), by the same service methods: an actor of role ``unit``
names its unit and no other role has one; a token is shown once and only its hash is kept, it
expires after the configured lifetime and revoking an actor's tokens ends its sessions; rotating
a key registers a new custodial key (the old one stays valid until revoked); a revoked key
signs nothing recorded from its revocation on. Every form carries the CSRF token, as the
filing forms do. Units are named here for the pages (see :mod:`api.pages.units`).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from api.pages.routes import (
    Ctx,
    PageRoute,
    _check_csrf,
    _ctx,
    _form,
    _Redirect,
    _Refused,
    _render,
)
from api.pages.security import CSRF_FIELD
from api.services import Actor
from ledger.measures.roles import Role
from ledger.service.tokens import MAX_LIFETIME

router = APIRouter(route_class=PageRoute, include_in_schema=False)

_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _admin(ctx: Ctx) -> Actor:
    actor = ctx.need_actor()
    ctx.service.require_admin(actor)
    return actor


async def _admin_form(request: Request) -> tuple[Ctx, dict[str, str]]:
    """A posted admin form: its fields, once the sender is known to be an administrator and
    the form's CSRF token is checked (every admin POST begins so)."""
    form = await _form(request)
    ctx = await run_in_threadpool(_ctx, request)
    _admin(ctx)
    _check_csrf(ctx, form.get(CSRF_FIELD))
    return ctx, form


def _units(ctx: Ctx) -> list[dict[str, Any]]:
    """Every unit the ledger knows (from actors and projects), with name and counts."""
    ledger = ctx.service.ledger
    registry = ledger.registry()
    state = ctx.service.library_state()
    codes = {a.unit for a in registry.actors.values() if a.unit} | set(state.units())
    projects: dict[str, int] = {}
    for facts in state.projects.values():
        unit = state.unit_of(facts)
        if unit:
            projects[unit] = projects.get(unit, 0) + 1
    actors: dict[str, int] = {}
    for record in registry.actors.values():
        if record.unit:
            actors[record.unit] = actors.get(record.unit, 0) + 1
    return sorted(({"code": code, "name": ctx.unit_name(code),
                    "named": ctx.reads.units.named(code), "projects": projects.get(code, 0),
                    "actors": actors.get(code, 0)} for code in codes if code),
                  key=lambda u: str(u["name"]))


@router.get("/admin")
def admin_home(request: Request) -> Response:
    """Actors and their keys, units, at a glance."""
    ctx = _ctx(request)
    _admin(ctx)
    raise _Redirect("/admin/actors")


@router.get("/admin/actors")
def actors_page(request: Request, done: str | None = None) -> Response:
    """Registered actors, and the form to register one."""
    ctx = _ctx(request)
    _admin(ctx)
    registry = ctx.service.ledger.registry()
    keys: dict[str, list[Any]] = {}
    for key in registry.keys.values():
        keys.setdefault(key.actor, []).append(key)
    now = ctx.service.ledger.now()
    actors = sorted(registry.actors.values(), key=lambda a: (a.role.value, a.actor))
    return _render(ctx, "admin_actors.html", actors=actors, keys=keys, now=now,
                   units=_units(ctx), roles=[r.value for r in Role], done=done, form={},
                   error=None)


@router.post("/admin/actors")
async def register_actor(request: Request) -> Response:
    """Register an actor with a custodial key (as ``ledger actors add``)."""
    ctx, form = await _admin_form(request)
    actor_id = form.get("actor", "").strip()
    role_text = form.get("role", "")
    unit = form.get("unit", "").strip() or None
    name = " ".join(form.get("display_name", "").split())
    problems = []
    if not _ID.match(actor_id):
        problems.append(ctx.t("admin.bad_id", field=ctx.t("admin.actor")))
    if role_text not in {r.value for r in Role}:
        problems.append(ctx.t("admin.bad_role"))
    elif (role_text == Role.UNIT.value) != (unit is not None):
        problems.append(ctx.t("admin.unit_rule"))
    if unit is not None and not _ID.match(unit):
        problems.append(ctx.t("admin.bad_id", field=ctx.t("col.unit")))
    if not name or len(name) > 64:
        problems.append(ctx.t("admin.bad_name"))
    if problems:
        raise _Refused(422, "；".join(problems))
    ctx.service.require_appendable()  # the log is halted or its witnesses not yet heard
    await run_in_threadpool(ctx.service.ledger.register_actor, actor_id, Role(role_text), unit,
                            name)
    raise _Redirect(f"/admin/actors/{actor_id}?done=registered")


@router.get("/admin/actors/{actor_id}")
def actor_page(actor_id: str, request: Request, done: str | None = None) -> Response:
    """One actor: its tokens (issued, expiry, state) and keys, with what may be done."""
    ctx = _ctx(request)
    _admin(ctx)
    return _actor_page(ctx, actor_id, done=done)


def _actor_page(ctx: Ctx, actor_id: str, *, done: str | None = None,
                token: str | None = None) -> Response:
    ledger = ctx.service.ledger
    record = ledger.registry().actor(actor_id)  # unknown: 404 page
    keys = sorted((k for k in ledger.registry().keys.values() if k.actor == actor_id),
                  key=lambda k: k.registered_at)
    known = ("registered", "rotated", "key-revoked")
    done_key = ("admin.done.revoked" if done and done.startswith("revoked-") else
                f"admin.done.{done}" if done in known else None)
    return _render(ctx, "admin_actor.html", record=record, keys=keys, done_key=done_key,
                   tokens=ledger.tokens.tokens_of(actor_id), now=ledger.now(), done=done,
                   token=token, lifetime_days=ledger.tokens.token_lifetime.days)


@router.post("/admin/actors/{actor_id}/tokens")
async def token_action(actor_id: str, request: Request) -> Response:
    """Issue a token (shown once), rotate (revoke all, issue one) or revoke all."""
    ctx, form = await _admin_form(request)
    tokens = ctx.service.ledger.tokens
    action = form.get("action", "")
    await run_in_threadpool(ctx.service.ledger.registry().actor, actor_id)
    if action == "revoke":
        count = await run_in_threadpool(tokens.revoke, actor_id)
        raise _Redirect(f"/admin/actors/{actor_id}?done=revoked-{count}")
    if action not in ("issue", "rotate"):
        raise _Refused(422, ctx.t("admin.bad_action"))
    days = (form.get("expires_days") or "").strip()
    if days and not (days.isdigit() and 1 <= int(days) <= MAX_LIFETIME.days):
        raise _Refused(422, ctx.t("admin.bad_expiry"))
    lifetime = timedelta(days=int(days)) if days else None  # blank: the configured lifetime
    issue = tokens.rotate if action == "rotate" else tokens.issue
    token = await run_in_threadpool(issue, actor_id, lifetime)
    return await run_in_threadpool(lambda: _actor_page(ctx, actor_id, done=action, token=token))


@router.post("/admin/actors/{actor_id}/keys")
async def rotate_key(actor_id: str, request: Request) -> Response:
    """Register a new custodial key for the actor (as ``ledger keys rotate``)."""
    ctx, _form_fields = await _admin_form(request)
    ctx.service.require_appendable()
    await run_in_threadpool(ctx.service.ledger.rotate_key, actor_id)
    raise _Redirect(f"/admin/actors/{actor_id}?done=rotated")


@router.post("/admin/keys/revoke")
async def revoke_key(request: Request) -> Response:
    """Revoke a key from now (as ``ledger keys revoke``), with a reason for the registry."""
    ctx, form = await _admin_form(request)
    key_id = form.get("key_id", "")
    reason = " ".join(form.get("reason", "").split()) or ctx.t("admin.default_reason")
    key = ctx.service.ledger.registry().keys.get(key_id)
    if key is None:
        raise _Refused(422, ctx.t("admin.no_key"))
    if key.revoked_from is not None:
        raise _Refused(422, ctx.t("admin.already_revoked"))
    ctx.service.require_appendable()
    await run_in_threadpool(lambda: ctx.service.ledger.revoke_key(key_id, reason=reason[:200]))
    raise _Redirect(f"/admin/actors/{key.actor}?done=key-revoked")


@router.get("/admin/units")
def units_page(request: Request, done: str | None = None) -> Response:
    """Units: id, name, how many actors and projects; name or rename a unit."""
    ctx = _ctx(request)
    _admin(ctx)
    return _render(ctx, "admin_units.html", units=_units(ctx), done=done)


@router.post("/admin/units")
async def name_unit(request: Request) -> Response:
    """Give a unit its display name (kept in the ledger's metadata, never overwritten)."""
    ctx, form = await _admin_form(request)
    unit = form.get("unit", "").strip()
    if not _ID.match(unit):
        raise _Refused(422, ctx.t("admin.bad_id", field=ctx.t("col.unit")))
    await run_in_threadpool(ctx.reads.units.set_name, unit, form.get("name", ""))
    raise _Redirect("/admin/units?done=named")
