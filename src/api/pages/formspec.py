"""The filing forms, generated from the catalogue's payload models (docs/design.md §3, §6).

:func:`form_for` turns one payload model into a tree of :class:`Node` s: a labelled input per
field (text, amount in 万元, date, choice, document, yes/no), a fieldset per nested part and
a repeated group per list. Labels and help come from the Measures' own words, as the catalogue
writes them beside each field (``title: ShortText  # 项目名称``) and beside each enumeration
value (``NEW = "new"  # 新建``); a table here fills the fields the catalogue leaves bare.

:func:`parse_form` turns what the browser posts back into the payload a filing carries, the
inverse of the form: amounts typed in 万元 become integer fen exactly (``Decimal``, never a
float; more than six decimals is a mistake, not a rounding), empty inputs are left out so the
catalogue reports them as required, and list items are numbered afresh so that a problem the
catalogue reports at ``data_resources[1].format`` is shown beside the second item on the page.
"""

from __future__ import annotations

import inspect
import io
import re
import tokenize
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import Enum
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from uuid import UUID

from pydantic import BaseModel

from ledger.measures.catalogue import DocumentRef

Kind = Literal["text", "textarea", "money", "int", "ints", "bool", "date", "enum", "enums",
               "document", "uuid", "group", "list"]

FEN_PER_WAN = 1_000_000
"""One 万元 (ten thousand yuan) is 1,000,000 fen (分)."""
_MONEY = re.compile(r"^\d{1,12}(?:\.\d{1,6})?$")
_CJK = re.compile(r"[\u3400-\u9fff]")
_LONG_TEXT = 200  # longer allowed text gets a text area


@dataclass(frozen=True)
class Node:
    """One input (or group of inputs) of a filing form."""

    name: str
    kind: Kind
    label_zh: str
    label_en: str
    help_zh: str = ""
    required: bool = False
    choices: tuple[tuple[str, str, str], ...] = ()
    """``(value, Chinese label, English label)`` for a choice."""
    children: tuple[Node, ...] = ()
    """The fields of a nested part."""
    item: Node | None = None
    """A list's item."""
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    start_items: int = 0
    """How many empty items a list shows on a new form."""

    def label(self, lang: str) -> str:
        """The field's label in ``lang``."""
        return self.label_zh if lang == "zh" else self.label_en


# --- labels ---------------------------------------------------------------------------------

