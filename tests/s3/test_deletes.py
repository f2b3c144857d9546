"""Deletes on S3: of two deleters of one item, only one deletes it.

Each test makes a second handle delete the item in the middle of the first
handle's delete, right after the first handle's HeadObject, through an
event hook on the first handle's client. That makes the race deterministic.
"""

from __future__ import annotations

import pytest

from .helpers import ONE_PER_CLASS_VARIANTS, client_of, variant_params

pytestmark = [
    pytest.mark.s3,
    pytest.mark.parametrize("variant", variant_params(ONE_PER_CLASS_VARIANTS)),
]


def _delete_after_first_head(d, other):
    """Make ``other`` discard "k" right after ``d``'s HeadObject finds "k".

    Return the list that receives the result of ``other.discard``.
    """
    other_results = []

    def discard_in_between(**_):
        if not other_results:
            other_results.append(other.discard("k"))

    client_of(d).meta.events.register("after-call.s3.HeadObject", discard_in_between)
    return other_results


def test_discard_race_has_one_winner(make_s3_dict):
    d = make_s3_dict()
    d["k"] = 1
    other_results = _delete_after_first_head(d, make_s3_dict())

    deleted = d.discard("k")

    assert other_results == [True]
    # The other handle deleted the item, so this discard deleted nothing.
    assert deleted is False


def test_del_race_loser_gets_key_error(make_s3_dict):
    d = make_s3_dict()
    d["k"] = 1
    other_results = _delete_after_first_head(d, make_s3_dict())

    with pytest.raises(KeyError):
        del d["k"]

    assert other_results == [True]


def test_discard_without_race_returns_true(make_s3_dict):
    d = make_s3_dict()
    d["k"] = 1

    assert d.discard("k") is True
    assert d.discard("k") is False
    assert "k" not in d
