"""Limits on what one request, and one token, may ask of the server.

* :class:`BodyLimit` (ASGI middleware, every route): a body larger than the limit is refused
  with 413 problem+json *while it is read*, before anything parses it. A ``Content-Length``
  over the limit is refused before a byte of the body is read; a body sent without one
  (chunked) is cut off as soon as it passes the limit. The server so never holds more than the
  limit of one request's body, whoever sends it (``POST /signin`` needs no token). Document
  uploads have their own, larger limit (``LEDGER_MAX_DOCUMENT_BYTES``); every other body
  ``LEDGER_MAX_REQUEST_BYTES`` (2 MiB by default).
* :class:`RateLimiter`: an allowance per bearer token, for uploads
  (``LEDGER_UPLOADS_PER_MINUTE``); a token over its rate gets 429 with ``Retry-After``. Kept
  in the database, so that every server process spends from the same allowance.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import ledger_problem
from ledger.errors import RateLimitedError, RequestTooLargeError
from ledger.log.store import AccessRecords
from ledger.settings import Settings

UPLOAD_PATHS = frozenset({"/api/v1/documents", "/documents"})
"""The routes whose body is a document (the API's and the pages' upload), allowed
``max_document_bytes`` instead of ``max_request_bytes``."""


def body_limit(settings: Settings, method: str, path: str) -> int:
    """The largest body a request may send."""
    if method == "POST" and path in UPLOAD_PATHS:
        return max(settings.max_document_bytes, settings.max_request_bytes)
    return settings.max_request_bytes


class _ExceededError(Exception):
    """Raised into the app by ``receive`` when the body passes the limit (caught here)."""


class BodyLimit:
    """Refuses (413) a request body over its limit while it is read (module docstring)."""

    def __init__(self, app: ASGIApp, settings: Callable[[Scope], Settings]) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Guard one HTTP request's body (other scopes pass through)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(self.settings(scope), scope["method"], scope["path"])
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > limit:  # refused unread
                    await self._refuse(scope, receive, send, limit)
                    return
                break
        received = 0
        exceeded = False
        started = False

        async def limited() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _ExceededError
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if exceeded:  # whatever the app made of the cut-off body, the answer is 413
                return
            started = True
            await send(message)

        try:
            await self.app(scope, limited, guarded)
        except _ExceededError:
            pass
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await self._refuse(scope, receive, send, limit)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = ledger_problem(RequestTooLargeError(limit))
        response.headers["connection"] = "close"  # the rest of the body is never read
        await response(scope, receive, send)


def settings_of_app(scope: Scope) -> Settings:
    """The settings of the ledger the app serves (a started app), or the defaults."""
    service = getattr(scope["app"].state, "service", None)
    return service.ledger.settings if service is not None else _DEFAULTS


_DEFAULTS = Settings(environment="test")


class RateLimiter:
    """``per_minute`` requests at once per key, one more every ``60 / per_minute`` seconds
    (a token bucket, kept as the generic cell rate algorithm's one number per key).

    The allowance lives in the database (:meth:`AccessRecords.take_allowance`), not in the
    process: a deployment of several API processes, or of several hosts on one database, gives
    a token the same allowance as one process would. Keys are stored hashed (never a bearer
    token), and times are the wall clock's, which every process shares.
    """

    def __init__(self, store: AccessRecords, per_minute: int, what: str,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.per_minute = per_minute
        self.what = what
        self._clock = clock

    def take(self, key: str) -> None:
        """Spend one request of ``key``'s; raise :class:`RateLimitedError` if none is left."""
        interval = max(1, round(60_000_000 / self.per_minute))  # microseconds
        wait = self.store.take_allowance(hashlib.sha256(key.encode()).hexdigest(),
                                         int(self._clock() * 1_000_000), interval,
                                         interval * self.per_minute)
        if wait:
            raise RateLimitedError(self.what, max(1, math.ceil(wait / 1_000_000)))


__all__ = ["UPLOAD_PATHS", "BodyLimit", "RateLimiter", "body_limit", "settings_of_app"]
