"""pytest fixtures for testing code that uses persidict's S3 dicts.

Enable them in a ``conftest.py`` with ``pytest_plugins = ["persidict.pytest_plugin"]``.
``s3_server`` starts one SeaweedFS server on 127.0.0.1 for the whole test
session (see ``persidict.testing``), points boto3's standard variables at it
(``AWS_ENDPOINT_URL``, the test credentials and region) and stops it at the
end. ``s3_bucket`` gives a new bucket name per test and deletes the bucket
afterwards.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from typing import Any

import pytest

from .testing import SeaweedS3Server

__all__ = ["s3_bucket", "s3_server"]

_bucket_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[SeaweedS3Server]:
    """A running SeaweedFS S3 server, with boto3's variables set to reach it."""
    server = SeaweedS3Server()
    server.start()
    try:
        with server.environment():
            yield server
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server: SeaweedS3Server) -> Iterator[str]:
    """A bucket name no other test of this session uses; the dicts create
    the bucket, and it is deleted with its objects after the test."""
    name = f"test-bucket-{os.getpid()}-{next(_bucket_numbers)}"
    yield name
    _delete_bucket(s3_server, name)


def _delete_bucket(server: SeaweedS3Server, name: str) -> None:
    import boto3
    from botocore.exceptions import ClientError

    settings = server.client_kwargs()
    client: Any = boto3.client(
        "s3",
        endpoint_url=settings["endpoint_url"],
        aws_access_key_id=settings["aws_access_key_id"],
        aws_secret_access_key=settings["aws_secret_access_key"],
        region_name=settings["region_name"],
    )
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            objects = [{"Key": obj["Key"]} for obj in page.get("Contents", ())]
            if objects:
                client.delete_objects(
                    Bucket=name, Delete={"Objects": objects, "Quiet": True}
                )
        client.delete_bucket(Bucket=name)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "NoSuchBucket":
            raise
