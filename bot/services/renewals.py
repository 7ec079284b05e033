"""Paid terms renewing: on each renewal date (the MSP's day) the term rolls forward
and that renewal's scheduled changes (licence decreases, downgrades, add-on
removals, a cancellation) apply, in the order they were approved, each with the
rules checked again. A change whose rules no longer hold is not applied: it is
marked reversed with the reason, and its requester and approvers are told.

Exactly once: the roll is a conditional update (`WHERE renewal_date = the old
one`), so of two replicas rolling the same term one wins and the other does
nothing; after downtime each term that passed is rolled once, in turn."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import policy
from bot.domain.customers import Status
from bot.domain.requests import RequestStatus, RequestType
from bot.domain.terms import Term, next_renewal
from bot.results.requests import RequestInfo
from bot.sentences import sentence
from bot.services import audit
from bot.services import customers as customer_service
from bot.services.request_changes import PAYING, apply_change, change_of
from bot.services.request_info import note_values
from bot.services.request_records import RequestNotifier, conclude, request_of
from storage.models import ChangeRequest, Customer, Msp
from storage.repositories import audit as audit_repo
from storage.repositories import customers as customer_repo
from storage.repositories import requests as request_repo

SWEEP_LIMIT = 200
# After a long downtime, how many terms one account rolls in one sweep (the next
# sweep carries on): a monthly term unattended for years must not hold a sweep.
MAX_TERMS_PER_SWEEP = 48


@dataclass(frozen=True, slots=True)
class Renewed:
    account_number: str
    renewal: date
    next_renewal: date | None
    requests: list[RequestInfo]


async def roll_due(
    session: AsyncSession, *, now: datetime, notifier: RequestNotifier, limit: int = SWEEP_LIMIT
) -> list[Renewed]:
    """Roll every paying account whose renewal date has come in its MSP's time zone."""
    bound = (now + timedelta(days=1)).date()  # no time zone is more than a day ahead
    renewed: list[Renewed] = []
    msps: dict[int, Msp | None] = {}
    for customer_id, msp_id, _ in await customer_repo.renewals_due(
        session, statuses=PAYING, on_or_before=bound, limit=limit
    ):
        if msp_id not in msps:
            msps[msp_id] = await session.get(Msp, msp_id)
        msp = msps[msp_id]
        if msp is None:
            continue
        today = customer_service.today_for(msp, now)
        for _ in range(MAX_TERMS_PER_SWEEP):
            done = await _roll_once(
                session, msp, customer_id, today=today, now=now, notifier=notifier
            )
            if done is None:
                break
            renewed.append(done)
    return renewed


async def _roll_once(
    session: AsyncSession,
    msp: Msp,
    customer_id: int,
    *,
    today: date,
    now: datetime,
    notifier: RequestNotifier,
) -> Renewed | None:
    customer = await customer_repo.get(
        session, msp_id=msp.id, customer_id=customer_id, populate_existing=True
    )
    if customer is None or customer.status not in PAYING:
        return None
    renewal = customer.renewal_date
    if renewal is None or renewal > today:
        return None
    term = Term(customer.term) if customer.term else Term.ANNUAL
    start = customer.contract_start or renewal
    following = next_renewal(start, term, renewal)
    before = customer_service.snapshot(customer)
    if not await customer_repo.roll_renewal(
        session, customer_id=customer.id, renewal=renewal, next_renewal=following, now=now
    ):
        return None  # another replica rolled this term
    customer = await customer_repo.get(
        session, msp_id=msp.id, customer_id=customer_id, populate_existing=True
    )
    assert customer is not None, "the row just updated exists"
    infos = [
        await _apply_at_renewal(
            session,
            msp,
            customer,
            request,
            renewal=renewal,
            today=today,
            now=now,
            notifier=notifier,
        )
        for request in await request_repo.scheduled_at_renewal(
            session,
            msp_id=msp.id,
            customer_id=customer.id,
            kinds=[kind.value for kind in policy.AT_RENEWAL],
            on_or_before=renewal,
        )
    ]
    ended = customer.status != Status.PAID.value
    await audit_repo.append(
        session,
        msp_id=msp.id,
        actor=audit.RENEWALS_ACTOR,
        action=audit.AuditAction.CUSTOMER_RENEWED,
        entity_type="customer",
        entity_id=customer.account_number,
        before=before,
        after=customer_service.snapshot(customer),
        at=now,
        note=f"term ended on {renewal}" if ended else f"renewed on {renewal}, next {following}",
    )
    return Renewed(
        account_number=customer.account_number,
        renewal=renewal,
        next_renewal=customer.renewal_date,
        requests=infos,
    )


async def _apply_at_renewal(
    session: AsyncSession,
    msp: Msp,
    customer: Customer,
    request: ChangeRequest,
    *,
    renewal: date,
    today: date,
    now: datetime,
    notifier: RequestNotifier,
) -> RequestInfo:
    kind = RequestType(request.kind)
    account = customer_service.account_of(customer, today)
    verdict = policy.recheck_at_renewal(kind, account, change_of(request))
    if verdict.allowed:
        values = {"status": RequestStatus.APPLIED.value, "applied_at": now}
    else:
        note = sentence(
            "not applied at the renewal on {renewal}: {reason}",
            renewal=renewal,
            reason=verdict.reason,
        )
        values = {"status": RequestStatus.REVERSED.value, **note_values(request.details, note)}
    won = await request_repo.move(
        session,
        msp_id=msp.id,
        request_id=request.id,
        from_statuses=[RequestStatus.SCHEDULED.value],
        values=values,
    )
    request = await request_of(session, msp, request.id)
    pending = customer.status == Status.PENDING_CANCELLATION.value
    if won and not verdict.allowed and kind is RequestType.CANCEL and pending:
        # The plan was marked pending cancellation at approval; it goes on renewing.
        customer.status = Status.PAID.value
    if won and verdict.allowed:
        await apply_change(
            session,
            msp,
            request,
            customer,
            actor=audit.RENEWALS_ACTOR,
            today=today,
            now=now,
            notifier=notifier,
        )
    action = (
        audit.AuditAction.REQUEST_APPLIED if verdict.allowed else audit.AuditAction.REQUEST_REVERSED
    )
    return await conclude(
        session, request, actor=audit.RENEWALS_ACTOR, action=action, now=now, notifier=notifier
    )
