"""Making the change a request asked for: at approval (at once, or the first step
of a change that takes effect later: pending cancellation, scheduled deletion), and
on the effective date, when the scheduler's sweep applies what is due and expires
what waited too long. Each sweep claims a request with a conditional update, so
replicas sweeping at once handle each request once."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import mau as mau_rules
from bot.domain import policy
from bot.domain.customers import Plan, Status
from bot.domain.requests import ADD_ONS, RequestStatus, RequestType, add_on_key
from bot.domain.terms import Term, next_renewal
from bot.errors import InvalidInput, NotFound
from bot.results.requests import RequestInfo
from bot.sentences import Sentence, sentence
from bot.services import audit
from bot.services import customers as customer_service
from bot.services.request_info import info_of, note_values
from bot.services.request_records import (
    RequestNotifier,
    audit_customer,
    audit_request,
    conclude,
    customer_of,
    request_of,
)
from storage.models import ChangeRequest, Customer, Msp
from storage.repositories import audit as audit_repo
from storage.repositories import licence as licence_repo
from storage.repositories import requests as request_repo

SWEEP_LIMIT = 200
# Accounts whose term renews (bot/services/renewals.py rolls them).
PAYING = (Status.PAID.value, Status.PENDING_CANCELLATION.value)
# The audit log's name for the scheduler job that applies what is due.
SCHEDULED_CHANGES_ACTOR = audit.job_actor("apply_scheduled_changes")
CUSTOMER_GONE = "The customer's record was deleted before this took effect."


async def start_scheduled(
    session: AsyncSession,
    msp: Msp,
    request: ChangeRequest,
    customer: Customer | None,
    *,
    actor: str,
    now: datetime,
) -> None:
    """What happens at approval for a change that takes effect later: a
    cancellation marks the account pending cancellation, a deletion marks it
    scheduled for deletion (R14, R16); the rest wait unchanged."""
    kind = RequestType(request.kind)
    if customer is None:
        return
    status = {
        RequestType.CANCEL: Status.PENDING_CANCELLATION,
        RequestType.DELETE_ACCOUNT: Status.SCHEDULED_DELETION,
    }.get(kind)
    if status is None:
        return
    before = customer_service.snapshot(customer)
    request.details = {**request.details, "previous_status": customer.status}
    customer.status = status.value
    await audit_customer(session, msp, customer, before, actor=actor, now=now, request=request)


async def apply_change(
    session: AsyncSession,
    msp: Msp,
    request: ChangeRequest,
    customer: Customer | None,
    *,
    actor: str,
    today: date,
    now: datetime,
    notifier: RequestNotifier,
) -> None:
    """Make the change the request asked for."""
    kind = RequestType(request.kind)
    details = request.details
    if kind == RequestType.MAU_ALLOWANCE_ORDER:
        await _apply_allowance_order(session, msp, request, now=now)
        return
    if customer is None:
        raise NotFound("The customer of this request no longer exists.")
    before = customer_service.snapshot(customer)
    match kind:
        case RequestType.TRIAL_EXTENSION:
            customer.trial_end = policy.extended_trial_end(
                customer.trial_end, today=today, days=int(details["extension_days"])
            )
            customer.status = Status.ACTIVE_TRIAL.value
            customer.plan = Plan.TRIAL.value
        case RequestType.UPGRADE | RequestType.REACTIVATE:
            if customer.status == Status.PENDING_CANCELLATION.value:
                await _withdraw_cancellation(
                    session, msp, customer, request, now=now, notifier=notifier
                )
            _apply_paid_plan(customer, details, today)
        case RequestType.ADD_LICENCES:
            customer.licences += int(details["licence_count"])
        case RequestType.DECREASE_LICENCES:
            customer.licences = int(details["licence_count"])
        case RequestType.DOWNGRADE:
            customer.plan = details["target_plan"]
        case RequestType.ADD_ADDON:
            # Shown on the card as the vendor names it; compared by catalog key.
            customer.add_ons = [*(customer.add_ons or []), ADD_ONS[details["add_on"]]]
        case RequestType.REMOVE_ADDON:
            removed = details["add_on"]
            customer.add_ons = [a for a in customer.add_ons or [] if add_on_key(a) != removed]
        case RequestType.CANCEL:
            customer.plan = Plan.FREE.value
            customer.status = Status.FREE.value
            customer.term = None
            customer.contract_start = None
            customer.renewal_date = None
            customer.add_ons = []  # R13: add-ons need a paid plan
        case RequestType.DELETE_ACCOUNT | RequestType.REMOVE_EXPIRED_TRIAL:
            customer.status = Status.DELETED.value
    customer.version += 1
    customer.updated_at = now
    await audit_customer(session, msp, customer, before, actor=actor, now=now, request=request)


async def _withdraw_cancellation(
    session: AsyncSession,
    msp: Msp,
    customer: Customer,
    request: ChangeRequest,
    *,
    now: datetime,
    notifier: RequestNotifier,
) -> None:
    """R17: reactivating (or upgrading) a cancelled plan takes back its scheduled
    cancellation, so the scheduler does not end the plan at renewal; the
    cancellation's message and its requester say so."""
    cancellation = await request_repo.open_of_kind(
        session,
        msp_id=msp.id,
        customer_id=customer.id,
        kind=RequestType.CANCEL.value,
        statuses=[RequestStatus.SCHEDULED.value],
    )
    if cancellation is None:
        return
    await request_repo.move(
        session,
        msp_id=msp.id,
        request_id=cancellation.id,
        from_statuses=[RequestStatus.SCHEDULED.value],
        values={
            "status": RequestStatus.REVERSED.value,
            "decision_note": f"Withdrawn by request #{request.id}",
        },
    )
    withdrawn = await request_of(session, msp, cancellation.id)
    await audit_request(
        session,
        withdrawn,
        actor=request.decided_by or audit.SYSTEM_ACTOR,
        action=audit.AuditAction.REQUEST_REVERSED,
        now=now,
    )
    await notifier.decided(session, msp_id=msp.id, info=info_of(withdrawn))


