"""`GET /metrics`: Slack requests and their latency by listener, HTTP requests by
route, the outbox's depth and oldest age, deliveries by outcome, job runs and
durations, alerts ingested; and the optional bearer token."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from bot.app import build_app
from bot.domain.roles import Role
from tests.drive import post, post_json, share_dashboard
from tests.seed import grant, make_tenant
from tests.support import fast_bot
from tests.wait import settle


@pytest.fixture
async def bot(settings, db, clock):
    return fast_bot(settings, db, clock)


def value(text: str, name: str, **labels: str) -> float:
    """The sample `name{labels}` in Prometheus' text format (0 when absent)."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        match = re.match(r"^([a-z_]+)(\{(.*)\})? (\S+)$", line)
        if match is None or match[1] != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match[3] or ""))
        if all(found.get(key) == wanted for key, wanted in labels.items()):
            return float(match[4])
    return 0.0


async def scrape(client, headers=None) -> str:
    reply = await client.get("/metrics", headers=headers or {})
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/plain")
    return await reply.text()


async def test_metrics_count_listeners_requests_alerts_deliveries_and_jobs(
    client, slack, bot, db, clock, fake_slack
):
    await grant(db, "U0001", Role.OWNER)
    await post(client, slack.slash_command("help"))
    tenant = await make_tenant(db, clock)
    alert = {
        "customer": tenant.accounts["Acme Dental"],
        "kind": "k",
        "severity": "low",
        "title": "t",
    }
    answer = await post_json(client, "/api/v1/alerts", tenant.token, {"alerts": [alert, alert]})
    assert answer.status == 200
    await bot.scheduler.get_job("digests").func(
        *bot.scheduler.get_job("digests").args, **bot.scheduler.get_job("digests").kwargs
    )
    await share_dashboard(client, slack)
    await settle(bot)

    text = await scrape(client)
    assert (
        value(text, "mspbot_listener_calls_total", kind="command", listener="/msp", outcome="ok")
        == 2
    )
    assert value(text, "mspbot_listener_seconds_count", kind="command", listener="/msp") == 2
    assert value(text, "mspbot_http_requests_total", route="/slack/events", status="2xx") == 3
    assert value(text, "mspbot_http_request_seconds_count", route="/api/v1/alerts") == 1
    assert value(text, "mspbot_alerts_ingested_total", source="api") == 2
    assert value(text, "mspbot_job_runs_total", job="digests", outcome="ok") == 1
    assert value(text, "mspbot_job_seconds_count", job="digests") == 1
    assert value(text, "mspbot_deliveries_total", outcome="sent", detail="post") >= 1
    assert value(text, "mspbot_outbox_depth") == 0
    assert value(text, "mspbot_outbox_oldest_age_seconds") == 0
    # The raw path never becomes a label: unknown paths are one series.
    await client.get("/nope/123")
    await client.get("/nope/456")
    text = await scrape(client)
    assert value(text, "mspbot_http_requests_total", route="unmatched", status="4xx") == 2


async def test_the_outbox_depth_and_age_come_from_the_database(client, bot, db, clock):
    from bot.delivery import outbox
    from bot.services.tenancy import ensure_msp

    await bot.delivery.stop()  # nothing leaves, so the queue stays as written
    async with db.unit_of_work() as session:
        msp_id = await ensure_msp(session, team_id="T0Q", timezone="UTC", now=clock())
        for n in range(3):
            await outbox.post_message(session, msp_id=msp_id, key=f"k{n}", channel="C1", text="x")
    text = await scrape(client)
    assert value(text, "mspbot_outbox_depth") == 3
    assert 0 <= value(text, "mspbot_outbox_oldest_age_seconds") < 60


async def test_a_metrics_token_is_required_when_set(settings, db, clock):
    guarded = build_app(
        settings.model_copy(update={"mspbot_metrics_token": SecretStr("s3cret")}),
        db=db,
        clock=clock,
    )
    async with TestClient(TestServer(guarded.web)) as client:
        assert (await client.get("/metrics")).status == 401
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status == 401
        text = await scrape(client, {"Authorization": "Bearer s3cret"})
        assert "mspbot_outbox_depth" in text and "s3cret" not in text
