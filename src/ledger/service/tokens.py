"""Bearer tokens of the API: issued to registered actors, kept only as hashes."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from datetime import datetime

from ledger.log.entries import format_time
from ledger.log.store import LogStore
from ledger.service.cache import AggregateCache

_TOKEN_TTL = 1.0  # seconds a live bearer token is trusted without asking the database


def token_hash(token: str) -> str:
    """What the database keeps of a bearer token."""
    return hashlib.sha256(token.encode()).hexdigest()


class BearerTokens:
    """Issues, looks up and revokes bearer tokens, remembering live ones for a second."""

    def __init__(self, log: LogStore, cache: AggregateCache,
                 clock: Callable[[], datetime]) -> None:
        self._log = log
        self._cache = cache
        self._clock = clock
        self._live: dict[str, tuple[str, float]] = {}  # token hash → (actor, checked at)

    def issue(self, actor: str) -> str:
        """A new bearer token for an actor (``ledger actors token``); only its hash is kept."""
        self._cache.registry().actor(actor)
        token = secrets.token_urlsafe(32)
        self._log.put_token(token_hash(token), actor, format_time(self._clock()))
        return token

    def remembered_actor_for(self, token: str) -> str | None:
        """:meth:`actor_for` when it can answer without the database, else None (for callers
        on an event loop, which must not block on a query)."""
        return self._remembered(token_hash(token))

    def _remembered(self, digest: str) -> str | None:
        hit = self._live.get(digest)
        return hit[0] if hit is not None and time.monotonic() - hit[1] < _TOKEN_TTL else None

    def actor_for(self, token: str) -> str | None:
        """The actor a bearer token stands for, if it is live.

        A live token is remembered for a second (every request asks): revoked through this
        ledger it stops at once, revoked by another process within a second.
        """
        digest = token_hash(token)
        remembered = self._remembered(digest)
        if remembered is not None:
            return remembered
        checked = time.monotonic()  # before the query: trusted from when it was asked
        actor = self._log.actor_for_token(digest)
        if actor is None:
            self._live.pop(digest, None)
        else:
            self._live[digest] = (actor, checked)
        return actor

    def revoke(self, actor: str) -> int:
        """Revoke every token of an actor (``ledger actors revoke-tokens``); returns how many."""
        count = self._log.revoke_tokens(actor)
        self._live = {k: v for k, v in self._live.items() if v[0] != actor}
        return count


__all__ = ["BearerTokens", "token_hash"]
