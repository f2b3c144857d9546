"""Fixtures for tests that run real child processes.

``spawn_group`` and ``fork_group`` start processes and, at teardown, kill
and reap any that are still alive, so a failed or timed-out test never
leaves a child behind.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from collections.abc import Callable, Iterator
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any

import pytest

# Seconds to wait for a killed child to be reaped.
REAP_TIMEOUT = 10.0


class ProcessGroup:
    """Child processes started by one test, all reaped at teardown."""

    def __init__(self, context: BaseContext) -> None:
        self.context = context
        self.processes: list[BaseProcess] = []

    def start(self, target: Callable[..., Any], *args: Any) -> BaseProcess:
        process = self.context.Process(target=target, args=args, daemon=True)
        process.start()
        self.processes.append(process)
        return process

    def join_all(self, timeout: float) -> None:
        """Join every process within ``timeout`` seconds in total; fail the
        test, naming the hung processes, if any is still running."""
        deadline = time.monotonic() + timeout
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
        hung = [p.name for p in self.processes if p.is_alive()]
        assert not hung, f"processes still running after {timeout} s: {hung}"
        failed = {p.name: p.exitcode for p in self.processes if p.exitcode != 0}
        assert not failed, f"processes exited with nonzero codes: {failed}"

    def collect(self, results: Any, count: int, timeout: float) -> list[Any]:
        """Take ``count`` items from a multiprocessing queue within ``timeout``
        seconds in total; fail the test if they do not all arrive, or as soon
        as a child has died with a nonzero exit code.

        Take results before joining: a child that has put items on a queue
        does not exit until they are read.
        """
        deadline = time.monotonic() + timeout
        items: list[Any] = []
        while len(items) < count:
            try:
                items.append(results.get(timeout=0.5))
                continue
            except queue.Empty:
                pass
            died = {
                p.name: p.exitcode
                for p in self.processes
                if p.exitcode is not None and p.exitcode != 0
            }
            assert not died, (
                f"got {len(items)} of {count} results; children died with "
                f"exit codes {died} (their tracebacks are in the captured stderr)"
            )
            assert time.monotonic() < deadline, (
                f"got {len(items)} of {count} results in {timeout} s"
            )
        return items

    def reap(self) -> None:
        for process in self.processes:
            if process.is_alive():
                process.kill()
            process.join(REAP_TIMEOUT)
        for process in self.processes:
            process.close()
        self.processes.clear()


def _group(method: str) -> Iterator[ProcessGroup]:
    group = ProcessGroup(multiprocessing.get_context(method))
    try:
        yield group
    finally:
        group.reap()


@pytest.fixture
def spawn_group() -> Iterator[ProcessGroup]:
    """Processes started by ``spawn``: a fresh interpreter, as on macOS."""
    yield from _group("spawn")


@pytest.fixture
def fork_group() -> Iterator[ProcessGroup]:
    """Processes started by ``fork``: cheap, for tests that start many."""
    yield from _group("fork")
