"""A workspace installing or uninstalling the app (distribution mode, and the
uninstall events in either mode).

Installing makes sure the workspace has its MSP, makes the person who installed it
an owner, and turns a disabled MSP back on. Uninstalling (or revoking the bot's
token) disables the MSP without deleting anything of it: nothing is delivered or
swept for it until it installs again, and then everything is where it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit, staff
from bot.services.tenancy import ensure_msp
from storage.repositories import audit as audit_repo
from storage.repositories import installs as installs_repo
from storage.repositories import msps as msp_repo

APP_UNINSTALLED = "app_uninstalled"
TOKENS_REVOKED = "tokens_revoked"


@dataclass(frozen=True, slots=True)
class Installed:
    msp_id: int
    owner_added: bool  # the installer was not an owner before
    reenabled: bool  # the MSP had been disabled by an uninstall


async def record_install(
    session: AsyncSession,
    *,
    team_id: str,
    team_name: str | None,
    installer_id: str,
    timezone: str,
    now: datetime,
) -> Installed:
    msp_id = await ensure_msp(session, team_id=team_id, timezone=timezone, now=now)
    reenabled = await msp_repo.enable(session, msp_id=msp_id, now=now)
    msp = await msp_repo.get_by_team(session, team_id)
    if msp is not None and team_name and not msp.name:
        msp.name, msp.updated_at = team_name[:200], now
    owner = await staff.make_owner_on_install(session, msp_id=msp_id, user_id=installer_id, now=now)
    await audit_repo.append(
        session,
        msp_id=msp_id,
        actor=installer_id,
        action=audit.AuditAction.APP_INSTALLED,
        entity_type="msp",
        entity_id=team_id,
        before=None,
        after={"installed_by": installer_id, "reenabled": reenabled},
        at=now,
    )
    return Installed(msp_id=msp_id, owner_added=owner.changed, reenabled=reenabled)


async def record_uninstall(
    session: AsyncSession, *, team_id: str, reason: str, now: datetime
) -> bool:
    """Disable the workspace's MSP and forget its tokens. True when it was enabled
    (Slack may send both app_uninstalled and tokens_revoked, or retry an event)."""
    await installs_repo.forget_tokens(session, team_id=team_id)
    msp = await msp_repo.get_by_team(session, team_id)
    if msp is None or not await msp_repo.disable(session, msp_id=msp.id, reason=reason, now=now):
        return False
    await audit_repo.append(
        session,
        msp_id=msp.id,
        actor=audit.SYSTEM_ACTOR,
        action=audit.AuditAction.APP_UNINSTALLED,
        entity_type="msp",
        entity_id=team_id,
        before=None,
        after={"reason": reason},
        at=now,
    )
    return True
