"""An aiohttp connector for the outgoing webhooks that checks every address it is
about to connect to (bot/net_guard.py's rules), so a name that resolved to a
public address when the URL was set and resolves to 127.0.0.1 now (DNS
rebinding), or an IP literal in the URL, never gets a connection.

Two checks, both at connect time: the resolver refuses a name when any of its
addresses is not public, and the socket factory (called for each address the
client tries, IP literals included, which aiohttp never passes to a resolver)
refuses the address itself. A host on the operator's allow list skips both.
"""

from __future__ import annotations

import socket
from typing import Any

from aiohttp import TCPConnector
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.net_guard import Destinations, address_kind, literal_address


class AddressNotAllowed(OSError):
    """The guard refused to connect: the address is not public."""


class GuardedResolver(AbstractResolver):
    """Looks names up with the destinations' lookup, and refuses the name when any
    address it has is not public (unless the host is allowed)."""

    def __init__(self, destinations: Destinations, *, any_address: bool) -> None:
        self._destinations = destinations
        self._any_address = any_address

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = await self._destinations.addresses(host)
        if not self._any_address and any(address_kind(a) is not None for a in addresses):
            raise AddressNotAllowed(f"{host} has an address that is not public")
        results: list[ResolveResult] = []
        for address in addresses:
            address_family = socket.AF_INET if address.version == 4 else socket.AF_INET6
            if family not in (socket.AF_UNSPEC, address_family):
                continue
            results.append(
                {
                    "hostname": host,
                    "host": str(address),
                    "port": port,
                    "family": address_family,
                    "proto": 0,
                    "flags": socket.AI_NUMERICHOST,
                }
            )
        if not results:
            raise OSError(f"{host} has no address of the family asked for")
        return results

    async def close(self) -> None:
        """Nothing to release: the lookup holds no connection."""


def _guarded_socket(addr_info: tuple[Any, ...]) -> socket.socket:
    """aiohttp's (aiohappyeyeballs') socket factory, for hosts not on the allow list."""
    family, type_, proto, _canonical, sockaddr = addr_info
    address = literal_address(str(sockaddr[0]))
    if address is None or address_kind(address) is not None:
        raise AddressNotAllowed("the address is not public")
    return socket.socket(family=family, type=type_, proto=proto)


def guarded_connector(destinations: Destinations, host: str) -> TCPConnector:
    """A connector for one POST to `host` (redirects are not followed, so no other
    host is reached through it)."""
    any_address = destinations.allows_any_address(host)
    return TCPConnector(
        resolver=GuardedResolver(destinations, any_address=any_address),
        use_dns_cache=False,
        socket_factory=None if any_address else _guarded_socket,
    )


def refused_by_guard(error: BaseException) -> bool:
    """Whether `error` (as aiohttp raises it) is, or wraps, the guard's refusal."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, AddressNotAllowed):
            return True
        pending.extend([getattr(current, "os_error", None), current.__cause__, current.__context__])
    return False
