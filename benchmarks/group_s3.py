"""BasicS3Dict and S3Dict against raw boto3 calls and the public package.

The run starts a SeaweedFS S3 server on 127.0.0.1 (``persidict.testing``)
and a latency proxy in front of it (``latency_proxy.py``). Single operations
go straight to the server. Bulk work goes through the proxy, which delays
every request by 20 ms, so the cost of one round trip per key shows.

Our package gets the endpoint as ``endpoint_url``. The public package has
no such parameter: it creates its client with ``boto3.client("s3")``, which
reads ``AWS_ENDPOINT_URL``. So its worker sets that variable before each
dict is built.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from typing import Any

from .context import Context, GroupResult
from .stores import PICKLE_PROTOCOL, SMALL, make_key, make_value
from .timing import Case, Contender, Row, Target
from .workers import REPO_ROOT

__all__ = ["run_group"]

BUCKET = "persidict-bench"
DELAY_MS = 20.0


# ------------------------------------------------------------------- cases


# Dicts already built, by (impl, kind, prefix, endpoint): building one creates
# a boto3 client, which takes tens of milliseconds.
_handles: dict[tuple[str, str, str, str], Any] = {}


def _open_dict(params: dict[str, Any], endpoint: str) -> Any:
    """Return the S3 dict ``params`` describe, talking to ``endpoint``."""
    marker = (params["impl"], params["kind"], params["prefix"], endpoint)
    mapping = _handles.get(marker)
    if mapping is None:
        mapping = _handles[marker] = _build_dict(params, endpoint)
    return mapping


def _build_dict(params: dict[str, Any], endpoint: str) -> Any:
    os.environ.update(params["env"])
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    import persidict

    kwargs: dict[str, Any] = {"bucket_name": BUCKET, "root_prefix": params["prefix"]}
    if params["impl"] == "ours":
        kwargs["endpoint_url"] = endpoint
    if params["kind"] == "s3dict":
        kwargs["base_dir"] = params["cache_dir"]
        return persidict.S3Dict(**kwargs)
    return persidict.BasicS3Dict(**kwargs)


def _pairs(n_keys: int) -> list[tuple[str, Any]]:
    return [(make_key(i), make_value(SMALL, i)) for i in range(n_keys)]


def _fill(params: dict[str, Any], pairs: list[tuple[str, Any]]) -> None:
    """Write ``pairs`` through a handle on the server's own port, untimed."""
    filler = _open_dict(params, params["direct"])
    if params["impl"] == "ours":
        filler.update(pairs)
    else:
        for key, value in pairs:
            filler[key] = value


# The (impl, kind, prefix) of the stores that contain all their keys. A
# clear() case removes its store from this set, and the next case refills it.
_filled: set[tuple[str, str, str]] = set()


class S3Case(Case):
    """A case over an S3 dict of ``n_keys`` small values under ``prefix``.

    Parameters: ``impl`` (``ours`` or ``public``), ``kind`` (``basic`` or
    ``s3dict``), ``prefix``, ``n_keys``, ``batch`` (keys per timed loop),
    ``endpoint`` (the timed handle's), ``direct`` (the server's own), ``env``
    (credentials) and ``cache_dir`` (for ``s3dict``).
    """

    def setup(self) -> None:
        p = self.params
        self.pairs = _pairs(p["n_keys"])
        self.marker = (p["impl"], p["kind"], p["prefix"])
        self.fill_if_empty()
        self.mapping = _open_dict(p, p["endpoint"])
        self.keys = [key for key, _ in self.pairs[: p.get("batch") or len(self.pairs)]]

    def fill_if_empty(self) -> None:
        if self.marker not in _filled:
            _fill(self.params, self.pairs)
            _filled.add(self.marker)


class S3GetCase(S3Case):
    def run(self) -> tuple[float, int]:
        mapping = self.mapping
        start = time.perf_counter()
        for key in self.keys:
            mapping[key]
        return time.perf_counter() - start, len(self.keys)


class S3SetCase(S3Case):
    def run(self) -> tuple[float, int]:
        mapping = self.mapping
        pairs = self.pairs[: len(self.keys)]
        start = time.perf_counter()
        for key, value in pairs:
            mapping[key] = value
        return time.perf_counter() - start, len(pairs)


class S3ContainsCase(S3Case):
    def run(self) -> tuple[float, int]:
        mapping = self.mapping
        start = time.perf_counter()
        for key in self.keys:
            key in mapping  # noqa: B015
        return time.perf_counter() - start, len(self.keys)


class S3ItemsCase(S3Case):
    def run(self) -> tuple[float, int]:
        start = time.perf_counter()
        items = list(self.mapping.items())
        elapsed = time.perf_counter() - start
        _check_count(len(items), self.pairs)
        return elapsed, len(items)