def _apply_paid_plan(customer: Customer, details: dict[str, Any], today: date) -> None:
    """Upgrade or reactivate (R6, R11, R17): a plan change now. Withdrawing a
    cancellation keeps the plan; an account coming from trial or free starts a term."""
    if customer.status == Status.PENDING_CANCELLATION.value and "target_plan" not in details:
        customer.status = Status.PAID.value
        return
    starting = customer.status != Status.PAID.value and customer.status != (
        Status.PENDING_CANCELLATION.value
    )
    customer.plan = details["target_plan"]
    customer.status = Status.PAID.value
    seats = details.get("licence_count")
    if seats:
        customer.licences = max(customer.licences, int(seats))
    elif starting:
        # A plan without a seat count starts with a licence for each user it has.
        customer.licences = max(customer.licences, customer.users, 1)
    if starting or customer.renewal_date is None:
        # A term starts today: annual, renewing on today's day of the month.
        customer.term = Term.ANNUAL.value
        customer.contract_start = today
        customer.renewal_date = next_renewal(today, Term.ANNUAL, today)


async def _apply_allowance_order(
    session: AsyncSession, msp: Msp, request: ChangeRequest, *, now: datetime
) -> None:
    quantity = int(request.details["mau_quantity"])
    after = await licence_repo.raise_allowance(
        session, msp_id=msp.id, quantity=quantity, maximum=mau_rules.MAX_ALLOWANCE, now=now
    )
    if after is None:
        raise InvalidInput(mau_rules.allowance_cap_refusal(msp.mau_allowance))
    order = await licence_repo.add_order(
        session,
        msp_id=msp.id,
        ordered_by=request.requested_by,
        quantity=quantity,
        allowance_before=after - quantity,
        allowance_after=after,
        status="applied",
        note=request.reason,
        at=now,
    )
    await audit_repo.append(
        session,
        msp_id=msp.id,
        actor=request.decided_by or audit.SYSTEM_ACTOR,
        action=audit.AuditAction.MAU_ALLOWANCE_ORDERED,
        entity_type="mau_allowance_order",
        entity_id=str(order.id),
        before={"mau_allowance": after - quantity},
        after={"mau_allowance": after, "quantity": quantity, "request": request.id},
        at=now,
        note=request.reason or None,
    )


