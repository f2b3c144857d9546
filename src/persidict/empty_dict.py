"""``EmptyDict``: accepts and validates writes, stores nothing."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Self, TypeVar

from .base import ETagMismatch, ItemInfo, PersiDict
from .flags import ITEM_NOT_AVAILABLE, ETagIfExists, ETagValue
from .keys import NonEmptySafeStrTuple

__all__ = ["EmptyDict"]

V = TypeVar("V")

_write_counter = itertools.count(1)


class EmptyDict(PersiDict[V]):
    """The null device of dicts: always empty, whatever is written to it.

    Writes check their key and value as any dict would and are then dropped;
    reads raise ``KeyError`` and ``discard`` returns ``False``. Useful as a
    placeholder, in tests, or as a cache that never holds anything.
    """

    def _get_with_etag(self, key: NonEmptySafeStrTuple) -> tuple[V, ETagValue]:
        raise KeyError(key)

    def _stat(self, key: NonEmptySafeStrTuple) -> ItemInfo:
        raise KeyError(key)

    def _put(
        self, key: NonEmptySafeStrTuple, value: V, expected: ETagIfExists | None
    ) -> ETagValue:
        # Every key is absent, so only an unconditional write or an
        # insert-if-absent succeeds. Its ETag is never stored.
        if expected is not None and expected is not ITEM_NOT_AVAILABLE:
            raise ETagMismatch(ITEM_NOT_AVAILABLE)
        return ETagValue(f"E{next(_write_counter)}")

    def _remove(self, key: NonEmptySafeStrTuple, expected: ETagValue | None) -> bool:
        if expected is not None:
            raise ETagMismatch(ITEM_NOT_AVAILABLE)
        return False

    def _scan(
        self, with_info: bool
    ) -> Iterator[tuple[NonEmptySafeStrTuple, ItemInfo | None]]:
        return iter(())

    def _child(self, prefix: NonEmptySafeStrTuple) -> Self:
        return self.clone()
