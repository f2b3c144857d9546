"""Fixtures for the S3 tests, all against SeaweedFS servers on 127.0.0.1.

``make_s3_dict`` builds dicts of the variant under test in a fresh bucket of
the session server. ``s3_client`` is a raw boto3 client of that server, for
objects that the dicts did not write. Tests use ``bucket`` rather than
``s3_bucket``, because ``bucket`` deletes the bucket after the test.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from persidict.testing import SeaweedS3Server

from .helpers import ALL_VARIANTS, S3Variant, variant_params


@pytest.fixture(scope="session")
def s3_client(s3_server: SeaweedS3Server) -> Any:
    """A boto3 client of the session server, independent of any dict."""
    return boto3.client("s3", **s3_server.client_kwargs())


@pytest.fixture
def bucket(s3_bucket: str, s3_client: Any) -> Iterator[str]:
    """A bucket name that no other test uses. The bucket is deleted afterwards.

    SeaweedFS 4.48 ``weed mini`` gives every bucket a volume of its own and
    allows about one volume per GB of free disk. A session that keeps every
    bucket therefore fails writes with InternalError after that many tests.
    """
    yield s3_bucket
    delete_bucket(s3_client, s3_bucket)


def delete_bucket(client: Any, bucket_name: str) -> None:
    """Delete every object of a bucket, then the bucket, if it exists."""
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket_name)
        for page in pages:
            objects = [{"Key": obj["Key"]} for obj in page.get("Contents", ())]
            if objects:
                client.delete_objects(
                    Bucket=bucket_name, Delete={"Objects": objects, "Quiet": True}
                )
        client.delete_bucket(Bucket=bucket_name)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "NoSuchBucket":
            raise


@pytest.fixture(params=variant_params(ALL_VARIANTS))
def variant(request: pytest.FixtureRequest) -> S3Variant:
    """The dict configuration under test. Slow tests parametrize a subset."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def make_s3_dict(variant: S3Variant, bucket: str, tmp_path: Path) -> Callable[..., Any]:
    """Return a factory of handles of the variant in this test's bucket.

    Each handle gets its own cache folder, as on another machine. Keyword
    arguments override constructor parameters, ``base_dir`` included.
    """
    counter = itertools.count()

    def make(**overrides: Any) -> Any:
        cache_dir = tmp_path / f"s3-cache-{next(counter)}"
        return variant.build(bucket_name=bucket, cache_dir=cache_dir, **overrides)

    return make
