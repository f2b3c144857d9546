"""FileDirDict against the raw file-system floor, the public package and other stores.

Stores hold 1,000 small values (a pickled dict of about 100 bytes) or 40
values of 100 KB (random bytes). Writes overwrite existing keys with values
of the same size.

The stores and the generic cases (set, get, ``in``, ``len``, ``keys``,
``items``) are in ``stores.py``. The floors do in plain ``os`` calls what any
store of one file per value must do, on the files of our FileDirDict store,
with each path computed before the timed loop:

- durable write: pickle, create a temporary file, write, ``fsync`` it,
  ``os.replace`` it, then open, ``fsync`` and close the folder;
- write: the same without either ``fsync``;
- read: ``os.open``, ``os.fstat`` (the size of the read), ``os.read``,
  ``os.close``, unpickle;
- ``os.stat`` of the path, for ``in``;
- ``os.scandir`` of the folder, for ``len`` and ``keys``, and scandir plus a
  read of each file, for ``items``.
"""

from __future__ import annotations

import os
import pickle
import time
from typing import Any

from .context import Context, GroupResult
from .stores import (
    LARGE,
    PICKLE_PROTOCOL,
    SMALL,
    ContainsCase,
    GetCase,
    ItemsCase,
    KeysCase,
    LenCase,
    SetCase,
    StoreCase,
    check_count,
    read_file,
    store_params,
    write_file,
)
from .timing import Case, Contender, Row, Target

__all__ = ["run_group"]


class FloorCase(StoreCase):
    """A floor case: plain ``os`` calls on the files of an ``ours`` store."""

    def setup(self) -> None:
        super().setup()
        self.paths = [self.store.path(key) for key in self.keys]


class FloorSetCase(FloorCase):
    def run(self) -> tuple[float, int]:
        durable = self.params["durable"]
        paths = self.paths
        start = time.perf_counter()
        for path, value in zip(paths, self.values, strict=True):
            write_file(path, pickle.dumps(value, PICKLE_PROTOCOL), durable)
        return time.perf_counter() - start, len(paths)


class FloorGetCase(FloorCase):
    def run(self) -> tuple[float, int]:
        paths = self.paths
        start = time.perf_counter()
        for path in paths:
            read_file(path)
        return time.perf_counter() - start, len(paths)


class FloorStatCase(FloorCase):
    def run(self) -> tuple[float, int]:
        paths = self.paths
        stat = os.stat
        start = time.perf_counter()
        for path in paths:
            stat(path)
        return time.perf_counter() - start, len(paths)


class FloorScanCase(FloorCase):
    """``os.scandir`` of the folder, keeping names with the value extension."""

    def run(self) -> tuple[float, int]:
        folder = self.store.folder
        start = time.perf_counter()
        with os.scandir(folder) as entries:
            names = [e.name[:-4] for e in entries if e.name.endswith(".pkl")]
        elapsed = time.perf_counter() - start
        check_count(len(names), self.keys)
        return elapsed, 1


class FloorItemsCase(FloorCase):
    """``os.scandir`` of the folder and a read of every value file."""

    def run(self) -> tuple[float, int]:
        folder = self.store.folder
        start = time.perf_counter()
        with os.scandir(folder) as entries:
            items = [
                (e.name[:-4], read_file(e.path))
                for e in entries
                if e.name.endswith(".pkl")
            ]
        elapsed = time.perf_counter() - start
        check_count(len(items), self.keys)
        return elapsed, 1


# ------------------------------------------------------------ coordinator

OURS = "FileDirDict"
OURS_DURABLE = "FileDirDict fsync=True"
OURS_FAST = "FileDirDict fsync=False"
PUBLIC = "public FileDirDict 0.309.0"
DISKCACHE = "diskcache.Cache 5.6.3"
SQLITEDICT = "SqliteDict 2.1.0, autocommit"
SHELVE = "shelve (dbm.dumb)"
FLOOR_DURABLE = "floor: durable write"
FLOOR_FAST = "floor: write"
FLOOR_READ = "floor: read"
FLOOR_STAT = "floor: os.stat"
FLOOR_SCAN = "floor: os.scandir"
FLOOR_ITEMS = "floor: scandir + reads"

# Labels of the anchors that run in the anchors' worker, by store kind.
ANCHOR_KINDS = {
    PUBLIC: "public",
    DISKCACHE: "diskcache",
    SQLITEDICT: "sqlitedict",
    SHELVE: "shelve",
}


class _Plan:
    """Builds contenders over the stores of one value size."""

    def __init__(self, ctx: Context, size: str, n_keys: int) -> None:
        self.ctx = ctx
        self.size = size
        self.n_keys = n_keys

    def params(self, kind: str, **extra: Any) -> dict[str, Any]:
        return store_params(
            str(self.ctx.scratch), kind, self.size, self.n_keys, **extra
        )

    def ours(self, label: str, case: type[Case], **extra: Any) -> Contender:
        return Contender(label, self.ctx.ours, case, self.params("ours", **extra))

    def floor(self, label: str, case: type[Case], **extra: Any) -> Contender:
        # The floors run on the files of our store; see Store.path.
        return Contender(label, self.ctx.ours, case, self.params("ours", **extra))

    def anchor(self, label: str, case: type[Case], **extra: Any) -> Contender:
        kind = ANCHOR_KINDS[label]
        return Contender(label, self.ctx.anchors, case, self.params(kind, **extra))


