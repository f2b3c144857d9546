"""Tests of the key types: SafeStrTuple, NonEmptySafeStrTuple and the helpers."""

from __future__ import annotations

import copy
import operator
import pickle
import string

import pytest

from persidict import (
    NonEmptySafeStrTuple,
    SafeStrTuple,
    get_safe_chars,
    replace_unsafe_chars,
)

SAFE_CHARS = set(string.ascii_letters + string.digits + "()_-~.=")

KEY_CLASSES = [SafeStrTuple, NonEmptySafeStrTuple]


# ------------------------------------------------------------ construction


@pytest.mark.parametrize("cls", KEY_CLASSES)
def test_single_string_builds_one_component(cls):
    key = cls("alpha")
    assert key.strings == ("alpha",)


@pytest.mark.parametrize("cls", KEY_CLASSES)
def test_several_strings_keep_order(cls):
    key = cls("a", "b", "c")
    assert tuple(key) == ("a", "b", "c")


@pytest.mark.parametrize("cls", KEY_CLASSES)
def test_nested_sequences_are_flattened(cls):
    key = cls("a", ["b", ("c", ["d"])], ("e",), [], ())
    assert tuple(key) == ("a", "b", "c", "d", "e")


@pytest.mark.parametrize("cls", KEY_CLASSES)
def test_safe_str_tuples_are_flattened(cls):
    inner = SafeStrTuple("b", "c")
    key = cls("a", inner, [NonEmptySafeStrTuple("d"), (SafeStrTuple(), "e")])
    assert tuple(key) == ("a", "b", "c", "d", "e")


def test_empty_safe_str_tuple_allowed():
    assert len(SafeStrTuple()) == 0


@pytest.mark.parametrize("args", [(), ([],), ((),), (SafeStrTuple(),), ([[], ()],)])
def test_non_empty_rejects_no_strings(args):
    with pytest.raises(ValueError, match="at least one string"):
        NonEmptySafeStrTuple(*args)


@pytest.mark.parametrize("cls", KEY_CLASSES)
def test_constructor_returns_expected_class(cls):
    assert type(cls("a", ["b"])) is cls


def test_str_subclass_becomes_plain_str():
    class Name(str):
        pass

    key = SafeStrTuple(Name("a"))
    assert type(key[0]) is str


# ------------------------------------------------------------- TypeError


@pytest.mark.parametrize("cls", KEY_CLASSES)
@pytest.mark.parametrize(
    "bad_arg",
    [
        {"a": "b"},
        {},
        1,
        0,
        1.5,
        True,
        b"abc",
        bytearray(b"abc"),
        None,
        {"a"},
        object(),
    ],
    ids=lambda v: type(v).__name__,
)
def test_non_string_argument_raises_type_error(cls, bad_arg):
    with pytest.raises(TypeError):
        cls(bad_arg)


@pytest.mark.parametrize("cls", KEY_CLASSES)
@pytest.mark.parametrize(
    "bad_arg", [{"a": "b"}, 7, b"x", None], ids=lambda v: type(v).__name__
)
def test_nested_non_string_raises_type_error(cls, bad_arg):
    with pytest.raises(TypeError):
        cls("a", ["b", (bad_arg,)])


@pytest.mark.parametrize("cls", KEY_CLASSES)
def test_keyword_argument_raises_type_error(cls):
    with pytest.raises(TypeError):
        cls(key="a")


@pytest.mark.parametrize("cls", KEY_CLASSES)
def test_keyword_with_strings_raises_type_error(cls):
    with pytest.raises(TypeError):
        cls("a", "b", extra="c")


# ------------------------------------------------------------ ValueError


def _value_error_message(cls, *args):
    with pytest.raises(ValueError) as info:
        cls(*args)
    return str(info.value)


@pytest.mark.parametrize("cls", KEY_CLASSES)
def test_empty_string_names_rule(cls):
    message = _value_error_message(cls, "a", "")
    assert "''" in message
    assert "empty" in message


@pytest.mark.parametrize("cls", KEY_CLASSES)
@pytest.mark.parametrize("reserved", [".", ".."])
def test_dot_names_are_rejected(cls, reserved):
    message = _value_error_message(cls, reserved)
    assert repr(reserved) in message
    assert "reserved" in message


@pytest.mark.parametrize("cls", KEY_CLASSES)
def test_dotdot_inside_key_rejected(cls):
    message = _value_error_message(cls, "a", "..", "b")
    assert "'..'" in message


@pytest.mark.parametrize("cls", KEY_CLASSES)
def test_three_dots_are_allowed(cls):
    assert tuple(cls("...", ".a", "a.")) == ("...", ".a", "a.")


@pytest.mark.parametrize("cls", KEY_CLASSES)
def test_253_characters_are_allowed(cls):
    text = "x" * 253
    assert cls(text)[0] == text


