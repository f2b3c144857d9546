"""Contract: a PersiDict behaves as a ``MutableMapping`` exactly like ``dict``."""

from __future__ import annotations

import pytest

from persidict import NonEmptySafeStrTuple, SafeStrTuple

# ------------------------------------------------------------- items


def test_setitem_then_getitem(make_dict, values):
    d = make_dict()
    d["k"] = values.make(1)

    assert d["k"] == values.make(1)


def test_overwrite_keeps_last_value(make_dict, values):
    d = make_dict()
    d["k"] = values.make(1)
    d["k"] = values.make(2)

    assert d["k"] == values.make(2)
    assert len(d) == 1


def test_delitem_removes_item(make_dict, values):
    d = make_dict()
    d["k"] = values.make(1)
    del d["k"]

    assert "k" not in d
    assert len(d) == 0


def test_contains_present_and_absent(make_dict, values):
    d = make_dict()
    d["a", "b"] = values.make(1)

    assert ("a", "b") in d
    assert ("a", "c") not in d
    assert "a" not in d


@pytest.mark.parametrize(
    ("key", "normalised"),
    [
        ("absent", ("absent",)),
        (("absent", "deeper"), ("absent", "deeper")),
        (["absent", "x"], ("absent", "x")),
    ],
)
def test_missing_key_error_normalised(make_dict, key, normalised):
    d = make_dict()

    with pytest.raises(KeyError) as caught:
        d[key]

    assert caught.value.args[0] == normalised
    assert isinstance(caught.value.args[0], NonEmptySafeStrTuple)


def test_del_missing_key_error_normalised(make_dict):
    d = make_dict()

    with pytest.raises(KeyError) as caught:
        del d["a", "b"]

    assert caught.value.args[0] == ("a", "b")
    assert isinstance(caught.value.args[0], NonEmptySafeStrTuple)


def test_pop_missing_key_error_normalised(make_dict):
    d = make_dict()

    with pytest.raises(KeyError) as caught:
        d.pop(["a", "b"])

    assert caught.value.args[0] == ("a", "b")
    assert isinstance(caught.value.args[0], NonEmptySafeStrTuple)


# -------------------------------------------------------------- keys


KEY_FORMS = [
    pytest.param(("a", "b"), id="tuple"),
    pytest.param(["a", "b"], id="list"),
    pytest.param(SafeStrTuple("a", "b"), id="SafeStrTuple"),
    pytest.param(NonEmptySafeStrTuple("a", "b"), id="NonEmptySafeStrTuple"),
    pytest.param(SafeStrTuple(["a"], ("b",)), id="nested-SafeStrTuple"),
]


@pytest.mark.parametrize("key", KEY_FORMS)
def test_key_forms_address_same_item(make_dict, values, key):
    d = make_dict()
    d["a", "b"] = values.make(1)

    assert d[key] == values.make(1)
    assert key in d
    assert d.get(key) == values.make(1)


@pytest.mark.parametrize("key", KEY_FORMS)
def test_key_forms_write_same_item(make_dict, values, key):
    d = make_dict()
    d[key] = values.make(1)

    assert list(d) == [("a", "b")]


def test_string_key_is_one_component(make_dict, values):
    d = make_dict()
    d["a"] = values.make(1)

    assert d[("a",)] == values.make(1)
    assert d[["a"]] == values.make(1)
    assert list(d) == [("a",)]


def test_keys_are_case_sensitive(make_dict, values):
    d = make_dict()
    d["a", "B"] = values.make(1)
    d["a", "b"] = values.make(2)
    d["A"] = values.make(3)
    d["a"] = values.make(4)

    assert len(d) == 4
    assert d["a", "B"] == values.make(1)
    assert d["a", "b"] == values.make(2)
    assert d["A"] == values.make(3)
    assert d["a"] == values.make(4)


