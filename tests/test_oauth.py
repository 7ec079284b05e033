"""Distribution mode: workspaces install the app through OAuth, each one's
bot token is kept in the database and used for everything sent to that workspace
(replies and the delivery worker), tokens are rotated before they expire, the
authorization is cached, and uninstalling disables the MSP without deleting it.

End to end against the fake Slack: GET /slack/install, the person approving on
Slack's page (`fake_slack.grant_install`), GET /slack/oauth_redirect, which makes
the bot call `oauth.v2.access`, then signed requests from the new workspace."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import func, select, update

from bot.config import BOT_SCOPES, Settings
from bot.delivery import outbox
from bot.domain.roles import Role
from bot.notify.notifiers import outbox_notifiers
from bot.services import installs
from bot.services.notices import SWEEPS
from scheduler.jobs import notices as notice_jobs
from storage.encryption import TokenCipher
from storage.models import SLACK_BOTS, AuditEvent, Customer, Msp, OutboxItem, StaffMember
from tests.drive import post, share_dashboard
from tests.seed import seed_customer
from tests.support import ENCRYPTION_KEY, FAST_DELIVERY, SIGNING_SECRET, distribution_settings
from tests.test_notices import subscribe
from tests.wait import settle, settle_bot

ACME, GLOBEX = "T0ACME", "T0GLOBEX"
INSTALLER = "U0INSTALL"
STATE_COOKIE = "slack-app-oauth-state"


@pytest.fixture
def settings(fake_slack, database_url) -> Settings:
    return distribution_settings(fake_slack, database_url)


@pytest.fixture
async def bot(settings, db, clock):
    from bot.app import build_app

    return build_app(settings, clock=clock, db=db, delivery_limits=FAST_DELIVERY)


async def start_install(client) -> tuple[str, str]:
    """GET /slack/install: the state in Slack's authorize link, and its cookie."""
    page = await client.get("/slack/install", allow_redirects=False)
    assert page.status == 200
    html = await page.text()
    link = re.search(r'href="(https://slack\.com/oauth/v2/authorize\?[^"]+)"', html)
    assert link is not None, html
    query = parse_qs(urlparse(link.group(1).replace("&amp;", "&")).query)
    cookie = page.cookies[STATE_COOKIE].value
    return query["state"][0], cookie


async def install(client, fake_slack, *, team_id: str, user_id: str = INSTALLER):
    state, cookie = await start_install(client)
    code = fake_slack.grant_install(team_id=team_id, user_id=user_id, team_name=f"{team_id} Ltd")
    return await client.get(
        f"/slack/oauth_redirect?code={code}&state={state}",
        headers={"Cookie": f"{STATE_COOKIE}={cookie}"},
    )


async def msp_of(db, team_id: str) -> Msp | None:
    async with db.unit_of_work() as session:
        return await session.scalar(select(Msp).where(Msp.team_id == team_id))


async def role_of(db, team_id: str, user_id: str) -> str | None:
    async with db.unit_of_work() as session:
        return await session.scalar(
            select(StaffMember.role)
            .join(Msp, Msp.id == StaffMember.msp_id)
            .where(Msp.team_id == team_id, StaffMember.slack_user_id == user_id)
        )


async def stored_bot_tokens(db, team_id: str) -> list[str]:
    """The workspace's stored bot tokens, decrypted (they are stored encrypted)."""
    cipher = TokenCipher.from_setting(ENCRYPTION_KEY)
    async with db.unit_of_work() as session:
        rows = await session.execute(
            select(SLACK_BOTS.c.bot_token).where(SLACK_BOTS.c.team_id == team_id)
        )
        return [cipher.decrypt(row[0]) for row in rows]


async def queue_post(db, team_id: str, key: str, channel: str = "C0OPS") -> None:
    msp = await msp_of(db, team_id)
    assert msp is not None
    async with db.unit_of_work() as session:
        await outbox.post_message(session, msp_id=msp.id, key=key, channel=channel, text=key)


def tokens_used(fake_slack, method: str) -> list[str | None]:
    return [call.token for call in fake_slack.calls_to(method)]


# ---------------------------------------------------------------- installing


async def test_the_install_page_links_to_slack_with_a_state_and_the_manifest_scopes(
    client, fake_slack
):
    page = await client.get("/slack/install")
    html = await page.text()
    link = re.search(r'href="(https://slack\.com/oauth/v2/authorize[^"]+)"', html)
    assert link is not None
    query = parse_qs(urlparse(link.group(1).replace("&amp;", "&")).query)
    assert query["client_id"] == [fake_slack.client_id]
    assert query["scope"] == [",".join(BOT_SCOPES)]
    assert query["state"][0]
    assert page.cookies[STATE_COOKIE].value  # the state is also bound to the browser


