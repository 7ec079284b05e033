"""Requests and approvals: staff ask for a change to a customer (or more MAU
allowance), the vendor's rules (`bot.domain.policy`) decide at once whether and
when it may happen, an approver decides it exactly once, and it is applied at
once or on its effective date by the scheduler.

Nothing here talks to Slack: the messages go through the `RequestNotifier` the
caller hands in (bot/delivery/request_messages.py), inside the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import mau as mau_rules
from bot.domain import policy, proration
from bot.domain.customers import Plan, Status, from_cents, name_key
from bot.domain.policy import Change, Verdict
from bot.domain.requests import (
    ADD_ONS,
    DELETION_DELAY_DAYS,
    RequestStatus,
    RequestType,
    add_on_key,
)
from bot.domain.roles import Role
from bot.errors import BotError, InvalidInput, NotAllowed, NotFound, RuleBroken
from bot.services import audit
from bot.services import customers as customer_service
from bot.services.request_info import RequestInfo, info_of
from bot.services.tenancy import Requester
from storage.models import ChangeRequest, Customer, Msp
from storage.repositories import audit as audit_repo
from storage.repositories import customers as customer_repo
from storage.repositories import licence as licence_repo
from storage.repositories import requests as request_repo
from storage.repositories import staff as staff_repo

REQUESTERS = customer_service.REQUESTS
APPROVERS = frozenset({Role.OWNER, Role.ADMIN, Role.APPROVER})
REVERSERS = frozenset({Role.OWNER, Role.ADMIN})
HISTORY_SHOWN = 5
LIST_LIMIT = 20
SWEEP_LIMIT = 200
OPEN = (RequestStatus.PENDING.value, RequestStatus.SCHEDULED.value)
CONFIRM_FIELD = "request_confirm_name"
DENY_NOTE_FIELD = "request_deny_note"
QUANTITY_FIELD = "request_quantity"
CUSTOMER_GONE = "The customer's record was deleted before this took effect."


class AlreadyDecided(BotError):
    """Someone else decided (or withdrew, or the request expired) first."""

    def __init__(self, message: str, *, info: RequestInfo) -> None:
        super().__init__(message)
        self.info = info


@dataclass(frozen=True, slots=True)
class RequestForm:
    """What the request modal shows before anything is typed."""

    kind: RequestType
    customer_id: int | None
    customer_name: str
    account_number: str | None
    plan: Plan | None
    status: Status | None
    licences: int
    users: int
    renewal_date: date | None
    trial_end: date | None
    add_ons: list[str]
    monthly_price: Decimal | None
    preview: Verdict  # the rules for this account as it stands (details not yet given)
    per_licence_charge: Decimal | None = None  # R9: one added licence, for the rest of the term
    mau_allowance: int | None = None  # an MAU allowance order: the allowance now
    mau_this_month: int | None = None  # ...and the MSP's MAU so far this month


@dataclass(frozen=True, slots=True)
class Submitted:
    info: RequestInfo
    routed_to: str  # "the approvals channel" or "the owners (by DM)"


@dataclass(frozen=True, slots=True)
class RequestList:
    which: str
    requests: list[RequestInfo]
    total: int
    can_decide: bool
    viewer: str


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


# ---------------------------------------------------------------- roles


def _role(requester: Requester) -> Role:
    if requester.role is None:
        raise NotAllowed("Only the MSP's staff can make requests.")
    return requester.role


def check_can_request(requester: Requester, kind: RequestType) -> None:
    role = _role(requester)
    if kind == RequestType.MAU_ALLOWANCE_ORDER:
        if role != Role.OWNER:
            raise NotAllowed("Only an owner can order more MAU allowance (R19).")
        return
    if role not in REQUESTERS:
        raise NotAllowed(
            f"Your role ({role.label}) cannot make requests: owners, admins and members can."
        )


def check_can_decide(requester: Requester) -> None:
    role = _role(requester)
    if role not in APPROVERS:
        raise NotAllowed(
            f"Only owners, admins and approvers can approve or deny requests; you are "
            f"{role.label.lower()}."
        )


# ---------------------------------------------------------------- the form


async def start(
    session: AsyncSession,
    *,
    requester: Requester,
    kind: RequestType,
    customer_id: int | None,
    now: datetime,
) -> RequestForm:
    """Check the role, the customer and the account's state before the modal opens,
    so a request the rules refuse outright is refused at once, with the reason."""
    check_can_request(requester, kind)
    msp = await _msp(session, requester)
    today = customer_service.today_for(msp, now)
    if kind == RequestType.MAU_ALLOWANCE_ORDER:
        used = await licence_repo.mau_for_month(
            session, msp_id=msp.id, month=mau_rules.month_start(today)
        )
        return RequestForm(
            mau_allowance=msp.mau_allowance,
            mau_this_month=used,
            kind=kind,
            customer_id=None,
            customer_name="",
            account_number=None,
            plan=None,
            status=None,
            licences=0,
            users=0,
            renewal_date=None,
            trial_end=None,
            add_ons=[],
            monthly_price=None,
            preview=policy.decide(kind, None, Change()),
        )
    if customer_id is None:
        raise InvalidInput("Name the customer the request is for.")
    customer = await _requestable_customer(session, requester, customer_id)
    account = customer_service.account_of(customer, today)
    preview = policy.preview(kind, account)
    if not preview.allowed and preview.schedule_for is None:
        raise RuleBroken(preview.reason, rule=preview.rule, earliest=preview.earliest)
    per_licence = None
    if kind == RequestType.ADD_LICENCES:
        one = policy.decide(kind, account, Change(licence_count=1))
        per_licence = one.proration.amount if one.proration else None
    return RequestForm(
        kind=kind,
        customer_id=customer.id,
        customer_name=customer.name,
        account_number=customer.account_number,
        plan=Plan(customer.plan),
        status=Status(customer.status),
        licences=customer.licences,
        users=customer.users,
        renewal_date=customer.renewal_date,
        trial_end=customer.trial_end,
        add_ons=list(customer.add_ons or []),
        monthly_price=from_cents(customer.monthly_price_cents),
        preview=preview,
        per_licence_charge=per_licence,
    )


async def quote(
    session: AsyncSession,
    *,
    requester: Requester,
    kind: RequestType,
    customer_id: int | None,
    change: Change,
    now: datetime,
) -> Verdict:
    """The rules' verdict for a filled-in request, without storing anything (the
    modal shows the prorated charge as the licence count is typed)."""
    check_can_request(requester, kind)
    if kind == RequestType.MAU_ALLOWANCE_ORDER:
        return policy.decide(kind, None, change)
    if customer_id is None:
        raise InvalidInput("Name the customer the request is for.")
    msp = await _msp(session, requester)
    customer = await _requestable_customer(session, requester, customer_id)
    return policy.decide(
        kind, customer_service.account_of(customer, customer_service.today_for(msp, now)), change
    )


# ---------------------------------------------------------------- submitting


async def submit(
    session: AsyncSession,
    *,
    requester: Requester,
    kind: RequestType,
    customer_id: int | None,
    change: Change,
    reason: str,
    schedule: bool,
    now: datetime,
    notifier: RequestNotifier,
) -> Submitted:
    """Store a request the rules allow (or, with `schedule`, one they allow for a
    later date) and send it to the approvers. A refusal raises with its reason."""
    check_can_request(requester, kind)
    msp = await _msp(session, requester)
    today = customer_service.today_for(msp, now)
    customer: Customer | None = None
    if kind == RequestType.MAU_ALLOWANCE_ORDER:
        verdict = policy.decide(kind, None, change)
        _check_allowance_cap(msp, change)
    else:
        if customer_id is None:
            raise InvalidInput("Name the customer the request is for.")
        customer = await _requestable_customer(session, requester, customer_id)
        verdict = policy.decide(kind, customer_service.account_of(customer, today), change)
    effective = _effective_date(verdict, schedule=schedule)
    if customer is not None:
        await _refuse_duplicate(session, msp, customer, kind)
    request = await request_repo.add(
        session,
        ChangeRequest(
            msp_id=msp.id,
            customer_id=customer.id if customer else None,
            customer_name=customer.name if customer else "",
            account_number=customer.account_number if customer else None,
            kind=kind.value,
            status=RequestStatus.PENDING.value,
            requested_by=requester.user_id,
            reason=reason,
            details=_details(kind, change, verdict, effective),
            effective_on=effective,
            requested_at=now,
            expires_at=now + timedelta(days=msp.request_expiry_days),
            message_keys=[],
        ),
    )
    await _audit_request(
        session, request, actor=requester.user_id, action=audit.AuditAction.REQUEST_CREATED, now=now
    )
    route = await _route(session, msp)
    info = info_of(request)
    request.message_keys = await notifier.submitted(session, msp_id=msp.id, info=info, route=route)
    routed_to = "the approvals channel" if msp.approvals_channel else "the owners (by DM)"
    return Submitted(info=info_of(request), routed_to=routed_to)


def _check_allowance_cap(msp: Msp, change: Change) -> None:
    """An order that would take the allowance past the largest one is refused now,
    not when an approver clicks."""
    if msp.mau_allowance + (change.mau_quantity or 0) > mau_rules.MAX_ALLOWANCE:
        raise InvalidInput(mau_rules.allowance_cap_refusal(msp.mau_allowance), field=QUANTITY_FIELD)


def _effective_date(verdict: Verdict, *, schedule: bool) -> date | None:
    if verdict.allowed:
        return verdict.effective
    if schedule and verdict.schedule_for is not None:
        return verdict.schedule_for
    raise RuleBroken(
        verdict.reason, rule=verdict.rule, earliest=verdict.earliest or verdict.schedule_for
    )


async def _refuse_duplicate(
    session: AsyncSession, msp: Msp, customer: Customer, kind: RequestType
) -> None:
    existing = await request_repo.open_of_kind(
        session, msp_id=msp.id, customer_id=customer.id, kind=kind.value, statuses=OPEN
    )
    if existing is not None:
        state = "waiting for approval" if existing.status == "pending" else "scheduled"
        raise RuleBroken(
            f"{kind.label} for this customer is already {state} (request #{existing.id}).",
            rule="duplicate",
        )


def _details(
    kind: RequestType, change: Change, verdict: Verdict, effective: date | None
) -> dict[str, Any]:
    explanation = verdict.reason if verdict.allowed else _scheduled_text(effective)
    details: dict[str, Any] = {
        "summary": summarise(kind, change),
        # The approvers read the warnings too (R15: over the free limits once free).
        "explanation": " ".join(part for part in (explanation, *verdict.warnings) if part),
        "warnings": list(verdict.warnings),
        "quote_needed": verdict.quote_needed,
    }
    if change.target_plan is not None:
        details["target_plan"] = change.target_plan.value
    if change.licence_count is not None:
        details["licence_count"] = change.licence_count
    if change.add_on is not None:
        details["add_on"] = change.add_on
    if change.extension_days is not None:
        details["extension_days"] = change.extension_days
    if change.mau_quantity is not None:
        details["mau_quantity"] = change.mau_quantity
    if verdict.proration is not None and verdict.proration.amount is not None:
        details["prorated_amount"] = str(verdict.proration.amount)
        details["prorated_days"] = verdict.proration.days_left
    return details


def _scheduled_text(effective: date | None) -> str:
    return (
        f"Scheduled for the next window: takes effect on {effective.isoformat()}."
        if (effective)
        else ""
    )


def summarise(kind: RequestType, change: Change) -> str:
    """What is asked, in a few words."""
    match kind:
        case RequestType.TRIAL_EXTENSION:
            return f"+{change.extension_days or 0} days of trial"
        case RequestType.UPGRADE | RequestType.DOWNGRADE | RequestType.REACTIVATE:
            plan = change.target_plan.label if change.target_plan else "withdraw the cancellation"
            seats = f", {change.licence_count:,} seats" if change.licence_count else ""
            return f"{plan}{seats}"
        case RequestType.ADD_LICENCES:
            return f"+{change.licence_count or 0:,} licences"
        case RequestType.DECREASE_LICENCES:
            return f"{change.licence_count or 0:,} licences from renewal"
        case RequestType.ADD_ADDON | RequestType.REMOVE_ADDON:
            return ADD_ONS.get(change.add_on or "", change.add_on or "")
        case RequestType.MAU_ALLOWANCE_ORDER:
            return f"+{change.mau_quantity or 0:,} MAU allowance"
        case _:
            return kind.label


async def _route(session: AsyncSession, msp: Msp) -> list[str]:
    """The approvals channel, or else every owner by DM (their user ids)."""
    if msp.approvals_channel:
        return [msp.approvals_channel]
    return sorted(await staff_repo.user_ids_with_role(session, msp_id=msp.id, role="owner"))


# ---------------------------------------------------------------- deciding


async def approve(
    session: AsyncSession,
    *,
    requester: Requester,
    request_id: int,
    typed_name: str | None,
    now: datetime,
    notifier: RequestNotifier,
) -> RequestInfo:
    """Decide a request once: of many clicks at the same moment one wins, the others
    get AlreadyDecided naming who decided and when. Then apply or schedule it."""
    check_can_decide(requester)
    msp = await _msp(session, requester)
    request = await _request(session, msp, request_id)
    await _check_not_own(session, msp, request, requester)
    kind = RequestType(request.kind)
    customer = await _customer_of(session, request)
    if kind == RequestType.DELETE_ACCOUNT and (
        customer is None or name_key(typed_name or "") != name_key(customer.name)
    ):
        raise InvalidInput(
            "Type the customer's name exactly as shown to approve its deletion.",
            field=CONFIRM_FIELD,
        )
    scheduled = request.effective_on is not None
    won = await request_repo.move(
        session,
        msp_id=msp.id,
        request_id=request.id,
        from_statuses=[RequestStatus.PENDING.value],
        values={
            "status": (RequestStatus.SCHEDULED if scheduled else RequestStatus.APPLIED).value,
            "decided_by": requester.user_id,
            "decided_at": now,
        },
    )
    if not won:
        raise _already_decided(await _request(session, msp, request_id))
    request = await _request(session, msp, request_id)
    customer = await _customer_of(session, request, lock=True)
    today = customer_service.today_for(msp, now)
    account = customer_service.account_of(customer, today) if customer is not None else None
    # Raising rolls the decision back: the request stays pending, the approver
    # reads why, and may deny it.
    policy.require(policy.recheck(kind, account, effective=request.effective_on))
    if kind == RequestType.DELETE_ACCOUNT:
        # R16: the 30 days run from the approval, not from the asking.
        request.effective_on = today + timedelta(days=DELETION_DELAY_DAYS)
    await _audit_request(
        session,
        request,
        actor=requester.user_id,
        action=audit.AuditAction.REQUEST_APPROVED,
        now=now,
    )
    if scheduled:
        await _start_scheduled(session, msp, request, customer, actor=requester.user_id, now=now)
    else:
        await _apply(
            session,
            msp,
            request,
            customer,
            actor=requester.user_id,
            today=today,
            now=now,
            notifier=notifier,
        )
        request.applied_at = now
    info = info_of(request)
    await notifier.decided(session, msp_id=msp.id, info=info)
    return info


async def deny(
    session: AsyncSession,
    *,
    requester: Requester,
    request_id: int,
    note: str,
    now: datetime,
    notifier: RequestNotifier,
) -> RequestInfo:
    check_can_decide(requester)
    if not note.strip():
        raise InvalidInput("Say why the request is denied.", field=DENY_NOTE_FIELD)
    msp = await _msp(session, requester)
    request = await _request(session, msp, request_id)
    await _check_not_own(session, msp, request, requester)
    won = await request_repo.move(
        session,
        msp_id=msp.id,
        request_id=request.id,
        from_statuses=[RequestStatus.PENDING.value],
        values={
            "status": RequestStatus.DENIED.value,
            "decided_by": requester.user_id,
            "decided_at": now,
            "decision_note": note.strip(),
        },
    )
    request = await _request(session, msp, request_id)
    if not won:
        raise _already_decided(request)
    await _audit_request(
        session, request, actor=requester.user_id, action=audit.AuditAction.REQUEST_DENIED, now=now
    )
    info = info_of(request)
    await notifier.decided(session, msp_id=msp.id, info=info)
    return info


async def withdraw(
    session: AsyncSession,
    *,
    requester: Requester,
    request_id: int,
    now: datetime,
    notifier: RequestNotifier,
) -> RequestInfo:
    """The requester takes back a request still waiting for a decision."""
    _role(requester)
    msp = await _msp(session, requester)
    request = await _request(session, msp, request_id)
    if request.requested_by != requester.user_id:
        raise NotAllowed("Only the person who asked can withdraw a request.")
    won = await request_repo.move(
        session,
        msp_id=msp.id,
        request_id=request.id,
        from_statuses=[RequestStatus.PENDING.value],
        values={"status": RequestStatus.WITHDRAWN.value, "decided_at": now},
    )
    request = await _request(session, msp, request_id)
    if not won:
        raise _already_decided(request)
    await _audit_request(
        session,
        request,
        actor=requester.user_id,
        action=audit.AuditAction.REQUEST_WITHDRAWN,
        now=now,
    )
    info = info_of(request)
    await notifier.decided(session, msp_id=msp.id, info=info)
    return info


async def reverse_deletion(
    session: AsyncSession,
    *,
    requester: Requester,
    customer_id: int,
    now: datetime,
    notifier: RequestNotifier,
) -> RequestInfo:
    """R16: until a scheduled deletion completes, any admin can reverse it."""
    role = _role(requester)
    if role not in REVERSERS:
        raise NotAllowed("Only owners and admins can reverse a scheduled deletion.")
    msp = await _msp(session, requester)
    request = await request_repo.open_of_kind(
        session,
        msp_id=msp.id,
        customer_id=customer_id,
        kind=RequestType.DELETE_ACCOUNT.value,
        statuses=[RequestStatus.SCHEDULED.value],
    )
    if request is None:
        raise NotFound("That customer has no scheduled deletion to reverse.")
    won = await request_repo.move(
        session,
        msp_id=msp.id,
        request_id=request.id,
        from_statuses=[RequestStatus.SCHEDULED.value],
        values={"status": RequestStatus.REVERSED.value, "applied_at": None},
    )
    request = await _request(session, msp, request.id)
    if not won:
        raise _already_decided(request)
    customer = await _customer_of(session, request, lock=True)
    if customer is not None and customer.status == Status.SCHEDULED_DELETION.value:
        before = customer_service.snapshot(customer)
        customer.status = request.details.get("previous_status", Status.FREE.value)
        await _audit_customer(
            session, msp, customer, before, actor=requester.user_id, now=now, request=request
        )
    await _audit_request(
        session,
        request,
        actor=requester.user_id,
        action=audit.AuditAction.REQUEST_REVERSED,
        now=now,
    )
    info = info_of(request)
    await notifier.decided(session, msp_id=msp.id, info=info)
    return info


def _already_decided(request: ChangeRequest) -> AlreadyDecided:
    info = info_of(request)
    status = info.status
    if status == RequestStatus.WITHDRAWN:
        text = "This request was withdrawn by the person who asked"
    elif status == RequestStatus.EXPIRED:
        text = "This request expired without a decision"
    elif status == RequestStatus.REVERSED:
        text = "This scheduled change was reversed"
    else:
        verb = "denied" if status == RequestStatus.DENIED else "approved"
        text = f"This request was already {verb} by <@{request.decided_by}>"
    when = request.decided_at.strftime(" on %Y-%m-%d at %H:%M UTC") if request.decided_at else ""
    return AlreadyDecided(f"{text}{when}. Nothing was changed.", info=info)


async def _check_not_own(
    session: AsyncSession, msp: Msp, request: ChangeRequest, requester: Requester
) -> None:
    if request.requested_by == requester.user_id and not msp.allow_self_approval:
        raise NotAllowed(
            "You cannot decide your own request: another approver must. (A one-person MSP "
            "can allow it with `/msp settings self-approval on`.)"
        )


# ---------------------------------------------------------------- applying


async def _start_scheduled(
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
    await _audit_customer(session, msp, customer, before, actor=actor, now=now, request=request)


async def _apply(
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
            _roll_term(customer, today)
        case RequestType.DOWNGRADE:
            customer.plan = details["target_plan"]
            _roll_term(customer, today)
        case RequestType.ADD_ADDON:
            # Shown on the card as the vendor names it; compared by catalog key.
            customer.add_ons = [*(customer.add_ons or []), ADD_ONS[details["add_on"]]]
        case RequestType.REMOVE_ADDON:
            removed = details["add_on"]
            customer.add_ons = [a for a in customer.add_ons or [] if add_on_key(a) != removed]
            _roll_term(customer, today)
        case RequestType.CANCEL:
            customer.plan = Plan.FREE.value
            customer.status = Status.FREE.value
            customer.contract_start = None
            customer.renewal_date = None
            customer.add_ons = []  # R13: add-ons need a paid plan
        case RequestType.DELETE_ACCOUNT | RequestType.REMOVE_EXPIRED_TRIAL:
            customer.status = Status.DELETED.value
    customer.version += 1
    customer.updated_at = now
    await _audit_customer(session, msp, customer, before, actor=actor, now=now, request=request)


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
    withdrawn = await _request(session, msp, cancellation.id)
    await _audit_request(
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
        customer.contract_start = today
        customer.renewal_date = proration.add_months(today, proration.DEFAULT_TERM_MONTHS)


def _roll_term(customer: Customer, today: date) -> None:
    """A change at renewal starts the next term. Only a renewal date that has come
    moves on, so two changes applied on the same renewal move it once."""
    renewal = customer.renewal_date
    if renewal is None or renewal > today:
        return
    term = proration.term_months(customer.contract_start, renewal)
    customer.contract_start = renewal
    customer.renewal_date = proration.next_renewal(renewal, term)


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


# ---------------------------------------------------------------- the scheduler's part


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
        gone = candidate.customer_id is None
        won = await request_repo.move(
            session,
            msp_id=msp.id,
            request_id=candidate.id,
            from_statuses=[RequestStatus.SCHEDULED.value],
            values={"status": RequestStatus.REVERSED.value, "decision_note": CUSTOMER_GONE}
            if gone
            else {"status": RequestStatus.APPLIED.value, "applied_at": now},
        )
        if not won:
            continue
        request = await _request(session, msp, candidate.id)
        if not gone:
            await _apply(
                session,
                msp,
                request,
                await _customer_of(session, request, lock=True),
                actor=audit.SYSTEM_ACTOR,
                today=today,
                now=now,
                notifier=notifier,
            )
        await _audit_request(
            session,
            request,
            actor=audit.SYSTEM_ACTOR,
            action=audit.AuditAction.REQUEST_REVERSED
            if gone
            else audit.AuditAction.REQUEST_APPLIED,
            now=now,
        )
        info = info_of(request)
        await notifier.decided(session, msp_id=msp.id, info=info)
        applied.append(info)
    return applied


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
        request = await _request(session, msp, candidate.id)
        await _audit_request(
            session,
            request,
            actor=audit.SYSTEM_ACTOR,
            action=audit.AuditAction.REQUEST_EXPIRED,
            now=now,
        )
        info = info_of(request)
        await notifier.decided(session, msp_id=msp.id, info=info)
        expired.append(info)
    return expired


# ---------------------------------------------------------------- reading


async def list_requests(session: AsyncSession, *, requester: Requester, which: str) -> RequestList:
    """`/msp requests pending|mine|all`. Members see their own requests and those
    about their customers; everyone else sees the MSP's."""
    role = _role(requester)
    statuses: list[str] | None = {
        "pending": [RequestStatus.PENDING.value],
        "scheduled": [RequestStatus.SCHEDULED.value],
    }.get(which)
    rows, total = await request_repo.listing(
        session,
        msp_id=requester.msp_id,
        statuses=statuses,
        requested_by=requester.user_id if which == "mine" else None,
        member=customer_service.assigned_filter(requester),
        limit=LIST_LIMIT,
    )
    return RequestList(
        which=which,
        requests=[info_of(row) for row in rows],
        total=total,
        can_decide=role in APPROVERS,
        viewer=requester.user_id,
    )


