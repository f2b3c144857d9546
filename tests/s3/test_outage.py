"""A stopped server: fast BackendErrors, and no lost or torn values after restart.

These tests stop and restart a server of their own, never the session's.
"""

from __future__ import annotations

import itertools
import threading
import time

import pytest
from botocore.exceptions import BotoCoreError

from persidict import BackendError, NonEmptySafeStrTuple
from persidict.testing import SeaweedS3Server

from .helpers import ONE_PER_CLASS_VARIANTS, variant_params

pytestmark = pytest.mark.s3

# An estimate with room for a loaded test machine. A refused connection
# fails in under a second, retries included.
MAX_FAILURE_SECONDS = 5.0

# SeaweedFS 4.48 stopped within 1.3 s of SIGTERM, when it stopped at all,
# in runs on a loaded two-core test machine.
SERVER_STOP_TIMEOUT_SECONDS = 4.0

_bucket_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def outage_server(s3_server):
    """A server that tests may stop. ``s3_server`` sets the credentials."""
    # SeaweedFS 4.48 sometimes keeps running after SIGTERM, because it keeps
    # retrying to reach its own stopped filer. stop() kills it after
    # stop_timeout, and the default of 15 s would slow every such restart.
    server = SeaweedS3Server(stop_timeout=SERVER_STOP_TIMEOUT_SECONDS)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def running_server(outage_server):
    """The outage server, started again if an earlier test left it stopped."""
    if not outage_server.is_running:
        outage_server.start()
    yield outage_server
    if not outage_server.is_running:
        outage_server.start()


@pytest.fixture
def make_outage_dict(variant, running_server, tmp_path):
    """Return a factory of handles on the outage server, in this test's bucket."""
    bucket = f"outage-{next(_bucket_numbers)}"
    counter = itertools.count()

    def make(**overrides):
        return variant.build(
            bucket_name=bucket,
            cache_dir=tmp_path / f"s3-cache-{next(counter)}",
            endpoint_url=running_server.endpoint_url,
            **overrides,
        )

    return make


KEY = NonEmptySafeStrTuple("stored", "item")
NEW_KEY = NonEmptySafeStrTuple("new", "item")

# (name, action on (dict, append-only dict), possible operations, key in the
# error or None). Only the insert uses the append-only handle.
OPERATIONS = [
    ("get", lambda d, _: d[KEY], {"read"}, KEY),
    ("get with default", lambda d, _: d.get(KEY), {"read"}, KEY),
    ("contains", lambda d, _: KEY in d, {"stat"}, KEY),
    ("set", lambda d, _: d.__setitem__(KEY, {"n": 2}), {"write"}, KEY),
    ("insert", lambda _, ao: ao.__setitem__(NEW_KEY, {"n": 3}), {"write"}, NEW_KEY),
    # A delete first checks that the object exists, so its stat may fail.
    ("del", lambda d, _: d.__delitem__(KEY), {"delete", "stat"}, KEY),
    ("discard", lambda d, _: d.discard(KEY), {"delete", "stat"}, KEY),
    ("len", lambda d, _: len(d), {"list"}, None),
    ("iteration", lambda d, _: list(d), {"list"}, None),
    ("items", lambda d, _: list(d.items()), {"list"}, None),
    ("subdicts", lambda d, _: d.subdicts(), {"list"}, None),
    ("etag", lambda d, _: d.etag(KEY), {"stat"}, KEY),
    ("timestamp", lambda d, _: d.timestamp(KEY), {"stat"}, KEY),
    # clear lists the keys before it deletes them.
    ("clear", lambda d, _: d.clear(), {"clear", "list"}, None),
]


@pytest.mark.parametrize("variant", variant_params(ONE_PER_CLASS_VARIANTS))
def test_outage_raises_then_values_survive(make_outage_dict, running_server, subtests):
    d = make_outage_dict()
    append_only = make_outage_dict(append_only=True)
    written = {
        ("item", f"k{i:02d}"): {"index": i, "payload": "x" * 50_000} for i in range(40)
    }
    written[KEY] = {"n": 1}
    d.update(written)
    d["item", "k00"] = written["item", "k00"] = {"index": 0, "payload": "rewritten"}
    assert d[KEY] == {"n": 1}

    running_server.stop(keep_data=True)

    for name, action, operations, key in OPERATIONS:
        with subtests.test(operation=name):
            started = time.monotonic()
            with pytest.raises(BackendError) as caught:
                action(d, append_only)
            elapsed = time.monotonic() - started

            error = caught.value
            message = str(error)
            assert error.backend == "BasicS3Dict"
            assert error.backend in message
            assert error.operation in operations
            assert error.operation in message
            assert error.key == key
            if key is not None:
                assert repr(key) in message
            assert running_server.endpoint_url in message
            assert isinstance(error.__cause__, BotoCoreError)
            assert not isinstance(error, KeyError)
            assert elapsed < MAX_FAILURE_SECONDS

    running_server.start()

    assert len(d) == len(written)
    assert dict(d.items()) == written


def _payload(index):
    # Large enough that a torn write would be caught: 200 KB per value.
    return {"index": index, "payload": f"{index:08d}" * 25_000}


@pytest.mark.parametrize("variant", variant_params(ONE_PER_CLASS_VARIANTS))
def test_writes_during_outage_never_torn(make_outage_dict, running_server):
    d = make_outage_dict()
    writer_handle = make_outage_dict()
    acknowledged: list[int] = []
    failed: list[int] = []
    failures: list[BaseException] = []
    stop_writing = threading.Event()

    def write_continuously():
        for index in itertools.count():
            if stop_writing.is_set():
                return
            try:
                writer_handle["item", f"k{index:05d}"] = _payload(index)
            except BackendError as err:
                failed.append(index)
                failures.append(err)
                # Each write fails at once while the server is down.
                time.sleep(0.02)
            else:
                acknowledged.append(index)

    writer = threading.Thread(target=write_continuously)
    writer.start()
    try:
        _wait_for(lambda: len(acknowledged) >= 10)
        running_server.stop(keep_data=True)
        _wait_for(lambda: len(failed) >= 5)
        running_server.start()
        count_after_restart = len(acknowledged)
        _wait_for(lambda: len(acknowledged) >= count_after_restart + 10)
    finally:
        stop_writing.set()
        writer.join(timeout=60)

    assert not writer.is_alive()
    assert failed
    stored = dict(d.items())
    for index in acknowledged:
        assert stored["item", f"k{index:05d}"] == _payload(index)
    for index in failed:
        assert stored.get(("item", f"k{index:05d}"), _payload(index)) == _payload(index)
    attempted = {("item", f"k{index:05d}") for index in acknowledged + failed}
    assert set(stored) <= attempted


def _wait_for(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met within the timeout")
        time.sleep(0.01)