def test_deleting_one_case_keeps_other(make_dict, values):
    d = make_dict()
    d["a", "B"] = values.make(1)
    d["a", "b"] = values.make(2)
    del d["a", "b"]

    assert ("a", "B") in d
    assert ("a", "b") not in d


def test_prefix_key_and_longer_coexist(make_dict, values):
    d = make_dict()
    d["a"] = values.make(1)
    d["a", "b"] = values.make(2)

    assert len(d) == 2
    assert d["a"] == values.make(1)
    assert d["a", "b"] == values.make(2)


def test_delete_short_key_keeps_longer(make_dict, values):
    d = make_dict()
    d["a"] = values.make(1)
    d["a", "b"] = values.make(2)
    del d["a"]

    assert list(d) == [("a", "b")]
    assert d["a", "b"] == values.make(2)


def test_delete_longer_key_keeps_short(make_dict, values):
    d = make_dict()
    d["a"] = values.make(1)
    d["a", "b"] = values.make(2)
    del d["a", "b"]

    assert list(d) == [("a",)]
    assert d["a"] == values.make(1)


BAD_KEY_TYPES = [
    pytest.param(1, id="int"),
    pytest.param(None, id="None"),
    pytest.param({"a": 1}, id="dict"),
    pytest.param(b"a", id="bytes"),
    pytest.param(1.5, id="float"),
    pytest.param(("a", 1), id="tuple-with-int"),
    pytest.param(["a", None], id="list-with-None"),
]

KEY_OPERATIONS = {
    "getitem": lambda d, key: d[key],
    "setitem": lambda d, key: d.__setitem__(key, "v"),
    "delitem": lambda d, key: d.__delitem__(key),
    "contains": lambda d, key: key in d,
    "get": lambda d, key: d.get(key),
    "get-default": lambda d, key: d.get(key, "default"),
    "setdefault": lambda d, key: d.setdefault(key, "v"),
    "pop-default": lambda d, key: d.pop(key, None),
    "discard": lambda d, key: d.discard(key),
    "etag": lambda d, key: d.etag(key),
    "timestamp": lambda d, key: d.timestamp(key),
    "update": lambda d, key: d.update([(key, "v")]),
}


def operations_not_raising(d, key, expected_error) -> dict[str, str]:
    """Run every key operation with ``key`` and return the name of each one
    that did not raise ``expected_error``, with what it did instead."""
    misbehaving = {}
    for name, operation in KEY_OPERATIONS.items():
        try:
            operation(d, key)
        except expected_error:
            continue
        except Exception as err:
            misbehaving[name] = f"raised {type(err).__name__}: {err}"
        else:
            misbehaving[name] = "returned normally"
    return misbehaving


@pytest.mark.parametrize("key", BAD_KEY_TYPES)
def test_wrong_key_type_raises_typeerror(make_dict, key):
    d = make_dict()

    assert operations_not_raising(d, key, TypeError) == {}
    assert len(d) == 0


BAD_KEY_STRINGS = [
    pytest.param("", id="empty"),
    pytest.param(".", id="dot"),
    pytest.param("..", id="dotdot"),
    pytest.param("a/b", id="slash"),
    pytest.param("a b", id="space"),
    pytest.param("caf\u00e9", id="non-ascii"),
    pytest.param(("a", ".."), id="dotdot-component"),
    pytest.param((), id="empty-tuple"),
    pytest.param("x" * 254, id="254-chars"),
]


@pytest.mark.parametrize("key", BAD_KEY_STRINGS)
def test_invalid_key_string_raises_valueerror(make_dict, key):
    d = make_dict()

    assert operations_not_raising(d, key, ValueError) == {}
    assert len(d) == 0


# ------------------------------------------------- size and iteration


def test_empty_dict_len_and_bool(make_dict):
    d = make_dict()

    assert len(d) == 0
    assert not d
    assert list(d) == []


def test_len_and_bool_after_writes(make_dict, values):
    d = make_dict()
    d["a"] = values.make(1)
    d["b", "c"] = values.make(2)
    d["b", "d", "e"] = values.make(3)

    assert len(d) == 3
    assert bool(d) is True