async def history_for_customer(
    session: AsyncSession, *, requester: Requester, customer_id: int
) -> list[RequestInfo]:
    """The latest requests about a customer, for its card (visibility is the card's)."""
    rows = await request_repo.for_customer(
        session, msp_id=requester.msp_id, customer_id=customer_id, limit=HISTORY_SHOWN
    )
    return [info_of(row) for row in rows]


async def pending_count(session: AsyncSession, *, msp_id: int) -> int:
    return await request_repo.count_pending(
        session, msp_id=msp_id, status=RequestStatus.PENDING.value
    )


async def get_info(session: AsyncSession, *, requester: Requester, request_id: int) -> RequestInfo:
    _role(requester)
    msp = await _msp(session, requester)
    return info_of(await _request(session, msp, request_id))


# ---------------------------------------------------------------- helpers


async def _msp(session: AsyncSession, requester: Requester) -> Msp:
    msp = await session.get(Msp, requester.msp_id, populate_existing=True)
    if msp is None:
        raise NotFound("This workspace has no MSP yet.")
    return msp


async def _request(session: AsyncSession, msp: Msp, request_id: int) -> ChangeRequest:
    request = await request_repo.get(session, msp_id=msp.id, request_id=request_id)
    if request is None:
        raise NotFound("That request does not exist in this MSP.")
    return request


async def _requestable_customer(
    session: AsyncSession, requester: Requester, customer_id: int
) -> Customer:
    """The customer, if the person may act on it: members only their assigned ones."""
    return await customer_service.visible_customer(
        session, requester=requester, customer_id=customer_id
    )


async def _customer_of(
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


async def _audit_request(
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


async def _audit_customer(
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
