"""``LocalDict``: an in-memory backend, shareable between handles of one process."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any, NamedTuple, Self, TypeVar

from .base import ETagMismatch, ItemInfo
from .flags import ITEM_NOT_AVAILABLE, ETagIfExists, ETagValue
from .keys import NonEmptySafeStrTuple, SafeStrTuple, normalize_prefix
from .storage import StorageDict

__all__ = ["LocalBackend", "LocalDict"]

V = TypeVar("V")


class _Entry(NamedTuple):
    data: bytes
    etag: ETagValue
    timestamp: float


class _Node:
    """One level of the tree: child nodes by name, and entries by format and name."""

    __slots__ = ("children", "entries")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.entries: dict[str, dict[str, _Entry]] = {}

    def is_empty(self) -> bool:
        return not self.children and not any(self.entries.values())


class LocalBackend:
    """The shared store of one or more ``LocalDict`` handles: a tree of nodes,
    one lock, and an ETag counter. Every operation holds the lock, so each
    single-key operation is atomic across threads."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.root = _Node()
        self._counter = itertools.count(1)
        self._deletions = 0

    def next_etag(self) -> ETagValue:
        return ETagValue(f"L{next(self._counter)}")

    def find(self, path: tuple[str, ...], create: bool) -> _Node | None:
        node = self.root
        for name in path:
            child = node.children.get(name)
            if child is None:
                if not create:
                    return None
                child = node.children[name] = _Node()
            node = child
        return node

    def note_deletion(self, prune_interval: int | None) -> None:
        self._deletions += 1
        if prune_interval and self._deletions % prune_interval == 0:
            _prune(self.root)

    def __repr__(self) -> str:
        return f"<LocalBackend at {id(self):#x}>"


def _prune(node: _Node) -> None:
    for name, child in list(node.children.items()):
        _prune(child)
        if child.is_empty():
            del node.children[name]


