"""Alerts, written set-based: a batch of 500 is a handful of statements whatever
its size (reads of the keys it names, one resolving UPDATE, one upsert)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Alert, AlertMessage, CustomerAssignment
from storage.repositories._conditional import move_if_status

# The predicate of the partial unique index uq_alerts_open_dedup_key, as the
# upsert must name it for the database to pick that index as its arbiter.
RESOLVED = "resolved"
_OPEN = text("status != 'resolved'")
# What a repeat refreshes on the open alert it lands on.
_REFRESHED = ("title", "details", "links", "last_seen_at", "updated_at")


@dataclass(frozen=True, slots=True)
class OpenAlert:
    id: int
    dedup_key: str
    severity: str
    occurrences: int


@dataclass(frozen=True, slots=True)
class WrittenAlert:
    id: int
    dedup_key: str
    status: str


async def open_alerts(
    session: AsyncSession, *, msp_id: int, dedup_keys: Collection[str]
) -> dict[str, OpenAlert]:
    """The MSP's open alert for each of these keys (there is at most one each)."""
    statement = select(Alert.id, Alert.dedup_key, Alert.severity, Alert.occurrences).where(
        Alert.msp_id == msp_id,
        Alert.dedup_key.in_(sorted(dedup_keys)),
        Alert.status != RESOLVED,
    )
    return {row.dedup_key: OpenAlert(*row) for row in (await session.execute(statement)).all()}


async def resolved_counts(
    session: AsyncSession, *, msp_id: int, dedup_keys: Collection[str]
) -> dict[str, int]:
    """How many resolved alerts each of these keys has had: a new one reopens."""
    statement = (
        select(Alert.dedup_key, func.count())
        .where(
            Alert.msp_id == msp_id,
            Alert.dedup_key.in_(sorted(dedup_keys)),
            Alert.status == RESOLVED,
        )
        .group_by(Alert.dedup_key)
    )
    return {key: count for key, count in (await session.execute(statement)).all()}


async def resolve(session: AsyncSession, *, msp_id: int, rows: Sequence[dict[str, Any]]) -> None:
    """Resolve open alerts, counting the repeats reported before the resolution, in
    one executemany. `rows` hold id, occurrences_added, severity and resolved_at."""
    if not rows:
        return
    table = Alert.__table__
    statement = (
        update(table)
        .where(table.c.id == bindparam("p_id"), table.c.msp_id == msp_id)
        .values(
            status=RESOLVED,
            occurrences=table.c.occurrences + bindparam("p_occurrences_added"),
            severity=bindparam("p_severity"),
            last_seen_at=bindparam("p_resolved_at"),
            resolved_at=bindparam("p_resolved_at"),
            updated_at=bindparam("p_resolved_at"),
        )
    )
    parameters = [{f"p_{name}": value for name, value in row.items()} for row in rows]
    await session.execute(statement, parameters)


def _rank(column: Any, ranks: Mapping[str, int]) -> Any:
    return case(dict(ranks), value=column, else_=0)


async def upsert(
    session: AsyncSession, rows: Sequence[dict[str, Any]], *, ranks: Mapping[str, int]
) -> list[WrittenAlert]:
    """Insert new alerts, or fold each into the open alert of its key: occurrences
    add up, the worst severity stays, the text is refreshed, the status (perhaps
    acknowledged) is kept. The partial unique index is the arbiter, so two
    ingests of one new key at once still end with one open alert.

    `rows` are full alert rows; at most one open row per key (PostgreSQL refuses
    to update a row twice in one statement). Resolved rows never conflict.
    `ranks` orders the severities, worst highest."""
    if not rows:
        return []
    table = Alert.__table__
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["msp_id", "dedup_key"],
        index_where=_OPEN,
        set_={
            **{name: excluded[name] for name in _REFRESHED},
            "occurrences": table.c.occurrences + excluded.occurrences,
            "severity": case(
                (
                    _rank(excluded.severity, ranks) > _rank(table.c.severity, ranks),
                    excluded.severity,
                ),
                else_=table.c.severity,
            ),
        },
    ).returning(table.c.id, table.c.dedup_key, table.c.status)
    result = await session.execute(statement, list(rows))
    return [WrittenAlert(*row) for row in result.all()]


async def by_ids(session: AsyncSession, *, msp_id: int, ids: Collection[int]) -> list[Alert]:
    """The MSP's alerts with these ids, as they are now (after this transaction's
    upsert and resolving UPDATE, so loaded afresh)."""
    if not ids:
        return []
    statement = (
        select(Alert)
        .where(Alert.msp_id == msp_id, Alert.id.in_(list(ids)))
        .order_by(Alert.id)
        .execution_options(populate_existing=True)
    )
    return list((await session.scalars(statement)).all())


async def messages_of(session: AsyncSession, *, alert_ids: Collection[int]) -> list[AlertMessage]:
    """Every message these alerts were posted as, oldest first."""
    if not alert_ids:
        return []
    statement = (
        select(AlertMessage)
        .where(AlertMessage.alert_id.in_(list(alert_ids)))
        .order_by(AlertMessage.id)
    )
    return list((await session.scalars(statement)).all())


