"""What each entry of a project says, in words, for the project page (docs/design.md §6).

Every entry is shown with the content its author filed, read through the same form nodes as
the filing forms (:mod:`api.pages.formspec`): the event's Chinese name, its key fields in the
form's own words (amounts in 万元, exact; choices by their Chinese names), the documents it
cites with the kind and size of each, and what proves it: signer, signature status, ``seq``,
leaf index and entry hash. The unit's standing under Art. 22 is read here too.

Derived once per :class:`~api.pages.model.ProjectData` (one log prefix and date) and kept in it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from api.pages import i18n
from api.pages.formspec import Node, fen_to_wan, form_for
from api.pages.model import Memo, ProjectData
from api.pages.text import cst_zoned
from api.services import Actor, LedgerService
from ledger.errors import AuthorisationError
from ledger.measures.catalogue import CATALOGUE
from ledger.measures.roles import Role

_TEXT_LIMIT = 240
_CARD_LIMIT = 200_000
_EXTENSIONS = {
    "application/pdf": "pdf", "application/ofd": "ofd", "image/png": "png",
    "image/jpeg": "jpg", "application/zip": "zip", "text/plain": "txt",
    "application/json": "json", "application/msword": "doc",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
}
_CARD = Environment(loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"),
                    autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                    trim_blocks=True, lstrip_blocks=True,
                    auto_reload=False).get_template("_entry.html")
_KINDS_ZH = {"pdf": "PDF 文件", "ofd": "OFD 版式文件", "png": "PNG 图片", "jpg": "JPEG 图片",
             "zip": "压缩包", "txt": "文本", "json": "JSON 数据", "doc": "Word 文档",
             "docx": "Word 文档", "xls": "Excel 表格", "xlsx": "Excel 表格"}


def extension(media_type: str) -> str:
    """The usual file extension of an accepted media type (``bin`` if unknown)."""
    return _EXTENSIONS.get(media_type.split(";", 1)[0].strip().lower(), "bin")


@dataclass(frozen=True)
class DocumentLink:
    """A document an entry cites, as the page lists it."""

    label: str
    """What it is, in the form's words (``合同文本``)."""
    sha256: str
    media_type: str
    size: int | None
    """``None`` when the store does not hold it."""

    @property
    def file_name(self) -> str:
        """The name it downloads under: its label and the extension of its kind."""
        name = self.label.split(" · ")[-1].replace("/", "／")
        return f"{name}.{extension(self.media_type)}"

    def kind(self, lang: str) -> str:
        """Its kind in words (``PDF 文件``)."""
        ext = extension(self.media_type)
        return _KINDS_ZH.get(ext, ext) if lang == "zh" else ext.upper()


@dataclass(frozen=True)
class EntryView:
    """One entry's content in words."""

    seq: int
    fields: tuple[tuple[str, str], ...]
    """``(label, value)`` for each field filed, in the form's order."""
    documents: tuple[DocumentLink, ...]
    leaf: int | None
    html: Markup = field(default_factory=Markup)
    """The entry's card (``_entry.html``), rendered once: a page of 1,000 entries pastes
    1,000 finished cards rather than rendering them on every view."""


def _yes(value: bool, lang: str) -> str:
    if lang == "zh":
        return "是" if value else "否"
    return "yes" if value else "no"


def _choice(node: Node, value: Any, lang: str) -> str:
    for code, zh, en in node.choices:
        if code == value:
            return zh if lang == "zh" else en
    return str(value)


def _scalar(node: Node, value: Any, lang: str) -> str:
    if node.kind == "money" and isinstance(value, int):
        return f"{fen_to_wan(value)} 万元"
    if node.kind == "enum":
        return _choice(node, value, lang)
    if node.kind == "enums" and isinstance(value, list):
        return "、".join(_choice(node, v, lang) for v in value)
    if node.kind == "ints" and isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if node.kind == "bool":
        return _yes(value is True, lang)
    text = str(value)
    return text if len(text) <= _TEXT_LIMIT else text[:_TEXT_LIMIT] + "…"