class S3ValuesCase(S3Case):
    def run(self) -> tuple[float, int]:
        start = time.perf_counter()
        values = list(self.mapping.values())
        elapsed = time.perf_counter() - start
        _check_count(len(values), self.pairs)
        return elapsed, len(values)


class S3UpdateCase(S3Case):
    def run(self) -> tuple[float, int]:
        start = time.perf_counter()
        self.mapping.update(self.pairs)
        return time.perf_counter() - start, len(self.pairs)


class S3ClearCase(S3Case):
    """``clear()`` of a full dict, refilled untimed on the direct port when needed."""

    def run(self) -> tuple[float, int]:
        self.fill_if_empty()
        start = time.perf_counter()
        self.mapping.clear()
        elapsed = time.perf_counter() - start
        _filled.discard(self.marker)
        if next(iter(self.mapping), None) is not None:
            raise AssertionError("clear() left keys behind")
        return elapsed, len(self.pairs)


def _check_count(count: int, pairs: list[Any]) -> None:
    if count != len(pairs):
        raise AssertionError(f"expected {len(pairs)} items, found {count}")


class RawCase(Case):
    """Plain boto3 calls on objects ``<prefix><key>.pkl`` of pickled values.

    ``call`` is ``get`` (GET and unpickle), ``put`` (pickle and PUT),
    ``head`` (HEAD) or ``get_if_changed`` (GET with the current ETag in
    ``If-None-Match``, to which the server responds 304 Not Modified).
    """

    def setup(self) -> None:
        import boto3

        p = self.params
        os.environ.update(p["env"])
        self.client = boto3.client("s3", endpoint_url=p["endpoint"])
        self.pairs = [
            (f"{p['prefix']}{key}.pkl", value)
            for key, value in _pairs(p["n_keys"])[: p["batch"]]
        ]
        self.etags = {}
        for name, value in self.pairs:
            response = self.client.put_object(
                Bucket=BUCKET, Key=name, Body=pickle.dumps(value, PICKLE_PROTOCOL)
            )
            self.etags[name] = response["ETag"]

    def run(self) -> tuple[float, int]:
        from botocore.exceptions import ClientError

        client = self.client
        call = self.params["call"]
        start = time.perf_counter()
        for name, value in self.pairs:
            if call == "get":
                body = client.get_object(Bucket=BUCKET, Key=name)["Body"].read()
                pickle.loads(body)
            elif call == "put":
                data = pickle.dumps(value, PICKLE_PROTOCOL)
                client.put_object(Bucket=BUCKET, Key=name, Body=data)
            elif call == "head":
                client.head_object(Bucket=BUCKET, Key=name)
            else:
                try:
                    client.get_object(
                        Bucket=BUCKET, Key=name, IfNoneMatch=self.etags[name]
                    )
                except ClientError as err:
                    if err.response["Error"]["Code"] not in ("304", "NotModified"):
                        raise
                else:
                    raise AssertionError(f"{name} changed; expected 304")
        return time.perf_counter() - start, len(self.pairs)


# ------------------------------------------------------------ coordinator


class _Proxy:
    """The latency proxy, run as a child process of the coordinator."""

    def __init__(self, upstream_port: int, delay_ms: float) -> None:
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.latency_proxy",
                f"--upstream-port={upstream_port}",
                f"--delay-ms={delay_ms}",
            ],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line.startswith("listening on "):
            self.stop()
            raise RuntimeError(
                "the latency proxy failed to start: expected 'listening on PORT' "
                f"on its stdout, got {line!r}"
            )
        self.url = f"http://127.0.0.1:{int(line.split()[-1])}"

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)


def run_group(ctx: Context) -> GroupResult:
    from persidict.testing import SeaweedS3Server

    start = time.perf_counter()
    server = SeaweedS3Server(temp_parent_dir=ctx.scratch)
    server.start()
    try:
        proxy = _Proxy(server.s3_port, DELAY_MS)
        try:
            rows, notes = _measure(ctx, server, proxy.url)
        finally:
            proxy.stop()
    finally:
        server.stop()
    notes.append(f"The SeaweedFS server started in {server.last_start_seconds:.1f} s.")
    return GroupResult(
        name="s3",
        title="S3: BasicS3Dict and S3Dict",
        rows=rows,
        notes=notes,
        seconds=time.perf_counter() - start,
    )