# Fields whose catalogue comment names them in English only (or not at all), by name; a
# ``Model.field`` key wins over a bare name.
_LABELS: dict[str, str] = {
    "level": "申报层级", "documents": "申报材料", "passed": "是否通过", "remarks": "备注",
    "decision": "审核结论", "criteria": "评审内容（第九条）", "kind": "类型",
    "FundingArranged.kind": "资金类型", "FundsDisbursed.kind": "资金类型",
    "IncidentReported.kind": "情况类型", "AuditFindingRecorded.kind": "发现类型",
    "ApplicationFiled.kind": "项目类别",
    "amount_fen": "金额", "FundingArranged.amount_fen": "安排金额",
    "FundsDisbursed.amount_fen": "拨付金额", "FundsMisappropriationFound.amount_fen": "涉及金额",
    "source": "资金来源", "objectives": "建设目标", "site": "建设地点", "budget_fen": "项目预算",
    "main_content": "主要建设内容", "schedule": "建设进度", "aspects": "调整内容",
    "new_values": "调整后的内容", "request_seq": "所审核的申请（条目序号）",
    "description": "情况说明", "reason": "事由", "order_seq": "整改通知（条目序号）",
    "summary": "概要", "outcome": "整改结论", "scope": "范围",
    "FundingSuspended.scope": "暂缓范围", "FundingReinstated.scope": "恢复范围",
    "ThirdPartyEvaluationCommissioned.scope": "评价范围",
    "completed_on": "完成日期", "new_deadline": "新的验收期限", "included": "已纳入共享目录",
    "document": "文件", "report": "报告", "AcceptanceReportFiled.documents": "验收报告组成部分",
    "sharing_catalogue": "纳入共享目录情况（第二十五条）",
    "product_security": "产品安全可靠及安全审查（第二十九条）", "sharing": "共享属性",
    "openness": "开放属性", "entries": "目录条目", "issue": "问题类型", "finding": "认定事实",
    "finding_seq": "所涉认定（条目序号）", "conduct": "行为", "referred_to": "移送去向",
    "persons": "涉及人员（职务）", "cited_articles": "违反的条款",
    "finding_seqs": "所依据的认定（条目序号）", "preliminary_design": "初步设计方案",
    "investment_estimate": "投资概算", "MaterialsSupplemented.documents": "补充的材料",
    "ReviewOpinionIssued.document": "评审意见文书", "ChangeDecided.remarks": "审核意见",
    "RectificationConcluded.remarks": "说明（整改不合格时必填）",
    "ConstructionSuspended.order_seq": "引起暂停的整改通知（条目序号，可选）",
    "ComplianceRestored.finding_seq": "解除的认定、整改或合同（条目序号）",
    "ComplianceRestored.document": "复核文件", "SelfEvaluationSubmitted.report": "自评价报告",
    "HistoryAttested.source": "来源台账", "HistoryAttested.entries": "确认的条目",
    "nonce": "条目随机编号（nonce）", "received_on": "受理日期",
    "SelfEvaluationSubmitted.summary": "自评价概要", "ProductSecurityReview.document": "审查文件",
    "SharingNonComplianceFound.document": "认定文书",
    "SecurityNonComplianceFound.document": "认定文书",
    "FundsMisappropriationFound.report": "审计报告/决定",
    "FundsMisappropriationFound.description": "事实说明", "records_collected": "归集数据量（条）",
    "effect": "试运行效果", "problems": "存在问题（没有请填“无”）",
    "ApplicationDocuments.feasibility_study": "可行性研究报告",
    "AcceptanceDocuments.other_documents": "其他材料（如电子档案目录，第十八条）",
}
_HELP: dict[str, str] = {
    "request_seq": "填写项目时间线上该申请条目的序号。",
    "order_seq": "填写项目时间线上整改通知条目的序号。",
    "finding_seq": "填写项目时间线上相应条目的序号。",
    "finding_seqs": "时间线上的条目序号，用逗号分隔，如 12, 15。",
    "cited_articles": "条款编号（1–39），用逗号分隔，如 9, 22。",
    "co_builders": "共建单位的代码（跨部门、跨地域、跨层级共建共享的项目，第七条）。",
    "related_project": "运维项目填写其原建设项目的项目编号（第七条）。",
    "art8_categories": "属于第八条所列类别的，须在“特殊情况说明”中说明理由。",
    "ApplicationFiled.fiscal_year": ("每年10月份集中提报立项申请（第六条）；"
                                     "填写申请安排资金的年度。"),
    "ApplicationFiled.documents": ("第七条所列申报材料：项目申报表、建设方案、"
                                   "项目绩效目标及绩效指标、依据材料；运维项目另附原合同"
                                   "和前期绩效评估报告；涉及新建土建工程规划的另附"
                                   "可行性研究报告、初步设计方案、投资概算。"),
    "ApplicationFiled.data_resources": ("第二十四条：申报前编制信息资源目录，逐项说明"
                                        "数据来源、格式、更新周期、共享属性和开放属性；"
                                        "有条件共享或不予共享的须说明依据。"),
    "ContractFiled.signed_on": ("签订正式采购合同5个工作日内，应将合同文本报"
                                "综合管理办公室备案（第十三条）。"),
    "ProgressReported.year": "每年年底前报告项目建设进度和预算执行情况（第十四条）。",
    "ProgressReported.budget_executed_fen": "截至报告日累计的预算执行金额。",
    "ReviewOpinionIssued.approved_budget_fen": "同意或附条件同意时填写（第九条）。",
    "ReviewOpinionIssued.conditions": "仅“有条件通过”时填写，至少一项。",
    "feasibility_study": "涉及新建土建工程规划的项目须提交（第七条）。",
    "preliminary_design": "涉及新建土建工程规划的项目须提交（第七条）。",
    "investment_estimate": "涉及新建土建工程规划的项目须提交（第七条）。",
}


def _comments(module: types.ModuleType) -> dict[str, dict[str, str]]:
    """``{class name: {field or enum value: comment}}`` from the catalogue's own source."""
    try:
        source = inspect.getsource(module)
    except (OSError, TypeError):
        return {}
    notes: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            notes[token.start[0]] = token.string.lstrip("#").strip()
    found: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    lines = source.splitlines()
    for number, line in enumerate(lines, 1):
        head = re.match(r"^class (\w+)\(", line)
        if head:
            current = found.setdefault(head.group(1), {})
            continue
        member = re.match(r'^    (\w+)\s*(?::|=\s*"(\w+)")', line)
        if current is None or not member:
            continue
        key = member.group(2) or member.group(1)
        note = notes.get(number, "")
        if not _CJK.search(note):  # a comment on the lines just above the field
            above: list[str] = []
            back = number - 1
            while back in notes and lines[back - 1].strip().startswith("#"):
                above.insert(0, notes[back])
                back -= 1
            note = " ".join(above) if any(_CJK.search(a) for a in above) else note
        current[key] = note
    return found


