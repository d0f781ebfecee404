"""Calendar-feed secrets: a unit subscribes to its obligations from its calendar client.

A calendar client cannot send a bearer token, so each feed has a secret of its own in its URL
(``/units/{unit}/obligations.ics?token=FEED.SECRET``). Only the secret's SHA-256 is kept; the
administrator issues one per subscriber (``ledger feeds issue UNIT``) and revokes it when it
leaks or its holder leaves (``ledger feeds revoke FEED``): from then on the URL answers 404.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from ledger.errors import ValidationFailedError
from ledger.service.sidetables import SideTables


@dataclass(frozen=True)
class Feed:
    """An issued feed (its secret is shown once, at issue)."""

    feed: str
    unit: str
    created_at: str
    revoked_at: str | None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class FeedBook:
    """Issues, checks and revokes feed secrets (in the side tables)."""

    def __init__(self, tables: SideTables) -> None:
        self._tables = tables

    def issue(self, unit: str, at: str) -> tuple[Feed, str]:
        """A new feed for ``unit``; returns it and its token (``FEED.SECRET``), shown once."""
        if not unit or any(c.isspace() for c in unit):
            raise ValidationFailedError("feed", [("unit", "a unit id")])
        feed = secrets.token_hex(8)
        secret = secrets.token_urlsafe(24)
        self._tables.run("INSERT INTO feed_secrets (feed, unit, secret_hash, created_at)"
                         " VALUES (?, ?, ?, ?)", (feed, unit, _digest(secret), at))
        return Feed(feed, unit, at, None), f"{feed}.{secret}"

    def revoke(self, feed: str, at: str) -> bool:
        """Revoke a feed from now on; whether it was active."""
        return self._tables.run("UPDATE feed_secrets SET revoked_at = ? WHERE feed = ?"
                                " AND revoked_at IS NULL", (at, feed)) > 0

    def feeds(self, unit: str | None = None) -> list[Feed]:
        """The issued feeds (of ``unit``), oldest first."""
        select = "SELECT feed, unit, created_at, revoked_at FROM feed_secrets"
        order = " ORDER BY created_at, feed"
        rows = (self._tables.rows(select + order) if unit is None
                else self._tables.rows(select + " WHERE unit = ?" + order, (unit,)))
        return [Feed(*row) for row in rows]

    def check(self, unit: str, token: str) -> bool:
        """Whether ``token`` opens ``unit``'s feed (issued for that unit, not revoked)."""
        feed, _, secret = token.partition(".")
        if not feed or not secret:
            return False
        rows = self._tables.rows("SELECT unit, secret_hash, revoked_at FROM feed_secrets"
                                 " WHERE feed = ?", (feed,))
        if not rows:
            return False
        owner, stored, revoked = rows[0]
        return (revoked is None and owner == unit
                and hmac.compare_digest(str(stored), _digest(secret)))


__all__ = ["Feed", "FeedBook"]
