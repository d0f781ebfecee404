"""Shared building blocks of the payload models: the base class, leaf types and enumerations.

Every leaf type here is strict on its own, so the models can run in pydantic's lax mode (which
is what lets JSON strings become ``date``, ``UUID`` and enum values) without lax coercions
leaking in: money must be a JSON integer, flags a JSON boolean, text a JSON string, dates an
ISO ``YYYY-MM-DD`` string and document references lowercase hex SHA-256.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Self, TypeVar
from uuid import UUID

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    Strict,
    StringConstraints,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

# RFC 8785 / I-JSON: every integer we sign must be exactly representable as an IEEE 754 double.
MAX_SAFE_INTEGER = 2**53 - 1

# The Measures (聊高新区管办发〔2023〕8号) have 39 articles.
LAST_ARTICLE = 39

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_RFC3339_UTC_MICROS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
_UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")

# Dates outside this range are typing errors (``0202-10-08``), not facts about a 2023 regulation.
_EARLIEST_DATE = date(1990, 1, 1)
_LATEST_DATE = date(2100, 12, 31)

_T = TypeVar("_T")


# --- what a date states -------------------------------------------------------------------


@dataclass(frozen=True)
class DateNature:
    """What a date (or year) field of a payload states, for the rule that a filing never states
    a fact dated after the ledger's today (docs/design.md §4.6).

    ``fact``: it has happened (a signing, a completion, the year a report covers), so it is
    never later than the day it is filed; a later one is refused with 422 naming the field.
    ``deadline`` and ``plan``: later by nature (an order's deadline, the fiscal year applied
    for), never checked. Every :data:`IsoDate` is a fact and every :data:`FiscalYear` a year of
    fact unless its field says otherwise with :data:`DEADLINE` or :data:`PLAN`.
    """

    nature: Literal["fact", "deadline", "plan"]
    unit: Literal["day", "year"] = "day"


FACT_DAY = DateNature("fact", "day")
FACT_YEAR = DateNature("fact", "year")
DEADLINE = DateNature("deadline", "day")
"""Marks a date field as a deadline (整改期限, 延期验收期限): it may lie after today."""
PLAN = DateNature("plan", "year")
"""Marks a year field as a plan (申报年度, 预算年度): it may lie after today."""


# --- rule problems ------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One failed cross-field rule: the field it concerns, what is wrong, and the article.

    ``path`` is relative to the model that found it (``validate_payload`` prefixes the path of
    nested models); ``article`` is ``None`` when the rule has no article of its own, in which
    case the event's articles are cited.
    """

    path: str
    message: str
    article: int | None = None


RULE_ERROR_TYPE = "ledger_rule"
"""The pydantic error type that carries a model's :class:`Problem` list in ``ctx["problems"]``."""


class Known:
    """The field values of a payload that are known to be valid, for cross-field rules.

    When the whole payload validates, every field is known. When some fields are invalid,
    ``validate_payload`` still runs the rules on the fields that are valid on their own, so an
    official sees the missing Art. 7 documents *and* the malformed amount in one answer; a rule
    whose inputs are unknown is skipped (it cannot be judged).
    """

    def __init__(self, values: Mapping[str, object]) -> None:
        """Wrap ``values`` (field name to validated value)."""
        self._values = dict(values)

    @classmethod
    def of(cls, model: BaseModel) -> Known:
        """Every field of a validated model."""
        return cls({name: getattr(model, name) for name in type(model).model_fields})

    def has(self, name: str) -> bool:
        """Whether field ``name`` is known (valid, or absent with a default)."""
        return name in self._values

    def get(self, name: str, kind: type[_T]) -> _T | None:
        """The value of ``name`` if it is known and an instance of ``kind``, else ``None``."""
        value = self._values.get(name)
        return value if isinstance(value, kind) else None


