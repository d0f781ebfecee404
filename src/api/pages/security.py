"""Sessions and CSRF for the pages (docs/design.md §6 "Web pages").

* **Session**: signing in with a bearer token starts a session on the server
  (:meth:`ledger.service.tokens.BearerTokens.start_session`: a random id, stored hashed, bound
  to the token) and sets one cookie, ``ledger_session`` (``HttpOnly``, ``SameSite=Strict``,
  ``Path=/``, ``Secure`` over HTTPS) holding ``ISSUED.SESSION_ID.MAC``: the session id, when it
  began, and an HMAC over both under a key derived from the ledger's master key (a forged
  cookie is turned away without a query). The cookie never holds the bearer token. Every
  request asks the database whether the session is live: sign-out ends it on the server, and
  so do revoking or expiring its token and the session lifetime (``LEDGER_SESSION_HOURS``).
  Sessions live in the database, so any number of API processes share them.
* **CSRF**: every form carries a hidden ``csrf`` field. Signed in, it is an HMAC of the
  session (synchronizer token derived from it, so it cannot be computed without the cookie);
  before signing in, it must equal a random ``ledger_csrf`` cookie (double submit). Every POST
  also refuses a cross-site ``Origin`` or ``Sec-Fetch-Site``. ``SameSite=Strict`` alone would
  stop most forgeries; the token stops the rest.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "ledger_session"
CSRF_COOKIE = "ledger_csrf"
LANG_COOKIE = "ledger_lang"
SESSION_SECONDS = 7 * 24 * 3600
"""The longest any session cookie is accepted; the server's lifetime (``LEDGER_SESSION_HOURS``,
12 hours by default) and sign-out end a session sooner."""
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
_TOKEN = re.compile(r"^[A-Za-z0-9_\-]{8,256}$")


def session_key(master_key: bytes) -> bytes:
    """The pages' HMAC key, derived from (never equal to) the ledger master key."""
    return hmac.new(master_key, b"audit-ledger pages session v1", hashlib.sha256).digest()


def well_formed_token(token: str) -> bool:
    """A bearer token as ``ledger actors token`` prints it (URL-safe base64)."""
    return bool(_TOKEN.fullmatch(token))


@dataclass(frozen=True)
class Session:
    """A signed-in browser: its session id (the server's record of it decides whether it is
    live) and when the session began (Unix seconds)."""

    id: str
    issued: int

    def csrf(self, key: bytes) -> str:
        """The CSRF token of this session."""
        message = f"csrf|{self.issued}|{self.id}".encode()
        return hmac.new(key, message, hashlib.sha256).hexdigest()


def _mac(key: bytes, issued: int, session_id: str) -> str:
    return hmac.new(key, f"session|{issued}|{session_id}".encode(),
                    hashlib.sha256).hexdigest()


def seal(key: bytes, session_id: str, issued: int | None = None) -> str:
    """The session cookie's value."""
    issued = int(time.time()) if issued is None else issued
    return f"{issued}.{session_id}.{_mac(key, issued, session_id)}"


def open_session(key: bytes, value: str | None, now: float | None = None) -> Session | None:
    """The session in a cookie value, if it is authentic and not expired."""
    if not value:
        return None
    parts = value.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not well_formed_token(parts[1]):
        return None
    issued, session_id, mac = int(parts[0]), parts[1], parts[2]
    if not hmac.compare_digest(mac, _mac(key, issued, session_id)):
        return None
    now = time.time() if now is None else now
    if not issued - 60 <= now <= issued + SESSION_SECONDS:
        return None
    return Session(session_id, issued)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session(response: Response, request: Request, key: bytes, session_id: str,
                max_age: int = SESSION_SECONDS) -> None:
    """Give the browser a session started on the server (and drop the pre-sign-in CSRF
    cookie)."""
    response.set_cookie(SESSION_COOKIE, seal(key, session_id),
                        max_age=min(max_age, SESSION_SECONDS), path="/",
                        httponly=True, samesite="strict", secure=_secure(request))
    response.delete_cookie(CSRF_COOKIE, path="/", httponly=True, samesite="strict",
                           secure=_secure(request))


def clear_session(response: Response, request: Request) -> None:
    """End the session in this browser."""
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                           secure=_secure(request))


def anonymous_csrf(request: Request, response: Response) -> str:
    """The double-submit CSRF token of a browser that is not signed in (set if missing)."""
    token = request.cookies.get(CSRF_COOKIE)
    if not token or not well_formed_token(token):
        token = secrets.token_urlsafe(24)
        response.set_cookie(CSRF_COOKIE, token, path="/", httponly=True, samesite="strict",
                            secure=_secure(request))
    return token


def set_language(response: Response, request: Request, lang: str) -> None:
    """Remember the chosen language for a year (not a secret: no HttpOnly needed, but set)."""
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, path="/", httponly=True,
                        samesite="lax", secure=_secure(request))


def same_origin(request: Request) -> bool:
    """False for a request a browser marks as cross-site (Origin or Sec-Fetch-Site)."""
    if request.headers.get("sec-fetch-site", "same-origin") not in {"same-origin", "none"}:
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    expected = f"{request.url.scheme}://{request.url.netloc}"
    return origin == expected


def csrf_ok(request: Request, submitted: str | None, key: bytes,
            session: Session | None) -> bool:
    """Whether a POST carries the right CSRF token and comes from this site."""
    if not submitted or not same_origin(request):
        return False
    if session is not None:
        return hmac.compare_digest(submitted, session.csrf(key))
    cookie = request.cookies.get(CSRF_COOKIE)
    return bool(cookie) and hmac.compare_digest(submitted, cookie or "")


def safe_next(target: str | None, default: str = "/projects") -> str:
    """A local path to go back to (never another site: no scheme, no ``//``, no ``\\``)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(c in target for c in "\r\n\\"):
        return default
    return target
