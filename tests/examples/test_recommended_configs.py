"""End-to-end jobs on the configurations that README.md recommends.

Each test runs a small job the way separate programs would: worker
processes open the store from its location, as another program or machine
does, and the test checks what they leave behind through a handle of its
own. Reads are counted on the main dict to show what each cache saves.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from persidict import (
    BasicS3Dict,
    CachedAppendOnlyDict,
    CachedMutableDict,
    FileDirDict,
    LocalDict,
    MutationPolicyError,
    NonEmptySafeStrTuple,
    OverlappingMultiDict,
    PersiDict,
    S3Dict,
    WriteOnceDict,
)
from persidict.flags import ETagValue

V = TypeVar("V")

# Spawned workers start from a clean interpreter, like another program, and
# avoid forking a process that runs boto3's threads.
SPAWN = multiprocessing.get_context("spawn")

# Seconds a worker may take, process start included.
WORKER_TIMEOUT = 120

# Seconds between submitting the workers and their common start, long enough
# for both spawned interpreters to import persidict, so that they overlap.
START_DELAY = 3.0


def run_workers(
    function: Callable[..., Any], *arg_tuples: tuple[Any, ...]
) -> list[Any]:
    """Run ``function(*args)`` for each tuple, each in its own process, and
    return the results in the same order."""
    with ProcessPoolExecutor(max_workers=len(arg_tuples), mp_context=SPAWN) as pool:
        futures = [pool.submit(function, *args) for args in arg_tuples]
        return [future.result(timeout=WORKER_TIMEOUT) for future in futures]


def wait_until(start_at: float) -> None:
    time.sleep(max(0.0, start_at - time.time()))


class CountingFileDirDict(FileDirDict[V]):
    """A ``FileDirDict`` that counts the files it reads."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.file_reads = 0

    def _read_bytes(self, key: NonEmptySafeStrTuple) -> tuple[bytes, ETagValue]:
        self.file_reads += 1
        return super()._read_bytes(key)


def in_memory_caches() -> dict[str, PersiDict[Any]]:
    return {
        "data_cache": LocalDict(),
        "etag_cache": LocalDict(serialization_format="txt", base_class_for_values=str),
    }


def file_caches(cache_dir: Path) -> dict[str, PersiDict[Any]]:
    return {
        "data_cache": FileDirDict(base_dir=cache_dir, fsync=False),
        "etag_cache": FileDirDict(
            base_dir=cache_dir,
            serialization_format="etag",
            base_class_for_values=str,
            fsync=False,
        ),
    }


def compute_square(n: int) -> dict[str, int]:
    return {"n": n, "square": n * n}


def square_key(n: int) -> tuple[str, str]:
    return ("squares", f"{n:04d}")


def get_or_compute(results: PersiDict[Any], n: int) -> tuple[Any, bool]:
    """Return the stored result for ``n``, computing and storing it if missing,
    and whether it was computed."""
    try:
        return results[square_key(n)], False
    except KeyError:
        pass
    value = compute_square(n)
    results[square_key(n)] = value
    return value, True


# ------------------------------------------------ CachedMutableDict over files


def open_file_results(root: Path, cache_kind: str) -> CachedMutableDict[Any]:
    """Open the shared results over ``root/results``, with this process's
    memory caches or the machine's disk cache in ``root/cache``."""
    caches = (
        in_memory_caches() if cache_kind == "memory" else file_caches(root / "cache")
    )
    return CachedMutableDict(
        main_dict=CountingFileDirDict(base_dir=root / "results"), **caches
    )


def compute_file_results(
    root: str, cache_kind: str, numbers: list[int], start_at: float
) -> int:
    results = open_file_results(Path(root), cache_kind)
    wait_until(start_at)
    return sum(get_or_compute(results, n)[1] for n in numbers)


def overwrite_file_result(root: str, cache_kind: str, n: int, value: Any) -> None:
    results = open_file_results(Path(root), cache_kind)
    if value is None:
        del results[square_key(n)]
    else:
        results[square_key(n)] = value