class Payload(BaseModel):
    """Base of every event payload and of the parts they nest.

    ``frozen`` (an event is immutable), ``extra="forbid"`` (an unknown field is a mistake, and
    an unsigned field must never ride along with a signed one). ``strict`` stays off at model
    level because JSON carries dates, UUIDs and enumerations as strings; strictness lives in
    the leaf types of this module instead (see the module docstring).

    Subclasses state cross-field rules in :meth:`rules`; they run after field validation, and
    ``validate_payload`` also runs them on the valid subset of an invalid payload.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)

    @classmethod
    def rules(cls, known: Known) -> list[Problem]:
        """Return the cross-field problems of ``known`` values; none by default."""
        del known
        return []

    @model_validator(mode="after")
    def _apply_rules(self) -> Self:
        problems = type(self).rules(Known.of(self))
        if problems:
            raise PydanticCustomError(
                RULE_ERROR_TYPE,
                "{summary}",
                {
                    "summary": "; ".join(f"{p.path}: {p.message}" for p in problems),
                    "problems": tuple(problems),
                },
            )
        return self


# --- leaf types ---------------------------------------------------------------------------


def _reject_non_integer_money(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PydanticCustomError(
            "fen_type",
            "money is an integer number of fen (分): expected a JSON integer, got {found}",
            {"found": _json_kind(value)},
        )
    return value


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, float):
        return f"a float ({value!r})"
    if isinstance(value, str):
        return f"a string ({value[:20]!r})"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"


Fen = Annotated[
    int,
    Strict(),
    Field(ge=0, le=MAX_SAFE_INTEGER),
    BeforeValidator(_reject_non_integer_money),
]
"""An amount of money in integer fen (分), ≥ 0. Floats, strings and booleans are rejected."""

PositiveFen = Annotated[
    int,
    Strict(),
    Field(gt=0, le=MAX_SAFE_INTEGER),
    BeforeValidator(_reject_non_integer_money),
]
"""An amount of money in integer fen (分) where zero is meaningless (a budget, a payment)."""


def _parse_iso_date(value: object) -> object:
    if isinstance(value, datetime):
        raise PydanticCustomError("iso_date", "expected a date YYYY-MM-DD, got a date-time", {})
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise PydanticCustomError(
            "iso_date", "expected a date as YYYY-MM-DD, got {found}", {"found": _json_kind(value)}
        )
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError(
            "iso_date", "{found} is not a calendar date", {"found": repr(value)}
        ) from None


def _check_date_range(value: object) -> object:
    if isinstance(value, date) and not _EARLIEST_DATE <= value <= _LATEST_DATE:
        raise PydanticCustomError(
            "iso_date",
            "date {found} is outside {first}…{last}: a typing error?",
            {"found": value.isoformat(), "first": _EARLIEST_DATE.isoformat(),
             "last": _LATEST_DATE.isoformat()},
        )
    return value


# Before-validators run last-listed first: parse, then check the range, then a strict ``date``.
IsoDate = Annotated[
    date, Strict(), BeforeValidator(_check_date_range), BeforeValidator(_parse_iso_date),
    FACT_DAY,
]
"""A calendar date, ``YYYY-MM-DD`` in JSON; no timestamps, no ``20260101``, no week dates. A
fact, so never after the day it is filed, unless the field is marked :data:`DEADLINE`."""


def _parse_uuid(value: object) -> object:
    if isinstance(value, UUID):
        return value
    if not isinstance(value, str) or not _UUID_TEXT.fullmatch(value):
        raise PydanticCustomError(
            "uuid_text",
            "expected a UUID as 8-4-4-4-12 hex digits, got {found}",
            {"found": _json_kind(value)},
        )
    return UUID(value)


ProjectId = Annotated[UUID, Strict(), BeforeValidator(_parse_uuid)]
"""A project's id (its stream UUID); JSON form is the lowercase 8-4-4-4-12 string."""

FiscalYear = Annotated[int, Strict(), Field(ge=2000, le=2100), FACT_YEAR]
"""A fiscal/calendar year (年度), e.g. ``2026``: a year of fact (never after the current one)
unless the field is marked :data:`PLAN`."""

Seq = Annotated[int, Strict(), Field(ge=1, le=MAX_SAFE_INTEGER)]
"""The ``seq`` of an earlier entry of the same project stream (docs/design.md §5), used to cite
it."""

ArticleNo = Annotated[int, Strict(), Field(ge=1, le=LAST_ARTICLE)]
"""An article number of the Measures, 1–39."""

ShortText = Annotated[str, StringConstraints(strict=True, strip_whitespace=True,
                                             min_length=1, max_length=200)]
