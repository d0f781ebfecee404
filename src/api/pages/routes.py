"""The web pages (docs/design.md §6): project library, project timeline with eligibility and
obligations, overdue board, exact replay, log status and sign-in (the filing forms are in
:mod:`api.pages.forms`).

Every page reads through :class:`~api.services.LedgerService` (via :mod:`api.pages.model`) and
so follows the API's access rules: a unit sees and files only its own projects (another
unit's project is "not found"), ``admin`` reads no project data. Errors are pages in the
reader's language, with the status the API would give (:func:`api.problems.ledger_problem`).
Chinese by default; ``/lang/en`` switches to English.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from api.outages import DATABASE_ERRORS
from api.pages import i18n
from api.pages.entries import entry_views, standing
from api.pages.explain import error_message, explain
from api.pages.model import PageReads, ProjectData
from api.pages.reminders import reminded
from api.pages.security import (
    CSRF_FIELD,
    LANG_COOKIE,
    SESSION_COOKIE,
    Session,
    anonymous_csrf,
    clear_session,
    csrf_ok,
    open_session,
    safe_next,
    session_key,
    set_language,
    set_session,
    well_formed_token,
)
from api.pages.text import (
    cst,
    cst_zoned,
    duration,
    local_input,
    parse_day,
    parse_known_at,
    seconds_between,
    wan,
)
from api.pages.timeline import timeline_svg
from api.problems import DATABASE_RETRY_AFTER, ledger_problem
from api.routers.evidence import project_evidence
from api.services import Actor, LedgerService, VerifyRecord
from api.verify_runs import BackgroundVerify, VerifyProgress
from api.witness_status import witness_table
from ledger.errors import IntegrityFailedError, LedgerError, RuleViolationError
from ledger.measures.catalogue import CATALOGUE, EventSpec
from ledger.measures.roles import Role
from ledger.measures.views import yuan
from ledger.store.edited import edited_beneath

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE.parent / "templates"
STATIC_DIR = HERE.parent / "static"
_MAX_FORM_BYTES = 2 * 1024 * 1024

_log = logging.getLogger("api.pages")
_env = Environment(loader=FileSystemLoader(TEMPLATES_DIR),
                   autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                   trim_blocks=True, lstrip_blocks=True, auto_reload=False)
_env.globals.update(yuan=yuan, wan=wan, cst=cst, STAGES=i18n.STAGES, KINDS=i18n.KINDS,
                    STATUSES=i18n.STATUSES, ROLES=i18n.ROLES, FUNDING=i18n.FUNDING,
                    RULES=i18n.RULES, VIEWS=i18n.VIEWS, CHANNELS=i18n.CHANNELS,
                    PURPOSES=i18n.PURPOSES, label=i18n.label, event_label=i18n.event_label,
                    article=i18n.article)

_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self';"
                                " img-src 'self' data:; object-src 'none'; base-uri 'none';"
                                " form-action 'self'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


class _Redirect(Exception):  # noqa: N818 - control flow, not an error
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


class _Refused(Exception):  # noqa: N818 - control flow, not an error
    """A page-level refusal that is not a ledger error (bad form input, CSRF)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class PageRoute(APIRoute):
    """Turns redirects and ledger errors into pages (not problem+json)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except _Redirect as redirect:
                return RedirectResponse(redirect.url, status_code=303)
            except _Refused as refused:
                return await run_in_threadpool(_error_page, request, refused.status,
                                               refused.message, None)
            except DATABASE_ERRORS as exc:  # before LedgerError: the writer's report is one
                edited = edited_beneath(exc)
                if edited is None:
                    return _outage_page(request, exc)
                _log.error("database edited beneath the ledger (page %s): %s",
                           request.url.path, edited)
                return await run_in_threadpool(_error_page, request, 500, str(edited), edited)
            except LedgerError as exc:
                status = ledger_problem(exc).status_code
                return await run_in_threadpool(_error_page, request, status, str(exc), exc)

        return handler


router = APIRouter(route_class=PageRoute, include_in_schema=False)


# --- context ---------------------------------------------------------------------------------


@dataclass
class Ctx:
    """One request as the pages see it."""

    request: Request
    service: LedgerService
    reads: PageReads
    key: bytes
    lang: str
    session: Session | None
    actor: Actor | None
    display_name: str | None

    @property
    def t(self) -> Callable[..., str]:
        """The translator of the request's language."""
        return i18n.translator(self.lang)

    def unit_name(self, unit: str | None) -> str:
        """A unit's display name (韩集镇 for ``town-hanji``)."""
        return self.reads.units.name(unit)

    def need_actor(self) -> Actor:
        """The signed-in actor, or a redirect to sign in and come back."""
        if self.actor is None:
            path = self.request.url.path
            if self.request.url.query:
                path += "?" + self.request.url.query
            raise _Redirect("/signin?" + urlencode({"next": path}))
        return self.actor


