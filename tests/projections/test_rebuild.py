"""Rebuilding the library read model: the fast read of the log, the saved rows, tamper checks."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, cast

import pytest

from ledger.app import Ledger
from ledger.errors import EntryHashMismatchError
from ledger.measures.catalogue import EXAMPLES
from projections import views
from projections.runner import Library
from projections.store_postgres import read_ahead


def _fill(ledger: Ledger, projects: int = 5, supplements: int = 3) -> list[Any]:
    streams = [ledger.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"]).stream
               for _ in range(projects)]
    for stream in streams:
        ledger.file("office-li", "ReviewOpinionIssued", EXAMPLES["ReviewOpinionIssued"],
                    stream=stream)
        ledger.submit_many([ledger.prepare("edu-wang", "MaterialsSupplemented",
                                           EXAMPLES["MaterialsSupplemented"], stream=stream)
                            for _ in range(supplements)])
    return streams


def test_rebuild_in_small_pages_saves_what_catch_up_folds(
        ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    _fill(ledger)
    monkeypatch.setattr("projections.runner._PAGE", 7)  # many pages, some partly filled
    incremental = Library(ledger)
    incremental.catch_up()
    rebuilt = Library(ledger).rebuild()
    reloaded = Library(ledger).state  # what the rebuild saved, read back from the view
    for state in (rebuilt, reloaded):
        assert state.projects == incremental.state.projects
        assert state.actors == incremental.state.actors
        assert (state.entries, state.last_recorded_at) == (
            incremental.state.entries, incremental.state.last_recorded_at)
    assert Library(ledger).projection.position == incremental.projection.position


def test_rebuild_then_catch_up_upserts_changed_projects(ledger: Ledger) -> None:
    streams = _fill(ledger, projects=3, supplements=1)
    library = Library(ledger)
    library.rebuild()
    ledger.file("finance-zhao", "FundingArranged", EXAMPLES["FundingArranged"],
                stream=streams[1])
    assert library.catch_up() == 1
    fresh = Library(ledger)  # loads the upserted row
    assert fresh.state.projects == library.state.projects
    on = ledger.today()
    assert views.all_views(fresh.state, on) == views.all_views(Library(ledger).rebuild(), on)


def test_rebuild_refuses_an_entry_that_does_not_hash_to_its_leaf(ledger: Ledger) -> None:
    streams = _fill(ledger, projects=2, supplements=1)
    library = Library(ledger)
    leaf = ledger.log.leaf_for(streams[1], 2)
    assert leaf is not None
    stored = ledger.recorder.select_events(streams[1], gt=1, lte=2)[0]
    edited = stored.state.replace(b'"seq":2', b'"seq":2 ')  # one more byte, same JSON
    datastore: Any = cast(Any, library.view).datastore
    postgres = ledger.env.get("PERSISTENCE_MODULE") == "eventsourcing.postgres"
    update = (f'UPDATE "{datastore.schema}".stored_events SET state = %s WHERE state = %s'
              if postgres else "UPDATE stored_events SET state = ? WHERE state = ?")
    with datastore.transaction(commit=True) as curs:
        curs.execute(update, (edited, stored.state))
    threads = threading.active_count()
    with pytest.raises(EntryHashMismatchError) as raised:
        library.rebuild()
    assert raised.value.leaf_index == leaf.leaf_index
    assert threading.active_count() == threads  # the read-ahead thread was joined


def _pages(count: int, fail_at: int | None = None) -> Iterator[list[int]]:
    for n in range(count):
        if n == fail_at:
            raise RuntimeError("read failed")
        yield [n]


def test_read_ahead_yields_every_page_in_order() -> None:
    assert list(read_ahead(_pages(10))) == [[n] for n in range(10)]
    assert list(read_ahead(_pages(0))) == []


def test_read_ahead_raises_the_readers_error_at_its_page() -> None:
    pages = read_ahead(_pages(10, fail_at=4))
    assert [next(pages) for _ in range(4)] == [[0], [1], [2], [3]]
    with pytest.raises(RuntimeError, match="read failed"):
        next(pages)


def test_read_ahead_stops_its_thread_when_the_reader_stops_early() -> None:
    threads = threading.active_count()
    pages = read_ahead(_pages(1000), depth=2)
    assert next(pages) == [0]
    pages.close()  # the consumer gave up (as a failed hash check does)
    assert threading.active_count() == threads
