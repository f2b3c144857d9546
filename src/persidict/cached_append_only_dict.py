"""``AppendOnlyDictCached``: a read cache for a dict whose items never change."""

from __future__ import annotations

from typing import Any, Self, TypeVar

from ._layer import Layer, check_is_dict
from .base import ETagMismatch, PersiDict
from .errors import MutationPolicyError
from .flags import ITEM_NOT_AVAILABLE, ETagIfExists, ETagValue
from .keys import NonEmptySafeStrTuple

__all__ = ["AppendOnlyDictCached", "CachedAppendOnlyDict"]

V = TypeVar("V")


class AppendOnlyDictCached(Layer[V]):
    """Serve reads from ``data_cache`` without asking the main dict.

    ``main_dict`` must be append-only: a value, once written, never changes,
    so a value found in the cache is current by construction and a cached
    read makes no call to ``main_dict``. A miss reads ``main_dict`` and fills
    the cache. Writes go to ``main_dict`` first, then to the cache.
    ``len``, iteration, timestamps and ETags ask ``main_dict``.
    """

    def __init__(self, *, main_dict: PersiDict[V], data_cache: PersiDict[V]) -> None:
        check_is_dict("main_dict", main_dict)
        check_is_dict("data_cache", data_cache)
        if not main_dict.append_only:
            raise ValueError(
                "AppendOnlyDictCached trusts its cache without asking the main "
                "dict, which is only correct when items never change: create "
                "main_dict with append_only=True, or use MutableDictCached"
            )
        super().__init__(main_dict)
        self._data_cache = data_cache

    @property
    def main_dict(self) -> PersiDict[V]:
        return self._main

    @property
    def data_cache(self) -> PersiDict[V]:
        return self._data_cache

    def get_params(self) -> dict[str, Any]:
        return {"main_dict": self._main, "data_cache": self._data_cache}

    def _fill(self, key: NonEmptySafeStrTuple, value: V) -> None:
        # Another process may fill the same entry at the same time; both
        # write the same value, so losing that race is harmless.
        expected = ITEM_NOT_AVAILABLE if self._data_cache.append_only else None
        try:
            self._data_cache._put(key, value, expected)
        except ETagMismatch:
            pass

    # ------------------------------------------------------------ primitives

    def _get(self, key: NonEmptySafeStrTuple) -> V:
        try:
            return self._data_cache._get(key)
        except KeyError:
            pass
        value = self._main._get(key)
        self._fill(key, value)
        return value

    def _get_with_etag(self, key: NonEmptySafeStrTuple) -> tuple[V, ETagValue]:
        etag = self._main._stat(key).etag
        return self._get(key), etag

    def _get_if_changed(
        self, key: NonEmptySafeStrTuple, etag: ETagValue
    ) -> tuple[V, ETagValue] | None:
        current = self._main._stat(key).etag
        return None if current == etag else (self._get(key), current)

    def _contains(self, key: NonEmptySafeStrTuple) -> bool:
        return self._data_cache._contains(key) or self._main._contains(key)

    def _put(
        self, key: NonEmptySafeStrTuple, value: V, expected: ETagIfExists | None
    ) -> ETagValue:
        etag = self._main._put(key, value, expected)
        self._fill(key, value)
        return etag

    def _remove(self, key: NonEmptySafeStrTuple, expected: ETagValue | None) -> bool:
        raise MutationPolicyError(
            "append-only",
            f"cannot delete key {key!r} from an append-only dict",
            key=key,
        )

    def _child(self, prefix: NonEmptySafeStrTuple) -> Self:
        return type(self)(
            main_dict=self._main._child(prefix),
            data_cache=self._data_cache._child(prefix),
        )


CachedAppendOnlyDict = AppendOnlyDictCached
