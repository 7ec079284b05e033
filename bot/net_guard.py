"""Where the bot may open connections that a workspace admin chooses (the outgoing
webhooks): public addresses only, unless the operator named the host in
MSPBOT_WEBHOOK_ALLOW_HOSTS.

A host is judged by the addresses it stands for: an IP literal in any spelling a
resolver accepts (`2130706433`, `0177.0.0.1`, `0x7f.1`, `127.1`, `[::ffff:7f00:1]`),
or every address its name resolves to. Refused: loopback, private, link-local,
shared (CGNAT), multicast, unspecified, broadcast, reserved, benchmarking and
documentation ranges, site-local, and the IPv6 forms that carry an IPv4 address
(mapped, compatible, NAT64, 6to4) when that address is not public.

Pure rules plus one injectable name lookup; the aiohttp side (checking every
address at connect time) is bot/delivery/guarded_http.py.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from urllib.parse import unquote

from yarl import URL

IPAddress = IPv4Address | IPv6Address
# A host name -> the addresses it resolves to (as text); raises OSError when it
# does not resolve. Injected so tests need no DNS.
HostLookup = Callable[[str], Awaitable[Sequence[str]]]
LOOKUP_TIMEOUT_SECONDS = 2.0

# IANA's special-purpose registries, most specific first. Anything not listed is
# public for IPv4; IPv6 must also be global unicast (2000::/3).
_IPV4_RANGES: tuple[tuple[IPv4Network, str], ...] = tuple(
    (IPv4Network(network), kind)
    for network, kind in (
        ("255.255.255.255/32", "broadcast"),
        ("0.0.0.0/8", "unspecified"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared (CGNAT)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "reserved"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "reserved"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
    )
)
_IPV6_RANGES: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(network), kind)
    for network, kind in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/96", "IPv4-compatible (deprecated)"),
        ("64:ff9b:1::/48", "private (local-use NAT64)"),
        ("100::/64", "reserved (discard-only)"),
        ("2001:2::/48", "benchmarking"),
        ("2001:db8::/32", "documentation"),
        ("2001::/23", "reserved"),  # Teredo, ORCHID and other protocol assignments
        ("3fff::/20", "documentation"),
        ("5f00::/16", "reserved"),
        ("fc00::/7", "private (unique local)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    )
)
_GLOBAL_UNICAST = IPv6Network("2000::/3")
_NAT64 = IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR = IPv6Network("2002::/16")


def address_kind(address: IPAddress) -> str | None:
    """None for a public address; otherwise what it is ("loopback", "private", ...)."""
    if isinstance(address, IPv4Address):
        return _ipv4_kind(address)
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        form, ipv4 = embedded
        kind = _ipv4_kind(ipv4)
        return None if kind is None else f"{kind} ({form})"
    for network, kind in _IPV6_RANGES:
        if address in network:
            return kind
    return None if address in _GLOBAL_UNICAST else "reserved"


def is_public(address: IPAddress) -> bool:
    return address_kind(address) is None


def _ipv4_kind(address: IPv4Address) -> str | None:
    for network, kind in _IPV4_RANGES:
        if address in network:
            return kind
    return None


def _embedded_ipv4(address: IPv6Address) -> tuple[str, IPv4Address] | None:
    """The IPv4 address an IPv6 form carries, and the form's name."""
    if address.ipv4_mapped is not None:
        return "IPv4-mapped", address.ipv4_mapped
    if address in _NAT64:
        return "NAT64", IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return "6to4", address.sixtofour
    return None


# ---------------------------------------------------------------- host spellings


def literal_address(host: str) -> IPAddress | None:
    """The address `host` is, read as a resolver reads it without asking DNS: an
    IPv6 literal (brackets, zone id and percent-encoding allowed), or IPv4 in the
    forms inet_aton accepts. None: a name."""
    text = unquote(host).strip("[]")
    if ":" in text:
        try:
            return IPv6Address(text.split("%", 1)[0])
        except ValueError:
            return None
    # A final dot makes no name of an address: `127.0.0.1.` is still loopback.
    number = inet_aton(text[:-1] if text.endswith(".") else text)
    return None if number is None else IPv4Address(number)


