"""Webhooks aimed inside the network (resilience): every spelling of a non-public
address that could be typed into `/msp settings webhook` (decimal, octal, hex and
short IPv4 forms, IPv6 forms carrying IPv4, zone ids, percent-encoding, userinfo,
names that resolve to such addresses, names that change their address after the
URL was set) is refused through the real Slack command; and the same spellings,
stored as webhook URLs and sent by the delivery worker, make no connection to a
local listener that counts them. Figures: docs/RELIABILITY.md.

Marked `resilience`: `.ci/run` runs it after the default suite."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import replace
from ipaddress import IPv4Address

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from bot.app import Bot, build_app
from bot.config import Settings
from bot.delivery import outbox
from bot.delivery.limits import DeliveryLimits
from bot.delivery.outbox import Kind
from storage.engine import Database
from storage.models import Msp, OutboxItem
from tests.drive import post
from tests.rows import msp_row
from tests.seed import OWNER, grant_staff
from tests.support import TEAM_ID, FakeClock
from tests.webhook_targets import PUBLIC_ADDRESS, Answer, FakeDns, counting_listener

pytestmark = pytest.mark.resilience

WEBHOOK_SECRET = "test-webhook-master-secret-0123456789"
AT_ONCE = 8
# Quick retries for the test that sends; the worker looks at the outbox every
# 0.2 s on its own (a test that sends drains it round after round), not 100 times
# a second, which took half the time of a thousand slash commands.
QUICK = replace(
    DeliveryLimits(),
    retry_base_seconds=0.01,
    retry_cap_seconds=0.02,
    poll_seconds=0.2,
    max_attempts=2,
    concurrency=8,
)
# Addresses that are not public, one or more of each kind.
NOT_PUBLIC = [
    "127.0.0.1",
    "127.0.0.2",
    "127.255.255.254",
    "0.0.0.0",
    "10.0.0.5",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "100.127.255.254",
    "224.0.0.1",
    "239.255.255.250",
    "255.255.255.255",
    "240.0.0.1",
    "192.0.0.8",
    "192.0.2.1",
    "198.18.0.1",
    "198.51.100.7",
    "203.0.113.9",
]
# Those that land on this machine: the only ones a sender may be pointed at here
# (outgoing traffic in tests goes to loopback only).
LOOPBACK = ["127.0.0.1", "127.0.0.2", "127.255.255.254", "0.0.0.0"]
NOT_PUBLIC_IPV6 = [
    "::1",
    "0:0:0:0:0:0:0:1",
    "0000:0000:0000:0000:0000:0000:0000:0001",
    "::",
    "fe80::1",
    "fe80::1%25eth0",
    "fec0::1",
    "fc00::1",
    "fd12:3456:789a::1",
    "ff02::1",
    "2001:db8::1",
    "3fff::1",
    "2001::1",
    "2001:2::1",
    "100::1",
    "64:ff9b:1::1",
]
LOOPBACK_IPV6 = ["::1", "0:0:0:0:0:0:0:1", "0000:0000:0000:0000:0000:0000:0000:0001"]
# Names the fake DNS answers, each with addresses that are not (all) public.
NAMES = {
    "localhost": ["127.0.0.1"],
    "metadata.google.internal": ["169.254.169.254"],
    "metadata": ["169.254.169.254"],
    "instance-data.ec2.internal": ["169.254.169.254"],
    "loopback.example.com": ["127.0.0.1"],
    "loopback6.example.com": ["::1"],
    "mapped.example.com": ["::ffff:127.0.0.1"],
    "zero.example.com": ["0.0.0.0"],
    "private.example.com": ["10.0.0.5"],
    "mixed.example.com": [PUBLIC_ADDRESS, "127.0.0.1"],
    "mixed6.example.com": [PUBLIC_ADDRESS, "::1"],
    "cgnat.example.com": ["100.64.0.1"],
    "ula.example.com": ["fd00::1"],
}
REBOUND = [["127.0.0.1"], ["::1"], ["::ffff:127.0.0.1"], ["0.0.0.0"], ["127.0.0.1", "::1"]]
LOOPBACK_NAMES = [
    "localhost",
    "loopback.example.com",
    "loopback6.example.com",
    "mapped.example.com",
    "zero.example.com",
    "mixed.example.com",
    "mixed6.example.com",
]


def ipv4_spellings(text: str) -> list[str]:
    """Every way inet_aton reads `text`'s address: 1 to 4 parts, each decimal, octal
    or hex (upper and lower case), with leading zeros and a final dot."""
    number = int(IPv4Address(text))
    spellings = {text, text + "."}
    for parts in (1, 2, 3, 4):
        widths = [1] * (parts - 1) + [5 - parts]
        values, shift = [], 32
        for width in widths:
            shift -= 8 * width
            values.append((number >> shift) & ((1 << (8 * width)) - 1))
        # Every mix of bases up to three parts; four parts in one base each.
        mixes = itertools.product(BASES, repeat=parts) if parts < 4 else ((b,) * 4 for b in BASES)
        for bases in mixes:
            spellings.add(".".join(map(_part, values, bases)))
    return sorted(spellings)


BASES = ("d", "o", "x", "X", "00")


def _part(value: int, base: str) -> str:
    return {
        "d": str(value),
        "o": "0" + format(value, "o"),
        "x": hex(value),
        "X": "0X" + format(value, "X"),
        "00": "000" + format(value, "o"),
    }[base]


def ipv6_forms(text: str) -> list[str]:
    """The IPv6 forms that carry an IPv4 address (judged by it: not public)."""
    ipv4 = IPv4Address(text)
    high, low = int(ipv4) >> 16, int(ipv4) & 0xFFFF
    return [
        f"::ffff:{ipv4}",
        f"::ffff:{high:x}:{low:x}",
        f"0:0:0:0:0:ffff:{ipv4}",
        f"::{ipv4}",
        f"64:ff9b::{ipv4}",
        f"2002:{high:x}:{low:x}::1",
    ]


def bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def forbidden_hosts() -> list[str]:
    hosts: list[str] = []
    for address in NOT_PUBLIC:
        hosts += ipv4_spellings(address)
        hosts += [bracket(form) for form in ipv6_forms(address)]
    hosts += [bracket(address) for address in NOT_PUBLIC_IPV6]
    hosts += list(NAMES) + [name.upper() + "." for name in NAMES]
    hosts += ["127.0.0.1%2e", "%31%32%37.0.0.1"]
    return list(dict.fromkeys(hosts))


def forbidden_urls() -> list[str]:
    """Each host as https with and without a port and path, as http, and behind the
    userinfo and fragment tricks that make a URL look as if it went elsewhere."""
    urls: list[str] = []
    for index, host in enumerate(forbidden_hosts()):
        urls.append(f"https://{host}/")
        if index % 3 == 0:
            urls.append(f"https://{host}:6379/hooks/x?a=1")
        if index % 5 == 0:
            urls.append(f"http://{host}:5432/")
        if index % 7 == 0:
            urls.append(f"https://psa.example.com@{host}/hook")
            urls.append(f"https://{host}#@psa.example.com/")
    return urls


def sender_urls(port: int) -> list[str]:
    """Spellings that would reach this machine's listener if nothing stopped them."""
    hosts: list[str] = []
    for address in LOOPBACK:
        hosts += ipv4_spellings(address)
        hosts += [f"[::ffff:{address}]", f"[0:0:0:0:0:ffff:{address}]"]
    hosts += [bracket(address) for address in LOOPBACK_IPV6]
    hosts += LOOPBACK_NAMES + [name.upper() + "." for name in LOOPBACK_NAMES]
    hosts += ["127.0.0.1%2e"]
    urls = []
    for host in dict.fromkeys(hosts):
        urls += [f"https://{host}:{port}/hook", f"http://{host}:{port}/hook"]
    return urls


