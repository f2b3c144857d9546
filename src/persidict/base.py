"""``PersiDict``: the public API, written once on top of a few primitives.

A subclass implements the primitives below on normalised keys. Everything
else lives here: key normalisation, validation, jokers, the append-only
policy, the conditional operations, iteration, sub-dicts, equality and
handles. Backends that store bytes derive from ``StorageDict`` in ``storage.py``;
layers derive from ``PersiDict`` directly and work with values.

Primitives, each on a ``NonEmptySafeStrTuple`` key:

``_get_with_etag(key)``
    the value and its ETag, read consistently; ``KeyError`` if absent.
``_get_if_changed(key, etag)``
    ``None`` if the ETag is still current, else the value and its new ETag.
``_stat(key)``
    the ``ItemInfo`` (ETag and timestamp) without the value.
``_put(key, value, expected)``
    an atomic write. ``expected=None`` writes unconditionally; an ETag or
    ``ITEM_NOT_AVAILABLE`` makes it a compare-and-swap that raises
    ``ETagMismatch`` when the stored ETag differs. Returns the new ETag.
``_remove(key, expected)``
    deletes; ``False`` if absent. With an expected ETag, a conditional delete
    that raises ``ETagMismatch``.
``_scan(with_info)``
    every key, with its ``ItemInfo`` when asked, lazily.
``_child(prefix)``
    the same kind of dict rooted at ``prefix``, for ``get_subdict``.
``get_params()``
    the constructor arguments that rebuild an equivalent handle.
"""

from __future__ import annotations

import heapq
import logging
import random
import time
from abc import abstractmethod
from collections.abc import (
    Callable,
    ItemsView,
    Iterable,
    Iterator,
    KeysView,
    Mapping,
    MutableMapping,
    ValuesView,
)
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Generic, NamedTuple, Self, TypeVar, overload

from .errors import ConcurrencyConflictError, MutationPolicyError
from .flags import (
    ALWAYS_RETRIEVE,
    ANY_ETAG,
    DELETE_CURRENT,
    ETAG_HAS_CHANGED,
    ETAG_IS_THE_SAME,
    IF_ETAG_CHANGED,
    ITEM_NOT_AVAILABLE,
    KEEP_CURRENT,
    NEVER_RETRIEVE,
    VALUE_NOT_RETRIEVED,
    ConditionalOperationResult,
    ETagConditionFlag,
    ETagIfExists,
    ETagValue,
    ItemNotAvailableFlag,
    Joker,
    OperationResult,
    RetrieveValueFlag,
    TransformingFunction,
)
from .keys import (
    NonEmptySafeStrTuple,
    is_safe_component,
    normalize_key,
    normalize_prefix,
)

__all__ = ["ETagMismatch", "ItemInfo", "PersiDict"]

logger = logging.getLogger(__name__)

V = TypeVar("V")
_T = TypeVar("_T")

# Attempts of an ETAG_HAS_CHANGED write or delete, which must pin the ETag
# it saw before writing, before giving up under constant contention.
_PIN_ATTEMPTS = 20

# Bounds, in seconds, of the pauses between attempts of transform_item. The
# base is at least a few milliseconds, because a process that lost a race was
# often just descheduled: the window it must avoid is a time slice, not the
# microseconds its own attempt took.
_MIN_RETRY_BASE = 0.005
_MAX_RETRY_PAUSE = 2.0

# Factor applied to the pause window of a key after each won race.
_WINDOW_DECAY = 0.9

# A remembered pause window is forgotten after this many seconds without a
# lost race.
_CONTENTION_MEMORY = 10.0


def _recent_window(
    contention: dict[NonEmptySafeStrTuple, tuple[float, float]],
    key: NonEmptySafeStrTuple,
) -> float:
    """Return the pause window remembered for ``key``, or 0 if it is stale."""
    window, since = contention.get(key, (0.0, 0.0))
    if time.monotonic() - since > _CONTENTION_MEMORY:
        return 0.0
    return window


class ItemInfo(NamedTuple):
    """ETag and last-write time (POSIX seconds) of one stored item."""

    etag: ETagValue
    timestamp: float


class ETagMismatch(Exception):
    """Raised by ``_put`` and ``_remove`` when a compare-and-swap finds another
    ETag; ``actual_etag`` is that ETag, or ``None`` if the backend cannot tell."""

    def __init__(self, actual_etag: ETagIfExists | None = None) -> None:
        super().__init__(actual_etag)
        self.actual_etag = actual_etag


