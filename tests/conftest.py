"""Shared fixtures: the registry of dict configurations and value sources.

Every contract test takes ``make_dict`` and so runs once per entry of
``DICT_CASES`` that stores items. To cover a new backend or layer, add one
``DictCase`` to that list. ``EmptyDict``-like entries, which accept writes
but store nothing, run the focused tests of ``make_empty_dict`` instead.
"""

from __future__ import annotations

import datetime
import decimal
import fractions
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from persidict import (
    AppendOnlyDictCached,
    BasicS3Dict,
    EmptyDict,
    FileDirDict,
    LocalDict,
    MutableDictCached,
    OverlappingMultiDict,
    PersiDict,
    S3Dict,
    WriteOnceDict,
)

# The S3 fixtures, for this folder and every folder below it: one server
# serves the whole session.
pytest_plugins = ["persidict.pytest_plugin"]


@dataclass(frozen=True)
class Point:
    """A small user class, to check that objects round-trip by value."""

    x: int
    y: int


# ------------------------------------------------------------------ values


class ValueSource:
    """Test values that a dict of one serialization format must round-trip.

    ``txt`` stores only ``str``. ``json`` stores nested data, with tuples,
    sets, non-string dict keys and objects tagged by jsonpickle. ``pkl``
    stores any picklable object.
    """

    def __init__(self, value_format: str) -> None:
        if value_format not in ("pkl", "json", "txt"):
            raise ValueError(f"unknown value format {value_format!r}")
        self.value_format = value_format

    @property
    def is_text(self) -> bool:
        return self.value_format == "txt"

    def make(self, index: int) -> Any:
        """Return a value that differs for each ``index``, mutable unless text."""
        if self.value_format == "txt":
            return f"value {index} \u2713 caf\u00e9"
        if self.value_format == "json":
            return {"index": index, "items": [index, "x", None], "ratio": index / 4}
        return {"index": index, "point": Point(index, -index), "items": [index]}

    def counter(self, count: int) -> Any:
        """Return ``count`` as a value of this format: an int, or its text."""
        return str(count) if self.is_text else count

    def increment(self, value: Any) -> Any:
        """Return the counter ``value`` plus one, in the same form."""
        return str(int(value) + 1) if self.is_text else value + 1

    def samples(self) -> list[tuple[str, Any]]:
        """Return ``(label, value)`` pairs that must read back equal and of
        the same types, nested types included."""
        text = [
            ("plain text", "hello"),
            ("empty text", ""),
            ("unicode text", "h\u00e9llo \u2713 \u65e5\u672c\u8a9e \U0001f389"),
            ("line endings", "a\r\nb\nc\r"),
            ("whitespace only", " \t "),
            ("long text", "x" * 100_000),
        ]
        if self.value_format == "txt":
            return text
        json_values = [
            *text,
            ("none", None),
            ("true", True),
            ("zero", 0),
            ("negative int", -7),
            ("big int", 2**70),
            ("float", 3.25),
            ("float that looks integral", 1.0),
            ("empty list", []),
            ("empty dict", {}),
            ("nested list", [1, "a", None, [2.5, [True]]]),
            ("nested dict", {"a": {"b": [1, 2, {"c": None}]}}),
            ("bool and int kept apart", {"t": True, "one": 1, "f": 1.0}),
            ("unicode dict key", {"cl\u00e9 \u2713": "v"}),
            ("tuple", (1, "a")),
            ("nested tuples", ((1, 2), (3,), ())),
            ("tuple in dict", {"pair": (1, 2)}),
            ("set", {1, 2, 3}),
            ("frozenset", frozenset({"a", "b"})),
            ("int dict keys", {1: "a", 2: "b"}),
            ("tuple dict keys", {(1, 2): "t"}),
            ("mixed dict keys", {1: "int", "1": "str"}),
            ("object", Point(1, 2)),
            ("objects in list", [Point(3, 4), Point(5, 6)]),
            ("object in dict", {"p": Point(7, 8), "n": [Point(9, 10)]}),
            ("datetime", datetime.datetime(2024, 1, 2, 3, 4, 5, 6)),
        ]
        if self.value_format == "json":
            return json_values
        return [
            *json_values,
            ("bytes", b"\x00\xff\x10"),
            ("bytearray", bytearray(b"abc")),
            ("fraction", fractions.Fraction(1, 3)),
            ("decimal", decimal.Decimal("1.10")),
            ("complex", complex(1, -2)),
            ("range", range(2, 10, 3)),
        ]


# ---------------------------------------------------------------- registry


@dataclass(frozen=True)
class CaseEnv:
    """The environment that a ``DictCase`` builds its dict in."""

    # A path that does not exist yet, different for every dict built.
    folder: Path
    # The values of the fixtures named in ``DictCase.fixtures``.
    fixtures: dict[str, Any]
    # Registers a function to call when the test ends.
    add_cleanup: Callable[[Callable[[], None]], None]


