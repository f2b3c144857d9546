"""Eight processes increment one key with transform_item on every backend.

The total must be exact: no lost update, and no call that runs out of its
default six retries. The default run makes 25 calls per process; the runs
marked ``stress`` make 500 (4,000 in all).
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.processes.transform_workers import build_dict, transform_repeatedly

WORKERS = 8
SHORT_CALLS = 25
STRESS_CALLS = 500

_prefixes = itertools.count()

CONFIGURATIONS = [
    pytest.param("file", False, id="file"),
    pytest.param("file", True, id="cached-file"),
    pytest.param("s3basic", False, id="s3basic", marks=pytest.mark.s3),
    pytest.param("s3basic", True, id="cached-s3basic", marks=pytest.mark.s3),
    pytest.param("s3", False, id="s3", marks=pytest.mark.s3),
    pytest.param("s3", True, id="cached-s3", marks=pytest.mark.s3),
]


def store_params(backend: str, tmp_path: Any, request: Any) -> dict[str, Any]:
    if backend == "file":
        return {"base_dir": str(tmp_path / "store"), "fsync": False}
    request.getfixturevalue("s3_server")
    params = {"bucket_name": "transform-races", "root_prefix": f"r{next(_prefixes)}"}
    if backend == "s3":
        params["base_dir"] = str(tmp_path / "s3-cache")
    return params


def run_race(
    fork_group: Any, backend: str, cached: bool, params: dict[str, Any], calls: int
) -> tuple[Any, list[tuple[int, str | None]]]:
    barrier = fork_group.context.Barrier(WORKERS)
    results = fork_group.context.Queue()
    for _ in range(WORKERS):
        fork_group.start(
            transform_repeatedly,
            backend,
            params,
            cached,
            "counter",
            calls,
            barrier,
            results,
        )
    outcomes = fork_group.collect(results, WORKERS, timeout=calls * 4 + 120)
    fork_group.join_all(timeout=60)
    return build_dict(backend, params, cached), outcomes


def check_exact_total(
    d: Any, outcomes: list[tuple[int, str | None]], calls: int
) -> None:
    failures = [failure for _, failure in outcomes if failure]
    conflicts = sum(count for count, _ in outcomes)
    assert failures == []
    assert conflicts == 0, f"{conflicts} calls ran out of retries"
    assert d["counter"] == WORKERS * calls


@pytest.mark.timeout(600)
@pytest.mark.parametrize(("backend", "cached"), CONFIGURATIONS)
def test_transform_race_exact_total(fork_group, tmp_path, request, backend, cached):
    params = store_params(backend, tmp_path, request)

    d, outcomes = run_race(fork_group, backend, cached, params, SHORT_CALLS)

    check_exact_total(d, outcomes, SHORT_CALLS)


@pytest.mark.stress
@pytest.mark.timeout(1800)
@pytest.mark.parametrize(("backend", "cached"), CONFIGURATIONS)
def test_transform_stress_exact_total(fork_group, tmp_path, request, backend, cached):
    params = store_params(backend, tmp_path, request)

    d, outcomes = run_race(fork_group, backend, cached, params, STRESS_CALLS)

    check_exact_total(d, outcomes, STRESS_CALLS)