async def test_an_install_end_to_end_makes_the_msp_and_its_owner(
    client, db, fake_slack, slack, backend
):
    page = await install(client, fake_slack, team_id=ACME)
    assert page.status == 200
    assert "slack://app?team=T0ACME" in await page.text()  # Slack's "open Slack" page

    exchange = fake_slack.calls_to("oauth.v2.access")
    assert len(exchange) == 1 and exchange[0].headers["Authorization"].startswith("Basic ")
    assert await stored_bot_tokens(db, ACME) == fake_slack.tokens_of(ACME)
    msp = await msp_of(db, ACME)
    assert msp is not None and msp.name == "T0ACME Ltd" and msp.disabled_at is None
    assert await role_of(db, ACME, INSTALLER) == Role.OWNER.value
    async with db.unit_of_work() as session:
        actions = set(
            await session.scalars(select(AuditEvent.action).where(AuditEvent.msp_id == msp.id))
        )
    assert {"msp.created", "app.installed", "role.granted"} <= actions

    # The installer can use the bot at once, and what the bot sends goes with the
    # workspace's own token.
    reply = await post(
        client, slack.global_shortcut(callback_id="add_customer", user_id=INSTALLER, team_id=ACME)
    )
    assert reply.status == 200
    await settle_bot(client)
    assert tokens_used(fake_slack, "views.open") == fake_slack.tokens_of(ACME)


async def test_two_workspaces_each_get_their_own_token_and_tenant(client, db, fake_slack, slack):
    await install(client, fake_slack, team_id=ACME, user_id="U0ACME")
    await install(client, fake_slack, team_id=GLOBEX, user_id="U0GLOBEX")
    acme_token, globex_token = fake_slack.tokens_of(ACME)[0], fake_slack.tokens_of(GLOBEX)[0]

    await share_dashboard(client, slack, user_id="U0GLOBEX", team_id=GLOBEX)
    await queue_post(db, ACME, "acme-notice")
    await queue_post(db, GLOBEX, "globex-notice")
    await settle_bot(client)

    by_text = {call.args["text"]: call.token for call in fake_slack.calls_to("chat.postMessage")}
    assert by_text["acme-notice"] == acme_token
    assert by_text["globex-notice"] == globex_token
    assert set(by_text.values()) == {acme_token, globex_token}  # the dashboard too
    # The installer of one workspace is nobody in the other.
    assert await role_of(db, GLOBEX, "U0ACME") is None


async def test_authorization_is_cached_no_auth_test_per_request(client, fake_slack, slack):
    await install(client, fake_slack, team_id=ACME)
    before = len(fake_slack.calls_to("auth.test"))  # the install's own
    for _ in range(5):
        reply = await post(client, slack.slash_command("help", user_id=INSTALLER, team_id=ACME))
        assert reply.status == 200
    await settle_bot(client)
    assert len(fake_slack.calls_to("auth.test")) - before == 1


async def test_a_workspace_that_never_installed_is_refused_and_nothing_is_written(
    client, db, slack, fake_slack
):
    reply = await post(client, slack.slash_command("help", user_id="U0STRANGER", team_id="T0NEW"))
    assert reply.status == 200
    [answer] = fake_slack.calls_to("response_url")  # Bolt: please reinstall the app
    assert "reinstall" in answer.args["text"]
    assert await msp_of(db, "T0NEW") is None


async def test_installing_again_keeps_staff_and_promotes_the_new_installer(client, db, fake_slack):
    await install(client, fake_slack, team_id=ACME, user_id="U0FIRST")
    msp = await msp_of(db, ACME)
    assert msp is not None
    from tests.seed import grant

    await grant(db, "U0SECOND", Role.MEMBER, team_id=ACME)
    await grant(db, "U0OTHER", Role.ADMIN, team_id=ACME)
    await install(client, fake_slack, team_id=ACME, user_id="U0SECOND")
    assert await role_of(db, ACME, "U0FIRST") == Role.OWNER.value
    assert await role_of(db, ACME, "U0SECOND") == Role.OWNER.value
    assert await role_of(db, ACME, "U0OTHER") == Role.ADMIN.value
    again = await msp_of(db, ACME)
    assert again is not None and again.id == msp.id


@pytest.mark.parametrize(
    "query, status, why",
    [
        ("code=CODE&state=forged", 400, "a state the bot never issued"),
        # Slack's page, not an error of the request: Bolt answers it with 200.
        ("error=access_denied&state=STATE", 200, "the person clicked Cancel on Slack's page"),
        ("code=not-a-code&state=STATE", 401, "a code Slack did not issue"),
    ],
)
async def test_a_failed_install_shows_slacks_failure_page_and_stores_nothing(
    client, db, fake_slack, query, status, why
):
    state, cookie = await start_install(client)
    code = fake_slack.grant_install(team_id=ACME, user_id=INSTALLER)
    page = await client.get(
        "/slack/oauth_redirect?" + query.replace("CODE", code).replace("STATE", state),
        headers={"Cookie": f"{STATE_COOKIE}={cookie}"},
    )
    assert page.status == status, why
    text = await page.text()
    assert "Traceback" not in text and "/slack/install" in text  # "try again"
    assert await stored_bot_tokens(db, ACME) == []
    assert await msp_of(db, ACME) is None


