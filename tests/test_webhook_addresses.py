"""Outgoing webhooks go only to public addresses: every other kind of address (in
every spelling a resolver accepts) is refused when an admin sets the URL, and again
when the bot connects, so a name that resolves elsewhere by then (DNS rebinding)
gets no connection. The operator's allow list admits named on-premises hosts, and
delivery status never tells an open port from a closed one."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network, IPv6Address

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr
from sqlalchemy import select

from bot.app import Bot, build_app
from bot.config import ConfigError, Settings, load_settings
from bot.delivery.guarded_http import guarded_connector, refused_by_guard
from bot.delivery.limits import DeliveryLimits
from bot.delivery.outbox import Kind
from bot.errors import InvalidInput
from bot.ids import BlockId
from bot.net_guard import (
    Destinations,
    address_kind,
    allow_list,
    inet_aton,
    is_public,
    literal_address,
)
from bot.services.settings import check_webhook_destination
from storage.engine import Database
from storage.models import OutboxItem
from tests.drive import approve, ask, post
from tests.rows import msp_row
from tests.seed import ADMIN, MEMBER, OWNER, grant_staff, paid, set_msp
from tests.support import FakeClock
from tests.webhook_targets import (
    PUBLIC_ADDRESS,
    Answer,
    FakeDns,
    closed_port,
    counting_listener,
)

WEBHOOK_SECRET = "test-webhook-master-secret-0123456789"
QUICK = replace(
    DeliveryLimits(),
    retry_base_seconds=0.01,
    retry_cap_seconds=0.02,
    poll_seconds=0.01,
    max_attempts=2,
)
PUBLIC_ONLY = "webhooks go only to public internet addresses"


# ---------------------------------------------------------------- the address rules


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("2130706433", "loopback"),  # decimal
        ("0177.0.0.1", "loopback"),  # octal
        ("0x7f.0.0.1", "loopback"),  # hex
        ("0x7f000001", "loopback"),
        ("127.1", "loopback"),  # short form
        ("127.0.0.1.", "loopback"),
        ("10.0.0.5", "private"),
        ("012.0.0.5", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "shared (CGNAT)"),
        ("0.0.0.0", "unspecified"),
        ("0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("255.255.255.255", "broadcast"),
        ("240.0.0.1", "reserved"),
        ("192.0.0.8", "reserved"),
        ("198.18.0.1", "benchmarking"),
        ("192.0.2.1", "documentation"),
        ("198.51.100.7", "documentation"),
        ("203.0.113.9", "documentation"),
        ("::1", "loopback"),
        ("[::1]", "loopback"),
        ("0:0:0:0:0:0:0:1", "loopback"),
        ("::", "unspecified"),
        ("::ffff:127.0.0.1", "loopback (IPv4-mapped)"),
        ("::ffff:7f00:1", "loopback (IPv4-mapped)"),
        ("::ffff:10.0.0.5", "private (IPv4-mapped)"),
        ("::127.0.0.1", "IPv4-compatible"),
        ("64:ff9b::a9fe:a9fe", "link-local (NAT64)"),
        ("2002:7f00:1::", "loopback (6to4)"),
        ("2002:a00:5::1", "private (6to4)"),
        ("fe80::1", "link-local"),
        ("fe80::1%25eth0", "link-local"),
        ("fec0::1", "site-local"),
        ("fd00::1", "private (unique local)"),
        ("ff02::1", "multicast"),
        ("2001:db8::1", "documentation"),
        ("3fff::1", "documentation"),
        ("2001:2::1", "benchmarking"),
        ("2001::1", "reserved"),  # Teredo
        ("100::1", "reserved"),
        ("4000::1", "reserved"),
    ],
)
def test_every_kind_of_address_that_is_not_public_is_recognised(host, kind):
    address = literal_address(host)
    assert address is not None
    assert kind in (address_kind(address) or "public")


@pytest.mark.parametrize(
    "host", ["8.8.8.8", "93.184.215.14", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_public_addresses_pass(host):
    address = literal_address(host)
    assert address is not None and is_public(address)


@given(st.text(alphabet="0123456789abcdefxX.", max_size=24))
def test_host_spellings_are_read_as_the_resolver_reads_them(text):
    try:
        expected = int.from_bytes(socket.inet_aton(text), "big")
    except OSError:
        expected = None
    assert inet_aton(text) == expected


NOT_PUBLIC_IPV4 = [
    IPv4Network(network)
    for network in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
]


@st.composite
def not_public_ipv4(draw: st.DrawFn) -> IPv4Address:
    network = draw(st.sampled_from(NOT_PUBLIC_IPV4))
    offset = draw(st.integers(0, network.num_addresses - 1))
    return network[offset]


def _spell(address: IPv4Address, parts: int, bases: list[int]) -> str:
    """`address` in inet_aton's `parts`-part form, each part in its base."""
    number = int(address)
    widths = [1] * (parts - 1) + [4 - (parts - 1)]
    values, shift = [], 32
    for width in widths:
        shift -= 8 * width
        values.append((number >> shift) & ((1 << (8 * width)) - 1))
    spelled = []
    for value, base in zip(values, bases, strict=False):
        spelled.append({10: str(value), 8: "0" + format(value, "o"), 16: hex(value)}[base])
    return ".".join(spelled)


