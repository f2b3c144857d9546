"""S3 backends: ``BasicS3Dict`` (direct) and ``S3Dict`` (with a local file cache).

One object per item: ``root_prefix`` + the key's components joined by ``/`` +
``.<format>``. This is the only module that imports boto3; ``import
persidict`` loads it on first use of an S3 class.

Guarantees, on a server that enforces conditional requests (AWS S3 since
2024, SeaweedFS, MinIO):

- Atomicity: S3 replaces an object whole, so a reader sees the old or the
  new value. Compare-and-swap uses ``PUT`` with ``If-Match``, insert-if-absent
  ``PUT`` with ``If-None-Match: *`` and conditional delete ``DELETE`` with
  ``If-Match``, each checked by the server in one step.
- Durability: what the server acknowledged.
- Consistency: S3 is strongly consistent for reads after writes. Listings of
  some servers (SeaweedFS) keep a deleted folder as a common prefix for a
  while; ``subdicts`` checks each prefix for a real key before it shows it.

``transform_item`` holds a lock of this machine on its key (a byte of a
lock file in ``$PERSIDICT_LOCK_DIR``, by default a private folder in the
system's temporary folder), so the processes of one machine take turns
instead of losing races to one another; between machines the conditional
requests decide, and the loser retries.

Where a server accepts the conditional headers but ignores them, the first
conditional write of a handle finds out (two inserts of one probe object)
and falls back to read-then-write under that lock: atomic only against
writers on the same machine. That is logged once at warning level.
"""

from __future__ import annotations

import datetime
import email.utils
import hashlib
import logging
import os
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from itertools import islice
from typing import Any, Final, NoReturn, Self, TypeVar

import boto3
import botocore.loaders
import botocore.session
import botocore.utils
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ._locks import host_lock_folder, key_lock
from .base import ETagMismatch, ItemInfo
from .cached_mutable_dict import MutableDictCached
from .errors import BackendError
from .file_dir_dict import FileDirDict
from .flags import ITEM_NOT_AVAILABLE, ETagIfExists, ETagValue
from .keys import NonEmptySafeStrTuple, is_safe_component
from .storage import StorageDict

__all__ = ["BasicS3Dict", "S3Dict", "S3Dict_FileDirCached"]

logger = logging.getLogger(__name__)

V = TypeVar("V")

_NOT_FOUND: Final = frozenset({"404", "NoSuchKey", "NotFound"})
_PRECONDITION_FAILED: Final = frozenset(
    {"412", "PreconditionFailed", "409", "ConditionalRequestConflict"}
)
# Seconds a transform waits for the machine lock of its key before it goes
# on without it.
_TRANSFORM_LOCK_WAIT: Final = 30.0

# DeleteObjects takes at most this many keys per request.
_DELETE_BATCH: Final = 1000

# Buckets known to exist, by (endpoint, bucket), so that handles made by
# get_subdict do not check again.
_known_buckets: set[tuple[str | None, str]] = set()
_known_buckets_lock = threading.Lock()

# Whether the server enforces conditional writes, by (endpoint, bucket).
_conditional_support: dict[tuple[str | None, str], bool] = {}


_loader_lock = threading.Lock()
_shared_loader: Any = None


def _new_client(region: str | None, endpoint_url: str | None, max_workers: int) -> Any:
    """Create an S3 client in a new session that resolves credentials from
    the environment now, but reuses the service data parsed by earlier
    sessions: parsing it again costs a tenth of a second or more."""
    global _shared_loader
    with _loader_lock:
        if _shared_loader is None:
            _shared_loader = botocore.loaders.create_loader()
        botocore_session = botocore.session.get_session()
        botocore_session.register_component("data_loader", _shared_loader)
        botocore_session.get_component("response_parser_factory").set_parser_defaults(
            timestamp_parser=_parse_timestamp
        )
        return boto3.session.Session(botocore_session=botocore_session).client(
            "s3",
            region_name=region,
            endpoint_url=endpoint_url,
            config=Config(
                retries={"mode": "standard", "max_attempts": 4},
                connect_timeout=5,
                # Requests are built by this module, so botocore's check of
                # every parameter would only repeat work on each request.
                parameter_validation=False,
                read_timeout=60,
                max_pool_connections=max(10, max_workers),
            ),
        )


