"""``SQLSnapshot.log_pages`` on PostgreSQL alone: an event number given twice, which SQLite
cannot store (its events are numbered by rowid)."""

from __future__ import annotations

import pytest
from tampering import Tamperer
from test_log_pages import _both, filed

from ledger.app import Ledger
from ledger.settings import Settings

__all__ = ["filed"]  # the fixture, used here


@pytest.fixture
def database_url(pg_schema_url: str) -> str:
    """PostgreSQL only."""
    return pg_schema_url


def test_an_event_number_given_twice_reads_as_the_join_does(filed: Ledger,
                                                            settings: Settings) -> None:
    """PostgreSQL numbers events from a sequence under a unique index; an operator who drops
    it (and the events' key) can give a second, altered row an existing number and the same
    stream and seq. The join returns both rows; so must the read."""
    tamper = Tamperer(settings.database_url, filed.identity.profile)
    count = tamper._one("SELECT COUNT(*) FROM stored_events")[0]
    (middle,) = tamper._one("SELECT notification_id FROM stored_events ORDER BY"
                            f" notification_id LIMIT 1 OFFSET {count // 2}")
    with tamper._cursor() as curs:
        curs.execute("ALTER TABLE stored_events DROP CONSTRAINT stored_events_pkey")
        curs.execute("DROP INDEX stored_events_notification_id_idx")
        curs.execute("INSERT INTO stored_events (originator_id, originator_version, topic, state,"
                     " notification_id) SELECT originator_id, originator_version, topic,"
                     " state || '\\x00'::bytea, notification_id FROM stored_events"
                     " WHERE notification_id = ?", (middle,))
    fast, joined, ran = _both(filed)
    assert isinstance(fast, list)
    assert fast == joined
    assert len(fast) == filed.log.tree_size() + 1
    assert "iter_log" in ran
