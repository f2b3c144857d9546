"""The test server must hold as many buckets as a test session creates."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from persidict.testing import SeaweedS3Server

pytestmark = pytest.mark.s3

# A modest number for a test session. The s3_bucket fixture gives every
# test its own bucket and never deletes it, and this folder alone has over
# 100 tests that use S3.
MANY_BUCKETS = 120
WRITERS = 8


def test_server_accepts_writes_to_many_buckets():
    # Fails while SeaweedS3Server starts weed mini without -volume.max.
    # SeaweedFS 4.48 then allows about one volume per GB of free disk, and
    # every bucket takes a volume. Writes to later buckets fail with
    # InternalError, after 78 buckets on a disk with 79 GB free.
    with SeaweedS3Server() as server:
        # One attempt per request, so that a full server fails fast.
        client = boto3.client(
            "s3",
            config=Config(
                retries={"total_max_attempts": 1}, max_pool_connections=WRITERS
            ),
            **server.client_kwargs(),
        )

        def create_and_write(number: int) -> str | None:
            bucket_name = f"capacity-{number}"
            try:
                client.create_bucket(Bucket=bucket_name)
                client.put_object(Bucket=bucket_name, Key="k", Body=b"1")
            except ClientError as err:
                return f"{bucket_name}: {err}"
            return None

        with ThreadPoolExecutor(WRITERS) as pool:
            outcomes = list(pool.map(create_and_write, range(MANY_BUCKETS)))

    failures = [outcome for outcome in outcomes if outcome is not None]
    assert failures == []