@cache
def _catalogue_comments() -> dict[str, dict[str, str]]:
    from ledger.measures.catalogue import _events, _types  # noqa: PLC0415 - their source

    return {**_comments(_types), **_comments(_events)}


def _zh_label(note: str) -> str:
    """The Chinese name at the start of a catalogue comment (``(一) 项目申报表`` → 项目申报表)."""
    text = re.sub(r"^\([一二三四五六七八九十]+\)\s*", "", note)
    text = re.split(r"\s\(|;|:|：|\(e\.g\.|, |\s—", text, maxsplit=1)[0].strip()
    return text if _CJK.search(text) and len(text) <= 40 else ""


def _zh_help(note: str, label: str) -> str:
    """The Chinese words of a comment besides its label (English asides left out)."""
    rest = note.replace(label, "", 1).replace("e.g. ", "如：").replace(", ", "、")
    parts = re.findall(r"[^()（）]*[\u3400-\u9fff][^()（）]*", rest)
    words = [p.strip(" ,;:，；") for p in parts if _CJK.search(p)]
    words = [w for w in words if not re.search(r"[A-Za-z]{3,}", w) and len(w) > 2]
    return "；".join(words)


def _english(name: str) -> str:
    words = name.removesuffix("_fen").replace("_", " ")
    return words[:1].upper() + words[1:]


def _labels(model: type[BaseModel], name: str) -> tuple[str, str]:
    note = _catalogue_comments().get(model.__name__, {}).get(name, "")
    label = _LABELS.get(f"{model.__name__}.{name}") or _zh_label(note) or _LABELS.get(name, "")
    help_zh = (_HELP.get(f"{model.__name__}.{name}") or _HELP.get(name, "")
               or (_zh_help(note, label) if note else ""))
    return label or name, help_zh


def _choices(enum: type[Enum]) -> tuple[tuple[str, str, str], ...]:
    notes = _catalogue_comments().get(enum.__name__, {})
    out = []
    for member in enum:
        value = str(member.value)
        zh = _zh_label(re.sub(r"^\([一二三四五六七八九十]+\)\s*", "", notes.get(value, "")))
        out.append((value, zh or value, value.replace("_", " ")))
    return tuple(out)


# --- the form of a model --------------------------------------------------------------------


def _strip(annotation: Any) -> tuple[Any, list[Any], bool]:
    """The bare type, the constraints found on the way, and whether ``None`` is allowed."""
    meta: list[Any] = []
    optional = False
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation, *more = get_args(annotation)
            meta.extend(more)
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            optional = optional or len(args) < len(get_args(annotation))
            annotation = args[0]
        else:
            return annotation, meta, optional


def _constraint(meta: Sequence[Any], attr: str) -> Any:
    for item in meta:
        value = getattr(item, attr, None)
        if value is not None:
            return value
    return None


_SIMPLE: dict[Any, Kind] = {bool: "bool", date: "date", UUID: "uuid"}


def _node(model: type[BaseModel], name: str, annotation: Any, meta: list[Any], *,
          required: bool, example: Any) -> Node:
    label_zh, help_zh = _labels(model, name)
    bare, more, _optional = _strip(annotation)
    meta = [*meta, *more]
    common: dict[str, Any] = {"name": name, "label_zh": label_zh, "label_en": _english(name),
                              "help_zh": help_zh, "required": required}
    if get_origin(bare) is tuple:
        return _list_node(model, name, get_args(bare)[0], meta, example=example, common=common)
    return Node(**common, **_leaf(name, bare, meta, example))


def _list_node(model: type[BaseModel], name: str, item_annotation: Any, meta: list[Any], *,
               example: Any, common: dict[str, Any]) -> Node:
    item_type, item_meta, _ = _strip(item_annotation)
    if isinstance(item_type, type) and issubclass(item_type, Enum):
        return Node(kind="enums", choices=_choices(item_type), **common)
    if item_type is int:
        return Node(kind="ints", **common)
    sample = example[0] if isinstance(example, list) and example else None
    item = _node(model, name, item_type, item_meta, required=True, example=sample)
    item = Node(**{**item.__dict__, "help_zh": ""})
    return Node(kind="list", item=item, start_items=1 if sample is not None else 0,
                maximum=_constraint(meta, "max_length"), **common)


