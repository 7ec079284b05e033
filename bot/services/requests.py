"""Requests and approvals: staff ask for a change to a customer (or more MAU
allowance), the vendor's rules (`bot.domain.policy`) decide at once whether and
when it may happen, and an approver decides it exactly once. The change itself is
made by `request_changes`, at approval or, on its date, by the scheduler.

Nothing here talks to Slack: the messages go through the `RequestNotifier` the
caller hands in (bot/notify/request_messages.py), inside the same transaction.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import mau as mau_rules
from bot.domain import policy
from bot.domain.conflicts import conflict
from bot.domain.customers import Plan, Status, from_cents, name_key, plan_change
from bot.domain.policy import Change, Verdict
from bot.domain.requests import (
    ADD_ONS,
    DELETION_DELAY_DAYS,
    RequestStatus,
    RequestType,
)
from bot.domain.roles import Role
from bot.errors import BotError, InvalidInput, NotAllowed, NotFound, RuleBroken
from bot.results.requests import RequestForm, RequestInfo, RequestList, Submitted
from bot.sentences import Person, Sentence, joined, sentence
from bot.services import audit
from bot.services import customers as customer_service
from bot.services.request_changes import apply_change, start_scheduled
from bot.services.request_info import EXPLANATION_SAID, info_of
from bot.services.request_records import (
    RequestNotifier,
    audit_customer,
    audit_request,
    conclude,
    customer_of,
    request_of,
)
from bot.services.tenancy import STAFF, Permission, Requester, msp_of
from storage.models import ChangeRequest, Customer, Msp
from storage.repositories import licence as licence_repo
from storage.repositories import requests as request_repo
from storage.repositories import staff as staff_repo

# Who may do what with requests.
NOT_STAFF = "Only the MSP's staff can make requests."
SEE = Permission(STAFF, NOT_STAFF, NOT_STAFF)
MAKE = Permission(
    customer_service.REQUEST.roles,
    "Your role ({role}) cannot make requests: owners, admins and members can.",
    NOT_STAFF,
)
ORDER_MAU = Permission(
    frozenset({Role.OWNER}), "Only an owner can order more MAU allowance.", NOT_STAFF
)
DECIDE = Permission(
    frozenset({Role.OWNER, Role.ADMIN, Role.APPROVER}),
    "Only owners, admins and approvers can approve or deny requests; your role is {role}.",
    NOT_STAFF,
)
REVERSE_DELETION = Permission(
    frozenset({Role.OWNER, Role.ADMIN}),
    "Only owners and admins can reverse a scheduled deletion.",
    NOT_STAFF,
)
HISTORY_SHOWN = 5
LIST_LIMIT = 20
OPEN = (RequestStatus.PENDING.value, RequestStatus.SCHEDULED.value)
CONFIRM_FIELD = "request_confirm_name"
DENY_NOTE_FIELD = "request_deny_note"
QUANTITY_FIELD = "request_quantity"


class AlreadyOpen(RuleBroken):
    """The customer has a request of this type open already (one at a time): `info`
    is that request, so the answer can offer to review it."""

    def __init__(self, refusal: RuleBroken, *, info: RequestInfo) -> None:
        super().__init__(refusal.sentence, rule=refusal.rule)
        self.info = info


class AlreadyDecided(BotError):
    """Someone else decided (or withdrew, or the request expired) first."""

    def __init__(self, message: Sentence, *, info: RequestInfo) -> None:
        super().__init__(message)
        self.info = info


# ---------------------------------------------------------------- roles


def check_can_request(requester: Requester, kind: RequestType) -> None:
    (ORDER_MAU if kind == RequestType.MAU_ALLOWANCE_ORDER else MAKE).check(requester)


def check_can_decide(requester: Requester) -> None:
    DECIDE.check(requester)


# ---------------------------------------------------------------- the form


async def start(
    session: AsyncSession,
    *,
    requester: Requester,
    kind: RequestType,
    customer_id: int | None,
    now: datetime,
    change: Change | None = None,
) -> RequestForm:
    """Check the role, the customer and the account's state before the modal opens,
    so a request the rules refuse outright, or one of a type the customer already
    has open, is refused at once, with the reason, before anything is typed. With
    `change` (what has been typed so far), the form also carries the rules' answer
    to it, which its preview shows; nothing is stored."""
    check_can_request(requester, kind)
    msp = await msp_of(session, requester)
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
            unit_price=None,
            preview=policy.preview(kind, None),
            quote=None if change is None else policy.decide(kind, None, change),
        )
    if customer_id is None:
        raise InvalidInput("Name the customer the request is for.")
    customer = await _requestable_customer(session, requester, customer_id)
    # One open request per type: said before the form is filled in. The partial
    # unique index stays the final word for two people asking at the same moment.
    await _refuse_duplicate(session, msp, customer, kind)
    account = customer_service.account_of(customer, today)
    preview = policy.preview(kind, account)
    if not preview.allowed and preview.schedule_for is None:
        raise RuleBroken(preview.reason, rule=preview.rule, earliest=preview.earliest)
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
        unit_price=from_cents(customer.unit_price_cents),
        preview=preview,
        quote=None if change is None else policy.decide(kind, account, change),
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
    msp = await msp_of(session, requester)
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
    details = _details(kind, change, verdict, effective, customer)
    if customer is not None:
        await _refuse_duplicate(session, msp, customer, kind)
        # Held until the request is stored: two conflicting requests asked at the
        # same moment are checked one after the other, not both against neither.
        await request_repo.lock_customer(session, msp_id=msp.id, customer_id=customer.id)
        await refuse_conflict(session, msp, customer.id, kind, details, request_id=None)
    request = await request_repo.add_unless_open(
        session,
        {
            "msp_id": msp.id,
            "customer_id": customer.id if customer else None,
            "customer_name": customer.name if customer else "",
            "account_number": customer.account_number if customer else None,
            "kind": kind.value,
            "status": RequestStatus.PENDING.value,
            "requested_by": requester.user_id,
            "reason": reason,
            "details": details,
            "effective_on": effective,
            "requested_at": now,
            "expires_at": now + timedelta(days=msp.request_expiry_days),
            "message_keys": [],
        },
    )
    if request is None:
        # The same request, sent at the same moment, was stored first: the check
        # above could not see it yet. Its answer is the one a later sender gets.
        assert customer is not None, "only a customer's requests are limited to one open"
        await _refuse_duplicate(session, msp, customer, kind)
        raise _duplicate_refusal(kind, None)
    await audit_request(
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
        raise AlreadyOpen(_duplicate_refusal(kind, existing), info=info_of(existing))


async def refuse_conflict(
    session: AsyncSession,
    msp: Msp,
    customer_id: int,
    kind: RequestType,
    details: dict[str, Any],
    *,
    request_id: int | None,
) -> None:
    """Refuse a change that conflicts with another open one of the same account
    (bot/domain/conflicts.py), naming the other request."""
    for other in await request_repo.open_for_customer(
        session, msp_id=msp.id, customer_id=customer_id, statuses=OPEN
    ):
        if other.id == request_id:
            continue
        scheduled = other.status == RequestStatus.SCHEDULED.value
        why = conflict(
            kind, details, RequestType(other.kind), other.details, other_scheduled=scheduled
        )
        if why is not None:
            state = "scheduled" if scheduled else "waiting for approval"
            raise RuleBroken(
                f"This request ({kind.label}) conflicts with request #{other.id} "
                f"({RequestType(other.kind).label}, {state}): {why}. Withdraw or deny "
                "that one first.",
                rule="conflict",
            )


def _duplicate_refusal(kind: RequestType, existing: ChangeRequest | None) -> RuleBroken:
    """The answer to a request of a type its customer already has open. Without
    `existing`: the one stored first was decided or withdrawn in the meantime."""
    if existing is None:
        return RuleBroken(
            f"Someone else asked for the same ({kind.label}) for this customer at the same "
            "moment. Look at the customer's requests before asking again.",
            rule="duplicate",
        )
    state = "waiting for approval" if existing.status == "pending" else "scheduled"
    return RuleBroken(
        f"This customer already has request #{existing.id} ({kind.label}) {state}.",
        rule="duplicate",
    )


def _details(
    kind: RequestType,
    change: Change,
    verdict: Verdict,
    effective: date | None,
    customer: Customer | None,
) -> dict[str, Any]:
    # The approvers read the warnings too (R15: over the free limits once free).
    explanation = joined(
        " ",
        (verdict.reason if verdict.allowed else _scheduled_text(effective), *verdict.warnings),
    )
    details: dict[str, Any] = {
        "summary": summarise(
            kind,
            change,
            plan=Plan(customer.plan) if customer else None,
            licences=customer.licences if customer else None,
        ),
        "explanation": explanation.plain(),
        EXPLANATION_SAID: explanation.to_json(),  # its dates, for each reader's own
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


def _scheduled_text(effective: date | None) -> Sentence:
    if effective is None:
        return Sentence()
    return sentence(
        "Scheduled for the next window: takes effect on {effective}.", effective=effective
    )


def summarise(kind: RequestType, change: Change, *, plan: Plan | None, licences: int | None) -> str:
    """What is asked beyond the request's type, in a few words ("Free → Professional",
    "10 → 6 licences"); "" when the type says it all (deleting an account). Shown
    after the type's label, so it never repeats it."""
    match kind:
        case RequestType.TRIAL_EXTENSION:
            return f"+{change.extension_days or 0} days"
        case RequestType.UPGRADE | RequestType.DOWNGRADE | RequestType.REACTIVATE:
            if change.target_plan is None:
                return "withdraw the cancellation"
            seats = f", {change.licence_count:,} seats" if change.licence_count else ""
            return f"{plan_change(plan, change.target_plan)}{seats}"
        case RequestType.CANCEL:
            return plan_change(plan, Plan.FREE) if plan is not None else ""
        case RequestType.ADD_LICENCES:
            return f"+{change.licence_count or 0:,} licences"
        case RequestType.DECREASE_LICENCES:
            before = f"{licences:,} → " if licences is not None else ""
            return f"{before}{change.licence_count or 0:,} licences"
        case RequestType.ADD_ADDON | RequestType.REMOVE_ADDON:
            return ADD_ONS.get(change.add_on or "", change.add_on or "")
        case RequestType.MAU_ALLOWANCE_ORDER:
            return f"+{change.mau_quantity or 0:,} MAU"
        case _:
            return ""


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
    msp = await msp_of(session, requester)
    request = await request_of(session, msp, request_id)
    await _check_not_own(session, msp, request, requester)
    kind = RequestType(request.kind)
    customer = await customer_of(session, request)
    if kind == RequestType.DELETE_ACCOUNT and (
        customer is None or name_key(typed_name or "") != name_key(customer.name)
    ):
        raise InvalidInput(
            "Type the customer's name exactly as shown to approve its deletion.",
            field=CONFIRM_FIELD,
        )
    scheduled = request.effective_on is not None
    request = await _claim(
        session,
        msp,
        request.id,
        from_status=RequestStatus.PENDING,
        values={
            "status": (RequestStatus.SCHEDULED if scheduled else RequestStatus.APPLIED).value,
            "decided_by": requester.user_id,
            "decided_at": now,
        },
    )
    customer = await customer_of(session, request, lock=True)
    today = customer_service.today_for(msp, now)
    account = customer_service.account_of(customer, today) if customer is not None else None
    if customer is not None:
        await refuse_conflict(
            session, msp, customer.id, kind, request.details, request_id=request.id
        )
    # Raising rolls the decision back: the request stays pending, the approver
    # reads why, and may deny it.
    policy.require(policy.recheck(kind, account, effective=request.effective_on))
    if kind == RequestType.DELETE_ACCOUNT:
        # R16: the 30 days run from the approval, not from the asking.
        request.effective_on = today + timedelta(days=DELETION_DELAY_DAYS)
    await audit_request(
        session,
        request,
        actor=requester.user_id,
        action=audit.AuditAction.REQUEST_APPROVED,
        now=now,
    )
    if scheduled:
        await start_scheduled(session, msp, request, customer, actor=requester.user_id, now=now)
    else:
        await apply_change(
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
    msp = await msp_of(session, requester)
    request = await request_of(session, msp, request_id)
    await _check_not_own(session, msp, request, requester)
    request = await _claim(
        session,
        msp,
        request.id,
        from_status=RequestStatus.PENDING,
        values={
            "status": RequestStatus.DENIED.value,
            "decided_by": requester.user_id,
            "decided_at": now,
            "decision_note": note.strip(),
        },
    )
    return await conclude(
        session,
        request,
        actor=requester.user_id,
        action=audit.AuditAction.REQUEST_DENIED,
        now=now,
        notifier=notifier,
    )


async def withdraw(
    session: AsyncSession,
    *,
    requester: Requester,
    request_id: int,
    now: datetime,
    notifier: RequestNotifier,
) -> RequestInfo:
    """The requester takes back a request still waiting for a decision."""
    SEE.check(requester)
    msp = await msp_of(session, requester)
    request = await request_of(session, msp, request_id)
    if request.requested_by != requester.user_id:
        raise NotAllowed("Only the person who asked can withdraw a request.")
    request = await _claim(
        session,
        msp,
        request.id,
        from_status=RequestStatus.PENDING,
        values={"status": RequestStatus.WITHDRAWN.value, "decided_at": now},
    )
    return await conclude(
        session,
        request,
        actor=requester.user_id,
        action=audit.AuditAction.REQUEST_WITHDRAWN,
        now=now,
        notifier=notifier,
    )


async def reverse_deletion(
    session: AsyncSession,
    *,
    requester: Requester,
    customer_id: int,
    now: datetime,
    notifier: RequestNotifier,
) -> RequestInfo:
    """R16: until a scheduled deletion completes, any admin can reverse it."""
    REVERSE_DELETION.check(requester)
    msp = await msp_of(session, requester)
    request = await request_repo.open_of_kind(
        session,
        msp_id=msp.id,
        customer_id=customer_id,
        kind=RequestType.DELETE_ACCOUNT.value,
        statuses=[RequestStatus.SCHEDULED.value],
    )
    if request is None:
        raise NotFound("That customer has no scheduled deletion to reverse.")
    request = await _claim(
        session,
        msp,
        request.id,
        from_status=RequestStatus.SCHEDULED,
        values={"status": RequestStatus.REVERSED.value, "applied_at": None},
    )
    customer = await customer_of(session, request, lock=True)
    if customer is not None and customer.status == Status.SCHEDULED_DELETION.value:
        before = customer_service.snapshot(customer)
        customer.status = request.details.get("previous_status", Status.FREE.value)
        await audit_customer(
            session, msp, customer, before, actor=requester.user_id, now=now, request=request
        )
    return await conclude(
        session,
        request,
        actor=requester.user_id,
        action=audit.AuditAction.REQUEST_REVERSED,
        now=now,
        notifier=notifier,
    )


async def _claim(
    session: AsyncSession,
    msp: Msp,
    request_id: int,
    *,
    from_status: RequestStatus,
    values: dict[str, Any],
) -> ChangeRequest:
    """Move a request on with a conditional update, so of many people acting at
    once exactly one wins; the others get AlreadyDecided saying who did what."""
    won = await request_repo.move(
        session,
        msp_id=msp.id,
        request_id=request_id,
        from_statuses=[from_status.value],
        values=values,
    )
    request = await request_of(session, msp, request_id)
    if not won:
        raise _already_decided(request)
    return request


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
        text = sentence(
            "This request was already {verb} by {who}",
            verb="denied" if status == RequestStatus.DENIED else "approved",
            who=Person(request.decided_by) if request.decided_by else "someone",
        )
    # An expired request ended at its deadline; the sweep that marks it runs later.
    ended = request.expires_at if status == RequestStatus.EXPIRED else request.decided_at
    when = sentence(" on {at}", at=ended) if ended else ""
    said = sentence("{text}{when}. Nothing was changed.", text=text, when=when)
    return AlreadyDecided(said, info=info)


async def _check_not_own(
    session: AsyncSession, msp: Msp, request: ChangeRequest, requester: Requester
) -> None:
    if request.requested_by == requester.user_id and not msp.allow_self_approval:
        raise NotAllowed(
            "You cannot decide your own request: another approver must. (A one-person MSP "
            "can allow it with `/msp settings self-approval on`.)"
        )


# ---------------------------------------------------------------- reading


async def list_requests(session: AsyncSession, *, requester: Requester, which: str) -> RequestList:
    """`/msp requests pending|mine|all`. Members see their own requests and those
    about their customers; everyone else sees the MSP's."""
    SEE.check(requester)
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
        can_decide=DECIDE.allows(requester),
        viewer=requester.user_id,
        can_request=MAKE.allows(requester),
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
    SEE.check(requester)
    msp = await msp_of(session, requester)
    return info_of(await request_of(session, msp, request_id))


# ---------------------------------------------------------------- helpers


async def _requestable_customer(
    session: AsyncSession, requester: Requester, customer_id: int
) -> Customer:
    """The customer, if the person may act on it: members only their assigned ones."""
    return await customer_service.visible_customer(
        session, requester=requester, customer_id=customer_id
    )
