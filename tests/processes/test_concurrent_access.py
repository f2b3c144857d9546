"""Readers and writers in separate processes on one FileDirDict."""

from __future__ import annotations

import itertools
import pickle

import pytest

from persidict import ETAG_HAS_CHANGED, FileDirDict
from tests.processes.process_workers import (
    delete_at_random,
    same_size_value,
    write_and_read_one_key,
    write_same_size_rounds,
)

# ------------------------------------------------------------- one key


WORKER_COUNT = 6
HAMMER_SECONDS = 3.0


@pytest.mark.timeout(120)
@pytest.mark.parametrize("serialization_format", ["pkl", "json"])
def test_one_key_never_torn(spawn_group, tmp_path, serialization_format):
    d = FileDirDict(
        base_dir=str(tmp_path / "store"),
        serialization_format=serialization_format,
        fsync=False,
    )
    barrier = spawn_group.context.Barrier(WORKER_COUNT)
    results = spawn_group.context.Queue()
    for writer in range(WORKER_COUNT):
        spawn_group.start(
            write_and_read_one_key,
            d.get_params(),
            "shared",
            writer,
            HAMMER_SECONDS,
            barrier,
            results,
        )

    summaries = dict(spawn_group.collect(results, WORKER_COUNT, timeout=90))
    spawn_group.join_all(timeout=30)

    problems = {w: s["problems"] for w, s in summaries.items() if s["problems"]}
    assert problems == {}
    for writer, summary in summaries.items():
        assert summary["writes"] > 0, f"writer {writer} wrote nothing"
        assert summary["reads"] > 0, f"writer {writer} read nothing"
    assert sum(s["foreign_reads"] for s in summaries.values()) > 0


# ------------------------------------------------ deletion during iteration


KEY_COUNT = 2000


def iterate_once(d: FileDirDict, way: str) -> list:
    """Run one full iteration of ``d`` in the named way and return what it yields."""
    if way == "keys":
        return list(d.keys())
    if way == "values":
        return list(d.values())
    if way == "items":
        return list(d.items())
    if way == "keys_and_timestamps":
        return list(d.keys_and_timestamps())
    if way == "values_and_timestamps":
        return list(d.values_and_timestamps())
    if way == "items_and_timestamps":
        return list(d.items_and_timestamps())
    if way == "newest_keys":
        return d.newest_keys(max_n=10)
    if way == "oldest_values":
        return d.oldest_values()
    if way == "len":
        return [len(d)]
    raise ValueError(f"unknown iteration {way!r}")


ITERATIONS = [
    "items",
    "values",
    "keys_and_timestamps",
    "values_and_timestamps",
    "items_and_timestamps",
    "keys",
    "oldest_values",
    "newest_keys",
    "len",
]


def expected_value(key: tuple[str, ...]) -> str:
    return "value-" + "/".join(key)


@pytest.mark.timeout(120)
def test_deleted_files_skipped_during_iteration(spawn_group, tmp_path):
    d = FileDirDict(base_dir=str(tmp_path / "store"), fsync=False)
    keys = [(f"group{i % 20}", f"k{i}") for i in range(KEY_COUNT)]
    for key in keys:
        d[key] = expected_value(key)
    started = spawn_group.context.Event()
    deleter = spawn_group.start(delete_at_random, d.get_params(), keys, started, 4)
    assert started.wait(30), "the deleting process did not start in 30 s"

    known_keys = set(keys)
    passes: list[tuple[str, int]] = []
    # Iterate until the deleter is done. The last assert checks that at least
    # one full cycle of iteration kinds started while deletions went on.
    for way in itertools.cycle(ITERATIONS):
        result = iterate_once(d, way)
        passes.append((way, len(result)))
        if way in ("items", "items_and_timestamps"):
            for key, value, *_ in result:
                assert value == expected_value(tuple(key))
        if way in ("keys", "newest_keys"):
            assert set(result) <= known_keys
        if way == "keys_and_timestamps":
            assert {key for key, _ in result} <= known_keys
        if not deleter.is_alive() or len(passes) > 2000:
            break
    spawn_group.join_all(timeout=30)

    assert len(d) == 0
    assert len(passes) >= len(ITERATIONS), f"deletion ended too soon: {passes}"


# ------------------------------------------------------------------ ETags


ETAG_ROUNDS = 30


@pytest.mark.timeout(120)
def test_same_size_writes_change_etag(spawn_group, tmp_path):
    d = FileDirDict(base_dir=str(tmp_path / "store"), fsync=False)
    d["k"] = same_size_value(99, 0)
    # Two writers and this process, which reads the ETag before and after.
    barrier = spawn_group.context.Barrier(3)
    results = spawn_group.context.Queue()
    for writer in (0, 1):
        spawn_group.start(
            write_same_size_rounds,
            d.get_params(),
            "k",
            writer,
            ETAG_ROUNDS,
            barrier,
            results,
        )

    all_etags = {d.etag("k")}
    for round_index in range(ETAG_ROUNDS):
        before = d.etag("k")
        barrier.wait(60)
        writes = spawn_group.collect(results, 2, timeout=60)
        barrier.wait(60)
        after = d.etag("k")

        etag_by_writer = {writer: etag for _, writer, etag in writes}
        assert etag_by_writer[0] != etag_by_writer[1]
        assert before not in etag_by_writer.values()
        assert after != before
        assert after in etag_by_writer.values()
        all_etags.update(etag_by_writer.values())

        winner = next(w for w, etag in etag_by_writer.items() if etag == after)
        check = d.get_item_if("k", condition=ETAG_HAS_CHANGED, expected_etag=before)
        assert check.condition_was_satisfied
        assert check.new_value == same_size_value(winner, round_index)
    spawn_group.join_all(timeout=30)

    assert len(all_etags) == 1 + 2 * ETAG_ROUNDS


def test_same_size_values_pickle_alike():
    sizes = {len(pickle.dumps(same_size_value(w, r))) for w in (0, 1) for r in (0, 29)}
    assert len(sizes) == 1
