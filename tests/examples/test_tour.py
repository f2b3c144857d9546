"""Run examples/tour.py as a user would: in a new process, to the end."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import REPO_ROOT

TOUR = REPO_ROOT / "examples" / "tour.py"
VERIFIED_LINE = re.compile(r"verified (\d+) of (\d+) values")
TEMPORARY_FOLDER_LINE = re.compile(r"^(?:stores|S3Dict cache): (\S+) \(temporary", re.M)
SERVER_LINE = re.compile(r"^s3: SeaweedFS server at \S+, process (\d+),", re.M)

# Timeout in seconds. The S3 runs start a server and send a few hundred requests.
TOUR_TIMEOUT = 300


def run_tour(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOUR), *args],
        capture_output=True,
        text=True,
        timeout=TOUR_TIMEOUT,
        check=False,
    )


def verified_counts(stdout: str) -> tuple[int, int]:
    """Return N and M of the last line, ``verified N of M values``."""
    last_line = stdout.rstrip().splitlines()[-1]
    match = VERIFIED_LINE.fullmatch(last_line)
    assert match is not None, f"last line of the tour: {last_line!r}"
    return int(match[1]), int(match[2])


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def assert_temporary_folder_removed(stdout: str) -> None:
    match = TEMPORARY_FOLDER_LINE.search(stdout)
    assert match is not None, stdout
    assert not Path(match[1]).exists()


def test_tour_verifies_every_value() -> None:
    result = run_tour("--limit", "150")

    assert result.returncode == 0, result.stderr
    verified, expected = verified_counts(result.stdout)
    assert verified == expected
    assert verified > 0
    assert_temporary_folder_removed(result.stdout)


@pytest.mark.parametrize(
    "backend_args",
    [
        pytest.param([], id="files"),
        pytest.param(["--s3"], id="s3", marks=pytest.mark.s3),
    ],
)
def test_tour_maps_and_skips_files(tmp_path: Path, backend_args: list[str]) -> None:
    sources = tmp_path / "sources"
    (sources / "package").mkdir(parents=True)
    (sources / "package" / "__init__.py").write_text("")
    (sources / "package" / "module.py").write_text("x = 1\n")
    (sources / "top level.py").write_text("print('space in the name')\n")
    (sources / "latin1.py").write_bytes(b"# caf\xe9\n")

    result = run_tour("--source-dir", str(sources), *backend_args)

    assert result.returncode == 0, result.stderr
    assert verified_counts(result.stdout) == (6, 6)
    assert "top level.py -> ('top_level',)" in result.stdout
    assert "latin1.py: not UTF-8" in result.stdout
    assert "get_subdict('package'): 2 modules: __init__, module" in result.stdout
    assert "subdicts(): 1 top-level packages and 1 top-level modules" in result.stdout


def test_tour_rejects_no_fsync_with_s3() -> None:
    result = run_tour("--s3", "--no-fsync")

    assert result.returncode == 2
    assert "--no-fsync applies to FileDirDict stores only" in result.stderr


@pytest.mark.s3
def test_tour_s3_verifies_every_value() -> None:
    result = run_tour("--s3", "--limit", "100")

    assert result.returncode == 0, result.stderr
    verified, expected = verified_counts(result.stdout)
    assert verified == expected
    assert verified > 0
    assert "(S3Dict)" in result.stdout
    assert "(BasicS3Dict)" in result.stdout
    assert_temporary_folder_removed(result.stdout)

    server = SERVER_LINE.search(result.stdout)
    assert server is not None, result.stdout
    assert not is_running(int(server[1]))


@pytest.mark.s3
@pytest.mark.parametrize(
    ("signal_number", "exit_status"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 128 + signal.SIGTERM)],
    ids=["sigint", "sigterm"],
)
def test_tour_s3_stops_server_on_signal(signal_number: int, exit_status: int) -> None:
    # Unbuffered output lets the test read the server line while the tour runs.
    process = subprocess.Popen(
        [sys.executable, str(TOUR), "--s3", "--limit", "100"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    server_pid = None
    try:
        assert process.stdout is not None
        output = ""
        for line in process.stdout:
            output += line
            server = SERVER_LINE.search(line)
            if server is not None:
                server_pid = int(server[1])
                break
        assert server_pid is not None, output

        # A short pause lets the tour reach the load step before the signal.
        time.sleep(0.5)
        process.send_signal(signal_number)
        output += process.stdout.read()
        returncode = process.wait(timeout=60)

        assert returncode == exit_status, output
        assert not is_running(server_pid)
        assert_temporary_folder_removed(output)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if server_pid is not None and is_running(server_pid):
            os.kill(server_pid, signal.SIGKILL)
