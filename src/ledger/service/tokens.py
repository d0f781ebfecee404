"""Bearer tokens of the API and sessions of the pages, kept only as hashes.

A bearer token lives ``LEDGER_TOKEN_DAYS`` (90 by default) from its issue, or until the expiry
the administrator chose when issuing it (``ledger actors token ACTOR --expires-in 30d``), until
revoked, or until ``ledger actors token ACTOR --rotate`` replaces it. A pages session is a
random id the cookie carries (never the bearer token); the database keeps the id's hash, the
token it was signed in with and when. A session lives ``LEDGER_SESSION_HOURS`` (12) from
sign-in, until sign-out ends it, and no longer than its token: revoking or expiring the token
ends it too. Lifetimes are judged at each use against the configured values, so shortening one takes
effect at once for every token and session without an expiry of its own; a token's own expiry
is fixed when it is issued.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ledger.errors import ValidationFailedError
from ledger.log.entries import format_time, parse_time
from ledger.log.store import LogStore
from ledger.service.cache import AggregateCache
from ledger.settings import Settings

_TOKEN_TTL = 1.0  # seconds a live bearer token is trusted without asking the database
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1),
          "w": timedelta(weeks=1)}
MAX_LIFETIME = timedelta(days=3660)
"""The longest expiry a token may be given (ten years)."""


def parse_lifetime(text: str) -> timedelta:
    """A token lifetime written as a number and a unit: ``90m``, ``12h``, ``30d``, ``2w``.

    Raises :class:`ValidationFailedError` for anything else, zero, or more than ten years.
    """
    found = re.fullmatch(r"\s*(\d{1,6})\s*([mhdw])\s*", text.lower())
    if found is None:
        raise ValidationFailedError("token", [(
            "expires_in", f"{text!r} is not a lifetime such as 12h, 30d or 2w")])
    lifetime = int(found.group(1)) * _UNITS[found.group(2)]
    if not timedelta(0) < lifetime <= MAX_LIFETIME:
        raise ValidationFailedError("token", [(
            "expires_in", "a lifetime must be more than nothing and at most ten years")])
    return lifetime


def token_hash(token: str) -> str:
    """What the database keeps of a bearer token (or a session id)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    """One of an actor's tokens as ``ledger actors tokens`` lists it (never the token)."""

    token_id: str
    """The first 12 hex digits of the token's hash: enough to tell an actor's tokens apart."""
    issued_at: str
    expires_at: str
    state: str
    """``live``, ``revoked`` or ``expired``; ``unreadable`` where a stored time is not one
    (edited in the database), so that its lifetime cannot be told."""


