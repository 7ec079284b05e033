"""The alerts the bot raises itself from usage reports (source "bot"): a customer
that reached its max-MAU threshold (R20), a free customer or expired trial over
the free limits (R15), and agents not reporting. Each is resolved by a later report that is back
within bounds (max-MAU alerts are per month, so the next month starts afresh).

Only the reports for the MSP's current month count: a late report for an old
month says nothing about today."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from bot.domain.alerts import (
    KIND_AGENTS_NOT_REPORTING,
    KIND_MAX_MAU_REACHED,
    KIND_OVER_FREE_LIMITS,
    ReportedStatus,
    Severity,
)
from bot.domain.mau import readable_month
from bot.domain.requests import FREE_MAX_DATA_GB, FREE_MAX_USERS, is_over_free_limits
from bot.domain.usage import format_month
from bot.services.alerts import AlertReport, MatchedAlert
from storage.repositories.usage import NamedCustomer


@dataclass(frozen=True, slots=True)
class ReportedFigures:
    """A customer's figures for the current month, as just reported."""

    customer: NamedCustomer
    mau: int
    users: int
    agents_total: int
    agents_reporting: int
    data_gb: float


def usage_alerts(
    figures: Sequence[ReportedFigures], *, reached_max_mau: set[str], month: date
) -> list[MatchedAlert]:
    """The alerts these figures raise or resolve. `reached_max_mau` holds the
    account numbers that crossed their threshold with this report (R20)."""
    alerts: list[MatchedAlert] = []
    for reported in figures:
        if reported.customer.account_number in reached_max_mau:
            alerts.append(max_mau_reached(reported, month))
        alerts.append(over_free_limits(reported))
        alerts.append(_agents_not_reporting(reported))
    return alerts


def _alert(
    reported: ReportedFigures,
    *,
    kind: str,
    severity: Severity,
    title: str,
    firing: bool,
    dedup_key: str | None = None,
) -> MatchedAlert:
    customer = reported.customer
    report = AlertReport(
        customer=customer.account_number,
        kind=kind,
        severity=severity,
        title=title,
        dedup_key=dedup_key,
        status=ReportedStatus.FIRING if firing else ReportedStatus.RESOLVED,
    )
    return MatchedAlert(report, customer)


def max_mau_reached(reported: ReportedFigures, month: date) -> MatchedAlert:
    """R20, once per customer and `month` (its first day): the title says the month
    as people read it, the dedup key as senders write it (`2026-11`). The titles here
    leave out the customer's name: every alert message names it beside the title."""
    customer = reported.customer
    return _alert(
        reported,
        kind=KIND_MAX_MAU_REACHED,
        severity=Severity.HIGH,
        title=f"Max-MAU threshold reached for {readable_month(month)}: {reported.mau:,} "
        f"MAU of {customer.max_mau_threshold:,}; new end users are blocked",
        firing=True,
        dedup_key=f"{KIND_MAX_MAU_REACHED}:{customer.account_number}:{format_month(month)}",
    )


def over_free_limits(reported: ReportedFigures) -> MatchedAlert:
    over = is_over_free_limits(
        status=reported.customer.status, users=reported.users, data_gb=reported.data_gb
    )
    return _alert(
        reported,
        kind=KIND_OVER_FREE_LIMITS,
        severity=Severity.MEDIUM,
        title=f"Over the free plan's limits: {reported.users:,} users and "
        f"{reported.data_gb:g} GB (the free plan allows {FREE_MAX_USERS} users and "
        f"{FREE_MAX_DATA_GB} GB)",
        firing=over,
    )


def _agents_not_reporting(reported: ReportedFigures) -> MatchedAlert:
    silent = reported.agents_total - reported.agents_reporting
    return _alert(
        reported,
        kind=KIND_AGENTS_NOT_REPORTING,
        severity=Severity.MEDIUM,
        title=f"{silent:,} of {reported.agents_total:,} agents "
        f"{'is' if silent == 1 else 'are'} not reporting",
        firing=silent > 0,
    )
