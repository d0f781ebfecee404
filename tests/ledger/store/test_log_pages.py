"""``ledger verify``'s read of the log (``SQLSnapshot.log_pages``): the leaves and their events
read as two range scans and joined in the client, row for row the same as the join statement
that defines them, on a ledger as appended and after each edit an operator could make to the
two tables (the join in the client must never pair a leaf with an event the statement would
not).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from tampering import Tamperer

from ledger.app import Ledger
from ledger.errors import StoredValueError
from ledger.measures.catalogue import EXAMPLES
from ledger.measures.roles import Role
from ledger.settings import Settings

_PAGE = 3
"""Leaves a page here: several pages, and edits in the middle of one."""


@pytest.fixture
def filed(ledger: Ledger) -> Ledger:
    """A ledger with entries on a few streams, in batches and alone."""
    for n in range(3):
        ledger.register_actor(f"unit-{n}", Role.UNIT, "edu", f"单位 {n}")
    ledger.file("unit-0", "ApplicationFiled", EXAMPLES["ApplicationFiled"])
    return ledger


@contextmanager
def _reads(ledger: Ledger) -> Iterator[tuple[Any, list[str], Callable[..., list[Any]]]]:
    """A snapshot whose statements are recorded, and its own unrecorded ``rows``."""
    with ledger.log.snapshot() as view:
        statements: list[str] = []
        rows = view._rows

        def recording(query: str, params: Any) -> list[Any]:
            statements.append(query)
            return rows(query, params)

        view._rows = recording
        yield view, statements, rows


def _outcome(read: Callable[[], list[Any]]) -> list[Any] | str:
    """The rows, or the name of what the read raised."""
    try:
        return [tuple(row) for row in read()]
    except StoredValueError as exc:
        return f"StoredValueError: {exc.what}"


def _both(ledger: Ledger, size: int | None = None,
          ) -> tuple[list[Any] | str, list[Any] | str, set[str]]:
    """The first ``size`` leaves (all: None) read page by page through ``_joined`` and
    through the join statement; and which of ``iter_log`` (the join statement: ``_joined``
    fell back to it) and ``events_numbered`` (the events' range scan) ``_joined`` ran."""
    with _reads(ledger) as (view, statements, rows):
        size = view.tree_size() if size is None else size
        fast = _outcome(lambda: [row for start in range(0, size, _PAGE)
                                 for row in view._joined(start, min(start + _PAGE, size))])
        joined = _outcome(lambda: [row for start in range(0, size, _PAGE) for row in rows(
            view._sql.iter_log, (start, min(start + _PAGE, size)))])
        names = {"iter_log": view._sql.iter_log, "events_numbered": view._sql.events_numbered}
        return fast, joined, {name for name, query in names.items() if query in statements}


def test_a_ledger_as_appended_is_read_by_two_range_scans(filed: Ledger) -> None:
    fast, joined, ran = _both(filed)
    assert isinstance(fast, list)
    assert len(fast) > 3 * _PAGE
    assert fast == joined
    assert ran == {"events_numbered"}
    with _reads(filed) as (view, statements, _):
        pages = list(view.log_pages(batch=_PAGE))
        leaves = list(view.iter_log(batch=_PAGE))
        assert view._sql.iter_log not in statements
    rows = [row for page in pages for row in page]
    assert [len(page) for page in pages[:-1]] == [_PAGE] * (len(pages) - 1)
    assert [row[0] for row in rows] == list(range(len(rows)))
    assert [(leaf.leaf_index, leaf.originator_id, leaf.entry_hash, event and event.state)
            for leaf, event in leaves] == [(row[0], row[1], row[3], row[8]) for row in rows]


def test_each_edited_cell_of_the_leaves_or_the_events_reads_as_the_join_does(
        filed: Ledger, settings: Settings) -> None:
    tamper = Tamperer(settings.database_url, filed.identity.profile)
    wrong: tuple[Any, ...] = ((None, 10**9, -1) if tamper.postgres
                              else (None, 10**9, -1, "x", b"\x00" * 16, 1.5))
    cells = [cell for cell in tamper.cells() if cell[0] in ("log_leaves", "stored_events")]
    assert {column for table, column, *_ in cells if table == "log_leaves"} >= {
        "notification_id", "originator_id", "originator_version"}
    size = filed.log.tree_size() + 2  # (an edited leaf index must not make the read endless)
    differing = []
    for table, column, key, values in cells:
        for value in wrong:
            was = tamper.set_cell(table, column, key, values, value)
            if was is False:
                continue
            try:
                fast, joined, _ = _both(filed, size)
                if fast != joined:
                    differing.append(f"{table}.{column} = {value!r}: {fast!r:.300} != "
                                     f"{joined!r:.300}")
            finally:
                tamper.restore_cell(table, column, key, values, value, was)
    assert not differing, "\n".join(differing)


def test_events_renumbered_deleted_or_moved_read_as_the_join_does(
        filed: Ledger, settings: Settings) -> None:
    tamper = Tamperer(settings.database_url, filed.identity.profile)
    number = "notification_id" if tamper.postgres else "rowid"
    count = tamper._one("SELECT COUNT(*) FROM stored_events")[0]
    (middle,) = tamper._one(f"SELECT {number} FROM stored_events ORDER BY {number}"
                            f" LIMIT 1 OFFSET {count // 2}")
    (four,) = tamper._one("SELECT notification_id FROM log_leaves WHERE leaf_index = 4")
    (five,) = tamper._one("SELECT notification_id FROM log_leaves WHERE leaf_index = 5")
    leaf = "UPDATE log_leaves SET notification_id = {} WHERE leaf_index = {}"
    event = f"UPDATE stored_events SET {{}} WHERE {number} = {{}}"
    edits = [
        # Two leaves' notification ids swapped: each names the other's event.
        ([leaf.format(five, 4), leaf.format(four, 5)],
         [leaf.format(four, 4), leaf.format(five, 5)]),
        # An event given another seq: a leaf's number names a row that is not its entry.
        ([event.format("originator_version = originator_version + 1000", middle)],
         [event.format("originator_version = originator_version - 1000", middle)]),
        # An event renumbered far away.
        ([event.format(f"{number} = 1000000", middle)],
         [event.format(f"{number} = {middle}", 1000000)]),
        # A leaf's number far from its neighbours' (a range scan would read the whole table:
        # not run for that page).
        ([leaf.format(four + 1000000, 4)], [leaf.format(four, 4)]),
        # An event deleted (last: not put back).
        ([f"DELETE FROM stored_events WHERE {number} = {middle}"], []),
    ]
    for edit, undo in edits:
        for statement in edit:
            tamper._execute(statement)
        fast, joined, ran = _both(filed)
        assert isinstance(fast, list), edit
        assert fast == joined, edit
        assert "iter_log" in ran, edit
        if edit[0] == leaf.format(four + 1000000, 4):
            with _reads(filed) as (view, statements, _):
                view._joined(3, 6)
                assert view._sql.events_numbered not in statements
        for statement in undo:
            tamper._execute(statement)
        if undo:
            assert _both(filed)[2] == {"events_numbered"}, undo  # two range scans again

