"""Alerts taken in (POST /api/v1/alerts, `msp-bot alerts send`, and the bot's own
from usage reports): one open alert per dedup key.

A batch is all or nothing: if any item names a customer the MSP does not have,
nothing is written. A firing report for a key with an open alert is a repeat
(occurrences + 1, the worst severity kept, the text refreshed); for a key whose
last alert is resolved it makes a new alert (reopened). A resolved report closes
the open alert of its key, or is accepted and ignored when there is none.
New, reopened, repeated and resolved alerts are routed to their subscribers
(bot.services.alert_routing) through the `AlertNotifier` the caller hands in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.alerts import (
    AlertLink,
    AlertStatus,
    ReportedStatus,
    Severity,
    default_dedup_key,
    text_problems,
    worst,
)
from bot.domain.customers import name_key, stored_account_number
from bot.errors import BotError, InvalidInput, NotFound
from bot.services import alert_routing, audit
from bot.services.alert_routing import AlertNotifier
from storage.models import Msp
from storage.repositories import alerts as alert_repo
from storage.repositories import msps as msp_repo
from storage.repositories import usage as usage_repo
from storage.repositories.usage import NamedCustomer

MAX_ALERTS = 500
# The source of the alerts the bot raises itself (from usage reports).
BOT_SOURCE = "bot"
CLI_SOURCE = "cli"
SEVERITY_RANKS = {severity.value: severity.rank for severity in Severity}


@dataclass(frozen=True, slots=True)
class AlertReport:
    """One alert as a sender reports it. `customer` is an account number or the
    customer's exact name (case-insensitive)."""

    customer: str
    kind: str
    severity: Severity
    title: str
    details: str = ""
    dedup_key: str | None = None
    status: ReportedStatus = ReportedStatus.FIRING
    occurred_at: datetime | None = None
    links: tuple[AlertLink, ...] = ()


@dataclass(frozen=True, slots=True)
class AlertProblem:
    index: int
    field: str
    message: str


class AlertsRejected(BotError):
    """Some alerts cannot be accepted, so none were written."""

    def __init__(self, problems: list[AlertProblem]) -> None:
        super().__init__("Nothing was recorded: some alerts name no customer of this MSP.")
        self.problems = problems


@dataclass(frozen=True, slots=True)
class AlertResult:
    accepted: int
    created: int  # new alerts, reopened ones included
    updated: int  # repeats of an open alert
    resolved: int
    reopened: int  # new alerts for a key whose last alert was resolved
    ignored: int  # resolved reports for a key with no open alert
    ids: list[int]  # the alerts created, updated or resolved


@dataclass(frozen=True, slots=True)
class MatchedAlert:
    report: AlertReport
    customer: NamedCustomer

    @property
    def dedup_key(self) -> str:
        return self.report.dedup_key or default_dedup_key(
            self.report.kind, self.customer.account_number
        )


async def record_alerts(
    session: AsyncSession,
    *,
    msp_id: int,
    items: Sequence[AlertReport],
    source: str,
    actor: str,
    now: datetime,
    notifier: AlertNotifier,
) -> AlertResult:
    """Record a batch of alerts; raises AlertsRejected naming every unknown customer."""
    if await session.get(Msp, msp_id) is None:
        raise NotFound("This token's MSP no longer exists.")
    # The MSP's turn first (PostgreSQL), before the customers' rows: alert groups are
    # read and opened one batch at a time. Then written, so this transaction holds
    # SQLite's write lock before it reads the open alerts (the partial unique index
    # settles the rest). A refused batch rolls it back with everything else.
    await msp_repo.lock(session, msp_id=msp_id)
    await msp_repo.mark_home_stale(session, msp_id=msp_id, now=now)
    customers = await usage_repo.customers_named(
        session,
        msp_id=msp_id,
        account_numbers={
            account for item in items if (account := stored_account_number(item.customer))
        },
        name_keys={name_key(item.customer) for item in items},
    )
    matched = _match(items, customers)
    return await record_matched(
        session,
        msp_id=msp_id,
        matched=matched,
        source=source,
        actor=actor,
        now=now,
        notifier=notifier,
    )


async def send_as_operator(
    session: AsyncSession,
    *,
    team_id: str,
    report: AlertReport,
    now: datetime,
    notifier: AlertNotifier,
) -> AlertResult:
    """One alert from the command line (`msp-bot alerts send`), source "cli"."""
    problems = text_problems(
        kind=report.kind, title=report.title, details=report.details, dedup_key=report.dedup_key
    )
    if problems:
        raise InvalidInput(" ".join(problems))
    msp = await msp_repo.get_by_team(session, team_id)
    if msp is None:
        raise NotFound(f"No MSP for {team_id} yet: nothing was recorded.")
    try:
        return await record_alerts(
            session,
            msp_id=msp.id,
            items=[report],
            source=CLI_SOURCE,
            actor=audit.OPERATOR_ACTOR,
            now=now,
            notifier=notifier,
        )
    except AlertsRejected as rejected:
        raise NotFound(f"{rejected.problems[0].message} Nothing was recorded.") from None


