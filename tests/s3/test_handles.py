"""S3 dicts pickle and copy as handles to the same bucket and prefix."""

from __future__ import annotations

import copy
import pickle

import pytest

from .helpers import PAIRWISE_VARIANTS, variant_params

pytestmark = [
    pytest.mark.s3,
    pytest.mark.parametrize("variant", variant_params(PAIRWISE_VARIANTS)),
]


def test_pickled_handle_shares_storage(make_s3_dict):
    d = make_s3_dict()
    d["a", "b"] = {"n": 1}
    d["c"] = [2]

    restored = pickle.loads(pickle.dumps(d))
    restored["new"] = 3

    assert type(restored) is type(d)
    assert restored.get_params() == d.get_params()
    assert dict(restored.items()) == {("a", "b"): {"n": 1}, ("c",): [2], ("new",): 3}
    assert d["new"] == 3


def test_pickled_subdict_keeps_prefix(make_s3_dict):
    d = make_s3_dict()
    d["a", "b"] = 1
    d["other"] = 2

    restored = pickle.loads(pickle.dumps(d.get_subdict("a")))

    assert set(restored) == {("b",)}
    assert restored["b"] == 1


def test_get_params_and_copy_round_trip(make_s3_dict):
    d = make_s3_dict()
    d["k"] = 1

    rebuilt = type(d)(**d.get_params())
    copied = copy.copy(d)

    assert rebuilt.get_params() == d.get_params()
    assert rebuilt == d
    assert rebuilt["k"] == 1
    assert copied.get_params() == d.get_params()
    assert copied["k"] == 1


def test_repr_names_bucket_and_prefix(make_s3_dict, variant):
    d = make_s3_dict()

    text = repr(d)

    assert type(d).__name__ in text
    assert d.bucket_name in text
    assert variant.root_prefix in text
