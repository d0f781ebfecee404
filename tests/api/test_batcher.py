"""The group committer: batching, one outcome per job, load shedding, async waiters."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from api.batcher import GroupCommitter, OverloadedError
from api.problems import ledger_problem
from ledger.errors import LedgerError, RuleViolationError


class Recorder:
    """A commit function that answers each job with its double, refusing odd negatives."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.batches: list[list[int]] = []
        self.gate = gate
        self.entered = threading.Event()

    def __call__(self, jobs: Sequence[int]) -> list[int | Exception]:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(5)
        self.batches.append(list(jobs))
        return [RuleViolationError("odd", "Art. 9", f"{j} refused") if j < 0 else 2 * j
                for j in jobs]


def test_concurrent_jobs_share_batches_and_each_gets_its_own_outcome() -> None:
    gate = threading.Event()
    commit = Recorder(gate)
    committer: GroupCommitter[int, int] = GroupCommitter(commit, max_batch=50, max_wait=0.05)
    try:
        with ThreadPoolExecutor(32) as pool:
            futures = {j: pool.submit(committer.submit, j) for j in range(-10, 90)}
            gate.set()
            for j, future in futures.items():
                if j < 0:
                    with pytest.raises(RuleViolationError, match=f"{j} refused"):
                        future.result()
                else:
                    assert future.result() == 2 * j
    finally:
        committer.close()
    assert sorted(j for batch in commit.batches for j in batch) == list(range(-10, 90))
    assert max(map(len, commit.batches)) > 1  # waiting jobs were committed together
    assert max(map(len, commit.batches)) <= 50
    assert committer.batches == len(commit.batches)


def test_async_waiters_are_answered_on_their_loop() -> None:
    commit = Recorder()
    committer: GroupCommitter[int, int] = GroupCommitter(commit, max_wait=0.01)

    async def main() -> list[int | BaseException]:
        return await asyncio.gather(*(committer.file(j) for j in range(-2, 40)),
                                    return_exceptions=True)

    try:
        results = asyncio.run(main())
    finally:
        committer.close()
    assert all(isinstance(r, RuleViolationError) for r in results[:2])
    assert results[2:] == [2 * j for j in range(40)]
    assert len(commit.batches) < 42


def test_a_cancelled_waiter_does_not_stop_the_committer() -> None:
    gate = threading.Event()
    committer: GroupCommitter[int, int] = GroupCommitter(Recorder(gate))

    async def main() -> int:
        waiting = asyncio.ensure_future(committer.file(1))
        await asyncio.sleep(0.01)
        waiting.cancel()
        gate.set()
        return await committer.file(2)

    try:
        assert asyncio.run(main()) == 4
        assert committer.submit(3) == 6
    finally:
        committer.close()


def _queued(committer: GroupCommitter[int, int], n: int) -> None:
    for _ in range(500):
        if len(committer._jobs) >= n:
            return
        threading.Event().wait(0.01)
    raise AssertionError(f"{n} jobs were never queued")


def test_a_full_queue_sheds_load_with_503() -> None:
    gate = threading.Event()
    commit = Recorder(gate)
    committer: GroupCommitter[int, int] = GroupCommitter(commit, max_queue=2, max_batch=1)
    try:
        with ThreadPoolExecutor(4) as pool:
            first = pool.submit(committer.submit, 1)
            assert commit.entered.wait(5)  # the committer holds job 1 at the gate
            queued = [pool.submit(committer.submit, j) for j in (2, 3)]
            _queued(committer, 2)
            with pytest.raises(OverloadedError) as refused:
                committer.submit(4)
            response = ledger_problem(refused.value)
            assert response.status_code == 503
            assert response.headers["Retry-After"] == "1"
            gate.set()
            assert [f.result() for f in (first, *queued)] == [2, 4, 6]
    finally:
        committer.close()


def test_a_failing_commit_fails_its_batch_only() -> None:
    calls: list[Sequence[int]] = []

    def commit(jobs: Sequence[int]) -> list[int | Exception]:
        calls.append(jobs)
        if 0 in jobs:
            raise RuntimeError("database went away")
        return list(jobs)

    committer: GroupCommitter[int, int] = GroupCommitter(commit, max_wait=0)
    try:
        with pytest.raises(RuntimeError, match="went away"):
            committer.submit(0)
        assert committer.submit(5) == 5
    finally:
        committer.close()


def test_close_commits_what_is_queued_then_refuses_new_jobs() -> None:
    gate = threading.Event()
    commit = Recorder(gate)
    committer: GroupCommitter[int, int] = GroupCommitter(commit, max_batch=1)
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(committer.submit, 0)]
        assert commit.entered.wait(5)
        futures += [pool.submit(committer.submit, j) for j in (1, 2)]
        _queued(committer, 2)
        closing = pool.submit(committer.close)
        gate.set()
        closing.result()
        assert [f.result() for f in futures] == [0, 2, 4]
    assert committer.closed
    assert commit.batches == [[0], [1], [2]]
    with pytest.raises(OverloadedError):
        committer.submit(9)
    committer.close()  # idempotent


def test_overloaded_is_a_ledger_error() -> None:
    assert issubclass(OverloadedError, LedgerError)
