"""Contract: values round-trip exactly, are copies, and are validated."""

from __future__ import annotations

import math

import pytest

from persidict import ANY_ETAG, ITEM_NOT_AVAILABLE, PersiDict


def same_structure(read, written) -> bool:
    """Tell whether ``read`` equals ``written`` with the same types at every
    level, so that 1 and 1.0, True and 1, a tuple and a list stay apart."""
    if type(read) is not type(written):
        return False
    if isinstance(written, dict):
        if set(read) != set(written):
            return False
        key_pairs = zip(sorted(read, key=repr), sorted(written, key=repr), strict=True)
        keys_match = all(same_structure(r, w) for r, w in key_pairs)
        return keys_match and all(same_structure(read[k], written[k]) for k in written)
    if isinstance(written, (list, tuple)):
        return len(read) == len(written) and all(
            same_structure(r, w) for r, w in zip(read, written, strict=True)
        )
    return bool(read == written)


# ---------------------------------------------------------- round trip


def test_samples_round_trip_exactly(make_dict, values):
    d = make_dict()
    samples = values.samples()
    for index, (_, value) in enumerate(samples):
        d["sample", str(index)] = value

    for index, (label, value) in enumerate(samples):
        read = d["sample", str(index)]
        assert same_structure(read, value), f"{label}: wrote {value!r}, read {read!r}"


def test_samples_survive_new_handle(make_dict, values):
    d = make_dict()
    samples = values.samples()
    for index, (_, value) in enumerate(samples):
        d["sample", str(index)] = value
    handle = d.clone()

    for index, (label, value) in enumerate(samples):
        read = handle["sample", str(index)]
        assert same_structure(read, value), f"{label}: wrote {value!r}, read {read!r}"


@pytest.mark.parametrize("number", [math.inf, -math.inf])
def test_infinite_floats_round_trip(make_dict, values, number):
    if values.is_text:
        pytest.skip("a text dict stores only str")
    d = make_dict()
    d["k"] = number
    d["nested"] = {"x": [number]}

    assert d["k"] == number
    assert d["nested"] == {"x": [number]}


def test_nan_round_trips(make_dict, values):
    if values.is_text:
        pytest.skip("a text dict stores only str")
    d = make_dict()
    d["k"] = math.nan
    d["nested"] = [math.nan]

    assert math.isnan(d["k"])
    assert math.isnan(d["nested"][0])


def test_json_reserved_key_never_lost(make_dict, values, request):
    """Check that a dict key that looks like a jsonpickle tag reads back as
    written. Rejecting the write is also fine, but a changed value is not."""
    if values.value_format != "json":
        pytest.skip("only JSON has tag-like keys")
    d = make_dict()
    value = {"py/object": "not a class name", "py/tuple": [1]}

    try:
        d["k"] = value
    except ValueError:
        return
    assert d["k"] == value


# --------------------------------------------------------------- copies


def test_mutating_written_value_no_effect(make_dict, values):
    if values.is_text:
        pytest.skip("text values are immutable str")
    d = make_dict()
    value = values.make(1)
    d["k"] = value
    value["items"].append("changed")
    value["index"] = -1

    assert d["k"] == values.make(1)


def test_mutating_read_value_no_effect(make_dict, values):
    if values.is_text:
        pytest.skip("text values are immutable str")
    d = make_dict()
    d["k"] = values.make(1)
    read = d["k"]
    read["items"].append("changed")
    read["index"] = -1

    assert d["k"] == values.make(1)


def test_reads_return_distinct_objects(make_dict, values):
    if values.is_text:
        pytest.skip("text values are immutable str")
    d = make_dict()
    d["k"] = values.make(1)

    assert d["k"] is not d["k"]


def test_mutating_values_view_no_effect(make_dict, values):
    if values.is_text:
        pytest.skip("text values are immutable str")
    d = make_dict()
    d["k"] = values.make(1)
    for value in d.values():
        value["index"] = -1

    assert d["k"] == values.make(1)


# ------------------------------------------------- base_class_for_values


