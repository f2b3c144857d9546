"""Functions that spawned processes run; this module imports only persidict."""

from __future__ import annotations

from typing import Any

from persidict import MutationPolicyError, PersiDict


def insert_in_process(
    d: PersiDict[Any], key: str, value: Any, barrier: Any, results: Any
) -> None:
    """Insert ``key`` into the append-only ``d`` and report the outcome.

    ``d`` arrives pickled, as a handle that this process rebuilds from
    ``get_params()``. Puts ``("won", value)``, ``("rejected", value)`` or
    ``("error", text)`` on ``results``.
    """
    try:
        barrier.wait(timeout=120)
        d[key] = value
    except MutationPolicyError:
        results.put(("rejected", value))
    except Exception as err:
        results.put(("error", f"{type(err).__name__}: {err}"))
    else:
        results.put(("won", value))
