"""The composition root: builds the Bolt app, the aiohttp application around it,
the database and the scheduler, and wires their start and stop."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import oauth
from bot.api.accounts import accounts_routes
from bot.api.alerts import alerts_routes
from bot.api.health import health_routes
from bot.api.metrics import metrics_routes, timing_middleware
from bot.api.usage import usage_routes
from bot.clock import Clock, system_clock
from bot.config import Settings
from bot.delivery.limits import DeliveryLimits
from bot.delivery.tokens import OneWorkspaceToken
from bot.delivery.worker import DeliveryWorker
from bot.home_workspace import HomeWorkspace, identity_from_auth_test
from bot.inflight import InFlight
from bot.metrics import Metrics
from bot.net_guard import Destinations, HostLookup, system_lookup
from bot.notify.digest import digest_payload
from bot.notify.notifiers import Notifiers, outbox_notifiers
from bot.oauth import Installs
from bot.response_urls import ResponseUrlPolicy, guard_context, response_url_guard
from bot.services.tenancy import RequesterCache
from bot.slack_signature import (
    REFUSED_BODY,
    SignatureCheck,
    log_refusal,
    withhold_bodies_from_bolt_logs,
)
from handlers import register_all
from handlers.deps import Deps
from handlers.installs import install_callbacks
from handlers.registry import Listeners
from scheduler.factory import build_scheduler
from scheduler.jobs import JobSettings
from storage.engine import Database

SLACK_EVENTS_PATH = "/slack/events"
SHUTDOWN_GRACE_S = 10.0
BOT_KEY: web.AppKey[Bot] = web.AppKey("bot")

logger = logging.getLogger(__name__)


@dataclass
class Bot:
    """Everything one running instance holds; `web` is what gets served."""

    settings: Settings
    db: Database
    bolt: AsyncApp
    listeners: Listeners
    scheduler: AsyncIOScheduler
    in_flight: InFlight
    delivery: DeliveryWorker
    web: web.Application
    metrics: Metrics
    notifiers: Notifiers
    home_workspace: HomeWorkspace | None = None  # one-workspace mode: the one served


def build_bolt_app(
    settings: Settings, deps: Deps, installs: Installs | None = None
) -> tuple[AsyncApp, Listeners]:
    """The Bolt app, configured only from `settings` (it never reads the environment).
    With `installs` (distribution mode), each request gets its workspace's token.
    Bolt's first step after its signature check (and the first in Socket Mode, which
    has none) fences in the request's response_url."""
    client = _slack_client(settings)
    withhold_bodies_from_bolt_logs()
    guard = response_url_guard(ResponseUrlPolicy.for_api_url(settings.slack_api_url))
    if installs is None:
        app = AsyncApp(
            client=client,
            signing_secret=settings.signing_secret,
            logger=logging.getLogger("slack_bolt"),
            process_before_response=False,
            before_authorize=guard,
        )
    else:
        app = AsyncApp(
            client=client,
            signing_secret=settings.signing_secret,
            logger=logging.getLogger("slack_bolt"),
            process_before_response=False,
            before_authorize=guard,
            oauth_settings=oauth.oauth_settings(settings, installs, install_callbacks(deps)),
            authorize=oauth.cached_authorize(installs, client),
            installation_store=installs.store,
            installation_store_bot_only=True,
        )
    return app, register_all(app, deps)


def _slack_client(settings: Settings, *, timeout: int = 30) -> AsyncWebClient:
    """A Web API client: with the one workspace's token, or none in distribution
    mode, where every call says whose token it uses."""
    return AsyncWebClient(
        token=None if settings.oauth_install else settings.bot_token,
        base_url=settings.slack_api_url,
        timeout=timeout,
        logger=logging.getLogger("slack_sdk.web"),
    )


