"""Listing on S3: paging, prefixes, foreign objects and deleted folders."""

from __future__ import annotations

import pytest

from .helpers import (
    ONE_PER_CLASS_VARIANTS,
    PAIRWISE_VARIANTS,
    RequestRecorder,
    client_of,
    variant_params,
)

pytestmark = pytest.mark.s3

MANY_KEYS = 2500


# ------------------------------------------------------------- paging


@pytest.mark.parametrize("variant", variant_params(ONE_PER_CLASS_VARIANTS))
def test_many_keys_listed_and_cleared(make_s3_dict, variant):
    d = make_s3_dict()
    names = [f"k{i:04d}" for i in range(MANY_KEYS)]
    d.update({("many", name): i for i, name in enumerate(names)})

    assert len(d) == MANY_KEYS
    assert set(d) == {("many", name) for name in names}

    subdict = d.get_subdict("many")
    assert len(subdict) == MANY_KEYS
    assert set(subdict) == {(name,) for name in names}

    with RequestRecorder(client_of(d)) as recorder:
        d.clear()
    operations = recorder.operations()

    # DeleteObjects takes at most 1,000 keys, so 2,500 keys need 3 batches.
    assert operations["DeleteObjects"] == 3
    assert operations["DeleteObject"] == 0
    assert len(d) == 0
    assert len(subdict) == 0


# ----------------------------------------------------- sibling prefixes


def test_sibling_key_prefixes_never_mix(make_s3_dict):
    d = make_s3_dict()
    d["v1", "a"] = 1
    d["v1", "b"] = 2
    d["v10", "a"] = 10
    d["v1"] = 0

    v1 = d.get_subdict("v1")
    v10 = d.get_subdict("v10")

    assert set(v1) == {("a",), ("b",)}
    assert len(v1) == 2
    assert set(v10) == {("a",)}
    assert len(v10) == 1
    assert v1["a"] == 1
    assert v10["a"] == 10

    v1.clear()

    assert set(d) == {("v10", "a"), ("v1",)}
    assert d["v10", "a"] == 10
    assert d["v1"] == 0


@pytest.mark.parametrize("variant", variant_params(PAIRWISE_VARIANTS))
def test_sibling_root_prefixes_never_mix(make_s3_dict, variant):
    base = f"{variant.root_prefix}/" if variant.root_prefix else ""
    v1 = make_s3_dict(root_prefix=base + "v1")
    v10 = make_s3_dict(root_prefix=base + "v10")
    v1["a"] = 1
    v1["b"] = 2
    v10["a"] = 10

    assert set(v1) == {("a",), ("b",)}
    assert len(v1) == 2
    assert set(v10) == {("a",)}
    assert len(v10) == 1

    v1.clear()

    assert len(v1) == 0
    assert set(v10) == {("a",)}
    assert v10["a"] == 10


# --------------------------------------------------------- key names


@pytest.mark.parametrize("variant", variant_params(PAIRWISE_VARIANTS))
def test_unusual_safe_keys_round_trip(make_s3_dict):
    d = make_s3_dict()
    keys = [
        ("a=b", "c~d"),
        ("(x)", "y_z-1.2"),
        ("Key",),
        ("key",),
        ("KEY", "key"),
        # Components that end like object names, so the folder "p.pkl/"
        # exists next to the object "p.pkl" or "p.json".
        ("p",),
        ("p.pkl", "q"),
        ("p.json", "q"),
        # An item and a folder of the same name.
        ("x",),
        ("x", "y"),
    ]
    for number, key in enumerate(keys):
        d[key] = number

    assert len(d) == len(keys)
    assert set(d) == set(keys)
    assert {key: d[key] for key in keys} == {key: n for n, key in enumerate(keys)}
    assert set(d.subdicts()) == {"a=b", "(x)", "KEY", "p.pkl", "p.json", "x"}
    assert set(d.get_subdict("x")) == {("y",)}


# ----------------------------------------------------- foreign objects


