"""Contract: an append-only dict takes new keys and rejects every change."""

from __future__ import annotations

import pytest

from persidict import (
    ANY_ETAG,
    DELETE_CURRENT,
    ETAG_IS_THE_SAME,
    ITEM_NOT_AVAILABLE,
    KEEP_CURRENT,
    MutationPolicyError,
)


@pytest.fixture
def frozen(make_dict, values):
    """An append-only dict with the keys ("k",) and ("g", "k")."""
    d = make_dict(append_only=True)
    d["k"] = values.make(1)
    d["g", "k"] = values.make(2)
    return d


def expected_items(values):
    return {("k",): values.make(1), ("g", "k"): values.make(2)}


def test_policy_error_is_type_error():
    assert issubclass(MutationPolicyError, TypeError)


def test_new_keys_are_written(frozen, values):
    frozen["new"] = values.make(3)
    frozen.update({"other": values.make(4)})

    assert frozen["new"] == values.make(3)
    assert frozen["other"] == values.make(4)
    assert frozen.append_only is True


MUTATIONS = {
    "overwrite": lambda d, v: d.__setitem__("k", v),
    "overwrite-same-value": lambda d, v: d.__setitem__(("g", "k"), d["g", "k"]),
    "overwrite-by-update": lambda d, v: d.update({"k": v}),
    "overwrite-by-kwargs": lambda d, v: d.update(k=v),
    "overwrite-by-ior": lambda d, v: d.__ior__({"k": v}),
    "delitem": lambda d, v: d.__delitem__("k"),
    "discard": lambda d, v: d.discard("k"),
    "delete_if_exists": lambda d, v: d.delete_if_exists("k"),
    "clear": lambda d, v: d.clear(),
    "pop": lambda d, v: d.pop("k"),
    "pop-default": lambda d, v: d.pop("k", None),
    "popitem": lambda d, v: d.popitem(),
    "delete-current": lambda d, v: d.__setitem__("k", DELETE_CURRENT),
    "delete-current-by-update": lambda d, v: d.update({"k": DELETE_CURRENT}),
    "set_item_if": lambda d, v: d.set_item_if(
        "k", value=v, condition=ANY_ETAG, expected_etag=ITEM_NOT_AVAILABLE
    ),
    "set_item_if-same-etag": lambda d, v: d.set_item_if(
        "k", value=v, condition=ETAG_IS_THE_SAME, expected_etag=d.etag("k")
    ),
    "set_item_if-delete-current": lambda d, v: d.set_item_if(
        "k",
        value=DELETE_CURRENT,
        condition=ANY_ETAG,
        expected_etag=ITEM_NOT_AVAILABLE,
    ),
    "discard_if": lambda d, v: d.discard_if(
        "k", condition=ETAG_IS_THE_SAME, expected_etag=d.etag("k")
    ),
    "transform_item": lambda d, v: d.transform_item("k", transformer=lambda old: v),
    "transform_item-delete": lambda d, v: d.transform_item(
        "k", transformer=lambda old: DELETE_CURRENT
    ),
    "subdict-overwrite": lambda d, v: d.get_subdict("g").__setitem__("k", v),
    "subdict-delete": lambda d, v: d.get_subdict("g").__delitem__("k"),
}


# Writes of an existing key, which a write-once dict drops without an error.
OVERWRITES = {
    "overwrite",
    "overwrite-same-value",
    "overwrite-by-update",
    "overwrite-by-kwargs",
    "overwrite-by-ior",
    "subdict-overwrite",
}


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_mutation_raises_policy_error(frozen, values, mutation, dict_case):
    etag = frozen.etag("k")
    if dict_case.drops_overwrites and mutation in OVERWRITES:
        MUTATIONS[mutation](frozen, values.make(9))

        assert dict(frozen.items()) == expected_items(values)
        assert frozen.etag("k") == etag
        return
    with pytest.raises(MutationPolicyError) as caught:
        MUTATIONS[mutation](frozen, values.make(9))

    assert caught.value.policy == "append-only"
    assert isinstance(caught.value, TypeError)
    assert dict(frozen.items()) == expected_items(values)
    assert frozen.etag("k") == etag


def test_keep_current_is_allowed(frozen, values):
    frozen["k"] = KEEP_CURRENT
    frozen.update({"g": KEEP_CURRENT})

    assert dict(frozen.items()) == expected_items(values)


def test_setdefault_present_returns_value(frozen, values):
    assert frozen.setdefault("k", values.make(9)) == values.make(1)


def test_setdefault_absent_inserts(frozen, values):
    assert frozen.setdefault("new", values.make(3)) == values.make(3)
    assert frozen["new"] == values.make(3)


def test_set_item_if_inserts_new_key(frozen, values):
    result = frozen.set_item_if(
        "new",
        value=values.make(3),
        condition=ETAG_IS_THE_SAME,
        expected_etag=ITEM_NOT_AVAILABLE,
    )

    assert result.condition_was_satisfied
    assert frozen["new"] == values.make(3)


def test_transform_item_inserts_new_key(frozen, values):
    frozen.transform_item("new", transformer=lambda old: values.make(3))

    assert frozen["new"] == values.make(3)


def test_append_only_survives_handles(frozen, values, dict_case):
    for handle in (frozen.clone(), frozen.get_subdict("g")):
        assert handle.append_only is True
        if dict_case.drops_overwrites:
            handle["k"] = values.make(9)
            assert handle.get("k") != values.make(9)
            continue
        with pytest.raises(MutationPolicyError):
            handle["k"] = values.make(9)
