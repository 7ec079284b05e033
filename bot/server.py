"""Serving: HTTP mode (Slack posts to /slack/events) or Socket Mode (we dial out
to Slack); both serve the health routes. SIGTERM/SIGINT stop it gracefully."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from bot.app import SHUTDOWN_GRACE_S, Bot

logger = logging.getLogger(__name__)


async def serve(bot: Bot, *, stop: asyncio.Event | None = None) -> None:
    """Serve until SIGTERM/SIGINT, or until `stop` is set when one is given (tests)."""
    if stop is None:
        stop = asyncio.Event()
        _stop_on_signals(stop)
    runner = web.AppRunner(bot.web, shutdown_timeout=SHUTDOWN_GRACE_S, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, bot.settings.host, bot.settings.port)
    socket_mode: AsyncSocketModeHandler | None = None
    try:
        await site.start()
        logger.info(
            "serving on http://%s:%d (%s)",
            bot.settings.host,
            bot.settings.port,
            "Socket Mode" if bot.settings.socket_mode else "POST /slack/events",
        )
        if bot.settings.slack_app_token is not None:
            socket_mode = AsyncSocketModeHandler(
                bot.bolt, bot.settings.slack_app_token.get_secret_value()
            )
            await socket_mode.connect_async()
        await stop.wait()
        logger.info("stopping: no new requests, finishing the ones in flight")
    finally:
        if socket_mode is not None:
            await socket_mode.close_async()
        await runner.cleanup()


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread, or Windows
            logger.debug("cannot install a handler for %s", sig.name)
