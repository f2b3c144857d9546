"""``StorageDict``: the base of backends that store each value as bytes.

A backend implements the byte-level primitives ``_read_bytes``,
``_write_bytes`` (and optionally ``_read_bytes_if_changed``) plus the
value-free primitives of ``PersiDict`` (``_stat``, ``_remove``, ``_scan``,
``_child``). This class turns values into bytes and back with the codec of
the dict's serialization format, so every backend round-trips values alike.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, TypeVar

from .base import ItemInfo, PersiDict
from .codecs import Codec, get_codec
from .errors import CorruptValueError
from .flags import ETagIfExists, ETagValue
from .keys import NonEmptySafeStrTuple

__all__ = ["StorageDict"]

V = TypeVar("V")


class StorageDict(PersiDict[V]):
    """A ``PersiDict`` whose backend stores encoded bytes under each key."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._codec: Codec = get_codec(self.serialization_format)

    # ------------------------------------------------- byte-level primitives

    @abstractmethod
    def _read_bytes(self, key: NonEmptySafeStrTuple) -> tuple[bytes, ETagValue]:
        """Return the stored bytes and their ETag; ``KeyError`` if absent."""

    def _read_bytes_if_changed(
        self, key: NonEmptySafeStrTuple, etag: ETagValue
    ) -> tuple[bytes, ETagValue] | None:
        """Return ``None`` if ``etag`` is current, else the bytes and new ETag."""
        if self._stat(key).etag == etag:
            return None
        return self._read_bytes(key)

    @abstractmethod
    def _write_bytes(
        self, key: NonEmptySafeStrTuple, data: bytes, expected: ETagIfExists | None
    ) -> ETagValue:
        """Publish ``data`` atomically under ``key``, with the ``_put`` contract."""

    @abstractmethod
    def _locate(self, key: NonEmptySafeStrTuple) -> str:
        """Return where ``key`` is stored (a path or URL), for error messages."""

    # ------------------------------------------------------------ decoding

    def _decode(self, key: NonEmptySafeStrTuple, data: bytes) -> V:
        try:
            value = self._codec.decode(data)
        except ImportError as err:
            # A value that needs an optional extra is not corrupt: the
            # message names the extra to install.
            raise ImportError(
                f"cannot read key {key!r} at {self._locate(key)}: {err}"
            ) from err
        except Exception as err:
            # Any decoder error means unreadable data under this key; the
            # message names both, and other keys stay readable.
            raise CorruptValueError(
                f"cannot decode the {self.serialization_format} value of key "
                f"{key!r} at {self._locate(key)}: {type(err).__name__}: {err}; "
                "rewrite or delete this item",
                backend=type(self).__name__,
                key=key,
                location=self._locate(key),
            ) from err
        base_class = self._base_class_for_values
        if base_class is not None and not isinstance(value, base_class):
            raise TypeError(
                f"the stored value of key {key!r} at {self._locate(key)} is a "
                f"{type(value).__name__}, not an instance of {base_class.__name__}"
            )
        return value  # type: ignore[no-any-return]

    # ------------------------------------------- value primitives from bytes

    def _get_with_etag(self, key: NonEmptySafeStrTuple) -> tuple[V, ETagValue]:
        data, etag = self._read_bytes(key)
        return self._decode(key, data), etag

    def _get_if_changed(
        self, key: NonEmptySafeStrTuple, etag: ETagValue
    ) -> tuple[V, ETagValue] | None:
        fresh = self._read_bytes_if_changed(key, etag)
        if fresh is None:
            return None
        data, new_etag = fresh
        return self._decode(key, data), new_etag

    def _put(
        self, key: NonEmptySafeStrTuple, value: V, expected: ETagIfExists | None
    ) -> ETagValue:
        return self._write_bytes(key, self._codec.encode(value), expected)

    @abstractmethod
    def _stat(self, key: NonEmptySafeStrTuple) -> ItemInfo: ...
