"""Helpers for the S3 tests: dict variants, object keys, a request recorder
and races between processes."""

from __future__ import annotations

import multiprocessing
import queue
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from persidict import BasicS3Dict, PersiDict, S3Dict

# A nested prefix: the library adds the trailing "/".
ROOT_PREFIX = "team/run-1"


@dataclass(frozen=True)
class S3Variant:
    """One S3 dict configuration: class, serialization format and root prefix."""

    dict_class: type[PersiDict[Any]]
    serialization_format: str
    root_prefix: str

    @property
    def name(self) -> str:
        prefix = "prefix" if self.root_prefix else "noprefix"
        return f"{self.dict_class.__name__}-{self.serialization_format}-{prefix}"

    @property
    def object_prefix(self) -> str:
        """The start of every object key of this dict: ``root_prefix`` and a ``/``."""
        return f"{self.root_prefix}/" if self.root_prefix else ""

    def object_key(self, *components: str) -> str:
        """Return the S3 object key that stores the item with these key components."""
        return (
            self.object_prefix + "/".join(components) + "." + self.serialization_format
        )

    def build(
        self, *, bucket_name: str, cache_dir: Path, **overrides: Any
    ) -> PersiDict[Any]:
        """Return a new handle, with ``cache_dir`` as the ``base_dir`` of an ``S3Dict``."""
        params: dict[str, Any] = {
            "bucket_name": bucket_name,
            "serialization_format": self.serialization_format,
            "root_prefix": self.root_prefix,
        }
        if self.dict_class is S3Dict:
            params["base_dir"] = str(cache_dir)
        params.update(overrides)
        return self.dict_class(**params)


ALL_VARIANTS = [
    S3Variant(dict_class, serialization_format, root_prefix)
    for dict_class in (BasicS3Dict, S3Dict)
    for serialization_format in ("pkl", "json")
    for root_prefix in ("", ROOT_PREFIX)
]

# For slow tests: every pair of values of two factors (class, format, prefix)
# appears in at least one variant.
PAIRWISE_VARIANTS = [
    S3Variant(BasicS3Dict, "pkl", ""),
    S3Variant(BasicS3Dict, "json", ROOT_PREFIX),
    S3Variant(S3Dict, "pkl", ROOT_PREFIX),
    S3Variant(S3Dict, "json", ""),
]

# For the slowest tests: each class, format and prefix setting once.
ONE_PER_CLASS_VARIANTS = [
    S3Variant(BasicS3Dict, "pkl", ROOT_PREFIX),
    S3Variant(S3Dict, "json", ""),
]


def variant_params(variants: list[S3Variant]) -> list[Any]:
    """Return ``pytest.param`` objects, with readable ids, for parametrize."""
    return [pytest.param(variant, id=variant.name) for variant in variants]


def client_of(d: PersiDict[Any]) -> Any:
    """Return the boto3 client that sends the S3 requests of ``d``."""
    if isinstance(d, S3Dict):
        return d.main_dict.client  # type: ignore[attr-defined]
    return d.client  # type: ignore[attr-defined]


# ------------------------------------------------------------- requests


@dataclass
class RecordedCall:
    """One S3 API call: operation name, request headers and outcome."""

    operation: str
    # The request path as botocore serialized it: "/" + the percent-encoded
    # object key, because the endpoint rules add the bucket later.
    url_path: str
    headers: dict[str, str]
    status: int | None = None
    error: Exception | None = None


class RequestRecorder:
    """Record the S3 API calls of one boto3 client through its event hooks.

    ``calls`` has one entry per API call, whatever the retries. The in-flight
    count goes up on each HTTP attempt (``before-send``) and down when its
    response or error arrives (``response-received``), so retries do not
    skew ``max_in_flight``. Use it as a context manager to unhook it.
    """

    def __init__(self, client: Any) -> None:
        self.calls: list[RecordedCall] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._events = client.meta.events
        self._handlers = [
            ("before-call.s3", self._on_before_call),
            ("after-call.s3", self._on_after_call),
            ("after-call-error.s3", self._on_after_call_error),
            ("before-send.s3", self._on_before_send),
            ("response-received.s3", self._on_response_received),
        ]
        for event_name, handler in self._handlers:
            self._events.register(event_name, handler)

    def __enter__(self) -> RequestRecorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for event_name, handler in self._handlers:
            self._events.unregister(event_name, handler)

    def operations(self) -> Counter[str]:
        """Return the number of calls per operation name."""
        with self._lock:
            return Counter(call.operation for call in self.calls)

    def calls_of(self, operation: str) -> list[RecordedCall]:
        with self._lock:
            return [call for call in self.calls if call.operation == operation]

    # Every handler returns None: a value returned from ``before-send`` or
    # ``before-call`` would replace the real response.

    def _on_before_call(self, model: Any, params: Any, context: Any, **_: Any) -> None:
        call = RecordedCall(
            model.name, params.get("url_path", ""), dict(params.get("headers", {}))
        )
        context["persidict_test_call"] = call
        with self._lock:
            self.calls.append(call)

    def _on_after_call(self, http_response: Any, context: Any, **_: Any) -> None:
        call = context.get("persidict_test_call")
        if call is not None:
            call.status = http_response.status_code

    def _on_after_call_error(self, exception: Any, context: Any, **_: Any) -> None:
        call = context.get("persidict_test_call")
        if call is not None:
            call.error = exception

    def _on_before_send(self, **_: Any) -> None:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _on_response_received(self, **_: Any) -> None:
        with self._lock:
            self._in_flight -= 1


def race_in_processes(
    target: Callable[..., None], args: Callable[[int], tuple[Any, ...]], writers: int
) -> list[tuple[str, Any]]:
    """Run ``target(*args(index), barrier, results)`` in ``writers`` spawned
    processes and return what they put on ``results``.

    The list is shorter than ``writers`` when a process reported nothing
    within three minutes. Every process is joined, or killed if it hangs.
    """
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(writers)
    results = context.Queue()
    processes = [
        context.Process(target=target, args=(*args(index), barrier, results))
        for index in range(writers)
    ]
    for process in processes:
        process.start()
    outcomes: list[tuple[str, Any]] = []
    try:
        for _ in range(writers):
            outcomes.append(results.get(timeout=180))
    except queue.Empty:
        pass
    for process in processes:
        process.join(timeout=60)
        if process.is_alive():
            process.kill()
    return outcomes
