"""The catalogue proper: who files each event, which articles it serves, and validation."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from types import MappingProxyType
from typing import Any, Literal, TypeAlias, cast, get_args

from pydantic import BaseModel, ValidationError, create_model
from pydantic_core import ErrorDetails

from ledger.errors import NotCanonicalError, UnknownEventTypeError, ValidationFailedError
from ledger.log.canonical import JSONValue
from ledger.measures.catalogue import _events as ev
from ledger.measures.catalogue import _registry as reg
from ledger.measures.catalogue._types import RULE_ERROR_TYPE, DocumentRef, Known, Payload, Problem
from ledger.measures.roles import Role

JSONish: TypeAlias = JSONValue
"""Plain JSON: ``str``, ``int``, ``bool``, ``None``, lists and string-keyed objects; no floats."""

StreamKind = Literal["project", "registry"]
"""Which stream an event belongs to: a project's, or the key registry's."""


@dataclass(frozen=True)
class EventSpec:
    """What the catalogue knows about one event type (docs/design.md §3)."""

    name: str
    """The event type, e.g. ``"ContractFiled"``."""
    payload: type[Payload]
    """The pydantic model of its payload."""
    filed_by: frozenset[Role]
    """The roles that may file it (docs/design.md §3 "filed by"); every other role gets 403."""
    articles: tuple[int, ...]
    """The articles of the Measures it serves (docs/design.md §3 "article"); empty for the
    registry."""
    stream: StreamKind
    """The stream it is appended to."""
    opens_project: bool = False
    """True only for ``ApplicationFiled``: it creates the project's stream."""
    terminal: bool = False
    """True only for ``ProjectTerminated``: nothing may follow it on the stream."""
    summary_zh: str = ""
    """A short Chinese name for pages and errors, e.g. ``"合同备案"``."""


_UNIT = frozenset({Role.UNIT})
_OFFICE = frozenset({Role.OFFICE})
_FINANCE = frozenset({Role.FINANCE})
_AUDIT = frozenset({Role.AUDIT})
_OFFICE_OR_FINANCE = frozenset({Role.OFFICE, Role.FINANCE})
_OFFICE_OR_AUDIT = frozenset({Role.OFFICE, Role.AUDIT})


def _project(payload: type[Payload], filed_by: frozenset[Role], articles: tuple[int, ...],
             summary_zh: str, *, opens_project: bool = False,
             terminal: bool = False) -> EventSpec:
    return EventSpec(name=payload.__name__, payload=payload, filed_by=filed_by,
                     articles=articles, stream="project", opens_project=opens_project,
                     terminal=terminal, summary_zh=summary_zh)


def _registry(payload: type[Payload], summary_zh: str) -> EventSpec:
    return EventSpec(name=payload.__name__, payload=payload, filed_by=frozenset({Role.ADMIN}),
                     articles=(), stream="registry", summary_zh=summary_zh)


