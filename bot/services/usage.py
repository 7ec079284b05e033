"""Usage reports from other systems (POST /api/v1/usage): each customer's monthly
active users, users, agents and data for a month.

A report is all or nothing: if any item names a customer the MSP does not have,
nothing is written. Sending the same report again leaves the same rows and
figures (only the time of the last report moves), so a sender may safely retry.
A report may carry only some figures (an RMM knows agents, the vendor MAU): those
absent are left as they are, on the month's row (a new row starts at zero) and on
the customer. Every change of figures is audited with the sender as its actor.
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

from bot.domain.usage import format_month, month_of, next_month, reached_max_mau
from bot.errors import ItemProblem, ItemsRejected, NotFound
from bot.services import alerts, audit
from bot.services.alert_routing import AlertNotifier
from bot.services.api_customers import NamedCustomers, customers_named
from bot.services.usage_alerts import ReportedFigures, usage_alerts
from storage.models import Msp
from storage.repositories import msps as msp_repo
from storage.repositories import usage as usage_repo
from storage.repositories.usage import NamedCustomer

MAX_REPORTS = 1000
AGENTS = frozenset({"agents_total", "agents_reporting"})


@dataclass(frozen=True, slots=True)
class UsageReport:
    """One customer's figures for one month. `customer` is an account number or the
    customer's exact name (case-insensitive); `month` is the month's first day."""

    customer: str
    month: date
    mau: int | None = None  # None: not reported, left as it is
    users: int | None = None
    agents_total: int | None = None
    agents_reporting: int | None = None
    data_gb: float | None = None


UsageProblem = ItemProblem


class UsageRejected(ItemsRejected):
    """Some reports cannot be accepted, so none were written."""

    def __init__(self, problems: list[ItemProblem]) -> None:
        super().__init__("Nothing was recorded: some reports cannot be accepted.", problems)


@dataclass(frozen=True, slots=True)
class UsageResult:
    accepted: int
    created: int
    updated: int
    max_mau_reached: list[str]  # account numbers of customers that reached it (R20)


@dataclass(frozen=True, slots=True)
class _Matched:
    index: int
    report: UsageReport
    customer: NamedCustomer


@dataclass(frozen=True, slots=True)
class _Merged:
    """A matched report with the month's figures after it (the stored ones, then
    what it reports) and those before (None: the month had no row yet)."""

    item: _Matched
    before: dict[str, Any] | None
    after: dict[str, Any]


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
    await msp_repo.lock(session, msp_id=msp_id)  # before the customers: see record_alerts
    await msp_repo.mark_home_stale(session, msp_id=msp_id, now=now)
    customers = await customers_named(
        session, msp_id=msp_id, references=[report.customer for report in reports]
    )
    matched = _match(reports, customers, current_month=current)
    customer_ids = {item.customer.id for item in matched}
    stored = await usage_repo.reported_figures(
        session,
        msp_id=msp_id,
        customer_ids=customer_ids,
        months={item.report.month for item in matched},
    )
    merged = _merge(matched, stored)
    latest = await usage_repo.latest_months(session, msp_id=msp_id, customer_ids=customer_ids)
    await usage_repo.upsert(session, [_usage_row(msp_id, one, now) for one in merged])
    shown = await usage_repo.shown_figures(session, msp_id=msp_id, customer_ids=customer_ids)
    newest = _newest_figures(merged, latest=latest, shown=shown, current_month=current)
    await usage_repo.set_latest_figures(session, msp_id=msp_id, rows=newest, now=now)
    await usage_repo.append_audit_events(
        session, _figure_changes(merged, msp_id=msp_id, actor=actor, now=now)
    )
    reached = await _record_max_mau_reached(
        session,
        msp_id=msp_id,
        merged=merged,
        current_month=current,
        actor=actor,
        now=now,
    )
    await _raise_usage_alerts(
        session,
        msp_id=msp_id,
        merged=merged,
        reached=reached,
        current_month=current,
        actor=actor,
        now=now,
        notifier=notifier,
    )
    created = sum(1 for one in merged if one.before is None)
    return UsageResult(
        accepted=len(matched),
        created=created,
        updated=len(matched) - created,
        max_mau_reached=reached,
    )


def _match(
    reports: Sequence[UsageReport], customers: NamedCustomers, *, current_month: date
) -> list[_Matched]:
    """Each report with its customer: an account number first, then an exact name.

    Raises UsageRejected with every problem at once, so a sender fixes them in one go."""
    latest_allowed = next_month(current_month)
    problems: list[UsageProblem] = []
    matched: list[_Matched] = []
    first_index: dict[tuple[int, date], int] = {}
    for index, report in enumerate(reports):
        customer = customers.find(report.customer)
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
        matched.append(_Matched(index, report, customer))
    if problems:
        raise UsageRejected(problems)
    return matched


def _reported(report: UsageReport) -> dict[str, Any]:
    """The figures the report carries (those absent are left as they are)."""
    return {
        name: value for name in usage_repo.FIGURES if (value := getattr(report, name)) is not None
    }


def _merge(
    matched: list[_Matched], stored: dict[tuple[int, date], dict[str, Any]]
) -> list[_Merged]:
    """Each report over the month's stored figures. Raises UsageRejected when a
    partial report would leave more agents reporting than installed."""
    merged: list[_Merged] = []
    problems: list[UsageProblem] = []
    for item in matched:
        before = stored.get((item.customer.id, item.report.month))
        after = {**(before or dict.fromkeys(usage_repo.FIGURES, 0)), **_reported(item.report)}
        if after["agents_reporting"] > after["agents_total"]:
            problems.append(_too_many_reporting(item.index, after["agents_total"]))
        merged.append(_Merged(item, before, after))
    if problems:
        raise UsageRejected(problems)
    return merged


def _too_many_reporting(index: int, total: int) -> UsageProblem:
    return UsageProblem(
        index, "agents_reporting", f"Cannot be more than agents_total ({total}) for this month."
    )


def _usage_row(msp_id: int, merged: _Merged, now: datetime) -> dict[str, Any]:
    return {
        "msp_id": msp_id,
        "customer_id": merged.item.customer.id,
        "month": merged.item.report.month,
        "reported_at": now,
        **merged.after,
    }


def _newest_figures(
    merged: list[_Merged],
    *,
    latest: dict[int, date],
    shown: dict[int, dict[str, Any]],
    current_month: date,
) -> list[dict[str, Any]]:
    """The figures to show on each customer: those the newest month reported in
    this request carries, over what the customer shows, when that month is the
    current month or no older than the newest month reported before (a late report
    for an old month must not hide newer figures)."""
    newest: dict[int, _Merged] = {}
    for one in merged:
        seen = newest.get(one.item.customer.id)
        if seen is None or one.item.report.month > seen.item.report.month:
            newest[one.item.customer.id] = one
    rows = []
    for customer_id, one in newest.items():
        month = one.item.report.month
        if month != current_month and customer_id in latest and month < latest[customer_id]:
            continue
        reported = _reported(one.item.report)
        if reported.keys() & AGENTS:  # a count and a part of it: kept as one pair
            reported.update({name: one.after[name] for name in AGENTS})
        rows.append({"customer_id": customer_id, **shown[customer_id], **reported})
    return rows


def _figure_changes(
    merged: list[_Merged], *, msp_id: int, actor: str, now: datetime
) -> list[dict[str, Any]]:
    """R22: one audit event per report that changed a month's figures, with the
    figures before and after (only those that changed). A resend changes none."""
    events = []
    for one in merged:
        before = one.before or dict.fromkeys(usage_repo.FIGURES, 0)
        changed = [name for name in usage_repo.FIGURES if before[name] != one.after[name]]
        if not changed:
            continue
        month = format_month(one.item.report.month)
        events.append(
            {
                "msp_id": msp_id,
                "actor": actor,
                "action": audit.AuditAction.CUSTOMER_USAGE_REPORTED.value,
                "entity_type": "customer",
                "entity_id": one.item.customer.account_number,
                "before": {"month": month, **{name: before[name] for name in changed}},
                "after": {"month": month, **{name: one.after[name] for name in changed}},
                "created_at": now,
            }
        )
    return events


async def _record_max_mau_reached(
    session: AsyncSession,
    *,
    msp_id: int,
    merged: list[_Merged],
    current_month: date,
    actor: str,
    now: datetime,
) -> list[str]:
    """R20: audit each customer whose MAU this month crossed its threshold (the
    first report of a month may cross hundreds at once: one statement writes them)."""
    month = format_month(current_month)
    events: list[dict[str, Any]] = []
    for one in merged:
        if one.item.report.month != current_month:
            continue
        before = (one.before or {}).get("mau", 0)
        after = one.after["mau"]
        threshold = one.item.customer.max_mau_threshold
        if reached_max_mau(before, after, threshold):
            events.append(
                {
                    "entity_id": one.item.customer.account_number,
                    "before": {"month": month, "mau": before, "max_mau_threshold": threshold},
                    "after": {"month": month, "mau": after, "max_mau_threshold": threshold},
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
    merged: list[_Merged],
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
        ReportedFigures(customer=one.item.customer, **one.after)
        for one in merged
        if one.item.report.month == current_month
    ]
    await alerts.record_matched(
        session,
        msp_id=msp_id,
        matched=usage_alerts(figures, reached_max_mau=set(reached), month=current_month),
        source=alerts.BOT_SOURCE,
        actor=actor,
        now=now,
        notifier=notifier,
    )
