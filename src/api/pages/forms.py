"""The filing forms (docs/design.md §6): one form per event type the caller may file, the
application form that opens a project, and the document upload behind the forms' file pickers.

A filing goes the same way as ``POST /api/v1/projects/{id}/events``: through
:meth:`api.services.LedgerService.file`, with the same roles, rules and refusals.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.pages import i18n
from api.pages.routes import (
    Ctx,
    PageRoute,
    _check_csrf,
    _ctx,
    _fileable,
    _form,
    _project_id,
    _Redirect,
    _render,
)
from api.pages.security import CSRF_FIELD, CSRF_HEADER
from api.pages.text import parse_day
from api.problems import ledger_problem
from api.services import Actor, EventInput
from ledger.errors import (
    AuthorisationError,
    LedgerError,
    ProjectNotFoundError,
    RuleViolationError,
    ValidationFailedError,
)
from ledger.measures.catalogue import EXAMPLES, EventSpec

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_ARTICLE_IN = re.compile(r"Art\. (\d+)")

router = APIRouter(route_class=PageRoute, include_in_schema=False)

# --- filing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldDoc:
    """One payload field as the form's reference table shows it."""

    name: str
    kind: str
    required: bool
    description: str


def _kind_of(schema: Mapping[str, Any]) -> str:
    if "$ref" in schema:
        return "object " + str(schema["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in schema:
        kinds = [_kind_of(s) for s in schema["anyOf"] if s.get("type") != "null"]
        return " | ".join(kinds)
    if "enum" in schema:
        return " | ".join(json.dumps(v, ensure_ascii=False) for v in schema["enum"])
    kind = str(schema.get("type", "any"))
    if kind == "array":
        return f"[{_kind_of(schema.get('items', {}))}]"
    if schema.get("format"):
        kind += f" ({schema['format']})"
    return kind


def _fields(model: type[BaseModel]) -> list[FieldDoc]:
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    docs = []
    for name, prop in schema.get("properties", {}).items():
        description = str(prop.get("description") or "")
        if not description and "anyOf" in prop:
            description = next((str(s["description"]) for s in prop["anyOf"]
                                if s.get("description")), "")
        docs.append(FieldDoc(name, _kind_of(prop), name in required, description))
    return docs


def _prefill(ctx: Ctx, spec: EventSpec) -> str:
    """The example payload, made to fit: this year, and no optional unknown documents."""
    payload = json.loads(json.dumps(EXAMPLES.get(spec.name, {})))
    model_fields = spec.payload.model_fields
    hashes = [v for v in payload.values() if isinstance(v, str) and _SHA256.match(v)]
    stored = ctx.service.ledger.log.existing_documents(hashes) if hashes else set()
    for name in list(payload):
        value = payload[name]
        info = model_fields.get(name)
        if (info is not None and not info.is_required() and isinstance(value, str)
                and _SHA256.match(value) and value not in stored):
            del payload[name]
    if "year" in payload and isinstance(payload["year"], int):
        payload["year"] = ctx.service.ledger.today().year
    return json.dumps(payload, ensure_ascii=False, indent=2)


def _problem_article(message: str, exc: ValidationFailedError, spec: EventSpec) -> str:
    found = _ARTICLE_IN.search(message)
    if found:
        return f"Art. {found.group(1)}"
    numbers = exc.articles if len(exc.articles) == 1 else spec.articles
    return ", ".join(f"Art. {n}" for n in numbers)


def _file_page(ctx: Ctx, actor: Actor, project_id: uuid.UUID | None, chosen: str | None,
               *, payload: str | None = None, effective: str = "", nonce: str | None = None,
               errors: list[tuple[str, str, str]] | None = None,
               refused: dict[str, Any] | None = None, status: int = 200) -> Response:
    types = _fileable(actor, opens=project_id is None)
    row = None
    if project_id is not None:
        data = ctx.reads.project(actor, project_id)
        row = data.views["project"]["state"]
    if not types:
        raise AuthorisationError(actor.actor, f"file entries as {actor.role}")
    spec = next((s for s in types if s.name == chosen), types[0])
    return _render(ctx, "file.html", status=status, project=row, types=types, spec=spec,
                   fields=_fields(spec.payload),
                   payload=payload if payload is not None else _prefill(ctx, spec),
                   effective=effective, nonce=nonce or str(uuid.uuid4()), errors=errors or [],
                   refused=refused,
                   action=(f"/projects/{project_id}/file" if project_id else "/apply"))


@router.get("/projects/{project}/file")
def file_form(project: str, request: Request, type: str | None = None) -> Response:
    """The filing form for one event type the caller may file on this project."""
    ctx = _ctx(request)
    return _file_page(ctx, ctx.need_actor(), _project_id(project), type)


@router.get("/apply")
def apply_form(request: Request) -> Response:
    """The application form (立项申请, Arts. 6–8, 24): opens a new project."""
    ctx = _ctx(request)
    return _file_page(ctx, ctx.need_actor(), None, "ApplicationFiled")


def _parse_filing(t: Callable[..., str], text: str, effective_text: str,
                  articles: str) -> tuple[Any, date | None, list[tuple[str, str, str]]]:
    """The form's JSON payload and effective date, or what is wrong with them."""
    errors: list[tuple[str, str, str]] = []
    payload: Any = None
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        errors.append(("payload", t("file.not_json", line=exc.lineno, col=exc.colno,
                                    msg=exc.msg), articles))
    else:
        if not isinstance(payload, dict):
            errors.append(("payload", t("file.not_object"), articles))
    effective = None
    if effective_text:
        try:
            effective = parse_day(effective_text)
        except ValueError:
            errors.append(("effective", t("file.bad_date"), articles))
    return payload, effective, errors


def _submit(ctx: Ctx, project_id: uuid.UUID | None, form: dict[str, str]) -> Response:
    actor = ctx.need_actor()
    _check_csrf(ctx, form.get(CSRF_FIELD))
    types = {s.name: s for s in _fileable(actor, opens=project_id is None)}
    event_type = form.get("type", "")
    spec = types.get(event_type)
    if spec is None:
        raise AuthorisationError(actor.actor, f"file {event_type or 'this'} as {actor.role}")
    if project_id is not None:
        ctx.reads.visible_facts(actor, project_id)  # another unit's project: 404
    text, effective_text = form.get("payload", ""), form.get("effective", "").strip()
    articles = ", ".join(f"Art. {n}" for n in spec.articles)
    payload, effective, errors = _parse_filing(ctx.t, text, effective_text, articles)
    try:
        nonce = uuid.UUID(form.get("nonce", ""))
    except ValueError:
        nonce = uuid.uuid4()

    def again(status: int, refused: dict[str, Any] | None = None) -> Response:
        return _file_page(ctx, actor, project_id, event_type, payload=text,
                          effective=effective_text, nonce=str(nonce), errors=errors,
                          refused=refused, status=status)

    if errors:
        return again(422)
    try:
        filed = ctx.service.file(actor, EventInput(type=event_type, payload=payload,
                                                   effective=effective, nonce=nonce,
                                                   stream=project_id))
    except ValidationFailedError as exc:
        errors.extend((field, i18n.message_in(message, ctx.lang),
                       _problem_article(message, exc, spec)) for field, message in exc.problems)
        return again(422)
    except RuleViolationError as exc:
        return again(409, {"rule": exc.rule, "article": exc.article, "detail": str(exc),
                           "quote_zh": exc.quote_zh, "caused_by": list(exc.caused_by)})
    except (AuthorisationError, ProjectNotFoundError):
        raise
    except LedgerError as exc:
        status = ledger_problem(exc).status_code
        return again(status, {"rule": None, "article": articles, "detail": str(exc),
                              "caused_by": []})
    receipt = filed.receipt
    raise _Redirect(f"/projects/{receipt.stream}?filed={receipt.seq}#entry-{receipt.seq}")


@router.post("/projects/{project}/file")
async def file_entry(project: str, request: Request) -> Response:
    """File through the form: the same path as ``POST /api/v1/projects/{id}/events``."""
    form = await _form(request)
    ctx = await run_in_threadpool(_ctx, request)
    return await run_in_threadpool(_submit, ctx, _project_id(project), form)


@router.post("/apply")
async def apply(request: Request) -> Response:
    """File an application through the form (opens a project)."""
    form = await _form(request)
    ctx = await run_in_threadpool(_ctx, request)
    return await run_in_threadpool(_submit, ctx, None, form)


@router.post("/documents")
async def upload_document(request: Request) -> Response:
    """Upload a document for a filing (the form's file picker; body = the file)."""
    ctx = await run_in_threadpool(_ctx, request)
    actor = ctx.need_actor()
    _check_csrf(ctx, request.headers.get(CSRF_HEADER))
    ctx.service.require_reader(actor)
    limit = ctx.service.ledger.settings.max_document_bytes
    data = bytearray()
    async for chunk in request.stream():
        data.extend(chunk)
        if len(data) > limit:
            raise ValidationFailedError("document", [("file", f"larger than {limit} bytes")])
    media_type = request.headers.get("content-type", "")
    try:
        document = await run_in_threadpool(ctx.service.ledger.add_document, bytes(data),
                                           media_type)
    except ValidationFailedError as exc:
        return JSONResponse({"errors": [
            {"field": f, "message": i18n.message_in(m, ctx.lang)} for f, m in exc.problems]},
            status_code=422)
    return JSONResponse({"sha256": document.sha256, "size": document.size,
                         "media_type": document.media_type})
