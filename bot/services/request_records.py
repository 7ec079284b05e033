"""What the request services share: the notifier they are handed, loading a
request and its customer within the MSP, and writing both to the audit log (R22)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.requests import RequestType
from bot.errors import NotFound
from bot.results.requests import RequestInfo
from bot.services import audit
from bot.services import customers as customer_service
from bot.services.request_info import info_of
from storage.models import ChangeRequest, Customer, Msp
from storage.repositories import audit as audit_repo
from storage.repositories import customers as customer_repo
from storage.repositories import requests as request_repo


class RequestNotifier(Protocol):
    """How the service tells people, inside the caller's transaction."""

    async def submitted(
        self, session: AsyncSession, *, msp_id: int, info: RequestInfo, route: list[str]
    ) -> list[str]:
        """Post the request with Approve/Deny to each conversation of `route`;
        return the outbox keys of those messages."""
        ...

    async def decided(self, session: AsyncSession, *, msp_id: int, info: RequestInfo) -> None:
        """Update the request's messages in place and tell the requester."""
        ...


async def request_of(session: AsyncSession, msp: Msp, request_id: int) -> ChangeRequest:
    request = await request_repo.get(session, msp_id=msp.id, request_id=request_id)
    if request is None:
        raise NotFound("That request does not exist in this MSP.")
    return request


async def customer_of(
    session: AsyncSession, request: ChangeRequest, *, lock: bool = False
) -> Customer | None:
    """The request's customer as it is now. `lock` before changing it: two requests
    about one customer decided at the same moment then change it one after the
    other, instead of the later writing back what it read before the earlier's
    change (licences added by one lost to the other's upgrade)."""
    if request.customer_id is None:
        return None
    if lock:
        await request_repo.lock_customer(
            session, msp_id=request.msp_id, customer_id=request.customer_id
        )
    # With its related rows loaded: the audit snapshot reads them.
    return await customer_repo.get(
        session, msp_id=request.msp_id, customer_id=request.customer_id, populate_existing=True
    )


async def audit_request(
    session: AsyncSession,
    request: ChangeRequest,
    *,
    actor: str,
    action: audit.AuditAction,
    now: datetime,
) -> None:
    await audit_repo.append(
        session,
        msp_id=request.msp_id,
        actor=actor,
        action=action,
        entity_type="request",
        entity_id=str(request.id),
        before=None,
        after={
            "kind": request.kind,
            "status": request.status,
            "customer": request.account_number,
            "details": request.details,
            "effective_on": request.effective_on.isoformat() if request.effective_on else None,
        },
        at=now,
        note=request.decision_note or request.reason or None,
    )


async def audit_customer(
    session: AsyncSession,
    msp: Msp,
    customer: Customer,
    before: dict[str, Any],
    *,
    actor: str,
    now: datetime,
    request: ChangeRequest,
) -> None:
    await audit_repo.append(
        session,
        msp_id=msp.id,
        actor=actor,
        action=audit.AuditAction.CUSTOMER_UPDATED,
        entity_type="customer",
        entity_id=customer.account_number,
        before=before,
        after=customer_service.snapshot(customer),
        at=now,
        note=f"request #{request.id}: {RequestType(request.kind).label}",
    )


async def conclude(
    session: AsyncSession,
    request: ChangeRequest,
    *,
    actor: str,
    action: audit.AuditAction,
    now: datetime,
    notifier: RequestNotifier,
) -> RequestInfo:
    """The last step of every move: audit it, and tell people (the approval
    messages updated in place, the requester's DM) in the same transaction."""
    await audit_request(session, request, actor=actor, action=action, now=now)
    info = info_of(request)
    await notifier.decided(session, msp_id=request.msp_id, info=info)
    return info
