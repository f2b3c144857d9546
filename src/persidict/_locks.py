"""Per-key locks between the processes of one machine.

A lock is one byte of a lock file, locked with ``fcntl``: each key maps to an
offset derived from its name, so one file serves many keys and keys rarely
wait for one another. The kernel drops the lock when its holder closes the
file or dies, so a crashed process never leaves a key locked. A lock is
reentrant within a thread.

``FileDirDict`` keeps its lock file in each folder of the store. The S3
backends keep theirs in a folder of this machine (``host_lock_folder``):
there the lock only keeps the processes of one machine from racing one
another, and the server's conditional requests still decide between
machines.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import struct
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

__all__ = ["LOCK_FOLDER_VARIABLE", "host_lock_folder", "key_lock"]

logger = logging.getLogger("persidict")

# Environment variable naming the folder of the S3 backends' lock files.
LOCK_FOLDER_VARIABLE: Final = "PERSIDICT_LOCK_DIR"

_OFFSET_MASK: Final = 0x7FFFFFFF

_thread_state = threading.local()


def _held_locks() -> set[tuple[str, int]]:
    """Return the (lock file, offset) pairs the current thread holds."""
    locks: set[tuple[str, int]] | None = getattr(_thread_state, "held", None)
    if locks is None:
        locks = _thread_state.held = set()
    return locks


# Bounds, in seconds, of the pauses between tries of a lock with a timeout.
_FIRST_POLL = 0.0005
_MAX_POLL = 0.005

if hasattr(fcntl, "F_OFD_SETLKW"):

    def _lock_byte(fd: int, offset: int, wait: bool) -> None:
        # An open-file-description lock (Linux): owned by this descriptor, so
        # two threads of one process exclude each other, and closing another
        # descriptor of the same file does not release it, unlike lockf().
        request = struct.pack("@hhqqi", fcntl.F_WRLCK, os.SEEK_SET, offset, 1, 0)
        fcntl.fcntl(fd, fcntl.F_OFD_SETLKW if wait else fcntl.F_OFD_SETLK, request)

else:

    def _lock_byte(fd: int, offset: int, wait: bool) -> None:
        # Without OFD locks, flock() the whole file: also owned by the open
        # file description, but it serialises every key of the file.
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)


def _lock_within(fd: int, offset: int, timeout: float) -> bool:
    """Try to lock the byte until ``timeout`` seconds have passed; return
    whether it was locked."""
    deadline = time.monotonic() + timeout
    pause = _FIRST_POLL
    while True:
        try:
            _lock_byte(fd, offset, wait=False)
            return True
        except OSError as err:
            if err.errno not in (errno.EAGAIN, errno.EACCES):
                raise
        if time.monotonic() >= deadline:
            return False
        time.sleep(pause)
        pause = min(pause * 2, _MAX_POLL)


# The descriptors of the locks this process holds, each with the token of
# the key_lock call that opened it.
_open_locks: dict[int, object] = {}


def _forget_locks_in_child() -> None:
    """Drop, in a forked child, the locks that the parent held at the fork.

    The child's copies of their descriptors share the parent's open file
    descriptions, so they would keep those locks held while the child
    lives, and the child would take itself for their holder.
    """
    for fd in list(_open_locks):
        try:
            os.close(fd)
        except OSError:
            pass
    _open_locks.clear()
    _thread_state.held = set()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_locks_in_child)


@contextmanager
def key_lock(
    lock_file: str, name: str, timeout: float | None = None, optional: bool = False
) -> Iterator[bool]:
    """Hold the lock of ``name`` in ``lock_file``, creating the file if needed.

    Two names that map to the same byte share a lock. That costs only some
    waiting, because a thread that has the byte locked may enter it again
    for either name. With a ``timeout``, the context goes on without the lock
    once that many seconds have passed. With ``optional``, a lock file that
    cannot be opened is logged once and the context goes on without it. It
    yields True if it has the lock.
    """
    offset = zlib.crc32(name.encode()) & _OFFSET_MASK
    held_locks = _held_locks()
    if (lock_file, offset) in held_locks:
        yield True
        return
    try:
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError as err:
        if not optional:
            raise
        _warn_once(lock_file, f"cannot open the lock file {lock_file}: {err}")
        yield False
        return
    token = object()
    _open_locks[fd] = token
    try:
        if timeout is None:
            _lock_byte(fd, offset, wait=True)
        elif not _lock_within(fd, offset, timeout):
            yield False
            return
        held_locks.add((lock_file, offset))
        try:
            yield True
        finally:
            held_locks.discard((lock_file, offset))
    finally:
        # Closing the descriptor releases the lock; the kernel also does that
        # when the process dies. In a forked child the descriptor was
        # closed already, and its number may belong to another file since.
        if _open_locks.get(fd) is token:
            del _open_locks[fd]
            os.close(fd)


# Lock folders and files already warned about.
_warned_paths: set[str] = set()


def host_lock_folder() -> str | None:
    """Return this user's folder for lock files, or ``None`` if it is unusable.

    ``$PERSIDICT_LOCK_DIR`` if set, else ``persidict-locks-<uid>`` in the
    system's temporary folder. The folder is created private to the user. A
    folder owned by another user is never used: locks then fall back to none,
    which costs only lost races, never a wrong result.
    """
    folder = os.environ.get(LOCK_FOLDER_VARIABLE) or os.path.join(
        tempfile.gettempdir(), f"persidict-locks-{os.getuid()}"
    )
    # Checked on every call, which costs microseconds beside a request: a
    # cleaner of the temporary folder may have removed it since.
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        owner = os.stat(folder).st_uid
    except OSError as err:
        _warn_once(folder, f"cannot create the lock folder {folder}: {err}")
        return None
    if owner != os.getuid():
        _warn_once(folder, f"the lock folder {folder} belongs to another user")
        return None
    return folder


def _warn_once(path: str, problem: str) -> None:
    if path not in _warned_paths:
        _warned_paths.add(path)
        logger.warning(
            "%s. Transforms of S3 keys from this machine will race one another "
            "until %s names a folder of yours.",
            problem,
            LOCK_FOLDER_VARIABLE,
        )
