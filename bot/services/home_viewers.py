"""Who looks at the Home tab: their tabs are redrawn after changes, others' are not
(a tab nobody opened for a month is drawn again when it is next opened)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.roles import Role
from bot.services.tenancy import Requester
from storage.repositories import msps as msp_repo
from storage.repositories import staff as staff_repo

VIEWER_WINDOW = timedelta(days=30)
_NOTED_EVERY = timedelta(hours=1)


async def opened(session: AsyncSession, *, requester: Requester, now: datetime) -> None:
    if requester.is_staff:
        await staff_repo.note_home_opened(
            session,
            msp_id=requester.msp_id,
            slack_user_id=requester.user_id,
            now=now,
            unless_since=now - _NOTED_EVERY,
        )


async def stale_msps(session: AsyncSession, *, now: datetime, settle: timedelta) -> list[int]:
    """MSPs with changes older than `settle`: waiting lets a burst of changes (an
    import, a usage upload) end in one redraw instead of one per change."""
    return await msp_repo.stale_home_msps(session, before=now - settle, limit=100)


async def claim(
    session: AsyncSession, *, msp_id: int, now: datetime, settle: timedelta
) -> list[Requester] | None:
    """Take the redraw of one MSP's Home tabs (None: another replica took it) and
    return the staff whose tabs to redraw."""
    if not await msp_repo.claim_home_refresh(session, msp_id=msp_id, before=now - settle):
        return None
    team_id = await msp_repo.team_of(session, msp_id=msp_id)
    viewers = await staff_repo.home_viewers(session, msp_id=msp_id, since=now - VIEWER_WINDOW)
    return [
        Requester(msp_id=msp_id, team_id=team_id, user_id=user_id, role=Role(role))
        for user_id, role in viewers
    ]