@pytest.mark.parametrize("cache_kind", ["memory", "disk"])
def test_cached_file_dir_dict_shares_results(tmp_path: Path, cache_kind: str) -> None:
    start_at = time.time() + START_DELAY
    computed = run_workers(
        compute_file_results,
        (str(tmp_path), cache_kind, list(range(0, 30)), start_at),
        (str(tmp_path), cache_kind, list(range(15, 45)), start_at),
    )
    results = open_file_results(tmp_path, cache_kind)
    main = results.main_dict
    assert isinstance(main, CountingFileDirDict)

    # Both workers may compute numbers 15 to 29, and their results agree.
    assert 45 <= sum(computed) <= 60
    assert len(results) == 45
    assert {n: results[square_key(n)] for n in range(45)} == {
        n: compute_square(n) for n in range(45)
    }
    reads_after_first_pass = main.file_reads
    if cache_kind == "memory":
        assert reads_after_first_pass == 45
    else:
        # The workers filled the machine's disk cache. Only a key that both
        # wrote may be read again: when the process that wrote the file first
        # updated the cache last, the cached ETag is not the file's.
        assert reads_after_first_pass <= 15

    for n in range(45):
        assert get_or_compute(results, n) == (compute_square(n), False)
    assert main.file_reads == reads_after_first_pass

    corrected = {"n": 7, "square": 49, "checked": True}
    run_workers(overwrite_file_result, (str(tmp_path), cache_kind, 7, corrected))
    assert results[square_key(7)] == corrected
    if cache_kind == "memory":
        assert main.file_reads == reads_after_first_pass + 1
    else:
        # The writer refreshed the shared disk cache along with the file.
        assert main.file_reads == reads_after_first_pass

    run_workers(overwrite_file_result, (str(tmp_path), cache_kind, 8, None))
    assert square_key(8) not in results
    with pytest.raises(KeyError):
        results[square_key(8)]


# --------------------------------------------------- CachedMutableDict over S3


def open_s3_results(bucket: str, kind: str, cache_dir: Path) -> PersiDict[Any]:
    """Open the shared results in ``bucket`` as one machine would, with its
    own cache: S3Dict's disk cache in ``cache_dir``, or memory caches."""
    if kind == "S3Dict":
        return S3Dict(bucket_name=bucket, root_prefix="results", base_dir=cache_dir)
    main: BasicS3Dict[Any] = BasicS3Dict(
        bucket_name=bucket,
        root_prefix="results",
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
    )
    return CachedMutableDict(main_dict=main, **in_memory_caches())


def compute_s3_results(
    bucket: str, kind: str, cache_dir: str, numbers: list[int]
) -> int:
    results = open_s3_results(bucket, kind, Path(cache_dir))
    return sum(get_or_compute(results, n)[1] for n in numbers)


def read_s3_results(
    bucket: str, kind: str, cache_dir: str, numbers: list[int]
) -> list[Any]:
    results = open_s3_results(bucket, kind, Path(cache_dir))
    return [results[square_key(n)] for n in numbers]


def overwrite_s3_result(
    bucket: str, kind: str, cache_dir: str, n: int, value: Any
) -> None:
    results = open_s3_results(bucket, kind, Path(cache_dir))
    results[square_key(n)] = value


class GetStatuses:
    """The HTTP status of each GetObject request of a boto3 client."""

    def __init__(self, client: Any) -> None:
        self.statuses: list[int] = []
        client.meta.events.register("after-call.s3.GetObject", self._record)

    def _record(self, http_response: Any, **kwargs: Any) -> None:
        self.statuses.append(http_response.status_code)

    def pop_statuses(self) -> list[int]:
        """Return the statuses recorded since the last call, and forget them."""
        statuses, self.statuses = self.statuses, []
        return statuses