def inet_aton(text: str) -> int | None:
    """inet_aton(3) without its quirk of ignoring whatever follows a space: one to
    four parts, each decimal, octal (leading 0) or hex (0x); the last part fills
    the remaining bytes (`127.1`, `2130706433`, `0x7f.0.0.1`)."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values = [_inet_part(part) for part in parts]
    if any(value is None for value in values):
        return None
    *leading, last = [value for value in values if value is not None]
    if any(value > 0xFF for value in leading) or last >= 1 << (8 * (4 - len(leading))):
        return None
    number = last
    for index, value in enumerate(leading):
        number |= value << (8 * (3 - index))
    return number


def _inet_part(part: str) -> int | None:
    digits, base = part, 10
    if part[:2] in ("0x", "0X"):
        digits, base = part[2:], 16
    elif part.startswith("0") and len(part) > 1:
        digits, base = part[1:], 8
    allowed = "0123456789abcdefABCDEF"[: {10: 10, 8: 8, 16: 22}[base]]
    if not digits or any(character not in allowed for character in digits):
        return None
    return int(digits, base)


def is_canonical_ipv4(host: str) -> bool:
    """Four decimal numbers without leading zeros: the only IPv4 spelling the HTTP
    client connects to (it refuses `127.1` and friends outright)."""
    parts = host.split(".")
    return len(parts) == 4 and all(
        part.isdigit() and part.isascii() and str(int(part)) == part and int(part) <= 0xFF
        for part in parts
    )


def normal_host(host: str) -> str:
    """How a host is compared with the allow list: lower case, without brackets or
    the final dot of a fully qualified name; IP literals in their usual form."""
    text = host.strip().lower().strip("[]")
    if text.endswith(".") and not text.endswith(".."):
        text = text[:-1]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text


def allow_list(entries: Iterable[str]) -> frozenset[str]:
    return frozenset(normal_host(entry) for entry in entries if entry.strip())


# ---------------------------------------------------------------- looking names up


async def system_lookup(host: str) -> list[str]:
    """The operating system's resolver (getaddrinfo: /etc/hosts, then DNS). Every
    family's addresses, whether this machine could reach them or not: all are judged."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class Problem(StrEnum):
    NOT_A_URL = "not_a_url"
    NOT_HTTPS = "not_https"
    NOT_PUBLIC = "not_public"
    ODD_SPELLING = "odd_spelling"  # a public IPv4 address not written as a.b.c.d
    DOES_NOT_RESOLVE = "does_not_resolve"
    LOOKUP_TIMED_OUT = "lookup_timed_out"


@dataclass(frozen=True, slots=True)
class Refusal:
    problem: Problem
    host: str = ""
    kind: str | None = None  # for NOT_PUBLIC: what the address is
    literal: bool = False  # the host is an IP address as typed (not a name)


@dataclass(frozen=True, slots=True)
class Destinations:
    """Where outgoing webhooks may go: public addresses over https, and the
    operator's own hosts (`allowed_hosts`, normalised with `allow_list`), which may
    be at any address and may use plain http."""

    allowed_hosts: frozenset[str] = frozenset()
    lookup: HostLookup = system_lookup
    lookup_timeout_seconds: float = LOOKUP_TIMEOUT_SECONDS

    def allows_any_address(self, host: str) -> bool:
        return normal_host(host) in self.allowed_hosts

    async def addresses(self, host: str) -> list[IPAddress]:
        """What `host` stands for. Raises OSError when it does not resolve and
        TimeoutError when the lookup takes too long."""
        literal = literal_address(host)
        if literal is not None:
            return [literal]
        found = await asyncio.wait_for(self.lookup(host), self.lookup_timeout_seconds)
        addresses = [address for text in found if (address := literal_address(text))]
        if not addresses:
            raise OSError(f"{host} has no address")
        return addresses

    async def refusal(self, url: str) -> Refusal | None:
        """Why a webhook may not go to `url`, or None. Resolves the host (so a
        name is judged by every address it has now)."""
        try:
            parsed = URL(url)
            host = parsed.raw_host or ""
        except (ValueError, TypeError):
            return Refusal(Problem.NOT_A_URL)
        if not host or parsed.scheme not in ("http", "https"):
            return Refusal(Problem.NOT_A_URL, host)
        if self.allows_any_address(host):
            return None
        if parsed.scheme != "https":
            return Refusal(Problem.NOT_HTTPS, host)
        literal = literal_address(host)
        if literal is not None:
            kind = address_kind(literal)
            if kind is not None:
                return Refusal(Problem.NOT_PUBLIC, host, kind, literal=True)
            if isinstance(literal, IPv4Address) and not is_canonical_ipv4(host):
                return Refusal(Problem.ODD_SPELLING, host, literal=True)
            return None
        return await self._name_refusal(host)

    async def _name_refusal(self, host: str) -> Refusal | None:
        try:
            addresses = await self.addresses(host)
        except TimeoutError:
            return Refusal(Problem.LOOKUP_TIMED_OUT, host)
        except (OSError, UnicodeError, ValueError):
            return Refusal(Problem.DOES_NOT_RESOLVE, host)
        for address in addresses:
            kind = address_kind(address)
            if kind is not None:
                return Refusal(Problem.NOT_PUBLIC, host, kind)
        return None
