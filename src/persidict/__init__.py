"""Persistent dicts whose items outlive the process and are shared by many.

Each value is its own file (``FileDirDict``), its own S3 object
(``BasicS3Dict``, ``S3Dict``) or lives in memory (``LocalDict``). Keys are
tuples of safe strings that form a hierarchy. The S3 classes import boto3
only when first used.
"""

from __future__ import annotations

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

__version__ = "0.1.0"

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
    "SafeStrTuple",
    "TransformingFunction",
    "ValueNotRetrievedFlag",
    "ValueType",
    "WriteOnceDict",
    "__version__",
    "get_safe_chars",
    "replace_unsafe_chars",
]