_SPECS: tuple[EventSpec, ...] = (
    _project(ev.ApplicationFiled, _UNIT, (6, 7, 8, 24), "立项申请", opens_project=True),
    _project(ev.MaterialsSupplemented, _UNIT, (7,), "补充申报材料"),
    _project(ev.HigherLevelDeclarationConsented, _OFFICE, (10,), "同意向上申报"),
    _project(ev.HigherLevelApprovalRecorded, _UNIT, (10,), "上级审批备案"),
    _project(ev.FixedAssetApprovalIssued, frozenset({Role.APPROVAL}), (5,),
             "固定资产投资项目审批"),
    _project(ev.ReviewOpinionIssued, _OFFICE, (9,), "评审意见"),
    _project(ev.FundingArranged, _FINANCE, (11, 21), "安排资金"),
    _project(ev.FundsDisbursed, _FINANCE, (11, 15, 19, 22, 26, 30), "拨付资金"),
    _project(ev.ContractFiled, _UNIT, (13,), "合同备案"),
    _project(ev.ProgressReported, _UNIT, (14,), "建设进度和预算执行情况报告"),
    _project(ev.ChangeRequested, _UNIT, (16,), "调整申请"),
    _project(ev.ChangeDecided, _OFFICE, (16,), "调整审核"),
    _project(ev.IncidentReported, _UNIT, (17,), "重大情况报告"),
    _project(ev.RectificationOrdered, _OFFICE, (17, 22, 30), "责令限期整改"),
    _project(ev.RectificationReported, _UNIT, (17, 22, 30), "整改情况报告"),
    _project(ev.RectificationConcluded, _OFFICE, (17, 22, 30), "整改结论"),
    _project(ev.ConstructionSuspended, _OFFICE, (17, 30), "暂停建设"),
    _project(ev.ConstructionResumed, _OFFICE, (17, 30), "恢复建设"),
    _project(ev.FundingSuspended, _OFFICE_OR_FINANCE, (22, 26, 30), "暂缓拨付资金"),
    _project(ev.FundingReinstated, _OFFICE_OR_FINANCE, (22, 26, 30), "恢复拨付资金"),
    _project(ev.CriticismNotified, _OFFICE, (30, 33), "通报批评"),
    _project(ev.ProjectTerminated, _OFFICE, (30,), "终止项目", terminal=True),
    _project(ev.ConstructionCompleted, _UNIT, (19,), "完成建设任务"),
    _project(ev.AcceptanceExtensionRequested, _UNIT, (19,), "延期验收申请"),
    _project(ev.AcceptanceExtensionDecided, _OFFICE, (19,), "延期验收审核"),
    _project(ev.PreliminaryAcceptanceCompleted, _UNIT, (26,), "初步验收完成"),
    _project(ev.AcceptanceReportFiled, _UNIT, (19, 25, 29), "验收报告备案"),
    _project(ev.CatalogCompleted, _UNIT, (25, 26), "目录编制及数据归集"),
    _project(ev.SelfEvaluationSubmitted, _UNIT, (20,), "报送自评价报告"),
    _project(ev.ThirdPartyEvaluationCommissioned, _OFFICE, (20,), "委托第三方后评价"),
    _project(ev.SecurityAssessmentRecorded, _UNIT, (27, 28), "安全评估备案"),
    _project(ev.SharingNonComplianceFound, _OFFICE, (22,), "认定未按要求共享"),
    _project(ev.SecurityNonComplianceFound, _OFFICE, (22,), "认定不符合安全要求"),
    _project(ev.SharingExemptionGranted, frozenset({Role.CDR}), (22,), "首席数据代表批准不共享"),
    _project(ev.ComplianceRestored, _OFFICE, (22, 26, 30), "恢复合规"),
    _project(ev.AuditFindingRecorded, _AUDIT, (31,), "审计发现"),
    _project(ev.InformationWithheldRecorded, _OFFICE_OR_AUDIT, (32,), "拒绝、隐匿或瞒报资料"),
    _project(ev.FundsMisappropriationFound, _AUDIT, (34,), "截留挪用项目资金"),
    _project(ev.DisciplinaryReferralMade, _OFFICE_OR_AUDIT, (33, 34, 35), "提请处分或移送司法"),
    _project(ev.HistoryAttested, _OFFICE, (6, 13, 14, 19), "历史记录确认"),
    _registry(reg.ActorRegistered, "登记用户"),
    _registry(reg.KeyRegistered, "登记密钥"),
    _registry(reg.KeyRevoked, "吊销密钥"),
)

CATALOGUE: Mapping[str, EventSpec] = MappingProxyType({spec.name: spec for spec in _SPECS})
"""Every event type the ledger accepts, keyed by name, in docs/design.md §3 order then the
registry's."""


def spec_for(event_type: str) -> EventSpec:
    """Return the spec of ``event_type``; raise :class:`UnknownEventTypeError` if there is none."""
    try:
        return CATALOGUE[event_type]
    except KeyError:
        raise UnknownEventTypeError(event_type) from None


def validate_payload(event_type: str, raw: Mapping[str, object]) -> Payload:
    """Validate ``raw`` as the payload of ``event_type`` and return the model.

    Raises :class:`UnknownEventTypeError` for an unknown type and :class:`ValidationFailedError`
    listing every problem as ``(path, message)``: paths are dotted with list indices in
    brackets (``data_resources[1].format``), ``$`` for the payload as a whole. Cross-field rules
    (Art. 7 documents, Art. 19 components...) are also checked when other fields are invalid,
    as far as their own inputs are valid. The error cites the articles of the rules that failed
    (Art. 7 alone for missing application documents); any other problem cites the event's.
    """
    spec = spec_for(event_type)
    model = spec.payload
    if not isinstance(raw, Mapping):
        raise ValidationFailedError(event_type, [("$", "expected a JSON object")],
                                    spec.articles)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
    problems: list[tuple[str, str, int | None]] = []
    for error in errors:
        problems.extend(_problems_of(error))
    root_rules_ran = any(e["type"] == RULE_ERROR_TYPE and not e["loc"] for e in errors)
    root_failed = any(not e["loc"] for e in errors)
    if not root_rules_ran and not root_failed:
        # Top-level fields with errors of their own (not only inside a nested part).
        bad = {str(e["loc"][0]) for e in errors if len(e["loc"]) == 1}
        reported = {path for path, _, _ in problems}
        for problem in model.rules(_known_valid_fields(model, raw, bad)):
            if problem.path not in reported:  # a bad value is not also "missing"
                problems.append((problem.path, problem.message, problem.article))
    articles: set[int] = set()
    for _, _, article in problems:
        articles.update(spec.articles if article is None else (article,))
    raise ValidationFailedError(
        event_type, [(path, message) for path, message, _ in problems], sorted(articles)
    )


