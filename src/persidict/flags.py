"""Jokers, condition and retrieval flags, and results of conditional operations.

Every flag is a singleton: constructing its class again, copying it or
unpickling it gives back the same object, so ``is`` comparisons are safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Final, Generic, NewType, Protocol, TypeAlias, TypeVar

__all__ = [
    "ALWAYS_RETRIEVE",
    "ANY_ETAG",
    "DELETE_CURRENT",
    "ETAG_HAS_CHANGED",
    "ETAG_IS_THE_SAME",
    "IF_ETAG_CHANGED",
    "ITEM_NOT_AVAILABLE",
    "KEEP_CURRENT",
    "NEVER_RETRIEVE",
    "VALUE_NOT_RETRIEVED",
    "AlwaysRetrieveFlag",
    "AnyETagFlag",
    "ConditionalOperationResult",
    "DeleteCurrentFlag",
    "ETagConditionFlag",
    "ETagHasChangedFlag",
    "ETagIfExists",
    "ETagIsTheSameFlag",
    "ETagValue",
    "IfETagChangedRetrieveFlag",
    "ItemNotAvailableFlag",
    "Joker",
    "KeepCurrentFlag",
    "NeverRetrieveFlag",
    "OperationResult",
    "RetrieveValueFlag",
    "TransformingFunction",
    "ValueNotRetrievedFlag",
    "ValueType",
]


class _Singleton:
    """Base of the flag classes: one instance per class, pickled by name."""

    _instances: ClassVar[dict[type, Any]] = {}
    _constant_name: ClassVar[str] = ""

    def __new__(cls) -> Any:
        instance = _Singleton._instances.get(cls)
        if instance is None:
            instance = super().__new__(cls)
            _Singleton._instances[cls] = instance
        return instance

    def __repr__(self) -> str:
        return self._constant_name or type(self).__name__

    def __reduce__(self) -> str:
        # Pickle stores a reference to the module-level constant, so loading
        # returns the existing singleton instead of a new object.
        return self._constant_name

    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, memo: object) -> Any:
        return self


class Joker(_Singleton):
    """A value with a meaning when written: keep or delete the current one."""


class KeepCurrentFlag(Joker):
    """Joker: writing it leaves the stored value unchanged."""

    _constant_name = "KEEP_CURRENT"


class DeleteCurrentFlag(Joker):
    """Joker: writing it deletes the stored value, if any."""

    _constant_name = "DELETE_CURRENT"


class ItemNotAvailableFlag(_Singleton):
    """Sentinel for the value or the ETag of a missing key."""

    _constant_name = "ITEM_NOT_AVAILABLE"


class ValueNotRetrievedFlag(_Singleton):
    """Sentinel for a value that exists but was not read."""

    _constant_name = "VALUE_NOT_RETRIEVED"


class ETagConditionFlag(_Singleton):
    """Base class of the ETag conditions."""


class AnyETagFlag(ETagConditionFlag):
    """Condition that always holds."""

    _constant_name = "ANY_ETAG"


class ETagIsTheSameFlag(ETagConditionFlag):
    """Condition that holds when the actual ETag equals the expected one."""

    _constant_name = "ETAG_IS_THE_SAME"


class ETagHasChangedFlag(ETagConditionFlag):
    """Condition that holds when the actual ETag differs from the expected one."""

    _constant_name = "ETAG_HAS_CHANGED"


class RetrieveValueFlag(_Singleton):
    """Base class of the policies for returning a value from a conditional call."""


class AlwaysRetrieveFlag(RetrieveValueFlag):
    """Policy: always return the value."""

    _constant_name = "ALWAYS_RETRIEVE"


class NeverRetrieveFlag(RetrieveValueFlag):
    """Policy: never read the value; return ``VALUE_NOT_RETRIEVED``."""

    _constant_name = "NEVER_RETRIEVE"


class IfETagChangedRetrieveFlag(RetrieveValueFlag):
    """Policy: return the value only when its ETag differs from the expected one."""

    _constant_name = "IF_ETAG_CHANGED"


KEEP_CURRENT: Final[KeepCurrentFlag] = KeepCurrentFlag()
DELETE_CURRENT: Final[DeleteCurrentFlag] = DeleteCurrentFlag()
ITEM_NOT_AVAILABLE: Final[ItemNotAvailableFlag] = ItemNotAvailableFlag()
VALUE_NOT_RETRIEVED: Final[ValueNotRetrievedFlag] = ValueNotRetrievedFlag()
ANY_ETAG: Final[AnyETagFlag] = AnyETagFlag()
ETAG_IS_THE_SAME: Final[ETagIsTheSameFlag] = ETagIsTheSameFlag()
ETAG_HAS_CHANGED: Final[ETagHasChangedFlag] = ETagHasChangedFlag()
ALWAYS_RETRIEVE: Final[AlwaysRetrieveFlag] = AlwaysRetrieveFlag()
NEVER_RETRIEVE: Final[NeverRetrieveFlag] = NeverRetrieveFlag()
IF_ETAG_CHANGED: Final[IfETagChangedRetrieveFlag] = IfETagChangedRetrieveFlag()

ETagValue = NewType("ETagValue", str)
ETagIfExists: TypeAlias = ETagValue | ItemNotAvailableFlag
ValueType = TypeVar("ValueType")


class TransformingFunction(Protocol[ValueType]):
    """A function that gets the current value, or ``ITEM_NOT_AVAILABLE``, and
    returns the new value or a joker."""

    def __call__(
        self, current: ValueType | ItemNotAvailableFlag, /
    ) -> ValueType | KeepCurrentFlag | DeleteCurrentFlag: ...


@dataclass(frozen=True)
class OperationResult(Generic[ValueType]):
    """Outcome of ``transform_item``: the ETag and value the key has afterwards,
    each ``ITEM_NOT_AVAILABLE`` when the key is absent."""

    resulting_etag: ETagIfExists
    new_value: ValueType | ItemNotAvailableFlag


@dataclass(frozen=True)
class ConditionalOperationResult(Generic[ValueType]):
    """Outcome of a conditional operation.

    ``actual_etag`` is the key's ETag before the operation and
    ``resulting_etag`` the one after it (``ITEM_NOT_AVAILABLE`` for an absent
    key). ``new_value`` is the key's value after the operation,
    ``ITEM_NOT_AVAILABLE`` if it is absent, or ``VALUE_NOT_RETRIEVED`` if the
    retrieval policy skipped reading it.
    """

    condition_was_satisfied: bool
    actual_etag: ETagIfExists
    resulting_etag: ETagIfExists
    new_value: ValueType | ItemNotAvailableFlag | ValueNotRetrievedFlag

    @property
    def value_was_mutated(self) -> bool:
        """Whether the operation changed what is stored under the key."""
        return self.resulting_etag != self.actual_etag
