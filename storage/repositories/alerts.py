"""Alerts, written set-based: a batch of 500 is a handful of statements whatever
its size (reads of the keys it names, one resolving UPDATE, one upsert)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, case, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Alert, AlertMessage

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