@given(
    not_public_ipv4(),
    st.integers(1, 4),
    st.lists(st.sampled_from([8, 10, 16]), min_size=4, max_size=4),
)
def test_no_spelling_of_an_address_that_is_not_public_passes(address, parts, bases):
    spelled = _spell(address, parts, bases)
    assert literal_address(spelled) == address, spelled
    assert literal_address(spelled.upper().replace("0X", "0x")) == address
    assert not is_public(literal_address(spelled))


@given(st.integers(0, 2**32 - 1))
def test_ipv6_forms_carrying_an_ipv4_address_are_judged_by_it(number):
    ipv4 = IPv4Address(number)
    carried = [
        IPv6Address(f"::ffff:{ipv4}"),  # mapped
        IPv6Address(f"64:ff9b::{ipv4}"),  # NAT64
        IPv6Address((0x2002 << 112) | (number << 80) | 1),  # 6to4
    ]
    for address in carried:
        assert is_public(address) == is_public(ipv4), address
    assert not is_public(IPv6Address(f"::{ipv4}"))  # IPv4-compatible: deprecated, never


@given(st.integers(0, 2**32 - 1))
def test_a_public_ipv4_address_is_global_to_python_too(number):
    address = IPv4Address(number)
    if is_public(address):
        assert address.is_global and not address.is_multicast


# ---------------------------------------------------------------- the allow list


def test_the_allow_list_is_read_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("MSPBOT_WEBHOOK_ALLOW_HOSTS", " PSA.corp.example., 10.0.0.7 ,[::1],,")
    settings = load_settings(require_slack=False)
    assert settings.mspbot_webhook_allow_hosts == {"psa.corp.example", "10.0.0.7", "::1"}
    assert Destinations(allowed_hosts=settings.mspbot_webhook_allow_hosts).allows_any_address(
        "psa.CORP.example."
    )


@pytest.mark.parametrize(
    "entry", ["https://psa.corp.example", "psa.corp.example:8443", "*.corp.example", "a/b"]
)
def test_the_allow_list_takes_host_names_only(monkeypatch, tmp_path, entry):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MSPBOT_WEBHOOK_ALLOW_HOSTS", f"ok.example,{entry}")
    with pytest.raises(ConfigError) as refused:
        load_settings(require_slack=False)
    assert "MSPBOT_WEBHOOK_ALLOW_HOSTS" in str(refused.value)
    assert "host names only" in str(refused.value)


# ---------------------------------------------------------------- the app


@pytest.fixture
def dns() -> FakeDns:
    table = FakeDns()
    table.names.update(
        {
            "metadata.google.internal": ["169.254.169.254"],
            "internal.example.com": ["10.1.2.3"],
            "dual.example.com": [PUBLIC_ADDRESS, "10.0.0.1"],
            "v6.example.com": ["fd00::1"],
            "mapped.example.com": ["::ffff:127.0.0.1"],
            "psa.internal": ["127.0.0.1"],
            "rebind.example.com": [PUBLIC_ADDRESS],
        }
    )
    return table


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "mspbot_webhook_secret": SecretStr(WEBHOOK_SECRET),
            "mspbot_webhook_allow_hosts": allow_list(["localhost", "psa.internal"]),
        }
    )


@pytest.fixture
async def bot(settings: Settings, db: Database, clock: FakeClock, dns: FakeDns) -> Bot:
    return build_app(settings, clock=clock, db=db, delivery_limits=QUICK, host_lookup=dns)


@pytest.fixture
async def staff(db: Database) -> None:
    await grant_staff(db)


async def _set_webhook(client, slack, url: str) -> str:
    reply = await post(client, slack.slash_command(f"settings webhook {url}", user_id=OWNER))
    assert reply.status == 200
    return reply.text


