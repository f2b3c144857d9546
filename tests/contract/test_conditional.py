"""Contract: conditional operations on ETags, and ``transform_item``.

Each operation runs over the full matrix of condition, key state and
retrieval policy. A key state fixes whether the key is stored and which
ETag the caller expects:

- ``present-same``: stored; the caller expects its current ETag.
- ``present-stale``: stored; the caller expects the ETag of an earlier write.
- ``present-absent``: stored; the caller expects ``ITEM_NOT_AVAILABLE``.
- ``absent-stale``: deleted; the caller expects its last ETag.
- ``absent-absent``: absent; the caller expects ``ITEM_NOT_AVAILABLE``.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from typing import Any

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
    ConcurrencyConflictError,
    ConditionalOperationResult,
    OperationResult,
)

CONDITIONS = [
    pytest.param(ANY_ETAG, id="ANY_ETAG"),
    pytest.param(ETAG_IS_THE_SAME, id="ETAG_IS_THE_SAME"),
    pytest.param(ETAG_HAS_CHANGED, id="ETAG_HAS_CHANGED"),
]
RETRIEVALS = [
    pytest.param(ALWAYS_RETRIEVE, id="ALWAYS_RETRIEVE"),
    pytest.param(NEVER_RETRIEVE, id="NEVER_RETRIEVE"),
    pytest.param(IF_ETAG_CHANGED, id="IF_ETAG_CHANGED"),
]
STATES = [
    "present-same",
    "present-stale",
    "present-absent",
    "absent-stale",
    "absent-absent",
]


@dataclass(frozen=True)
class Situation:
    """The state of key ("k",) before a conditional operation."""

    present: bool
    stored_value: Any
    # The ETag passed as expected_etag.
    expected: Any
    # The key's ETag, or ITEM_NOT_AVAILABLE when it is absent.
    actual: Any

    @property
    def etags_match(self) -> bool:
        return self.expected == self.actual


def arrange(d, values, state: str) -> Situation:
    """Bring ``d`` into ``state`` with as few writes as that state needs."""
    present, _, expectation = state.partition("-")
    if present == "absent":
        if expectation == "absent":
            return Situation(False, None, ITEM_NOT_AVAILABLE, ITEM_NOT_AVAILABLE)
        d["k"] = values.make(1)
        last = d.etag("k")
        del d["k"]
        return Situation(False, None, last, ITEM_NOT_AVAILABLE)

    stale = None
    if expectation == "stale":
        d["k"] = values.make(0)
        stale = d.etag("k")
    d["k"] = values.make(1)
    current = d.etag("k")
    expected = {"same": current, "stale": stale, "absent": ITEM_NOT_AVAILABLE}[
        expectation
    ]
    return Situation(True, values.make(1), expected, current)


def condition_holds(condition, situation: Situation) -> bool:
    if condition is ANY_ETAG:
        return True
    if condition is ETAG_IS_THE_SAME:
        return situation.etags_match
    return not situation.etags_match


def reported_value(situation: Situation, retrieve_value):
    """Return the ``new_value`` expected from an operation that left the key
    unchanged."""
    if not situation.present:
        return ITEM_NOT_AVAILABLE
    if retrieve_value is NEVER_RETRIEVE:
        return VALUE_NOT_RETRIEVED
    if retrieve_value is IF_ETAG_CHANGED and situation.etags_match:
        return VALUE_NOT_RETRIEVED
    return situation.stored_value


def assert_key_unchanged(d, situation: Situation) -> None:
    if situation.present:
        assert d["k"] == situation.stored_value
        assert d.etag("k") == situation.actual
    else:
        assert "k" not in d


def assert_unchanged_result(result, situation, satisfied, retrieve_value) -> None:
    assert isinstance(result, ConditionalOperationResult)
    assert result.condition_was_satisfied is satisfied
    assert result.actual_etag == situation.actual
    assert result.resulting_etag == situation.actual
    assert result.new_value == reported_value(situation, retrieve_value)
    assert result.value_was_mutated is False


# ----------------------------------------------------------- get_item_if


@pytest.mark.parametrize("retrieve_value", RETRIEVALS)
@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("condition", CONDITIONS)
def test_get_item_if_matrix(make_dict, values, condition, state, retrieve_value):
    d = make_dict()
    situation = arrange(d, values, state)

    result = d.get_item_if(
        "k",
        condition=condition,
        expected_etag=situation.expected,
        retrieve_value=retrieve_value,
    )

    satisfied = condition_holds(condition, situation)
    assert_unchanged_result(result, situation, satisfied, retrieve_value)
    assert_key_unchanged(d, situation)


def test_get_item_if_default_retrieval(make_dict, values):
    d = make_dict()
    d["k"] = values.make(1)
    etag = d.etag("k")

    same = d.get_item_if("k", condition=ETAG_IS_THE_SAME, expected_etag=etag)
    changed = d.get_item_if(
        "k", condition=ETAG_IS_THE_SAME, expected_etag=ITEM_NOT_AVAILABLE
    )

    assert same.new_value is VALUE_NOT_RETRIEVED
    assert changed.new_value == values.make(1)


# ------------------------------------------------------------ set_item_if


@pytest.mark.parametrize("retrieve_value", RETRIEVALS)
@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("condition", CONDITIONS)
def test_set_item_if_value_matrix(make_dict, values, condition, state, retrieve_value):
    d = make_dict()
    situation = arrange(d, values, state)
    new_value = values.make(2)

    result = d.set_item_if(
        "k",
        value=new_value,
        condition=condition,
        expected_etag=situation.expected,
        retrieve_value=retrieve_value,
    )

    satisfied = condition_holds(condition, situation)
    if not satisfied:
        assert_unchanged_result(result, situation, False, retrieve_value)
        assert_key_unchanged(d, situation)
        return
    assert result.condition_was_satisfied is True
    assert result.actual_etag == situation.actual
    assert result.resulting_etag == d.etag("k")
    assert result.resulting_etag != situation.actual
    # The written value is returned whatever the retrieval policy, as in the
    # public persidict package.
    assert result.new_value == new_value
    assert result.value_was_mutated is True
    assert d["k"] == new_value


@pytest.mark.parametrize("retrieve_value", RETRIEVALS)
@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("condition", CONDITIONS)
def test_set_item_if_keep_matrix(make_dict, values, condition, state, retrieve_value):
    d = make_dict()
    situation = arrange(d, values, state)

    result = d.set_item_if(
        "k",
        value=KEEP_CURRENT,
        condition=condition,
        expected_etag=situation.expected,
        retrieve_value=retrieve_value,
    )

    satisfied = condition_holds(condition, situation)
    assert_unchanged_result(result, situation, satisfied, retrieve_value)
    assert_key_unchanged(d, situation)


@pytest.mark.parametrize("retrieve_value", RETRIEVALS)
@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("condition", CONDITIONS)
def test_set_item_if_delete_matrix(
    make_dict, values, condition, state, retrieve_value, request
):
    d = make_dict()
    situation = arrange(d, values, state)
    satisfied = condition_holds(condition, situation)
    result = d.set_item_if(
        "k",
        value=DELETE_CURRENT,
        condition=condition,
        expected_etag=situation.expected,
        retrieve_value=retrieve_value,
    )

    if not satisfied:
        assert_unchanged_result(result, situation, False, retrieve_value)
        assert_key_unchanged(d, situation)
        return
    assert result.condition_was_satisfied is True
    assert result.actual_etag == situation.actual
    assert result.resulting_etag is ITEM_NOT_AVAILABLE
    assert result.new_value is ITEM_NOT_AVAILABLE
    assert result.value_was_mutated is situation.present
    assert "k" not in d


def test_set_item_if_chains_etags(make_dict, values):
    d = make_dict()
    etag = ITEM_NOT_AVAILABLE
    for index in range(3):
        result = d.set_item_if(
            "k",
            value=values.make(index),
            condition=ETAG_IS_THE_SAME,
            expected_etag=etag,
        )
        assert result.condition_was_satisfied, index
        etag = result.resulting_etag

    assert d["k"] == values.make(2)
    assert d.etag("k") == etag


def test_set_item_if_deep_new_key(make_dict, values):
    d = make_dict()
    key = ("new", "deep", "k")

    stale = d.set_item_if(
        key, value=values.make(1), condition=ETAG_IS_THE_SAME, expected_etag="x"
    )
    inserted = d.set_item_if(
        key,
        value=values.make(1),
        condition=ETAG_IS_THE_SAME,
        expected_etag=ITEM_NOT_AVAILABLE,
    )

    assert stale.condition_was_satisfied is False
    assert inserted.condition_was_satisfied is True
    assert d[key] == values.make(1)


# ---------------------------------------------------------- setdefault_if


@pytest.mark.parametrize("retrieve_value", RETRIEVALS)
@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("condition", CONDITIONS)
def test_setdefault_if_matrix(make_dict, values, condition, state, retrieve_value):
    d = make_dict()
    situation = arrange(d, values, state)
    default = values.make(2)

    result = d.setdefault_if(
        "k",
        default_value=default,
        condition=condition,
        expected_etag=situation.expected,
        retrieve_value=retrieve_value,
    )

    satisfied = condition_holds(condition, situation)
    if situation.present or not satisfied:
        assert_unchanged_result(result, situation, satisfied, retrieve_value)
        assert_key_unchanged(d, situation)
        return
    assert result.condition_was_satisfied is True
    assert result.actual_etag is ITEM_NOT_AVAILABLE
    assert result.resulting_etag == d.etag("k")
    assert result.new_value == default
    assert result.value_was_mutated is True
    assert d["k"] == default


@pytest.mark.parametrize("joker", [KEEP_CURRENT, DELETE_CURRENT], ids=repr)
@pytest.mark.parametrize("present", [True, False], ids=["present", "absent"])
def test_setdefault_if_rejects_jokers(make_dict, values, joker, present):
    d = make_dict()
    if present:
        d["k"] = values.make(1)

    with pytest.raises(TypeError):
        d.setdefault_if(
            "k",
            default_value=joker,
            condition=ANY_ETAG,
            expected_etag=ITEM_NOT_AVAILABLE,
        )
    assert d.get("k") == (values.make(1) if present else None)


# ------------------------------------------------------------- discard_if


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("condition", CONDITIONS)
def test_discard_if_matrix(make_dict, values, condition, state):
    d = make_dict()
    situation = arrange(d, values, state)

    result = d.discard_if("k", condition=condition, expected_etag=situation.expected)

    satisfied = condition_holds(condition, situation)
    assert isinstance(result, ConditionalOperationResult)
    assert result.condition_was_satisfied is satisfied
    assert result.actual_etag == situation.actual
    if satisfied:
        assert result.resulting_etag is ITEM_NOT_AVAILABLE
        assert result.new_value is ITEM_NOT_AVAILABLE
        assert result.value_was_mutated is situation.present
        assert "k" not in d
        return
    assert result.resulting_etag == situation.actual
    assert result.new_value is (
        VALUE_NOT_RETRIEVED if situation.present else ITEM_NOT_AVAILABLE
    )
    assert result.value_was_mutated is False
    assert_key_unchanged(d, situation)


def test_conditional_ops_touch_one_key(make_dict, values):
    d = make_dict()
    neighbours = {("other",): values.make(5), ("k", "child"): values.make(6)}
    d.update(neighbours)
    etags = {key: d.etag(key) for key in neighbours}

    d.setdefault_if(
        "k",
        default_value=values.make(1),
        condition=ANY_ETAG,
        expected_etag=ITEM_NOT_AVAILABLE,
    )
    d.set_item_if(
        "k", value=values.make(2), condition=ETAG_HAS_CHANGED, expected_etag="x"
    )
    d.discard_if("k", condition=ANY_ETAG, expected_etag=ITEM_NOT_AVAILABLE)

    assert "k" not in d
    assert dict(d.items()) == neighbours
    assert {key: d.etag(key) for key in neighbours} == etags


# ---------------------------------------------------------- get_with_etag


def test_get_with_etag_present(make_dict, values):
    d = make_dict()
    d["k"] = values.make(1)

    result = d.get_with_etag("k")

    assert isinstance(result, ConditionalOperationResult)
    assert result.condition_was_satisfied is True
    assert result.actual_etag == d.etag("k")
    assert result.resulting_etag == d.etag("k")
    assert result.new_value == values.make(1)
    assert result.value_was_mutated is False


def test_get_with_etag_absent(make_dict):
    result = make_dict().get_with_etag(("a", "b"))

    assert result.condition_was_satisfied is True
    assert result.actual_etag is ITEM_NOT_AVAILABLE
    assert result.resulting_etag is ITEM_NOT_AVAILABLE
    assert result.new_value is ITEM_NOT_AVAILABLE
    assert result.value_was_mutated is False


def test_result_is_frozen(make_dict, values):
    d = make_dict()
    d["k"] = values.make(1)
    result = d.get_with_etag("k")

    with pytest.raises(dataclasses.FrozenInstanceError):
        result.new_value = values.make(2)


# ------------------------------------------------------------- arguments


def test_conditional_arguments_keyword_only(make_dict, values):
    d = make_dict()

    with pytest.raises(TypeError):
        d.get_item_if("k", ANY_ETAG, ITEM_NOT_AVAILABLE)
    with pytest.raises(TypeError):
        d.set_item_if("k", values.make(1), ANY_ETAG, ITEM_NOT_AVAILABLE)
    with pytest.raises(TypeError):
        d.discard_if("k", ANY_ETAG, ITEM_NOT_AVAILABLE)
    assert "k" not in d


@pytest.mark.parametrize("retrieve_value", ["always", None, ANY_ETAG])
def test_invalid_retrieval_flag_rejected(make_dict, values, retrieve_value):
    d = make_dict()

    with pytest.raises(TypeError):
        d.get_item_if(
            "k",
            condition=ANY_ETAG,
            expected_etag=ITEM_NOT_AVAILABLE,
            retrieve_value=retrieve_value,
        )
    with pytest.raises(TypeError):
        d.set_item_if(
            "k",
            value=values.make(1),
            condition=ANY_ETAG,
            expected_etag=ITEM_NOT_AVAILABLE,
            retrieve_value=retrieve_value,
        )
    assert "k" not in d


CONDITIONAL_CALLS = {
    "get_item_if": lambda d, key: d.get_item_if(
        key, condition=ANY_ETAG, expected_etag=ITEM_NOT_AVAILABLE
    ),
    "set_item_if": lambda d, key: d.set_item_if(
        key, value="v", condition=ANY_ETAG, expected_etag=ITEM_NOT_AVAILABLE
    ),
    "setdefault_if": lambda d, key: d.setdefault_if(
        key, default_value="v", condition=ANY_ETAG, expected_etag=ITEM_NOT_AVAILABLE
    ),
    "discard_if": lambda d, key: d.discard_if(
        key, condition=ANY_ETAG, expected_etag=ITEM_NOT_AVAILABLE
    ),
    "get_with_etag": lambda d, key: d.get_with_etag(key),
    "transform_item": lambda d, key: d.transform_item(key, transformer=lambda v: "v"),
}


@pytest.mark.parametrize("operation", CONDITIONAL_CALLS)
@pytest.mark.parametrize("key", [1, None, b"k"], ids=["int", "None", "bytes"])
def test_conditional_wrong_key_type(make_dict, operation, key):
    d = make_dict()

    with pytest.raises(TypeError):
        CONDITIONAL_CALLS[operation](d, key)
    assert len(d) == 0


# ---------------------------------------------------------- transform_item


def test_transform_increments_value(make_dict, values):
    d = make_dict()
    d["k"] = values.counter(1)

    result = d.transform_item("k", transformer=values.increment)

    assert isinstance(result, OperationResult)
    assert result.new_value == values.counter(2)
    assert result.resulting_etag == d.etag("k")
    assert d["k"] == values.counter(2)


def test_transform_repeated_increments(make_dict, values):
    d = make_dict()
    d["k"] = values.counter(0)
    for _ in range(5):
        d.transform_item("k", transformer=values.increment)

    assert d["k"] == values.counter(5)


def test_transform_missing_key_gets_flag(make_dict, values):
    d = make_dict()
    seen = []

    def start_counter(current):
        seen.append(current)
        return values.counter(1)

    result = d.transform_item(("a", "b"), transformer=start_counter)

    assert seen == [ITEM_NOT_AVAILABLE]
    assert d["a", "b"] == values.counter(1)
    assert result.resulting_etag == d.etag(("a", "b"))


def test_transform_keep_current(make_dict, values):
    d = make_dict()
    d["k"] = values.make(1)
    etag = d.etag("k")

    result = d.transform_item("k", transformer=lambda current: KEEP_CURRENT)

    assert result.resulting_etag == etag
    assert result.new_value == values.make(1)
    assert d.etag("k") == etag
    assert d["k"] == values.make(1)


def test_transform_keep_current_absent(make_dict):
    d = make_dict()

    result = d.transform_item("k", transformer=lambda current: KEEP_CURRENT)

    assert result.resulting_etag is ITEM_NOT_AVAILABLE
    assert result.new_value is ITEM_NOT_AVAILABLE
    assert "k" not in d


def test_transform_delete_current(make_dict, values):
    d = make_dict()
    d["k"] = values.make(1)

    result = d.transform_item("k", transformer=lambda current: DELETE_CURRENT)

    assert result.resulting_etag is ITEM_NOT_AVAILABLE
    assert result.new_value is ITEM_NOT_AVAILABLE
    assert "k" not in d


def test_transform_delete_current_absent(make_dict):
    d = make_dict()

    result = d.transform_item("k", transformer=lambda current: DELETE_CURRENT)

    assert result.new_value is ITEM_NOT_AVAILABLE
    assert "k" not in d


def test_transform_gets_current_value(make_dict, values):
    d = make_dict()
    d["k"] = values.make(1)
    seen = []

    def record(current):
        seen.append(current)
        return KEEP_CURRENT

    d.transform_item("k", transformer=record)

    assert seen == [values.make(1)]


def unique_key() -> tuple[str, str]:
    # transform_item remembers lost races per key name for the whole process,
    # so tests that provoke conflicts use fresh names to keep later
    # transforms of other tests from pausing.
    return ("contended", uuid.uuid4().hex)


def test_transform_retries_lost_race(make_dict, values):
    d = make_dict()
    key = unique_key()
    d[key] = values.counter(0)
    calls = []

    def interfere_once(current):
        calls.append(current)
        if len(calls) == 1:
            # Another writer wins the race between this read and the write.
            d[key] = values.counter(10)
        return values.increment(current)

    d.transform_item(key, transformer=interfere_once, n_retries=3)

    assert calls == [values.counter(0), values.counter(10)]
    assert d[key] == values.counter(11)


def test_transform_gives_up_after_retries(make_dict, values):
    d = make_dict()
    key = unique_key()
    d[key] = values.counter(0)
    calls = []

    def always_interfere(current):
        calls.append(current)
        d[key] = values.counter(100 + len(calls))
        return values.increment(current)

    with pytest.raises(ConcurrencyConflictError) as caught:
        d.transform_item(key, transformer=always_interfere, n_retries=2)

    assert len(calls) == 3
    assert caught.value.key == key
    assert caught.value.attempts == 3
    assert isinstance(caught.value, RuntimeError)
    assert d[key] == values.counter(103)


@pytest.mark.parametrize("n_retries", [0, 1, None])
def test_transform_accepts_retry_counts(make_dict, values, n_retries):
    d = make_dict()
    d["k"] = values.counter(1)
    d.transform_item("k", transformer=values.increment, n_retries=n_retries)

    assert d["k"] == values.counter(2)


def test_transform_negative_retries_rejected(make_dict, values):
    d = make_dict()

    with pytest.raises(ValueError):
        d.transform_item("k", transformer=values.increment, n_retries=-1)
    assert "k" not in d


@pytest.mark.parametrize("n_retries", ["3", 1.5], ids=["str", "float"])
def test_transform_retries_wrong_type(make_dict, values, n_retries):
    d = make_dict()

    with pytest.raises(TypeError):
        d.transform_item("k", transformer=values.increment, n_retries=n_retries)


def test_transform_keyword_only(make_dict, values):
    d = make_dict()

    with pytest.raises(TypeError):
        d.transform_item("k", values.increment)
