"""Dates a filing states as facts are never after the ledger's today (docs/design.md §4.6).

Each date and year field of a payload says what it states (:class:`DateNature`, on the field's
type: every ``IsoDate`` and ``FiscalYear`` is a fact unless its field is marked ``DEADLINE`` or
``PLAN``). :func:`future_facts` lists every field, and the filing's ``effective``, that states a
fact dated after today; the write side refuses such a filing with 422 naming them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from functools import cache
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel

from ledger.measures.catalogue._spec import CATALOGUE
from ledger.measures.catalogue._types import DateNature, Payload


@cache
def _nature(model: type[BaseModel], name: str) -> DateNature | None:
    """The :class:`DateNature` of field ``name`` (the outermost marker wins), or ``None``."""
    info = model.model_fields[name]
    found: DateNature | None = None
    for item in (*_annotated_metadata(info.annotation), *info.metadata):
        if isinstance(item, DateNature):
            found = item
    return found


def _annotated_metadata(annotation: Any) -> Iterator[object]:
    """Metadata of ``Annotated`` types inside an optional annotation (``IsoDate | None``)."""
    if get_origin(annotation) is Annotated:
        yield from annotation.__metadata__
        return
    for arg in get_args(annotation):
        if get_origin(arg) is Annotated:
            yield from arg.__metadata__


def dated_fields(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, DateNature]]:
    """Every date and year field of a payload model (nested parts too) and what it states."""
    for name, info in model.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        nature = _nature(model, name)
        if nature is not None:
            yield path, nature
            continue
        for part in (info.annotation, *get_args(info.annotation)):
            if isinstance(part, type) and issubclass(part, Payload):
                yield from dated_fields(part, path)
            elif get_origin(part) is tuple:
                for inner in get_args(part):
                    if isinstance(inner, type) and issubclass(inner, Payload):
                        yield from dated_fields(inner, f"{path}[]")


def _dated_values(model: BaseModel, prefix: str = "") -> Iterator[tuple[str, DateNature, Any]]:
    for name in type(model).model_fields:
        value = getattr(model, name)
        if value is None:
            continue
        path = f"{prefix}.{name}" if prefix else name
        nature = _nature(type(model), name)
        if nature is not None:
            yield path, nature, value
        elif isinstance(value, BaseModel):
            yield from _dated_values(value, path)
        elif isinstance(value, tuple):
            for index, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from _dated_values(item, f"{path}[{index}]")


def future_facts(model: BaseModel, effective: date, today: date) -> list[tuple[str, str]]:
    """``(field, message)`` for ``effective`` and each date or year of fact after ``today``."""
    problems: list[tuple[str, str]] = []
    if effective > today:
        problems.append(("effective", f"{effective.isoformat()} is after today"
                         f" ({today.isoformat()}, Beijing): a filing states what has happened"))
    for path, nature, value in _dated_values(model):
        if nature.nature != "fact":
            continue
        if nature.unit == "day" and isinstance(value, date) and value > today:
            problems.append((path, f"{value.isoformat()} is after today"
                             f" ({today.isoformat()}, Beijing): a fact cannot be dated later"))
        elif nature.unit == "year" and isinstance(value, int) and value > today.year:
            problems.append((path, f"{value} is after the current year"
                             f" ({today.year}, Beijing): a report covers a year that has begun"))
    return problems


def may_be_future(event_type: str) -> tuple[str, ...]:
    """The date and year fields of ``event_type`` that may lie after today (deadlines, plans)."""
    return tuple(f"{path} ({nature.nature})"
                 for path, nature in dated_fields(CATALOGUE[event_type].payload)
                 if nature.nature != "fact")


__all__ = ["dated_fields", "future_facts", "may_be_future"]