async def _decide(bot, client, slack, fake_slack, db, name: str) -> None:
    """A request for `name`, approved: its decision goes to the webhook."""
    await paid(db, name=name, assigned=[MEMBER])
    asked = await ask(
        client, slack, fake_slack, f"add-licences {name}", **{BlockId.REQUEST_LICENCES: "2"}
    )
    await approve(bot, client, slack, fake_slack, asked)  # waits for the outbox to drain


async def _webhooks(db: Database) -> list[OutboxItem]:
    async with db.unit_of_work() as session:
        rows = await session.scalars(
            select(OutboxItem).where(OutboxItem.kind == Kind.WEBHOOK).order_by(OutboxItem.id)
        )
        return list(rows.all())


# ---------------------------------------------------------------- when it is set


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://127.0.0.1:6379/", "needs an https:// URL"),
        ("https://127.0.0.1:6379/", "host 127.0.0.1 is a loopback address"),
        ("https://169.254.169.254/latest/meta-data/", "is a link-local address"),
        ("https://10.0.0.5/", "is a private address"),
        ("https://[::1]:5432/", "host ::1 is a loopback address"),
        ("<https://metadata.google.internal/computeMetadata/v1/>", "resolves to a link-local"),
        ("https://2130706433/", "host 2130706433 is a loopback address"),
        ("https://0177.0.0.1/", "host 0177.0.0.1 is a loopback address"),
        ("https://0x7f.0.0.1/", "is a loopback address"),
        ("https://127.1/", "host 127.1 is a loopback address"),
        ("https://[::ffff:127.0.0.1]/", "is a loopback (IPv4-mapped) address"),
        ("https://100.64.0.1/", "is a shared (CGNAT) address"),
        ("https://0.0.0.0:8080/", "is an unspecified address"),
        ("https://[fe80::1]/", "is a link-local address"),
        ("https://224.0.0.1/", "is a multicast address"),
        ("https://198.51.100.7/", "is a documentation address"),
        ("https://internal.example.com/hook", "resolves to a private address"),
        ("https://dual.example.com/hook", "resolves to a private address"),
        ("https://v6.example.com/hook", "resolves to a private (unique local) address"),
        ("https://mapped.example.com/hook", "resolves to a loopback (IPv4-mapped) address"),
        ("https://localhost.example.com.invalid/", "does not resolve"),
        ("https://134744072/", "unusual spelling"),  # 8.8.8.8, which the client would refuse
    ],
)
async def test_a_webhook_that_is_not_a_public_https_address_is_refused(
    client, slack, db, staff, url, said
):
    text = await _set_webhook(client, slack, url)
    assert said in text, text
    assert "webhook" in text.lower()  # the answer names the setting it is about
    if "address" in said:
        assert PUBLIC_ONLY in text and "MSPBOT_WEBHOOK_ALLOW_HOSTS" in text
    assert (await msp_row(db)).webhook_url is None


async def test_a_public_name_is_looked_up_and_accepted(client, slack, db, staff, dns):
    text = await _set_webhook(client, slack, "https://psa.example.com/hooks/msp-bot")
    assert "Settings saved" in text
    assert "psa.example.com" in dns.asked
    assert (await msp_row(db)).webhook_url == "https://psa.example.com/hooks/msp-bot"


async def test_allowed_hosts_may_be_anywhere_and_use_http(client, slack, db, staff):
    for url in ("http://psa.internal:8080/hook", "https://PSA.INTERNAL./hook"):
        assert "Settings saved" in await _set_webhook(client, slack, url)
        assert (await msp_row(db)).webhook_url == url
    # The allow list names hosts: the address they stand for is not allowed by itself.
    assert "loopback" in await _set_webhook(client, slack, "https://127.0.0.1/hook")


async def test_a_lookup_that_takes_too_long_is_refused():
    async def slow(host: str) -> list[str]:
        await asyncio.sleep(5)
        return [PUBLIC_ADDRESS]

    destinations = Destinations(lookup=slow, lookup_timeout_seconds=0.01)
    with pytest.raises(InvalidInput, match="took too long"):
        await check_webhook_destination("https://slow.example.com/", destinations)


async def test_by_default_the_system_resolver_judges_the_name():
    """getaddrinfo answers for `localhost` from /etc/hosts: no DNS query leaves."""
    with pytest.raises(InvalidInput, match="`localhost` resolves to a loopback"):
        await check_webhook_destination("https://localhost:6379/", Destinations())


