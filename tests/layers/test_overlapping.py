"""OverlappingMultiDict: several formats over one store, each on its own."""

from __future__ import annotations

import pickle

import pytest

from persidict import FileDirDict, LocalBackend, LocalDict, OverlappingMultiDict


@pytest.fixture
def multi(tmp_path):
    return OverlappingMultiDict(
        dict_type=FileDirDict,
        shared_subdicts_params={"base_dir": tmp_path},
        json={},
        pkl={},
        txt={"base_class_for_values": str},
    )


def test_formats_see_only_own(multi):
    multi.json["k"] = {"format": "json"}
    multi.pkl["k"] = {"format": "pkl"}
    multi.txt["k"] = "text"

    assert multi.json["k"] == {"format": "json"}
    assert multi.pkl["k"] == {"format": "pkl"}
    assert multi.txt["k"] == "text"
    assert len(multi.json) == 1


def test_clear_leaves_other_formats(multi):
    multi.json["a", "b"] = 1
    multi.pkl["a", "b"] = 2
    multi.pkl["c"] = 3

    multi.json.clear()

    assert len(multi.json) == 0
    assert dict(multi.pkl.items()) == {("a", "b"): 2, ("c",): 3}


def test_container_item_access_rejected(multi):
    with pytest.raises(TypeError):
        multi["k"]
    with pytest.raises(TypeError):
        multi["k"] = 1
    with pytest.raises(TypeError):
        len(multi)


def test_format_in_params_rejected(tmp_path):
    with pytest.raises(ValueError):
        OverlappingMultiDict(
            dict_type=FileDirDict,
            shared_subdicts_params={"base_dir": tmp_path},
            json={"serialization_format": "pkl"},
        )


def test_pickles_as_handle(multi):
    multi.json["k"] = [1]

    copy = pickle.loads(pickle.dumps(multi))

    assert copy.json["k"] == [1]


def test_local_backend_shared():
    backend = LocalBackend()
    multi = OverlappingMultiDict(
        dict_type=LocalDict,
        shared_subdicts_params={"backend": backend},
        json={},
        pkl={},
    )
    multi.json["k"] = 1
    multi.pkl["k"] = 2

    assert LocalDict(backend=backend, serialization_format="json")["k"] == 1
    assert len(multi.pkl) == 1