def _problems_of(error: ErrorDetails) -> Iterator[tuple[str, str, int | None]]:
    loc = error["loc"]
    if error["type"] == RULE_ERROR_TYPE:
        ctx = error.get("ctx") or {}
        for problem in ctx.get("problems", ()):
            if isinstance(problem, Problem):
                yield _path((*loc, *problem.path.split("."))), problem.message, problem.article
        return
    if error["type"] == "missing":
        message = "required"
    elif error["type"] == "extra_forbidden":
        message = "not a field of this event"
    else:
        message = error["msg"]
    yield _path(loc), message, None


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "$"


@cache
def _field_model(model: type[Payload], name: str) -> type[BaseModel]:
    """A one-field model that validates field ``name`` of ``model`` exactly as ``model`` does."""
    info = model.model_fields[name]
    field_definitions: dict[str, Any] = {name: (info.annotation, info)}
    return create_model(f"{model.__name__}_{name}", __config__=model.model_config,
                        **field_definitions)


def _known_valid_fields(model: type[Payload], raw: Mapping[str, object],
                        bad: set[str]) -> Known:
    """The fields of ``raw`` that are valid on their own (and defaults), for the rules."""
    return Known(_valid_values(model, raw, bad))


def _valid_values(model: type[Payload], raw: Mapping[str, object],
                  bad: set[str]) -> dict[str, object]:
    """Field name to validated value, for each field of ``raw`` that validates on its own.

    A nested part that fails as a whole (one bad document hash among the Art. 7 documents)
    is rebuilt from its valid fields when all its required fields are valid, so the rules can
    still see which of its fields are present. Rules only read such a partial; it is never
    returned to a caller.
    """
    values: dict[str, object] = {}
    for name, info in model.model_fields.items():
        if name in raw and name not in bad:
            try:
                single = _field_model(model, name).model_validate({name: raw[name]})
            except ValidationError:
                pass
            else:
                values[name] = getattr(single, name)
                continue
            part, value = info.annotation, raw[name]
            if isinstance(part, type) and issubclass(part, Payload) and isinstance(value, Mapping):
                inner = _valid_values(part, value, set())
                if all(key in inner for key, field in part.model_fields.items()
                       if field.is_required()):
                    values[name] = part.model_construct(None, **cast(dict[str, Any], inner))
        elif name not in raw and not info.is_required():
            values[name] = info.get_default(call_default_factory=True)
    return values


def payload_json(model: BaseModel) -> dict[str, JSONish]:
    """Return the canonical plain-JSON form of a payload: what the author signs.

    Fields whose value is ``None`` (optional and absent) are **omitted**; every other field is
    present, including ``false`` flags and empty lists, so one payload has one JSON form and
    ``validate_payload(t, payload_json(m)) == m``. Dates are ``YYYY-MM-DD``, enumerations
    their values, UUIDs lowercase strings, money integer fen: no floats, ever.
    """
    data: dict[str, JSONish] = model.model_dump(mode="json", exclude_none=True)
    _assert_plain(data, "$")
    return data


def _assert_plain(value: object, path: str) -> None:
    """Fail closed if a float or a non-JSON value ever reaches a payload."""
    if isinstance(value, float):
        raise NotCanonicalError(path, "a float (use integer fen or a string)")
    if isinstance(value, dict):
        for key, item in value.items():
            _assert_plain(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _assert_plain(item, f"{path}[{index}]")
    elif not (value is None or isinstance(value, bool | int | str)):
        raise NotCanonicalError(path, f"a {type(value).__name__}, which JSON cannot hold")


def documents_referenced(model: BaseModel) -> tuple[str, ...]:
    """Every document SHA-256 the payload references, sorted and without repeats.

    Found by type (:class:`DocumentRef`), so a hash-like string in free text is not mistaken
    for a document. An evidence bundle ships ``documents/<sha256>`` for each of these.
    """
    found: set[str] = set()
    _collect(model, found)
    return tuple(sorted(found))


def _collect(value: object, found: set[str]) -> None:
    if isinstance(value, DocumentRef):
        found.add(str(value))
    elif value is None or isinstance(value, str | int | date):
        return  # a leaf (checked first: most values are, and ABC checks below are slow)
    elif isinstance(value, BaseModel):
        for name in _fields_that_may_cite(type(value)):
            _collect(getattr(value, name), found)
    elif isinstance(value, list | tuple | frozenset | set):
        for item in value:
            _collect(item, found)
    elif isinstance(value, Mapping):
        for item in value.values():
            _collect(item, found)


@cache
def _fields_that_may_cite(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields whose declared type can hold a :class:`DocumentRef`, directly or inside a
    nested model or container: the others (text, dates, amounts) need no walk."""
    return tuple(name for name, info in model.model_fields.items()
                 if _may_cite(info.annotation))


def _may_cite(annotation: object) -> bool:
    if annotation is Any:
        return True  # unknown content: walk it
    if isinstance(annotation, type) and issubclass(annotation, DocumentRef | BaseModel):
        return True
    return any(_may_cite(arg) for arg in get_args(annotation))
