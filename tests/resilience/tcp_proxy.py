"""A TCP proxy that can play a PostgreSQL restart, for tests/resilience.

The bot's database URL points at the proxy (127.0.0.1, an ephemeral port), which
forwards to the real server. `restart()` does to the bot what a restart of the
server does, without touching the server other tests share:

1. **shutting down**: every open connection is cut at once (no goodbye, as when
   the server process exits), and the port is closed, so a new connection is
   refused (ECONNREFUSED);
2. **starting up**: the port is open again, but each connection is answered the
   way a starting PostgreSQL answers it: SQLSTATE 57P03 "the database system is
   starting up", then closed;
3. **up**: connections are forwarded again, on the same port.

Connections opened before the restart are never forwarded again: the bot's pool
has to notice they are dead and open new ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import struct
import time
from dataclasses import dataclass, field

_SSL_REQUEST = 80877103  # the code of PostgreSQL's SSLRequest (and GSSENCRequest + 1)
_GSSENC_REQUEST = 80877104
_CHUNK = 64 * 1024


class State(enum.StrEnum):
    UP = "up"
    DOWN = "down"  # port closed: connections refused
    STARTING = "starting"  # port open: "the database system is starting up"


@dataclass
class ProxyStats:
    forwarded: int = 0  # connections forwarded to the server
    cut: int = 0  # open connections cut by a restart
    turned_away: int = 0  # connections answered "starting up"
    restarts: list[tuple[float, float]] = field(default_factory=list)  # (down at, up at)


def starting_up_error() -> bytes:
    """PostgreSQL's ErrorResponse for a connection during start-up (SQLSTATE 57P03)."""
    fields = b"".join(
        code + text.encode() + b"\x00"
        for code, text in (
            (b"S", "FATAL"),
            (b"V", "FATAL"),
            (b"C", "57P03"),
            (b"M", "the database system is starting up"),
        )
    )
    body = fields + b"\x00"
    return b"E" + struct.pack("!I", len(body) + 4) + body


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, *, host: str = "127.0.0.1") -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.host = host
        self.port = 0
        self.state = State.UP
        self.stats = ProxyStats()
        self._server: asyncio.Server | None = None
        self._open: set[tuple[asyncio.BaseTransport, asyncio.BaseTransport]] = set()
        self._pipes: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self._listen()

    async def stop(self) -> None:
        self._cut_everything()
        await self._close_port()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def restart(self, *, down_seconds: float, starting_seconds: float) -> None:
        """Play one server restart; returns when connections are forwarded again."""
        went_down = time.monotonic()
        self.state = State.DOWN
        self._cut_everything()
        await self._close_port()
        await asyncio.sleep(down_seconds)
        self.state = State.STARTING
        await self._listen()
        await asyncio.sleep(starting_seconds)
        self.state = State.UP
        self.stats.restarts.append((went_down, time.monotonic()))

    def server_side_ports(self) -> list[int]:
        """The local ports of the proxy's open connections to the server: how the
        server (pg_stat_activity.client_port) tells the bot's sessions from others'."""
        return [server.get_extra_info("sockname")[1] for _client, server in self._open]

    # ------------------------------------------------------------ internals

    async def _listen(self) -> None:
        # asyncio sets SO_REUSEADDR, so the port is ours again at once after a close.
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close_port(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def _cut_everything(self) -> None:
        """Abort every open connection: a RST to both sides, nothing flushed."""
        for client, server in list(self._open):
            self.stats.cut += 1
            client.abort()  # type: ignore[attr-defined]
            server.abort()  # type: ignore[attr-defined]
        self._open.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.state == State.STARTING:
            await self._turn_away(reader, writer)
            return
        if self.state == State.DOWN:  # accepted just before the port closed
            writer.transport.abort()
            return
        try:
            server_reader, server_writer = await asyncio.open_connection(
                self.target_host, self.target_port
            )
        except OSError:
            writer.transport.abort()
            return
        if self.state != State.UP:  # a restart began while connecting
            server_writer.transport.abort()
            writer.transport.abort()
            return
        self.stats.forwarded += 1
        pair = (writer.transport, server_writer.transport)
        self._open.add(pair)
        pipes = [
            asyncio.create_task(self._pipe(reader, server_writer)),
            asyncio.create_task(self._pipe(server_reader, writer)),
        ]
        self._pipes.update(pipes)
        try:
            await asyncio.gather(*pipes, return_exceptions=True)
        finally:
            self._pipes.difference_update(pipes)
            self._open.discard(pair)
            for transport in pair:
                transport.abort()  # type: ignore[attr-defined]

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await source.read(_CHUNK):
                sink.write(data)
                await sink.drain()
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            if not sink.transport.is_closing():
                sink.write_eof()

    async def _turn_away(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer as a starting server: refuse encryption, read the start-up packet,
        send SQLSTATE 57P03 and close."""
        self.stats.turned_away += 1
        with contextlib.suppress(ConnectionError, OSError, asyncio.IncompleteReadError):
            packet = await asyncio.wait_for(_read_packet(reader), 5)
            code = struct.unpack("!I", packet[4:8])[0] if len(packet) >= 8 else 0
            if code in (_SSL_REQUEST, _GSSENC_REQUEST):
                writer.write(b"N")
                await writer.drain()
                await asyncio.wait_for(_read_packet(reader), 5)
            writer.write(starting_up_error())
            await writer.drain()
        writer.close()


async def _read_packet(reader: asyncio.StreamReader) -> bytes:
    """One untyped start-up packet: a 4-byte length (itself included), then the rest."""
    head = await reader.readexactly(4)
    (length,) = struct.unpack("!I", head)
    return head + await reader.readexactly(max(0, length - 4))