class BearerTokens:
    """Issues, looks up, rotates and revokes bearer tokens (remembering live ones for a
    second), and starts, checks and ends the pages' sessions."""

    def __init__(self, log: LogStore, cache: AggregateCache,
                 clock: Callable[[], datetime], settings: Settings | None = None) -> None:
        chosen = settings or Settings()
        self._log = log
        self._cache = cache
        self._clock = clock
        self.token_lifetime = timedelta(days=chosen.token_days)
        self.session_lifetime = timedelta(hours=chosen.session_hours)
        self._live: dict[str, tuple[str, float]] = {}  # token hash → (actor, checked at)

    # --- bearer tokens ---------------------------------------------------------------------

    def issue(self, actor: str, expires_in: timedelta | None = None) -> str:
        """A new bearer token for an actor (``ledger actors token``); only its hash is kept.

        ``expires_in``: the token's own lifetime (at most :data:`MAX_LIFETIME`); without it the
        token lives the configured lifetime (``LEDGER_TOKEN_DAYS``).
        """
        self._cache.registry().actor(actor)
        if expires_in is not None and not timedelta(0) < expires_in <= MAX_LIFETIME:
            raise ValidationFailedError("token", [(
                "expires_in", "a lifetime must be more than nothing and at most ten years")])
        token = secrets.token_urlsafe(32)
        now = self._clock()
        self._log.put_token(token_hash(token), actor, format_time(now),
                            None if expires_in is None else format_time(now + expires_in))
        return token

    def rotate(self, actor: str, expires_in: timedelta | None = None) -> str:
        """Revoke every token of an actor and issue a new one (``--rotate``): the way to renew
        a token before it expires."""
        self._cache.registry().actor(actor)
        self.revoke(actor)
        return self.issue(actor, expires_in)

    def expires_at(self, issued_at: str) -> str:
        """When a token issued at ``issued_at`` without an expiry of its own expires."""
        return format_time(parse_time(issued_at) + self.token_lifetime)

    def tokens_of(self, actor: str) -> list[TokenInfo]:
        """An actor's tokens, oldest first, with when each expires and whether it is live."""
        now = format_time(self._clock())
        found = []
        for digest, issued_at, revoked, own in self._log.tokens_of(actor):
            try:
                expires = format_time(parse_time(own)) if own is not None else \
                    self.expires_at(issued_at)
            except ValueError:  # a time edited beneath the ledger: listed, not judged
                found.append(TokenInfo(digest[:12], issued_at, own or "", "unreadable"))
                continue
            state = "revoked" if revoked else ("expired" if expires <= now else "live")
            found.append(TokenInfo(digest[:12], issued_at, expires, state))
        return found

    def expiry_of(self, actor: str, token: str) -> str | None:
        """When one of an actor's tokens expires (None if it is not the actor's)."""
        digest = token_hash(token)[:12]
        return next((t.expires_at for t in self.tokens_of(actor) if t.token_id == digest), None)

    def _issued_after(self) -> str:
        """Tokens issued at or before this time have expired."""
        return format_time(self._clock() - self.token_lifetime)

    def remembered_actor_for(self, token: str) -> str | None:
        """:meth:`actor_for` when it can answer without the database, else None (for callers
        on an event loop, which must not block on a query)."""
        return self._remembered(token_hash(token))

    def _remembered(self, digest: str) -> str | None:
        hit = self._live.get(digest)
        return hit[0] if hit is not None and time.monotonic() - hit[1] < _TOKEN_TTL else None

    def actor_for(self, token: str) -> str | None:
        """The actor a bearer token stands for, if it is live (issued, not revoked, not
        expired).

        A live token is remembered for a second (every request asks): revoked through this
        ledger it stops at once, revoked by another process within a second.
        """
        digest = token_hash(token)
        remembered = self._remembered(digest)
        if remembered is not None:
            return remembered
        checked = time.monotonic()  # before the query: trusted from when it was asked
        actor = self._log.actor_for_token(digest, self._issued_after(),
                                          format_time(self._clock()))
        if actor is None:
            self._live.pop(digest, None)
        else:
            self._live[digest] = (actor, checked)
        return actor

    def revoke(self, actor: str) -> int:
        """Revoke every token of an actor (``ledger actors revoke-tokens``), which ends their
        sessions too; returns how many."""
        count = self._log.revoke_tokens(actor)
        self._live = {k: v for k, v in self._live.items() if v[0] != actor}
        return count

    # --- pages sessions --------------------------------------------------------------------

    def start_session(self, token: str) -> str | None:
        """Sign in with a bearer token: a new session id for the cookie (None if the token is
        not live). Only the id's hash is stored."""
        actor = self.actor_for(token)
        if actor is None:
            return None
        session_id = secrets.token_urlsafe(32)
        self._log.put_session(token_hash(session_id), token_hash(token), actor,
                              format_time(self._clock()))
        return session_id

    def actor_for_session(self, session_id: str) -> str | None:
        """The actor of a live session (not ended, not older than the session lifetime, its
        token live)."""
        now = self._clock()
        return self._log.actor_for_session(token_hash(session_id),
                                           format_time(now - self.session_lifetime),
                                           format_time(now - self.token_lifetime),
                                           format_time(now))

    def end_session(self, session_id: str) -> bool:
        """Sign out: the session ends on the server, whoever still holds its cookie."""
        return self._log.end_session(token_hash(session_id)) > 0


__all__ = ["MAX_LIFETIME", "BearerTokens", "TokenInfo", "parse_lifetime", "token_hash"]