class LocalDict(StorageDict[V]):
    """A dict kept in this process's memory, for tests and ephemeral data.

    Values are encoded with the dict's serialization format on write and
    decoded on read, so they round-trip exactly as on the other backends
    and a caller never changes a stored value by mutating what it got.
    Handles built with the same ``backend`` share their items; a handle is
    safe to use from several threads. It cannot be pickled, because its
    items live only in this process.
    """

    def __init__(
        self,
        *,
        backend: LocalBackend | None = None,
        root_prefix: Any = (),
        prune_interval: int | None = 64,
        serialization_format: str = "pkl",
        append_only: bool = False,
        base_class_for_values: type | None = None,
    ) -> None:
        super().__init__(
            serialization_format=serialization_format,
            append_only=append_only,
            base_class_for_values=base_class_for_values,
        )
        if backend is not None and not isinstance(backend, LocalBackend):
            raise TypeError(f"backend must be a LocalBackend or None, got {backend!r}")
        if prune_interval is not None and (
            not isinstance(prune_interval, int) or prune_interval < 1
        ):
            raise ValueError(
                f"prune_interval must be None or an int >= 1, got {prune_interval!r}"
            )
        self._backend = backend if backend is not None else LocalBackend()
        self._prefix: SafeStrTuple = normalize_prefix(root_prefix)
        self._prune_interval = prune_interval

    @property
    def backend(self) -> LocalBackend:
        return self._backend

    def get_params(self) -> dict[str, Any]:
        return {
            **super().get_params(),
            "backend": self._backend,
            "root_prefix": self._prefix,
            "prune_interval": self._prune_interval,
        }

    def __reduce__(self) -> tuple[Any, ...]:
        raise TypeError(
            "a LocalDict lives in one process's memory and cannot be pickled; "
            "use a FileDirDict or an S3Dict to share items between processes"
        )

    def _locate(self, key: NonEmptySafeStrTuple) -> str:
        return "memory:/" + "/".join(self._prefix.strings + key.strings)

    def _node(self, key: NonEmptySafeStrTuple, create: bool) -> _Node | None:
        return self._backend.find(self._prefix.strings + key.strings[:-1], create)

    def _entry(self, key: NonEmptySafeStrTuple) -> _Entry:
        """Return the entry of ``key``, or raise ``KeyError``.

        Reads need no lock: entries are immutable and replaced whole, and
        each dict lookup on the way is atomic.
        """
        node = self._node(key, create=False)
        entries = None if node is None else node.entries.get(self.serialization_format)
        entry = None if entries is None else entries.get(key.strings[-1])
        if entry is None:
            raise KeyError(key)
        return entry

    # ------------------------------------------------------------ primitives

    def _read_bytes(self, key: NonEmptySafeStrTuple) -> tuple[bytes, ETagValue]:
        entry = self._entry(key)
        return entry.data, entry.etag

    def _get_with_etag(self, key: NonEmptySafeStrTuple) -> tuple[V, ETagValue]:
        entry = self._entry(key)
        return self._decode(key, entry.data), entry.etag

    def _get(self, key: NonEmptySafeStrTuple) -> V:
        return self._decode(key, self._entry(key).data)

    def _exclusive(self, key: NonEmptySafeStrTuple) -> AbstractContextManager[Any]:
        # The backend's reentrant lock: a transform then runs as one step
        # for every thread, so it never loses a race and never retries.
        return self._backend.lock

    def _stat(self, key: NonEmptySafeStrTuple) -> ItemInfo:
        entry = self._entry(key)
        return ItemInfo(entry.etag, entry.timestamp)

    def _write_bytes(
        self, key: NonEmptySafeStrTuple, data: bytes, expected: ETagIfExists | None
    ) -> ETagValue:
        with self._backend.lock:
            node = self._node(key, create=True)
            assert node is not None
            entries = node.entries.setdefault(self.serialization_format, {})
            name = key.strings[-1]
            if expected is not None:
                current = entries.get(name)
                actual = ITEM_NOT_AVAILABLE if current is None else current.etag
                if actual != expected:
                    raise ETagMismatch(actual)
            etag = self._backend.next_etag()
            entries[name] = _Entry(data, etag, time.time())
            return etag

    def _remove(self, key: NonEmptySafeStrTuple, expected: ETagValue | None) -> bool:
        with self._backend.lock:
            node = self._node(key, create=False)
            entries = (
                None if node is None else node.entries.get(self.serialization_format)
            )
            name = key.strings[-1]
            current = None if entries is None else entries.get(name)
            if expected is not None and (current is None or current.etag != expected):
                raise ETagMismatch(
                    ITEM_NOT_AVAILABLE if current is None else current.etag
                )
            if current is None or entries is None:
                return False
            del entries[name]
            self._backend.note_deletion(self._prune_interval)
            return True

    def _scan(
        self, with_info: bool
    ) -> Iterator[tuple[NonEmptySafeStrTuple, ItemInfo | None]]:
        # Take a snapshot under the lock, so that concurrent writers never
        # change a dict while it is being iterated.
        with self._backend.lock:
            root = self._backend.find(self._prefix.strings, create=False)
            found: list[tuple[NonEmptySafeStrTuple, ItemInfo | None]] = []
            if root is not None:
                self._collect(root, (), with_info, found)
        return iter(found)

    def _collect(
        self,
        node: _Node,
        path: tuple[str, ...],
        with_info: bool,
        found: list[tuple[NonEmptySafeStrTuple, ItemInfo | None]],
    ) -> None:
        for name, entry in node.entries.get(self.serialization_format, {}).items():
            info = ItemInfo(entry.etag, entry.timestamp) if with_info else None
            found.append((NonEmptySafeStrTuple._trusted((*path, name)), info))
        for name, child in node.children.items():
            self._collect(child, (*path, name), with_info, found)

    def _child(self, prefix: NonEmptySafeStrTuple) -> Self:
        params = self.get_params()
        params["root_prefix"] = SafeStrTuple._trusted(
            self._prefix.strings + prefix.strings
        )
        return type(self)(**params)
