"""The per-key locks between processes of one machine (persidict._locks)."""

from __future__ import annotations

import logging
import os
import signal
import stat
import time
import zlib

import pytest

from persidict import ITEM_NOT_AVAILABLE, BasicS3Dict, FileDirDict, s3_dict
from persidict._locks import LOCK_FOLDER_VARIABLE, host_lock_folder, key_lock
from tests.processes.process_workers import increment


def hold_lock(lock_file: str, name: str, ready, release_after: float) -> None:
    with key_lock(lock_file, name):
        ready.set()
        time.sleep(release_after)


def take_lock(lock_file: str, name: str, results) -> None:
    with key_lock(lock_file, name):
        results.put(time.monotonic())


def wait_for_lock(
    fork_group, lock_file: str, held: str, wanted: str, hold_for: float
) -> float:
    """Return how long a process waited for ``wanted`` while another process
    held ``held`` for ``hold_for`` seconds."""
    ready = fork_group.context.Event()
    results = fork_group.context.Queue()
    fork_group.start(hold_lock, lock_file, held, ready, hold_for)
    assert ready.wait(30)
    started = time.monotonic()
    fork_group.start(take_lock, lock_file, wanted, results)
    [taken] = fork_group.collect(results, 1, timeout=hold_for + 30)
    return taken - started


def test_lock_excludes_other_processes(fork_group, tmp_path):
    waited = wait_for_lock(fork_group, str(tmp_path / "locks"), "k", "k", 1.0)

    assert waited > 0.5


def test_lock_of_another_key_does_not_wait(fork_group, tmp_path):
    waited = wait_for_lock(fork_group, str(tmp_path / "locks"), "k", "other", 30.0)

    assert waited < 5


def test_lock_with_timeout_goes_on_without_it(fork_group, tmp_path):
    lock_file = str(tmp_path / "locks")
    ready = fork_group.context.Event()
    fork_group.start(hold_lock, lock_file, "k", ready, 30.0)
    assert ready.wait(30)

    started = time.monotonic()
    with key_lock(lock_file, "k", timeout=0.3) as locked:
        waited = time.monotonic() - started
    with key_lock(lock_file, "other", timeout=0.3) as other_locked:
        pass

    assert locked is False
    assert 0.3 <= waited < 5
    assert other_locked is True


def increment_slowly(params: dict, ready, results) -> None:
    """Increment "n" with a transformer that takes three seconds."""

    def slow_increment(value):
        ready.set()
        time.sleep(3)
        return 1 if value is ITEM_NOT_AVAILABLE else value + 1

    d = BasicS3Dict(**params)
    d.transform_item("n", transformer=slow_increment)
    results.put("done")


@pytest.mark.s3
def test_s3_transform_stops_waiting_for_a_slow_holder(
    fork_group, s3_bucket, monkeypatch
):
    # The machine lock only spares lost races: a transform that waited long
    # enough goes on, and the server's condition makes the slow one retry.
    params = {"bucket_name": s3_bucket}
    ready = fork_group.context.Event()
    results = fork_group.context.Queue()
    fork_group.start(increment_slowly, params, ready, results)
    assert ready.wait(60)
    monkeypatch.setattr(s3_dict, "_TRANSFORM_LOCK_WAIT", 0.3)
    d = BasicS3Dict(**params)

    started = time.monotonic()
    d.transform_item("n", transformer=increment)
    waited = time.monotonic() - started
    fork_group.collect(results, 1, timeout=60)

    assert waited < 2.5
    assert d["n"] == 2


def test_killed_holder_releases_the_lock(fork_group, tmp_path):
    lock_file = str(tmp_path / "locks")
    ready = fork_group.context.Event()
    holder = fork_group.start(hold_lock, lock_file, "k", ready, 600.0)
    assert ready.wait(30)

    os.kill(holder.pid, signal.SIGKILL)
    holder.join(30)
    started = time.monotonic()
    with key_lock(lock_file, "k"):
        waited = time.monotonic() - started

    assert waited < 5


def colliding_names() -> tuple[str, str]:
    """Two names whose locks share one byte."""
    seen: dict[int, str] = {}
    n = 0
    while True:
        name = f"key-{n}"
        offset = zlib.crc32(name.encode()) & 0x7FFFFFFF
        if offset in seen:
            return seen[offset], name
        seen[offset] = name
        n += 1