class TextSubclass(str):
    pass


def test_base_class_rejects_wrong_type(make_dict):
    d = make_dict(base_class_for_values=str)

    with pytest.raises(TypeError):
        d["k"] = 5
    assert "k" not in d


def test_base_class_accepts_instance(make_dict):
    d = make_dict(base_class_for_values=str)
    d["k"] = "text"

    assert d["k"] == "text"


def test_base_class_accepts_subclass(make_dict):
    d = make_dict(base_class_for_values=str)
    d["k"] = TextSubclass("text")

    assert "k" in d


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(lambda d: d.update({"k": 5}), id="update"),
        pytest.param(lambda d: d.update(k=5), id="update-kwargs"),
        pytest.param(lambda d: d.setdefault("k", 5), id="setdefault"),
        pytest.param(
            lambda d: d.set_item_if(
                "k", value=5, condition=ANY_ETAG, expected_etag=ITEM_NOT_AVAILABLE
            ),
            id="set_item_if",
        ),
        pytest.param(
            lambda d: d.setdefault_if(
                "k",
                default_value=5,
                condition=ANY_ETAG,
                expected_etag=ITEM_NOT_AVAILABLE,
            ),
            id="setdefault_if",
        ),
        pytest.param(
            lambda d: d.transform_item("k", transformer=lambda v: 5),
            id="transform_item",
        ),
    ],
)
def test_base_class_checked_every_write(make_dict, write):
    d = make_dict(base_class_for_values=str)

    with pytest.raises(TypeError):
        write(d)
    assert "k" not in d


@pytest.mark.parametrize("base_class", ["str", 5, str.upper])
def test_base_class_must_be_class(make_dict, base_class):
    with pytest.raises(TypeError):
        make_dict(base_class_for_values=base_class)


def test_base_class_kept_by_handles(make_dict):
    d = make_dict(base_class_for_values=str)

    assert d.base_class_for_values is str
    assert type(d)(**d.get_params()).base_class_for_values is str
    assert d.clone().base_class_for_values is str
    assert d.get_subdict("p").base_class_for_values is str


# ----------------------------------------------------------- construction


@pytest.mark.parametrize("base_class", [None, int, bytes])
def test_text_format_needs_str_class(make_dict, base_class):
    with pytest.raises(ValueError):
        make_dict(serialization_format="txt", base_class_for_values=base_class)


def test_text_format_accepts_str_subclass(make_dict):
    d = make_dict(serialization_format="txt", base_class_for_values=TextSubclass)

    assert d.serialization_format == "txt"


@pytest.mark.parametrize("name", ["", "a/b", "..", "a b"])
def test_unsafe_format_name_rejected(make_dict, name):
    with pytest.raises(ValueError):
        make_dict(serialization_format=name, base_class_for_values=str)


def test_positional_argument_rejected(make_dict):
    d = make_dict()

    with pytest.raises(TypeError):
        type(d)("pkl")


def test_unknown_argument_rejected(make_dict):
    with pytest.raises(TypeError):
        make_dict(no_such_parameter=1)


def test_persidict_value_rejected(make_dict):
    d = make_dict()
    other = make_dict()

    with pytest.raises(TypeError):
        d["k"] = other
    assert "k" not in d


def test_persidict_value_rejected_by_update(make_dict):
    d = make_dict()

    with pytest.raises(TypeError):
        d.update({"k": make_dict()})
    assert "k" not in d


def test_persidict_value_rejected_conditionally(make_dict):
    d = make_dict()

    with pytest.raises(TypeError):
        d.set_item_if(
            "k",
            value=make_dict(),
            condition=ANY_ETAG,
            expected_etag=ITEM_NOT_AVAILABLE,
        )
    assert "k" not in d


def test_persidict_is_unhashable(make_dict):
    d = make_dict()

    with pytest.raises(TypeError):
        hash(d)
    with pytest.raises(TypeError):
        {d}  # noqa: B018


def test_is_a_persidict(make_dict):
    assert isinstance(make_dict(), PersiDict)
