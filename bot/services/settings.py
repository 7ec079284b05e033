"""The MSP's request settings: where requests go for approval, whether a person
may approve their own (one-person MSPs), and how long a request waits. Owners and
admins change them; every change is audited (R22)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.roles import Role
from bot.errors import InvalidInput, NotAllowed, NotFound
from bot.services import audit
from bot.services.tenancy import Requester
from storage.models import Msp
from storage.repositories import audit as audit_repo

MANAGERS = frozenset({Role.OWNER, Role.ADMIN})
MIN_EXPIRY_DAYS = 1
MAX_EXPIRY_DAYS = 90


@dataclass(frozen=True, slots=True)
class RequestSettings:
    approvals_channel: str | None
    allow_self_approval: bool
    request_expiry_days: int


@dataclass(frozen=True, slots=True)
class SettingsChange:
    """What to change; None leaves a setting as it is. `clear_channel` removes the
    approvals channel (requests then go to the owners by DM)."""

    approvals_channel: str | None = None
    clear_channel: bool = False
    allow_self_approval: bool | None = None
    request_expiry_days: int | None = None


def _check_manager(requester: Requester) -> None:
    if requester.role not in MANAGERS:
        raise NotAllowed("Only owners and admins can change the MSP's settings.")


async def _msp(session: AsyncSession, requester: Requester) -> Msp:
    msp = await session.get(Msp, requester.msp_id)
    if msp is None:
        raise NotFound("This workspace has no MSP yet.")
    return msp


def _settings(msp: Msp) -> RequestSettings:
    return RequestSettings(
        approvals_channel=msp.approvals_channel,
        allow_self_approval=msp.allow_self_approval,
        request_expiry_days=msp.request_expiry_days,
    )


async def request_settings(session: AsyncSession, *, requester: Requester) -> RequestSettings:
    _check_manager(requester)
    return _settings(await _msp(session, requester))


def parse_expiry_days(text: str) -> int:
    if not text.isdigit() or not MIN_EXPIRY_DAYS <= int(text) <= MAX_EXPIRY_DAYS:
        raise InvalidInput(
            f"Requests may wait {MIN_EXPIRY_DAYS} to {MAX_EXPIRY_DAYS} days; "
            "for example `/msp settings expiry 7`."
        )
    return int(text)


async def change_settings(
    session: AsyncSession, *, requester: Requester, change: SettingsChange, now: datetime
) -> RequestSettings:
    _check_manager(requester)
    msp = await _msp(session, requester)
    before = _settings(msp)
    if change.clear_channel:
        msp.approvals_channel = None
    elif change.approvals_channel is not None:
        msp.approvals_channel = change.approvals_channel
    if change.allow_self_approval is not None:
        msp.allow_self_approval = change.allow_self_approval
    if change.request_expiry_days is not None:
        msp.request_expiry_days = change.request_expiry_days
    msp.updated_at = now
    after = _settings(msp)
    if after != before:
        await audit_repo.append(
            session,
            msp_id=msp.id,
            actor=requester.user_id,
            action=audit.AuditAction.SETTINGS_UPDATED,
            entity_type="msp",
            entity_id=msp.team_id,
            before=_plain(before),
            after=_plain(after),
            at=now,
        )
    return after


def _plain(settings: RequestSettings) -> dict[str, object]:
    return {
        "approvals_channel": settings.approvals_channel,
        "allow_self_approval": settings.allow_self_approval,
        "request_expiry_days": settings.request_expiry_days,
    }
