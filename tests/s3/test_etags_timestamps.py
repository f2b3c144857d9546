"""Timestamps come from LastModified, and ETags, multipart ones included, are opaque."""

from __future__ import annotations

import os
import re
import time

import pytest
from boto3.s3.transfer import TransferConfig

from persidict import ETAG_IS_THE_SAME, S3Dict

from .helpers import PAIRWISE_VARIANTS, RequestRecorder, client_of, variant_params

pytestmark = pytest.mark.s3

# LastModified has whole seconds, and the server shares this machine's clock.
CLOCK_TOLERANCE_SECONDS = 2.0

PART_SIZE = 8 * 1024 * 1024
MULTIPART_ETAG = re.compile(r'^"[0-9a-f]+-2"$')


@pytest.mark.parametrize("variant", variant_params(PAIRWISE_VARIANTS))
def test_timestamp_and_etag_from_s3(make_s3_dict, variant, s3_client):
    d = make_s3_dict()

    written_at = time.time()
    d["a", "b"] = 1
    acknowledged_at = time.time()
    head = s3_client.head_object(Bucket=d.bucket_name, Key=variant.object_key("a", "b"))

    timestamp = d.timestamp(("a", "b"))
    assert timestamp == head["LastModified"].timestamp()
    assert written_at - CLOCK_TOLERANCE_SECONDS <= timestamp
    assert timestamp <= acknowledged_at + CLOCK_TOLERANCE_SECONDS
    assert dict(d.keys_and_timestamps()) == {("a", "b"): timestamp}

    assert d.etag(("a", "b")) == head["ETag"]
    assert d.get_with_etag(("a", "b")).actual_etag == head["ETag"]


def _upload_multipart(s3_client, bucket, object_key, data, tmp_path):
    """Store ``data`` under ``object_key`` in 8 MB parts and return its ETag."""
    path = tmp_path / "multipart-upload"
    path.write_bytes(data)
    config = TransferConfig(
        multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE
    )
    s3_client.upload_file(str(path), bucket, object_key, Config=config)
    return s3_client.head_object(Bucket=bucket, Key=object_key)["ETag"]


def _big_value():
    # About 9.4 MB once serialized, so the upload takes two 8 MB parts.
    return {"payload": os.urandom(4_700_000).hex()}


@pytest.mark.parametrize("variant", variant_params(PAIRWISE_VARIANTS))
def test_multipart_etag_works_everywhere(make_s3_dict, variant, s3_client, tmp_path):
    d = make_s3_dict()
    big = _big_value()
    d["big"] = big
    single_part_etag = d.etag("big")
    object_key = variant.object_key("big")
    data = s3_client.get_object(Bucket=d.bucket_name, Key=object_key)["Body"].read()

    multipart_etag = _upload_multipart(
        s3_client, d.bucket_name, object_key, data, tmp_path
    )

    assert MULTIPART_ETAG.match(multipart_etag)
    assert d.etag("big") == multipart_etag

    with RequestRecorder(client_of(d)) as first_read:
        assert d["big"] == big
    with RequestRecorder(client_of(d)) as second_read:
        assert d["big"] == big
    if isinstance(d, S3Dict):
        # The cache contains the single-part ETag, so the first read downloads
        # the value. Then it contains the multipart ETag, and the server
        # answers the second read with 304.
        first_get = first_read.calls_of("GetObject")[0]
        assert first_get.headers.get("If-None-Match") == single_part_etag
        assert first_get.status == 200
        second_get = second_read.calls_of("GetObject")[0]
        assert second_get.headers.get("If-None-Match") == multipart_etag
        assert second_get.status == 304
    assert len(first_read.calls) == 1
    assert len(second_read.calls) == 1

    result = d.get_with_etag("big")
    assert result.actual_etag == multipart_etag
    assert result.new_value == big

    stale = d.set_item_if(
        "big",
        value={"payload": "stale"},
        condition=ETAG_IS_THE_SAME,
        expected_etag=single_part_etag,
    )
    assert not stale.condition_was_satisfied
    assert d["big"] == big

    swapped = d.set_item_if(
        "big",
        value={"payload": "small"},
        condition=ETAG_IS_THE_SAME,
        expected_etag=multipart_etag,
    )
    assert swapped.condition_was_satisfied
    assert d["big"] == {"payload": "small"}

    again_etag = _upload_multipart(s3_client, d.bucket_name, object_key, data, tmp_path)
    discarded = d.discard_if(
        "big", condition=ETAG_IS_THE_SAME, expected_etag=again_etag
    )
    assert discarded.condition_was_satisfied
    assert "big" not in d