@pytest.fixture
def dns() -> FakeDns:
    table = FakeDns()
    table.names.update(NAMES)
    table.names["psa.internal"] = ["127.0.0.1"]
    return table


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"mspbot_webhook_secret": SecretStr(WEBHOOK_SECRET)})


@pytest.fixture
async def bot(settings: Settings, db: Database, clock: FakeClock, dns: FakeDns) -> Bot:
    return build_app(settings, clock=clock, db=db, delivery_limits=QUICK, host_lookup=dns)


async def test_no_forbidden_spelling_can_be_set_through_slack(client, slack, db, bot):
    await grant_staff(db)
    urls = forbidden_urls()
    accepted, server_errors = [], []

    async def try_to_set(url: str) -> None:
        reply = await post(client, slack.slash_command(f"settings webhook {url}", user_id=OWNER))
        if reply.status >= 500:
            server_errors.append(url)
        if "Settings saved" in reply.text:
            accepted.append(url)

    # A few at a time, as people in one workspace might: each answer waits on Bolt's
    # 10 ms look at whether the listener has acked, and those waits overlap.
    for start in range(0, len(urls), AT_ONCE):
        await asyncio.gather(*(try_to_set(url) for url in urls[start : start + AT_ONCE]))
    print(f"\nset through Slack: {len(urls)} forbidden URLs, {len(accepted)} accepted")
    assert server_errors == []
    assert accepted == []
    assert (await msp_row(db)).webhook_url is None
    assert len(urls) > 1000