def _parse_timestamp(text: str) -> datetime.datetime:
    """Parse a timestamp of an S3 response: ISO 8601 in listings, an HTTP
    date in headers. botocore's own parser, through dateutil, cost about a
    sixth of the CPU time of a listing."""
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return botocore.utils.parse_timestamp(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed


def _error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


class BasicS3Dict(StorageDict[V]):
    """A dict that keeps each value in its own S3 object.

    Credentials, region and endpoint come from boto3's standard chain
    (environment variables such as ``AWS_ENDPOINT_URL``, config files,
    instance roles); ``endpoint_url`` and ``region`` override it. A missing
    bucket is created. Bulk reads, writes and ``clear`` run up to
    ``max_workers`` requests at once. A handle is safe to share between
    threads and pickles as a reference to the same bucket and prefix.
    """

    def __init__(
        self,
        *,
        bucket_name: str = "my_bucket",
        region: str | None = None,
        root_prefix: str = "",
        endpoint_url: str | None = None,
        max_workers: int = 16,
        serialization_format: str = "pkl",
        append_only: bool = False,
        base_class_for_values: type | None = None,
    ) -> None:
        super().__init__(
            serialization_format=serialization_format,
            append_only=append_only,
            base_class_for_values=base_class_for_values,
        )
        if not isinstance(bucket_name, str) or not bucket_name:
            raise ValueError(
                f"bucket_name must be a non-empty str, got {bucket_name!r}"
            )
        if not isinstance(root_prefix, str):
            raise TypeError(f"root_prefix must be a str, got {root_prefix!r}")
        if not isinstance(max_workers, int) or max_workers < 1:
            raise ValueError(f"max_workers must be an int >= 1, got {max_workers!r}")
        if root_prefix and not root_prefix.endswith("/"):
            root_prefix += "/"

        self._bucket = bucket_name
        self._region = region
        self._root_prefix = root_prefix
        self._endpoint_url = endpoint_url
        self._max_workers = max_workers
        self._extension = "." + serialization_format
        self._client = _new_client(region, endpoint_url, max_workers)
        # The endpoint boto3 resolved, from endpoint_url or its own chain.
        self._endpoint = str(self._client.meta.endpoint_url)
        bucket_id = f"{self._endpoint}\n{bucket_name}".encode()
        self._lock_name = f"s3-{hashlib.sha256(bucket_id).hexdigest()[:32]}.lock"
        self._ensure_bucket()

    @property
    def bucket_name(self) -> str:
        return self._bucket

    @property
    def root_prefix(self) -> str:
        return self._root_prefix

    @property
    def client(self) -> Any:
        """The boto3 S3 client this handle sends its requests with."""
        return self._client

    def get_params(self) -> dict[str, Any]:
        return {
            **super().get_params(),
            "bucket_name": self._bucket,
            "region": self._region,
            "root_prefix": self._root_prefix,
            "endpoint_url": self._endpoint_url,
            "max_workers": self._max_workers,
        }

    # ---------------------------------------------------------------- plumbing

    def _object_key(self, key: NonEmptySafeStrTuple) -> str:
        return self._root_prefix + "/".join(key.strings) + self._extension

    def _locate(self, key: NonEmptySafeStrTuple) -> str:
        return f"s3://{self._bucket}/{self._object_key(key)}"

    def _exclusive(self, key: NonEmptySafeStrTuple) -> AbstractContextManager[Any]:
        if _conditional_support.get((self._endpoint, self._bucket)) is False:
            # The fallback's writes rest on this lock: wait for it, as they do.
            return self._host_lock(key)
        # Otherwise only a courtesy between the processes of this machine:
        # the server checks every write, so after a while a transform goes
        # on unlocked rather than wait for a stuck or deadlocked holder.
        return self._host_lock(key, _TRANSFORM_LOCK_WAIT, optional=True)

    def _host_lock(
        self,
        key: NonEmptySafeStrTuple,
        timeout: float | None = None,
        optional: bool = False,
    ) -> AbstractContextManager[Any]:
        """Lock ``key`` against the other processes of this machine."""
        folder = host_lock_folder()
        if folder is None:
            return nullcontext()
        return key_lock(
            os.path.join(folder, self._lock_name),
            self._object_key(key),
            timeout,
            optional,
        )

    def _fail(self, err: Exception, operation: str, key: Any = None) -> NoReturn:
        if isinstance(err, ClientError):
            detail = f"{_error_code(err)}: {err.response.get('Error', {}).get('Message', '')}"
        else:
            detail = f"{type(err).__name__}: {err}"
        where = f"key {key!r} in " if key is not None else ""
        raise BackendError(
            f"{type(self).__name__} failed to {operation} {where}"
            f"s3://{self._bucket}/{self._root_prefix} at {self._endpoint}: {detail}",
            backend=type(self).__name__,
            operation=operation,
            key=key,
        ) from err

    def _ensure_bucket(self) -> None:
        marker = (self._endpoint, self._bucket)
        if marker in _known_buckets:
            return
        try:
            self._client.head_bucket(Bucket=self._bucket)
        except ClientError as err:
            if _error_code(err) not in _NOT_FOUND | {"NoSuchBucket"}:
                self._fail(err, "open the bucket")
            self._create_bucket()
        except BotoCoreError as err:
            self._fail(err, "open the bucket")
        with _known_buckets_lock:
            _known_buckets.add(marker)

    def _create_bucket(self) -> None:
        kwargs: dict[str, Any] = {"Bucket": self._bucket}
        region = self._region or self._client.meta.region_name
        if region and region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self._client.create_bucket(**kwargs)
        except ClientError as err:
            if _error_code(err) not in (
                "BucketAlreadyOwnedByYou",
                "BucketAlreadyExists",
            ):
                self._fail(err, "create the bucket")
        except BotoCoreError as err:
            self._fail(err, "create the bucket")
        logger.debug("created bucket %s at %s", self._bucket, self._endpoint)

    def _parse(self, object_key: str) -> NonEmptySafeStrTuple | None:
        """Return the key stored under an object key, or ``None`` for a
        foreign object, a folder marker or another format."""
        if not object_key.endswith(self._extension):
            return None
        parts = object_key[len(self._root_prefix) : -len(self._extension)].split("/")
        if not all(is_safe_component(part) for part in parts):
            return None
        key: NonEmptySafeStrTuple = NonEmptySafeStrTuple._trusted(tuple(parts))
        return key

    def _list(self, prefix: str, delimiter: str = "") -> Iterator[Any]:
        """Yield the listing pages under ``prefix``; any number of objects."""
        paginator = self._client.get_paginator("list_objects_v2")
        kwargs: dict[str, Any] = {"Bucket": self._bucket, "Prefix": prefix}
        if delimiter:
            kwargs["Delimiter"] = delimiter
        try:
            yield from paginator.paginate(**kwargs)
        except (ClientError, BotoCoreError) as err:
            self._fail(err, "list")

    # ------------------------------------------------------------------- reads

    def _read_bytes(self, key: NonEmptySafeStrTuple) -> tuple[bytes, ETagValue]:
        try:
            response = self._client.get_object(
                Bucket=self._bucket, Key=self._object_key(key)
            )
            data = response["Body"].read()
        except ClientError as err:
            if _error_code(err) in _NOT_FOUND:
                raise KeyError(key) from None
            self._fail(err, "read", key)
        except BotoCoreError as err:
            self._fail(err, "read", key)
        return data, ETagValue(response["ETag"])

    def _read_bytes_if_changed(
        self, key: NonEmptySafeStrTuple, etag: ETagValue
    ) -> tuple[bytes, ETagValue] | None:
        try:
            response = self._client.get_object(
                Bucket=self._bucket, Key=self._object_key(key), IfNoneMatch=etag
            )
            data = response["Body"].read()
        except ClientError as err:
            code = _error_code(err)
            if code in ("304", "NotModified"):
                return None
            if code in _NOT_FOUND:
                raise KeyError(key) from None
            self._fail(err, "read", key)
        except BotoCoreError as err:
            self._fail(err, "read", key)
        return data, ETagValue(response["ETag"])

    def _stat(self, key: NonEmptySafeStrTuple) -> ItemInfo:
        try:
            response = self._client.head_object(
                Bucket=self._bucket, Key=self._object_key(key)
            )
        except ClientError as err:
            if _error_code(err) in _NOT_FOUND:
                raise KeyError(key) from None
            self._fail(err, "stat", key)
        except BotoCoreError as err:
            self._fail(err, "stat", key)
        return ItemInfo(
            ETagValue(response["ETag"]), response["LastModified"].timestamp()
        )

    # ------------------------------------------------------------------ writes

    def _write_bytes(
        self, key: NonEmptySafeStrTuple, data: bytes, expected: ETagIfExists | None
    ) -> ETagValue:
        if expected is not None and not self._server_enforces_conditions(key):
            return self._write_checked_locally(key, data, expected)
        kwargs: dict[str, Any] = {
            "Bucket": self._bucket,
            "Key": self._object_key(key),
            "Body": data,
        }
        if expected is ITEM_NOT_AVAILABLE:
            kwargs["IfNoneMatch"] = "*"
        elif expected is not None:
            kwargs["IfMatch"] = expected
        try:
            response = self._put_object(kwargs)
        except ClientError as err:
            code = _error_code(err)
            if expected is not None and code in _PRECONDITION_FAILED:
                raise ETagMismatch(None) from None
            if (
                expected is not None
                and expected is not ITEM_NOT_AVAILABLE
                and code in _NOT_FOUND
            ):
                raise ETagMismatch(ITEM_NOT_AVAILABLE) from None
            self._fail(err, "write", key)
        except BotoCoreError as err:
            self._fail(err, "write", key)
        return ETagValue(response["ETag"])

    def _put_object(self, kwargs: dict[str, Any]) -> Any:
        try:
            return self._client.put_object(**kwargs)
        except ClientError as err:
            if _error_code(err) != "NoSuchBucket":
                raise
        # The bucket was deleted after this process first saw it: create it
        # again, as a new handle would, and retry once.
        logger.debug("bucket %s is gone; creating it again", self._bucket)
        with _known_buckets_lock:
            _known_buckets.discard((self._endpoint, self._bucket))
        self._ensure_bucket()
        return self._client.put_object(**kwargs)

    def _remove(self, key: NonEmptySafeStrTuple, expected: ETagValue | None) -> bool:
        if expected is None:
            # S3 returns success for a delete of a missing object, so a stat
            # tells whether there is something to delete, and the delete is
            # conditional on the ETag it saw: of two concurrent deleters, only
            # one reports the delete.
            while True:
                try:
                    etag = self._stat(key).etag
                except KeyError:
                    return False
                try:
                    return self._remove(key, etag)
                except ETagMismatch:
                    continue
        if not self._server_enforces_conditions(key):
            with self._host_lock(key), self._local_cas_lock:
                actual = self._actual_etag(key)
                if actual != expected:
                    raise ETagMismatch(actual)
                return self._delete_unconditionally(key)
        kwargs: dict[str, Any] = {"Bucket": self._bucket, "Key": self._object_key(key)}
        if expected is not None:
            kwargs["IfMatch"] = expected
        try:
            self._client.delete_object(**kwargs)
        except ClientError as err:
            code = _error_code(err)
            if expected is not None and code in _PRECONDITION_FAILED | _NOT_FOUND:
                raise ETagMismatch(None) from None
            if code in _NOT_FOUND:
                return False
            self._fail(err, "delete", key)
        except BotoCoreError as err:
            self._fail(err, "delete", key)
        return True

    # ------------------------------------------ servers that ignore conditions

    def _server_enforces_conditions(self, key: NonEmptySafeStrTuple) -> bool:
        marker = (self._endpoint, self._bucket)
        known = _conditional_support.get(marker)
        if known is None:
            known = _conditional_support[marker] = self._probe_conditions(key)
            if not known:
                logger.warning(
                    "the S3 server at %s ignores If-None-Match on PUT; "
                    "conditional writes to bucket %s fall back to read-then-write, "
                    "which is atomic only between the processes of this machine",
                    self._endpoint,
                    self._bucket,
                )
        return known

    def _probe_conditions(self, key: NonEmptySafeStrTuple) -> bool:
        # The probe object's name contains a "+", so it is never listed as a key.
        probe = f"{self._root_prefix}+persidict-probe-{uuid.uuid4().hex}"
        try:
            self._client.put_object(
                Bucket=self._bucket, Key=probe, Body=b"1", IfNoneMatch="*"
            )
            try:
                self._client.put_object(
                    Bucket=self._bucket, Key=probe, Body=b"2", IfNoneMatch="*"
                )
                enforced = False
            except ClientError as err:
                if _error_code(err) not in _PRECONDITION_FAILED:
                    raise
                enforced = True
            self._client.delete_object(Bucket=self._bucket, Key=probe)
        except (ClientError, BotoCoreError) as err:
            # The probe runs on behalf of a write, which is what failed.
            self._fail(err, "write", key)
        return enforced

    _local_cas_lock = threading.Lock()

    def _write_checked_locally(
        self, key: NonEmptySafeStrTuple, data: bytes, expected: ETagIfExists
    ) -> ETagValue:
        # The lock of the machine first, then the one of the process: a
        # transform holding the former may write here.
        with self._host_lock(key), self._local_cas_lock:
            actual = self._actual_etag(key)
            if actual != expected:
                raise ETagMismatch(actual)
            return self._write_bytes_unconditionally(key, data)

    def _delete_unconditionally(self, key: NonEmptySafeStrTuple) -> bool:
        try:
            self._client.delete_object(Bucket=self._bucket, Key=self._object_key(key))
        except (ClientError, BotoCoreError) as err:
            self._fail(err, "delete", key)
        return True

    def _write_bytes_unconditionally(
        self, key: NonEmptySafeStrTuple, data: bytes
    ) -> ETagValue:
        try:
            response = self._client.put_object(
                Bucket=self._bucket, Key=self._object_key(key), Body=data
            )
        except (ClientError, BotoCoreError) as err:
            self._fail(err, "write", key)
        return ETagValue(response["ETag"])

    # ---------------------------------------------------------------- listing

    def _scan(
        self, with_info: bool
    ) -> Iterator[tuple[NonEmptySafeStrTuple, ItemInfo | None]]:
        for page in self._list(self._root_prefix):
            for obj in page.get("Contents", ()):
                key = self._parse(obj["Key"])
                if key is None:
                    continue
                info = None
                if with_info:
                    info = ItemInfo(
                        ETagValue(obj["ETag"]), obj["LastModified"].timestamp()
                    )
                yield key, info

    def _has_keys_under(self, prefix: str) -> bool:
        for page in self._list(prefix):
            for obj in page.get("Contents", ()):
                if self._parse(obj["Key"]) is not None:
                    return True
        return False

    def _subdict_names(self) -> set[str]:
        candidates = []
        for page in self._list(self._root_prefix, delimiter="/"):
            for common in page.get("CommonPrefixes", ()):
                name = common["Prefix"][len(self._root_prefix) : -1]
                if is_safe_component(name):
                    candidates.append(name)
        # Some servers keep listing a folder for a while after its last
        # object is deleted; only a prefix with a real key is a sub-dict.
        with ThreadPoolExecutor(self._max_workers) as pool:
            found = pool.map(
                lambda name: self._has_keys_under(f"{self._root_prefix}{name}/"),
                candidates,
            )
            return {
                name
                for name, has_keys in zip(candidates, found, strict=True)
                if has_keys
            }

    def _child(self, prefix: NonEmptySafeStrTuple) -> Self:
        # A copy that shares this handle's client: clients are thread-safe,
        # and building one costs far more than the request it would send.
        child = object.__new__(type(self))
        child.__dict__.update(self.__dict__)
        child.__dict__.pop("_contention", None)
        child._root_prefix = self._root_prefix + "/".join(prefix.strings) + "/"
        return child

    # ------------------------------------------------------------- bulk work

    def _get_many(
        self, keys: Iterable[NonEmptySafeStrTuple]
    ) -> Iterator[tuple[NonEmptySafeStrTuple, V]]:
        return _get_concurrently(self._get, keys, self._max_workers)

    def _put_many(self, items: Iterable[tuple[NonEmptySafeStrTuple, V]]) -> None:
        _put_concurrently(self._put, items, self._max_workers)

    def _remove_all(self) -> None:
        object_keys = [self._object_key(key) for key, _ in self._scan(False)]
        batches = [
            object_keys[start : start + _DELETE_BATCH]
            for start in range(0, len(object_keys), _DELETE_BATCH)
        ]
        with ThreadPoolExecutor(self._max_workers) as pool:
            list(pool.map(self._delete_batch, batches))

    def _delete_batch(self, object_keys: list[str]) -> None:
        try:
            response = self._client.delete_objects(
                Bucket=self._bucket,
                Delete={"Objects": [{"Key": k} for k in object_keys], "Quiet": True},
            )
        except (ClientError, BotoCoreError) as err:
            self._fail(err, "clear")
        errors = response.get("Errors") or []
        if errors:
            first = errors[0]
            raise BackendError(
                f"{type(self).__name__} failed to delete {len(errors)} of "
                f"{len(object_keys)} objects in s3://{self._bucket}/{self._root_prefix}; "
                f"first: {first.get('Key')}: {first.get('Code')}: {first.get('Message')}",
                backend=type(self).__name__,
                operation="clear",
            )


def _get_concurrently(
    get: Callable[[NonEmptySafeStrTuple], V],
    keys: Iterable[NonEmptySafeStrTuple],
    max_workers: int,
) -> Iterator[tuple[NonEmptySafeStrTuple, V]]:
    """Yield ``(key, get(key))`` with up to ``max_workers`` reads in flight,
    skipping keys deleted since they were listed."""

    def fetch(key: NonEmptySafeStrTuple) -> tuple[NonEmptySafeStrTuple, V] | None:
        try:
            return key, get(key)
        except KeyError:
            return None

    # A sliding window of futures keeps max_workers requests in flight, with
    # as many queued behind them, and memory bounded on huge listings.
    key_iter = iter(keys)
    with ThreadPoolExecutor(max_workers) as pool:
        pending = deque(
            pool.submit(fetch, key) for key in islice(key_iter, max_workers * 2)
        )
        while pending:
            pair = pending.popleft().result()
            next_key = next(key_iter, None)
            if next_key is not None:
                pending.append(pool.submit(fetch, next_key))
            if pair is not None:
                yield pair


def _put_concurrently(
    put: Callable[[NonEmptySafeStrTuple, V, ETagIfExists | None], ETagValue],
    items: Iterable[tuple[NonEmptySafeStrTuple, V]],
    max_workers: int,
) -> None:
    """Write every pair unconditionally, up to ``max_workers`` at once."""
    pairs = list(items)
    if len(pairs) < 2:
        for key, value in pairs:
            put(key, value, None)
        return
    with ThreadPoolExecutor(max_workers) as pool:
        # list() waits for every write and re-raises the first failure.
        list(pool.map(lambda pair: put(pair[0], pair[1], None), pairs))


class S3Dict(MutableDictCached[V]):
    """``BasicS3Dict`` with a local file cache of values and their ETags.

    A read of an item whose cached ETag is still current costs one
    conditional GET, answered 304 with no body. The cache lives under
    ``base_dir``/<bucket>/<prefix> in ``FileDirDict`` stores, may be shared
    by processes of one machine, and can be deleted at any time.
    """

    def __init__(
        self,
        *,
        bucket_name: str = "my_bucket",
        region: str | None = None,
        root_prefix: str = "",
        endpoint_url: str | None = None,
        max_workers: int = 16,
        base_dir: str | os.PathLike[str] = "__s3_dict__",
        digest_len: int = 8,
        serialization_format: str = "pkl",
        append_only: bool = False,
        base_class_for_values: type | None = None,
    ) -> None:
        main: BasicS3Dict[V] = BasicS3Dict(
            bucket_name=bucket_name,
            region=region,
            root_prefix=root_prefix,
            endpoint_url=endpoint_url,
            max_workers=max_workers,
            serialization_format=serialization_format,
            append_only=append_only,
            base_class_for_values=base_class_for_values,
        )
        prefix_parts = main.root_prefix.split("/")[:-1]
        for part in [bucket_name, *prefix_parts]:
            if not is_safe_component(part):
                raise ValueError(
                    f"S3Dict keeps its cache in folders named after the bucket and "
                    f"the prefix, so {part!r} of bucket {bucket_name!r} and prefix "
                    f"{root_prefix!r} must be a safe name (letters, digits, ()_-~.=, "
                    "not '.' or '..'); use BasicS3Dict for other prefixes"
                )
        cache_dir = os.path.join(
            os.path.abspath(os.fspath(base_dir)), bucket_name, *prefix_parts
        )
        # The cache may be lost at any time without harm, so it skips fsync.
        data_cache: FileDirDict[V] = FileDirDict(
            base_dir=cache_dir,
            digest_len=digest_len,
            fsync=False,
            serialization_format=serialization_format,
            base_class_for_values=base_class_for_values,
        )
        etag_cache: FileDirDict[str] = FileDirDict(
            base_dir=cache_dir,
            digest_len=digest_len,
            fsync=False,
            serialization_format="etag",
            base_class_for_values=str,
        )
        super().__init__(main_dict=main, data_cache=data_cache, etag_cache=etag_cache)
        self._max_workers = max_workers
        self._s3_params = {
            "bucket_name": bucket_name,
            "region": region,
            "root_prefix": main.root_prefix,
            "endpoint_url": endpoint_url,
            "max_workers": max_workers,
            "base_dir": os.path.abspath(os.fspath(base_dir)),
            "digest_len": digest_len,
            "serialization_format": serialization_format,
            "append_only": append_only,
            "base_class_for_values": base_class_for_values,
        }

    @property
    def bucket_name(self) -> str:
        return str(self._s3_params["bucket_name"])

    @property
    def root_prefix(self) -> str:
        return str(self._s3_params["root_prefix"])

    def get_params(self) -> dict[str, Any]:
        return dict(self._s3_params)

    def _child(self, prefix: NonEmptySafeStrTuple) -> Self:
        child = object.__new__(type(self))
        child.__dict__.update(self.__dict__)
        child.__dict__.pop("_contention", None)
        child._main = self._main._child(prefix)
        child._data_cache = self._data_cache._child(prefix)
        child._etag_cache = self._etag_cache._child(prefix)
        child._pairs = {}
        child._s3_params = {
            **self._s3_params,
            "root_prefix": self.root_prefix + "/".join(prefix.strings) + "/",
        }
        return child

    def _get_many(
        self, keys: Iterable[NonEmptySafeStrTuple]
    ) -> Iterator[tuple[NonEmptySafeStrTuple, V]]:
        return _get_concurrently(self._get, keys, self._max_workers)

    def _put_many(self, items: Iterable[tuple[NonEmptySafeStrTuple, V]]) -> None:
        _put_concurrently(self._put, items, self._max_workers)


S3Dict_FileDirCached = S3Dict
