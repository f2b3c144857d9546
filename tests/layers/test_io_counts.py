"""I/O cost of the cached layers, pinned by counting calls to the main dict."""

from __future__ import annotations

import os

import pytest

from persidict import (
    AppendOnlyDictCached,
    FileDirDict,
    LocalDict,
    MutableDictCached,
)
from persidict import file_dir_dict as file_dir_module


def local_caches() -> dict[str, LocalDict]:
    return {
        "data_cache": LocalDict(),
        "etag_cache": LocalDict(serialization_format="txt", base_class_for_values=str),
    }


@pytest.fixture(params=["local", "file"])
def main_backend(request, tmp_path):
    if request.param == "local":
        return LocalDict()
    return FileDirDict(base_dir=tmp_path / "main", fsync=False)


def test_mutable_hit_asks_only_etag(counting, main_backend):
    main = counting(main_backend)
    cached = MutableDictCached(main_dict=main, **local_caches())
    cached["k"] = {"v": 1}
    main.reset()

    for _ in range(5):
        assert cached["k"] == {"v": 1}

    assert main.calls["_get_if_changed"] == 5
    assert main.calls["_get_with_etag"] == 0
    assert main.calls["_get"] == 0
    assert sum(main.calls.values()) == 5


def test_mutable_miss_reads_main_once(counting, main_backend):
    main_backend["k"] = "stored before the cache existed"
    main = counting(main_backend)
    cached = MutableDictCached(main_dict=main, **local_caches())

    assert cached["k"] == "stored before the cache existed"
    assert main.calls["_get_with_etag"] == 1
    assert sum(main.calls.values()) == 1


def test_mutable_sees_other_writer(counting, main_backend):
    main = counting(main_backend)
    cached = MutableDictCached(main_dict=main, **local_caches())
    cached["k"] = 1
    other = (
        main_backend.clone()
        if not isinstance(main_backend, LocalDict)
        else main_backend
    )
    other["k"] = 2
    main.reset()

    assert cached["k"] == 2
    assert main.calls["_get_if_changed"] == 1


def test_file_hit_is_one_stat(monkeypatch, tmp_path):
    cached = MutableDictCached(
        main_dict=FileDirDict(base_dir=tmp_path / "main", fsync=False), **local_caches()
    )
    cached["k"] = [1, 2, 3]
    opened: list[str] = []
    stats: list[str] = []
    real_open, real_stat = os.open, os.stat

    def counting_open(path, *args, **kwargs):
        opened.append(os.fspath(path))
        return real_open(path, *args, **kwargs)

    def counting_stat(path, *args, **kwargs):
        stats.append(os.fspath(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(file_dir_module.os, "open", counting_open)
    monkeypatch.setattr(file_dir_module.os, "stat", counting_stat)

    assert cached["k"] == [1, 2, 3]
    assert opened == []
    assert len(stats) == 1


def test_file_same_size_rewrite_seen(tmp_path):
    # Two writes of the same size within one file-system tick: the ETag
    # carries the nanosecond clock, so the cache still sees the change.
    main = FileDirDict(base_dir=tmp_path / "main", fsync=False)
    cached = MutableDictCached(main_dict=main, **local_caches())
    for index in range(50):
        cached["k"] = f"value {index:03d}"
        other = FileDirDict(base_dir=tmp_path / "main", fsync=False)
        other["k"] = f"other {index:03d}"

        assert cached["k"] == f"other {index:03d}"


def test_append_only_hit_skips_main(counting, tmp_path):
    main = counting(FileDirDict(base_dir=tmp_path / "main", append_only=True))
    cached = AppendOnlyDictCached(main_dict=main, data_cache=LocalDict())
    cached["k"] = "v"
    main.reset()

    for _ in range(5):
        assert cached["k"] == "v"
        assert "k" in cached

    assert sum(main.calls.values()) == 0


def test_append_only_miss_fills_cache(counting, tmp_path):
    backend = FileDirDict(base_dir=tmp_path / "main", append_only=True)
    backend["k"] = "written elsewhere"
    main = counting(backend)
    cached = AppendOnlyDictCached(main_dict=main, data_cache=LocalDict())

    assert cached["k"] == "written elsewhere"
    assert cached["k"] == "written elsewhere"
    assert main.calls["_get"] == 1
    assert sum(main.calls.values()) == 1


def test_append_only_needs_append_only_main():
    with pytest.raises(ValueError, match="append_only=True"):
        AppendOnlyDictCached(main_dict=LocalDict(), data_cache=LocalDict())


def test_cached_repr_shows_stack(tmp_path):
    cached = MutableDictCached(
        main_dict=FileDirDict(base_dir=tmp_path / "main"), **local_caches()
    )

    text = repr(cached)

    assert text.startswith("MutableDictCached(main_dict=FileDirDict(")
    assert "data_cache=LocalDict(" in text
    assert "etag_cache=LocalDict(" in text
