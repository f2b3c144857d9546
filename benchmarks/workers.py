"""Worker processes that run cases, and the handle the coordinator drives them by.

Each worker is ``python -m benchmarks.workers`` started with the interpreter
of one environment: the project's venv runs our package, the anchors' venv
runs the public package and the other libraries. The coordinator sends one
JSON request per line on the worker's stdin and reads one JSON reply per line.
The worker keeps its real stdout for replies and points file descriptor 1 at
stderr, so a library that prints cannot corrupt the protocol.

This module imports only the standard library, because both environments
run it.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

__all__ = ["Worker", "WorkerError"]

REPO_ROOT = Path(__file__).resolve().parent.parent


class WorkerError(RuntimeError):
    """A worker process failed a request or exited."""


class Worker:
    """A worker process running ``python`` from one environment."""

    def __init__(self, name: str, python: str | os.PathLike[str], cwd: Path) -> None:
        self.name = name
        self.python = str(python)
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        # Inherited credentials would be sent with the test server's keys.
        env.pop("AWS_SESSION_TOKEN", None)
        env.pop("AWS_PROFILE", None)
        self._process = subprocess.Popen(
            [self.python, "-m", "benchmarks.workers"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=cwd,
            env=env,
            text=True,
        )
        self.pid = self._process.pid

    def request(self, **message: Any) -> Any:
        process = self._process
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(json.dumps(message) + "\n")
            process.stdin.flush()
        except BrokenPipeError as err:
            raise WorkerError(
                f"worker {self.name} (pid {self.pid}) exited with code "
                f"{process.poll()} before {message.get('op')!r}"
            ) from err
        line = process.stdout.readline()
        if not line:
            raise WorkerError(
                f"worker {self.name} (pid {self.pid}) exited with code "
                f"{process.wait()} during {message}"
            )
        reply = json.loads(line)
        if "error" in reply:
            raise WorkerError(f"worker {self.name} failed {message}:\n{reply['error']}")
        return reply["result"]

    def setup(self, case: str, params: dict[str, Any]) -> int:
        """Build and set up ``case`` ("module:Class"); return its handle."""
        return int(self.request(op="setup", case=case, params=params))

    def run(self, handle: int) -> tuple[float, int]:
        seconds, operations = self.request(op="run", handle=handle)
        return float(seconds), int(operations)

    def teardown(self, handle: int) -> None:
        self.request(op="teardown", handle=handle)

    def call(self, function: str, **kwargs: Any) -> Any:
        """Call ``function`` ("module:name") in the worker and return its result."""
        return self.request(op="call", function=function, kwargs=kwargs)

    def close(self) -> None:
        """Ask the worker to exit, and wait for it."""
        if self._process.poll() is None:
            try:
                self.request(op="quit")
            except (WorkerError, BrokenPipeError, OSError):
                pass
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def installed_versions(names: list[str]) -> dict[str, str]:
    """Return the installed version of each distribution, or "not installed"."""
    from importlib import metadata

    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _resolve(path: str) -> Any:
    module_name, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def serve() -> None:
    """Serve requests from stdin until ``quit`` or the end of input."""
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    cases: dict[int, Any] = {}
    next_handle = 0

    for line in sys.stdin:
        message = json.loads(line)
        op = message["op"]
        try:
            if op == "quit":
                replies.write(json.dumps({"result": None}) + "\n")
                break
            if op == "setup":
                case = _resolve(message["case"])(**message["params"])
                case.setup()
                next_handle += 1
                cases[next_handle] = case
                result: Any = next_handle
            elif op == "run":
                # Collect now, so that garbage of earlier runs is not
                # collected inside this timed loop.
                gc.collect()
                result = cases[message["handle"]].run()
            elif op == "teardown":
                cases.pop(message["handle"]).teardown()
                result = None
            elif op == "call":
                result = _resolve(message["function"])(**message["kwargs"])
            else:
                raise ValueError(f"unknown request {op!r}")
            reply = {"result": result}
        except Exception:
            reply = {"error": traceback.format_exc()}
        replies.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    serve()
