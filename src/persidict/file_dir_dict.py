"""``FileDirDict``: one file per item in a folder tree on a local file system.

Layout: ``base_dir/c1_<d>/…/cn_<d>.<format>``, one folder per key component
but the last, where ``_<d>`` is the digest suffix of each component (see
``keys.digest_suffix``). It matches the public persidict package, so its
``json`` and text stores open here.

Guarantees, on a local POSIX file system:

- Atomic writes: a value goes to a uniquely named temporary file in the
  target folder and is published by ``os.replace`` (or ``os.link`` for an
  insert-if-absent), so a reader sees the old value or the new one, never a
  part, and a killed writer leaves no visible item.
- Durability: with ``fsync=True`` (the default) the file and its folder are
  flushed before a write or delete returns.
- ETags: modification time in nanoseconds, size and inode. Each write stamps
  its file with the clock in nanoseconds, so two writes of the same size
  within one file-system clock tick still get different ETags.
- Compare-and-swap (conditional writes and deletes) holds across processes
  on one machine: a byte-range ``fcntl`` lock per key, in a lock file of the
  key's folder, is held around the compare and the replace. Every write and
  delete takes it for its rename or unlink, so none can land between a
  compare and its replace. Reads never take it, and the kernel drops it when
  its holder dies. On NFS the lock works only where the server supports
  POSIX locks (NFSv4, or v3 with lockd); other network file systems may not
  honour it.
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
import stat
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, suppress
from typing import Any, Final, NoReturn, Self, TypeVar

from ._locks import key_lock
from .base import ETagMismatch, ItemInfo
from .errors import BackendError
from .flags import ITEM_NOT_AVAILABLE, ETagIfExists, ETagValue
from .keys import NonEmptySafeStrTuple, add_digest, strip_digest
from .storage import StorageDict

__all__ = ["FileDirDict"]

logger = logging.getLogger(__name__)

V = TypeVar("V")

# Temporary and lock files carry a "+", which no key component may contain,
# so a scan never mistakes them for items.
_TEMP_SUFFIX: Final = ".tmp"
_LOCK_NAME: Final = "+persidict.lock"

# Seconds after which a temporary file is taken for the leftover of a killed
# writer. A live write takes far less between creating its file and renaming
# it, so a scan may remove older ones.
_STALE_TEMP_AGE: Final = 3600.0

_OPEN_READ: Final = os.O_RDONLY | os.O_CLOEXEC
_OPEN_NEW: Final = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
_NAME_MAX: Final = 255

# Paths remembered per handle; the memo is dropped whole when full.
_PATH_CACHE_SIZE: Final = 65536


def _etag_of(st: os.stat_result) -> ETagValue:
    return ETagValue(f"{st.st_mtime_ns:x}-{st.st_size:x}-{st.st_ino:x}")


def _info_of(st: os.stat_result) -> ItemInfo:
    return ItemInfo(_etag_of(st), st.st_mtime_ns / 1e9)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, _OPEN_READ)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileDirDict(StorageDict[V]):
    """A dict that keeps each value in its own file under ``base_dir``.

    Safe to share between threads and processes on one machine; a handle
    pickles as a reference to the same folder, so it can be passed to
    ``multiprocessing`` workers. Needs a POSIX system (``fcntl``).
    """

    def __init__(
        self,
        *,
        base_dir: str | os.PathLike[str] = "__file_dir_dict__",
        digest_len: int = 4,
        fsync: bool = True,
        serialization_format: str = "pkl",
        append_only: bool = False,
        base_class_for_values: type | None = None,
    ) -> None:
        super().__init__(
            serialization_format=serialization_format,
            append_only=append_only,
            base_class_for_values=base_class_for_values,
        )
        if (
            not isinstance(digest_len, int)
            or isinstance(digest_len, bool)
            or digest_len < 0
        ):
            raise ValueError(f"digest_len must be an int >= 0, got {digest_len!r}")
        if not isinstance(fsync, bool):
            raise TypeError(f"fsync must be a bool, got {fsync!r}")
        if not isinstance(base_dir, (str, os.PathLike)):
            raise TypeError(f"base_dir must be a path, got {base_dir!r}")

        self._base_dir = os.path.abspath(os.fspath(base_dir))
        self._digest_len = digest_len
        self._fsync = fsync
        self._extension = "." + serialization_format
        self._paths: dict[tuple[str, ...], str] = {}
        self._etag_fields: dict[str, tuple[int, int, int]] = {}
        try:
            os.makedirs(self._base_dir, exist_ok=True)
        except OSError as err:
            raise BackendError(
                f"cannot create the base folder {self._base_dir!r}: {err}",
                backend="FileDirDict",
                operation="open",
            ) from err

    @property
    def base_dir(self) -> str:
        return self._base_dir

    @property
    def digest_len(self) -> int:
        return self._digest_len

    @property
    def fsync(self) -> bool:
        return self._fsync

    def get_params(self) -> dict[str, Any]:
        return {
            **super().get_params(),
            "base_dir": self._base_dir,
            "digest_len": self._digest_len,
            "fsync": self._fsync,
        }

    # -------------------------------------------------------------- layout

    def _path(self, key: NonEmptySafeStrTuple) -> str:
        # Every operation starts here, so paths are remembered: building one
        # costs more than the stat that often follows.
        strings = key.strings
        path = self._paths.get(strings)
        if path is None:
            path = self._build_path(key)
            if len(self._paths) >= _PATH_CACHE_SIZE:
                self._paths.clear()
            self._paths[strings] = path
        return path

    def _build_path(self, key: NonEmptySafeStrTuple) -> str:
        names = [add_digest(c, self._digest_len) for c in key.strings]
        names[-1] += self._extension
        for name in names:
            if len(name) > _NAME_MAX:
                raise ValueError(
                    f"key {key!r} needs the file name {name[:40]!r}... of "
                    f"{len(name)} characters, over the file-system limit of "
                    f"{_NAME_MAX}; shorten that key component"
                )
        return os.path.join(self._base_dir, *names)

    def _locate(self, key: NonEmptySafeStrTuple) -> str:
        return self._path(key)

    def _fail(self, err: OSError, operation: str, key: Any, path: str) -> NoReturn:
        raise BackendError(
            f"FileDirDict failed to {operation} key {key!r} at {path!r}: "
            f"{err.strerror or err}",
            backend="FileDirDict",
            operation=operation,
            key=key,
        ) from err

    # --------------------------------------------------------------- reads

    def _read_file(self, key: NonEmptySafeStrTuple) -> tuple[bytes, os.stat_result]:
        """Return the bytes of ``key`` and the ``fstat`` of the file they came from."""
        path = self._path(key)
        try:
            fd = os.open(path, _OPEN_READ)
        except (FileNotFoundError, NotADirectoryError):
            raise KeyError(key) from None
        except OSError as err:
            self._fail(err, "read", key, path)
        try:
            # The stat comes from the open descriptor, so it describes exactly
            # the bytes read: files are replaced whole, never changed in place.
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise KeyError(key)
            data = _read_all(fd, st.st_size)
        except OSError as err:
            self._fail(err, "read", key, path)
        finally:
            os.close(fd)
        return data, st

    def _read_bytes(self, key: NonEmptySafeStrTuple) -> tuple[bytes, ETagValue]:
        data, st = self._read_file(key)
        return data, _etag_of(st)

    def _get(self, key: NonEmptySafeStrTuple) -> V:
        # A plain read skips building the ETag, which no caller uses.
        return self._decode(key, self._read_file(key)[0])

    def _read_bytes_if_changed(
        self, key: NonEmptySafeStrTuple, etag: ETagValue
    ) -> tuple[bytes, ETagValue] | None:
        path = self._path(key)
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            raise KeyError(key) from None
        except OSError as err:
            self._fail(err, "stat", key, path)
        if stat.S_ISREG(st.st_mode) and self._matches(st, etag):
            return None
        return self._read_bytes(key)

    def _matches(self, st: os.stat_result, etag: ETagValue) -> bool:
        """Return True if ``st`` is the file that ``etag`` was made from.

        Cache revalidation calls this on every hit, so the ETag's fields
        are parsed once and remembered, rather than formatted from ``st``.
        """
        fields = self._etag_fields.get(etag)
        if fields is None:
            try:
                mtime_ns, size, inode = (int(part, 16) for part in etag.split("-"))
            except (ValueError, AttributeError):
                return False
            # int() also reads "0x1f", " 1f" or "1_f": only the exact form
            # this dict writes may match.
            if etag != f"{mtime_ns:x}-{size:x}-{inode:x}":
                return False
            fields = (mtime_ns, size, inode)
            if len(self._etag_fields) >= _PATH_CACHE_SIZE:
                self._etag_fields.clear()
            self._etag_fields[etag] = fields
        return (st.st_mtime_ns, st.st_size, st.st_ino) == fields

    def _stat(self, key: NonEmptySafeStrTuple) -> ItemInfo:
        path = self._path(key)
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            raise KeyError(key) from None
        except OSError as err:
            self._fail(err, "stat", key, path)
        if not stat.S_ISREG(st.st_mode):
            raise KeyError(key)
        return _info_of(st)

    def _contains(self, key: NonEmptySafeStrTuple) -> bool:
        try:
            st = os.stat(self._path(key))
        except (FileNotFoundError, NotADirectoryError):
            return False
        return stat.S_ISREG(st.st_mode)

    # -------------------------------------------------------------- writes

    def _write_bytes(
        self, key: NonEmptySafeStrTuple, data: bytes, expected: ETagIfExists | None
    ) -> ETagValue:
        path = self._path(key)
        folder = os.path.dirname(path)
        try:
            temp, etag = self._write_temp(folder, data)
        except OSError as err:
            self._fail(err, "write", key, path)
        try:
            try:
                self._publish(temp, path, expected)
            except FileNotFoundError:
                if os.path.lexists(temp):
                    raise
                # A scan took the temporary file for a leftover while this
                # write waited over an hour for the key lock: write it again.
                temp, etag = self._write_temp(folder, data)
                self._publish(temp, path, expected)
        except ETagMismatch:
            _unlink_quietly(temp)
            raise
        except IsADirectoryError as err:
            _unlink_quietly(temp)
            raise ValueError(
                f"key {key!r} maps to {path!r}, which is a folder of other keys; "
                "with digest_len=0 a component ending in the format's extension "
                "can clash with a folder, so use digest_len > 0"
            ) from err
        except OSError as err:
            _unlink_quietly(temp)
            self._fail(err, "write", key, path)
        if self._fsync:
            self._sync_folder(folder, key)
        return etag

    def _write_temp(self, folder: str, data: bytes) -> tuple[str, ETagValue]:
        """Write ``data`` to a new temporary file in ``folder``; return its path
        and the ETag it will have once renamed (renames keep the inode and
        the times)."""
        # A writer killed before its rename leaves this file behind: a scan
        # removes it once it is older than _STALE_TEMP_AGE.
        temp = os.path.join(folder, f"+{secrets.token_hex(8)}{_TEMP_SUFFIX}")
        try:
            fd = os.open(temp, _OPEN_NEW, 0o666)
        except FileNotFoundError:
            os.makedirs(folder, exist_ok=True)
            fd = os.open(temp, _OPEN_NEW, 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            # Stamp the file with the clock in nanoseconds: file-system
            # timestamps are coarser, and the ETag must differ between two
            # writes of the same size within one tick.
            now = time.time_ns()
            os.utime(fd, ns=(now, now))
            if self._fsync:
                os.fsync(fd)
            st = os.fstat(fd)
        except BaseException:
            os.close(fd)
            _unlink_quietly(temp)
            raise
        os.close(fd)
        return temp, _etag_of(st)

    def _publish(self, temp: str, path: str, expected: ETagIfExists | None) -> None:
        """Rename the complete ``temp`` to ``path`` if ``expected`` holds."""
        folder = os.path.dirname(path)
        if expected is None:
            # Plain writes take the key lock too: a compare-and-swap checks
            # and replaces under it, and must not replace a plain write that
            # landed after its check.
            with self._key_lock(folder, path):
                os.replace(temp, path)
        elif expected is ITEM_NOT_AVAILABLE:
            self._link_new(temp, path)
        else:
            with self._key_lock(folder, path):
                actual = self._current_etag(path)
                if actual != expected:
                    raise ETagMismatch(actual)
                os.replace(temp, path)

    def _link_new(self, temp: str, path: str) -> None:
        # link() fails with EEXIST when the target exists, which makes the
        # insert-if-absent one atomic step without any lock.
        try:
            os.link(temp, path)
        except FileExistsError:
            raise ETagMismatch(None) from None
        except OSError as err:
            if err.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV):
                raise
            # The file system has no hard links: fall back to the key lock.
            with self._key_lock(os.path.dirname(path), path):
                if self._current_etag(path) is not ITEM_NOT_AVAILABLE:
                    raise ETagMismatch(None) from None
                os.replace(temp, path)
                return
        _unlink_quietly(temp)

    def _current_etag(self, path: str) -> ETagIfExists:
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return ITEM_NOT_AVAILABLE
        return _etag_of(st) if stat.S_ISREG(st.st_mode) else ITEM_NOT_AVAILABLE

    def _key_lock(self, folder: str, path: str) -> AbstractContextManager[bool]:
        """Hold the lock of the key stored at ``path``, in its folder's lock file."""
        return key_lock(os.path.join(folder, _LOCK_NAME), os.path.basename(path))

    def _exclusive(self, key: NonEmptySafeStrTuple) -> AbstractContextManager[Any]:
        path = self._path(key)
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        return self._key_lock(folder, path)

    def _sync_folder(self, folder: str, key: Any) -> None:
        try:
            _fsync_dir(folder)
        except OSError as err:
            self._fail(err, "flush the folder of", key, folder)

    def _remove(self, key: NonEmptySafeStrTuple, expected: ETagValue | None) -> bool:
        path = self._path(key)
        folder = os.path.dirname(path)
        try:
            with self._key_lock(folder, path):
                if expected is not None:
                    actual = self._current_etag(path)
                    if actual != expected:
                        raise ETagMismatch(actual)
                os.unlink(path)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            if expected is not None:
                raise ETagMismatch(ITEM_NOT_AVAILABLE) from None
            return False
        except OSError as err:
            self._fail(err, "delete", key, path)
        if self._fsync:
            self._sync_folder(folder, key)
        return True

    # ---------------------------------------------------------- listing

    def _scan(
        self, with_info: bool
    ) -> Iterator[tuple[NonEmptySafeStrTuple, ItemInfo | None]]:
        return self._walk(self._base_dir, (), with_info)

    def _walk(
        self, folder: str, prefix: tuple[str, ...], with_info: bool
    ) -> Iterator[tuple[NonEmptySafeStrTuple, ItemInfo | None]]:
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            # The folder was removed while we walked: it has no keys now.
            return
        extension = self._extension
        digest_len = self._digest_len
        subfolders = []
        for entry in entries:
            name = entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir:
                component = strip_digest(name, digest_len)
                if component is not None:
                    subfolders.append((entry.path, component))
                continue
            if not name.endswith(extension):
                if name.startswith("+") and name.endswith(_TEMP_SUFFIX):
                    _remove_if_stale(entry)
                continue
            component = strip_digest(name[: -len(extension)], digest_len)
            if component is None:
                continue
            info = None
            if with_info:
                try:
                    st = entry.stat()
                except FileNotFoundError:
                    # Deleted since the folder was listed: skip it.
                    continue
                if not stat.S_ISREG(st.st_mode):
                    continue
                info = _info_of(st)
            yield NonEmptySafeStrTuple._trusted((*prefix, component)), info
        for path, component in subfolders:
            yield from self._walk(path, (*prefix, component), with_info)

    def _subdict_names(self) -> set[str]:
        names = set()
        try:
            entries = list(os.scandir(self._base_dir))
        except FileNotFoundError:
            return set()
        for entry in entries:
            if not entry.is_dir(follow_symlinks=False):
                continue
            component = strip_digest(entry.name, self._digest_len)
            # A folder whose keys were all deleted is not a sub-dict.
            if component is not None and next(
                self._walk(entry.path, (component,), False), None
            ):
                names.add(component)
        return names

    def _remove_all(self) -> None:
        for key, _ in self._scan(False):
            self._remove(key, None)

    def _child(self, prefix: NonEmptySafeStrTuple) -> Self:
        params = self.get_params()
        params["base_dir"] = os.path.join(
            self._base_dir, *(add_digest(c, self._digest_len) for c in prefix.strings)
        )
        return type(self)(**params)


def _remove_if_stale(entry: os.DirEntry[str]) -> None:
    """Remove a temporary file that no live writer can still be writing."""
    try:
        st = entry.stat(follow_symlinks=False)
        # The change time comes from the kernel (or the NFS server), so unlike
        # the modification time it is never the stamp a writer set.
        if time.time() - max(st.st_mtime, st.st_ctime) > _STALE_TEMP_AGE:
            os.unlink(entry.path)
            logger.info("removed %s, a temporary file over an hour old", entry.path)
    except OSError:
        # Renamed, removed or unreadable since the folder was listed.
        return


def _read_all(fd: int, size: int) -> bytes:
    # Published files are never changed in place, so the size from fstat is
    # final; the loop only covers short reads of very large files.
    data = os.read(fd, size)
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _unlink_quietly(path: str) -> None:
    with suppress(FileNotFoundError):
        os.unlink(path)