def test_lock_is_reentrant_within_a_thread(tmp_path):
    lock_file = str(tmp_path / "locks")
    first, second = colliding_names()
    entered = []

    with key_lock(lock_file, "k"), key_lock(lock_file, "k"):
        entered.append("k twice")
    with key_lock(lock_file, first), key_lock(lock_file, second):
        entered.append("names sharing a byte")

    assert entered == ["k twice", "names sharing a byte"]


def test_host_lock_folder_is_private(tmp_path, monkeypatch):
    folder = tmp_path / "locks"
    monkeypatch.setenv(LOCK_FOLDER_VARIABLE, str(folder))

    assert host_lock_folder() == str(folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_host_lock_folder_of_another_user_is_refused(tmp_path, monkeypatch, caplog):
    if os.getuid() != 0:
        pytest.skip("only root can give a folder to another user")
    folder = tmp_path / "theirs"
    folder.mkdir()
    os.chown(folder, 65534, 65534)
    monkeypatch.setenv(LOCK_FOLDER_VARIABLE, str(folder))

    with caplog.at_level(logging.WARNING, logger="persidict"):
        assert host_lock_folder() is None

    assert "belongs to another user" in caplog.text
    assert LOCK_FOLDER_VARIABLE in caplog.text


@pytest.mark.s3
def test_s3_transform_works_without_a_lock_folder(
    s3_bucket, tmp_path, monkeypatch, caplog
):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(LOCK_FOLDER_VARIABLE, str(blocker / "locks"))
    d = BasicS3Dict(bucket_name=s3_bucket)

    with caplog.at_level(logging.WARNING, logger="persidict"):
        for _ in range(3):
            d.transform_item("n", transformer=increment)

    assert d["n"] == 3
    assert "cannot create the lock folder" in caplog.text
    assert str(blocker / "locks") in caplog.text


@pytest.mark.s3
def test_s3_transform_works_when_lock_file_unusable(
    s3_bucket, tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv(LOCK_FOLDER_VARIABLE, str(tmp_path / "locks"))
    d = BasicS3Dict(bucket_name=s3_bucket)
    # A folder where the lock file should be: it cannot be opened as a file.
    (tmp_path / "locks").mkdir(mode=0o700)
    (tmp_path / "locks" / d._lock_name).mkdir()

    with caplog.at_level(logging.WARNING, logger="persidict"):
        d.transform_item("n", transformer=increment)
        d.transform_item("n", transformer=increment)

    assert d["n"] == 2
    assert "cannot open the lock file" in caplog.text
    assert d._lock_name in caplog.text


def sleep_quietly(seconds: float, results) -> None:
    results.put("started")
    time.sleep(seconds)


def write_in_child(params: dict, results) -> None:
    started = time.monotonic()
    FileDirDict(**params)["k"] = "child"
    results.put(time.monotonic() - started)


def test_forked_child_does_not_keep_parent_locks(fork_group, tmp_path):
    # A child forked during a transform shares the descriptor of the key's
    # lock. Once the parent's transform ends, the parent must not wait for
    # the child to exit before it can write that key again.
    params = {"base_dir": str(tmp_path), "fsync": False}
    d = FileDirDict(**params)
    results = fork_group.context.Queue()

    def fork_a_sleeper(value):
        fork_group.start(sleep_quietly, 30.0, results)
        return 1

    d.transform_item("k", transformer=fork_a_sleeper)
    fork_group.collect(results, 1, timeout=30)
    started = time.monotonic()
    d["k"] = 2
    waited = time.monotonic() - started

    assert waited < 5
    assert d["k"] == 2


def test_forked_child_waits_for_parent_lock(fork_group, tmp_path):
    # The child must not take itself for the holder of a lock that the
    # parent's transform holds: its write waits until the transform ends.
    params = {"base_dir": str(tmp_path), "fsync": False}
    d = FileDirDict(**params)
    results = fork_group.context.Queue()

    def fork_a_writer(value):
        fork_group.start(write_in_child, params, results)
        time.sleep(1.0)
        return "parent"

    d.transform_item("k", transformer=fork_a_writer)
    [child_waited] = fork_group.collect(results, 1, timeout=30)
    fork_group.join_all(timeout=30)

    assert child_waited > 0.5
    assert d["k"] == "child"