@pytest.mark.s3
@pytest.mark.parametrize("kind", ["S3Dict", "BasicS3Dict"])
def test_cached_s3_dict_shares_results(
    s3_bucket: str, tmp_path: Path, kind: str
) -> None:
    computed = run_workers(
        compute_s3_results,
        (s3_bucket, kind, str(tmp_path / "machine-a"), list(range(20))),
    )
    results = open_s3_results(s3_bucket, kind, tmp_path / "machine-test")
    main = results.main_dict  # type: ignore[attr-defined]
    gets = GetStatuses(main.client)

    assert computed == [20]
    assert len(results) == 20
    assert [results[square_key(n)] for n in range(20)] == [
        compute_square(n) for n in range(20)
    ]
    assert gets.pop_statuses() == [200] * 20

    # A cached read costs one conditional GET, which returns 304 and no body.
    assert [results[square_key(n)] for n in range(20)] == [
        compute_square(n) for n in range(20)
    ]
    assert gets.pop_statuses() == [304] * 20

    corrected = {"n": 3, "square": 9, "checked": True}
    run_workers(
        overwrite_s3_result,
        (s3_bucket, kind, str(tmp_path / "machine-b"), 3, corrected),
    )
    assert results[square_key(3)] == corrected
    assert gets.pop_statuses() == [200]

    # A bulk update sends its writes concurrently; another machine reads them.
    results.update({square_key(n): compute_square(n) for n in range(20, 60)})
    read_back = run_workers(
        read_s3_results,
        (s3_bucket, kind, str(tmp_path / "machine-b"), list(range(20, 60))),
    )
    assert read_back == [[compute_square(n) for n in range(20, 60)]]
    assert len(results) == 60


# ------------------------------------------------------- CachedAppendOnlyDict


def open_claims(root: Path) -> CachedAppendOnlyDict[Any]:
    main: CountingFileDirDict[Any] = CountingFileDirDict(
        base_dir=root / "claims", serialization_format="json", append_only=True
    )
    return CachedAppendOnlyDict(
        main_dict=main, data_cache=LocalDict(serialization_format="json")
    )


def claim_tasks(root: str, worker: str, task_count: int, start_at: float) -> list[int]:
    """Claim every free task and log each claim. Return the tasks won."""
    claims = open_claims(Path(root))
    wait_until(start_at)
    won: list[int] = []
    for task in range(task_count):
        try:
            claims["tasks", f"task-{task:03d}"] = {"worker": worker}
        except MutationPolicyError:
            continue
        won.append(task)
        claims["log", worker, f"{len(won):06d}"] = {"claimed": task}
    return won


def test_cached_append_only_dict_claims_tasks(tmp_path: Path) -> None:
    start_at = time.time() + START_DELAY
    won_by_a, won_by_b = run_workers(
        claim_tasks,
        (str(tmp_path), "worker-a", 100, start_at),
        (str(tmp_path), "worker-b", 100, start_at),
    )
    claims = open_claims(tmp_path)
    main = claims.main_dict
    assert isinstance(main, CountingFileDirDict)

    # Insert-if-absent: every task has exactly one owner.
    assert sorted(won_by_a + won_by_b) == list(range(100))
    owners = {
        task: claims["tasks", f"task-{task:03d}"]["worker"] for task in range(100)
    }
    assert {task for task, owner in owners.items() if owner == "worker-a"} == set(
        won_by_a
    )
    log_of_a = claims.get_subdict(("log", "worker-a"))
    # Keys are not orderable, so the log is sorted by their strings.
    log_entries = sorted(log_of_a.items(), key=lambda item: item[0].strings)
    assert [value["claimed"] for _, value in log_entries] == won_by_a
    assert len(claims) == 100 + len(won_by_a) + len(won_by_b)

    # Cached values are trusted without asking the main dict.
    reads = main.file_reads
    for task in range(100):
        assert claims["tasks", f"task-{task:03d}"] == {"worker": owners[task]}
    assert main.file_reads == reads

    with pytest.raises(MutationPolicyError):
        claims["tasks", "task-000"] = {"worker": "worker-c"}
    with pytest.raises(MutationPolicyError):
        del claims["tasks", "task-000"]
    assert claims["tasks", "task-000"] == {"worker": owners[0]}