def _match(items: Sequence[AlertReport], customers: list[NamedCustomer]) -> list[MatchedAlert]:
    """Each alert with its customer: an account number first, then an exact name."""
    by_account = {customer.account_number: customer for customer in customers}
    by_name = {customer.name_key: customer for customer in customers}
    problems: list[AlertProblem] = []
    matched: list[MatchedAlert] = []
    for index, item in enumerate(items):
        account = stored_account_number(item.customer)
        customer = (by_account.get(account) if account else None) or by_name.get(
            name_key(item.customer)
        )
        if customer is None:
            problems.append(
                AlertProblem(index, "customer", f"No customer {item.customer} in this MSP.")
            )
        else:
            matched.append(MatchedAlert(item, customer))
    if problems:
        raise AlertsRejected(problems)
    return matched


async def record_matched(
    session: AsyncSession,
    *,
    msp_id: int,
    matched: Sequence[MatchedAlert],
    source: str,
    actor: str,
    now: datetime,
    notifier: AlertNotifier,
) -> AlertResult:
    """Record alerts whose customers are known (the usage service's own alerts come
    in here): two reads, at most one UPDATE, one upsert and one audit insert, then
    the routing's few reads and the messages."""
    if not matched:
        return AlertResult(0, 0, 0, 0, 0, 0, [])
    by_key: dict[str, list[MatchedAlert]] = {}
    for item in matched:
        by_key.setdefault(item.dedup_key, []).append(item)
    existing = await alert_repo.open_alerts(session, msp_id=msp_id, dedup_keys=by_key)
    history = await alert_repo.resolved_counts(session, msp_id=msp_id, dedup_keys=by_key)
    context = _Context(msp_id=msp_id, source=source, now=now)
    plans = [
        _fold(items, existing=existing.get(key), resolved_before=history.get(key, 0), ctx=context)
        for key, items in by_key.items()
    ]
    resolutions = [plan.resolution for plan in plans if plan.resolution is not None]
    await alert_repo.resolve(session, msp_id=msp_id, rows=resolutions)
    written = await alert_repo.upsert(
        session, [row for plan in plans for row in plan.rows], ranks=SEVERITY_RANKS
    )
    new_keys = {plan.key for plan in plans if plan.created}
    await usage_repo.append_audit_events(
        session,
        _audit_rows(plans, written, new_keys=new_keys, msp_id=msp_id, actor=actor, now=now),
    )
    new_ids = {row.id for row in written if row.dedup_key in new_keys}
    changed_ids = {row.id for row in written if row.id not in new_ids}
    changed_ids |= {row["id"] for row in resolutions}
    await alert_routing.route(
        session,
        msp_id=msp_id,
        new_ids=new_ids,
        changed_ids=changed_ids,
        notifier=notifier,
        now=now,
    )
    ids = new_ids | changed_ids
    return AlertResult(
        accepted=len(matched),
        created=sum(plan.created for plan in plans),
        updated=sum(plan.updated for plan in plans),
        resolved=sum(plan.resolved for plan in plans),
        reopened=sum(plan.reopened for plan in plans),
        ignored=sum(plan.ignored for plan in plans),
        ids=sorted(ids),
    )


@dataclass(frozen=True, slots=True)
class _Context:
    msp_id: int
    source: str
    now: datetime


@dataclass
class _KeyPlan:
    """What a batch does to one dedup key: the open alert it resolves (with the
    repeats before that), and the rows to upsert (new alerts, or repeats folded
    into the open one)."""

    key: str
    described: MatchedAlert
    resolution: dict[str, Any] | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    resolved: int = 0
    reopened: int = 0
    ignored: int = 0