def _leaf(name: str, bare: Any, meta: list[Any], example: Any) -> dict[str, Any]:  # noqa: PLR0911 - one per kind
    if not isinstance(bare, type):
        return {"kind": "text"}
    if issubclass(bare, DocumentRef):
        return {"kind": "document"}
    if issubclass(bare, Enum):
        return {"kind": "enum", "choices": _choices(bare)}
    if issubclass(bare, BaseModel):
        return {"kind": "group",
                "children": form_for(bare, example if isinstance(example, dict) else None)}
    if bare is int and name.endswith("_fen"):
        return {"kind": "money"}
    if bare is int:
        return {"kind": "int", "minimum": _constraint(meta, "ge"),
                "maximum": _constraint(meta, "le")}
    if bare is str:
        longest = _constraint(meta, "max_length")
        return {"kind": "textarea" if longest is not None and longest > _LONG_TEXT else "text",
                "max_length": longest, "pattern": _constraint(meta, "pattern")}
    return {"kind": _SIMPLE.get(bare, "text")}


def form_for(model: type[BaseModel], example: Mapping[str, Any] | None = None,
             ) -> tuple[Node, ...]:
    """The form of a payload model: one node per field, in the model's order."""
    return _form_for(model, _freeze(example or {}))


@cache
def _form_for(model: type[BaseModel], example: Any) -> tuple[Node, ...]:
    sample = _thaw(example)
    nodes = []
    for name, info in model.model_fields.items():
        value = sample.get(name) if isinstance(sample, dict) else None
        nodes.append(_node(model, name, info.annotation, list(info.metadata),
                           required=info.is_required(), example=value))
    return tuple(nodes)


def _freeze(value: Any) -> Any:
    """A hashable copy of plain JSON (for the cache)."""
    if isinstance(value, Mapping):
        return ("{}", tuple(sorted((k, _freeze(v)) for k, v in value.items())))
    if isinstance(value, list | tuple):
        return ("[]", tuple(_freeze(v) for v in value))
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "{}":
        return {k: _thaw(v) for k, v in value[1]}
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "[]":
        return [_thaw(v) for v in value[1]]
    return value


# --- money ------------------------------------------------------------------------------------


def wan_to_fen(text: str) -> int:
    """``"12.5"`` 万元 → ``12500000`` fen, exactly; ``ValueError`` for anything else.

    At most six decimals (one fen is 0.000001 万元): a seventh would be a fraction of a fen.
    Thousands separators (``1,234.5``) and spaces are accepted.
    """
    cleaned = text.replace(",", "").replace("，", "").replace(" ", "").strip()
    if not _MONEY.fullmatch(cleaned):
        raise ValueError(text)
    try:
        amount = Decimal(cleaned) * FEN_PER_WAN
    except InvalidOperation:
        raise ValueError(text) from None
    if amount != amount.to_integral_value():
        raise ValueError(text)
    return int(amount)


def fen_to_wan(fen: int) -> str:
    """Integer fen as 万元, exact: two decimals at least, up to six (``12500000`` → ``12.50``)."""
    whole, rest = divmod(abs(fen), FEN_PER_WAN)
    decimals = f"{rest:06d}".rstrip("0").ljust(2, "0")
    return f"{'-' if fen < 0 else ''}{whole:,}.{decimals}"


# --- the posted form --------------------------------------------------------------------------

Posted = Mapping[str, Sequence[str]]
"""A posted form: every name with its values in order (checkboxes repeat a name)."""


@dataclass
class Parsed:
    """A posted form read back: the payload, what was wrong, and the inputs renumbered."""

    payload: dict[str, Any] = field(default_factory=dict)
    problems: list[tuple[str, str, str]] = field(default_factory=list)
    """``(path, Chinese message, English message)`` for inputs no payload can hold."""
    values: dict[str, list[str]] = field(default_factory=dict)
    """What was typed, by the payload's path (list items numbered from 0 in order)."""


def parse_form(nodes: Sequence[Node], posted: Posted) -> Parsed:
    """Read a posted filing form back into a payload (see the module docstring)."""
    parsed = Parsed()
    parsed.payload = _parse_group(nodes, "", "", posted, parsed)
    return parsed


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _first(posted: Posted, name: str) -> str:
    values = posted.get(name) or ()
    return values[0].strip() if values else ""


def _parse_group(nodes: Sequence[Node], posted_prefix: str, prefix: str, posted: Posted,
                 parsed: Parsed) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for node in nodes:
        value = _parse_node(node, _join(posted_prefix, node.name), _join(prefix, node.name),
                            posted, parsed)
        if value is not None:
            out[node.name] = value
    return out


