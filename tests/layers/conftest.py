"""The counting wrapper that pins how many calls a layer makes to its main dict."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any, Self

import pytest

from persidict import PersiDict
from persidict.base import ItemInfo
from persidict.flags import ETagIfExists, ETagValue
from persidict.keys import NonEmptySafeStrTuple

PRIMITIVES = (
    "_get",
    "_get_with_etag",
    "_get_if_changed",
    "_stat",
    "_put",
    "_remove",
    "_scan",
    "_contains",
    "_count",
)


class CountingDict(PersiDict[Any]):
    """A PersiDict that forwards every primitive to ``inner`` and counts it.

    ``calls`` maps a primitive's name to the number of calls; ``reset()``
    starts a new count.
    """

    def __init__(self, *, inner: PersiDict[Any]) -> None:
        super().__init__(
            serialization_format=inner.serialization_format,
            append_only=inner.append_only,
            base_class_for_values=inner.base_class_for_values,
        )
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def reset(self) -> None:
        self.calls.clear()

    def get_params(self) -> dict[str, Any]:
        return {"inner": self.inner}

    def _get(self, key: NonEmptySafeStrTuple) -> Any:
        self.calls["_get"] += 1
        return self.inner._get(key)

    def _get_with_etag(self, key: NonEmptySafeStrTuple) -> tuple[Any, ETagValue]:
        self.calls["_get_with_etag"] += 1
        return self.inner._get_with_etag(key)

    def _get_if_changed(
        self, key: NonEmptySafeStrTuple, etag: ETagValue
    ) -> tuple[Any, ETagValue] | None:
        self.calls["_get_if_changed"] += 1
        return self.inner._get_if_changed(key, etag)

    def _stat(self, key: NonEmptySafeStrTuple) -> ItemInfo:
        self.calls["_stat"] += 1
        return self.inner._stat(key)

    def _put(
        self, key: NonEmptySafeStrTuple, value: Any, expected: ETagIfExists | None
    ) -> ETagValue:
        self.calls["_put"] += 1
        return self.inner._put(key, value, expected)

    def _remove(self, key: NonEmptySafeStrTuple, expected: ETagValue | None) -> bool:
        self.calls["_remove"] += 1
        return self.inner._remove(key, expected)

    def _scan(
        self, with_info: bool
    ) -> Iterator[tuple[NonEmptySafeStrTuple, ItemInfo | None]]:
        self.calls["_scan"] += 1
        return self.inner._scan(with_info)

    def _contains(self, key: NonEmptySafeStrTuple) -> bool:
        self.calls["_contains"] += 1
        return self.inner._contains(key)

    def _count(self) -> int:
        self.calls["_count"] += 1
        return self.inner._count()

    def _exclusive(self, key: NonEmptySafeStrTuple) -> AbstractContextManager[Any]:
        return self.inner._exclusive(key)

    def _child(self, prefix: NonEmptySafeStrTuple) -> Self:
        return type(self)(inner=self.inner._child(prefix))


@pytest.fixture
def counting() -> Callable[[PersiDict[Any]], CountingDict]:
    """Wrap a dict in a CountingDict, to count the calls a layer makes to it."""
    return lambda inner: CountingDict(inner=inner)
