"""The Command Center summary: the MSP's KPIs, its lists' sizes, trials about to
end, customers at their max-MAU threshold (R20), agents gone quiet and, for
admins, delivery problems. Members get the same
summary over the customers assigned to them, without the MSP's allowances."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.customers import (
    FILTER_STATUSES,
    CustomerFilter,
    Status,
    trial_days_left,
)
from bot.domain.mau import overage, project_month_end
from bot.domain.requests import RequestStatus
from bot.payloads import AlertQuery
from bot.results.dashboard import (
    Allowances,
    AtThreshold,
    Dashboard,
    DeliveryProblems,
    SilentAgents,
    TrialEnding,
)
from bot.services import alert_actions, delivery_status, requests
from bot.services.customers import assigned_filter, today_for
from bot.services.request_info import info_of
from bot.services.tenancy import STAFF, Permission, Requester
from storage.models import Customer, Msp
from storage.repositories import dashboard as dashboard_repo
from storage.repositories import outbox as outbox_repo
from storage.repositories import requests as request_repo

TRIALS_ENDING_DAYS = 7
TRIALS_SHOWN = 10
SILENT_AGENTS_SHOWN = 5
AT_MAX_MAU_SHOWN = 5
PENDING_SHOWN = 5
ALERTS_SHOWN = 3  # the worst open alerts; with the rest the message stays under 50 blocks
DELIVERY_PROBLEM_DAYS = 7
NOT_STAFF = "Only the MSP's staff can see the dashboard."
SEE = Permission(STAFF, NOT_STAFF, NOT_STAFF)  # members: their assigned customers only
_NOT_COUNTED = [Status.DELETED.value]


def _count(by_status: dict[str, dashboard_repo.StatusFigures], which: CustomerFilter) -> int:
    return sum(by_status[s].customers for s in FILTER_STATUSES[which] if s in by_status)


def _users(by_status: dict[str, dashboard_repo.StatusFigures], which: CustomerFilter) -> int:
    return sum(by_status[s].users for s in FILTER_STATUSES[which] if s in by_status)


async def billable_users(session: AsyncSession, *, msp_id: int) -> int:
    """R5: the users of the MSP's paid subscriptions, what its seat allowance counts."""
    by_status = await dashboard_repo.figures_by_status(session, msp_id=msp_id, assigned_to=None)
    return _users(by_status, CustomerFilter.PAID)


async def dashboard(session: AsyncSession, *, requester: Requester, now: datetime) -> Dashboard:
    SEE.check(requester)
    msp = await session.get(Msp, requester.msp_id)
    assert msp is not None, "the requester's MSP exists"
    assigned_to = assigned_filter(requester)
    scope = {"msp_id": msp.id, "assigned_to": assigned_to}
    today = today_for(msp, now)

    by_status = await dashboard_repo.figures_by_status(session, **scope)
    counted = [figures for status, figures in by_status.items() if status not in _NOT_COUNTED]
    mau = await dashboard_repo.mau_in_month(session, **scope, month=today.replace(day=1))
    ending, ending_total = await dashboard_repo.trials_ending(
        session,
        **scope,
        status=Status.ACTIVE_TRIAL.value,
        first_day=today,
        last_day=today + timedelta(days=TRIALS_ENDING_DAYS),
        limit=TRIALS_SHOWN,
    )
    quiet = await dashboard_repo.silent_agents(
        session, **scope, excluded_statuses=_NOT_COUNTED, limit=SILENT_AGENTS_SHOWN
    )
    at_max_mau, at_max_mau_total = await dashboard_repo.at_max_mau(
        session,
        **scope,
        month=today.replace(day=1),
        excluded_statuses=_NOT_COUNTED,
        limit=AT_MAX_MAU_SHOWN,
    )
    whole_msp = assigned_to is None
    return Dashboard(
        role=requester.role,
        whole_msp=whole_msp,
        today=today,
        as_of=now,
        customers=sum(figures.customers for figures in counted),
        billable_users=_users(by_status, CustomerFilter.PAID),
        trial_users=_users(by_status, CustomerFilter.TRIALS),
        locations=await dashboard_repo.location_count(
            session, **scope, excluded_statuses=_NOT_COUNTED
        ),
        mau=mau,
        overage=overage(mau, msp.mau_allowance) if whole_msp else 0,
        paid=_count(by_status, CustomerFilter.PAID),
        active_trials=_count(by_status, CustomerFilter.TRIALS),
        expired_trials=_count(by_status, CustomerFilter.EXPIRED),
        trials_ending=[_trial_ending(customer, today) for customer in ending],
        trials_ending_total=ending_total,
        silent_agents=sum(figures.silent_agents for figures in counted),
        customers_with_silent_agents=sum(
            figures.customers_with_silent_agents for figures in counted
        ),
        silent_agent_customers=[_silent(customer) for customer in quiet],
        at_max_mau=[_at_threshold(row) for row in at_max_mau],
        at_max_mau_total=at_max_mau_total,
        allowances=Allowances(msp.max_customers, msp.seat_allowance, msp.mau_allowance)
        if whole_msp
        else None,
        delivery=await _delivery_problems(session, requester, now),
        mau_projection=project_month_end(mau, today=today, allowance=msp.mau_allowance)
        if whole_msp
        else None,
        **await _pending(session, requester),
        **await _open_alerts(session, requester),
    )


async def _open_alerts(session: AsyncSession, requester: Requester) -> dict[str, Any]:
    listing = await alert_actions.list_alerts(
        session, requester=requester, query=AlertQuery(), limit=ALERTS_SHOWN
    )
    return {"open_alerts": listing.alerts, "open_alerts_by_severity": listing.by_severity}


async def _pending(session: AsyncSession, requester: Requester) -> dict[str, Any]:
    decides = requests.DECIDE.allows(requester)
    rows, total = await request_repo.listing(
        session,
        msp_id=requester.msp_id,
        statuses=[RequestStatus.PENDING.value],
        requested_by=None if decides else requester.user_id,
        member=None,
        limit=PENDING_SHOWN,
    )
    return {
        "pending_requests": [info_of(row) for row in rows],
        "pending_total": total,
        "decides_requests": decides,
    }


async def _delivery_problems(
    session: AsyncSession, requester: Requester, now: datetime
) -> DeliveryProblems | None:
    if not delivery_status.SEE.allows(requester):
        return None
    queued, _ = await outbox_repo.depth_and_oldest(session, msp_id=requester.msp_id)
    failed = await outbox_repo.failures_by_reason(
        session, msp_id=requester.msp_id, since=now - timedelta(days=DELIVERY_PROBLEM_DAYS)
    )
    return DeliveryProblems(failed=sum(failed.values()), queued=queued)


def _trial_ending(customer: Customer, today: date) -> TrialEnding:
    assert customer.trial_end is not None, "selected by its trial end"
    return TrialEnding(
        id=customer.id,
        account_number=customer.account_number,
        name=customer.name,
        trial_end=customer.trial_end,
        days_left=trial_days_left(customer.trial_end, today=today) or 0,
        users=customer.users,
    )


def _silent(customer: Customer) -> SilentAgents:
    return SilentAgents(
        id=customer.id,
        account_number=customer.account_number,
        name=customer.name,
        reporting=customer.agents_reporting,
        total=customer.agents_total,
    )


def _at_threshold(row: dashboard_repo.AtThresholdRow) -> AtThreshold:
    return AtThreshold(*row)
