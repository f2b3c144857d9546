"""Buckets, endpoints and credentials: boto3's standard chain, and no leaks."""

from __future__ import annotations

import logging
import os
import pickle

import boto3
import pytest
from botocore.exceptions import ClientError

from persidict import BackendError, BasicS3Dict, S3Dict
from persidict.testing import SeaweedS3Server

from .helpers import client_of

pytestmark = pytest.mark.s3

WRONG_SECRET_KEY = "wrong-secret-key-0123456789"
WRONG_ACCESS_KEY = "wrong-access-key-0123456789"


@pytest.fixture(params=[BasicS3Dict, S3Dict], ids=lambda cls: cls.__name__)
def make_plain(request, tmp_path):
    """Return a factory of pkl dicts without root prefix, of one class."""

    def make(**params):
        if request.param is S3Dict:
            params.setdefault("base_dir", tmp_path / "cache")
        return request.param(**params)

    return make


@pytest.fixture(scope="module")
def other_server(s3_server):
    """A second server, to tell an explicit endpoint from the environment's."""
    server = SeaweedS3Server()
    server.start()
    yield server
    server.stop()


def _bucket_exists(client, bucket):
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError:
        return False
    return True


# ---------------------------------------------------- buckets, endpoints


def test_missing_bucket_is_created(make_plain, bucket, s3_client):
    assert not _bucket_exists(s3_client, bucket)

    d = make_plain(bucket_name=bucket)
    d["k"] = 1

    assert _bucket_exists(s3_client, bucket)
    assert d["k"] == 1


def test_deleted_bucket_is_created_again(make_plain, bucket, s3_client):
    make_plain(bucket_name=bucket)["k"] = 1
    s3_client.delete_object(Bucket=bucket, Key="k.pkl")
    s3_client.delete_bucket(Bucket=bucket)

    d = make_plain(bucket_name=bucket)
    d["k"] = 2

    assert _bucket_exists(s3_client, bucket)
    assert d["k"] == 2


def test_endpoint_from_environment(make_plain, bucket, s3_server, s3_client):
    d = make_plain(bucket_name=bucket)
    d["k"] = 1

    assert d.get_params()["endpoint_url"] is None
    assert client_of(d).meta.endpoint_url == s3_server.endpoint_url
    head = s3_client.head_object(Bucket=bucket, Key="k.pkl")
    assert head["ContentLength"] > 0


def test_explicit_endpoint_wins(make_plain, bucket, s3_client, other_server):
    d = make_plain(bucket_name=bucket, endpoint_url=other_server.endpoint_url)
    d["k"] = 1
    other_client = boto3.client("s3", **other_server.client_kwargs())

    assert other_client.head_object(Bucket=bucket, Key="k.pkl")["ContentLength"]
    assert not _bucket_exists(s3_client, bucket)


def test_pickled_handle_keeps_explicit_endpoint(
    make_plain, bucket, s3_client, other_server
):
    d = make_plain(bucket_name=bucket, endpoint_url=other_server.endpoint_url)
    d["k"] = 1

    restored = pickle.loads(pickle.dumps(d))

    assert restored["k"] == 1
    assert not _bucket_exists(s3_client, bucket)


# ------------------------------------------------------- credentials


def _secrets(s3_server):
    return [
        s3_server.secret_key,
        s3_server.access_key,
        WRONG_SECRET_KEY,
        WRONG_ACCESS_KEY,
    ]


def _assert_no_secret(text, secrets):
    for secret in secrets:
        assert secret not in text


@pytest.mark.parametrize(
    ("variable", "wrong_value"),
    [
        ("AWS_SECRET_ACCESS_KEY", WRONG_SECRET_KEY),
        ("AWS_ACCESS_KEY_ID", WRONG_ACCESS_KEY),
    ],
)
def test_wrong_credentials_rejected_on_new_bucket(
    make_plain, bucket, monkeypatch, variable, wrong_value
):
    monkeypatch.setenv(variable, wrong_value)

    with pytest.raises(BackendError) as caught:
        make_plain(bucket_name=bucket)

    assert caught.value.backend == "BasicS3Dict"
    assert isinstance(caught.value.__cause__, ClientError)


# The bucket is known from an earlier handle, so only the requests fail.
@pytest.mark.parametrize(
    ("variable", "wrong_value"),
    [
        ("AWS_SECRET_ACCESS_KEY", WRONG_SECRET_KEY),
        ("AWS_ACCESS_KEY_ID", WRONG_ACCESS_KEY),
    ],
)
def test_wrong_credentials_rejected_on_existing_bucket(
    make_plain, bucket, monkeypatch, variable, wrong_value
):
    make_plain(bucket_name=bucket)["k"] = 1
    monkeypatch.setenv(variable, wrong_value)
    d = make_plain(bucket_name=bucket)
    actions = [
        ("read", lambda: d["k"]),
        ("write", lambda: d.__setitem__("k", 2)),
        ("list", lambda: len(d)),
    ]

    for operation, action in actions:
        with pytest.raises(BackendError) as caught:
            action()

        assert caught.value.operation == operation
        assert isinstance(caught.value.__cause__, ClientError), operation


def test_no_credentials_in_repr_or_params(make_plain, bucket, s3_server):
    d = make_plain(bucket_name=bucket)
    secrets = _secrets(s3_server)

    _assert_no_secret(repr(d), secrets)
    _assert_no_secret(repr(d.get_params()), secrets)
    _assert_no_secret(repr(d.get_subdict("sub")), secrets)


def test_no_credentials_in_errors_or_logs(
    make_plain, bucket, s3_server, monkeypatch, caplog
):
    caplog.set_level(logging.DEBUG, logger="persidict")
    secrets = _secrets(s3_server)
    messages = []

    good = make_plain(bucket_name=bucket, append_only=True)
    good["k"] = 1
    for variable, wrong_value in [
        ("AWS_SECRET_ACCESS_KEY", WRONG_SECRET_KEY),
        ("AWS_ACCESS_KEY_ID", WRONG_ACCESS_KEY),
    ]:
        with monkeypatch.context() as patch:
            patch.setenv(variable, wrong_value)
            with pytest.raises(BackendError) as on_open:
                make_plain(bucket_name=bucket + "-new")
            messages.append(str(on_open.value))
            bad = make_plain(bucket_name=bucket)
            for action in (lambda d: d["k"], lambda d: d.__setitem__("j", 2), len):
                with pytest.raises(BackendError) as caught:
                    action(bad)
                messages.append(str(caught.value))

    records = [r for r in caplog.records if r.name.startswith("persidict")]
    # The bucket creation logs at debug level, so this list is not empty.
    assert records
    for message in messages:
        _assert_no_secret(message, secrets)
    for record in records:
        _assert_no_secret(record.getMessage(), secrets)


def test_server_environment_restores_variables(s3_server, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "someone-else")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")

    with s3_server.environment():
        inside = dict(os.environ)

    assert "AWS_PROFILE" not in inside
    assert inside["AWS_ENDPOINT_URL"] == s3_server.endpoint_url
    assert inside["AWS_ACCESS_KEY_ID"] == s3_server.access_key
    assert os.environ["AWS_PROFILE"] == "someone-else"
    assert os.environ["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9"