def run_group(ctx: Context) -> GroupResult:
    start = time.perf_counter()
    quick = ctx.quick
    n_small = 100 if quick else 1000
    n_large = 5 if quick else 40
    durable_batch = 5 if quick else 100
    fast_batch = 20 if quick else 200
    large_batch = 3 if quick else 20
    rows: list[Row] = []

    small = _Plan(ctx, SMALL, n_small)
    large = _Plan(ctx, LARGE, n_large)

    for plan, label in ((small, "~100 B"), (large, "100 KB")):
        batch = durable_batch if plan is small else large_batch
        samples = ctx.alternate(
            f"set {label}, durable",
            [
                plan.ours(OURS_DURABLE, SetCase, fsync=True, batch=batch),
                plan.floor(FLOOR_DURABLE, FloorSetCase, durable=True, batch=batch),
                plan.anchor(PUBLIC, SetCase, batch=batch),
                plan.anchor(SQLITEDICT, SetCase, batch=batch),
            ],
        )
        operation = f"set {label}, durable"
        rows += [
            Row.compare(
                operation, samples, OURS_DURABLE, FLOOR_DURABLE, Target.at_most(1.15)
            ),
            Row.compare(operation, samples, OURS_DURABLE, PUBLIC),
            Row.compare(operation, samples, OURS_DURABLE, SQLITEDICT),
        ]

        batch = fast_batch if plan is small else large_batch
        samples = ctx.alternate(
            f"set {label}, no fsync",
            [
                plan.ours(OURS_FAST, SetCase, fsync=False, batch=batch),
                plan.floor(FLOOR_FAST, FloorSetCase, durable=False, batch=batch),
                plan.anchor(DISKCACHE, SetCase, batch=batch),
                plan.anchor(SHELVE, SetCase, batch=batch),
            ],
        )
        operation = f"set {label}, no fsync"
        rows += [
            Row.compare(operation, samples, OURS_FAST, FLOOR_FAST, Target.at_most(1.3)),
            Row.compare(operation, samples, OURS_FAST, DISKCACHE),
            Row.compare(operation, samples, OURS_FAST, SHELVE),
        ]

        samples = ctx.alternate(
            f"get {label}",
            [
                plan.ours(OURS, GetCase),
                plan.floor(FLOOR_READ, FloorGetCase),
                plan.anchor(PUBLIC, GetCase),
                plan.anchor(DISKCACHE, GetCase),
                plan.anchor(SQLITEDICT, GetCase),
                plan.anchor(SHELVE, GetCase),
            ],
        )
        operation = f"get {label}"
        rows += [
            Row.compare(operation, samples, OURS, FLOOR_READ, Target.at_most(1.5)),
            Row.compare(operation, samples, OURS, PUBLIC, Target.faster_by(5)),
            Row.compare(operation, samples, OURS, DISKCACHE),
            Row.compare(operation, samples, OURS, SQLITEDICT),
            Row.compare(operation, samples, OURS, SHELVE),
        ]

    everyone = [PUBLIC, DISKCACHE, SQLITEDICT, SHELVE]
    for operation, case, floor_label, floor_case, target in (
        ("contains", ContainsCase, FLOOR_STAT, FloorStatCase, Target.at_most(1.5)),
        (f"len() of {n_small}", LenCase, FLOOR_SCAN, FloorScanCase, None),
        (f"list(keys()) of {n_small}", KeysCase, FLOOR_SCAN, FloorScanCase, None),
        (
            f"list(items()) of {n_small}",
            ItemsCase,
            FLOOR_ITEMS,
            FloorItemsCase,
            None,
        ),
    ):
        samples = ctx.alternate(
            operation,
            [
                small.ours(OURS, case),
                small.floor(floor_label, floor_case),
                *(small.anchor(label, case) for label in everyone),
            ],
        )
        rows.append(Row.compare(operation, samples, OURS, floor_label, target))
        rows += [Row.compare(operation, samples, OURS, label) for label in everyone]

    notes = [
        f"{n_small} values of about 100 bytes (a pickled dict) and {n_large} "
        "values of 100 KB (random bytes), one file each; keys are single "
        "strings such as `key-00042`. Each timed loop overwrites, reads or tests "
        f"{durable_batch} (durable set), {fast_batch} (set without fsync), "
        f"{large_batch} (100 KB set) or all keys; `len`, `keys` and `items` "
        "are one call per loop, reported per call.",
        "Floors: a durable write is pickle, write a temporary file, fsync it, "
        "`os.replace`, fsync the folder; the plain write skips both fsyncs; a "
        "read is `os.open`, `os.fstat`, `os.read`, `os.close`, unpickle; "
        "`contains` is one `os.stat`. The floors work on the files of our "
        "FileDirDict store, with paths computed before the timed loop, because "
        "the same floor code writing to another folder of the same disk "
        "measured about 15% slower in a separate test.",
        "Durability of the anchors: the public FileDirDict always fsyncs the file "
        "and its folder, and SqliteDict with autocommit commits each write "
        "(SQLite `synchronous=FULL`, rollback journal), so both are compared "
        "with `fsync=True`. diskcache (SQLite WAL, `synchronous=NORMAL`) and "
        "shelve (dbm.dumb, the only dbm module in this Python build) do not "
        "flush each write, so both are compared with `fsync=False`.",
    ]
    return GroupResult(
        name="file_dir",
        title="FileDirDict",
        rows=rows,
        notes=notes,
        seconds=time.perf_counter() - start,
    )