@dataclass(frozen=True)
class DictCase:
    """One dict configuration that the contract suite runs on.

    ``build(env, **overrides)`` returns a new, empty dict. ``overrides`` are
    constructor parameters such as ``append_only=True``.
    """

    name: str
    build: Callable[..., PersiDict[Any]]
    # Which ValueSource fits: "pkl", "json" or "txt".
    value_format: str
    # Whether pickle makes a handle to the same storage (else TypeError).
    picklable: bool = True
    # False for EmptyDict-like dicts, which accept writes but store nothing.
    stores_items: bool = True
    # Seconds between two writes that must get strictly increasing
    # timestamps. S3 LastModified, for example, has whole seconds.
    timestamp_resolution: float = 0.002
    # Names of fixtures that the build needs, such as a server. Their values
    # reach the build in CaseEnv.fixtures.
    fixtures: tuple[str, ...] = ()
    # pytest marks of the case, such as pytest.mark.s3.
    marks: tuple[Any, ...] = ()
    # True where the ETag is a digest of the content (S3): rewriting the
    # same bytes keeps it, so ETag tests must write different values.
    etag_tracks_content: bool = False
    # True for layers that work only over an append-only dict: the contract
    # runs on them only where the test asks for append_only=True.
    always_append_only: bool = False
    # True for WriteOnceDict, which drops a write of an existing key instead
    # of raising MutationPolicyError.
    drops_overwrites: bool = False
    # False skips the tests of write order, which wait timestamp_resolution
    # between writes: layers over S3 would add minutes that the bare S3
    # cases already spend on the same timestamps.
    runs_clock_tests: bool = True


def _local_dict(**fixed: Any) -> Callable[..., PersiDict[Any]]:
    def build(env: CaseEnv, **overrides: Any) -> PersiDict[Any]:
        return LocalDict(**{**fixed, **overrides})

    return build


def _file_dir_dict(**fixed: Any) -> Callable[..., PersiDict[Any]]:
    def build(env: CaseEnv, **overrides: Any) -> PersiDict[Any]:
        return FileDirDict(**{"base_dir": env.folder, **fixed, **overrides})

    return build


def _cache_params(overrides: dict[str, Any]) -> dict[str, Any]:
    """Return LocalDict arguments for a data cache of values like the main
    dict's: the same format and value class, never append-only."""
    return {
        "serialization_format": overrides.get("serialization_format", "pkl"),
        "base_class_for_values": overrides.get("base_class_for_values"),
    }


def _etag_cache() -> LocalDict[str]:
    return LocalDict(serialization_format="txt", base_class_for_values=str)


def _mutable_cached(
    main: Callable[..., PersiDict[Any]], **fixed: Any
) -> Callable[..., PersiDict[Any]]:
    def build(env: CaseEnv, **overrides: Any) -> PersiDict[Any]:
        params = {**fixed, **overrides}
        return MutableDictCached(
            main_dict=main(env, **params),
            data_cache=LocalDict(**_cache_params(params)),
            etag_cache=_etag_cache(),
        )

    return build


def _append_only_cached(
    main: Callable[..., PersiDict[Any]], **fixed: Any
) -> Callable[..., PersiDict[Any]]:
    def build(env: CaseEnv, **overrides: Any) -> PersiDict[Any]:
        params = {**fixed, **overrides, "append_only": True}
        return AppendOnlyDictCached(
            main_dict=main(env, **params),
            data_cache=LocalDict(**_cache_params(params)),
        )

    return build


def _delete_bucket(server: Any, bucket: str) -> None:
    """Delete every object of ``bucket``, then the bucket, if it exists."""
    import boto3
    from botocore.exceptions import ClientError

    client = boto3.client("s3", **server.client_kwargs())
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            objects = [{"Key": obj["Key"]} for obj in page.get("Contents", ())]
            if objects:
                client.delete_objects(
                    Bucket=bucket, Delete={"Objects": objects, "Quiet": True}
                )
        client.delete_bucket(Bucket=bucket)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "NoSuchBucket":
            raise


def _write_once(
    main: Callable[..., PersiDict[Any]], **fixed: Any
) -> Callable[..., PersiDict[Any]]:
    def build(env: CaseEnv, **overrides: Any) -> PersiDict[Any]:
        params = {**fixed, **overrides, "append_only": True}
        return WriteOnceDict(wrapped_dict=main(env, **params), p_consistency_checks=0.0)

    return build


def _s3_prefix() -> str:
    return f"contract/{next(_folder_numbers)}"


