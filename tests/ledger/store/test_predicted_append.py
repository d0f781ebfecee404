"""PostgreSQL's one-statement append (logwriter.write_predicted): taken when this process knows
the log's head, and when it does not, nothing is written and the locked path decides.

(SQLite runs in-process: its append is not a round trip, so it has no predicted path.)
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import psycopg
import pytest

from ledger.app import Ledger, SignedFiling
from ledger.errors import DuplicateNonceError
from ledger.evidence.verify import verify_ledger
from ledger.log.entries import b64encode
from ledger.measures.catalogue import EXAMPLES
from ledger.store.postgres import PostgresLedgerRecorder
from ledgertest import PG_URL


@pytest.fixture
def database_url(pg_schema_url: str) -> str:
    """These tests are about the PostgreSQL recorder only."""
    return pg_schema_url


def _recorder(ledger: Ledger) -> PostgresLedgerRecorder:
    recorder = ledger.recorder
    assert isinstance(recorder, PostgresLedgerRecorder)
    return recorder


def _supplement(ledger: Ledger, stream: uuid.UUID) -> int:
    return ledger.file("edu-wang", "MaterialsSupplemented", EXAMPLES["MaterialsSupplemented"],
                       stream=stream).seq


def test_a_lone_writer_appends_in_one_statement(ledger: Ledger) -> None:
    recorder = _recorder(ledger)
    streams = [ledger.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"]).stream
               for _ in range(3)]
    before = recorder.predicted_appends
    receipts = [ledger.file("edu-wang", "MaterialsSupplemented",
                            EXAMPLES["MaterialsSupplemented"], stream=streams[i % 3])
                for i in range(9)]
    opened = ledger.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"])
    assert recorder.predicted_appends == before + 10
    assert [r.leaf_index for r in [*receipts, opened]] == list(
        range(receipts[0].leaf_index, receipts[0].leaf_index + 10))
    assert [r.seq for r in receipts] == [2, 2, 2, 3, 3, 3, 4, 4, 4]
    checkpoint = ledger.trusted_checkpoint()
    assert checkpoint is not None
    assert checkpoint.size == opened.leaf_index + 1
    report = verify_ledger(ledger.log, ledger.identity, workers=1)
    assert report.ok, [f.describe() for f in report.failures]


def test_another_writer_makes_the_prediction_fail_and_nothing_is_lost(
        ledger: Ledger, make_ledger: Callable[..., Ledger]) -> None:
    stream = ledger.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"]).stream
    assert _supplement(ledger, stream) == 2
    other = make_ledger()
    assert _supplement(other, stream) == 3  # behind this process's back
    recorder = _recorder(ledger)
    before = recorder.predicted_appends
    # Decided on the cached seq-2 state and predicted at the old size: the statement finds
    # the log moved and writes nothing; the locked path refuses seq 3 (and reads the log
    # anew), and the fresh decision files seq 4 in one statement.
    assert _supplement(ledger, stream) == 4
    assert recorder.predicted_appends == before + 1
    assert _supplement(ledger, stream) == 5
    assert recorder.predicted_appends == before + 2
    assert [e.originator_version for e in ledger.events_of(stream)] == [1, 2, 3, 4, 5]
    report = verify_ledger(ledger.log, ledger.identity, workers=1)
    assert report.ok, [f.describe() for f in report.failures]


def test_a_used_nonce_writes_nothing_and_is_refused_by_the_locked_path(ledger: Ledger) -> None:
    first = ledger.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"])
    second = ledger.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"])
    recorder = _recorder(ledger)
    size, before = ledger.log.tree_size(), recorder.predicted_appends
    # A filing on the second project reusing the first filing's nonce (another stream, so
    # only the database knows the nonce is used).
    again = ledger.prepare("edu-wang", "MaterialsSupplemented",
                           EXAMPLES["MaterialsSupplemented"], stream=second.stream,
                           nonce=uuid.UUID(first.nonce))
    with pytest.raises(DuplicateNonceError):
        ledger.submit(again)
    assert ledger.log.tree_size() == size
    assert recorder.predicted_appends == before
    # A forged signature is refused before any statement; the log's head is still known.
    forged = ledger.prepare("edu-wang", "MaterialsSupplemented",
                            EXAMPLES["MaterialsSupplemented"], stream=second.stream)
    results = ledger.submit_many([SignedFiling(forged.filing, b64encode(b"\0" * 64))])
    assert isinstance(results[0], Exception)
    assert _supplement(ledger, second.stream) == 2
    assert recorder.predicted_appends == before + 1


def test_a_database_without_the_function_appends_on_the_locked_path(
        ledger: Ledger, pg_schema_url: str, caplog: pytest.LogCaptureFixture) -> None:
    schema = pg_schema_url.rsplit("schema=", 1)[1]
    with psycopg.connect(PG_URL, autocommit=True) as conn:  # as set up by an older version
        conn.execute(f'DROP FUNCTION "{schema}".ledger_write_if')
    stream = ledger.file("edu-wang", "ApplicationFiled", EXAMPLES["ApplicationFiled"]).stream
    assert [_supplement(ledger, stream) for _ in range(3)] == [2, 3, 4]
    assert "run `ledger init`" in caplog.text
    assert verify_ledger(ledger.log, ledger.identity, workers=1).ok
    ledger.initialise()  # `ledger init` puts it back
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM pg_proc p JOIN pg_namespace n"
                            " ON n.oid = p.pronamespace WHERE n.nspname = %s"
                            " AND p.proname = 'ledger_write_if'", (schema,)).fetchone() == (1,)
