"""What admins need to know about outbound delivery: the queue, its oldest item,
what went out, and what failed for good and why."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.roles import Role
from bot.results.delivery_status import DeliveryStatus, FailedDelivery
from bot.services.tenancy import Permission, Requester
from storage.repositories import outbox as outbox_repo

# Who may see what waits to be delivered and what failed.
SEE = Permission(
    frozenset({Role.OWNER, Role.ADMIN}),
    "Only admins and owners can see delivery status.",
    "Only admins and owners can see delivery status.",
)


async def delivery_status(
    session: AsyncSession, *, requester: Requester, now: datetime
) -> DeliveryStatus:
    SEE.check(requester)
    queued, oldest = await outbox_repo.depth_and_oldest(session, msp_id=requester.msp_id)
    failures = await outbox_repo.recent_failures(session, msp_id=requester.msp_id, limit=10)
    return DeliveryStatus(
        queued=queued,
        oldest_age_seconds=(now - oldest).total_seconds() if oldest else None,
        last_day=await outbox_repo.counts_by_status(
            session, msp_id=requester.msp_id, since=now - timedelta(days=1)
        ),
        failed_by_reason=await outbox_repo.failures_by_reason(
            session, msp_id=requester.msp_id, since=now - timedelta(days=7)
        ),
        recent_failures=[
            FailedDelivery(
                key=item.key,
                kind=item.kind,
                lane=item.lane,
                reason=item.last_error or "?",
                at=item.updated_at,
            )
            for item in failures
        ],
    )
