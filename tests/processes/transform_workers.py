"""Workers for the transform_item races: each builds its dict from a spec.

A spec names a backend and, optionally, the cache layer over it, so that
layers whose in-memory caches cannot be pickled still get one dict per
process.
"""

from __future__ import annotations

import os
from typing import Any

from persidict import (
    BasicS3Dict,
    ConcurrencyConflictError,
    FileDirDict,
    LocalDict,
    MutableDictCached,
    PersiDict,
    S3Dict,
)
from persidict._locks import LOCK_FOLDER_VARIABLE
from tests.processes.process_workers import SYNC_TIMEOUT, increment

BACKENDS: dict[str, type[PersiDict[Any]]] = {
    "file": FileDirDict,
    "s3basic": BasicS3Dict,
    "s3": S3Dict,
}


def build_dict(backend: str, params: dict[str, Any], cached: bool) -> PersiDict[Any]:
    """Return a new handle of ``backend``, wrapped in a MutableDictCached with
    in-memory caches of this process when ``cached``."""
    main = BACKENDS[backend](**params)
    if not cached:
        return main
    return MutableDictCached(
        main_dict=main,
        data_cache=LocalDict(),
        etag_cache=LocalDict(serialization_format="txt", base_class_for_values=str),
    )


def transform_repeatedly(
    backend: str,
    params: dict[str, Any],
    cached: bool,
    key: str,
    times: int,
    lock_folder: str | None,
    barrier: Any,
    results: Any,
) -> None:
    """Increment ``key`` ``times`` times with the default retry limit.

    Reports how many calls ran out of retries, how many attempts were
    retries (the transformer runs once per attempt), and the first
    unexpected error. ``lock_folder``, when given, is this process's own
    folder of machine locks, so it races the others as if on another
    machine.
    """
    if lock_folder is not None:
        os.environ[LOCK_FOLDER_VARIABLE] = lock_folder
    d = build_dict(backend, params, cached)
    attempts = 0

    def counted_increment(value: Any) -> Any:
        nonlocal attempts
        attempts += 1
        return increment(value)

    barrier.wait(SYNC_TIMEOUT)
    conflicts = 0
    failure = None
    for _ in range(times):
        try:
            d.transform_item(key, transformer=counted_increment)
        except ConcurrencyConflictError:
            conflicts += 1
        except Exception as err:
            failure = f"{type(err).__name__}: {err}"
            break
    results.put((conflicts, attempts - times, failure))