def _basic_s3_dict(**fixed: Any) -> Callable[..., PersiDict[Any]]:
    def build(env: CaseEnv, **overrides: Any) -> PersiDict[Any]:
        # Without a prefix, each dict gets a bucket of its own instead, and
        # the bucket is deleted after the test: SeaweedFS gives each bucket a
        # volume, and a session that keeps them all runs out of volumes.
        if fixed.get("root_prefix") == "":
            bucket = f"contract-{next(_folder_numbers)}"
            server = env.fixtures["s3_server"]
            env.add_cleanup(lambda: _delete_bucket(server, bucket))
            location = {"bucket_name": bucket}
        else:
            location = {"bucket_name": "contract-suite", "root_prefix": _s3_prefix()}
        return BasicS3Dict(**{**location, **fixed, **overrides})

    return build


def _s3_dict(**fixed: Any) -> Callable[..., PersiDict[Any]]:
    def build(env: CaseEnv, **overrides: Any) -> PersiDict[Any]:
        return S3Dict(
            **{
                "bucket_name": "contract-suite",
                "root_prefix": _s3_prefix(),
                "base_dir": env.folder,
                **fixed,
                **overrides,
            }
        )

    return build


def _overlapping(name: str, sibling: str) -> Callable[..., PersiDict[Any]]:
    """Build the ``name`` sub-dict of an OverlappingMultiDict whose ``sibling``
    format already holds items under common keys, which it must never see."""

    def build(env: CaseEnv, **overrides: Any) -> PersiDict[Any]:
        # The format of a sub-dict is its name, so a test that asks for
        # another format gets the sub-dict of that name.
        own = overrides.pop("serialization_format", name)
        other_name = sibling if own != sibling else name
        shared = {"base_dir": env.folder}
        multi = OverlappingMultiDict(
            dict_type=FileDirDict,
            shared_subdicts_params=shared,
            **{own: overrides, other_name: {}},
        )
        other = multi.subdicts_by_format[other_name]
        for key in ("k", ("a", "b"), "first", ("x", "y", "z")):
            other[key] = "sibling value"
        return multi.subdicts_by_format[own]

    return build


def _empty_dict(**fixed: Any) -> Callable[..., PersiDict[Any]]:
    def build(env: CaseEnv, **overrides: Any) -> PersiDict[Any]:
        return EmptyDict(**{**fixed, **overrides})

    return build