# -------------------------------------------------------------- WriteOnceDict


def open_blobs(root: Path, p_consistency_checks: float) -> WriteOnceDict[bytes]:
    return WriteOnceDict(
        wrapped_dict=FileDirDict(base_dir=root / "blobs", append_only=True),
        p_consistency_checks=p_consistency_checks,
    )


def blob_key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def store_blobs(root: str, blobs: list[bytes], start_at: float) -> list[str]:
    store = open_blobs(Path(root), p_consistency_checks=1.0)
    wait_until(start_at)
    keys = []
    for data in blobs:
        key = blob_key(data)
        store[key] = data
        keys.append(key)
    return keys


def test_write_once_dict_stores_blobs_once(tmp_path: Path) -> None:
    blobs = [f"blob {index}\n".encode() * (index + 1) for index in range(30)]
    start_at = time.time() + START_DELAY
    keys_a, keys_b = run_workers(
        store_blobs,
        (str(tmp_path), blobs[:20], start_at),
        (str(tmp_path), blobs[10:], start_at),
    )
    store = open_blobs(tmp_path, p_consistency_checks=1.0)

    assert keys_a + keys_b == [blob_key(data) for data in blobs[:20] + blobs[10:]]
    assert len(store) == 30
    for key, data in store.items():
        assert blob_key(data) == key.strings[0]

    etags_before = {key: store.etag(key) for key in store}
    for data in blobs:
        store[blob_key(data)] = data
    assert {key: store.etag(key) for key in store} == etags_before
    assert store.consistency_checks_passed == 30
    assert store.consistency_checks_failed == 0

    with pytest.raises(MutationPolicyError):
        store[blob_key(blobs[0])] = b"other bytes under the same hash"
    assert store[blob_key(blobs[0])] == blobs[0]
    with pytest.raises(MutationPolicyError):
        del store[blob_key(blobs[0])]


# ------------------------------------------------------- OverlappingMultiDict


def open_runs(root: Path) -> OverlappingMultiDict:
    return OverlappingMultiDict(
        dict_type=FileDirDict,
        shared_subdicts_params={"base_dir": root / "runs"},
        json={},
        pkl={},
    )


def train_runs(runs: OverlappingMultiDict) -> int:
    """Read each run's parameters from JSON and write its results as pickles."""
    for key, params in runs.json.items():
        loss = 1.0 / (params["epochs"] * params["learning_rate"])
        runs.pkl[key] = {
            "finished": datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.UTC),
            "loss_and_epochs": (loss, params["epochs"]),
            "tags": {"baseline", f"epochs-{params['epochs']}"},
        }
    return len(runs.pkl)


def test_overlapping_multi_dict_keeps_formats_apart(tmp_path: Path) -> None:
    runs = open_runs(tmp_path)
    all_params = {
        f"run-{n}": {"learning_rate": 0.01 * n, "epochs": 10 * n} for n in (1, 2, 3)
    }
    for name, params in all_params.items():
        runs.json[name] = params

    # The handle pickles as a reference to the folder, not its contents.
    assert run_workers(train_runs, (runs,)) == [3]

    # The JSON files can be read by any tool, next to the pickles.
    json_files = sorted((tmp_path / "runs").glob("*.json"))
    assert [json.loads(path.read_text()) for path in json_files] == list(
        all_params.values()
    )
    assert len(list((tmp_path / "runs").glob("*.pkl"))) == 3

    result = runs.pkl["run-2"]
    assert result["loss_and_epochs"] == (1.0 / (20 * 0.02), 20)
    assert result["tags"] == {"baseline", "epochs-20"}
    assert result["finished"].tzinfo is datetime.UTC
    assert set(runs.json) == set(runs.pkl)

    runs.json.clear()
    assert len(runs.json) == 0
    assert len(runs.pkl) == 3
    with pytest.raises(TypeError):
        runs["run-1"]