async def add_messages(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Where new alerts were posted; the unique (alert_id, channel) keeps one each."""
    if rows:
        await session.execute(AlertMessage.__table__.insert(), list(rows))


async def get(session: AsyncSession, *, msp_id: int, alert_id: int) -> Alert | None:
    """One of the MSP's alerts, read afresh (after a conditional update)."""
    return await session.scalar(
        select(Alert)
        .where(Alert.msp_id == msp_id, Alert.id == alert_id)
        .execution_options(populate_existing=True)
    )


async def move(
    session: AsyncSession,
    *,
    msp_id: int,
    alert_id: int,
    from_statuses: Collection[str],
    values: Mapping[str, Any],
) -> bool:
    """Change an alert only if it is still in one of `from_statuses`: of two people
    clicking at once, one wins and the other is told what happened."""
    return await move_if_status(
        session, Alert, msp_id=msp_id, row_id=alert_id, from_statuses=from_statuses, values=values
    )


async def wake_snoozed(
    session: AsyncSession, *, now: datetime, limit: int
) -> list[tuple[int, int]]:
    """Snoozed alerts whose snooze is over go back to firing; (msp id, alert id) of
    each, oldest snooze first. Conditional on the status, so two replicas sweeping
    at once wake each alert once."""
    due = (
        await session.execute(
            select(Alert.msp_id, Alert.id)
            .where(Alert.status == "snoozed", Alert.snoozed_until <= now)
            .order_by(Alert.snoozed_until, Alert.id)
            .limit(limit)
        )
    ).all()
    woken: list[tuple[int, int]] = []
    for msp_id, alert_id in due:
        if await move(
            session,
            msp_id=msp_id,
            alert_id=alert_id,
            from_statuses=["snoozed"],
            values={"status": "firing", "snoozed_until": None, "updated_at": now},
        ):
            woken.append((msp_id, alert_id))
    return woken


async def earlier_messages(
    session: AsyncSession, *, msp_id: int, dedup_key: str, before_id: int
) -> dict[str, str]:
    """The newest message of each conversation for this key's earlier (resolved)
    alerts: a reopened alert replies in that thread."""
    rows = (
        await session.execute(
            select(AlertMessage.channel, AlertMessage.outbox_key)
            .join(Alert, Alert.id == AlertMessage.alert_id)
            .where(Alert.msp_id == msp_id, Alert.dedup_key == dedup_key, Alert.id < before_id)
            .order_by(AlertMessage.id)
        )
    ).all()
    return {channel: key for channel, key in rows}


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Which alerts a listing shows: of these statuses (None: any), this severity or
    worse (by rank), one customer's (or all), and for members only their assigned
    customers'."""

    statuses: Collection[str] | None = None
    min_rank: int | None = None
    customer_id: int | None = None
    assigned_to: str | None = None

    def conditions(self, msp_id: int, ranks: Mapping[str, int]) -> list[Any]:
        where: list[Any] = [Alert.msp_id == msp_id]
        if self.statuses is not None:
            where.append(Alert.status.in_(list(self.statuses)))
        if self.min_rank is not None:
            where.append(Alert.severity.in_([s for s, r in ranks.items() if r >= self.min_rank]))
        if self.customer_id is not None:
            where.append(Alert.customer_id == self.customer_id)
        if self.assigned_to is not None:
            where.append(
                Alert.customer_id.in_(
                    select(CustomerAssignment.customer_id).where(
                        CustomerAssignment.slack_user_id == self.assigned_to
                    )
                )
            )
        return where


async def listing(
    session: AsyncSession,
    *,
    msp_id: int,
    where: AlertFilter,
    ranks: Mapping[str, int],
    limit: int,
    offset: int = 0,
) -> tuple[list[Alert], dict[tuple[str, str], int]]:
    """The open, worst and newest alerts first, a page of them; and how many match,
    by severity and status."""
    conditions = where.conditions(msp_id, ranks)
    rows = await session.scalars(
        select(Alert)
        .where(*conditions)
        .order_by(
            (Alert.status == RESOLVED).asc(),
            _rank(Alert.severity, ranks).desc(),
            Alert.last_seen_at.desc(),
            Alert.id.desc(),
        )
        .offset(offset)
        .limit(limit)
    )
    counts = await session.execute(
        select(Alert.severity, Alert.status, func.count())
        .where(*conditions)
        .group_by(Alert.severity, Alert.status)
    )
    return list(rows.all()), {
        (severity, status): int(count) for severity, status, count in counts.all()
    }


async def move_many(
    session: AsyncSession,
    *,
    msp_id: int,
    where: AlertFilter,
    ranks: Mapping[str, int],
    from_statuses: Collection[str],
    values: Mapping[str, Any],
    limit: int,
) -> list[int]:
    """Change at most `limit` of the matching alerts that are still in one of
    `from_statuses`, in one conditional statement: an alert someone else changed
    meanwhile (or a second "Resolve all" at once) is not changed twice. Returns the
    ids changed."""
    chosen = (
        select(Alert.id)
        .where(*where.conditions(msp_id, ranks), Alert.status.in_(list(from_statuses)))
        .order_by(Alert.id)
        .limit(limit)
    )
    result = await session.execute(
        update(Alert)
        .where(
            Alert.msp_id == msp_id,
            Alert.id.in_(chosen.scalar_subquery()),
            Alert.status.in_(list(from_statuses)),
        )
        .values(**values)
        .returning(Alert.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(result.scalars().all())


async def open_counts(session: AsyncSession, *, msp_id: int, customer_id: int) -> dict[str, int]:
    """A customer's open alerts by severity (its card)."""
    rows = await session.execute(
        select(Alert.severity, func.count())
        .where(Alert.msp_id == msp_id, Alert.customer_id == customer_id, Alert.status != RESOLVED)
        .group_by(Alert.severity)
    )
    return {severity: int(count) for severity, count in rows.all()}
