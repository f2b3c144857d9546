"""Compare-and-swap in some processes while others write or delete plainly.

A compare-and-swap must not overwrite a value that it did not compare
against: once a plain write or delete has returned, no value derived from an
older one may appear. That holds only if the check and the write of a
conditional operation are one atomic step for every writer of the key.
"""

from __future__ import annotations

import pytest

from persidict import FileDirDict
from tests.processes.process_workers import swap_until_stopped, write_plainly_and_check

SWAPPERS = 2


def race_plain_writer(group, tmp_path, delete: bool, seconds: float) -> dict:
    d = FileDirDict(base_dir=str(tmp_path / "store"), fsync=False)
    d["k"] = {"epoch": 0, "count": 0}
    barrier = group.context.Barrier(SWAPPERS + 1)
    stop = group.context.Event()
    results = group.context.Queue()
    for _ in range(SWAPPERS):
        group.start(swap_until_stopped, d.get_params(), "k", barrier, stop, seconds)
    group.start(
        write_plainly_and_check,
        d.get_params(),
        "k",
        delete,
        barrier,
        stop,
        seconds,
        results,
    )
    (summary,) = group.collect(results, 1, timeout=seconds + 60)
    group.join_all(timeout=30)
    return summary


@pytest.mark.timeout(120)
def test_plain_write_not_lost_to_cas(fork_group, tmp_path):
    summary = race_plain_writer(fork_group, tmp_path, delete=False, seconds=4.0)
    assert summary["stale"] == []
    assert summary["epochs"] > 100


@pytest.mark.timeout(120)
def test_plain_delete_not_undone_by_cas(fork_group, tmp_path):
    summary = race_plain_writer(fork_group, tmp_path, delete=True, seconds=6.0)
    assert summary["stale"] == []
    assert summary["epochs"] > 100
