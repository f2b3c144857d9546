"""Contract: the methods beyond ``dict``: timestamps, ETags, ordering,
random keys, sub-dicts, discard, handles and jokers."""

from __future__ import annotations

import copy
import pickle
import time

import pytest

from persidict import (
    ALWAYS_RETRIEVE,
    ANY_ETAG,
    DELETE_CURRENT,
    ETAG_HAS_CHANGED,
    ETAG_IS_THE_SAME,
    IF_ETAG_CHANGED,
    ITEM_NOT_AVAILABLE,
    KEEP_CURRENT,
    NEVER_RETRIEVE,
    VALUE_NOT_RETRIEVED,
    AlwaysRetrieveFlag,
    AnyETagFlag,
    DeleteCurrentFlag,
    ETagHasChangedFlag,
    ETagIsTheSameFlag,
    IfETagChangedRetrieveFlag,
    ItemNotAvailableFlag,
    Joker,
    KeepCurrentFlag,
    NeverRetrieveFlag,
    NonEmptySafeStrTuple,
    ValueNotRetrievedFlag,
)


def write_in_order(d, dict_case, items):
    """Write ``items`` one by one, far enough apart in time that their
    timestamps increase strictly."""
    for key, value in items:
        d[key] = value
        time.sleep(dict_case.timestamp_resolution)


# ------------------------------------------------------------ timestamps


def test_timestamp_missing_key_raises(make_dict):
    d = make_dict()

    with pytest.raises(KeyError):
        d.timestamp("absent")


def test_timestamp_within_write_window(make_dict, values, dict_case):
    d = make_dict()
    slack = dict_case.timestamp_resolution
    before = time.time()
    d["k"] = values.make(1)
    after = time.time()

    stamp = d.timestamp("k")

    assert isinstance(stamp, float)
    assert before - slack <= stamp <= after + slack


def test_timestamp_grows_on_overwrite(make_dict, values, dict_case):
    d = make_dict()
    d["k"] = values.make(1)
    first = d.timestamp("k")
    time.sleep(dict_case.timestamp_resolution)
    d["k"] = values.make(2)

    assert d.timestamp("k") > first


def test_timestamp_unchanged_by_reads(make_dict, values):
    d = make_dict()
    d["k"] = values.make(1)
    stamp = d.timestamp("k")
    d["k"]

    assert d.timestamp("k") == stamp


# ----------------------------------------------------------------- etags


def test_etag_missing_key_raises(make_dict):
    d = make_dict()

    with pytest.raises(KeyError):
        d.etag("absent")


def test_etag_is_string(make_dict, values):
    d = make_dict()
    d["k"] = values.make(1)

    assert isinstance(d.etag("k"), str)


def test_etag_stable_without_writes(make_dict, values):
    d = make_dict()
    d["k"] = values.make(1)
    etag = d.etag("k")
    d["k"]
    d["other"] = values.make(2)

    assert d.etag("k") == etag
    assert d.clone().etag("k") == etag


def test_etag_changes_on_every_write(make_dict, values, dict_case):
    d = make_dict()
    etags = []
    for index in range(20):
        # Where the ETag is a content digest, only a new value must change it.
        d["k"] = values.make(index if dict_case.etag_tracks_content else 1)
        etags.append(d.etag("k"))

    assert len(set(etags)) == len(etags)


def test_etag_changes_via_update(make_dict, values, dict_case):
    d = make_dict()
    d["k"] = values.make(1)
    etag = d.etag("k")
    d.update({"k": values.make(2 if dict_case.etag_tracks_content else 1)})

    assert d.etag("k") != etag


def test_etag_changes_after_recreate(make_dict, values, dict_case):
    d = make_dict()
    d["k"] = values.make(1)
    etag = d.etag("k")
    del d["k"]
    d["k"] = values.make(2 if dict_case.etag_tracks_content else 1)

    assert d.etag("k") != etag


# --------------------------------------------------- timestamped listings


@pytest.fixture
def ordered_items(make_dict, values, dict_case):
    """A dict with four items written in the order of their list."""
    if not dict_case.runs_clock_tests:
        pytest.skip(
            f"{dict_case.name} keeps whole-second timestamps; the bare dict "
            "of the same backend covers write order"
        )
    d = make_dict()
    items = [
        (("first",), values.make(1)),
        (("b", "second"), values.make(2)),
        (("third",), values.make(3)),
        (("b", "c", "fourth"), values.make(4)),
    ]
    write_in_order(d, dict_case, items)
    return d, items


