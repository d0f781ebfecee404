"""Routes documented by their signature and served by a handler that reads the request itself.

FastAPI builds a route's OpenAPI operation from its endpoint's signature and, per request,
solves its dependencies, validates the body against the declared model and validates the
return value against the response model. For a filing that generic work cost more CPU than
the filing (docs/performance.md, issue 4): the body was validated against the union of every
event's model, then again by the ledger. :func:`served_by` keeps the signature for the
document and serves requests with a lean ``handler(request) -> Response`` through FastAPI's
documented extension point (a custom ``APIRoute`` overriding ``get_route_handler``), so
errors still go through the application's exception handlers.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter, ValidationError

Handler = Callable[[Request], Awaitable[Response]]
M = TypeVar("M", bound=BaseModel)


def served_by(handler: Handler) -> type[APIRoute]:
    """An ``APIRoute`` class whose requests ``handler`` serves (pass it as
    ``route_class_override``; the endpoint only documents the operation)."""

    class LeanRoute(APIRoute):
        reads_its_own_body = True  # json_body refuses duplicate keys itself

        def get_route_handler(self) -> Handler:  # type: ignore[override]
            return handler

    LeanRoute.__name__ = LeanRoute.__qualname__ = f"LeanRoute[{handler.__name__}]"
    return LeanRoute


_JSON_TYPES = ("application/json",)


async def json_body(request: Request, adapter: TypeAdapter[M]) -> M:
    """The request's JSON body validated by ``adapter`` in one pass (parse and check);
    errors are FastAPI's own 422 (``loc`` starting with ``body``)."""
    content_type = request.headers.get("content-type", "")
    media = content_type.partition(";")[0].strip().lower()
    if media not in _JSON_TYPES and not (media.startswith("application/")
                                         and media.endswith("+json")):
        raise RequestValidationError([{
            "type": "model_attributes_type", "loc": ("body",),
            "msg": "the body must be JSON (Content-Type: application/json)", "input": None}])
    data = await request.body()
    refuse_duplicate_keys(data)
    try:
        return adapter.validate_json(data)
    except ValidationError as exc:
        raise RequestValidationError([_in_body(error) for error in exc.errors(
            include_url=False)]) from None


def _in_body(error: Any) -> dict[str, Any]:
    return dict(error) | {"loc": ("body", *error.get("loc", ()))}


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(key)


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKeyError(key)
            seen.add(key)
    return found


def refuse_duplicate_keys(data: bytes) -> None:
    """Raise FastAPI's 422 if a JSON object in ``data`` names a key twice. JSON leaves the
    meaning of a repeated key open (RFC 8259 §4): parsers keep the first, the last or fail,
    so a filing that reads one way here could read another way elsewhere (``verify-bundle``
    refuses them too). Malformed JSON is left to the body's own validation."""
    try:
        json.loads(data, object_pairs_hook=_pairs)
    except _DuplicateKeyError as exc:
        raise RequestValidationError([{
            "type": "json_duplicate_key", "loc": ("body",),
            "msg": f"the JSON object names the key {exc.key!r} more than once",
            "input": None}]) from None
    except (ValueError, RecursionError):
        return


def refusing_duplicate_keys(handler: Handler) -> Handler:
    """``handler`` behind :func:`refuse_duplicate_keys` for a JSON body (FastAPI's routes
    that parse their body themselves: the body read here is the one they then parse)."""

    async def checked(request: Request) -> Response:
        media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media == "application/json" or (media.startswith("application/")
                                           and media.endswith("+json")):
            refuse_duplicate_keys(await request.body())
        return await handler(request)

    return checked


def refusing_unknown_query(handler: Handler, allowed: frozenset[str]) -> Handler:
    """``handler`` behind a check that the request names no query parameter beyond
    ``allowed`` (the operation's own): FastAPI ignores the others, so a misspelt filter
    (``?unti=edu``) would quietly answer for every unit. 422, naming each unknown one."""

    async def checked(request: Request) -> Response:
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            raise RequestValidationError([{
                "type": "extra_forbidden", "loc": ("query", name),
                "msg": "not a query parameter of this operation"
                       + (f" (it takes {', '.join(sorted(allowed))})" if allowed else ""),
                "input": None} for name in unknown])
        return await handler(request)

    return checked


def query_names(route: APIRoute) -> frozenset[str]:
    """The query parameters ``route`` declares, its dependencies' included (a parameter
    declared as a model stands for its fields)."""
    names: set[str] = set()
    pending: list[Dependant] = [route.dependant]
    while pending:
        dependant = pending.pop()
        for param in dependant.query_params:
            model = param.field_info.annotation
            if isinstance(model, type) and issubclass(model, BaseModel):
                names.update(field.alias or name for name, field in model.model_fields.items())
            else:
                names.add(param.alias)
        pending.extend(dependant.dependencies)
    return frozenset(names)

