"""Home tabs going out: the dashboard drawn for one person, and the redraw of the
tabs of everyone who looks at them after their MSP's figures changed.

Changes mark the MSP stale (`storage.repositories.msps.mark_home_stale`, called by
every audited change and by usage uploads); `refresh_stale_home_tabs` runs every
few seconds on every replica, and the conditional claim lets one of them redraw.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery import outbox
from bot.domain.roles import Role
from bot.ids import SlashCommand
from bot.results.dashboard import Dashboard
from bot.services import dashboard, home_viewers, requests, staff
from bot.services.tenancy import Requester
from bot.views.home import home_view
from storage.engine import Database

SETTLE = timedelta(seconds=2)
logger = logging.getLogger(__name__)


async def publish_home_tab(
    session: AsyncSession, *, requester: Requester, now: datetime, board: Dashboard | None = None
) -> None:
    """Queue this person's Home tab: the dashboard for staff, how to get access (and
    whom to ask) for others."""
    ask: list[str] = []
    if board is None and requester.is_staff:
        board = await dashboard.dashboard(session, requester=requester, now=now)
    elif board is None:
        ask = await staff.whom_to_ask(session, requester=requester)
    await outbox.publish_home(
        session,
        msp_id=requester.msp_id,
        user_id=requester.user_id,
        view=home_view(board=board, command=SlashCommand.MSP, ask=ask, viewer=requester.user_id),
    )


async def refresh_stale_home_tabs(
    *,
    db: Database,
    clock: Callable[[], datetime],
    wake: Callable[[], None],
    settle: timedelta = SETTLE,
) -> int:
    """Redraw the Home tabs of MSPs whose figures changed; returns how many were queued."""
    now = clock()
    async with db.unit_of_work() as session:
        stale = await home_viewers.stale_msps(session, now=now, settle=settle)
    queued = 0
    for msp_id in stale:
        async with db.unit_of_work() as session:
            viewers = await home_viewers.claim(session, msp_id=msp_id, now=now, settle=settle)
            for requester, board in await _boards(session, viewers or [], now):
                await publish_home_tab(session, requester=requester, now=now, board=board)
                queued += 1
    if queued:
        logger.info("redrawing %d Home tabs", queued)
        wake()
    return queued


async def _boards(
    session: AsyncSession, viewers: list[Requester], now: datetime
) -> list[tuple[Requester, Dashboard]]:
    """Each viewer's dashboard, computed once per role for those who see the whole
    MSP and decide requests; the others each get their own, as members see their own
    customers and whoever does not decide sees their own requests waiting."""
    by_role: dict[Role, Dashboard] = {}
    result = []
    for requester in viewers:
        assert requester.role is not None, "viewers are staff"
        if requester.role is Role.MEMBER or not requests.DECIDE.allows(requester):
            board = await dashboard.dashboard(session, requester=requester, now=now)
        else:
            if requester.role not in by_role:
                by_role[requester.role] = await dashboard.dashboard(
                    session, requester=requester, now=now
                )
            board = by_role[requester.role]
        result.append((requester, board))
    return result