def _indices(posted: Posted, name: str) -> list[int]:
    pattern = re.compile(re.escape(name) + r"\[(\d+)\]")
    return sorted({int(m.group(1)) for key in posted for m in [pattern.match(key)] if m})


def _parse_node(node: Node, source: str, path: str, posted: Posted,  # noqa: PLR0911 - per kind
                parsed: Parsed) -> Any:
    if node.kind == "group":
        inner = _parse_group(node.children, source, path, posted, parsed)
        if not inner and not node.required:
            return None
        return inner
    if node.kind == "list":
        assert node.item is not None
        items: list[Any] = []
        for index in _indices(posted, source):
            item_path = f"{path}[{len(items)}]"
            item = _parse_node(node.item, f"{source}[{index}]", item_path, posted, parsed)
            if item is not None and item != {}:
                items.append(item)
        return items
    if node.kind == "enums":
        chosen = [v for v in posted.get(source, ()) if v]
        parsed.values[path] = list(chosen)
        return chosen
    if node.kind == "bool":
        text = _first(posted, source)
        parsed.values[path] = [text] if text else []
        return text in ("true", "on", "1")
    text = _first(posted, source)
    if text:
        parsed.values[path] = [text]
    if not text:
        return None
    return _scalar(node, text, path, parsed)


def _scalar(node: Node, text: str, path: str, parsed: Parsed) -> Any:  # noqa: PLR0911 - per kind
    if node.kind == "money":
        try:
            return wan_to_fen(text)
        except ValueError:
            parsed.problems.append((path, "金额以万元为单位，最多 6 位小数（精确到分），如 12.5",
                                    "an amount in 万元 with at most 6 decimals, e.g. 12.5"))
            return None
    if node.kind == "int":
        if re.fullmatch(r"-?\d{1,15}", text):
            return int(text)
        parsed.problems.append((path, "应为整数", "expected a whole number"))
        return None
    if node.kind == "ints":
        parts = [p for p in re.split(r"[,，、\s]+", text) if p]
        if all(re.fullmatch(r"\d{1,15}", p) for p in parts):
            return [int(p) for p in parts]
        parsed.problems.append((path, "应为用逗号分隔的整数，如 9, 22",
                                "expected whole numbers separated by commas, e.g. 9, 22"))
        return None
    if node.kind == "document":
        return text.lower()
    return text


# --- a payload shown in the form --------------------------------------------------------------


def form_values(nodes: Sequence[Node], payload: Mapping[str, Any]) -> dict[str, list[str]]:
    """The inputs' values that show ``payload`` in the form (amounts in 万元)."""
    values: dict[str, list[str]] = {}
    _values_of(nodes, "", payload, values)
    return values


def _values_of(nodes: Sequence[Node], prefix: str, payload: Mapping[str, Any],
               values: dict[str, list[str]]) -> None:
    for node in nodes:
        if node.name in payload:
            _value_of(node, _join(prefix, node.name), payload[node.name], values)


def _value_of(node: Node, path: str, value: Any, values: dict[str, list[str]]) -> None:
    if value is None:
        return
    if node.kind == "group" and isinstance(value, Mapping):
        _values_of(node.children, path, value, values)
    elif node.kind == "list" and isinstance(value, list) and node.item is not None:
        for index, item in enumerate(value):
            _value_of(node.item, f"{path}[{index}]", item, values)
    elif node.kind == "enums" and isinstance(value, list):
        values[path] = [str(v) for v in value]
    elif node.kind == "ints" and isinstance(value, list):
        values[path] = [", ".join(str(v) for v in value)]
    elif node.kind == "bool":
        values[path] = ["true"] if value is True else []
    elif node.kind == "money" and isinstance(value, int) and not isinstance(value, bool):
        values[path] = [fen_to_wan(value).replace(",", "")]
    else:
        values[path] = [str(value)]


def list_count(values: Mapping[str, Sequence[str]], path: str) -> int:
    """How many items of list ``path`` the values hold."""
    pattern = re.compile(re.escape(path) + r"\[(\d+)\]")
    found = [int(m.group(1)) for key in values for m in [pattern.match(key)] if m]
    return max(found) + 1 if found else 0


def input_id(path: str) -> str:
    """The HTML id of the input at ``path``: ``data_resources[0].name`` is
    ``f-data_resources-0-name``."""
    return "f-" + re.sub(r"[\[\].]+", "-", path).strip("-")