def _foreign_object_keys(variant) -> list[str]:
    """Return object keys next to the dict's items that are not items of it."""
    inside = variant.object_prefix
    other_format = "json" if variant.serialization_format == "pkl" else "pkl"
    keys = [
        # Zero-byte folder markers, as S3 consoles create them.
        f"{inside}p/sub/",
        f"{inside}marker/",
        # Another format, or none.
        f"{inside}other.{other_format}",
        f"{inside}p/other.{other_format}",
        f"{inside}noext",
        # Names that break the key rules.
        f"{inside}bad name.{variant.serialization_format}",
        f"{inside}p/caf\u00e9.{variant.serialization_format}",
        f"{inside}p/a+b.{variant.serialization_format}",
        f"{inside}p/semi;colon/item.{variant.serialization_format}",
        f"{inside}.{variant.serialization_format}",
        f"{inside}+persidict-probe-leftover",
    ]
    # SeaweedFS 4.48 rejects "." and ".." components and names over 255
    # bytes, and turns "//" into "/", so those cases cannot be stored.
    if variant.root_prefix:
        # Outside root_prefix, including a sibling that starts alike.
        keys += [
            f"{variant.root_prefix}0/sibling.{variant.serialization_format}",
            f"outside.{variant.serialization_format}",
            f"elsewhere/p/item.{variant.serialization_format}",
        ]
    return keys


def test_foreign_objects_are_never_keys(make_s3_dict, variant, s3_client):
    d = make_s3_dict()
    d["p", "item"] = 1
    d["top"] = 2
    foreign = _foreign_object_keys(variant)
    for object_key in foreign:
        s3_client.put_object(Bucket=d.bucket_name, Key=object_key, Body=b"")

    assert set(d) == {("p", "item"), ("top",)}
    assert len(d) == 2
    assert dict(d.items()) == {("p", "item"): 1, ("top",): 2}
    assert set(d.subdicts()) == {"p"}
    assert set(d.get_subdict("p")) == {("item",)}
    assert d.get_subdict("p").subdicts() == {}


@pytest.mark.parametrize("variant", variant_params(PAIRWISE_VARIANTS))
def test_clear_keeps_foreign_objects(make_s3_dict, variant, s3_client):
    d = make_s3_dict()
    d["p", "item"] = 1
    foreign = _foreign_object_keys(variant)
    for object_key in foreign:
        s3_client.put_object(Bucket=d.bucket_name, Key=object_key, Body=b"")

    d.clear()

    listing = s3_client.list_objects_v2(Bucket=d.bucket_name)
    remaining = {obj["Key"] for obj in listing.get("Contents", ())}
    assert remaining == set(foreign)


@pytest.mark.parametrize("variant", variant_params(PAIRWISE_VARIANTS))
def test_folder_marker_alone_is_no_subdict(make_s3_dict, variant, s3_client):
    d = make_s3_dict()
    d["top"] = 1
    s3_client.put_object(
        Bucket=d.bucket_name, Key=f"{variant.object_prefix}p/sub/", Body=b""
    )

    assert d.subdicts() == {}
    assert len(d.get_subdict("p")) == 0
    assert d.get_subdict("p").subdicts() == {}


# ---------------------------------------------------- deleted folders


@pytest.mark.parametrize("variant", variant_params(PAIRWISE_VARIANTS))
def test_subdicts_skip_deleted_folders(make_s3_dict):
    d = make_s3_dict()
    d["gone", "a"] = 1
    d["gone", "deep", "b"] = 2
    d["cleared", "c"] = 3
    d["kept", "d"] = 4
    d["kept", "emptied", "e"] = 5
    assert set(d.subdicts()) == {"cleared", "gone", "kept"}

    del d["gone", "a"]
    d.discard(("gone", "deep", "b"))
    d.get_subdict("cleared").clear()
    del d["kept", "emptied", "e"]

    subdicts = d.subdicts()
    assert set(subdicts) == {"kept"}
    assert subdicts["kept"].subdicts() == {}
    assert set(subdicts["kept"]) == {("d",)}


@pytest.mark.parametrize("variant", variant_params(PAIRWISE_VARIANTS))
def test_subdicts_after_rewrite_of_deleted_folder(make_s3_dict):
    d = make_s3_dict()
    d["back", "a"] = 1
    del d["back", "a"]
    assert d.subdicts() == {}

    d["back", "b"] = 2

    subdicts = d.subdicts()
    assert set(subdicts) == {"back"}
    assert set(subdicts["back"]) == {("b",)}