async def test_a_state_is_good_for_one_install_only(client, db, fake_slack):
    state, cookie = await start_install(client)
    for attempt in range(2):
        code = fake_slack.grant_install(team_id=ACME, user_id=INSTALLER)
        page = await client.get(
            f"/slack/oauth_redirect?code={code}&state={state}",
            headers={"Cookie": f"{STATE_COOKIE}={cookie}"},
        )
        assert page.status == (200 if attempt == 0 else 401)
    assert len(await stored_bot_tokens(db, ACME)) == 1


# ---------------------------------------------------------------- token rotation


def add_customer_shortcut(slack):
    return slack.global_shortcut(callback_id="add_customer", user_id=INSTALLER, team_id=ACME)


async def expire_soon(db, team_id: str, minutes: int = 30) -> None:
    """The stored token is now 30 minutes from expiring (within the two hours)."""
    soon = datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=minutes)
    async with db.unit_of_work() as session:
        await session.execute(
            update(SLACK_BOTS)
            .where(SLACK_BOTS.c.team_id == team_id)
            .values(bot_token_expires_at=soon)
        )


def refreshes(fake_slack) -> int:
    return sum(
        1
        for call in fake_slack.calls_to("oauth.v2.access")
        if call.args.get("grant_type") == "refresh_token"
    )


async def test_requests_rotate_a_token_that_is_about_to_expire(client, db, fake_slack, slack):
    fake_slack.token_rotation = True
    await install(client, fake_slack, team_id=ACME)
    first = fake_slack.tokens_of(ACME)[0]
    assert first.startswith("xoxe.xoxb-")
    await post(
        client, slack.global_shortcut(callback_id="add_customer", user_id=INSTALLER, team_id=ACME)
    )
    await settle_bot(client)
    assert refreshes(fake_slack) == 0  # 12 hours left: nothing to do

    await expire_soon(db, ACME)
    await post(
        client, slack.global_shortcut(callback_id="add_customer", user_id=INSTALLER, team_id=ACME)
    )
    await settle_bot(client)
    assert refreshes(fake_slack) == 1
    second = fake_slack.tokens_of(ACME)[-1]
    assert second != first
    assert tokens_used(fake_slack, "views.open") == [first, second]
    assert await stored_bot_tokens(db, ACME) == [second]


async def test_the_delivery_worker_rotates_too(client, db, fake_slack):
    fake_slack.token_rotation = True
    await install(client, fake_slack, team_id=ACME)
    await expire_soon(db, ACME)
    fake_slack.expire_tokens(ACME)  # the old one no longer works at all
    await queue_post(db, ACME, "after-rotation")
    await settle_bot(client)
    assert refreshes(fake_slack) == 1
    [sent] = fake_slack.calls_to("chat.postMessage")
    assert sent.token == fake_slack.tokens_of(ACME)[-1]
    async with db.unit_of_work() as session:
        statuses = set(await session.scalars(select(OutboxItem.status)))
    assert statuses == {"sent"}


async def test_two_replicas_rotating_at_once_end_with_one_new_token(
    client, db, fake_slack, settings, backend
):
    """Slack revokes a refresh token when it is used: of two replicas refreshing the
    same token at once, one is refused and must take the other's new token."""
    import asyncio

    from slack_sdk.web.async_client import AsyncWebClient

    from bot.oauth import build_installs

    fake_slack.token_rotation = True
    await install(client, fake_slack, team_id=ACME)
    await expire_soon(db, ACME)
    replicas = [
        build_installs(settings, db, AsyncWebClient(base_url=fake_slack.base_url)) for _ in range(2)
    ]
    fake_slack.fail("oauth.v2.access", delay=0.2)  # both are mid-refresh together
    tokens = await asyncio.gather(*(replica.tokens.token_for(ACME) for replica in replicas))
    issued = fake_slack.tokens_of(ACME)
    assert refreshes(fake_slack) == 2  # both tried; Slack refused the second
    assert len(issued) == 2  # the install's and exactly one rotation's
    assert tokens == [issued[-1], issued[-1]]
    assert await stored_bot_tokens(db, ACME) == [issued[-1]]


# ---------------------------------------------------------------- uninstalling


