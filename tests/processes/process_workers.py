"""Worker functions run in child processes, and self-verifying test values.

Workers live at module level so that the ``spawn`` start method can import
them in a fresh interpreter. Each worker builds its own ``FileDirDict`` from
``get_params()`` output. Workers that take a ``results`` queue report failures
on it as strings, because an exception in a child reaches the parent only as
an exit code and a traceback on the child's stderr.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import time
from typing import Any

from persidict import (
    ANY_ETAG,
    ETAG_IS_THE_SAME,
    ITEM_NOT_AVAILABLE,
    FileDirDict,
    MutationPolicyError,
)

# Seconds a worker waits at a barrier before it gives up, so that a failed
# sibling makes the others exit instead of hanging.
SYNC_TIMEOUT = 60.0


# ------------------------------------------------------ self-verifying values


def seeded_random_bytes(size: int, seed: int) -> bytes:
    """Return ``size`` pseudo-random bytes, the same for the same seed."""
    return random.Random(seed).randbytes(size)


def seeded_random_text(size: int, seed: int) -> str:
    """Return ``size`` pseudo-random ASCII characters, for JSON bodies."""
    raw = seeded_random_bytes(size * 3 // 4 + 3, seed)
    return base64.b64encode(raw).decode("ascii")[:size]


def make_body(seed_data: bytes | str, index: int, size: int) -> bytes | str:
    """Return ``size`` items of ``seed_data`` rotated by an offset that depends
    on ``index``, so that every write stores different content cheaply."""
    offset = (index * 7919) % len(seed_data)
    rotated = seed_data[offset:] + seed_data[:offset]
    while len(rotated) < size:
        rotated += rotated
    return rotated[:size]


def body_digest(writer: int, index: int, body: bytes | str) -> str:
    hasher = hashlib.sha256(f"{writer}:{index}:{len(body)}:".encode())
    hasher.update(body if isinstance(body, bytes) else body.encode("ascii"))
    return hasher.hexdigest()


def make_value(writer: int, index: int, body: bytes | str) -> dict[str, Any]:
    """Build a value that names its writer and write index and carries the
    SHA-256 of its body, so a reader can tell a complete value from a torn one."""
    return {
        "writer": writer,
        "index": index,
        "size": len(body),
        "sha256": body_digest(writer, index, body),
        "body": body,
    }


def find_value_problem(value: object) -> str | None:
    """Return what is wrong with a value built by ``make_value``, or ``None``."""
    if not isinstance(value, dict):
        return f"value is a {type(value).__name__}, not a dict"
    missing = {"writer", "index", "size", "sha256", "body"} - value.keys()
    if missing:
        return f"value lacks the fields {sorted(missing)}"
    body = value["body"]
    if len(body) != value["size"]:
        return f"body has {len(body)} items, the header says {value['size']}"
    if body_digest(value["writer"], value["index"], body) != value["sha256"]:
        return f"SHA-256 mismatch in write {value['index']} of writer {value['writer']}"
    return None


# --------------------------------------------------------------- crash safety


def write_until_killed(
    params: dict[str, Any], keys: list[tuple[str, ...]], writer: int, started: Any
) -> None:
    """Write 1 MB values to ``keys`` in turn until the parent kills this process."""
    d = FileDirDict(**params)
    seed_data = seeded_random_bytes(1 << 20, writer)
    index = 0
    started.set()
    while True:
        for key in keys:
            d[key] = make_value(writer, index, make_body(seed_data, index, 1 << 20))
            index += 1


# ---------------------------------------------------- many readers, one key


def write_and_read_one_key(
    params: dict[str, Any],
    key: str,
    writer: int,
    seconds: float,
    barrier: Any,
    results: Any,
) -> None:
    """Write and read ``key`` at random for ``seconds`` and report a summary.

    Checks that every read is complete, that a key once seen never raises
    ``KeyError``, and that the writes of each writer are seen in order.
    """
    d = FileDirDict(**params)
    rng = random.Random(writer)
    text = params.get("serialization_format") == "json"
    max_size = 2 << 20
    seed_data = (
        seeded_random_text(max_size, writer)
        if text
        else seeded_random_bytes(max_size, writer)
    )
    summary: dict[str, Any] = {"writes": 0, "reads": 0, "foreign_reads": 0}
    problems: list[str] = []
    key_exists = False
    last_index_seen: dict[int, int] = {}

    barrier.wait(SYNC_TIMEOUT)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and len(problems) < 10:
        if rng.random() < 0.4:
            # Sizes from 1 KB to 2 MB, spread evenly on a log scale.
            size = int(2 ** rng.uniform(10, 21))
            index = summary["writes"]
            value = make_value(writer, index, make_body(seed_data, index, size))
            try:
                d[key] = value
            except Exception as err:
                problems.append(f"write raised {type(err).__name__}: {err}")
                continue
            summary["writes"] += 1
            last_index_seen[writer] = index
            key_exists = True
            continue

        try:
            if rng.random() < 0.5:
                value = d[key]
            else:
                value = d.get_with_etag(key).new_value
                if value is ITEM_NOT_AVAILABLE:
                    raise KeyError(key)
        except KeyError:
            if key_exists:
                problems.append("KeyError after the key existed")
            continue
        except Exception as err:
            problems.append(f"read raised {type(err).__name__}: {err}")
            continue
        key_exists = True
        summary["reads"] += 1

        problem = find_value_problem(value)
        if problem is not None:
            problems.append(f"torn read: {problem}")
            continue
        seen_writer = value["writer"]
        if seen_writer != writer:
            summary["foreign_reads"] += 1
        previous = last_index_seen.get(seen_writer, -1)
        if value["index"] < previous:
            problems.append(
                f"read write {value['index']} of writer {seen_writer} "
                f"after write {previous}"
            )
        last_index_seen[seen_writer] = max(previous, value["index"])

    summary["problems"] = problems
    results.put((writer, summary))


# ------------------------------------------------ deletion during iteration


def delete_at_random(
    params: dict[str, Any],
    keys: list[tuple[str, ...]],
    started: Any,
    pause_every: int,
) -> None:
    """Delete ``keys`` in random order, pausing 1 ms every ``pause_every``."""
    d = FileDirDict(**params)
    order = list(keys)
    random.shuffle(order)
    started.set()
    for count, key in enumerate(order, start=1):
        d.discard(key)
        if count % pause_every == 0:
            time.sleep(0.001)


# ------------------------------------------------------------- insert races


def insert_each_key(
    params: dict[str, Any],
    keys: list[str],
    worker: int,
    barrier: Any,
    results: Any,
) -> None:
    """For each key, wait for all workers, then try to insert our own value."""
    d = FileDirDict(**params)
    for key in keys:
        barrier.wait(SYNC_TIMEOUT)
        try:
            d[key] = {"worker": worker, "key": key}
            outcome = "inserted"
        except MutationPolicyError:
            outcome = "rejected"
        except Exception as err:
            outcome = f"raised {type(err).__name__}: {err}"
        results.put((key, worker, outcome))


def setdefault_each_key(
    params: dict[str, Any],
    keys: list[str],
    worker: int,
    barrier: Any,
    results: Any,
) -> None:
    """For each key, wait for all workers, then call setdefault with our value."""
    d = FileDirDict(**params)
    for key in keys:
        barrier.wait(SYNC_TIMEOUT)
        try:
            returned: Any = d.setdefault(key, {"worker": worker, "key": key})
        except Exception as err:
            returned = f"raised {type(err).__name__}: {err}"
        results.put((key, worker, returned))


def increment(value: Any) -> Any:
    """Transformer for transform_item: add one, starting from 1."""
    if value is ITEM_NOT_AVAILABLE:
        return 1
    return value + 1


def increment_repeatedly(
    params: dict[str, Any], key: str, times: int, barrier: Any, results: Any
) -> None:
    """Increment ``key`` ``times`` times with transform_item and no retry limit."""
    d = FileDirDict(**params)
    barrier.wait(SYNC_TIMEOUT)
    try:
        for _ in range(times):
            d.transform_item(key, transformer=increment, n_retries=None)
        outcome = "done"
    except Exception as err:
        outcome = f"raised {type(err).__name__}: {err}"
    results.put(outcome)


# ---------------------------------------------------------------- handles


def write_keys_through_handle(d: FileDirDict, worker: int, count: int) -> int:
    """Write ``count`` keys under ``("from_worker", worker)`` via a pickled handle."""
    for i in range(count):
        d["from_worker", f"w{worker}", f"k{i}"] = {"worker": worker, "i": i}
    return os.getpid()


def read_key_through_handle(d: FileDirDict, key: tuple[str, ...]) -> Any:
    return d[key]


# ------------------------------------------------------------------ ETags

# Every value written by ``write_same_size_rounds`` pickles to this many bytes.
SAME_SIZE_BODY = 4096


def same_size_value(writer: int, round_index: int) -> bytes:
    header = f"{writer:03d}:{round_index:06d}:".encode()
    return header + make_body(
        seeded_random_bytes(64, writer), round_index, SAME_SIZE_BODY
    )


def write_same_size_rounds(
    params: dict[str, Any],
    key: str,
    writer: int,
    rounds: int,
    barrier: Any,
    results: Any,
) -> None:
    """In each round, write a value of one fixed size as soon as the barrier
    opens, so that the two writers publish as close together as the
    scheduler allows."""
    d = FileDirDict(**params)
    for round_index in range(rounds):
        barrier.wait(SYNC_TIMEOUT)
        result = d.set_item_if(
            key,
            value=same_size_value(writer, round_index),
            condition=ANY_ETAG,
            expected_etag=ITEM_NOT_AVAILABLE,
        )
        results.put((round_index, writer, result.resulting_etag))
        barrier.wait(SYNC_TIMEOUT)


# ---------------------------------- compare-and-swap against plain writes


def swap_until_stopped(
    params: dict[str, Any], key: str, barrier: Any, stop: Any, seconds: float
) -> None:
    """Compare-and-swap ``key`` in a tight loop, keeping its epoch and adding
    one to its count, until ``stop`` is set or ``seconds`` have passed."""
    d = FileDirDict(**params)
    barrier.wait(SYNC_TIMEOUT)
    deadline = time.monotonic() + seconds
    while not stop.is_set() and time.monotonic() < deadline:
        current = d.get_with_etag(key)
        value = current.new_value
        if value is ITEM_NOT_AVAILABLE:
            continue
        d.set_item_if(
            key,
            value={"epoch": value["epoch"], "count": value["count"] + 1},
            condition=ETAG_IS_THE_SAME,
            expected_etag=current.actual_etag,
        )


def write_plainly_and_check(
    params: dict[str, Any],
    key: str,
    delete: bool,
    barrier: Any,
    stop: Any,
    seconds: float,
    results: Any,
) -> None:
    """Write ever newer epochs to ``key`` with plain writes (and, if ``delete``,
    delete each one) and check that no value older than our last write or
    delete shows up again, which only a compare-and-swap against an out-of-date
    ETag could cause. Stops at the first such value."""
    d = FileDirDict(**params)
    barrier.wait(SYNC_TIMEOUT)
    deadline = time.monotonic() + seconds
    epoch = 0
    stale: list[str] = []
    while not stale and time.monotonic() < deadline:
        epoch += 1
        d[key] = {"epoch": epoch, "count": 0}
        if delete:
            # Leave the swappers time to read this value before it goes.
            time.sleep(0.0005)
            d.discard(key)
            seen = d.get(key)
            if seen is not None:
                stale.append(f"deleted epoch {epoch}, then read {seen}")
        else:
            seen = d[key]
            if seen["epoch"] < epoch:
                stale.append(f"wrote epoch {epoch}, then read {seen}")
    stop.set()
    results.put({"epochs": epoch, "stale": stale})
