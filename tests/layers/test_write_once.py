"""WriteOnceDict: the first write wins, with optional consistency checks."""

from __future__ import annotations

import multiprocessing

import pytest

from persidict import (
    ETAG_IS_THE_SAME,
    ITEM_NOT_AVAILABLE,
    FileDirDict,
    LocalDict,
    MutationPolicyError,
    WriteOnceDict,
)


def write_once_over_memory(p: float | None = None) -> WriteOnceDict:
    return WriteOnceDict(
        wrapped_dict=LocalDict(append_only=True), p_consistency_checks=p
    )


def test_first_write_wins():
    d = write_once_over_memory()
    d["k"] = "first"
    d["k"] = "second"

    assert d["k"] == "first"
    assert len(d) == 1


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_probability_out_of_range(p):
    with pytest.raises(ValueError):
        write_once_over_memory(p)


@pytest.mark.parametrize("p", ["0.5", True])
def test_probability_wrong_type(p):
    with pytest.raises(TypeError):
        write_once_over_memory(p)


def test_wrapped_must_be_append_only():
    with pytest.raises(ValueError, match="append-only"):
        WriteOnceDict(wrapped_dict=LocalDict())


def test_check_counts_pass_and_fail():
    d = write_once_over_memory(1.0)
    d["k"] = "value"
    d["k"] = "value"
    d["k"] = "value"

    with pytest.raises(MutationPolicyError) as raised:
        d["k"] = "another value"

    assert raised.value.policy == "write-once"
    assert d["k"] == "value"
    assert d.consistency_checks_passed == 2
    assert d.consistency_checks_failed == 1
    assert d.consistency_checks_attempted == 3


def test_no_checks_when_probability_zero():
    d = write_once_over_memory(0.0)
    d["k"] = "value"
    d["k"] = "different, but unchecked"

    assert d["k"] == "value"
    assert d.consistency_checks_attempted == 0


def test_delete_forbidden():
    d = write_once_over_memory()
    d["k"] = "value"

    with pytest.raises(MutationPolicyError):
        del d["k"]
    assert d["k"] == "value"


def test_conditional_insert_sees_existing():
    d = write_once_over_memory()
    d["k"] = "first"

    result = d.set_item_if(
        "k",
        value="second",
        condition=ETAG_IS_THE_SAME,
        expected_etag=ITEM_NOT_AVAILABLE,
    )

    assert result.condition_was_satisfied is False
    assert d["k"] == "first"


def test_setdefault_returns_stored():
    d = write_once_over_memory()
    d["k"] = "first"

    assert d.setdefault("k", "second") == "first"


def write_value(params: dict, value: str, barrier) -> None:
    d = WriteOnceDict(wrapped_dict=FileDirDict(**params), p_consistency_checks=0.0)
    barrier.wait(30)
    d["k"] = value


def test_two_processes_leave_one_value(tmp_path):
    wrapped = FileDirDict(base_dir=tmp_path / "store", append_only=True)
    context = multiprocessing.get_context("fork")
    for round_number in range(10):
        key_dir = tmp_path / f"round{round_number}"
        params = {**wrapped.get_params(), "base_dir": str(key_dir)}
        barrier = context.Barrier(2)
        processes = [
            context.Process(target=write_value, args=(params, value, barrier))
            for value in ("from A", "from B")
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join(60)

        assert [process.exitcode for process in processes] == [0, 0]
        store = FileDirDict(**params)
        assert len(store) == 1
        assert store["k"] in ("from A", "from B")