async def test_uninstalling_disables_the_msp_keeps_its_data_and_stops_delivery(
    client, db, fake_slack, slack, clock, backend
):
    await install(client, fake_slack, team_id=ACME)
    msp = await msp_of(db, ACME)
    assert msp is not None
    await seed_customer(
        db, name="Northwind", team_id=ACME, status="active_trial", trial_end=date(2026, 11, 26)
    )
    await subscribe(db, msp.id, "C0TRIALS", "trials")
    await queue_post(db, ACME, "waiting")  # in the outbox when the uninstall comes

    fake_slack.uninstall(ACME)
    reply = await post(client, slack.event({"type": "app_uninstalled"}, team_id=ACME))
    assert reply.status == 200
    await post(
        client,
        slack.event(
            {"type": "tokens_revoked", "tokens": {"bot": [fake_slack.workspace_bot_user(ACME)]}},
            team_id=ACME,
        ),
    )
    await settle_bot(client)

    disabled = await msp_of(db, ACME)
    assert disabled is not None and disabled.disabled_at is not None
    # Whichever of the two events was handled first (Slack sends both, in no set order).
    assert disabled.disabled_reason in (installs.APP_UNINSTALLED, installs.TOKENS_REVOKED)
    assert await stored_bot_tokens(db, ACME) == []
    async with db.unit_of_work() as session:
        customers = await session.scalar(
            select(func.count()).select_from(Customer).where(Customer.msp_id == msp.id)
        )
        waiting = await session.scalar(select(OutboxItem).where(OutboxItem.key == "waiting"))
        uninstalls = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "app.uninstalled")
        )
    assert customers == 1  # nothing deleted
    assert waiting is not None and (waiting.status, waiting.last_error) == (
        "failed",
        "not_installed",
    )
    assert uninstalls == 1  # app_uninstalled and tokens_revoked: one disabling
    assert fake_slack.calls_to("chat.postMessage") == []

    # No sweep works for it while it is uninstalled.
    clock.advance(days=1)
    notifiers = outbox_notifiers()
    async with db.unit_of_work() as session:
        enqueued_before = await session.scalar(select(func.count()).select_from(OutboxItem))
    for sweep in SWEEPS:
        await notice_jobs.run_sweep(
            sweep, db=db, clock=clock, wake=lambda: None, notifiers=notifiers
        )
    async with db.unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxItem)) == (
            enqueued_before
        )

    # Installing again brings it back as it was.
    page = await install(client, fake_slack, team_id=ACME)
    assert page.status == 200
    again = await msp_of(db, ACME)
    assert again is not None and again.id == msp.id and again.disabled_at is None
    for sweep in SWEEPS:  # and the sweeps see it again: the trial's notice is due
        await notice_jobs.run_sweep(
            sweep, db=db, clock=clock, wake=lambda: None, notifiers=notifiers
        )
    async with db.unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxItem)) > (
            enqueued_before
        )
    await settle_bot(client)
    fake_slack.reset()
    await queue_post(db, ACME, "welcome-back")
    await settle_bot(client)
    [sent] = fake_slack.calls_to("chat.postMessage")
    assert sent.args["text"] == "welcome-back" and sent.token == fake_slack.tokens_of(ACME)[-1]


async def test_a_revoked_user_token_alone_changes_nothing(client, db, fake_slack, slack):
    await install(client, fake_slack, team_id=ACME)
    await post(
        client,
        slack.event({"type": "tokens_revoked", "tokens": {"oauth": ["U0SOMEONE"]}}, team_id=ACME),
    )
    await settle_bot(client)
    msp = await msp_of(db, ACME)
    assert msp is not None and msp.disabled_at is None
    assert len(await stored_bot_tokens(db, ACME)) == 1


async def test_one_workspace_mode_disables_on_uninstall_and_wakes_on_the_next_request(
    tmp_path, fake_slack, database_url, db, clock, slack
):
    """With SLACK_BOT_TOKEN there is no install callback: the first request of a
    person after a reinstall (Slack sends none to an uninstalled app) enables it."""
    from aiohttp.test_utils import TestClient, TestServer

    from bot.app import build_app
    from tests.seed import grant

    one = Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_bot_token="xoxb-test",
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake_slack.base_url,
        database_url=database_url,
    )
    bot = build_app(one, clock=clock, db=db, delivery_limits=FAST_DELIVERY)
    await grant(db, "U0001", Role.OWNER)
    async with TestClient(TestServer(bot.web)) as client:
        await post(client, slack.event({"type": "app_uninstalled"}))
        await settle(bot)
        msp = await msp_of(db, "T0001")
        assert msp is not None and msp.disabled_at is not None
        await queue_post(db, "T0001", "not-sent")
        await settle(bot)
        assert fake_slack.calls_to("chat.postMessage") == []

        # The same running bot, no restart; someone not yet looked up asks.
        reply = await post(client, slack.slash_command("help", user_id="U0002"))
        assert reply.status == 200
        msp = await msp_of(db, "T0001")
        assert msp is not None and msp.disabled_at is None