def build_app(
    settings: Settings,
    *,
    clock: Clock = system_clock,
    db: Database | None = None,
    delivery_limits: DeliveryLimits | None = None,
    host_lookup: HostLookup | None = None,
) -> Bot:
    """Build the whole bot. Nothing runs until the aiohttp application starts.
    `host_lookup` resolves webhook hosts (tests: a table, so no DNS is needed)."""
    database = db or Database(settings.database_url)
    in_flight = InFlight()
    metrics = Metrics()
    limits = delivery_limits or DeliveryLimits()
    notifiers = outbox_notifiers()
    webhook_destinations = Destinations(
        allowed_hosts=settings.mspbot_webhook_allow_hosts,
        lookup=host_lookup or system_lookup,
    )
    delivery_client = _slack_client(settings, timeout=int(max(1, limits.request_timeout_seconds)))
    installs = (
        oauth.build_installs(settings, database, _slack_client(settings))
        if settings.oauth_install
        else None
    )
    delivery = DeliveryWorker.build(
        db=database,
        client=delivery_client,
        limits=limits,
        digest=digest_payload,
        tokens=installs.tokens if installs else OneWorkspaceToken(settings.bot_token),
        webhook_secret=settings.webhook_secret,
        webhook_destinations=webhook_destinations,
    )
    home_workspace = None if installs is not None else _home_workspace(settings)
    deps = Deps(
        db=database,
        clock=clock,
        in_flight=in_flight,
        bootstrap_owners=settings.mspbot_owners,
        default_timezone=settings.mspbot_timezone,
        requesters=RequesterCache(ttl_seconds=settings.mspbot_role_cache_seconds),
        delivery=delivery,
        notifiers=notifiers,
        webhooks_enabled=settings.webhook_secret is not None,
        webhook_destinations=webhook_destinations,
        metrics=metrics,
        home_workspace=home_workspace,
    )
    metrics.watch_delivery(delivery.stats)
    bolt, listeners = build_bolt_app(settings, deps, installs)
    scheduler = build_scheduler(
        timezone=settings.mspbot_timezone,
        db=database,
        clock=clock,
        wake_delivery=delivery.wake,
        notifiers=notifiers,
        settings=JobSettings(
            home_refresh_seconds=settings.mspbot_home_refresh_seconds,
            request_sweep_seconds=settings.mspbot_request_sweep_seconds,
            notice_sweep_seconds=settings.mspbot_notice_sweep_seconds,
        ),
        metrics=metrics,
    )
    web_app = web.Application(middlewares=[timing_middleware(metrics)])
    bot = Bot(
        settings,
        database,
        bolt,
        listeners,
        scheduler,
        in_flight,
        delivery,
        web_app,
        metrics,
        notifiers,
        home_workspace,
    )
    web_app[BOT_KEY] = bot
    web_app.add_routes(health_routes(database))
    # served in Socket Mode too
    web_app.add_routes(usage_routes(database, clock, notifier=notifiers.alerts))
    web_app.add_routes(accounts_routes(database, clock))
    web_app.add_routes(alerts_routes(database, clock, metrics, notifier=notifiers.alerts))
    web_app.add_routes(metrics_routes(database, metrics, token=settings.metrics_token))
    if not settings.socket_mode:
        events = _slack_events(
            bolt,
            SignatureCheck(settings.signing_secret),
            ResponseUrlPolicy.for_api_url(settings.slack_api_url),
        )
        web_app.add_routes([web.post(SLACK_EVENTS_PATH, events)])
    if installs is not None:  # served in Socket Mode too: installing is a web page
        web_app.add_routes(_install_routes(bolt))
    web_app.on_startup.append(_start_scheduler)
    web_app.on_startup.append(_learn_home_workspace)
    web_app.on_cleanup.append(_stop_everything)
    return bot


def _home_workspace(settings: Settings) -> HomeWorkspace:
    """The workspace SLACK_BOT_TOKEN belongs to, asked of Slack (`auth.test`) at start-up."""
    client = _slack_client(settings, timeout=10)
    return HomeWorkspace(lambda: identity_from_auth_test(client))


def _slack_events(  # type: ignore[no-untyped-def]
    bolt: AsyncApp, signature: SignatureCheck, response_urls: ResponseUrlPolicy
):
    async def handle(request: web.Request) -> web.Response:
        # Checked on the raw bytes before Bolt builds anything from them: what
        # Slack did not sign runs no middleware, listener or error handler.
        body = await request.read()
        refusal = signature.refusal(request.headers, body)
        if refusal is not None:
            log_refusal(refusal, body)
            return web.Response(status=401, body=REFUSED_BODY, content_type="application/json")
        # Bolt parses the body (to_bolt_request) and reads fields of it before any
        # listener runs; a body Slack never sends (malformed JSON, a view without a
        # type, an unknown charset) raises there, outside the listeners' error
        # handler. That is the sender's mistake: a 400, not a 500 (tests/resilience).
        try:
            bolt_request = await to_bolt_request(request)
            guard_context(bolt_request.context, response_urls)
            bolt_response = await bolt.async_dispatch(bolt_request)
        except (ValueError, KeyError, TypeError, AttributeError, LookupError) as error:
            logger.warning("malformed Slack request refused: %s", type(error).__name__)
            return web.json_response({"error": "malformed request"}, status=400)
        return await to_aiohttp_response(bolt_response)

    return handle


def _install_routes(bolt: AsyncApp) -> list[web.RouteDef]:
    flow = bolt.oauth_flow
    assert flow is not None, "distribution mode builds the OAuth flow"

    async def install(request: web.Request) -> web.Response:
        return await to_aiohttp_response(
            await flow.handle_installation(await to_bolt_request(request))
        )

    async def redirect(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await flow.handle_callback(await to_bolt_request(request)))

    return [web.get(oauth.INSTALL_PATH, install), web.get(oauth.REDIRECT_PATH, redirect)]


async def _start_scheduler(web_app: web.Application) -> None:
    # AsyncIOScheduler and the delivery worker bind to the loop running when they start.
    web_app[BOT_KEY].scheduler.start()
    web_app[BOT_KEY].delivery.start()


async def _learn_home_workspace(web_app: web.Application) -> None:
    """One-workspace mode: which workspace the token belongs to, before serving (the
    HTTP server and Socket Mode both start after this)."""
    home = web_app[BOT_KEY].home_workspace
    if home is not None:
        await home.start()


async def _stop_everything(web_app: web.Application) -> None:
    """Runs after aiohttp stopped accepting and finished in-flight HTTP requests."""
    bot = web_app[BOT_KEY]
    await bot.in_flight.drain(SHUTDOWN_GRACE_S)
    if bot.home_workspace is not None:
        await bot.home_workspace.stop()
    await bot.delivery.stop(SHUTDOWN_GRACE_S)  # what is still queued stays for next time
    if bot.scheduler.running:
        bot.scheduler.shutdown(wait=False)
    await bot.db.dispose()
    logger.info("stopped cleanly")
