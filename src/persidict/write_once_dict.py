"""``WriteOnceDict``: the first write of a key wins; later writes are ignored."""

from __future__ import annotations

import random
import threading
from typing import Any, Self, TypeVar

from ._layer import Layer, check_is_dict
from .base import ETagMismatch, PersiDict
from .errors import MutationPolicyError
from .file_dir_dict import FileDirDict
from .flags import ITEM_NOT_AVAILABLE, ETagIfExists, ETagValue
from .keys import NonEmptySafeStrTuple

__all__ = ["WriteOnceDict"]

V = TypeVar("V")


class WriteOnceDict(Layer[V]):
    """An append-only dict where writing an existing key is not an error.

    Made for content addressing, where the key is derived from the value and
    every writer of a key writes the same value: the first write is stored,
    later ones are dropped. With probability ``p_consistency_checks`` a
    dropped write is compared with the stored value, and a mismatch raises
    ``MutationPolicyError`` (policy ``"write-once"``). The counters of checks
    are per handle and thread-safe.
    """

    def __init__(
        self,
        *,
        wrapped_dict: PersiDict[V] | None = None,
        p_consistency_checks: float | None = None,
    ) -> None:
        if wrapped_dict is None:
            wrapped_dict = FileDirDict(append_only=True)
        check_is_dict("wrapped_dict", wrapped_dict)
        if not wrapped_dict.append_only:
            raise ValueError(
                "wrapped_dict must be append-only: create it with append_only=True"
            )
        if p_consistency_checks is None:
            p_consistency_checks = 0.0
        if isinstance(p_consistency_checks, bool) or not isinstance(
            p_consistency_checks, (int, float)
        ):
            raise TypeError(
                "p_consistency_checks must be a number from 0 to 1 or None, "
                f"got {p_consistency_checks!r}"
            )
        if not 0.0 <= p_consistency_checks <= 1.0:
            raise ValueError(
                "p_consistency_checks is a probability and must be from 0 to 1, "
                f"got {p_consistency_checks!r}"
            )
        super().__init__(wrapped_dict)
        self._p_checks = float(p_consistency_checks)
        self._lock = threading.Lock()
        self._checks_passed = 0
        self._checks_failed = 0

    @property
    def wrapped_dict(self) -> PersiDict[V]:
        return self._main

    @property
    def p_consistency_checks(self) -> float:
        return self._p_checks

    @property
    def consistency_checks_attempted(self) -> int:
        return self._checks_passed + self._checks_failed

    @property
    def consistency_checks_passed(self) -> int:
        return self._checks_passed

    @property
    def consistency_checks_failed(self) -> int:
        return self._checks_failed

    def get_params(self) -> dict[str, Any]:
        return {"wrapped_dict": self._main, "p_consistency_checks": self._p_checks}

    def _check_consistency(self, key: NonEmptySafeStrTuple, value: V) -> None:
        try:
            stored = self._main._get(key)
        except KeyError:
            return
        same = _equal(stored, value)
        with self._lock:
            if same:
                self._checks_passed += 1
            else:
                self._checks_failed += 1
        if not same:
            raise MutationPolicyError(
                "write-once",
                f"key {key!r} already holds a different value, and a write-once "
                "dict keeps the first one; a content-addressed key should "
                "always get the same value",
                key=key,
            )

    # ------------------------------------------------------------ primitives

    def _insert_new(self, key: NonEmptySafeStrTuple, value: Any) -> ETagValue:
        # Called by d[k] = v: the first write wins and a later one is
        # dropped. The conditional operations and setdefault go through the
        # strict _put instead, so they still see an existing key.
        try:
            return self._main._put(key, value, ITEM_NOT_AVAILABLE)
        except ETagMismatch:
            pass
        if self._p_checks > 0 and random.random() < self._p_checks:
            self._check_consistency(key, value)
        return self._main._stat(key).etag

    def _put(
        self, key: NonEmptySafeStrTuple, value: V, expected: ETagIfExists | None
    ) -> ETagValue:
        return self._main._put(key, value, expected)

    def _get_with_etag(self, key: NonEmptySafeStrTuple) -> tuple[V, ETagValue]:
        return self._main._get_with_etag(key)

    def _get(self, key: NonEmptySafeStrTuple) -> V:
        return self._main._get(key)

    def _get_if_changed(
        self, key: NonEmptySafeStrTuple, etag: ETagValue
    ) -> tuple[V, ETagValue] | None:
        return self._main._get_if_changed(key, etag)

    def _remove(self, key: NonEmptySafeStrTuple, expected: ETagValue | None) -> bool:
        raise MutationPolicyError(
            "write-once", f"cannot delete key {key!r} from a write-once dict", key=key
        )

    def _child(self, prefix: NonEmptySafeStrTuple) -> Self:
        return type(self)(
            wrapped_dict=self._main._child(prefix),
            p_consistency_checks=self._p_checks,
        )


def _equal(stored: Any, new: Any) -> bool:
    """Compare two values, falling back to their pickles for types whose
    ``==`` is not a plain bool (NumPy arrays, for one)."""
    try:
        result = stored == new
        if isinstance(result, bool):
            return result
    except Exception:
        pass
    import pickle

    return pickle.dumps(stored, protocol=5) == pickle.dumps(new, protocol=5)
