"""What the webhook guard's tests aim at: a name lookup that answers from a table
(no DNS needed, and a name can change its address between two lookups, as in DNS
rebinding), and local listeners that count every connection made to them."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import StrEnum

# A public address for names that must pass the guard. Nothing ever connects to
# it: a test that sends makes the name resolve to loopback first.
PUBLIC_ADDRESS = "93.184.215.14"


@dataclass
class FakeDns:
    names: dict[str, list[str]] = field(
        default_factory=lambda: {"localhost": ["127.0.0.1"], "psa.example.com": [PUBLIC_ADDRESS]}
    )
    asked: list[str] = field(default_factory=list)

    async def __call__(self, host: str) -> list[str]:
        self.asked.append(host)
        try:
            return list(self.names[host.lower().removesuffix(".")])
        except KeyError:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None


class Answer(StrEnum):
    CLOSE = "close"  # accept, then hang up at once
    REDIS = "redis"  # a service that is not HTTP: a line of its own protocol, then hang up
    HTTP = "http"  # 200 OK to whatever comes


@dataclass
class CountingListener:
    """A TCP listener on loopback that counts the connections it accepts."""

    answer: Answer = Answer.HTTP
    port: int = 0
    connections: int = 0

    async def accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            if self.answer == Answer.REDIS:
                writer.write(b"-ERR unknown command\r\n")
            elif self.answer == Answer.HTTP:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
        writer.close()


@contextlib.asynccontextmanager
async def counting_listener(
    answer: Answer = Answer.HTTP, also: tuple[str, ...] = ("::1",)
) -> AsyncIterator[CountingListener]:
    """Listens on 127.0.0.1 and, on the same port, on the loopback addresses in
    `also` (those the machine has)."""
    listener = CountingListener(answer)
    first = await asyncio.start_server(listener.accept, "127.0.0.1", 0)
    listener.port = first.sockets[0].getsockname()[1]
    servers = [first]
    for host in also:
        with contextlib.suppress(OSError):  # e.g. no IPv6 on this machine
            servers.append(await asyncio.start_server(listener.accept, host, listener.port))
    try:
        yield listener
    finally:
        for server in servers:
            server.close()
            await server.wait_closed()


def closed_port() -> int:
    """A loopback port nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