def _measure(ctx: Context, server: Any, proxy_url: str) -> tuple[list[Row], list[str]]:
    env = {k: v for k, v in server.env().items() if k != "AWS_ENDPOINT_URL"}
    direct = server.endpoint_url
    quick = ctx.quick
    single_keys = 3 if quick else 40
    bulk_keys = 50 if quick else 2000
    public_bulk_keys = 3 if quick else 50
    bulk_rounds = 3
    rows: list[Row] = []

    def s3(
        label: str,
        case: type[Case],
        impl: str,
        kind: str,
        purpose: str,
        n_keys: int,
        endpoint: str,
    ) -> Contender:
        prefix = f"{impl}-{kind}-{purpose}"
        params = {
            "impl": impl,
            "kind": kind,
            "prefix": prefix,
            "n_keys": n_keys,
            "endpoint": endpoint,
            "direct": direct,
            "env": env,
            "cache_dir": ctx.folder(f"s3-cache-{prefix}"),
        }
        worker = ctx.ours if impl == "ours" else ctx.anchors
        return Contender(label, worker, case, params)

    def raw(label: str, call: str) -> Contender:
        params = {
            "call": call,
            "prefix": f"raw-{call}/",
            "n_keys": single_keys,
            "batch": single_keys,
            "endpoint": direct,
            "env": env,
        }
        return Contender(label, ctx.ours, RawCase, params)

    # Single operations, straight to the server.
    for operation, case, kind, raw_call, raw_label in (
        ("get", S3GetCase, "basic", "get", "boto3 get_object + unpickle"),
        ("set", S3SetCase, "basic", "put", "boto3 pickle + put_object"),
        ("contains", S3ContainsCase, "basic", "head", "boto3 head_object"),
        (
            "S3Dict cached get",
            S3GetCase,
            "s3dict",
            "get_if_changed",
            "boto3 get_object If-None-Match, 304",
        ),
    ):
        ours_label = "S3Dict" if kind == "s3dict" else "BasicS3Dict"
        public_label = f"public {ours_label}"
        samples = ctx.alternate(
            f"S3 {operation}",
            [
                s3(ours_label, case, "ours", kind, "single", single_keys, direct),
                raw(raw_label, raw_call),
                s3(public_label, case, "public", kind, "single", single_keys, direct),
            ],
        )
        rows += [
            Row.compare(operation, samples, ours_label, raw_label),
            Row.compare(operation, samples, ours_label, public_label),
        ]

    # Bulk work, through the proxy.
    for kind in ("basic", "s3dict"):
        ours_label = "S3Dict" if kind == "s3dict" else "BasicS3Dict"
        public_label = f"public {ours_label} ({public_bulk_keys} keys)"
        # clear() comes last: it empties the store the others share.
        for operation, case, target in (
            ("items()", S3ItemsCase, Target.faster_by(10)),
            ("values()", S3ValuesCase, Target.faster_by(10)),
            ("update()", S3UpdateCase, Target.faster_by(10)),
            ("clear()", S3ClearCase, Target.faster_by(20)),
        ):
            name = f"{operation} of {bulk_keys} keys at {DELAY_MS:g} ms, per key"
            samples = ctx.alternate(
                f"{ours_label} {name}",
                [
                    s3(ours_label, case, "ours", kind, "bulk", bulk_keys, proxy_url),
                    s3(
                        public_label,
                        case,
                        "public",
                        kind,
                        "bulk",
                        public_bulk_keys,
                        proxy_url,
                    ),
                ],
                bulk_rounds,
                # A warm-up loop would only repeat the fill: the fill already
                # went through the same S3Dict cache folder.
                warmup=0,
            )
            rows.append(Row.compare(name, samples, ours_label, public_label, target))

    notes = [
        f"Single operations: {single_keys} keys of small values (a pickled dict "
        "of about 100 bytes) per timed loop, straight to the SeaweedFS port, "
        "one request after another. The raw boto3 client uses boto3's default "
        "configuration.",
        f"Bulk work goes through the latency proxy, which keeps every request "
        f"{DELAY_MS:g} ms before forwarding it, on each connection separately. "
        f"Ours works on {bulk_keys} keys; the public package on "
        f"{public_bulk_keys} keys, because it sends one request after another, "
        "so its cost per key does not depend on the number of keys, and 2,000 "
        "keys would take minutes per loop. Both are reported per key.",
        f"{bulk_rounds} timed loops per bulk case, with no warm-up loop: the "
        "untimed fill wrote through the same handles' code and cache folder. "
        "Before each `clear()` loop but the first the dict is refilled through "
        "the server's own port, untimed.",
        "S3Dict keeps its local cache (values and ETags) in a folder of the "
        "scratch space. The untimed fill wrote through S3Dict, so the cache is "
        "warm and each key of its bulk reads costs a conditional GET to which "
        "the server responds 304 Not Modified.",
        "The benchmark process, SeaweedFS and the proxy share this machine's "
        "cores. With requests in parallel, the CPU time of each request (boto3 "
        "on the client, SeaweedFS on the server) bounds our bulk work, not the "
        "20 ms. Against real S3 the server's share runs elsewhere. The public "
        "package's sequential requests mostly wait, so the ratios here "
        "understate what parallel requests gain over a network.",
        "The proxy delays each request once, before its head goes upstream; "
        "responses, TCP handshakes and the body sent after `100 Continue` are "
        "not delayed, so a PUT costs one 20 ms wait here, not two round trips.",
    ]
    return rows, notes