def _fold(
    items: list[MatchedAlert],
    *,
    existing: alert_repo.OpenAlert | None,
    resolved_before: int,
    ctx: _Context,
) -> _KeyPlan:
    """Walk one key's reports in order. At most one open row comes out of it, so
    the upsert never touches a row twice."""
    plan = _KeyPlan(key=items[0].dedup_key, described=items[-1])
    open_row: dict[str, Any] | None = None  # a new alert this batch still has open
    repeats: list[MatchedAlert] = []  # folded into `existing` while it is open
    existing_open = existing is not None
    for item in items:
        firing = item.report.status is ReportedStatus.FIRING
        if firing and (existing_open or open_row is not None):
            plan.updated += 1
            if open_row is not None:
                _repeat(open_row, item, ctx)
            else:
                repeats.append(item)
        elif firing:
            open_row = _new_row(item, ctx, reopened=resolved_before)
            plan.rows.append(open_row)
            plan.created += 1
            plan.reopened += 1 if resolved_before else 0
        elif open_row is not None:
            open_row.update(status=AlertStatus.RESOLVED.value, resolved_at=ctx.now)
            open_row = None
            plan.resolved += 1
            resolved_before += 1
        elif existing_open:
            assert existing is not None
            plan.resolution = _resolution(existing, repeats, ctx)
            existing_open, repeats = False, []
            plan.resolved += 1
            resolved_before += 1
        else:
            plan.ignored += 1
    if repeats:
        plan.rows.append(_repeats_row(repeats, ctx))
    return plan


def _new_row(item: MatchedAlert, ctx: _Context, *, reopened: int) -> dict[str, Any]:
    report = item.report
    occurred = report.occurred_at.astimezone(UTC) if report.occurred_at else ctx.now
    return {
        "msp_id": ctx.msp_id,
        "customer_id": item.customer.id,
        "customer_name": item.customer.name,
        "kind": report.kind,
        "severity": report.severity.value,
        "title": report.title,
        "details": report.details,
        "dedup_key": item.dedup_key,
        "status": AlertStatus.FIRING.value,
        "source": ctx.source,
        "links": [{"url": link.url, "label": link.label} for link in report.links],
        "occurrences": 1,
        "reopened": reopened,
        "occurred_at": occurred,
        "first_seen_at": ctx.now,
        "last_seen_at": ctx.now,
        "acknowledged_by": None,
        "acknowledged_at": None,
        "snoozed_until": None,
        "snoozed_by": None,
        "resolved_at": None,
        "resolved_by": None,
        "updated_at": ctx.now,
    }


def _repeat(row: dict[str, Any], item: MatchedAlert, ctx: _Context) -> None:
    """Fold a repeat into a row: one more occurrence, the worst severity, its text."""
    report = item.report
    row.update(
        occurrences=row["occurrences"] + 1,
        severity=worst(Severity(row["severity"]), report.severity).value,
        title=report.title,
        details=report.details,
        links=[{"url": link.url, "label": link.label} for link in report.links],
        last_seen_at=ctx.now,
    )


def _repeats_row(repeats: list[MatchedAlert], ctx: _Context) -> dict[str, Any]:
    """The repeats of an open alert as one row to upsert: it conflicts with the open
    alert, which takes its occurrences, severity (if worse) and text."""
    row = _new_row(repeats[0], ctx, reopened=0)
    for item in repeats[1:]:
        _repeat(row, item, ctx)
    return row


def _resolution(
    existing: alert_repo.OpenAlert, repeats: list[MatchedAlert], ctx: _Context
) -> dict[str, Any]:
    severity = Severity(existing.severity)
    for item in repeats:
        severity = worst(severity, item.report.severity)
    return {
        "id": existing.id,
        "occurrences_added": len(repeats),
        "severity": severity.value,
        "resolved_at": ctx.now,
    }


def _audit_rows(
    plans: list[_KeyPlan],
    written: list[alert_repo.WrittenAlert],
    *,
    new_keys: set[str],
    msp_id: int,
    actor: str,
    now: datetime,
) -> list[dict[str, Any]]:
    """An alert.created event per new alert, an alert.resolved one per resolution."""
    described = {plan.key: plan.described for plan in plans}
    base = {"msp_id": msp_id, "actor": actor, "entity_type": "alert", "created_at": now}
    rows: list[dict[str, Any]] = []
    for alert in written:
        if alert.dedup_key not in new_keys:
            continue
        after = _described(described[alert.dedup_key], alert.dedup_key)
        created = audit.AuditAction.ALERT_CREATED.value
        rows.append({**base, "action": created, "entity_id": str(alert.id), "after": after})
        if alert.status == AlertStatus.RESOLVED.value:
            rows.append(_resolved_event(base, alert.id, after))
    for plan in plans:
        if plan.resolution is not None:
            after = _described(plan.described, plan.key)
            rows.append(_resolved_event(base, plan.resolution["id"], after))
    return rows


def _resolved_event(base: dict[str, Any], alert_id: int, after: dict[str, Any]) -> dict[str, Any]:
    return {
        **base,
        "action": audit.AuditAction.ALERT_RESOLVED.value,
        "entity_id": str(alert_id),
        "after": {**after, "status": AlertStatus.RESOLVED.value},
    }


def _described(item: MatchedAlert, key: str) -> dict[str, Any]:
    return {
        "customer": item.customer.account_number,
        "kind": item.report.kind,
        "severity": item.report.severity.value,
        "dedup_key": key,
    }