def test_iter_yields_normalised_keys(make_dict, values):
    d = make_dict()
    d["a"] = values.make(1)
    d["b", "c"] = values.make(2)
    d["b", "d", "e"] = values.make(3)

    keys = list(d)

    assert sorted(k.strings for k in keys) == [("a",), ("b", "c"), ("b", "d", "e")]
    assert all(isinstance(k, NonEmptySafeStrTuple) for k in keys)


@pytest.fixture
def three_items(make_dict, values):
    d = make_dict()
    expected = {
        ("a",): values.make(1),
        ("b", "c"): values.make(2),
        ("b", "d", "e"): values.make(3),
    }
    for key, value in expected.items():
        d[key] = value
    return d, expected


def test_keys_view_len_and_contains(three_items):
    d, _ = three_items
    keys = d.keys()

    assert len(keys) == 3
    assert ("b", "c") in keys
    assert "a" in keys
    assert ("b",) not in keys


def test_keys_view_set_operations(three_items):
    d, _ = three_items
    keys = d.keys()

    assert keys == {("a",), ("b", "c"), ("b", "d", "e")}
    assert keys & {("a",), ("z",)} == {("a",)}
    assert keys - {("a",)} == {("b", "c"), ("b", "d", "e")}
    assert keys | {("z",)} == {("a",), ("b", "c"), ("b", "d", "e"), ("z",)}
    assert keys.isdisjoint({("z",)})


def test_keys_view_sees_later_writes(three_items, values):
    d, _ = three_items
    keys = d.keys()
    d["later"] = values.make(9)

    assert len(keys) == 4
    assert ("later",) in keys


def test_values_view_contents(three_items):
    d, expected = three_items
    read = list(d.values())

    assert len(d.values()) == 3
    assert len(read) == 3
    for value in expected.values():
        assert value in read
        assert value in d.values()


def test_items_view_contents(three_items):
    d, expected = three_items

    assert len(d.items()) == 3
    assert dict(d.items()) == expected
    assert (("b", "c"), expected[("b", "c")]) in d.items()
    assert (("b", "c"), expected[("a",)]) not in d.items()


# ------------------------------------------------------ dict methods


def test_get_present_absent_default(make_dict, values):
    d = make_dict()
    d["k"] = values.make(1)

    assert d.get("k") == values.make(1)
    assert d.get("absent") is None
    assert d.get("absent", "fallback") == "fallback"


def test_setdefault_inserts_when_absent(make_dict, values):
    d = make_dict()

    returned = d.setdefault("k", values.make(1))

    assert returned == values.make(1)
    assert d["k"] == values.make(1)


def test_setdefault_keeps_present_value(make_dict, values):
    d = make_dict()
    d["k"] = values.make(1)
    etag = d.etag("k")

    returned = d.setdefault("k", values.make(2))

    assert returned == values.make(1)
    assert d["k"] == values.make(1)
    assert d.etag("k") == etag


def test_update_from_mapping(make_dict, values):
    d = make_dict()
    d.update({"a": values.make(1), ("b", "c"): values.make(2)})

    assert dict(d.items()) == {("a",): values.make(1), ("b", "c"): values.make(2)}


def test_update_from_pairs(make_dict, values):
    d = make_dict()
    d.update([("a", values.make(1)), (["b", "c"], values.make(2))])

    assert dict(d.items()) == {("a",): values.make(1), ("b", "c"): values.make(2)}


def test_update_from_generator(make_dict, values):
    d = make_dict()
    d.update((f"k{i}", values.make(i)) for i in range(3))

    assert dict(d.items()) == {(f"k{i}",): values.make(i) for i in range(3)}


def test_update_from_kwargs(make_dict, values):
    d = make_dict()
    d.update(a=values.make(1), b=values.make(2))

    assert dict(d.items()) == {("a",): values.make(1), ("b",): values.make(2)}


