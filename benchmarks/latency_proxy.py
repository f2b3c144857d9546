"""A loopback TCP proxy that delays every HTTP request by a fixed time.

Run as ``python -m benchmarks.latency_proxy --upstream-port PORT --delay-ms 20``.
It listens on an ephemeral port of 127.0.0.1, prints ``listening on PORT``
on stdout once ready, and forwards every connection to 127.0.0.1:PORT.

A request is delayed once, before its first bytes go upstream. A chunk from
the client starts a new request when it begins with an HTTP method and the
connection is idle: nothing was sent yet, or the server has sent response
bytes since the previous request. Bodies sent after the head, including the body that
follows a ``100 Continue``, go through without a delay. Each connection waits
on its own, so requests on parallel connections are delayed in parallel, as
on a network with that latency. Responses are not delayed, and neither is
the TCP handshake, so this models a round trip of about ``delay`` per
request on an already open connection.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

__all__ = ["main"]

LOOPBACK = "127.0.0.1"
_CHUNK = 65536
_METHODS = (b"GET ", b"PUT ", b"POST ", b"HEAD ", b"DELETE ", b"OPTIONS ", b"PATCH ")


class _Connection:
    """State of one proxied connection: whether a new request may start."""

    def __init__(self) -> None:
        self.idle = True


async def _client_to_server(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    connection: _Connection,
    delay: float,
) -> None:
    while chunk := await reader.read(_CHUNK):
        if connection.idle and chunk.startswith(_METHODS):
            connection.idle = False
            await asyncio.sleep(delay)
        writer.write(chunk)
        await writer.drain()
    if writer.can_write_eof():
        writer.write_eof()


async def _server_to_client(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    connection: _Connection,
) -> None:
    while chunk := await reader.read(_CHUNK):
        connection.idle = True
        writer.write(chunk)
        await writer.drain()
    if writer.can_write_eof():
        writer.write_eof()


async def _handle(
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
    upstream_port: int,
    delay: float,
) -> None:
    try:
        server_reader, server_writer = await asyncio.open_connection(
            LOOPBACK, upstream_port
        )
    except OSError as err:
        print(f"latency proxy: cannot connect upstream: {err}", file=sys.stderr)
        client_writer.close()
        return

    connection = _Connection()
    try:
        await asyncio.gather(
            _client_to_server(client_reader, server_writer, connection, delay),
            _server_to_client(server_reader, client_writer, connection),
        )
    except (ConnectionResetError, BrokenPipeError):
        # A peer closed its side abruptly, as boto3 does with idle pooled
        # connections: close both sides, as a network would.
        pass
    except OSError as err:
        print(f"latency proxy: connection failed: {err}", file=sys.stderr)
    finally:
        for writer in (client_writer, server_writer):
            writer.close()


async def _serve(upstream_port: int, delay: float) -> None:
    server = await asyncio.start_server(
        lambda r, w: _handle(r, w, upstream_port, delay), LOOPBACK, 0
    )
    port = server.sockets[0].getsockname()[1]
    print(f"listening on {port}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.latency_proxy",
        description="Forward TCP connections to a port of 127.0.0.1, delaying "
        "each HTTP request.",
    )
    parser.add_argument(
        "--upstream-port",
        type=int,
        required=True,
        help="port on 127.0.0.1 to forward to",
    )
    parser.add_argument(
        "--delay-ms",
        type=float,
        default=20.0,
        help="delay before each request is forwarded, in milliseconds (default 20)",
    )
    args = parser.parse_args(argv)
    try:
        asyncio.run(_serve(args.upstream_port, args.delay_ms / 1000))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
