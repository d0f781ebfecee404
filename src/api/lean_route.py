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

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter, ValidationError

Handler = Callable[[Request], Awaitable[Response]]
M = TypeVar("M", bound=BaseModel)


def served_by(handler: Handler) -> type[APIRoute]:
    """An ``APIRoute`` class whose requests ``handler`` serves (pass it as
    ``route_class_override``; the endpoint only documents the operation)."""

    class LeanRoute(APIRoute):
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
    try:
        return adapter.validate_json(data)
    except ValidationError as exc:
        raise RequestValidationError([_in_body(error) for error in exc.errors(
            include_url=False)]) from None


def _in_body(error: Any) -> dict[str, Any]:
    return dict(error) | {"loc": ("body", *error.get("loc", ()))}