class _NotGiven:
    def __repr__(self) -> str:
        return "<not given>"


_NOT_GIVEN: Any = _NotGiven()


class PersiDict(MutableMapping[NonEmptySafeStrTuple, V], Generic[V]):
    """A persistent, hierarchical ``MutableMapping`` with string-tuple keys.

    Subclasses are safe to share between threads and processes: every
    single-key write is atomic and the last write wins. There are no
    multi-key transactions.
    """

    __hash__ = None  # type: ignore[assignment]

    def __init__(
        self,
        *,
        serialization_format: str = "pkl",
        append_only: bool = False,
        base_class_for_values: type | None = None,
    ) -> None:
        if not isinstance(serialization_format, str) or not is_safe_component(
            serialization_format
        ):
            raise ValueError(
                "serialization_format must be 'pkl', 'json' or a name made of "
                f"safe characters for a text format, got {serialization_format!r}"
            )
        if base_class_for_values is not None and not isinstance(
            base_class_for_values, type
        ):
            raise TypeError(
                "base_class_for_values must be a class or None, "
                f"got {base_class_for_values!r}"
            )
        if serialization_format not in ("pkl", "json") and not (
            base_class_for_values is not None and issubclass(base_class_for_values, str)
        ):
            raise ValueError(
                f"serialization_format={serialization_format!r} stores plain text, "
                "so base_class_for_values must be str or a subclass of it, "
                f"got {base_class_for_values!r}"
            )
        if not isinstance(append_only, bool):
            raise TypeError(f"append_only must be a bool, got {append_only!r}")

        self._serialization_format = serialization_format
        self._append_only = append_only
        self._base_class_for_values = base_class_for_values

    # ----------------------------------------------------------- primitives

    @abstractmethod
    def _get_with_etag(self, key: NonEmptySafeStrTuple) -> tuple[V, ETagValue]: ...

    def _get(self, key: NonEmptySafeStrTuple) -> V:
        return self._get_with_etag(key)[0]

    def _get_if_changed(
        self, key: NonEmptySafeStrTuple, etag: ETagValue
    ) -> tuple[V, ETagValue] | None:
        if self._stat(key).etag == etag:
            return None
        return self._get_with_etag(key)

    @abstractmethod
    def _stat(self, key: NonEmptySafeStrTuple) -> ItemInfo: ...

    @abstractmethod
    def _put(
        self, key: NonEmptySafeStrTuple, value: V, expected: ETagIfExists | None
    ) -> ETagValue: ...

    @abstractmethod
    def _remove(
        self, key: NonEmptySafeStrTuple, expected: ETagValue | None
    ) -> bool: ...

    @abstractmethod
    def _scan(
        self, with_info: bool
    ) -> Iterator[tuple[NonEmptySafeStrTuple, ItemInfo | None]]: ...

    @abstractmethod
    def _child(self, prefix: NonEmptySafeStrTuple) -> Self: ...

    # Batch forms and shortcuts; backends override them where one request
    # can do the work of many.

    def _exclusive(self, key: NonEmptySafeStrTuple) -> AbstractContextManager[Any]:
        """Return a context that keeps other transforms of ``key`` out.

        Backends that can lock a key cheaply (a file lock, a thread lock)
        return one, and ``transform_item`` then runs without losing races.
        The default is no lock: transforms stay optimistic and retry.
        """
        return nullcontext()

    def _contains(self, key: NonEmptySafeStrTuple) -> bool:
        try:
            self._stat(key)
        except KeyError:
            return False
        return True

    def _count(self) -> int:
        return sum(1 for _ in self._scan(False))

    def _put_many(self, items: Iterable[tuple[NonEmptySafeStrTuple, V]]) -> None:
        for key, value in items:
            self._put(key, value, None)

    def _get_many(
        self, keys: Iterable[NonEmptySafeStrTuple]
    ) -> Iterator[tuple[NonEmptySafeStrTuple, V]]:
        """Yield the pairs of the keys that still exist, skipping the others."""
        for key in keys:
            try:
                yield key, self._get(key)
            except KeyError:
                continue

    def _remove_all(self) -> None:
        for key, _ in list(self._scan(False)):
            self._remove(key, None)

    def _subdict_names(self) -> set[str]:
        return {key[0] for key, _ in self._scan(False) if len(key) > 1}

    # ------------------------------------------------------- configuration

    @property
    def serialization_format(self) -> str:
        return self._serialization_format

    @property
    def append_only(self) -> bool:
        return self._append_only

    @property
    def base_class_for_values(self) -> type | None:
        return self._base_class_for_values

    def get_params(self) -> dict[str, Any]:
        """Return the constructor arguments that rebuild an equivalent handle."""
        return {
            "serialization_format": self._serialization_format,
            "append_only": self._append_only,
            "base_class_for_values": self._base_class_for_values,
        }

    def clone(self) -> Self:
        """Return a new handle to the same storage."""
        return type(self)(**self.get_params())

    def __copy__(self) -> Self:
        return self.clone()

    def __reduce__(self) -> tuple[Any, ...]:
        # A dict pickles as a handle to its storage, never as its contents.
        return (_rebuild_dict, (type(self), self.get_params()))

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    # ---------------------------------------------------------- validation

    def _check_value(self, key: NonEmptySafeStrTuple, value: object) -> None:
        if isinstance(value, PersiDict):
            raise TypeError(
                f"cannot store a PersiDict as the value of key {key!r}; "
                "store its get_params() instead"
            )
        base_class = self._base_class_for_values
        if base_class is not None and not isinstance(value, base_class):
            raise TypeError(
                f"the value for key {key!r} must be an instance of "
                f"{base_class.__name__}, got {type(value).__name__}"
            )

    def _forbid_mutation(self, key: object, action: str) -> None:
        if self._append_only:
            raise MutationPolicyError(
                "append-only",
                f"cannot {action} key {key!r}: this dict is append-only, "
                "so items can be added but never changed or deleted",
                key=key,
            )

    # ------------------------------------------------------ mapping methods

    def __getitem__(self, key: Any) -> V:
        return self._get(normalize_key(key))

    def __setitem__(self, key: Any, value: V | Joker) -> None:
        key = normalize_key(key)
        if value is KEEP_CURRENT:
            return
        if value is DELETE_CURRENT:
            self.discard(key)
            return
        if isinstance(value, Joker):
            raise TypeError(f"unknown joker {value!r}")
        self._check_value(key, value)

        if self._append_only:
            self._insert_new(key, value)
        else:
            self._put(key, value, None)

    def _insert_new(self, key: NonEmptySafeStrTuple, value: Any) -> ETagValue:
        try:
            return self._put(key, value, ITEM_NOT_AVAILABLE)
        except ETagMismatch:
            raise MutationPolicyError(
                "append-only",
                f"key {key!r} already exists and this dict is append-only, "
                "so its value cannot be changed",
                key=key,
            ) from None

    def __delitem__(self, key: Any) -> None:
        key = normalize_key(key)
        self._forbid_mutation(key, "delete")
        if not self._remove(key, None):
            raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return self._contains(normalize_key(key))

    def __len__(self) -> int:
        return self._count()

    def __iter__(self) -> Iterator[NonEmptySafeStrTuple]:
        return (key for key, _ in self._scan(False))

    def __bool__(self) -> bool:
        return next(self._scan(False), None) is not None

    def keys(self) -> KeysView[NonEmptySafeStrTuple]:
        return KeysView(self)

    def values(self) -> ValuesView[V]:
        return _ValuesView(self)

    def items(self) -> ItemsView[NonEmptySafeStrTuple, V]:
        return _ItemsView(self)

    def _iter_items(self) -> Iterator[tuple[NonEmptySafeStrTuple, V]]:
        # An item deleted between listing and reading is skipped.
        return self._get_many(key for key, _ in self._scan(False))

    @overload
    def get(self, key: Any, default: None = None) -> V | None: ...

    @overload
    def get(self, key: Any, default: _T) -> V | _T: ...

    def get(self, key: Any, default: Any = None) -> Any:
        """Return the value of ``key``, or ``default`` if it is absent."""
        try:
            return self._get(normalize_key(key))
        except KeyError:
            return default

    def setdefault(self, key: Any, default: V | None = None) -> V:
        """Return the value of ``key``, inserting ``default`` if it is absent.

        The insert is atomic: of several concurrent callers exactly one
        inserts, and the others get the value it wrote.
        """
        key = normalize_key(key)
        if isinstance(default, Joker):
            raise TypeError("setdefault() takes a value, not a joker")
        while True:
            try:
                return self._get(key)
            except KeyError:
                pass
            self._check_value(key, default)
            try:
                self._put(key, default, ITEM_NOT_AVAILABLE)  # type: ignore[arg-type]
                return default  # type: ignore[return-value]
            except ETagMismatch:
                continue

    def update(self, other: Any = (), /, **kwargs: V) -> None:
        """Write every pair of a mapping or iterable of pairs, then of ``kwargs``."""
        if isinstance(other, Mapping):
            source: Iterable[Any] = other.items()
        elif hasattr(other, "keys"):
            source = ((k, other[k]) for k in other)
        else:
            source = other
        requested = [(normalize_key(k), v) for k, v in (*source, *kwargs.items())]

        if self._append_only:
            # Each write must see the ones before it, so that a repeated key
            # fails as it would in a loop.
            for key, value in requested:
                self[key] = value
            return

        # The batch below may run its writes concurrently, so only the last
        # value of each key goes into it, as a dict's update would keep.
        final: dict[NonEmptySafeStrTuple, Any] = {}
        for key, value in requested:
            if value is KEEP_CURRENT:
                continue
            if value is not DELETE_CURRENT:
                self._check_value(key, value)
            final[key] = value
        self._put_many(
            (key, value) for key, value in final.items() if value is not DELETE_CURRENT
        )
        for key, value in final.items():
            if value is DELETE_CURRENT:
                self.discard(key)

    def __ior__(self, other: Any) -> Self:
        self.update(other)
        return self

    def pop(self, key: Any, default: Any = _NOT_GIVEN) -> Any:
        """Remove ``key`` and return its value, or ``default`` if it is absent.

        Of several concurrent callers popping one key, exactly one gets the
        value: the delete is conditional on the ETag that was read.
        """
        key = normalize_key(key)
        self._forbid_mutation(key, "pop")
        while True:
            try:
                value, etag = self._get_with_etag(key)
            except KeyError:
                if default is _NOT_GIVEN:
                    raise
                return default
            try:
                if self._remove(key, etag):
                    return value
            except ETagMismatch:
                continue

    def popitem(self) -> tuple[NonEmptySafeStrTuple, V]:
        """Remove and return some (key, value) pair; ``KeyError`` if empty."""
        self._forbid_mutation("any", "popitem")
        for key, _ in self._scan(False):
            try:
                return key, self.pop(key)
            except KeyError:
                continue
        raise KeyError("popitem(): dictionary is empty")

    def clear(self) -> None:
        """Delete every item."""
        self._forbid_mutation("any", "clear")
        self._remove_all()

    def discard(self, key: Any) -> bool:
        """Delete ``key`` if present; return whether something was deleted."""
        key = normalize_key(key)
        self._forbid_mutation(key, "delete")
        return self._remove(key, None)

    delete_if_exists = discard

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if type(other) is type(self) and self.get_params() == other.get_params():
            return True
        if not isinstance(other, Mapping):
            return NotImplemented
        if len(self) != len(other):
            return False
        # Walk the other mapping, whose keys may be plain strings or tuples,
        # and look each one up here after normalising it.
        for other_key, other_value in other.items():
            try:
                if self._get(normalize_key(other_key)) != other_value:
                    return False
            except (KeyError, TypeError, ValueError):
                return False
        return True

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    # ------------------------------------------------- timestamps and ETags

    def timestamp(self, key: Any) -> float:
        """Return the POSIX time of the last write of ``key``."""
        return self._stat(normalize_key(key)).timestamp

    def etag(self, key: Any) -> ETagValue:
        """Return the opaque version tag of ``key``.

        It changes whenever the stored content changes. ``FileDirDict`` and
        ``LocalDict`` change it on every write; on S3 it is the server's
        ETag, the MD5 of the content, so rewriting the same bytes keeps it.
        """
        return self._stat(normalize_key(key)).etag

    def keys_and_timestamps(self) -> Iterator[tuple[NonEmptySafeStrTuple, float]]:
        for key, info in self._scan(True):
            assert info is not None
            yield key, info.timestamp

    def values_and_timestamps(self) -> Iterator[tuple[V, float]]:
        for _, value, timestamp in self.items_and_timestamps():
            yield value, timestamp

    def items_and_timestamps(
        self,
    ) -> Iterator[tuple[NonEmptySafeStrTuple, V, float]]:
        stamps = dict(self.keys_and_timestamps())
        for key, value in self._get_many(stamps):
            yield key, value, stamps[key]

    def _sorted_keys(
        self, max_n: int | None, newest: bool
    ) -> list[NonEmptySafeStrTuple]:
        if max_n is not None and (not isinstance(max_n, int) or max_n < 0):
            raise ValueError(f"max_n must be None or an int >= 0, got {max_n!r}")
        pairs = self.keys_and_timestamps()
        if max_n is None:
            ordered = sorted(pairs, key=lambda p: p[1], reverse=newest)
        elif newest:
            ordered = heapq.nlargest(max_n, pairs, key=lambda p: p[1])
        else:
            ordered = heapq.nsmallest(max_n, pairs, key=lambda p: p[1])
        return [key for key, _ in ordered]

    def oldest_keys(self, *, max_n: int | None = None) -> list[NonEmptySafeStrTuple]:
        """Return keys from the oldest write on, at most ``max_n`` of them."""
        return self._sorted_keys(max_n, newest=False)

    def newest_keys(self, *, max_n: int | None = None) -> list[NonEmptySafeStrTuple]:
        """Return keys from the newest write on, at most ``max_n`` of them."""
        return self._sorted_keys(max_n, newest=True)

    def oldest_values(self, *, max_n: int | None = None) -> list[V]:
        keys = self.oldest_keys(max_n=max_n)
        return [value for _, value in self._get_many(keys)]

    def newest_values(self, *, max_n: int | None = None) -> list[V]:
        keys = self.newest_keys(max_n=max_n)
        return [value for _, value in self._get_many(keys)]

    def random_key(self) -> NonEmptySafeStrTuple | None:
        """Return a key chosen uniformly at random in one pass, or ``None``."""
        chosen = None
        for seen, (key, _) in enumerate(self._scan(False), start=1):
            # Reservoir sampling: the n-th key replaces the choice with
            # probability 1/n, which leaves every key equally likely.
            if random.randrange(seen) == 0:
                chosen = key
        return chosen

    # ------------------------------------------------------------ sub-dicts

    def get_subdict(self, prefix: Any) -> Self:
        """Return a view of the keys under ``prefix``, with ``prefix`` removed.

        Writes through the view land under ``prefix``; an empty prefix gives
        a handle to the whole dict.
        """
        prefix = normalize_prefix(prefix)
        if not prefix:
            return self.clone()
        return self._child(NonEmptySafeStrTuple._trusted(prefix.strings))

    def subdicts(self) -> dict[str, Self]:
        """Return one sub-dict per first key component that has keys below it."""
        return {
            name: self._child(NonEmptySafeStrTuple._trusted((name,)))
            for name in sorted(self._subdict_names())
        }

    # --------------------------------------------- conditional operations

    @staticmethod
    def _holds(
        condition: ETagConditionFlag, expected: ETagIfExists, actual: ETagIfExists
    ) -> bool:
        if condition is ANY_ETAG:
            return True
        if condition is ETAG_IS_THE_SAME:
            return expected == actual
        if condition is ETAG_HAS_CHANGED:
            return expected != actual
        raise ValueError(
            "condition must be ANY_ETAG, ETAG_IS_THE_SAME or ETAG_HAS_CHANGED, "
            f"got {condition!r}"
        )

    @staticmethod
    def _check_retrieve(retrieve_value: RetrieveValueFlag) -> None:
        if retrieve_value not in (ALWAYS_RETRIEVE, NEVER_RETRIEVE, IF_ETAG_CHANGED):
            raise TypeError(
                "retrieve_value must be ALWAYS_RETRIEVE, NEVER_RETRIEVE or "
                f"IF_ETAG_CHANGED, got {retrieve_value!r}"
            )

    def _actual_etag(self, key: NonEmptySafeStrTuple) -> ETagIfExists:
        try:
            return self._stat(key).etag
        except KeyError:
            return ITEM_NOT_AVAILABLE

    def _read_for_result(
        self,
        key: NonEmptySafeStrTuple,
        expected: ETagIfExists,
        retrieve_value: RetrieveValueFlag,
    ) -> tuple[ETagIfExists, Any]:
        """Read the key's ETag, and its value where the retrieval policy requests it."""
        if retrieve_value is NEVER_RETRIEVE:
            actual = self._actual_etag(key)
            value: Any = (
                ITEM_NOT_AVAILABLE
                if actual is ITEM_NOT_AVAILABLE
                else VALUE_NOT_RETRIEVED
            )
            return actual, value
        try:
            if retrieve_value is IF_ETAG_CHANGED and not isinstance(
                expected, ItemNotAvailableFlag
            ):
                fresh = self._get_if_changed(key, expected)
                if fresh is None:
                    return expected, VALUE_NOT_RETRIEVED
                value, etag = fresh
                return etag, value
            value, etag = self._get_with_etag(key)
            return etag, value
        except KeyError:
            return ITEM_NOT_AVAILABLE, ITEM_NOT_AVAILABLE

    def _failure(
        self,
        key: NonEmptySafeStrTuple,
        expected: ETagIfExists,
        retrieve_value: RetrieveValueFlag,
    ) -> ConditionalOperationResult[V]:
        actual, value = self._read_for_result(key, expected, retrieve_value)
        return ConditionalOperationResult(False, actual, actual, value)

    def get_with_etag(self, key: Any) -> ConditionalOperationResult[V]:
        """Read the value and its ETag together, consistently.

        ``new_value`` and both ETags are ``ITEM_NOT_AVAILABLE`` for an absent key.
        """
        key = normalize_key(key)
        try:
            value, etag = self._get_with_etag(key)
        except KeyError:
            return ConditionalOperationResult(
                True, ITEM_NOT_AVAILABLE, ITEM_NOT_AVAILABLE, ITEM_NOT_AVAILABLE
            )
        return ConditionalOperationResult(True, etag, etag, value)

    def get_item_if(
        self,
        key: Any,
        *,
        condition: ETagConditionFlag,
        expected_etag: ETagIfExists,
        retrieve_value: RetrieveValueFlag = IF_ETAG_CHANGED,
    ) -> ConditionalOperationResult[V]:
        """Check ``condition`` between ``expected_etag`` and the actual ETag of
        ``key``, and return the value if ``retrieve_value`` requests it."""
        key = normalize_key(key)
        self._check_retrieve(retrieve_value)
        actual, value = self._read_for_result(key, expected_etag, retrieve_value)
        satisfied = self._holds(condition, expected_etag, actual)
        return ConditionalOperationResult(satisfied, actual, actual, value)

    def set_item_if(
        self,
        key: Any,
        *,
        value: V | Joker,
        condition: ETagConditionFlag,
        expected_etag: ETagIfExists,
        retrieve_value: RetrieveValueFlag = IF_ETAG_CHANGED,
    ) -> ConditionalOperationResult[V]:
        """Write ``value`` (or apply a joker) if ``condition`` holds, atomically.

        When the condition fails nothing is written, and the current value is
        returned if ``retrieve_value`` requests it.
        """
        key = normalize_key(key)
        self._check_retrieve(retrieve_value)
        self._holds(condition, expected_etag, ITEM_NOT_AVAILABLE)

        if value is KEEP_CURRENT:
            return self.get_item_if(
                key,
                condition=condition,
                expected_etag=expected_etag,
                retrieve_value=retrieve_value,
            )
        if value is DELETE_CURRENT:
            outcome: ConditionalOperationResult[V] = self.discard_if(
                key, condition=condition, expected_etag=expected_etag
            )
            if (
                outcome.condition_was_satisfied
                or outcome.actual_etag is ITEM_NOT_AVAILABLE
            ):
                return outcome
            # The key stays: return its value if the retrieval policy requests it.
            return self._failure(key, expected_etag, retrieve_value)
        if isinstance(value, Joker):
            raise TypeError(f"unknown joker {value!r}")
        self._check_value(key, value)

        for _ in range(_PIN_ATTEMPTS):
            pinned = self._pin_expected_etag(key, condition, expected_etag)
            if pinned is None:
                return self._failure(key, expected_etag, retrieve_value)
            expected, pinned_etag = pinned
            if self._append_only and expected is not ITEM_NOT_AVAILABLE:
                self._forbid_mutation(key, "overwrite")
            try:
                new_etag = self._put(key, value, expected)
            except ETagMismatch:
                if condition is ETAG_IS_THE_SAME:
                    return self._failure(key, expected_etag, retrieve_value)
                continue
            # The written value is at hand, so it is returned whatever the
            # retrieval policy, as the public persidict package does.
            return ConditionalOperationResult(True, pinned_etag, new_etag, value)
        raise ConcurrencyConflictError(key, _PIN_ATTEMPTS)

    def _pin_expected_etag(
        self,
        key: NonEmptySafeStrTuple,
        condition: ETagConditionFlag,
        expected_etag: ETagIfExists,
    ) -> tuple[ETagIfExists | None, ETagIfExists] | None:
        """Turn a condition into the ETag a compare-and-swap must find.

        Returns ``(expected for _put, actual ETag before the write)``, or
        ``None`` when the condition already fails. ``ETAG_IS_THE_SAME`` needs
        no read: the swap itself checks. The other conditions read the
        current ETag and swap against it, so a concurrent write in between
        makes the swap fail and the caller retry.
        """
        if condition is ETAG_IS_THE_SAME:
            return expected_etag, expected_etag
        actual = self._actual_etag(key)
        if not self._holds(condition, expected_etag, actual):
            return None
        if condition is ANY_ETAG and not self._append_only:
            return None, actual
        return actual, actual

    def setdefault_if(
        self,
        key: Any,
        *,
        default_value: V,
        condition: ETagConditionFlag,
        expected_etag: ETagIfExists,
        retrieve_value: RetrieveValueFlag = IF_ETAG_CHANGED,
    ) -> ConditionalOperationResult[V]:
        """Insert ``default_value`` if ``key`` is absent and ``condition`` holds
        for an absent key; a present key is never changed."""
        if isinstance(default_value, Joker):
            raise TypeError("setdefault_if() takes a value, not a joker")
        key = normalize_key(key)
        self._check_retrieve(retrieve_value)
        self._check_value(key, default_value)

        if self._holds(condition, expected_etag, ITEM_NOT_AVAILABLE):
            try:
                new_etag = self._put(key, default_value, ITEM_NOT_AVAILABLE)
            except ETagMismatch:
                pass
            else:
                return ConditionalOperationResult(
                    True, ITEM_NOT_AVAILABLE, new_etag, default_value
                )

        actual, value = self._read_for_result(key, expected_etag, retrieve_value)
        satisfied = self._holds(condition, expected_etag, actual)
        return ConditionalOperationResult(satisfied, actual, actual, value)

    def discard_if(
        self, key: Any, *, condition: ETagConditionFlag, expected_etag: ETagIfExists
    ) -> ConditionalOperationResult[V]:
        """Delete ``key`` if ``condition`` holds, atomically.

        ``new_value`` is ``ITEM_NOT_AVAILABLE`` once the key is gone and
        ``VALUE_NOT_RETRIEVED`` when it stays.
        """
        key = normalize_key(key)
        self._holds(condition, expected_etag, ITEM_NOT_AVAILABLE)
        for _ in range(_PIN_ATTEMPTS):
            if (
                condition is ETAG_IS_THE_SAME
                and expected_etag is not ITEM_NOT_AVAILABLE
            ):
                actual: ETagIfExists = expected_etag
            else:
                actual = self._actual_etag(key)
            if not self._holds(condition, expected_etag, actual):
                return ConditionalOperationResult(
                    False,
                    actual,
                    actual,
                    ITEM_NOT_AVAILABLE
                    if actual is ITEM_NOT_AVAILABLE
                    else VALUE_NOT_RETRIEVED,
                )
            if isinstance(actual, ItemNotAvailableFlag):
                return ConditionalOperationResult(
                    True, ITEM_NOT_AVAILABLE, ITEM_NOT_AVAILABLE, ITEM_NOT_AVAILABLE
                )
            self._forbid_mutation(key, "delete")
            try:
                removed = self._remove(key, actual)
            except ETagMismatch as mismatch:
                if condition is ETAG_IS_THE_SAME:
                    now = mismatch.actual_etag
                    if now is None:
                        now = self._actual_etag(key)
                    return ConditionalOperationResult(
                        False,
                        now,
                        now,
                        ITEM_NOT_AVAILABLE
                        if now is ITEM_NOT_AVAILABLE
                        else VALUE_NOT_RETRIEVED,
                    )
                continue
            if removed:
                return ConditionalOperationResult(
                    True, actual, ITEM_NOT_AVAILABLE, ITEM_NOT_AVAILABLE
                )
        raise ConcurrencyConflictError(key, _PIN_ATTEMPTS)

    def transform_item(
        self,
        key: Any,
        *,
        transformer: TransformingFunction[V],
        n_retries: int | None = 6,
    ) -> OperationResult[V]:
        """Replace the value of ``key`` with ``transformer(current value)``.

        The transformer gets ``ITEM_NOT_AVAILABLE`` for an absent key and may
        return a joker. The write is a compare-and-swap on the ETag that was
        read; when another writer wins, the loop reads again and retries after
        a jittered, growing pause, ``n_retries`` times (``None``: no limit).
        The transformer may therefore run more than once.
        """
        key = normalize_key(key)
        if n_retries is not None:
            if isinstance(n_retries, bool) or not isinstance(n_retries, int):
                raise TypeError(
                    f"n_retries must be None or an int >= 0, got {n_retries!r}"
                )
            if n_retries < 0:
                raise ValueError(
                    f"n_retries must be None or an int >= 0, got {n_retries}"
                )

        with self._exclusive(key):
            return self._transform_loop(key, transformer, n_retries)

    def _transform_loop(
        self,
        key: NonEmptySafeStrTuple,
        transformer: TransformingFunction[V],
        n_retries: int | None,
    ) -> OperationResult[V]:
        # Contention is remembered per handle and key for a few seconds, so a
        # process that lost races lately pauses before its first attempt too.
        # Without that, a caller retrying after a pause keeps losing to fresh
        # calls of other processes that never pause, and runs out of retries.
        contention = self.__dict__.setdefault("_contention", {})
        window = _recent_window(contention, key)
        attempt = 0
        while True:
            attempt += 1
            if window:
                time.sleep(random.uniform(0, window))
            started = time.monotonic()
            outcome = self._transform_once(key, transformer)
            if outcome is not None:
                # The window shrinks slowly after a win. Halving it let the
                # winners of one round pause less than the losers and win the
                # next round too, and a loser then ran out of retries.
                if window > _MIN_RETRY_BASE:
                    contention[key] = (window * _WINDOW_DECAY, time.monotonic())
                else:
                    contention.pop(key, None)
                return outcome

            if n_retries is not None and attempt > n_retries:
                raise ConcurrencyConflictError(key, attempt)
            # The window doubles with each loss and starts at the time an
            # attempt took, so it suits a local folder and a remote server.
            spent = max(time.monotonic() - started, _MIN_RETRY_BASE)
            window = min(_MAX_RETRY_PAUSE, max(window * 2, spent * 2))
            if len(contention) > 4096:
                contention.clear()
            contention[key] = (window, time.monotonic())
            logger.debug(
                "transform_item on %r lost a race, retry %d within %.3f s",
                key,
                attempt,
                window,
            )

    def _transform_once(
        self, key: NonEmptySafeStrTuple, transformer: TransformingFunction[V]
    ) -> OperationResult[V] | None:
        """Read, transform and write back once; ``None`` if another writer won."""
        current = self.get_with_etag(key)
        value, etag = current.new_value, current.actual_etag
        new_value = transformer(value)  # type: ignore[arg-type]
        if new_value is KEEP_CURRENT:
            return OperationResult(etag, value)  # type: ignore[arg-type]
        if new_value is DELETE_CURRENT:
            deleted = self.discard_if(
                key, condition=ETAG_IS_THE_SAME, expected_etag=etag
            )
            if deleted.condition_was_satisfied:
                return OperationResult(ITEM_NOT_AVAILABLE, ITEM_NOT_AVAILABLE)
            return None
        written = self.set_item_if(
            key,
            value=new_value,
            condition=ETAG_IS_THE_SAME,
            expected_etag=etag,
            retrieve_value=NEVER_RETRIEVE,
        )
        if written.condition_was_satisfied:
            return OperationResult(written.resulting_etag, new_value)  # type: ignore[arg-type]
        return None


class _ValuesView(ValuesView[V]):
    _mapping: PersiDict[V]

    def __iter__(self) -> Iterator[V]:
        for _, value in self._mapping._iter_items():
            yield value

    def __contains__(self, value: object) -> bool:
        return any(v == value for v in self)


class _ItemsView(ItemsView[NonEmptySafeStrTuple, V]):
    _mapping: PersiDict[V]

    def __iter__(self) -> Iterator[tuple[NonEmptySafeStrTuple, V]]:
        return self._mapping._iter_items()


def _rebuild_dict(cls: Callable[..., _T], params: dict[str, Any]) -> _T:
    return cls(**params)
