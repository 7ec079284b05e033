"""Who is asking: the MSP of the workspace and the person's role in it."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.roles import Role
from bot.services import audit
from storage.repositories import msps as msp_repo
from storage.repositories import staff as staff_repo


@dataclass(frozen=True, slots=True)
class Requester:
    msp_id: int
    team_id: str
    user_id: str
    role: Role | None

    @property
    def is_staff(self) -> bool:
        return self.role is not None


async def ensure_msp(session: AsyncSession, *, team_id: str, timezone: str, now: datetime) -> int:
    """The MSP id of a workspace, creating (and auditing) it on first contact."""
    msp, created = await msp_repo.get_or_create(
        session, team_id=team_id, timezone=timezone, now=now
    )
    if created:
        await audit.record(
            session,
            msp_id=msp.id,
            actor=audit.SYSTEM_ACTOR,
            action=audit.AuditAction.MSP_CREATED,
            entity_type="msp",
            entity_id=team_id,
            before=None,
            after={"team_id": team_id, "timezone": timezone},
            at=now,
        )
    return msp.id


async def resolve_requester(
    session: AsyncSession,
    *,
    team_id: str,
    user_id: str,
    bootstrap_owners: Collection[str],
    timezone: str,
    now: datetime,
) -> Requester:
    """Resolve the person's role; people listed in MSPBOT_OWNERS become owners the
    first time they reach the bot (only if they have no role yet)."""
    msp_id = await ensure_msp(session, team_id=team_id, timezone=timezone, now=now)
    member = await staff_repo.get(session, msp_id=msp_id, slack_user_id=user_id)
    if member is not None:
        return Requester(msp_id=msp_id, team_id=team_id, user_id=user_id, role=Role(member.role))
    if user_id in bootstrap_owners and await staff_repo.add_if_absent(
        session, msp_id=msp_id, slack_user_id=user_id, role=Role.OWNER.value, now=now
    ):
        await audit.record(
            session,
            msp_id=msp_id,
            actor=audit.BOOTSTRAP_ACTOR,
            action=audit.AuditAction.ROLE_GRANTED,
            entity_type="staff_member",
            entity_id=user_id,
            before=None,
            after={"role": Role.OWNER.value},
            at=now,
        )
        return Requester(msp_id=msp_id, team_id=team_id, user_id=user_id, role=Role.OWNER)
    return Requester(msp_id=msp_id, team_id=team_id, user_id=user_id, role=None)
