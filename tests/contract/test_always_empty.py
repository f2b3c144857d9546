"""Contract of EmptyDict-like dicts: writes are validated, then dropped.

These run on the entries of ``DICT_CASES`` with ``stores_items=False``
instead of the full contract, whose expectations assume stored items.
"""

from __future__ import annotations

import copy
import pickle

import pytest

from persidict import (
    ANY_ETAG,
    DELETE_CURRENT,
    ETAG_IS_THE_SAME,
    ITEM_NOT_AVAILABLE,
    KEEP_CURRENT,
    NonEmptySafeStrTuple,
)


@pytest.fixture
def empty(make_empty_dict):
    """An EmptyDict-like dict after several writes of every kind."""
    d = make_empty_dict()
    d["a"] = 1
    d["b", "c"] = [1, 2]
    d.update({"d": 3}, e=4)
    d.setdefault("f", 5)
    d["a"] = KEEP_CURRENT
    d["b", "c"] = DELETE_CURRENT
    return d


def test_stays_empty_after_writes(empty):
    assert len(empty) == 0
    assert not empty
    assert list(empty) == []
    assert list(empty.items()) == []
    assert list(empty.values()) == []


def test_written_keys_not_contained(empty):
    assert "a" not in empty
    assert ("b", "c") not in empty


def test_read_raises_normalised_keyerror(empty):
    with pytest.raises(KeyError) as caught:
        empty["b", "c"]

    assert caught.value.args[0] == ("b", "c")
    assert isinstance(caught.value.args[0], NonEmptySafeStrTuple)


def test_get_returns_default(empty):
    assert empty.get("a") is None
    assert empty.get("a", "fallback") == "fallback"


def test_discard_returns_false(empty):
    assert empty.discard("a") is False
    assert empty.delete_if_exists("a") is False


def test_deletes_raise_keyerror(empty):
    with pytest.raises(KeyError):
        del empty["a"]
    with pytest.raises(KeyError):
        empty.pop("a")
    with pytest.raises(KeyError):
        empty.popitem()


def test_pop_returns_default(empty):
    assert empty.pop("a", "fallback") == "fallback"


def test_setdefault_returns_default(empty):
    assert empty.setdefault("g", 7) == 7
    assert "g" not in empty


def test_metadata_reads_raise_keyerror(empty):
    with pytest.raises(KeyError):
        empty.etag("a")
    with pytest.raises(KeyError):
        empty.timestamp("a")


def test_listings_are_empty(empty):
    assert list(empty.keys_and_timestamps()) == []
    assert empty.oldest_keys() == []
    assert empty.newest_values(max_n=2) == []
    assert empty.random_key() is None
    assert empty.subdicts() == {}
    assert len(empty.get_subdict("b")) == 0


def test_clear_on_empty(empty):
    empty.clear()

    assert len(empty) == 0


def test_equals_empty_mapping(empty):
    assert empty == {}
    assert empty != {"a": 1}


def test_validates_value_class(make_empty_dict):
    d = make_empty_dict(base_class_for_values=str)
    d["ok"] = "text"

    with pytest.raises(TypeError):
        d["k"] = 5


def test_write_validates_keys(make_empty_dict):
    d = make_empty_dict()

    with pytest.raises(TypeError):
        d[5] = "v"
    with pytest.raises(ValueError):
        d["a/b"] = "v"


def test_rejects_persidict_value(make_empty_dict):
    d = make_empty_dict()

    with pytest.raises(TypeError):
        d["k"] = make_empty_dict()


def test_conditional_write_leaves_empty(make_empty_dict):
    d = make_empty_dict()

    result = d.set_item_if(
        "k", value=1, condition=ETAG_IS_THE_SAME, expected_etag=ITEM_NOT_AVAILABLE
    )

    assert result.condition_was_satisfied is True
    assert "k" not in d


def test_conditional_reads_see_absent(make_empty_dict):
    d = make_empty_dict()
    d["k"] = 1

    read = d.get_with_etag("k")
    checked = d.get_item_if("k", condition=ANY_ETAG, expected_etag=ITEM_NOT_AVAILABLE)

    assert read.new_value is ITEM_NOT_AVAILABLE
    assert read.actual_etag is ITEM_NOT_AVAILABLE
    assert checked.actual_etag is ITEM_NOT_AVAILABLE


def test_transform_sees_missing_key(make_empty_dict):
    d = make_empty_dict()
    seen = []

    def record(current):
        seen.append(current)
        return 1

    d.transform_item("k", transformer=record)

    assert seen == [ITEM_NOT_AVAILABLE]
    assert "k" not in d


def test_append_only_accepts_rewrites(make_empty_dict):
    d = make_empty_dict(append_only=True)
    d["k"] = 1
    d["k"] = 2

    assert "k" not in d


def test_handles_equal_original(make_empty_dict):
    d = make_empty_dict()

    assert copy.copy(d) == d
    assert d.clone() == d
    assert pickle.loads(pickle.dumps(d)) == d
