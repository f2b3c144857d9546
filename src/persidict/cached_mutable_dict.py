"""``MutableDictCached``: a read cache for a dict whose items can change."""

from __future__ import annotations

from typing import Any, Final, Self, TypeVar

from ._layer import Layer, check_is_dict
from .base import PersiDict
from .flags import ETagIfExists, ETagValue
from .keys import NonEmptySafeStrTuple

__all__ = ["CachedMutableDict", "MutableDictCached"]

V = TypeVar("V")

# An etag-cache entry is "<main ETag><separator><data-cache ETag>". The second
# half proves the data cache still holds the value read at the first: without
# it, two processes sharing the caches could interleave their two writes and
# leave one's value beside the other's ETag, a stale value served as current.
_SEPARATOR: Final = "\n"

# Cache-entry pairs remembered per handle; the memo is dropped whole when full.
_PAIR_MEMO_SIZE: Final = 65536


class MutableDictCached(Layer[V]):
    """Serve reads from ``data_cache`` while the main dict's ETag is unchanged.

    A read asks ``main_dict`` only whether the cached ETag is still current
    (one ``stat`` on a ``FileDirDict``, one conditional GET answered 304 on
    S3) and reads the value from the cache when it is. Writes and deletes go
    to ``main_dict`` first, then to both caches. ``in``, ``len``, iteration,
    timestamps and ETags ask ``main_dict``. Thread- and process-safety are
    those of the three dicts; the caches may be shared between processes.
    """

    def __init__(
        self,
        *,
        main_dict: PersiDict[V],
        data_cache: PersiDict[V],
        etag_cache: PersiDict[str],
    ) -> None:
        check_is_dict("main_dict", main_dict)
        check_is_dict("data_cache", data_cache)
        check_is_dict("etag_cache", etag_cache)
        for name, cache in (("data_cache", data_cache), ("etag_cache", etag_cache)):
            if cache.append_only:
                raise ValueError(
                    f"{name} must not be append-only: the cache overwrites "
                    "entries whenever the main dict changes"
                )
        super().__init__(main_dict)
        self._data_cache = data_cache
        self._etag_cache = etag_cache
        self._pairs: dict[tuple[str, ...], tuple[str, str]] = {}

    @property
    def main_dict(self) -> PersiDict[V]:
        return self._main

    @property
    def data_cache(self) -> PersiDict[V]:
        return self._data_cache

    @property
    def etag_cache(self) -> PersiDict[str]:
        return self._etag_cache

    def get_params(self) -> dict[str, Any]:
        return {
            "main_dict": self._main,
            "data_cache": self._data_cache,
            "etag_cache": self._etag_cache,
        }

    # ------------------------------------------------------------- the cache

    def _cached(self, key: NonEmptySafeStrTuple) -> tuple[V, ETagValue] | None:
        """Return the cached value and the main ETag it was read at, if the
        two cache entries still belong together."""
        # The pair this handle last wrote or checked spares a read of the
        # etag cache. When another process has changed the caches since,
        # the data cache's ETag no longer matches it, and the etag cache is
        # read after all.
        memo = self._pairs.get(key.strings)
        try:
            value, data_etag = self._data_cache._get_with_etag(key)
            if memo is not None and memo[1] == data_etag:
                return value, ETagValue(memo[0])
            entry = self._etag_cache._get(key)
        except (KeyError, AttributeError, TypeError):
            self._pairs.pop(key.strings, None)
            return None
        main_etag, _, entry_data_etag = entry.partition(_SEPARATOR)
        if entry_data_etag != data_etag:
            self._pairs.pop(key.strings, None)
            return None
        self._note_pair(key, (main_etag, data_etag))
        return value, ETagValue(main_etag)

    def _note_pair(self, key: NonEmptySafeStrTuple, pair: tuple[str, str]) -> None:
        if len(self._pairs) >= _PAIR_MEMO_SIZE:
            self._pairs.clear()
        self._pairs[key.strings] = pair

    def _remember(
        self, key: NonEmptySafeStrTuple, value: V, main_etag: ETagValue
    ) -> None:
        # The data goes first: an etag entry never points at data written
        # after it, and a crash in between leaves an entry that fails to match.
        data_etag = self._data_cache._put(key, value, None)
        self._etag_cache._put(key, f"{main_etag}{_SEPARATOR}{data_etag}", None)
        self._note_pair(key, (main_etag, data_etag))

    def _forget(self, key: NonEmptySafeStrTuple) -> None:
        self._pairs.pop(key.strings, None)
        self._etag_cache._remove(key, None)
        self._data_cache._remove(key, None)

    # ------------------------------------------------------------ primitives

    def _get_with_etag(self, key: NonEmptySafeStrTuple) -> tuple[V, ETagValue]:
        cached = self._cached(key)
        if cached is not None:
            value, etag = cached
            try:
                fresh = self._main._get_if_changed(key, etag)
            except KeyError:
                self._forget(key)
                raise
            if fresh is None:
                return value, etag
        else:
            fresh = self._main._get_with_etag(key)
        self._remember(key, *fresh)
        return fresh

    def _get_if_changed(
        self, key: NonEmptySafeStrTuple, etag: ETagValue
    ) -> tuple[V, ETagValue] | None:
        value, current = self._get_with_etag(key)
        return None if current == etag else (value, current)

    def _put(
        self, key: NonEmptySafeStrTuple, value: V, expected: ETagIfExists | None
    ) -> ETagValue:
        etag = self._main._put(key, value, expected)
        self._remember(key, value, etag)
        return etag

    def _remove(self, key: NonEmptySafeStrTuple, expected: ETagValue | None) -> bool:
        removed = self._main._remove(key, expected)
        self._forget(key)
        return removed

    def _remove_all(self) -> None:
        self._pairs.clear()
        self._main._remove_all()
        self._etag_cache._remove_all()
        self._data_cache._remove_all()

    def _child(self, prefix: NonEmptySafeStrTuple) -> Self:
        return type(self)(
            main_dict=self._main._child(prefix),
            data_cache=self._data_cache._child(prefix),
            etag_cache=self._etag_cache._child(prefix),
        )


CachedMutableDict = MutableDictCached
