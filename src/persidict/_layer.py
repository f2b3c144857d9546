"""The base of the layers: dicts that hold the dict they extend."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from .base import ItemInfo, PersiDict
from .keys import NonEmptySafeStrTuple

V = TypeVar("V")


def check_is_dict(name: str, value: Any) -> None:
    """Raise ``TypeError`` unless ``value`` is a ``PersiDict``."""
    if not isinstance(value, PersiDict):
        raise TypeError(
            f"{name} must be a PersiDict, got {type(value).__name__}: {value!r}"
        )


def inherited_params(inner: PersiDict[Any]) -> dict[str, Any]:
    """Return the base parameters a layer takes over from the dict it wraps."""
    return {
        "serialization_format": inner.serialization_format,
        "append_only": inner.append_only,
        "base_class_for_values": inner.base_class_for_values,
    }


class Layer(PersiDict[V]):
    """A ``PersiDict`` over the dict in ``self._main``.

    It takes the format, the append-only flag and the value class of that
    dict, and forwards to it the primitives that concern keys rather than
    values: stat, listing, counting, membership and the transform lock.
    A layer overrides those it serves differently.
    """

    def __init__(self, main: PersiDict[V]) -> None:
        super().__init__(**inherited_params(main))
        self._main = main

    def _stat(self, key: NonEmptySafeStrTuple) -> ItemInfo:
        return self._main._stat(key)

    def _contains(self, key: NonEmptySafeStrTuple) -> bool:
        return self._main._contains(key)

    def _count(self) -> int:
        return self._main._count()

    def _scan(
        self, with_info: bool
    ) -> Iterator[tuple[NonEmptySafeStrTuple, ItemInfo | None]]:
        return self._main._scan(with_info)

    def _subdict_names(self) -> set[str]:
        return self._main._subdict_names()

    def _exclusive(self, key: NonEmptySafeStrTuple) -> AbstractContextManager[Any]:
        return self._main._exclusive(key)
