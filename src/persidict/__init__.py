"""Persistent dicts whose items outlive the process and are shared by many.

Each value is its own file (``FileDirDict``), its own S3 object
(``BasicS3Dict``, ``S3Dict``) or lives in memory (``LocalDict``). Keys are
tuples of safe strings that form a hierarchy. The S3 classes import boto3
only when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import PersiDict
from .cached_append_only_dict import AppendOnlyDictCached, CachedAppendOnlyDict
from .cached_mutable_dict import CachedMutableDict, MutableDictCached
from .empty_dict import EmptyDict
from .errors import (
    BackendError,
    ConcurrencyConflictError,
    CorruptValueError,
    MutationPolicyError,
)
from .file_dir_dict import FileDirDict
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
    AlwaysRetrieveFlag,
    AnyETagFlag,
    ConditionalOperationResult,
    DeleteCurrentFlag,
    ETagConditionFlag,
    ETagHasChangedFlag,
    ETagIfExists,
    ETagIsTheSameFlag,
    ETagValue,
    IfETagChangedRetrieveFlag,
    ItemNotAvailableFlag,
    Joker,
    KeepCurrentFlag,
    NeverRetrieveFlag,
    OperationResult,
    RetrieveValueFlag,
    TransformingFunction,
    ValueNotRetrievedFlag,
    ValueType,
)
from .keys import (
    NonEmptySafeStrTuple,
    SafeStrTuple,
    get_safe_chars,
    replace_unsafe_chars,
)
from .local_dict import LocalBackend, LocalDict
from .overlapping_multi_dict import OverlappingMultiDict
from .write_once_dict import WriteOnceDict

if TYPE_CHECKING:
    from .s3_dict import BasicS3Dict, S3Dict, S3Dict_FileDirCached

__version__ = "0.1.0"

_S3_NAMES = ("BasicS3Dict", "S3Dict", "S3Dict_FileDirCached")


def __getattr__(name: str) -> Any:
    # The S3 classes load boto3, which takes long to import; they are
    # imported on first use so that `import persidict` stays fast.
    if name in _S3_NAMES:
        try:
            from . import s3_dict
        except ImportError as err:
            raise ImportError(
                f"persidict.{name} needs boto3; install it with: "
                "pip install 'persidict[s3]'"
            ) from err
        return getattr(s3_dict, name)
    raise AttributeError(f"module 'persidict' has no attribute {name!r}")


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
    "AppendOnlyDictCached",
    "BackendError",
    "BasicS3Dict",
    "CachedAppendOnlyDict",
    "CachedMutableDict",
    "ConcurrencyConflictError",
    "ConditionalOperationResult",
    "CorruptValueError",
    "DeleteCurrentFlag",
    "ETagConditionFlag",
    "ETagHasChangedFlag",
    "ETagIfExists",
    "ETagIsTheSameFlag",
    "ETagValue",
    "EmptyDict",
    "FileDirDict",
    "IfETagChangedRetrieveFlag",
    "ItemNotAvailableFlag",
    "Joker",
    "KeepCurrentFlag",
    "LocalBackend",
    "LocalDict",
    "MutableDictCached",
    "MutationPolicyError",
    "NeverRetrieveFlag",
    "NonEmptySafeStrTuple",
    "OperationResult",
    "OverlappingMultiDict",
    "PersiDict",
    "RetrieveValueFlag",
    "S3Dict",
    "S3Dict_FileDirCached",
    "SafeStrTuple",
    "TransformingFunction",
    "ValueNotRetrievedFlag",
    "ValueType",
    "WriteOnceDict",
    "__version__",
    "get_safe_chars",
    "replace_unsafe_chars",
]