def test_update_kwargs_override_mapping(make_dict, values):
    d = make_dict()
    d.update({"a": values.make(1), "b": values.make(2)}, a=values.make(3))

    assert d["a"] == values.make(3)
    assert d["b"] == values.make(2)


def test_update_from_other_persidict(make_dict, values):
    source = make_dict()
    source["a"] = values.make(1)
    source["b", "c"] = values.make(2)
    d = make_dict()
    d.update(source)

    assert dict(d.items()) == {("a",): values.make(1), ("b", "c"): values.make(2)}


def test_update_overwrites_existing(make_dict, values):
    d = make_dict()
    d["a"] = values.make(1)
    d.update({"a": values.make(2)})

    assert d["a"] == values.make(2)
    assert len(d) == 1


def test_pop_returns_and_removes(make_dict, values):
    d = make_dict()
    d["k"] = values.make(1)

    assert d.pop("k") == values.make(1)
    assert "k" not in d


def test_pop_absent_returns_default(make_dict):
    d = make_dict()

    assert d.pop("k", "fallback") == "fallback"
    assert d.pop("k", None) is None


def test_popitem_until_empty(make_dict, values):
    d = make_dict()
    expected = {("a",): values.make(1), ("b", "c"): values.make(2)}
    d.update(expected)

    popped = dict([d.popitem(), d.popitem()])

    assert popped == expected
    assert len(d) == 0
    with pytest.raises(KeyError):
        d.popitem()


def test_popitem_returns_normalised_key(make_dict, values):
    d = make_dict()
    d["a", "b"] = values.make(1)

    key, value = d.popitem()

    assert isinstance(key, NonEmptySafeStrTuple)
    assert key == ("a", "b")
    assert value == values.make(1)


def test_clear_removes_everything(three_items):
    d, _ = three_items
    d.clear()

    assert len(d) == 0
    assert not d
    assert list(d) == []
    assert ("b", "d", "e") not in d


def test_clear_on_empty_dict(make_dict):
    d = make_dict()
    d.clear()

    assert len(d) == 0


# -------------------------------------------------------- comparison


def test_equals_dict_with_same_items(three_items):
    d, expected = three_items

    assert d == expected
    assert expected == d
    assert (d != expected) is False


def test_equals_dict_with_string_keys(make_dict, values):
    d = make_dict()
    d["a"] = values.make(1)

    assert d == {"a": values.make(1)}


def test_differs_from_dict_value(three_items, values):
    d, expected = three_items
    changed = {**expected, ("a",): values.make(7)}

    assert d != changed
    assert (d == changed) is False


def test_differs_from_dict_extra_key(three_items, values):
    d, expected = three_items

    assert d != {**expected, ("z",): values.make(7)}


def test_differs_from_dict_missing_key(three_items):
    d, expected = three_items
    fewer = dict(expected)
    del fewer[("a",)]

    assert d != fewer


def test_equals_other_persidict_same_items(make_dict, three_items):
    d, expected = three_items
    other = make_dict()
    other.update(expected)

    assert d == other
    assert (d != other) is False


def test_differs_from_other_persidict(make_dict, three_items, values):
    d, expected = three_items
    other = make_dict()
    other.update(expected)
    other["a"] = values.make(8)

    assert d != other


def test_empty_equals_empty_dict(make_dict):
    d = make_dict()

    assert d == {}


def test_non_mapping_not_equal(make_dict, values):
    d = make_dict()
    d["a"] = values.make(1)

    assert d != 5
    assert d != [("a", values.make(1))]
    assert d.__eq__(5) is NotImplemented


def test_ior_merges_mapping(make_dict, values):
    d = make_dict()
    d["a"] = values.make(1)
    original = d

    d |= {"b": values.make(2), "a": values.make(3)}

    assert d is original
    assert dict(d.items()) == {("a",): values.make(3), ("b",): values.make(2)}
