"""The filing forms (docs/design.md §6): one form per event type the caller may file, the
application form that opens a project, and the document upload behind the forms' file pickers.

Each form is generated from the event's payload model (:mod:`api.pages.formspec`): labelled
inputs in Chinese, amounts in 万元, dates with pickers, choices, repeated groups, and file
inputs that upload the document and fill in its reference (``static/forms.js``). The JSON the
filing carries stays available to experts behind a toggle, and may be submitted as it is.

A filing goes the same way as ``POST /api/v1/projects/{id}/events``: through
:meth:`api.services.LedgerService.file`, with the same roles, rules and refusals. A unit that
holds its own key signs in the browser (WebCrypto Ed25519, where the browser has it) over the
filing the server builds from the same form (``POST /forms/preview``); the server never sees
the private key. Otherwise the server signs with the actor's custodial key.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import parse_qsl, quote

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from markupsafe import Markup, escape

from api.pages import entries, i18n
from api.pages.explain import error_message
from api.pages.formspec import (
    Node,
    Parsed,
    form_for,
    form_values,
    input_id,
    list_count,
    parse_form,
)
from api.pages.routes import (
    Ctx,
    PageRoute,
    _check_csrf,
    _ctx,
    _fileable,
    _project_id,
    _Redirect,
    _Refused,
    _render,
)
from api.pages.security import CSRF_FIELD, CSRF_HEADER
from api.pages.text import parse_day
from api.problems import ledger_problem
from api.routers.documents import owner_of, upload_limiter
from api.services import Actor, EventInput
from ledger.errors import (
    AuthorisationError,
    BadSignatureError,
    KeyNotValidError,
    LedgerError,
    ProjectNotFoundError,
    RateLimitedError,
    RuleViolationError,
    ValidationFailedError,
)
from ledger.log.entries import Filing
from ledger.measures.catalogue import EXAMPLES, EventSpec, validate_payload
from ledger.service.documents import served

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_ARTICLE_IN = re.compile(r"Art\. (\d+)")
_MAX_FORM_BYTES = 2 * 1024 * 1024
_ACCEPT = (".pdf,.ofd,.png,.jpg,.jpeg,.zip,.docx,.xlsx,.doc,.xls,.txt,.json,application/pdf,"
           "image/png,image/jpeg")

router = APIRouter(route_class=PageRoute, include_in_schema=False)

_TEXT: dict[str, tuple[str, str]] = {
    "add": ("添加", "Add"),
    "remove": ("删除此项", "Remove"),
    "choose": ("请选择", "Choose"),
    "wan": ("万元", "万元"),  # ten thousand yuan: the unit budgets are written in
    "money_help": ("以万元为单位，可精确到分（最多 6 位小数），如 286 或 12.5。",
                   "In 万元 (10,000 yuan), exact to the fen (up to 6 decimals)."),
    "sha256": ("文件指纹 SHA-256（选择文件后自动填写）",
               "SHA-256 (filled in when a file is chosen)"),
    "doc_given": ("已填写文件指纹", "reference given"),
    "choose_file": ("选择文件…", "Choose a file…"),
    "choose_files": ("一次选择多个文件…", "Choose several files…"),
    "required_note": ("带 * 的为必填项。", "Fields marked * are required."),
    "json_toggle": ("专家：查看或编辑 JSON", "Experts: view or edit the JSON"),
    "json_use": ("按此 JSON 提交（不使用上方表单）", "Submit this JSON (not the form above)"),
    "json_help": ("这是上方表单生成的签名内容。金额为以“分”为单位的整数，日期为 YYYY-MM-DD，"
                  "文件为其 SHA-256。", "What the form above produces and the filing signs."
                  " Money is integer fen, dates YYYY-MM-DD, documents their SHA-256."),
    "signing": ("签名方式", "Signing"),
    "sign_server": ("由服务器代为签名（托管密钥）", "Signed by the server (custodial key)"),
    "sign_client": ("在本浏览器中用本单位自己的密钥签名", "Sign in this browser with our own key"),
    "key_file": ("密钥文件（ledger keys generate 生成，不会上传）",
                 "Key file (from ledger keys generate; never uploaded)"),
    "no_webcrypto": ("此浏览器不支持 Ed25519 签名，请使用托管签名或 ledger submit 命令。",
                     "This browser cannot sign with Ed25519: use the custodial key or"
                     " `ledger submit`."),
    "client_only": ("本单位的密钥由本单位保管：请选择密钥文件，在浏览器中签名。",
                    "Your unit holds its own key: choose the key file to sign in the browser."),
    "field_ref": ("字段对照（JSON 名称）", "Fields (JSON names)"),
}


def _ft(lang: str) -> Callable[[str], str]:
    index = 0 if lang == "zh" else 1
    return lambda key: _TEXT[key][index] if key in _TEXT else key


# --- what a form shows --------------------------------------------------------------------------


@dataclass
class FormState:
    """One filing form as shown: what was typed, what is wrong, and any refusal."""

    values: dict[str, list[str]] = field(default_factory=dict)
    errors: list[tuple[str, str, str]] = field(default_factory=list)
    """``(path, message in the reader's language, cited article)``."""
    refused: dict[str, Any] | None = None
    posted: bool = False
    payload_text: str | None = None
    json_mode: bool = False
    effective: str = ""
    nonce: str = ""


# The field of the form a refusal is about, where one is (shown beside it).
_REFUSAL_FIELD = {
    "approval_required": "effective", "exceeds_arranged_or_approved": "amount_fen",
    "no_headroom": "amount_fen", "funding_suspended": "kind", "unit_barred": "kind",
    "acceptance_required": "kind", "sharing_non_compliance": "kind",
    "security_non_compliance": "kind", "catalogue_not_completed": "kind",
    "not_completed": "effective",
}


def _refusal_field(rule: str, spec: EventSpec) -> str:
    name = _REFUSAL_FIELD.get(rule, "")
    if rule == "unknown_reference":  # the entry the filing cites
        name = next((n for n in spec.payload.model_fields if n.endswith("_seq")), "")
    return name if name == "effective" or name in spec.payload.model_fields else ""


def _collapse(path: str, nodes: Sequence[Node]) -> str:
    """The input an error path belongs to: a choice list's ``conduct[1]`` is ``conduct``."""
    bare = re.sub(r"\[\d+\]$", "", path)
    if bare == path:
        return path
    node = _node_at(bare, nodes)
    return bare if node is not None and node.kind in ("enums", "ints") else path


def _node_at(path: str, nodes: Sequence[Node]) -> Node | None:
    current: Node | None = None
    level = nodes
    for part in re.sub(r"\[\d+\]", "", path).split("."):
        current = next((n for n in level if n.name == part), None)
        if current is None:
            return None
        if current.kind == "list" and current.item is not None:
            level = current.item.children
        else:
            level = current.children
    return current


def _default_values(ctx: Ctx, nodes: Sequence[Node]) -> dict[str, list[str]]:
    """A new form: empty, but for the year fields (this year)."""
    year = str(ctx.service.ledger.today().year)
    return {n.name: [year] for n in nodes if n.kind == "int" and n.name.endswith("year")}


def _prefill(ctx: Ctx, spec: EventSpec) -> str:
    """The example payload for the JSON view: this year, and no optional unknown documents."""
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


def _signing_keys(ctx: Ctx, actor: Actor) -> tuple[list[str], bool]:
    """The actor's own (client-held) filing keys in force, and whether the server holds one."""
    ledger = ctx.service.ledger
    own, custodial = [], False
    for key in ledger.registry().keys.values():
        if key.actor != actor.actor or key.revoked_from is not None or key.purpose != "filing":
            continue
        if ledger.custody.holds(key.key_id):
            custodial = True
        else:
            own.append(key.key_id)
    return sorted(own), custodial


def _helpers(state: FormState, lang: str) -> dict[str, Any]:
    """The functions the form's template calls for each input."""
    by_path: dict[str, list[tuple[str, str]]] = {}
    for path, message, cited in state.errors:
        by_path.setdefault(path, []).append((message, cited))

    def errors_at(path: str) -> list[tuple[str, str]]:
        return by_path.get(path, [])

    def values_at(path: str) -> list[str]:
        return state.values.get(path, [])

    def value_at(path: str) -> str:
        found = state.values.get(path)
        return found[0] if found else ""

    def described(node: Node | None, path: str) -> Markup:
        ids = []
        if node is not None and node.help_zh and lang == "zh":
            ids.append(input_id(path) + "-help")
        if path in by_path:
            ids.append(input_id(path) + "-err")
        if state.refused and state.refused.get("field") == path:
            ids.append(input_id(path) + "-refused")
        out = f' aria-describedby="{escape(" ".join(ids))}"' if ids else ""
        if path in by_path:
            out += ' aria-invalid="true"'
        return Markup(out)  # noqa: S704 - built from escaped ids only

    return {"errors_at": errors_at, "values_at": values_at, "value_at": value_at,
            "field_words": field_words,
            "described": described, "input_id": input_id,
            "list_count": lambda path: list_count(state.values, path)}


def _file_page(ctx: Ctx, actor: Actor, project_id: uuid.UUID | None, chosen: str | None,
               state: FormState | None = None, *, status: int = 200) -> Response:
    types = _fileable(actor, opens=project_id is None)
    row = None
    if project_id is not None:
        data = ctx.reads.project(actor, project_id)
        row = data.views["project"]["state"]
    if not types:
        raise AuthorisationError(actor.actor, f"file entries as {actor.role}")
    spec = next((s for s in types if s.name == chosen), types[0])
    nodes = form_for(spec.payload, EXAMPLES.get(spec.name))
    if state is None:
        state = FormState(values=_default_values(ctx, nodes))
    own_keys, custodial = _signing_keys(ctx, actor)
    library = ctx.reads.library(actor)
    projects = [(str(r["id"]), str(r["title"])) for r in library.rows]
    return _render(
        ctx, "file.html", status=status, project=row, types=types, spec=spec, nodes=nodes,
        payload=state.payload_text if state.payload_text is not None else _prefill(ctx, spec),
        json_mode=state.json_mode, effective=state.effective,
        nonce=state.nonce or str(uuid.uuid4()), errors=state.errors, refused=state.refused,
        posted=state.posted, ft=_ft(ctx.lang), accept=_ACCEPT, own_keys=own_keys,
        custodial=custodial, profile=ctx.service.ledger.identity.profile.name,
        units=library.units, projects=projects,
        action=(f"/projects/{project_id}/file" if project_id else "/apply"),
        **_helpers(state, ctx.lang))


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


# --- reading a posted filing ------------------------------------------------------------------


Posted = dict[str, list[str]]


async def _posted(request: Request) -> Posted:
    """The posted form, every name with all its values (checkboxes repeat a name)."""
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        raise _Refused(413, "form too large")
    posted: Posted = {}
    for name, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        posted.setdefault(name, []).append(value)
    return posted


def _one(posted: Posted, name: str) -> str:
    values = posted.get(name)
    return values[-1] if values else ""


def _json_mode(posted: Posted) -> bool:
    """The JSON view is used when it is chosen, or when a client posts only ``payload``."""
    modes = posted.get("mode", [])
    return "json" in modes or (not modes and "payload" in posted)


def _parse_filing(t: Callable[..., str], text: str, effective_text: str,
                  articles: str) -> tuple[Any, date | None, list[tuple[str, str, str]]]:
    """The JSON view's payload and the effective date, or what is wrong with them."""
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


@dataclass
class _Reading:
    """A posted filing read: its payload and date, or the problems found before filing."""

    spec: EventSpec
    state: FormState
    payload: Any
    effective: date | None
    nonce: uuid.UUID


def _read(ctx: Ctx, spec: EventSpec, posted: Posted) -> _Reading:
    """Read the form (or its JSON view) into a payload; problems go into the state."""
    nodes = form_for(spec.payload, EXAMPLES.get(spec.name))
    articles = ", ".join(f"Art. {n}" for n in spec.articles)
    json_mode = _json_mode(posted)
    effective_text = _one(posted, "effective").strip()
    state = FormState(posted=True, json_mode=json_mode, effective=effective_text)
    try:
        nonce = uuid.UUID(_one(posted, "nonce"))
    except ValueError:
        nonce = uuid.uuid4()
    state.nonce = str(nonce)
    if json_mode:
        text = _one(posted, "payload")
        payload, effective, errors = _parse_filing(ctx.t, text, effective_text, articles)
        state.payload_text, state.errors = text, errors
        if isinstance(payload, dict):
            state.values = form_values(nodes, payload)
        return _Reading(spec, state, payload, effective, nonce)
    parsed: Parsed = parse_form(nodes, posted)
    state.values = parsed.values
    state.payload_text = json.dumps(parsed.payload, ensure_ascii=False, indent=2)
    index = 0 if ctx.lang == "zh" else 1
    for path, zh, en in parsed.problems:
        state.errors.append((path, (zh, en)[index], articles))
    _, effective, date_errors = _parse_filing(ctx.t, "{}", effective_text, articles)
    state.errors.extend(date_errors)
    if state.errors:  # also list what the catalogue finds in the rest of the form
        try:
            validate_payload(spec.name, parsed.payload)
        except ValidationFailedError as exc:
            _add_problems(ctx, state, exc, spec, skip={p for p, _, _ in state.errors})
    return _Reading(spec, state, parsed.payload, effective, nonce)


def _add_problems(ctx: Ctx, state: FormState, exc: ValidationFailedError, spec: EventSpec, *,
                  skip: frozenset[str] | set[str] = frozenset()) -> None:
    nodes = form_for(spec.payload, EXAMPLES.get(spec.name))
    for path, message in exc.problems:
        where = _collapse(path, nodes)
        if where not in skip:
            shown = i18n.message_in(message, ctx.lang)
            if ctx.lang == "zh":
                shown = _in_words(_MORE_ZH.get(message, shown), nodes)
            state.errors.append((where, shown, _problem_article(message, exc, spec)))


_SIGNATURE_ZH = ("签名未通过校验：所签内容与提交的不一致，或所用密钥无效、已吊销或不属于您；"
                 "未予记录。")

# Catalogue messages the shared table does not word in Chinese (api.pages.i18n).
_MORE_ZH = {
    "required for an operation_maintenance project: the project it maintains "
    "(原建设项目, Art. 7)": "运维项目须填写其原建设项目",
}
_VOCABULARY = {"role title": "人员职务", "article": "条款", "or": "或"}


def _words(nodes: Sequence[Node], names: dict[str, str], values: dict[str, str]) -> None:
    for node in nodes:
        names.setdefault(node.name, node.label_zh)
        for value, zh, _en in node.choices:
            values.setdefault(value, zh)
        _words(node.children, names, values)
        if node.item is not None:
            _words(node.item.children, names, values)


def _in_words(message: str, nodes: Sequence[Node]) -> str:
    """A Chinese message with the form's own words for the field names and values it cites
    (``当 sharing is 'conditional' 时必填`` → ``当共享属性为“有条件共享”时必填``); the
    article is shown beside it, so its English citation goes."""
    names: dict[str, str] = {}
    values: dict[str, str] = {}
    _words(nodes, names, values)
    text = re.sub(r"\s*\(Art\. \d+\)|（[a-z_]+）", "", message)
    for english, zh in _VOCABULARY.items():
        text = re.sub(rf"\b{english}\b", zh, text)
    text = re.sub(r"'(\w+)'", lambda m: f"“{values.get(m.group(1), m.group(1))}”", text)
    text = re.sub(r"\b([a-z]+(?:_[a-z]+)*)\b", lambda m: names.get(m.group(1), m.group(1)), text)
    return re.sub(r"\s*\bis\b\s*", "为", text).replace("当 ", "当").replace(" 时", "时")


def field_words(path: str, nodes: Sequence[Node], lang: str) -> str:
    """A field's place in the form in words: ``data_resources[0].sharing_basis`` →
    ``信息资源目录 第1项 · 有条件共享/不予共享的依据``."""
    if path == "effective":
        return i18n.translator(lang)("file.effective")
    if path in ("payload", "$"):
        return i18n.translator(lang)("file.payload")
    words = []
    level: Sequence[Node] = nodes
    for part in path.split("."):
        found = re.fullmatch(r"(\w+)(?:\[(\d+)\])?", part)
        if found is None:
            return path
        node = next((n for n in level if n.name == found.group(1)), None)
        if node is None:
            return path
        words.append(node.label(lang) + (f" 第{int(found.group(2)) + 1}项" if found.group(2)
                                          and lang == "zh" else
                                          f" #{int(found.group(2)) + 1}" if found.group(2)
                                          else ""))
        inner = node.item if node.kind == "list" and node.item is not None else node
        level = inner.children
    return " · ".join(words)


def _spec_for(ctx: Ctx, actor: Actor, project_id: uuid.UUID | None, posted: Posted) -> EventSpec:
    types = {s.name: s for s in _fileable(actor, opens=project_id is None)}
    event_type = _one(posted, "type")
    spec = types.get(event_type)
    if spec is None:
        raise AuthorisationError(actor.actor, f"file {event_type or 'this'} as {actor.role}")
    if project_id is not None:
        ctx.reads.visible_facts(actor, project_id)  # another unit's project: 404
    return spec


def _signed_fields(posted: Posted) -> tuple[str | None, str | None, uuid.UUID | None]:
    """A browser-signed filing's key, signature and (for an application) stream."""
    key = _one(posted, "key").strip() or None
    signature = _one(posted, "signature").strip() or None
    if signature is None:  # a key chosen but the server signs: custodial
        key = None
    stream_text = _one(posted, "stream").strip()
    try:
        stream = uuid.UUID(stream_text) if stream_text else None
    except ValueError:
        stream = None
    return key, signature, stream


def _submit(ctx: Ctx, project_id: uuid.UUID | None, posted: Posted) -> Response:
    actor = ctx.need_actor()
    _check_csrf(ctx, _one(posted, CSRF_FIELD))
    spec = _spec_for(ctx, actor, project_id, posted)
    reading = _read(ctx, spec, posted)
    state = reading.state

    def again(status: int) -> Response:
        return _file_page(ctx, actor, project_id, spec.name, state, status=status)

    if state.errors:
        return again(422)
    key, signature, stream = _signed_fields(posted)
    try:
        filed = ctx.service.file(actor, EventInput(
            type=spec.name, payload=reading.payload, effective=reading.effective,
            nonce=reading.nonce, key=key, signature=signature,
            stream=project_id if project_id is not None else stream))
    except ValidationFailedError as exc:
        _add_problems(ctx, state, exc, spec)
        return again(422)
    except RuleViolationError as exc:
        state.refused = {"rule": exc.rule, "article": exc.article,
                         "detail": error_message(409, str(exc), exc, ctx.lang, ctx.unit_name),
                         "quote_zh": exc.quote_zh, "caused_by": list(exc.caused_by),
                         "field": _refusal_field(exc.rule, spec)}
        return again(409)
    except (AuthorisationError, ProjectNotFoundError):
        raise
    except LedgerError as exc:
        status = ledger_problem(exc).status_code
        detail = error_message(status, str(exc), exc, ctx.lang, ctx.unit_name)
        if ctx.lang == "zh" and isinstance(exc, BadSignatureError | KeyNotValidError):
            detail = _SIGNATURE_ZH
        state.refused = {"rule": None, "article": ", ".join(f"Art. {n}" for n in spec.articles),
                         "detail": detail, "quote_zh": "", "caused_by": [], "field": ""}
        return again(status)
    receipt = filed.receipt
    raise _Redirect(f"/projects/{receipt.stream}?filed={receipt.seq}#entry-{receipt.seq}")


@router.post("/projects/{project}/file")
async def file_entry(project: str, request: Request) -> Response:
    """File through the form: the same path as ``POST /api/v1/projects/{id}/events``."""
    posted = await _posted(request)
    ctx = await run_in_threadpool(_ctx, request)
    return await run_in_threadpool(_submit, ctx, _project_id(project), posted)


@router.post("/apply")
async def apply(request: Request) -> Response:
    """File an application through the form (opens a project)."""
    posted = await _posted(request)
    ctx = await run_in_threadpool(_ctx, request)
    return await run_in_threadpool(_submit, ctx, None, posted)


def _preview(ctx: Ctx, project_id: uuid.UUID | None, posted: Posted) -> Response:
    """The payload the form would file, and for a browser-held key the exact bytes to sign."""
    actor = ctx.need_actor()
    _check_csrf(ctx, _one(posted, CSRF_FIELD))
    spec = _spec_for(ctx, actor, project_id, posted)
    reading = _read(ctx, spec, posted)
    body: dict[str, Any] = {"payload": reading.payload, "errors": [
        {"field": path, "message": message, "article": i18n.article(cited, ctx.lang)}
        for path, message, cited in reading.state.errors]}
    key = _one(posted, "key").strip()
    if key and not reading.state.errors and isinstance(reading.payload, dict):
        stream = project_id or uuid.uuid4()
        effective = reading.effective or ctx.service.ledger.today()
        filing = Filing(ledger=ctx.service.ledger.identity.origin, stream=stream,
                        type=spec.name, effective=effective, payload=reading.payload,
                        actor=actor.actor, key=key, nonce=reading.nonce)
        body.update(signing_text=filing.signing_bytes().decode("utf-8"), stream=str(stream),
                    effective=effective.isoformat(), nonce=str(reading.nonce))
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.post("/forms/preview")
async def preview(request: Request, project: str | None = None) -> Response:
    """The JSON a filing form produces (the expert view), and what a browser key signs."""
    posted = await _posted(request)
    ctx = await run_in_threadpool(_ctx, request)
    project_id = _project_id(project) if project else None
    return await run_in_threadpool(_preview, ctx, project_id, posted)


@router.post("/documents")
async def upload_document(request: Request) -> Response:
    """Upload a document for a filing (the form's file picker; body = the file)."""
    ctx = await run_in_threadpool(_ctx, request)
    actor = ctx.need_actor()
    _check_csrf(ctx, request.headers.get(CSRF_HEADER))
    ctx.service.require_reader(actor)
    try:  # the API's limit, per actor here: a new session is no new allowance
        await run_in_threadpool(upload_limiter(ctx.service).take, f"pages:{actor.actor}")
    except RateLimitedError as exc:
        return JSONResponse({"errors": [{"field": "file", "message": ctx.t(
            "form.upload_rate", seconds=exc.retry_after)}]}, status_code=429,
            headers={"Retry-After": str(exc.retry_after)})
    limit = ctx.service.ledger.settings.max_document_bytes
    data = bytearray()
    async for chunk in request.stream():
        data.extend(chunk)
        if len(data) > limit:
            raise ValidationFailedError("document", [("file", f"larger than {limit} bytes")])
    media_type = request.headers.get("content-type", "")
    try:
        document = await run_in_threadpool(  # kept as the unit's upload (api.routers.documents)
            ctx.service.ledger.documents.add, bytes(data), media_type,
            owner=owner_of(actor), actor=actor.actor)
    except ValidationFailedError as exc:
        return JSONResponse({"errors": [
            {"field": f, "message": i18n.message_in(m, ctx.lang)} for f, m in exc.problems]},
            status_code=422)
    return JSONResponse({"sha256": document.sha256, "size": document.size,
                         "media_type": document.media_type})


@router.get("/projects/{project}/documents/{sha256}")
def entry_document(project: str, sha256: str, request: Request) -> Response:
    """A document an entry of the project cites, as an attachment named after what it is
    (``合同文本.pdf``); only for those who may see the project."""
    ctx = _ctx(request)
    actor = ctx.need_actor()
    data = ctx.reads.project(actor, _project_id(project))  # another unit's project: 404
    link = entries.cited_document(ctx.service, data, sha256, ctx.lang) if _SHA256.match(
        sha256) else None
    document = ctx.service.ledger.log.get_document(sha256) if link is not None else None
    if link is None or document is None:
        raise _Refused(404, ctx.t("error.404"))
    document = served(document)
    media_type = document.media_type
    if media_type.startswith("text/"):
        media_type += "; charset=utf-8"
    ascii_name = f"{sha256[:16]}.{entries.extension(document.media_type)}"
    return Response(document.data, media_type=media_type, headers={
        "Content-Disposition": (f'attachment; filename="{ascii_name}";'
                                f" filename*=UTF-8''{quote(link.file_name)}"),
        "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox",
        "Cache-Control": "private, no-store"})
