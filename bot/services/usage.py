"""Usage reports from other systems (POST /api/v1/usage): each customer's monthly
active users, users, agents and data for a month.

A report is all or nothing: if any item names a customer the MSP does not have,
nothing is written. Sending the same report again leaves the same rows and
figures (only the time of the last report moves), so a sender may safely retry.
R20: a customer whose MAU this month reaches its max-MAU threshold is recorded
in the audit log. The current month's figures also raise and resolve the bot's
own alerts (bot.services.usage_alerts): max-MAU reached, over the free limits,
agents not reporting.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.customers import name_key, stored_account_number
from bot.domain.usage import format_month, month_of, next_month, reached_max_mau
from bot.errors import BotError, NotFound
from bot.services import alerts, audit
from bot.services.alert_routing import AlertNotifier
from bot.services.usage_alerts import ReportedFigures, usage_alerts
from storage.models import Msp
from storage.repositories import msps as msp_repo
from storage.repositories import usage as usage_repo
from storage.repositories.usage import NamedCustomer

MAX_REPORTS = 1000


@dataclass(frozen=True, slots=True)
class UsageReport:
    """One customer's figures for one month. `customer` is an account number or the
    customer's exact name (case-insensitive); `month` is the month's first day."""

    customer: str
    month: date
    mau: int
    users: int
    agents_total: int
    agents_reporting: int
    data_gb: float


@dataclass(frozen=True, slots=True)
class UsageProblem:
    """Why the report at `index` was refused; `field` is the name of its field."""

    index: int
    field: str
    message: str


class UsageRejected(BotError):
    """Some reports cannot be accepted, so none were written."""

    def __init__(self, problems: list[UsageProblem]) -> None:
        super().__init__("Nothing was recorded: some reports name no customer of this MSP.")
        self.problems = problems


@dataclass(frozen=True, slots=True)
class UsageResult:
    accepted: int
    created: int
    updated: int
    max_mau_reached: list[str]  # account numbers of customers that reached it (R20)


@dataclass(frozen=True, slots=True)
class _Matched:
    report: UsageReport
    customer: NamedCustomer


async def record_usage(
    session: AsyncSession,
    *,
    msp_id: int,
    reports: Sequence[UsageReport],
    actor: str,
    now: datetime,
    notifier: AlertNotifier,
) -> UsageResult:
    """Store the reports (one upsert per customer and month) and copy the newest
    figures onto each customer. Raises UsageRejected naming every bad report."""
    msp = await session.get(Msp, msp_id)
    if msp is None:
        raise NotFound("This token's MSP no longer exists.")
    current = month_of(now.astimezone(zoneinfo.ZoneInfo(msp.timezone)).date())
    # Written first, so this transaction holds SQLite's write lock before it reads:
    # two reports at once then see each other's figures, and a threshold crossing
    # (R20) is recorded once. (PostgreSQL locks the customers' rows instead.) A
    # refused report rolls it back with everything else.
    await msp_repo.mark_home_stale(session, msp_id=msp_id, now=now)
    customers = await _customers_named(session, msp_id=msp_id, reports=reports)
    matched = _match(reports, customers, current_month=current)
    customer_ids = {item.customer.id for item in matched}
    already = await usage_repo.reported_mau(
        session,
        msp_id=msp_id,
        customer_ids=customer_ids,
        months={item.report.month for item in matched},
    )
    latest = await usage_repo.latest_months(session, msp_id=msp_id, customer_ids=customer_ids)
    await usage_repo.upsert(session, [_usage_row(msp_id, item, now) for item in matched])
    newest = _newest_figures(matched, latest=latest, current_month=current)
    await usage_repo.set_latest_figures(session, msp_id=msp_id, rows=newest, now=now)
    reached = await _record_max_mau_reached(
        session,
        msp_id=msp_id,
        matched=matched,
        already=already,
        current_month=current,
        actor=actor,
        now=now,
    )
    await _raise_usage_alerts(
        session,
        msp_id=msp_id,
        matched=matched,
        reached=reached,
        current_month=current,
        actor=actor,
        now=now,
        notifier=notifier,
    )
    created = sum(1 for item in matched if (item.customer.id, item.report.month) not in already)
    return UsageResult(
        accepted=len(matched),
        created=created,
        updated=len(matched) - created,
        max_mau_reached=reached,
    )


async def _customers_named(
    session: AsyncSession, *, msp_id: int, reports: Sequence[UsageReport]
) -> list[NamedCustomer]:
    account_numbers = {
        account for report in reports if (account := stored_account_number(report.customer))
    }
    return await usage_repo.customers_named(
        session,
        msp_id=msp_id,
        account_numbers=account_numbers,
        name_keys={name_key(report.customer) for report in reports},
    )


def _match(
    reports: Sequence[UsageReport], customers: list[NamedCustomer], *, current_month: date
) -> list[_Matched]:
    """Each report with its customer: an account number first, then an exact name.

    Raises UsageRejected with every problem at once, so a sender fixes them in one go."""
    by_account = {customer.account_number: customer for customer in customers}
    by_name = {customer.name_key: customer for customer in customers}
    latest_allowed = next_month(current_month)
    problems: list[UsageProblem] = []
    matched: list[_Matched] = []
    first_index: dict[tuple[int, date], int] = {}
    for index, report in enumerate(reports):
        account = stored_account_number(report.customer)
        customer = (by_account.get(account) if account else None) or by_name.get(
            name_key(report.customer)
        )
        if customer is None:
            problems.append(
                UsageProblem(index, "customer", f"No customer {report.customer} in this MSP.")
            )
            continue
        if report.month > latest_allowed:
            problems.append(
                UsageProblem(
                    index,
                    "month",
                    f"{format_month(report.month)} is more than one month ahead "
                    f"(this MSP's current month is {format_month(current_month)}).",
                )
            )
            continue
        key = (customer.id, report.month)
        if key in first_index:
            problems.append(
                UsageProblem(
                    index,
                    "customer",
                    f"usage[{first_index[key]}] already reports {customer.account_number} "
                    f"for {format_month(report.month)}: send one report per customer and month.",
                )
            )
            continue
        first_index[key] = index
        matched.append(_Matched(report, customer))
    if problems:
        raise UsageRejected(problems)
    return matched


def _figures(report: UsageReport) -> dict[str, Any]:
    return {
        "mau": report.mau,
        "users": report.users,
        "agents_total": report.agents_total,
        "agents_reporting": report.agents_reporting,
        "data_gb": report.data_gb,
    }


def _usage_row(msp_id: int, item: _Matched, now: datetime) -> dict[str, Any]:
    return {
        "msp_id": msp_id,
        "customer_id": item.customer.id,
        "month": item.report.month,
        "reported_at": now,
        **_figures(item.report),
    }


def _newest_figures(
    matched: list[_Matched], *, latest: dict[int, date], current_month: date
) -> list[dict[str, Any]]:
    """The figures to show on each customer: those of the newest month reported in
    this request, when that is the current month or no older than the newest month
    reported before (a late report for an old month must not hide newer figures)."""
    newest: dict[int, UsageReport] = {}
    for item in matched:
        seen = newest.get(item.customer.id)
        if seen is None or item.report.month > seen.month:
            newest[item.customer.id] = item.report
    return [
        {"customer_id": customer_id, **_figures(report)}
        for customer_id, report in newest.items()
        if report.month == current_month
        or customer_id not in latest
        or report.month >= latest[customer_id]
    ]


async def _record_max_mau_reached(
    session: AsyncSession,
    *,
    msp_id: int,
    matched: list[_Matched],
    already: dict[tuple[int, date], int],
    current_month: date,
    actor: str,
    now: datetime,
) -> list[str]:
    """R20: audit each customer whose MAU this month crossed its threshold (the
    first report of a month may cross hundreds at once: one statement writes them)."""
    month = format_month(current_month)
    events: list[dict[str, Any]] = []
    for item in matched:
        if item.report.month != current_month:
            continue
        before = already.get((item.customer.id, current_month), 0)
        threshold = item.customer.max_mau_threshold
        if reached_max_mau(before, item.report.mau, threshold):
            events.append(
                {
                    "entity_id": item.customer.account_number,
                    "before": {"month": month, "mau": before, "max_mau_threshold": threshold},
                    "after": {
                        "month": month,
                        "mau": item.report.mau,
                        "max_mau_threshold": threshold,
                    },
                }
            )
    await usage_repo.append_audit_events(
        session,
        [
            {
                "msp_id": msp_id,
                "actor": actor,
                "action": audit.AuditAction.CUSTOMER_MAX_MAU_REACHED.value,
                "entity_type": "customer",
                "created_at": now,
                **event,
            }
            for event in events
        ],
    )
    return [event["entity_id"] for event in events]


async def _raise_usage_alerts(
    session: AsyncSession,
    *,
    msp_id: int,
    matched: list[_Matched],
    reached: list[str],
    current_month: date,
    actor: str,
    now: datetime,
    notifier: AlertNotifier,
) -> None:
    """The bot's own alerts from this month's figures, in the same transaction (a
    refused report raises none), set-based like the rest. The audit log names the
    report's sender as their actor; the alerts' source is the bot."""
    figures = [
        ReportedFigures(customer=item.customer, **_figures(item.report))
        for item in matched
        if item.report.month == current_month
    ]
    await alerts.record_matched(
        session,
        msp_id=msp_id,
        matched=usage_alerts(
            figures, reached_max_mau=set(reached), month=format_month(current_month)
        ),
        source=alerts.BOT_SOURCE,
        actor=actor,
        now=now,
        notifier=notifier,
    )