class _Reader:
    """Walks one payload along its form's nodes."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.fields: list[tuple[str, str]] = []
        self.documents: list[tuple[str, str]] = []

    def group(self, nodes: Sequence[Node], payload: Mapping[str, Any], prefix: str) -> None:
        for node in nodes:
            if node.name in payload:
                self.node(node, payload[node.name], prefix + node.label(self.lang))

    def node(self, node: Node, value: Any, label: str) -> None:
        if value is None or value in ([], ""):
            return
        if node.kind == "document":
            self.documents.append((label, str(value)))
        elif node.kind == "group" and isinstance(value, Mapping) and "passed" in value:
            self.fields.append((label, self.judged(value)))  # an Art. 9 criterion
        elif node.kind == "group" and isinstance(value, Mapping):
            self.group(node.children, value, label + " · ")
        elif node.kind == "list" and isinstance(value, list) and node.item is not None:
            for index, item in enumerate(value, 1):
                place = f"{label} {index}" if len(value) > 1 else label
                if node.item.kind == "group" and isinstance(item, Mapping):
                    self.fields.append((place, self.summary(node.item.children, item)))
                    self.group([n for n in node.item.children if n.kind == "document"],
                               item, place + " · ")
                else:
                    self.node(node.item, item, place)
        else:
            self.fields.append((label, _scalar(node, value, self.lang)))

    def judged(self, criterion: Mapping[str, Any]) -> str:
        """A review criterion on one line: passed or not, and the remarks."""
        zh = self.lang == "zh"
        verdict = ("通过" if zh else "passed") if criterion.get("passed") is True else (
            "未通过" if zh else "not passed")
        remarks = str(criterion.get("remarks") or "")
        return f"{verdict}{'：' if zh else ': '}{remarks}" if remarks else verdict

    def summary(self, nodes: Sequence[Node], item: Mapping[str, Any]) -> str:
        """A list item on one line: its values, in order."""
        return "；".join(_scalar(n, item[n.name], self.lang) for n in nodes
                        if n.name in item and n.kind not in ("document", "group", "list"))


# An entry never changes once recorded, nor does a document: its card is the same on every
# page that shows it, as long as its signature check, signer and language are. So a filing on
# a 1,000-entry project renders one new card, not 1,000.
_CARDS = Memo(_CARD_LIMIT)
_DOCUMENTS = Memo(_CARD_LIMIT)


def _document(service: LedgerService, sha: str) -> tuple[str, int | None]:
    found: tuple[str, int | None] | None = _DOCUMENTS.get(sha)
    if found is None:
        document = service.ledger.log.get_document(sha)
        if document is None:
            return ("", None)  # not stored (yet): asked again next time
        found = (document.media_type, document.size)
        _DOCUMENTS.put(sha, found)
    return found


def _card(service: LedgerService, data: ProjectData, row: Mapping[str, Any],
          lang: str) -> EntryView:
    """One entry in words and its rendered card."""
    seq = int(row["seq"])
    reader = _Reader(lang)
    spec = CATALOGUE.get(str(row["type"]))
    if spec is not None:
        reader.group(form_for(spec.payload), data.payloads.get(seq, {}), "")
    links = tuple(DocumentLink(label, sha, *_document(service, sha))
                  for label, sha in reader.documents)
    leaf = service.ledger.log.leaf_for(data.project_id, seq)
    view = EntryView(seq, tuple(reader.fields), links,
                     leaf.leaf_index if leaf is not None else None)
    return replace(view, html=Markup(_CARD.render(  # noqa: S704 - autoescaped output
        e=row, v=view, sig=data.signatures.get(seq, row.get("signature")), names=data.names,
        project_id=data.project_id, lang=lang, t=i18n.translator(lang),
        zoned=lambda at: cst_zoned(at, lang), label=i18n.label, ROLES=i18n.ROLES,
        article=i18n.article, event_label=i18n.event_label)))


def entry_views(service: LedgerService, data: ProjectData, lang: str) -> dict[int, EntryView]:
    """seq → the entry in words, for every entry of the page's log prefix."""
    key = f"entries-{lang}"
    found: dict[int, EntryView] | None = data.extra.get(key)
    if found is not None:
        return found
    found = {}
    for row in data.views["trail"]["state"]:
        seq = int(row["seq"])
        signer = str(row.get("actor") or "")
        card_key = (row["entry_hash"], lang, data.signatures.get(seq, row.get("signature")),
                    signer, data.names.get(signer), row.get("role"), str(data.project_id))
        view: EntryView | None = _CARDS.get(card_key)
        if view is None:
            view = _card(service, data, row, lang)
            if all(link.size is not None for link in view.documents):
                _CARDS.put(card_key, view)
        found[seq] = view
    data.extra[key] = found
    return found


def cited_document(service: LedgerService, data: ProjectData, sha256: str,
                   lang: str) -> DocumentLink | None:
    """The document ``sha256`` as an entry of the project cites it, if one does."""
    for view in entry_views(service, data, lang).values():
        for link in view.documents:
            if link.sha256 == sha256:
                return link
    return None


def standing(service: LedgerService, actor: Actor, unit: str | None,
             as_known_at: str | None = None) -> dict[str, Any] | None:
    """The unit's standing under Art. 22 (barred from new systems, and why), if the caller
    may see it."""
    if not unit or actor.role is Role.ADMIN:
        return None
    try:
        return service.unit_standing(actor, unit, as_known_at)
    except AuthorisationError:
        return None
