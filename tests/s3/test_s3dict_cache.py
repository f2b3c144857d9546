"""S3Dict reads: one conditional request per unchanged item, fresh values after a change."""

from __future__ import annotations

import pytest

from persidict import BasicS3Dict, S3Dict

from .helpers import ROOT_PREFIX, RequestRecorder, client_of

pytestmark = pytest.mark.s3


# Each format and each prefix setting once.
@pytest.fixture(
    params=[("pkl", ROOT_PREFIX), ("json", "")], ids=["pkl-prefix", "json-noprefix"]
)
def format_and_prefix(request):
    return request.param


@pytest.fixture
def make_cached(bucket, tmp_path, format_and_prefix):
    """Return a factory of S3Dict handles. ``cache`` names the cache folder."""

    serialization_format, root_prefix = format_and_prefix

    def make(cache="cache", **overrides):
        params = {
            "bucket_name": bucket,
            "serialization_format": serialization_format,
            "root_prefix": root_prefix,
            "base_dir": tmp_path / cache,
            **overrides,
        }
        return S3Dict(**params)

    return make


def test_unchanged_read_costs_one_conditional_get(make_cached):
    d = make_cached()
    d["a", "b"] = {"n": 1}
    etag = d.etag(("a", "b"))

    with RequestRecorder(client_of(d)) as recorder:
        value = d["a", "b"]

    assert value == {"n": 1}
    assert len(recorder.calls) == 1
    call = recorder.calls[0]
    assert call.operation == "GetObject"
    assert call.headers.get("If-None-Match") == etag
    assert call.status == 304
    assert recorder.operations()["HeadObject"] == 0


def test_first_read_fills_cache(make_cached):
    writer = make_cached(cache="writer-cache")
    writer["k"] = {"n": 1}
    reader = make_cached(cache="reader-cache")

    with RequestRecorder(client_of(reader)) as first:
        assert reader["k"] == {"n": 1}
    with RequestRecorder(client_of(reader)) as second:
        assert reader["k"] == {"n": 1}

    assert [call.status for call in first.calls] == [200]
    assert "If-None-Match" not in first.calls[0].headers
    assert [call.status for call in second.calls] == [304]


# A writer on the same machine shares the cache folder, so it leaves the new
# value and ETag there, and the server confirms them with a 304.
@pytest.mark.parametrize(
    ("writer_kind", "expected_status"),
    [("other-machine", 200), ("same-machine", 304), ("basic", 200)],
)
def test_change_by_other_handle_is_seen(make_cached, writer_kind, expected_status):
    reader = make_cached(cache="reader-cache")
    reader["k"] = {"n": 1}
    assert reader["k"] == {"n": 1}
    if writer_kind == "other-machine":
        writer = make_cached(cache="writer-cache")
    elif writer_kind == "same-machine":
        writer = make_cached(cache="reader-cache")
    else:
        params = reader.get_params()
        del params["base_dir"], params["digest_len"]
        writer = BasicS3Dict(**params)

    writer["k"] = {"n": 2}
    with RequestRecorder(client_of(reader)) as recorder:
        value = reader["k"]

    assert value == {"n": 2}
    assert [call.operation for call in recorder.calls] == ["GetObject"]
    assert recorder.calls[0].status == expected_status


def test_delete_by_other_handle_is_seen(make_cached):
    reader = make_cached(cache="reader-cache")
    reader["k"] = {"n": 1}
    writer = make_cached(cache="writer-cache")

    del writer["k"]

    assert "k" not in reader
    with pytest.raises(KeyError):
        reader["k"]
    assert reader.get("k") is None
