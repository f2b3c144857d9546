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


def strip_conditions(request: Any, **kwargs: Any) -> None:
    """botocore hook: remove the conditional headers before signing, as if
    the server ignored them."""
    for header in ("If-Match", "If-None-Match"):
        if header in request.headers:
            del request.headers[header]


def insert_without_conditions(
    params: dict[str, Any], key: str, value: Any, barrier: Any, results: Any
) -> None:
    """Like ``insert_in_process``, through a BasicS3Dict built from ``params``
    whose conditional headers never reach the server."""
    from persidict import BasicS3Dict

    d = BasicS3Dict(**params)
    d.client.meta.events.register("before-sign.s3", strip_conditions)
    insert_in_process(d, key, value, barrier, results)