@pytest.mark.parametrize("cls", KEY_CLASSES)
@pytest.mark.parametrize("length", [254, 255, 300, 5000])
def test_long_string_names_length_rule(cls, length):
    text = "L" * 20 + "x" * (length - 20)
    message = _value_error_message(cls, "ok", text)
    assert text[:40] in message
    assert str(length) in message
    assert "253" in message


@pytest.mark.parametrize("cls", KEY_CLASSES)
@pytest.mark.parametrize(
    "text",
    [
        "a/b",
        "a\\b",
        "a\x00b",
        "caf\u00e9",
        "a b",
        "tab\t",
        "line\n",
        "a:b",
        "*",
        "\U0001f600",
    ],
)
def test_unsafe_character_names_rule(cls, text):
    message = _value_error_message(cls, "ok", text)
    assert repr(text) in message
    assert "allowed" in message


@pytest.mark.parametrize("cls", KEY_CLASSES)
def test_unsafe_character_is_quoted(cls):
    message = _value_error_message(cls, "a/b")
    assert "'/'" in message


@pytest.mark.parametrize("cls", KEY_CLASSES)
def test_unsafe_string_nested_raises(cls):
    with pytest.raises(ValueError):
        cls("a", [("b", "c/d")])


@pytest.mark.parametrize("char", sorted(SAFE_CHARS))
def test_every_safe_character_accepted(char):
    text = f"a{char}b"
    assert SafeStrTuple(text)[0] == text


UNSAFE_SAMPLE = [
    c
    for c in map(chr, [*range(128), 0xA0, 0xE9, 0x2028, 0xFF0F])
    if c not in SAFE_CHARS
]


@pytest.mark.parametrize("char", UNSAFE_SAMPLE, ids=lambda c: f"U+{ord(c):04X}")
def test_other_characters_rejected(char):
    with pytest.raises(ValueError):
        SafeStrTuple(f"a{char}b")


# ------------------------------------------------- equality, hash, order


@pytest.mark.parametrize("cls", KEY_CLASSES)
def test_equals_plain_tuple(cls):
    assert cls("a", "b") == ("a", "b")


@pytest.mark.parametrize("cls", KEY_CLASSES)
def test_plain_tuple_equals_key(cls):
    # The plain tuple is the left operand, so this checks the reflected __eq__.
    assert operator.eq(("a", "b"), cls("a", "b"))


@pytest.mark.parametrize("cls", KEY_CLASSES)
def test_not_equal_plain_tuple(cls):
    assert cls("a", "b") != ("b", "a")


@pytest.mark.parametrize("cls", KEY_CLASSES)
def test_ne_false_for_equal_tuple(cls):
    assert operator.ne(cls("a", "b"), ("a", "b")) is False


def test_both_classes_compare_equal():
    assert SafeStrTuple("a", "b") == NonEmptySafeStrTuple("a", "b")


@pytest.mark.parametrize("cls", KEY_CLASSES)
def test_not_equal_to_list_or_str(cls):
    key = cls("a")
    assert key != ["a"]
    assert key != "a"


@pytest.mark.parametrize("cls", KEY_CLASSES)
def test_hash_matches_plain_tuple(cls):
    assert hash(cls("a", "b")) == hash(("a", "b"))


@pytest.mark.parametrize("cls", KEY_CLASSES)
def test_key_finds_tuple_in_dict(cls):
    table = {("a", "b"): 1}
    assert table[cls("a", "b")] == 1


@pytest.mark.parametrize("cls", KEY_CLASSES)
def test_tuple_finds_key_in_dict(cls):
    table = {cls("a", "b"): 1}
    assert table[("a", "b")] == 1


def test_set_deduplicates_equal_keys():
    keys = {SafeStrTuple("a"), NonEmptySafeStrTuple("a"), ("a",)}
    assert len(keys) == 1


@pytest.mark.parametrize("cls", KEY_CLASSES)
@pytest.mark.parametrize("other_kind", ["key", "tuple"])
@pytest.mark.parametrize(
    "compare", [operator.lt, operator.le, operator.gt, operator.ge]
)
def test_keys_are_not_orderable(cls, other_kind, compare):
    other = cls("b") if other_kind == "key" else ("b",)
    with pytest.raises(TypeError):
        compare(cls("a"), other)


@pytest.mark.parametrize("cls", KEY_CLASSES)
def test_plain_tuple_comparison_raises(cls):
    with pytest.raises(TypeError):
        operator.lt(("a",), cls("b"))


def test_sorting_keys_raises_type_error():
    with pytest.raises(TypeError):
        sorted([SafeStrTuple("b"), SafeStrTuple("a")])


# ------------------------------------------------------ sequence protocol


@pytest.mark.parametrize("cls", KEY_CLASSES)
def test_len_counts_components(cls):
    assert len(cls("a", ["b", "c"])) == 3


@pytest.mark.parametrize("cls", KEY_CLASSES)
def test_indexing_returns_strings(cls):
    key = cls("a", "b", "c")
    assert key[0] == "a"
    assert key[-1] == "c"
    assert type(key[1]) is str


