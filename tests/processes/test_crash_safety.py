"""A writer killed with SIGKILL at random moments never leaves a torn or
half-visible item behind."""

from __future__ import annotations

import os
import random
import signal
import time

import pytest

from persidict import FileDirDict
from tests.processes.process_workers import find_value_problem, write_until_killed

KILL_COUNT = 25
KEYS = [("k0",), ("k1",), ("nested", "k2"), ("nested", "deeper", "k3")]


def count_files(base_dir: str) -> int:
    return sum(len(files) for _, _, files in os.walk(base_dir))


@pytest.mark.timeout(120)
@pytest.mark.parametrize("fsync", [True, False], ids=["fsync", "no-fsync"])
def test_killed_writer_leaves_whole_values(fork_group, tmp_path, fsync):
    d = FileDirDict(base_dir=str(tmp_path / "store"), fsync=fsync)
    params = d.get_params()
    rng = random.Random(20240501)

    for writer in range(KILL_COUNT):
        started = fork_group.context.Event()
        process = fork_group.start(write_until_killed, params, KEYS, writer, started)
        assert started.wait(30), f"writer {writer} did not start in 30 s"

        time.sleep(rng.uniform(0.005, 0.150))
        os.kill(process.pid, signal.SIGKILL)
        process.join(30)
        assert process.exitcode == -signal.SIGKILL

        listed = list(d.keys())
        assert len(listed) == len(set(listed)), f"duplicate keys: {listed}"
        assert set(listed) <= set(KEYS), f"unexpected keys: {listed}"
        for key in listed:
            value = d[key]
            assert find_value_problem(value) is None, find_value_problem(value)
            assert value["writer"] <= writer
        assert len(dict(d.items())) == len(listed)

    # Each leftover file that is not an item is the temporary file of a write
    # that a kill interrupted. Without one, no kill landed inside a write.
    leftovers = count_files(d.base_dir) - len(d)
    assert leftovers >= 1, "no kill landed inside a write"
    assert len(d) == len(KEYS)