DICT_CASES: list[DictCase] = [
    DictCase(
        "local-pkl",
        _local_dict(serialization_format="pkl"),
        "pkl",
        picklable=False,
    ),
    DictCase(
        "local-json",
        _local_dict(serialization_format="json"),
        "json",
        picklable=False,
    ),
    DictCase("file-pkl", _file_dir_dict(serialization_format="pkl"), "pkl"),
    DictCase("file-json", _file_dir_dict(serialization_format="json"), "json"),
    DictCase(
        "file-txt",
        _file_dir_dict(serialization_format="txt", base_class_for_values=str),
        "txt",
    ),
    DictCase(
        "file-pkl-nofsync",
        _file_dir_dict(serialization_format="pkl", fsync=False),
        "pkl",
    ),
    DictCase(
        "file-pkl-nodigest",
        _file_dir_dict(serialization_format="pkl", digest_len=0),
        "pkl",
    ),
    DictCase(
        "cached-local-pkl",
        _mutable_cached(_local_dict(), serialization_format="pkl"),
        "pkl",
        picklable=False,
    ),
    DictCase(
        "cached-file-json",
        _mutable_cached(_file_dir_dict(), serialization_format="json"),
        "json",
        picklable=False,
    ),
    DictCase(
        "cached-file-txt",
        _mutable_cached(
            _file_dir_dict(), serialization_format="txt", base_class_for_values=str
        ),
        "txt",
        picklable=False,
    ),
    DictCase(
        "appendcached-file-pkl",
        _append_only_cached(_file_dir_dict(), serialization_format="pkl"),
        "pkl",
        picklable=False,
        always_append_only=True,
    ),
    DictCase(
        "appendcached-local-json",
        _append_only_cached(_local_dict(), serialization_format="json"),
        "json",
        picklable=False,
        always_append_only=True,
    ),
    DictCase(
        "writeonce-file-pkl",
        _write_once(_file_dir_dict(), serialization_format="pkl"),
        "pkl",
        always_append_only=True,
        drops_overwrites=True,
    ),
    DictCase(
        "writeonce-local-json",
        _write_once(_local_dict(), serialization_format="json"),
        "json",
        picklable=False,
        always_append_only=True,
        drops_overwrites=True,
    ),
    DictCase("overlap-file-json", _overlapping("json", "pkl"), "json"),
    DictCase(
        "s3basic-pkl",
        _basic_s3_dict(serialization_format="pkl"),
        "pkl",
        timestamp_resolution=1.0,
        fixtures=("s3_server",),
        marks=(pytest.mark.s3,),
        etag_tracks_content=True,
    ),
    DictCase(
        "s3basic-json-noprefix",
        _basic_s3_dict(serialization_format="json", root_prefix=""),
        "json",
        timestamp_resolution=1.0,
        fixtures=("s3_server",),
        marks=(pytest.mark.s3,),
        runs_clock_tests=False,
        etag_tracks_content=True,
    ),
    DictCase(
        "s3-pkl",
        _s3_dict(serialization_format="pkl"),
        "pkl",
        timestamp_resolution=1.0,
        fixtures=("s3_server",),
        marks=(pytest.mark.s3,),
        etag_tracks_content=True,
    ),
    DictCase(
        "s3-json",
        _s3_dict(serialization_format="json"),
        "json",
        timestamp_resolution=1.0,
        fixtures=("s3_server",),
        marks=(pytest.mark.s3,),
        runs_clock_tests=False,
        etag_tracks_content=True,
    ),
    DictCase(
        "cached-s3basic-pkl",
        _mutable_cached(_basic_s3_dict(), serialization_format="pkl"),
        "pkl",
        picklable=False,
        timestamp_resolution=1.0,
        fixtures=("s3_server",),
        marks=(pytest.mark.s3,),
        runs_clock_tests=False,
        etag_tracks_content=True,
    ),
    DictCase(
        "cached-s3-json",
        _mutable_cached(_s3_dict(), serialization_format="json"),
        "json",
        picklable=False,
        timestamp_resolution=1.0,
        fixtures=("s3_server",),
        marks=(pytest.mark.s3,),
        runs_clock_tests=False,
        etag_tracks_content=True,
    ),
    DictCase(
        "appendcached-s3-pkl",
        _append_only_cached(_s3_dict(), serialization_format="pkl"),
        "pkl",
        picklable=False,
        timestamp_resolution=1.0,
        fixtures=("s3_server",),
        marks=(pytest.mark.s3,),
        runs_clock_tests=False,
        etag_tracks_content=True,
        always_append_only=True,
    ),
    DictCase(
        "writeonce-s3basic-json",
        _write_once(_basic_s3_dict(), serialization_format="json"),
        "json",
        timestamp_resolution=1.0,
        fixtures=("s3_server",),
        marks=(pytest.mark.s3,),
        runs_clock_tests=False,
        etag_tracks_content=True,
        always_append_only=True,
        drops_overwrites=True,
    ),
    DictCase(
        "empty-pkl",
        _empty_dict(serialization_format="pkl"),
        "pkl",
        stores_items=False,
    ),
]


def _params(cases: list[DictCase]) -> list[Any]:
    return [pytest.param(case, id=case.name, marks=case.marks) for case in cases]


# Counter that makes the dict folder names of a test session unique.
_folder_numbers = itertools.count()


def _make_factory(
    case: DictCase,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Callable[..., PersiDict[Any]]:
    fixtures = {name: request.getfixturevalue(name) for name in case.fixtures}

    def make(**overrides: Any) -> PersiDict[Any]:
        # Only a path: the backends that need a folder create it, so that
        # in-memory dicts cost no file-system work.
        if case.always_append_only and overrides.get("append_only") is not True:
            pytest.skip(f"{case.name} works only over an append-only dict")
        number = next(_folder_numbers)
        folder = tmp_path_factory.getbasetemp() / f"{case.name}-{number}"
        env = CaseEnv(
            folder=folder, fixtures=fixtures, add_cleanup=request.addfinalizer
        )
        return case.build(env, **overrides)

    return make


@pytest.fixture(params=_params([c for c in DICT_CASES if c.stores_items]))
def dict_case(request: pytest.FixtureRequest) -> DictCase:
    """The configuration under test, with its traits."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def make_dict(
    dict_case: DictCase,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Callable[..., PersiDict[Any]]:
    """Return a factory of new, empty dicts of the configuration under test.
    Keyword arguments override its constructor parameters."""
    return _make_factory(dict_case, tmp_path_factory, request)


@pytest.fixture
def values(dict_case: DictCase) -> ValueSource:
    """Test values that the configuration under test can store."""
    return ValueSource(dict_case.value_format)


@pytest.fixture(params=_params([c for c in DICT_CASES if not c.stores_items]))
def empty_case(request: pytest.FixtureRequest) -> DictCase:
    """An EmptyDict-like configuration: accepts writes, stores nothing."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def make_empty_dict(
    empty_case: DictCase,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Callable[..., PersiDict[Any]]:
    """Return a factory of dicts of the EmptyDict-like configuration."""
    return _make_factory(empty_case, tmp_path_factory, request)