@pytest.mark.parametrize("cls", KEY_CLASSES)
def test_index_out_of_range(cls):
    with pytest.raises(IndexError):
        cls("a")[1]


@pytest.mark.parametrize("cls", KEY_CLASSES)
def test_slice_returns_key_type(cls):
    part = cls("a", "b", "c")[1:]
    assert part == ("b", "c")
    assert isinstance(part, SafeStrTuple)


def test_non_empty_slice_stays_non_empty():
    part = NonEmptySafeStrTuple("a", "b", "c")[:2]
    assert type(part) is NonEmptySafeStrTuple


def test_empty_slice_is_safe_str_tuple():
    part = NonEmptySafeStrTuple("a", "b")[5:]
    assert type(part) is SafeStrTuple
    assert len(part) == 0


def test_reversed_slice_keeps_order():
    assert NonEmptySafeStrTuple("a", "b", "c")[::-1] == ("c", "b", "a")


@pytest.mark.parametrize("cls", KEY_CLASSES)
def test_iteration_yields_components(cls):
    assert list(cls("a", ("b", "c"))) == ["a", "b", "c"]


@pytest.mark.parametrize("cls", KEY_CLASSES)
def test_membership_checks_components(cls):
    key = cls("a", "b")
    assert "a" in key
    assert "c" not in key


@pytest.mark.parametrize("cls", KEY_CLASSES)
def test_add_key_and_tuple(cls):
    result = operator.add(cls("a"), ("b", "c"))
    assert result == ("a", "b", "c")
    assert isinstance(result, SafeStrTuple)


@pytest.mark.parametrize("cls", KEY_CLASSES)
def test_add_tuple_and_key(cls):
    result = operator.add(("a",), cls("b"))
    assert result == ("a", "b")
    assert isinstance(result, SafeStrTuple)


def test_add_two_keys():
    result = SafeStrTuple("a") + NonEmptySafeStrTuple("b")
    assert result == ("a", "b")


def test_add_empty_keeps_non_empty():
    result = NonEmptySafeStrTuple("a") + SafeStrTuple()
    assert type(result) is NonEmptySafeStrTuple


def test_add_validates_new_strings():
    with pytest.raises(ValueError):
        operator.add(SafeStrTuple("a"), ("b/c",))


def test_add_number_raises_type_error():
    with pytest.raises(TypeError):
        SafeStrTuple("a") + 1


@pytest.mark.parametrize("cls", KEY_CLASSES)
def test_keys_are_immutable(cls):
    key = cls("a")
    with pytest.raises(AttributeError):
        key.strings = ("b",)


@pytest.mark.parametrize("cls", KEY_CLASSES)
def test_repr_names_class_and_strings(cls):
    text = repr(cls("a", "b"))
    assert cls.__name__ in text
    assert "'a'" in text


# ------------------------------------------------------- pickle and copy


@pytest.mark.parametrize("cls", KEY_CLASSES)
@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_round_trip(cls, protocol):
    key = cls("a", "b~c", "d=e")
    restored = pickle.loads(pickle.dumps(key, protocol=protocol))
    assert restored == key
    assert type(restored) is cls


def test_empty_key_pickles():
    restored = pickle.loads(pickle.dumps(SafeStrTuple()))
    assert restored == ()


@pytest.mark.parametrize("cls", KEY_CLASSES)
@pytest.mark.parametrize("copier", [copy.copy, copy.deepcopy])
def test_copy_keeps_class_and_strings(cls, copier):
    key = cls("a", "b")
    duplicate = copier(key)
    assert duplicate == key
    assert type(duplicate) is cls


# ------------------------------------ get_safe_chars, replace_unsafe_chars


def test_safe_chars_equal_expected_set():
    assert get_safe_chars() == SAFE_CHARS


def test_safe_chars_returns_copy():
    chars = get_safe_chars()
    chars.add("/")
    chars.discard("a")
    assert get_safe_chars() == SAFE_CHARS


def test_safe_chars_new_object_each_call():
    assert get_safe_chars() is not get_safe_chars()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a/b\\c", "a_b_c"),
        ("caf\u00e9 au lait", "caf__au_lait"),
        ("..", ".."),
        ("", ""),
        ("\x00\n\t", "___"),
        ("ok()_-~.=", "ok()_-~.="),
    ],
)
def test_replace_unsafe_chars_substitutes(text, expected):
    assert replace_unsafe_chars(text, "_") == expected


def test_replace_with_longer_string():
    assert replace_unsafe_chars("a/b/c", "--") == "a--b--c"


def test_replace_with_empty_string():
    assert replace_unsafe_chars("a/ b", "") == "ab"


def test_replaced_text_is_valid_key():
    text = replace_unsafe_chars("report 2024/05: caf\u00e9!", "_")
    assert SafeStrTuple(text)[0] == text