# ---------------------------------------------------------------- when it is sent


async def test_a_name_that_resolves_to_loopback_when_sent_gets_no_connection(
    bot, client, slack, db, staff, fake_slack, dns
):
    async with counting_listener(Answer.HTTP) as listener:
        url = f"https://rebind.example.com:{listener.port}/hook"
        assert "Settings saved" in await _set_webhook(client, slack, url)
        dns.names["rebind.example.com"] = ["127.0.0.1"]  # DNS rebinding
        looked_up = dns.asked.count("rebind.example.com")
        await _decide(bot, client, slack, fake_slack, db, "Northwind")
        assert dns.asked.count("rebind.example.com") > looked_up, "looked up again to connect"
        assert listener.connections == 0
    [item] = await _webhooks(db)
    assert (item.status, item.last_error, item.attempts) == ("failed", "address_not_allowed", 1)
    shown = await post(client, slack.slash_command("delivery", user_id=ADMIN))
    assert "address not allowed" in shown.text


@pytest.mark.parametrize(
    "template", ["http://127.0.0.1:{port}/hook", "https://[::1]:{port}/", "https://0x7f.1:{port}/"]
)
async def test_a_stored_url_at_a_loopback_address_gets_no_connection(
    bot, client, slack, db, staff, fake_slack, template
):
    """A URL saved before these checks existed is refused when sent."""
    async with counting_listener(Answer.HTTP) as listener:
        await set_msp(db, webhook_url=template.format(port=listener.port))
        await _decide(bot, client, slack, fake_slack, db, "Northwind")
        assert listener.connections == 0
    [item] = await _webhooks(db)
    assert (item.status, item.last_error) == ("failed", "address_not_allowed")


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]"])
async def test_the_connector_checks_the_address_it_connects_to(host):
    """IP literals never reach a resolver: the connector's own check refuses them,
    and lets an allowed host through (so the listener does count)."""
    async with counting_listener(Answer.HTTP) as listener:
        url = f"http://{host}:{listener.port}/"
        async with aiohttp.ClientSession(connector=guarded_connector(Destinations(), host)) as http:
            with pytest.raises(aiohttp.ClientError) as raised:
                await http.get(url)
        assert refused_by_guard(raised.value)
        assert listener.connections == 0
        allowed = Destinations(allowed_hosts=allow_list([host]))
        try:
            async with (
                aiohttp.ClientSession(connector=guarded_connector(allowed, host)) as http,
                http.get(url) as response,
            ):
                assert response.status == 200
        except aiohttp.ClientConnectorError:
            pytest.skip("no IPv6 loopback on this machine")
        assert listener.connections == 1


async def test_an_allowed_host_at_a_loopback_address_is_delivered_to(
    bot, client, slack, db, staff, fake_slack
):
    async with counting_listener(Answer.HTTP) as listener:
        url = f"http://psa.internal:{listener.port}/hook"
        assert "Settings saved" in await _set_webhook(client, slack, url)
        await _decide(bot, client, slack, fake_slack, db, "Northwind")
        assert listener.connections == 1
    [item] = await _webhooks(db)
    assert item.status == "sent"


# ---------------------------------------------------------------- what admins see


SOCKET_DETAIL = (
    "errno",
    "refused",
    "connect call failed",
    "cannot connect",
    "clientconnector",
    "serverdisconnected",
    "clientoserror",
    "clientresponseerror",
    "network:",
    "timeout",
)


async def test_delivery_status_never_tells_an_open_port_from_a_closed_one(
    bot, client, slack, db, staff, fake_slack
):
    closed = closed_port()
    await _set_webhook(client, slack, f"http://localhost:{closed}/hook")
    await _decide(bot, client, slack, fake_slack, db, "Northwind")
    async with counting_listener(Answer.REDIS) as listener:  # open, and not HTTP
        await _set_webhook(client, slack, f"http://localhost:{listener.port}/hook")
        await _decide(bot, client, slack, fake_slack, db, "Contoso")
        assert listener.connections >= 1
    to_closed, to_open = await _webhooks(db)
    assert to_closed.status == to_open.status == "failed"
    assert to_closed.last_error == to_open.last_error == "gave_up: could_not_connect"
    shown = await post(client, slack.slash_command("delivery", user_id=ADMIN))
    assert "could not connect" in shown.text
    lowered = shown.text.lower()
    assert [word for word in SOCKET_DETAIL if word in lowered] == []
    assert str(closed) not in shown.text and str(listener.port) not in shown.text
