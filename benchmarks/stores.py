"""Filled stores and the mapping cases that run over them, inside a worker.

A store is created and filled on first use, then kept for the life of the
worker process, so the file and layers groups share the fill cost. The kind
names the library. Which package a kind such as ``"ours"`` loads depends on
the worker, because ``import persidict`` finds our package in the project's
venv and the public one in the anchors' venv.

Values are a pickled dict of about 100 bytes (``SMALL``) or 100 KB of random
bytes (``LARGE``), under keys ``key-00000``, ``key-00001``...
"""

from __future__ import annotations

import os
import pickle
import random
import shelve
import time
from typing import Any

from .timing import Case

__all__ = [
    "LARGE",
    "PICKLE_PROTOCOL",
    "SMALL",
    "ContainsCase",
    "GetCase",
    "ItemsCase",
    "KeysCase",
    "LenCase",
    "SetCase",
    "Store",
    "StoreCase",
    "get_store",
    "make_key",
    "make_value",
    "read_file",
    "store_params",
    "teardown_stores",
    "write_file",
]

PICKLE_PROTOCOL = 5
SMALL = "small"
LARGE = "large"
LARGE_VALUE_BYTES = 100_000


def make_key(index: int) -> str:
    return f"key-{index:05d}"


def make_value(size: str, index: int) -> Any:
    if size == SMALL:
        # Pickles to 101 bytes with protocol 5.
        return {
            "id": index,
            "name": f"item-{index:06d}",
            "score": index * 0.5,
            "tags": ["alpha", "beta", "gamma"],
            "ok": True,
        }
    return random.Random(index).randbytes(LARGE_VALUE_BYTES)


def write_file(path: str, data: bytes, durable: bool) -> None:
    """Publish ``data`` at ``path`` through a temporary file: the write floor."""
    temp = path + ".tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    os.write(fd, data)
    if durable:
        os.fsync(fd)
    os.close(fd)
    os.replace(temp, path)
    if durable:
        folder_fd = os.open(os.path.dirname(path), os.O_RDONLY)
        os.fsync(folder_fd)
        os.close(folder_fd)


def read_file(path: str) -> Any:
    """Read and unpickle the file at ``path``: the read floor."""
    fd = os.open(path, os.O_RDONLY)
    size = os.fstat(fd).st_size
    data = os.read(fd, size)
    os.close(fd)
    return pickle.loads(data)


class Store:
    """A filled store of one kind: its keys, values, folder and mapping.

    Kinds: ``ours`` and ``public`` (``persidict.FileDirDict``), ``local`` (``persidict.LocalDict``), ``dict``
    (a plain dict), ``pickled-dict`` (a dict of pickled bytes),
    ``diskcache``, ``sqlitedict`` and ``shelve``.
    """

    def __init__(self, kind: str, folder: str, n_keys: int, size: str) -> None:
        self.kind = kind
        self.folder = folder
        self.size = size
        self.keys = [make_key(i) for i in range(n_keys)]
        self.values = [make_value(size, i) for i in range(n_keys)]
        self.mapping: Any = None

    def path(self, key: str) -> str:
        """Return the file of ``key`` in an ``ours`` store, for the floors.

        The floors work on the same files as our FileDirDict, so that both
        meet the same folder and the same place on the disk. The folder alone
        changed the cost of a 100 KB write by about 15% in a test on a 2-core
        VM with ext4.
        """
        if self.kind != "ours":
            raise ValueError(f"the floors need an 'ours' store, got {self.kind!r}")
        from persidict.keys import normalize_key

        # A private method, called before any timing: the floors must find
        # exactly the files that FileDirDict reads and writes.
        return str(self.mapping._path(normalize_key(key)))

    def fill(self) -> None:
        pairs = list(zip(self.keys, self.values, strict=True))
        kind = self.kind
        if kind == "ours":
            from persidict import FileDirDict

            FileDirDict(base_dir=self.folder, fsync=False).update(pairs)
            self.mapping = FileDirDict(base_dir=self.folder)
        elif kind == "public":
            from persidict import FileDirDict

            self.mapping = FileDirDict(base_dir=self.folder)
            for key, value in pairs:
                self.mapping[key] = value
        elif kind == "local":
            from persidict import LocalDict

            self.mapping = LocalDict()
            for key, value in pairs:
                self.mapping[key] = value
        elif kind == "dict":
            self.mapping = dict(pairs)
        elif kind == "pickled-dict":
            self.mapping = {k: pickle.dumps(v, PICKLE_PROTOCOL) for k, v in pairs}
        elif kind == "diskcache":
            import diskcache

            self.mapping = diskcache.Cache(self.folder)
            for key, value in pairs:
                self.mapping[key] = value
        elif kind == "sqlitedict":
            from sqlitedict import SqliteDict

            path = os.path.join(self.folder, "store.sqlite")
            # One commit for the fill; the measured handle commits every write.
            with SqliteDict(path, autocommit=False) as filler:
                for key, value in pairs:
                    filler[key] = value
                filler.commit()
            self.mapping = SqliteDict(path, autocommit=True)
        elif kind == "shelve":
            # Kept open for the life of the worker; teardown_stores closes it.
            self.mapping = shelve.open(os.path.join(self.folder, "shelf"))  # noqa: SIM115
            for key, value in pairs:
                self.mapping[key] = value
            self.mapping.sync()
        else:
            raise ValueError(
                f"invalid store kind {kind!r}; expected ours, public, local, "
                "dict, pickled-dict, diskcache, sqlitedict or shelve"
            )