def _reads(request: Request) -> PageReads:
    service: LedgerService = request.app.state.service
    current: PageReads | None = getattr(request.app.state, "page_reads", None)
    if current is None or current.service is not service:
        current = PageReads(service)
        request.app.state.page_reads = current
    return current


def _lang(request: Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE, i18n.DEFAULT_LANGUAGE)
    return chosen if chosen in i18n.LANGUAGES else i18n.DEFAULT_LANGUAGE


def _ctx(request: Request) -> Ctx:
    reads = _reads(request)
    service = reads.service
    key = session_key(service.ledger.settings.master_key_bytes)
    session = open_session(key, request.cookies.get(SESSION_COOKIE))
    actor = None
    name = None
    if session is not None:
        actor_id = service.ledger.tokens.actor_for_session(session.id)
        if actor_id is not None:
            record = service.ledger.registry().actors.get(actor_id)
            if record is not None:
                actor = Actor(record.actor, record.role, record.unit)
                name = record.display_name
    if actor is None:
        session = None
    return Ctx(request, service, reads, key, _lang(request), session, actor, name)


def _render(ctx: Ctx, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    response = HTMLResponse("", status_code=status, headers=_HEADERS)
    if ctx.session is not None:
        csrf = ctx.session.csrf(ctx.key)
    else:
        csrf = anonymous_csrf(ctx.request, response)
    here = ctx.request.url.path + (f"?{ctx.request.url.query}" if ctx.request.url.query else "")
    body = _env.get_template(template).render(
        t=ctx.t, lang=ctx.lang, html_lang=i18n.HTML_LANG[ctx.lang], actor=ctx.actor,
        display_name=ctx.display_name, csrf=csrf, csrf_field=CSRF_FIELD,
        here=here, other_lang="en" if ctx.lang == "zh" else "zh",
        reader=ctx.actor is not None and ctx.actor.role is not Role.ADMIN,
        unit_name=ctx.unit_name, zoned=lambda at: cst_zoned(at, ctx.lang),
        explain=lambda item: explain(item, ctx.lang, ctx.unit_name), **values)
    response.body = response.render(body)
    response.headers["content-length"] = str(len(response.body))
    return response


def _outage_page(request: Request, exc: Exception) -> HTMLResponse:
    """503 as a page, for a database that does not answer: made without asking it anything
    (no session lookup, the language from its cookie), and reloading itself when the retry is
    due, so that an official who left it open sees the page come back."""
    _log.warning("database unavailable (page %s): %s: %s", request.url.path,
                 type(exc).__name__, exc)
    lang = _lang(request)
    body = _env.get_template("outage.html").render(
        t=i18n.translator(lang), lang=lang, html_lang=i18n.HTML_LANG[lang],
        retry_after=DATABASE_RETRY_AFTER)
    return HTMLResponse(body, status_code=503, headers={
        **_HEADERS, "Retry-After": str(DATABASE_RETRY_AFTER)})


def _error_page(request: Request, status: int, message: str,
                exc: LedgerError | None) -> HTMLResponse:
    ctx = _ctx(request)
    t = ctx.t
    headline = (t("error.integrity") if isinstance(exc, IntegrityFailedError) else
                {404: t("error.404"), 403: t("error.403")}.get(status, t("error.title")))
    rule = exc.rule if isinstance(exc, RuleViolationError) else None
    cited = exc.article if isinstance(exc, RuleViolationError) else None
    quote_zh = exc.quote_zh if isinstance(exc, RuleViolationError) else None
    message = error_message(status, message, exc, ctx.lang, ctx.unit_name)
    return _render(ctx, "error.html", status=status, status_code=status, headline=headline,
                   message=message, rule=rule, cited=cited, quote_zh=quote_zh)


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        raise _Refused(413, "form too large")
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def _check_csrf(ctx: Ctx, submitted: str | None) -> None:
    if not csrf_ok(ctx.request, submitted, ctx.key, ctx.session):
        raise _Refused(403, ctx.t("csrf.failed"))


def _day(ctx: Ctx, text: str | None) -> date | None:
    if not text:
        return None
    try:
        return parse_day(text)
    except ValueError:
        raise _Refused(422, f"{ctx.t('error.bad_date')}: {text}") from None


def _known_at(ctx: Ctx, text: str | None) -> str | None:
    if not text:
        return None
    try:
        return parse_known_at(text)
    except ValueError:
        raise _Refused(422, f"{ctx.t('error.bad_time')}: {text}") from None


def _project_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise _Refused(404, f"no project {text!r}") from None


# --- sign-in, language -----------------------------------------------------------------------


@router.get("/")
def home(request: Request) -> Response:
    """The library (the log status for an administrator)."""
    ctx = _ctx(request)
    actor = ctx.need_actor()
    raise _Redirect("/log" if actor.role is Role.ADMIN else "/projects")


@router.get("/signin")
def signin_form(request: Request, next: str | None = None) -> Response:
    """The sign-in form."""
    ctx = _ctx(request)
    return _render(ctx, "signin.html", next=safe_next(next), error=None)


@router.post("/signin")
async def signin(request: Request) -> Response:
    """Check the token against the ledger and start a cookie session."""
    form = await _form(request)
    ctx = await run_in_threadpool(_ctx, request)
    _check_csrf(ctx, form.get(CSRF_FIELD))
    token = form.get("token", "").strip()
    target = safe_next(form.get("next"))
    actor_id = session_id = None
    if well_formed_token(token):
        actor_id = await run_in_threadpool(ctx.service.ledger.tokens.actor_for, token)
        session_id = await run_in_threadpool(ctx.service.ledger.tokens.start_session, token)
    if actor_id is None or session_id is None:
        return await run_in_threadpool(lambda: _render(
            ctx, "signin.html", status=401, next=target, error=ctx.t("signin.invalid")))
    record = ctx.service.ledger.registry().actors.get(actor_id)
    if record is not None and record.role is Role.ADMIN and target == "/projects":
        target = "/log"
    response = RedirectResponse(target, status_code=303)
    set_session(response, request, ctx.key, session_id, int(
        ctx.service.ledger.tokens.session_lifetime.total_seconds()))
    return response


@router.post("/signout")
async def signout(request: Request) -> Response:
    """End the session, on the server and in this browser."""
    form = await _form(request)
    ctx = await run_in_threadpool(_ctx, request)
    _check_csrf(ctx, form.get(CSRF_FIELD))
    if ctx.session is not None:
        await run_in_threadpool(ctx.service.ledger.tokens.end_session, ctx.session.id)
    response = RedirectResponse("/signin", status_code=303)
    clear_session(response, request)
    return response


@router.get("/lang/{code}")
def switch_language(code: str, request: Request, next: str | None = None) -> Response:
    """Switch the pages' language (``zh`` or ``en``) and go back."""
    response = RedirectResponse(safe_next(next), status_code=303)
    if code in i18n.LANGUAGES:
        set_language(response, request, code)
    return response


# --- one project -------------------------------------------------------------------------------


def _fileable(actor: Actor, *, opens: bool = False) -> list[EventSpec]:
    """The event types the actor's role may file (on a project, or opening one); not a history
    attestation, which only ``ledger import`` files, in the same commit as the entries it dates."""
    return [spec for spec in CATALOGUE.values() if spec.stream == "project"
            and actor.role in spec.filed_by and spec.opens_project == opens
            and spec.name != "HistoryAttested"]


def _timeline(ctx: Ctx, data: ProjectData) -> str:
    svg = data.svg.get(ctx.lang)
    if svg is None:
        svg = timeline_svg(data.views["trail"]["state"], data.signatures, data.names,
                           ctx.lang, ctx.t)
        data.svg[ctx.lang] = svg
    return svg


@router.get("/projects/{project}")
def project_page(project: str, request: Request, on: str | None = None,
                 as_known_at: str | None = None, filed: str | None = None) -> Response:
    """A project: timeline, eligibility, obligations, state hashes, evidence, filing."""
    ctx = _ctx(request)
    actor = ctx.need_actor()
    project_id = _project_id(project)
    day = _day(ctx, on)
    known = _known_at(ctx, as_known_at)
    data = ctx.reads.project(actor, project_id, on=day, as_known_at=known)
    views = data.views
    query = {k: v for k, v in (("as_known_at", known), ("on", day.isoformat() if day else None))
             if v}
    suffix = ("?" + urlencode(query)) if query else ""
    filed_seq = int(filed) if filed and filed.isdigit() else None
    filed_type = next((row["type"] for row in views["trail"]["state"]
                       if row["seq"] == filed_seq), None)
    return _render(
        ctx, "project.html", row=views["project"]["state"], money=data.money,
        eligibility=views["eligibility"]["state"], obligations=views["obligations"]["state"],
        trail=views["trail"]["state"], hashes={k: v["state_hash"] for k, v in views.items()},
        signatures=data.signatures, names=data.names, flags=data.flags,
        seq_of_hash=data.seq_of_hash, timeline=_timeline(ctx, data), on=data.on,
        as_known_at=known, known_local=local_input(known) if known else "",
        evidence_suffix=suffix, fileable=bool(_fileable(actor)) and known is None,
        filed=filed_seq if filed_type else None, filed_type=filed_type,
        entries=entry_views(ctx.service, data, ctx.lang),
        standing=standing(ctx.service, actor, views["project"]["state"]["unit"], known),
        reminded=reminded(ctx.service, project_id, views["obligations"]["state"]))


def _evidence(ctx: Ctx, project: str, on: str | None, as_known_at: str | None) -> Response:
    actor = ctx.need_actor()
    project_id = _project_id(project)
    return project_evidence(project_id, ctx.service, actor,
                            as_known_at=_known_at(ctx, as_known_at), on=_day(ctx, on))


@router.get("/projects/{project}/evidence.zip")
def evidence_bundle(project: str, request: Request, on: str | None = None,
                    as_known_at: str | None = None) -> Response:
    """The signed evidence bundle (the API's export, same roles and access rules)."""
    return _evidence(_ctx(request), project, on, as_known_at)


# --- log status --------------------------------------------------------------------------------


@router.get("/log")
def log_page(request: Request, verified: str | None = None) -> Response:
    """日志状态: the latest checkpoint, witness cosignature and lag, the last verify run."""
    ctx = _ctx(request)
    actor = ctx.need_actor()
    status = ctx.reads.log_status()
    lag = None
    if status.witness is not None:
        seconds = seconds_between(status.witness.time, status.checkpoint_time)
        lag = ctx.t("log.lag_value", entries=status.witness.lag_entries,
                    time=duration(seconds or 0, ctx.lang))
    verify = status.verify
    witnesses = witness_table(request.app, ctx.service.ledger)  # each witness's size and lag
    running, stopped = _verify_runs(request).status()
    since = (status.tree_size - verify.entries if verify and verify.entries < status.tree_size
             else None)
    return _render(ctx, "log.html", log=status, lag=lag, verify=verify, witnesses=witnesses,
                   may_verify=actor.role in (Role.ADMIN, Role.AUDIT),
                   verified=verified == "1", running=running, stopped=stopped, since=since,
                   stale_days=_stale_days(verify, ctx.service.ledger.now()),
                   unverified_days=(None if verify or status.verify_problem
                                    else _unverified_days(ctx)),
                   names=_runners(ctx, verify, running))


def _unverified_days(ctx: Ctx) -> int | None:
    """Days since the ledger's first entry, where no verify result is kept at all and that is
    two days or more: the nightly verify would have kept one, so its timer never ran, or every
    result was deleted. Not for the demo, whose entries are a made-up history of years."""
    if ctx.service.ledger.custody.is_demo:
        return None
    first = ctx.service.ledger.log.leaf(0)
    return _days_if_stale(first.recorded_at if first else None, ctx.service.ledger.now())


def _stale_days(verify: VerifyRecord | None, now: str) -> int | None:
    """Days since the last kept verify finished, if two or more (else None). The nightly
    verify keeps a result every day: one two days old means its timer stopped, or a newer
    (failed) result is no longer there."""
    return _days_if_stale(verify.finished_at if verify else None, now)


def _days_if_stale(since: str | None, now: str) -> int | None:
    """Whole days from ``since`` to ``now``, if :data:`_STALE_VERIFY` or more (else None)."""
    age = seconds_between(since, now)
    return int(age // 86400) if age is not None and age >= _STALE_VERIFY else None


def _runners(ctx: Ctx, verify: VerifyRecord | None,
             running: VerifyProgress | None) -> dict[str, str]:
    """Who ran the checks shown, as officials know them: ``name (actor)``, and the command
    line's runs (the nightly timer's) in words."""
    actors = ctx.service.ledger.registry().actors
    names = {"ledger verify": ctx.t("log.verify_by_cli")}
    for by in (verify.by if verify else None, running.by if running else None):
        if by in actors:
            names[by] = f"{actors[by].display_name} ({by})"
    return names


_STALE_VERIFY = 2 * 86400
"""Seconds after which the last kept verify is called old on the log page (nightly runs)."""


@router.post("/log/verify")
async def run_verify(request: Request) -> Response:
    """Start ``ledger verify`` (admin or audit) in the background; the log page follows it
    until its result is kept with its time (one run at a time: a second click joins it)."""
    form = await _form(request)
    ctx = await run_in_threadpool(_ctx, request)
    actor = ctx.need_actor()
    _check_csrf(ctx, form.get(CSRF_FIELD))
    _verify_runs(request).start(ctx.service, actor)
    raise _Redirect("/log?verified=1")


def _verify_runs(request: Request) -> BackgroundVerify:
    runs: BackgroundVerify = request.app.state.verify_runs
    return runs
