"""项目库导入 (``/import``, role ``office`` only): the spreadsheet import from the web pages.

The same import as ``ledger import`` (:class:`ledger.service.importer.Importer`, docs/import.md):
the office downloads the template, uploads its filled-in copy, sees per row what would be filed
or why not (a dry run, ticked by default), then files it. The upload is a multipart form read
with the standard library's MIME parser (no extra dependency), bounded by the request body
limit (``LEDGER_MAX_REQUEST_BYTES``), and carries the CSRF token like every form of the pages.
"""

from __future__ import annotations

import tempfile
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from api.pages.routes import Ctx, PageRoute, _check_csrf, _ctx, _Refused, _render
from api.pages.security import CSRF_FIELD
from api.services import Actor
from ledger.measures.roles import Role
from ledger.service.importer import STATUS_ZH, XLSX, Importer, write_template

router = APIRouter(route_class=PageRoute, include_in_schema=False)

TEMPLATE_NAME = "项目库导入模板.xlsx"

WORDS = {
    "zh": {"title": "项目库导入",
           "intro": "上传按模板填写的 Excel 表格（.xlsx）或单个工作表的 CSV 文件。"
                    "金额以万元填写；同一项目的各行一并登记或一并不登记；"
                    "再次上传只登记尚未登记的行。",
           "template": "下载导入模板", "file": "表格文件", "dry_run": "试运行（只检查，不登记）",
           "submit": "上传并检查", "report": "导入结果", "dry": "试运行：未写入任何内容",
           "row": "行", "project": "项目编号", "status": "结果", "event": "事项",
           "why": "原因", "flags": "已记录并标记", "none": "没有需要说明的行。"},
    "en": {"title": "Import the project library", "intro": "Upload the filled-in template"
           " (.xlsx) or one sheet as CSV. Amounts in 万元; a project's rows are filed together"
           " or not at all; uploading again files only the rows not yet filed.",
           "template": "Download the template", "file": "Spreadsheet", "dry_run":
           "Dry run (check only, file nothing)", "submit": "Upload and check", "report":
           "Result", "dry": "Dry run: nothing was written", "row": "Row", "project": "Project no.",
           "status": "Outcome", "event": "Filing", "why": "Why", "flags": "Recorded and flagged",
           "none": "No row needs a word."},
}


def _office(ctx: Ctx) -> Actor:
    actor = ctx.need_actor()
    if actor.role is not Role.OFFICE:
        raise _Refused(403, ctx.t("error.403"))
    return actor


@router.get("/import")
def import_page(request: Request) -> Response:
    """The upload form."""
    ctx = _ctx(request)
    _office(ctx)
    return _render(ctx, "import.html", words=WORDS[ctx.lang], report=None, statuses=STATUS_ZH)


@router.get("/import/template.xlsx")
def import_template(request: Request) -> Response:
    """The import template, as ``ledger import --template`` writes it."""
    ctx = _ctx(request)
    _office(ctx)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "template.xlsx"
        write_template(path)
        data = path.read_bytes()
    return Response(data, media_type=XLSX, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(TEMPLATE_NAME)}"})


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str],
                                                              tuple[str, bytes] | None]:
    """A ``multipart/form-data`` body: its text fields, and its one file (name, bytes)."""
    if not content_type.startswith("multipart/form-data"):
        raise _Refused(415, "expected multipart/form-data")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not isinstance(message, EmailMessage) or not message.is_multipart():
        raise _Refused(400, "not a multipart form")
    fields: dict[str, str] = {}
    upload: tuple[str, bytes] | None = None
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(data, bytes):
            continue
        filename = part.get_filename()
        if filename is not None:
            if data:
                upload = (Path(filename).name, data)
        else:
            fields[name] = data.decode("utf-8", "replace")
    return fields, upload


@router.post("/import")
async def run_import(request: Request) -> Response:
    """Check (and, unless a dry run, file) an uploaded spreadsheet; show the report."""
    ctx = await run_in_threadpool(_ctx, request)
    _office(ctx)
    # The body limit of every form (LEDGER_MAX_REQUEST_BYTES, enforced while it is read by
    # api.limits) bounds the upload: a larger library goes in with `ledger import`.
    limit = ctx.service.ledger.settings.max_request_bytes
    body = await request.body()
    if len(body) > limit:
        raise _Refused(413, f"the upload is larger than {limit} bytes: use `ledger import`")
    fields, upload = parse_multipart(request.headers.get("content-type", ""), body)
    _check_csrf(ctx, fields.get(CSRF_FIELD))
    if upload is None:
        raise _Refused(422, WORDS[ctx.lang]["file"] + ": —")
    name, data = upload
    dry_run = fields.get("dry_run") == "1"
    report = await run_in_threadpool(Importer(ctx.service.ledger).run, data, name,
                                     dry_run=dry_run)
    return await run_in_threadpool(lambda: _render(
        ctx, "import.html", words=WORDS[ctx.lang], report=report, statuses=STATUS_ZH))


__all__ = ["parse_multipart", "router"]
