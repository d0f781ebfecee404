"""The witness's HTTP interface (c2sp.org/tlog-witness), as an ASGI application for uvicorn.

* ``POST /add-checkpoint``: 200 with ``cosignature/v1`` lines (``text/plain; charset=utf-8``);
  409 with the witness's size (``text/x.tlog.size``); 400, 403, 404, 422 or 503 with a one-line
  plain-text reason; 413 for a body over :data:`~witness.protocol.MAX_BODY_BYTES`.
* ``GET /<origin hash>/checkpoint``: the latest checkpoint cosigned for that log, with the log's
  verified signature lines and this witness's (§Monitor Retrieval Mechanism); 404 if none.
* ``GET /``: the witness's name and vkey.

Requests are handled one at a time on the event loop: a check is a signature verification,
a proof of at most 63 hashes and one SQLite commit, so serving them in order is also the
atomicity the specification asks for (the store's transaction keeps it across processes).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from witness.errors import AddCheckpointError, OldSizeMismatchError
from witness.protocol import MAX_BODY_BYTES, SIZE_MEDIA_TYPE, size_body
from witness.service import Witness

_TEXT = "text/plain; charset=utf-8"


async def _read_body(request: Request) -> bytes | None:
    """The request body, or None once it exceeds :data:`MAX_BODY_BYTES`."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return None
    return bytes(body)


def _text(status: int, text: str) -> Response:
    return Response(text.encode("utf-8"), status_code=status, headers={"Content-Type": _TEXT})


def create_app(witness: Witness) -> Starlette:
    """The ASGI application of ``witness``."""

    async def add_checkpoint(request: Request) -> Response:
        body = await _read_body(request)
        if body is None:
            return _text(413, f"the body exceeds {MAX_BODY_BYTES} bytes\n")
        try:
            lines = witness.add_checkpoint(body)
        except OldSizeMismatchError as exc:
            return Response(size_body(exc.size).encode("ascii"), status_code=409,
                            headers={"Content-Type": SIZE_MEDIA_TYPE})
        except AddCheckpointError as exc:
            return _text(exc.status, exc.message + "\n")
        return _text(200, lines)

    async def monitor(request: Request) -> Response:
        note = witness.monitored(str(request.path_params["origin_hash"]))
        if note is None:
            return _text(404, "this witness has cosigned no checkpoint of that log\n")
        return Response(note.encode("utf-8"), headers={"Content-Type": _TEXT,
                                                       "Cache-Control": "no-cache"})

    async def about(_: Request) -> Response:
        return PlainTextResponse(f"C2SP tlog-witness {witness.key.name}\n{witness.vkey}\n")

    return Starlette(routes=[
        Route("/add-checkpoint", add_checkpoint, methods=["POST"]),
        Route("/{origin_hash:str}/checkpoint", monitor, methods=["GET"]),
        Route("/", about, methods=["GET"]),
    ])


__all__ = ["create_app"]