async def apply_due(
    session: AsyncSession, *, now: datetime, notifier: RequestNotifier, limit: int = SWEEP_LIMIT
) -> list[RequestInfo]:
    """Apply the scheduled requests whose effective date has come in their MSP's
    time zone. Each is claimed with a conditional update, so two replicas running
    this at once apply each change once."""
    bound = (now + timedelta(days=1)).date()  # no time zone is more than a day ahead
    applied: list[RequestInfo] = []
    for candidate in await request_repo.due_scheduled(
        session, status=RequestStatus.SCHEDULED.value, on_or_before=bound, limit=limit
    ):
        msp = await session.get(Msp, candidate.msp_id)
        if msp is None or candidate.effective_on is None:
            continue
        today = customer_service.today_for(msp, now)
        if candidate.effective_on > today:
            continue
        # The customer's record was deleted meanwhile (R21 may delete one scheduled
        # for deletion): nothing is left to change, and failing here would roll back
        # the whole sweep, every time, behind this request.
        refusal = Sentence.literal(CUSTOMER_GONE) if candidate.customer_id is None else None
        if refusal is None and RequestType(candidate.kind) in policy.AT_RENEWAL:
            refusal = await _not_renewing(session, candidate, today=today)
            if refusal is None:
                # Changes at renewal apply when the renewal job rolls the term
                # (bot/services/renewals.py), with the rules checked again then.
                continue
        won = await request_repo.move(
            session,
            msp_id=msp.id,
            request_id=candidate.id,
            from_statuses=[RequestStatus.SCHEDULED.value],
            values=_reversed(candidate, refusal)
            if refusal
            else {"status": RequestStatus.APPLIED.value, "applied_at": now},
        )
        if not won:
            continue
        request = await request_of(session, msp, candidate.id)
        if refusal is None:
            await apply_change(
                session,
                msp,
                request,
                await customer_of(session, request, lock=True),
                actor=SCHEDULED_CHANGES_ACTOR,
                today=today,
                now=now,
                notifier=notifier,
            )
        action = (
            audit.AuditAction.REQUEST_REVERSED if refusal else audit.AuditAction.REQUEST_APPLIED
        )
        applied.append(
            await conclude(
                session,
                request,
                actor=SCHEDULED_CHANGES_ACTOR,
                action=action,
                now=now,
                notifier=notifier,
            )
        )
    return applied


def change_of(request: ChangeRequest) -> policy.Change:
    """The change a stored request asked for."""
    details = request.details
    target = details.get("target_plan")
    count = details.get("licence_count")
    return policy.Change(
        target_plan=Plan(target) if target else None,
        licence_count=int(count) if count is not None else None,
        add_on=details.get("add_on"),
    )


async def _not_renewing(
    session: AsyncSession, request: ChangeRequest, *, today: date
) -> Sentence | None:
    """Why a change due at renewal can no longer apply: its account stopped paying
    (deleted, free, cancelled by a correction...), so no renewal will come to apply
    it. None while the account renews: the renewal job applies it then."""
    customer = await customer_of(session, request, lock=True)
    if customer is None:
        return Sentence.literal(CUSTOMER_GONE)
    if customer.status in PAYING:
        return None
    verdict = policy.recheck_at_renewal(
        RequestType(request.kind), customer_service.account_of(customer, today), change_of(request)
    )
    return sentence(
        "not applied on {effective}: {reason}",
        effective=request.effective_on,
        reason=verdict.reason,
    )


def _reversed(request: ChangeRequest, why: Sentence) -> dict[str, Any]:
    return {"status": RequestStatus.REVERSED.value, **note_values(request.details, why)}


async def expire_due(
    session: AsyncSession, *, now: datetime, notifier: RequestNotifier, limit: int = SWEEP_LIMIT
) -> list[RequestInfo]:
    """Pending requests past their expiry become expired, once, with a notice."""
    expired: list[RequestInfo] = []
    for candidate in await request_repo.due_to_expire(
        session, status=RequestStatus.PENDING.value, now=now, limit=limit
    ):
        won = await request_repo.move(
            session,
            msp_id=candidate.msp_id,
            request_id=candidate.id,
            from_statuses=[RequestStatus.PENDING.value],
            values={"status": RequestStatus.EXPIRED.value, "decided_at": now},
        )
        if not won:
            continue
        msp = await session.get(Msp, candidate.msp_id)
        assert msp is not None, "a request's MSP exists"
        request = await request_of(session, msp, candidate.id)
        expired.append(
            await conclude(
                session,
                request,
                actor=audit.job_actor("expire_pending_requests"),
                action=audit.AuditAction.REQUEST_EXPIRED,
                now=now,
                notifier=notifier,
            )
        )
    return expired