async def test_no_forbidden_spelling_gets_a_connection_when_sent(db, bot, dns):
    """URLs stored before the checks existed (or rebound since), sent by the worker."""
    await grant_staff(db)
    async with counting_listener(Answer.HTTP, also=(*LOOPBACK[1:3], "::1")) as listener:
        urls = sender_urls(listener.port)
        async with db.unit_of_work() as session:
            msp_id = await session.scalar(select(Msp.id).where(Msp.team_id == TEAM_ID))
            for number, url in enumerate(urls):
                await outbox.enqueue_webhook(
                    session, msp_id=msp_id, key=f"webhook:ssrf:{number}", url=url, body={"n": 1}
                )
        await bot.delivery.drain(timeout=600)
        refused = await _count(db, "failed", "address_not_allowed")
        print(
            f"\nsent: {len(urls)} stored URLs to loopback spellings, {refused} refused, "
            f"{listener.connections} connections"
        )
        assert listener.connections == 0
        assert refused == len(urls)
        assert len(urls) > 300


async def test_names_that_rebind_to_loopback_after_they_were_set_get_no_connection(
    client, slack, db, bot, dns
):
    await grant_staff(db)
    async with counting_listener(Answer.HTTP) as listener:
        names = [f"rebind{n}.example.com" for n in range(20)]
        for name in names:
            dns.names[name] = [PUBLIC_ADDRESS]
            url = f"https://{name}:{listener.port}/hook"
            reply = await post(
                client, slack.slash_command(f"settings webhook {url}", user_id=OWNER)
            )
            assert "Settings saved" in reply.text, reply.text
            dns.names[name] = REBOUND[names.index(name) % len(REBOUND)]
            async with db.unit_of_work() as session:
                msp_id = await session.scalar(select(Msp.id).where(Msp.team_id == TEAM_ID))
                await outbox.enqueue_webhook(
                    session, msp_id=msp_id, key=f"webhook:{name}", url=url, body={"n": 1}
                )
        await bot.delivery.drain(timeout=120)
        print(f"\nrebinding: {len(names)} names, {listener.connections} connections")
        assert listener.connections == 0
        assert await _count(db, "failed", "address_not_allowed") == len(names)

        # The listener does count: an allowed host on loopback gets its one POST.
        allowed = build_app(
            bot.settings.model_copy(
                update={"mspbot_webhook_allow_hosts": frozenset({"psa.internal"})}
            ),
            db=db,
            delivery_limits=QUICK,
            host_lookup=dns,
        )
        async with db.unit_of_work() as session:
            await outbox.enqueue_webhook(
                session,
                msp_id=msp_id,
                key="webhook:allowed",
                url=f"http://psa.internal:{listener.port}/hook",
                body={"n": 1},
            )
        await allowed.delivery.drain(timeout=60)
        assert listener.connections == 1


async def _count(db: Database, status: str, reason: str) -> int:
    async with db.unit_of_work() as session:
        return int(
            await session.scalar(
                select(func.count()).where(
                    OutboxItem.kind == Kind.WEBHOOK,
                    OutboxItem.status == status,
                    OutboxItem.last_error == reason,
                )
            )
            or 0
        )
