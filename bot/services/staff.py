"""Staff and roles: list them, grant, change and revoke them (audited, R22)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.roles import Role, why_role_change_refused
from bot.errors import NotAllowed, RuleBroken
from bot.services import audit
from bot.services.tenancy import Requester, ensure_msp
from storage.models import StaffMember
from storage.repositories import audit as audit_repo
from storage.repositories import msps as msp_repo
from storage.repositories import staff as staff_repo


@dataclass(frozen=True, slots=True)
class StaffEntry:
    user_id: str
    role: Role


@dataclass(frozen=True, slots=True)
class RoleChange:
    user_id: str
    before: Role | None
    after: Role | None

    @property
    def changed(self) -> bool:
        return self.before != self.after


async def list_staff(session: AsyncSession, *, requester: Requester) -> list[StaffEntry]:
    if not requester.is_staff:
        raise NotAllowed("Only the MSP's staff can see who has which role.")
    members = await staff_repo.list_for_msp(session, msp_id=requester.msp_id)
    entries = [StaffEntry(user_id=m.slack_user_id, role=Role(m.role)) for m in members]
    return sorted(entries, key=lambda entry: (-entry.role.rank, entry.user_id))


ASKED_FOR_ACCESS = 3  # owners and admins named to someone off the staff


async def whom_to_ask(session: AsyncSession, *, requester: Requester) -> list[str]:
    """Whom someone off the staff can ask to be added (only owners and admins give
    roles): up to three of them, owners first. Their names only, to a person of the
    same workspace, who could find them in the channels anyway."""
    return await staff_repo.managers(session, msp_id=requester.msp_id, limit=ASKED_FOR_ACCESS)


async def change_role(
    session: AsyncSession,
    *,
    requester: Requester,
    target_user_id: str,
    new_role: Role | None,
    now: datetime,
) -> RoleChange:
    """Give `target_user_id` the role `new_role` (None removes them from the staff)."""
    member = await staff_repo.get(session, msp_id=requester.msp_id, slack_user_id=target_user_id)
    current = Role(member.role) if member else None
    refusal = why_role_change_refused(actor=requester.role, current=current, new=new_role)
    if refusal:
        raise NotAllowed(refusal)
    return await _apply(
        session,
        msp_id=requester.msp_id,
        member=member,
        target_user_id=target_user_id,
        new_role=new_role,
        actor=requester.user_id,
        now=now,
    )


async def grant_role_as_operator(
    session: AsyncSession,
    *,
    team_id: str,
    target_user_id: str,
    new_role: Role,
    timezone: str,
    now: datetime,
) -> RoleChange:
    """The operator's way in (CLI): any role, creating the MSP if needed."""
    msp_id = await ensure_msp(session, team_id=team_id, timezone=timezone, now=now)
    member = await staff_repo.get(session, msp_id=msp_id, slack_user_id=target_user_id)
    return await _apply(
        session,
        msp_id=msp_id,
        member=member,
        target_user_id=target_user_id,
        new_role=new_role,
        actor=audit.OPERATOR_ACTOR,
        now=now,
    )


async def make_owner_on_install(
    session: AsyncSession, *, msp_id: int, user_id: str, now: datetime
) -> RoleChange:
    """The person who installed the app owns its MSP (installing needs the right to
    add apps to the workspace). Audited as the install; other staff keep their roles."""
    member = await staff_repo.get(session, msp_id=msp_id, slack_user_id=user_id)
    return await _apply(
        session,
        msp_id=msp_id,
        member=member,
        target_user_id=user_id,
        new_role=Role.OWNER,
        actor=audit.INSTALL_ACTOR,
        now=now,
    )


async def list_staff_as_operator(session: AsyncSession, *, team_id: str) -> list[StaffEntry]:
    msp = await msp_repo.get_by_team(session, team_id)
    if msp is None:
        return []
    operator = Requester(
        msp_id=msp.id, team_id=team_id, user_id=audit.OPERATOR_ACTOR, role=Role.OWNER
    )
    return await list_staff(session, requester=operator)


async def _apply(
    session: AsyncSession,
    *,
    msp_id: int,
    member: StaffMember | None,
    target_user_id: str,
    new_role: Role | None,
    actor: str,
    now: datetime,
) -> RoleChange:
    current = Role(member.role) if member else None
    change = RoleChange(user_id=target_user_id, before=current, after=new_role)
    if not change.changed:
        return change
    if current == Role.OWNER:
        # PostgreSQL: lock the owners so concurrent demotions run one after the other.
        await staff_repo.lock_owners(session, msp_id=msp_id)
    if member is None:
        assert new_role is not None
        session.add(
            StaffMember(
                msp_id=msp_id,
                slack_user_id=target_user_id,
                role=new_role.value,
                created_at=now,
                updated_at=now,
            )
        )
        action = audit.AuditAction.ROLE_GRANTED
    elif new_role is None:
        await session.delete(member)
        action = audit.AuditAction.ROLE_REVOKED
    else:
        member.role = new_role.value
        member.updated_at = now
        action = audit.AuditAction.ROLE_CHANGED
    if current == Role.OWNER:
        await _refuse_if_no_owner_left(session, msp_id=msp_id)
    await audit_repo.append(
        session,
        msp_id=msp_id,
        actor=actor,
        action=action,
        entity_type="staff_member",
        entity_id=target_user_id,
        before={"role": current.value} if current else None,
        after={"role": new_role.value} if new_role else None,
        at=now,
    )
    return change


async def _refuse_if_no_owner_left(session: AsyncSession, *, msp_id: int) -> None:
    """Counted after the write, inside the transaction: on SQLite the write lock is
    held by then, so a concurrent demotion cannot slip between check and write.
    Raising rolls the whole change back."""
    await session.flush()
    remaining = await staff_repo.count_with_role(session, msp_id=msp_id, role=Role.OWNER.value)
    if remaining == 0:
        raise RuleBroken(
            "This is the MSP's last owner. Make someone else an owner first.", rule="last-owner"
        )
