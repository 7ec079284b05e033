"""Who is asking: the MSP of the workspace and the person's role in it."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.roles import Role
from bot.errors import NotAllowed, NotFound
from bot.expiring import PersonCache
from bot.services import audit
from storage.models import Msp
from storage.repositories import audit as audit_repo
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


STAFF: frozenset[Role] = frozenset(Role)


@dataclass(frozen=True, slots=True)
class Permission:
    """Who may do one thing, and what the others are told: each service keeps a
    table of these at its top, so who may do what there is read in one place.
    Anyone not on the MSP's staff is told `not_staff` whatever they try. The
    refusal may name the person's role as `{role}`."""

    roles: frozenset[Role]
    refusal: str
    not_staff: str

    def allows(self, requester: Requester) -> bool:
        return requester.role in self.roles

    def check(self, requester: Requester) -> Role:
        """The requester's role, when it may; NotAllowed otherwise."""
        role = staff_role(requester, self.not_staff)
        if role not in self.roles:
            raise NotAllowed(self.refusal.format(role=role.label))
        return role


def staff_role(requester: Requester, refusal: str) -> Role:
    """The requester's role; anyone who is not the MSP's staff is refused with `refusal`."""
    if requester.role is None:
        raise NotAllowed(refusal)
    return requester.role


async def msp_of(session: AsyncSession, requester: Requester) -> Msp:
    """The requester's MSP, read afresh: an UPDATE earlier in the same transaction
    (an allowance raised, say) is seen, which the identity map alone would miss."""
    msp = await session.get(Msp, requester.msp_id, populate_existing=True)
    if msp is None:
        raise NotFound("This workspace has no MSP yet.")
    return msp


def no_msp_yet(team_id: str) -> str:
    return (
        f"No MSP for {team_id} yet. It is made when someone of that workspace first uses "
        f"the bot, or by `msp-bot roles grant --team {team_id} --user U... --role owner`."
    )


async def msp_of_team(session: AsyncSession, team_id: str) -> Msp:
    """An operator's command names the workspace; its MSP must exist already."""
    msp = await msp_repo.get_by_team(session, team_id)
    if msp is None:
        raise NotFound(no_msp_yet(team_id))
    return msp


async def ensure_msp(session: AsyncSession, *, team_id: str, timezone: str, now: datetime) -> int:
    """The MSP id of a workspace, creating (and auditing) it on first contact."""
    msp, created = await msp_repo.get_or_create(
        session, team_id=team_id, timezone=timezone, now=now
    )
    if created:
        await audit_repo.append(
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
    """Resolve the person's role. People listed in MSPBOT_OWNERS bootstrap an MSP
    that has no owner yet; once it has one, the list grants nothing, so an owner who
    removed a listed person keeps them removed."""
    found = await staff_repo.find_role(session, team_id=team_id, slack_user_id=user_id)
    if found is not None and found.msp_disabled:
        # Slack only sends a person's requests to an installed app: the workspace
        # has installed it again (one workspace mode has no install callback).
        await msp_repo.enable(session, msp_id=found.msp_id, now=now)
    if found is not None and found.role is not None:
        return Requester(
            msp_id=found.msp_id, team_id=team_id, user_id=user_id, role=Role(found.role)
        )
    if found is not None:
        msp_id = found.msp_id
    else:
        msp_id = await ensure_msp(session, team_id=team_id, timezone=timezone, now=now)
    if user_id not in bootstrap_owners:
        return Requester(msp_id=msp_id, team_id=team_id, user_id=user_id, role=None)
    return await _bootstrap_owner(session, msp_id=msp_id, team_id=team_id, user_id=user_id, now=now)


async def _bootstrap_owner(
    session: AsyncSession, *, msp_id: int, team_id: str, user_id: str, now: datetime
) -> Requester:
    """Make a MSPBOT_OWNERS person owner of an MSP that has no owner yet, then take
    the role the database holds (a concurrent request, maybe on another replica, may
    have written it). Of several listed people arriving at once on a new MSP, only
    the first becomes owner, as if they had come one after the other.

    The first read skips the locking write in the usual case: an MSP that has an
    owner keeps one (nobody may remove the last owner)."""
    has_owner = await staff_repo.count_with_role(session, msp_id=msp_id, role=Role.OWNER.value)
    if not has_owner and await staff_repo.add_owner_if_none(
        session, msp_id=msp_id, slack_user_id=user_id, now=now
    ):
        await audit_repo.append(
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
    member = await staff_repo.get(session, msp_id=msp_id, slack_user_id=user_id)
    role = Role(member.role) if member is not None else None
    return Requester(msp_id=msp_id, team_id=team_id, user_id=user_id, role=role)


class RequesterCache(PersonCache[Requester]):
    """Recently resolved staff, so most requests skip the database lookup.

    Only staff are cached, so a newly granted role works at once. A role lowered or
    removed on this replica is forgotten at once too (`forget`); on other replicas,
    or by the CLI, it takes effect within `ttl_seconds`. Set the TTL to 0 to look
    every request up.
    """

    def remember(self, requester: Requester) -> None:
        if requester.is_staff:
            self.put(requester.team_id, requester.user_id, requester)
