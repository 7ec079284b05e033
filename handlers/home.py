"""The App Home tab: the Command Center dashboard, drawn when someone opens it or
clicks Refresh, and redrawn by `bot/notify/home_tabs.py` after changes."""

from __future__ import annotations

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext

from bot.ids import ActionId, EventType
from bot.notify.home_tabs import publish_home_tab
from bot.services import home_viewers
from bot.services.tenancy import Requester
from handlers.deps import Deps
from handlers.middleware import requester_of
from handlers.payload_types import HomeOpenedEvent
from handlers.registry import Route


async def on_home_opened(event: HomeOpenedEvent, context: AsyncBoltContext, *, deps: Deps) -> None:
    if event.get("tab") == "home":
        await _draw(deps, requester_of(context))


async def on_refresh(ack: AsyncAck, context: AsyncBoltContext, *, deps: Deps) -> None:
    await ack()
    await _draw(deps, requester_of(context))


async def _draw(deps: Deps, requester: Requester) -> None:
    now = deps.clock()
    async with deps.db.unit_of_work() as session:
        await home_viewers.opened(session, requester=requester, now=now)
        await publish_home_tab(session, requester=requester, now=now)
    deps.delivery.wake()


# ---------------------------------------------------------------- routes


ROUTES: tuple[Route, ...] = (
    Route("event", EventType.APP_HOME_OPENED, on_home_opened),
    Route("action", ActionId.HOME_REFRESH, on_refresh),
)