def test_keys_and_timestamps_match(ordered_items):
    d, items = ordered_items
    pairs = list(d.keys_and_timestamps())

    assert sorted(key.strings for key, _ in pairs) == sorted(k for k, _ in items)
    for key, stamp in pairs:
        assert isinstance(key, NonEmptySafeStrTuple)
        assert stamp == d.timestamp(key)


def test_values_and_timestamps_match(ordered_items):
    d, items = ordered_items
    pairs = list(d.values_and_timestamps())
    stamps = {d.timestamp(key): value for key, value in items}

    assert len(pairs) == len(items)
    for value, stamp in pairs:
        assert stamps[stamp] == value


def test_items_and_timestamps_match(ordered_items):
    d, items = ordered_items
    triples = list(d.items_and_timestamps())

    assert len(triples) == len(items)
    for key, value, stamp in triples:
        assert d[key] == value
        assert d.timestamp(key) == stamp


def test_oldest_keys_in_write_order(ordered_items):
    d, items = ordered_items

    assert d.oldest_keys() == [key for key, _ in items]


def test_newest_keys_in_reverse_order(ordered_items):
    d, items = ordered_items

    assert d.newest_keys() == [key for key, _ in reversed(items)]


def test_oldest_values_in_write_order(ordered_items):
    d, items = ordered_items

    assert d.oldest_values() == [value for _, value in items]


def test_newest_values_in_reverse_order(ordered_items):
    d, items = ordered_items

    assert d.newest_values() == [value for _, value in reversed(items)]


@pytest.mark.parametrize("max_n", [0, 1, 3, 4, 10])
def test_ordering_honours_max_n(ordered_items, max_n):
    d, items = ordered_items
    keys = [key for key, _ in items]
    stored = [value for _, value in items]

    assert d.oldest_keys(max_n=max_n) == keys[:max_n]
    assert d.newest_keys(max_n=max_n) == keys[::-1][:max_n]
    assert d.oldest_values(max_n=max_n) == stored[:max_n]
    assert d.newest_values(max_n=max_n) == stored[::-1][:max_n]


def test_overwrite_makes_key_newest(ordered_items, dict_case, values):
    d, _ = ordered_items
    time.sleep(dict_case.timestamp_resolution)
    d["first"] = values.make(5)

    assert d.newest_keys(max_n=1) == [("first",)]


def test_ordering_of_empty_dict(make_dict):
    d = make_dict()

    assert d.oldest_keys() == []
    assert d.newest_keys(max_n=3) == []
    assert d.oldest_values() == []
    assert d.newest_values() == []


def test_ordering_max_n_keyword_only(ordered_items):
    d, _ = ordered_items

    with pytest.raises(TypeError):
        d.oldest_keys(2)


# ------------------------------------------------------------ random_key


def test_random_key_empty_is_none(make_dict):
    assert make_dict().random_key() is None


def test_random_key_single_item(make_dict, values):
    d = make_dict()
    d["a", "b"] = values.make(1)
    key = d.random_key()

    assert key == ("a", "b")
    assert isinstance(key, NonEmptySafeStrTuple)


def test_random_key_reaches_every_key(make_dict, values):
    d = make_dict()
    keys = [("a",), ("b", "c"), ("b", "d"), ("e", "f", "g"), ("h",)]
    for index, key in enumerate(keys):
        d[key] = values.make(index)
    draws = 1000
    counts = dict.fromkeys(keys, 0)
    for _ in range(draws):
        counts[d.random_key().strings] += 1

    expected = draws / len(keys)
    chi_squared = sum((n - expected) ** 2 / expected for n in counts.values())
    # For a uniform choice the statistic follows chi-squared with 4 degrees
    # of freedom, which exceeds 60 with a probability of about 3e-12.
    assert chi_squared < 60, counts
    for key, count in counts.items():
        assert count > 0, key


# -------------------------------------------------------------- sub-dicts


@pytest.fixture
def tree(make_dict, values):
    d = make_dict()
    d["p", "x"] = values.make(1)
    d["p", "q", "y"] = values.make(2)
    d["o", "z"] = values.make(3)
    d["leaf"] = values.make(4)
    return d


def test_subdict_strips_prefix(tree, values):
    sub = tree.get_subdict("p")

    assert sorted(k.strings for k in sub) == [("q", "y"), ("x",)]
    assert sub["x"] == values.make(1)
    assert sub["q", "y"] == values.make(2)


def test_subdict_has_same_class(tree):
    assert type(tree.get_subdict("p")) is type(tree)


def test_subdict_nested_prefix(tree, values):
    sub = tree.get_subdict(("p", "q"))

    assert list(sub) == [("y",)]
    assert sub["y"] == values.make(2)


