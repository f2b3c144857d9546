"""Insert-if-absent, setdefault and transform_item raced by real processes."""

from __future__ import annotations

from collections import defaultdict

import pytest

from persidict import FileDirDict
from tests.processes.process_workers import (
    increment_repeatedly,
    insert_each_key,
    setdefault_each_key,
)

# ---------------------------------------------------------- append-only


INSERT_WORKERS = 12
INSERT_ROUNDS = 10


def group_by_key(
    results: list[tuple[str, int, object]],
) -> dict[str, dict[int, object]]:
    grouped: dict[str, dict[int, object]] = defaultdict(dict)
    for key, worker, outcome in results:
        grouped[key][worker] = outcome
    return grouped


@pytest.mark.timeout(120)
@pytest.mark.parametrize("fsync", [False, True], ids=["no-fsync", "fsync"])
def test_append_only_insert_one_winner(fork_group, tmp_path, fsync):
    d = FileDirDict(base_dir=str(tmp_path / "store"), append_only=True, fsync=fsync)
    keys = [f"new{i}" for i in range(INSERT_ROUNDS)]
    barrier = fork_group.context.Barrier(INSERT_WORKERS)
    results = fork_group.context.Queue()
    for worker in range(INSERT_WORKERS):
        fork_group.start(
            insert_each_key, d.get_params(), keys, worker, barrier, results
        )

    outcomes = group_by_key(
        fork_group.collect(results, INSERT_WORKERS * INSERT_ROUNDS, timeout=90)
    )
    fork_group.join_all(timeout=30)

    for key in keys:
        by_worker = outcomes[key]
        assert len(by_worker) == INSERT_WORKERS
        winners = [w for w, outcome in by_worker.items() if outcome == "inserted"]
        assert len(winners) == 1, f"{key}: {by_worker}"
        others = {w: o for w, o in by_worker.items() if o != "inserted"}
        assert set(others.values()) == {"rejected"}, f"{key}: {others}"
        assert d[key] == {"worker": winners[0], "key": key}
    assert len(d) == INSERT_ROUNDS


# ----------------------------------------------------------- setdefault


SETDEFAULT_WORKERS = 8
SETDEFAULT_ROUNDS = 10


@pytest.mark.timeout(120)
def test_setdefault_race_returns_stored(fork_group, tmp_path):
    d = FileDirDict(base_dir=str(tmp_path / "store"), fsync=False)
    keys = [f"default{i}" for i in range(SETDEFAULT_ROUNDS)]
    barrier = fork_group.context.Barrier(SETDEFAULT_WORKERS)
    results = fork_group.context.Queue()
    for worker in range(SETDEFAULT_WORKERS):
        fork_group.start(
            setdefault_each_key, d.get_params(), keys, worker, barrier, results
        )

    returned = group_by_key(
        fork_group.collect(results, SETDEFAULT_WORKERS * SETDEFAULT_ROUNDS, 90)
    )
    fork_group.join_all(timeout=30)

    for key in keys:
        by_worker = returned[key]
        stored = d[key]
        assert len(by_worker) == SETDEFAULT_WORKERS
        assert all(value == stored for value in by_worker.values()), by_worker
        own = [w for w, value in by_worker.items() if value["worker"] == w]
        assert own == [stored["worker"]]


# -------------------------------------------------------- transform_item


def run_increments(group, tmp_path, fsync: bool, workers: int, times: int):
    d = FileDirDict(base_dir=str(tmp_path / "store"), fsync=fsync)
    barrier = group.context.Barrier(workers)
    results = group.context.Queue()
    for _ in range(workers):
        group.start(
            increment_repeatedly, d.get_params(), "counter", times, barrier, results
        )
    outcomes = group.collect(results, workers, timeout=1500)
    group.join_all(timeout=60)
    return d, outcomes


@pytest.mark.timeout(180)
@pytest.mark.parametrize("fsync", [False, True], ids=["no-fsync", "fsync"])
def test_transform_item_counts_every_increment(fork_group, tmp_path, fsync):
    d, outcomes = run_increments(fork_group, tmp_path, fsync, workers=8, times=25)
    assert outcomes == ["done"] * 8
    assert d["counter"] == 200


@pytest.mark.stress
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("fsync", [False, True], ids=["no-fsync", "fsync"])
def test_transform_item_4000_increments(fork_group, tmp_path, fsync):
    d, outcomes = run_increments(fork_group, tmp_path, fsync, workers=8, times=500)
    assert outcomes == ["done"] * 8
    assert d["counter"] == 4000