_stores: dict[tuple[str, str, int, str], Store] = {}


def get_store(kind: str, folder: str, n_keys: int, size: str) -> Store:
    """Return the store of ``kind`` in ``folder``, creating and filling it once."""
    marker = (kind, folder, n_keys, size)
    store = _stores.get(marker)
    if store is None:
        os.makedirs(folder, exist_ok=True)
        store = Store(kind, folder, n_keys, size)
        store.fill()
        _stores[marker] = store
    return store


def store_params(
    scratch: str, kind: str, size: str, n_keys: int, **extra: Any
) -> dict[str, Any]:
    """Return the parameters of a ``StoreCase`` over a store in ``scratch``.

    Equal arguments name the same folder, so cases of several groups share
    one filled store.
    """
    return {
        "kind": kind,
        "folder": os.path.join(scratch, f"store-{kind}-{size}-{n_keys}"),
        "n_keys": n_keys,
        "size": size,
        **extra,
    }


def teardown_stores() -> None:
    """Close every store of this worker (sqlitedict and shelve need it)."""
    for store in _stores.values():
        close = getattr(store.mapping, "close", None)
        if close is not None:
            close()
    _stores.clear()


class StoreCase(Case):
    """A case over a store; ``batch`` is the number of keys one run touches.

    With an ``fsync`` parameter, a case over an ``ours`` store runs on its
    own ``FileDirDict`` handle with that setting.
    """

    def setup(self) -> None:
        p = self.params
        self.store = get_store(p["kind"], p["folder"], p["n_keys"], p["size"])
        batch = p.get("batch") or len(self.store.keys)
        self.keys = self.store.keys[:batch]
        self.values = self.store.values[:batch]
        self.mapping = self.store.mapping
        if p["kind"] == "ours" and "fsync" in p:
            from persidict import FileDirDict

            self.mapping = FileDirDict(base_dir=self.store.folder, fsync=p["fsync"])


class SetCase(StoreCase):
    def run(self) -> tuple[float, int]:
        mapping = self.mapping
        start = time.perf_counter()
        for key, value in zip(self.keys, self.values, strict=True):
            mapping[key] = value
        return time.perf_counter() - start, len(self.keys)


class GetCase(StoreCase):
    def run(self) -> tuple[float, int]:
        mapping = self.mapping
        start = time.perf_counter()
        for key in self.keys:
            mapping[key]
        return time.perf_counter() - start, len(self.keys)


class ContainsCase(StoreCase):
    def run(self) -> tuple[float, int]:
        mapping = self.mapping
        start = time.perf_counter()
        for key in self.keys:
            key in mapping  # noqa: B015
        return time.perf_counter() - start, len(self.keys)


class LenCase(StoreCase):
    def run(self) -> tuple[float, int]:
        mapping = self.mapping
        start = time.perf_counter()
        count = len(mapping)
        elapsed = time.perf_counter() - start
        check_count(count, self.keys)
        return elapsed, 1


class KeysCase(StoreCase):
    def run(self) -> tuple[float, int]:
        mapping = self.mapping
        # diskcache.Cache has no keys(); iterating it yields the keys.
        keys_of = (
            mapping.__iter__ if self.params["kind"] == "diskcache" else mapping.keys
        )
        start = time.perf_counter()
        keys = list(keys_of())
        elapsed = time.perf_counter() - start
        check_count(len(keys), self.keys)
        return elapsed, 1


class ItemsCase(StoreCase):
    def run(self) -> tuple[float, int]:
        mapping = self.mapping
        start = time.perf_counter()
        if self.params["kind"] == "diskcache":
            # diskcache.Cache has no items().
            items = [(key, mapping[key]) for key in mapping]
        else:
            items = list(mapping.items())
        elapsed = time.perf_counter() - start
        check_count(len(items), self.keys)
        return elapsed, 1


def check_count(count: int, keys: list[str]) -> None:
    if count != len(keys):
        raise AssertionError(f"expected {len(keys)} items, found {count}")