def test_subdict_of_subdict(tree):
    assert list(tree.get_subdict("p").get_subdict("q")) == [("y",)]


def test_subdict_write_lands_under_prefix(tree, values):
    sub = tree.get_subdict("p")
    sub["new"] = values.make(5)

    assert tree["p", "new"] == values.make(5)


def test_subdict_delete_reaches_parent(tree):
    sub = tree.get_subdict("p")
    del sub["x"]

    assert ("p", "x") not in tree


def test_subdict_sees_parent_writes(tree, values):
    sub = tree.get_subdict("p")
    tree["p", "later"] = values.make(6)

    assert sub["later"] == values.make(6)


def test_subdict_of_missing_prefix(tree, values):
    sub = tree.get_subdict("nothing")

    assert len(sub) == 0
    sub["k"] = values.make(7)
    assert tree["nothing", "k"] == values.make(7)


def test_subdict_clear_keeps_siblings(tree):
    tree.get_subdict("p").clear()

    assert sorted(k.strings for k in tree) == [("leaf",), ("o", "z")]


@pytest.mark.parametrize("prefix", [(), []], ids=["tuple", "list"])
def test_empty_prefix_gives_whole_dict(tree, prefix):
    whole = tree.get_subdict(prefix)

    assert whole == tree
    assert set(whole) == set(tree)


def test_subdict_keeps_parameters(make_dict):
    d = make_dict(append_only=True)
    sub = d.get_subdict("p")

    assert sub.append_only is True
    assert sub.serialization_format == d.serialization_format


def test_subdicts_one_per_first_component(tree):
    subs = tree.subdicts()

    assert set(subs) == {"p", "o"}
    assert all(type(sub) is type(tree) for sub in subs.values())


def test_subdicts_see_their_items(tree, values):
    subs = tree.subdicts()

    assert dict(subs["o"].items()) == {("z",): values.make(3)}
    assert sorted(k.strings for k in subs["p"]) == [("q", "y"), ("x",)]


def test_leaf_key_not_a_subdict(tree):
    assert "leaf" not in tree.subdicts()


def test_leaf_with_children_is_subdict(tree, values):
    tree["leaf", "child"] = values.make(8)

    assert "leaf" in tree.subdicts()


def test_emptied_prefix_leaves_subdicts(tree):
    del tree["o", "z"]

    assert set(tree.subdicts()) == {"p"}


def test_emptied_deep_prefix_leaves_subdicts(tree):
    del tree["p", "x"]
    del tree["p", "q", "y"]

    assert set(tree.subdicts()) == {"o"}


def test_subdicts_of_empty_dict(make_dict):
    assert make_dict().subdicts() == {}


# ----------------------------------------------------------------- discard


def test_discard_present_returns_true(make_dict, values):
    d = make_dict()
    d["k"] = values.make(1)

    assert d.discard("k") is True
    assert "k" not in d


def test_discard_absent_returns_false(make_dict):
    assert make_dict().discard(("a", "b")) is False


def test_delete_if_exists_present(make_dict, values):
    d = make_dict()
    d["k"] = values.make(1)

    assert d.delete_if_exists("k") is True
    assert "k" not in d


def test_delete_if_exists_absent(make_dict):
    assert make_dict().delete_if_exists("k") is False


# ---------------------------------------------------------------- handles


def test_get_params_describe_dict(make_dict):
    d = make_dict(append_only=True)
    params = d.get_params()
    rebuilt = type(d)(**params)

    assert isinstance(params, dict)
    assert rebuilt.serialization_format == d.serialization_format
    assert rebuilt.append_only is True
    assert rebuilt.base_class_for_values is d.base_class_for_values


@pytest.mark.parametrize(
    "make_handle",
    [
        pytest.param(lambda d: d.clone(), id="clone"),
        pytest.param(copy.copy, id="copy"),
        pytest.param(lambda d: type(d)(**d.get_params()), id="from-params"),
    ],
)
def test_new_handle_shares_items(make_dict, values, make_handle):
    d = make_dict()
    d["a"] = values.make(1)
    handle = make_handle(d)
    handle["b"] = values.make(2)

    assert type(handle) is type(d)
    assert handle == d
    assert handle.get_params() == d.get_params()
    assert handle["a"] == values.make(1)
    assert d["b"] == values.make(2)


def test_handle_from_params_equal(make_dict):
    d = make_dict()

    assert type(d)(**d.get_params()) == d