"""A name or title: a JSON string, stripped of surrounding whitespace, 1–200 characters."""

Text = Annotated[str, StringConstraints(strict=True, strip_whitespace=True,
                                        min_length=1, max_length=5000)]
"""Free text (reasons, summaries): stripped, 1–5,000 characters."""

Remarks = Annotated[str, StringConstraints(strict=True, strip_whitespace=True,
                                           max_length=5000)]
"""Text that may be empty (remarks on a passed criterion): stripped, ≤ 5,000 characters."""

Identifier = Annotated[str, StringConstraints(strict=True, pattern=r"^\S{1,128}$")]
"""An id assigned by the registry (actor, unit, key): 1–128 characters, no whitespace."""

Flag = Annotated[bool, Strict()]
"""A JSON boolean; ``"true"``, ``1`` and ``"yes"`` are rejected."""


class DocumentRef(str):
    """A document referenced by its SHA-256: exactly 64 lowercase hex characters.

    Documents themselves live in the content-addressed store (``POST /documents``) and in
    evidence bundles as ``documents/<sha256>``; payloads carry only the hash. The value is a
    ``str`` subclass so that :func:`documents_referenced` can find every reference by type.
    """

    __slots__ = ()

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        """Validate a strict JSON string, then check it is lowercase hex SHA-256."""
        del source, handler
        return core_schema.no_info_after_validator_function(
            cls._check, core_schema.str_schema(strict=True)
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """Publish the pattern in the OpenAPI schema."""
        del schema, handler
        return {
            "type": "string",
            "pattern": "^[0-9a-f]{64}$",
            "description": "SHA-256 of the document, lowercase hex",
        }

    @classmethod
    def _check(cls, value: str) -> DocumentRef:
        if not _SHA256_HEX.fullmatch(value):
            raise PydanticCustomError(
                "document_ref",
                "expected a document's SHA-256 as 64 lowercase hex characters, got {found}",
                {"found": _describe_bad_hex(value)},
            )
        return cls(value)


def _describe_bad_hex(value: str) -> str:
    if len(value) != 64:
        return f"{len(value)} characters"
    if value.lower() != value:
        return "upper-case hex"
    return "non-hex characters"


Sha256Hex = Annotated[str, StringConstraints(strict=True, pattern=r"^[0-9a-f]{64}$")]
"""Any lowercase hex SHA-256 that is not a document reference (for use by other modules)."""


def _check_rfc3339_micros(value: object) -> object:
    if not isinstance(value, str) or not _RFC3339_UTC_MICROS.fullmatch(value):
        raise PydanticCustomError(
            "rfc3339_utc",
            "expected an RFC 3339 UTC time with microseconds, "
            "like 2026-03-02T01:02:03.000004Z, got {found}",
            {"found": _json_kind(value)},
        )
    try:
        datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ")  # the Z is matched above
    except ValueError:
        raise PydanticCustomError(
            "rfc3339_utc", "{found} is not a valid time", {"found": repr(value)}
        ) from None
    return value


Rfc3339Utc = Annotated[str, Strict(), BeforeValidator(_check_rfc3339_micros)]
"""A ledger timestamp: RFC 3339, UTC, microseconds, ``Z`` (``2026-03-02T01:02:03.000004Z``).

Kept as the string itself so that it signs and compares byte-for-byte as the ledger stamps it.
"""


def _check_base64(value: object) -> object:
    if not isinstance(value, str) or not value:
        raise PydanticCustomError(
            "base64", "expected standard base64 text, got {found}", {"found": _json_kind(value)}
        )
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise PydanticCustomError(
            "base64", "not standard base64 with padding", {}
        ) from None
    if base64.b64encode(raw).decode("ascii") != value:
        raise PydanticCustomError("base64", "not canonical standard base64 with padding", {})
    return value


Base64Std = Annotated[str, Strict(), BeforeValidator(_check_base64)]
"""Standard base64 with padding (RFC 4648 §4), canonical: it re-encodes to the same text."""


def unique(values: tuple[_T, ...]) -> bool:
    """Whether ``values`` has no repeats."""
    return len(set(values)) == len(values)


# --- enumerations ---------------------------------------------------------------------------


class ProjectKind(StrEnum):
    """The kind of project applied for (Art. 7 (二))."""

    NEW = "new"  # 新建
    EXPANSION = "expansion"  # 扩建
    UPGRADE = "upgrade"  # 升级改造
    OPERATION_MAINTENANCE = "operation_maintenance"  # 运维服务


class FundingKind(StrEnum):
    """Which money: construction funds or O&M funds (Arts. 11, 19, 22, 26)."""

    CONSTRUCTION = "construction"  # 建设资金
    OPERATION_MAINTENANCE = "operation_maintenance"  # 运行维护经费


class FundingScope(StrEnum):
    """What a funding suspension covers (Art. 30 暂缓拨付)."""

    CONSTRUCTION = "construction"  # 建设资金
    OPERATION_MAINTENANCE = "operation_maintenance"  # 运行维护经费
    ALL = "all"  # 全部


class GovernmentLevel(StrEnum):
    """The higher level that organises a declaration (Art. 10: 国家、省、市)."""

    NATIONAL = "national"  # 国家
    PROVINCIAL = "provincial"  # 省
    MUNICIPAL = "municipal"  # 市


class SharingAttribute(StrEnum):
    """A data resource's sharing attribute (共享属性, Art. 24)."""

    UNCONDITIONAL = "unconditional"  # 无条件共享
    CONDITIONAL = "conditional"  # 有条件共享
    NOT_SHARED = "not_shared"  # 不予共享


class OpennessAttribute(StrEnum):
    """A data resource's openness to the public (开放属性, Art. 24)."""

    UNCONDITIONAL = "unconditional"  # 无条件开放
    CONDITIONAL = "conditional"  # 有条件开放
    NOT_OPEN = "not_open"  # 不予开放


class UpdateFrequency(StrEnum):
    """How often a data resource is updated (更新周期, Art. 24)."""

    REAL_TIME = "real_time"  # 实时
    DAILY = "daily"  # 每日
    WEEKLY = "weekly"  # 每周
    MONTHLY = "monthly"  # 每月
    QUARTERLY = "quarterly"  # 每季度
    SEMIANNUAL = "semiannual"  # 每半年
    ANNUAL = "annual"  # 每年
    IRREGULAR = "irregular"  # 不定期


class ResourceFormat(StrEnum):
    """The form a data resource is provided in (信息资源格式, Art. 24)."""

    DATABASE = "database"  # 数据库
    SPREADSHEET = "spreadsheet"  # 电子表格
    DOCUMENT = "document"  # 电子文件
    IMAGE = "image"  # 图形图像
    STREAMING_MEDIA = "streaming_media"  # 流媒体
    STRUCTURED_FILE = "structured_file"  # 自描述格式 (XML, JSON)
    SERVICE_API = "service_api"  # 服务接口
    OTHER = "other"  # 其他


class Art8Category(StrEnum):
    """The ten kinds of project that, without special circumstances, are not built separately.

    Art. 8 (无特殊情况，以下项目不再单独建设), items (一)–(十).
    """

    HARDWARE = "hardware"  # (一) 新建机房以及服务器、存储设备等通用硬件
    PRIVATE_NETWORK = "private_network"  # (二) 各部门系统业务专网、跨部门网络
    DATA_EXCHANGE = "data_exchange"  # (三) 跨部门业务数据共享交换系统
    COLLABORATIVE_OFFICE = "collaborative_office"  # (四) 协同办公系统（含即时通信系统）
    GOVERNMENT_PORTAL = "government_portal"  # (五) 政府门户网站
    WEB_CONFERENCING = "web_conferencing"  # (六) 网络会议系统
    VIDEO_SURVEILLANCE = "video_surveillance"  # (七) 视频监控系统
    EMAIL = "email"  # (八) 电子邮件系统
    ADMINISTRATIVE_POWER = "administrative_power"  # (九) 涉及行政权力运行的业务应用系统
    SHAREABLE_REUSABLE = "shareable_reusable"  # (十) 其他跨部门及可共享、可复用的电子政务项目


class ApprovalDecision(StrEnum):
    """A yes/no decision on a request (change, extension)."""

    APPROVED = "approved"  # 同意
    REJECTED = "rejected"  # 不同意
