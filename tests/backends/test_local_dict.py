"""LocalDict: handles that share a backend, pickling, and thread safety."""

from __future__ import annotations

import copy
import pickle
import threading

import pytest

from persidict import LocalBackend, LocalDict


def test_shared_backend_shares_items():
    backend = LocalBackend()
    first = LocalDict(backend=backend)
    second = LocalDict(backend=backend)
    first["k"] = 1
    second["a", "b"] = 2

    assert second["k"] == 1
    assert first["a", "b"] == 2
    assert first == second


def test_shared_backend_shares_deletes():
    backend = LocalBackend()
    first = LocalDict(backend=backend)
    second = LocalDict(backend=backend)
    first["k"] = 1
    del second["k"]

    assert "k" not in first


def test_separate_backends_are_independent():
    first = LocalDict()
    second = LocalDict()
    first["k"] = 1

    assert "k" not in second
    assert first.backend is not second.backend


def test_formats_kept_apart_in_backend():
    backend = LocalBackend()
    pickled = LocalDict(backend=backend, serialization_format="pkl")
    as_json = LocalDict(backend=backend, serialization_format="json")
    pickled["k"] = 1

    assert "k" not in as_json
    assert len(as_json) == 0


def test_subdicts_share_backend():
    backend = LocalBackend()
    first = LocalDict(backend=backend)
    second = LocalDict(backend=backend)
    first.get_subdict("p")["x"] = 1
    second["p", "y"] = 2

    assert second["p", "x"] == 1
    assert dict(first.subdicts()["p"].items()) == {("x",): 1, ("y",): 2}
    assert first.get_subdict("p").backend is backend


def test_copy_shares_backend():
    d = LocalDict()
    d["k"] = 1
    duplicate = copy.copy(d)
    duplicate["j"] = 2

    assert duplicate.backend is d.backend
    assert d["j"] == 2


def test_pickle_raises_typeerror():
    d = LocalDict()
    d["k"] = 1

    with pytest.raises(TypeError):
        pickle.dumps(d)


def test_pruning_keeps_remaining_items():
    d = LocalDict(prune_interval=1)
    for index in range(10):
        d["grp", str(index)] = index
        d["other", str(index)] = index
    for index in range(10):
        del d["grp", str(index)]

    assert set(d.subdicts()) == {"other"}
    assert len(d) == 10
    assert d["other", "9"] == 9


def test_threads_write_and_read():
    d = LocalDict()
    n_threads, n_keys = 6, 100
    errors = []

    def work(thread_index):
        try:
            for index in range(n_keys):
                d["t", str(thread_index), str(index)] = (thread_index, index)
                d["shared"] = (thread_index, index)
                if d["t", str(thread_index), str(index)] != (thread_index, index):
                    errors.append((thread_index, index))
                if index % 10 == 0:
                    list(d.keys())
        except Exception as err:
            errors.append(err)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(d) == n_threads * n_keys + 1
    assert d["shared"][1] == n_keys - 1
    assert all(
        d["t", str(t), str(i)] == (t, i)
        for t in range(n_threads)
        for i in range(n_keys)
    )


def test_threads_transform_exactly_once():
    d = LocalDict()
    d["counter"] = 0
    n_threads, n_increments = 4, 25

    def increment_repeatedly():
        for _ in range(n_increments):
            d.transform_item("counter", transformer=lambda v: v + 1, n_retries=None)

    threads = [threading.Thread(target=increment_repeatedly) for _ in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert d["counter"] == n_threads * n_increments


def test_invalid_backend_rejected():
    with pytest.raises(TypeError):
        LocalDict(backend={})