def test_pickled_dict_is_handle(make_dict, values, dict_case):
    d = make_dict()
    d["a"] = values.make(1)
    if not dict_case.picklable:
        with pytest.raises(TypeError):
            pickle.dumps(d)
        return

    handle = pickle.loads(pickle.dumps(d))
    handle["b"] = values.make(2)

    assert handle.get_params() == d.get_params()
    assert handle["a"] == values.make(1)
    assert d["b"] == values.make(2)


def test_params_pickle_when_picklable(make_dict, dict_case):
    if not dict_case.picklable:
        pytest.skip("the params of this dict carry in-memory storage")
    params = make_dict().get_params()

    assert pickle.loads(pickle.dumps(params)) == params


def test_repr_names_class(make_dict):
    d = make_dict()

    assert type(d).__name__ in repr(d)


# ----------------------------------------------------------------- jokers


def test_keep_current_leaves_value(make_dict, values):
    d = make_dict()
    d["k"] = values.make(1)
    etag = d.etag("k")
    d["k"] = KEEP_CURRENT

    assert d["k"] == values.make(1)
    assert d.etag("k") == etag


def test_keep_current_on_absent_key(make_dict):
    d = make_dict()
    d["k"] = KEEP_CURRENT

    assert "k" not in d


def test_delete_current_removes_value(make_dict, values):
    d = make_dict()
    d["k"] = values.make(1)
    d["k"] = DELETE_CURRENT

    assert "k" not in d


def test_delete_current_on_absent_key(make_dict):
    d = make_dict()
    d["k"] = DELETE_CURRENT

    assert "k" not in d
    assert len(d) == 0


def test_jokers_in_update(make_dict, values):
    d = make_dict()
    d["keep"] = values.make(1)
    d["drop"] = values.make(2)
    d.update({"keep": KEEP_CURRENT, "drop": DELETE_CURRENT, "new": values.make(3)})

    assert dict(d.items()) == {("keep",): values.make(1), ("new",): values.make(3)}


def test_jokers_in_update_kwargs(make_dict, values):
    d = make_dict()
    d["keep"] = values.make(1)
    d["drop"] = values.make(2)
    d.update(keep=KEEP_CURRENT, drop=DELETE_CURRENT)

    assert dict(d.items()) == {("keep",): values.make(1)}


SINGLETONS = [
    (KEEP_CURRENT, KeepCurrentFlag, "KEEP_CURRENT"),
    (DELETE_CURRENT, DeleteCurrentFlag, "DELETE_CURRENT"),
    (ITEM_NOT_AVAILABLE, ItemNotAvailableFlag, "ITEM_NOT_AVAILABLE"),
    (VALUE_NOT_RETRIEVED, ValueNotRetrievedFlag, "VALUE_NOT_RETRIEVED"),
    (ANY_ETAG, AnyETagFlag, "ANY_ETAG"),
    (ETAG_IS_THE_SAME, ETagIsTheSameFlag, "ETAG_IS_THE_SAME"),
    (ETAG_HAS_CHANGED, ETagHasChangedFlag, "ETAG_HAS_CHANGED"),
    (ALWAYS_RETRIEVE, AlwaysRetrieveFlag, "ALWAYS_RETRIEVE"),
    (NEVER_RETRIEVE, NeverRetrieveFlag, "NEVER_RETRIEVE"),
    (IF_ETAG_CHANGED, IfETagChangedRetrieveFlag, "IF_ETAG_CHANGED"),
]
SINGLETON_IDS = [name for _, _, name in SINGLETONS]


@pytest.mark.parametrize(("flag", "flag_class", "name"), SINGLETONS, ids=SINGLETON_IDS)
def test_flag_survives_pickle_and_copy(flag, flag_class, name):
    assert pickle.loads(pickle.dumps(flag)) is flag
    assert pickle.loads(pickle.dumps([flag], protocol=0))[0] is flag
    assert copy.copy(flag) is flag
    assert copy.deepcopy({"k": flag})["k"] is flag


@pytest.mark.parametrize(("flag", "flag_class", "name"), SINGLETONS, ids=SINGLETON_IDS)
def test_flag_is_class_singleton(flag, flag_class, name):
    assert isinstance(flag, flag_class)
    assert flag_class() is flag


@pytest.mark.parametrize(("flag", "flag_class", "name"), SINGLETONS, ids=SINGLETON_IDS)
def test_flag_repr_is_readable(flag, flag_class, name):
    assert name in repr(flag)


def test_jokers_are_joker_instances():
    assert isinstance(KEEP_CURRENT, Joker)
    assert isinstance(DELETE_CURRENT, Joker)
    assert not isinstance(ITEM_NOT_AVAILABLE, Joker)
