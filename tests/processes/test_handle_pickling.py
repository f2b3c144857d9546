"""A FileDirDict passed to multiprocessing.Pool workers is a handle to the
same folder: workers and parent see each other's writes."""

from __future__ import annotations

import multiprocessing
import pickle

import pytest

from persidict import FileDirDict
from tests.processes.process_workers import (
    read_key_through_handle,
    write_keys_through_handle,
)

POOL_SIZE = 2
WORKER_TASKS = 4
KEYS_PER_TASK = 5


@pytest.fixture
def spawn_pool():
    """A spawn pool, terminated and joined after the test so its workers are reaped."""
    pool = multiprocessing.get_context("spawn").Pool(POOL_SIZE)
    try:
        yield pool
    finally:
        pool.terminate()
        pool.join()


def test_pickle_holds_handle_not_contents(tmp_path):
    d = FileDirDict(base_dir=str(tmp_path / "store"), fsync=False)
    d["big"] = b"x" * (1 << 20)
    assert len(pickle.dumps(d)) < 10_000


def test_unpickled_handle_reads_same_folder(tmp_path):
    d = FileDirDict(base_dir=str(tmp_path / "store"), fsync=False)
    d["a"] = 1
    copy = pickle.loads(pickle.dumps(d))
    assert copy.get_params() == d.get_params()
    assert copy["a"] == 1


@pytest.mark.timeout(120)
def test_pool_workers_write_parent_reads(spawn_pool, tmp_path):
    d = FileDirDict(base_dir=str(tmp_path / "store"), fsync=False)
    tasks = [(d, worker, KEYS_PER_TASK) for worker in range(WORKER_TASKS)]

    pids = spawn_pool.starmap_async(write_keys_through_handle, tasks).get(timeout=60)

    assert len(d) == WORKER_TASKS * KEYS_PER_TASK
    for worker in range(WORKER_TASKS):
        for i in range(KEYS_PER_TASK):
            key = ("from_worker", f"w{worker}", f"k{i}")
            assert d[key] == {"worker": worker, "i": i}
    assert multiprocessing.current_process().pid not in pids


@pytest.mark.timeout(120)
def test_pool_worker_reads_parent_keys(spawn_pool, tmp_path):
    d = FileDirDict(base_dir=str(tmp_path / "store"), fsync=False)
    keys = [("from_parent", f"k{i}") for i in range(10)]
    for i, key in enumerate(keys):
        d[key] = {"parent_value": i, "blob": bytes([i]) * 1000}

    tasks = [(d, key) for key in keys]
    values = spawn_pool.starmap_async(read_key_through_handle, tasks).get(timeout=60)

    assert values == [d[key] for key in keys]


@pytest.mark.timeout(120)
def test_pool_writes_through_subdict(spawn_pool, tmp_path):
    d = FileDirDict(base_dir=str(tmp_path / "store"), fsync=False)
    sub = d.get_subdict(["outer"])
    spawn_pool.starmap_async(write_keys_through_handle, [(sub, 7, 3)]).get(timeout=60)
    assert d["outer", "from_worker", "w7", "k2"] == {"worker": 7, "i": 2}


@pytest.mark.timeout(120)
def test_pool_worker_sees_later_writes(spawn_pool, tmp_path):
    d = FileDirDict(base_dir=str(tmp_path / "store"), fsync=False)
    d["k"] = "first"
    read = spawn_pool.apply_async(read_key_through_handle, (d, ("k",)))
    assert read.get(timeout=60) == "first"
    d["k"] = "second"
    read = spawn_pool.apply_async(read_key_through_handle, (d, ("k",)))
    assert read.get(timeout=60) == "second"
