"""Outbox queries: enqueue, claim the next item of each lane, record outcomes."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, literal_column, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import DeliveryLane, OutboxItem
from storage.repositories._upsert import insert_ignoring_conflict

ACTIVE = ("pending", "sending")


async def insert(session: AsyncSession, values: dict[str, Any]) -> OutboxItem:
    """Enqueue once per (msp, key): a second enqueue with the same key is a no-op."""
    await insert_ignoring_conflict(
        session,
        OutboxItem.__table__,
        values,
        ["msp_id", "key"],  # type: ignore[arg-type]
    )
    item = await by_key(session, msp_id=values["msp_id"], key=values["key"])
    assert item is not None
    return item


async def insert_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Enqueue many at once (one executemany); a key already there is skipped."""
    if not rows:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(OutboxItem.__table__).on_conflict_do_nothing(
        index_elements=["msp_id", "key"]
    )
    await session.execute(statement, list(rows))


async def by_keys(session: AsyncSession, *, msp_id: int, keys: Sequence[str]) -> list[OutboxItem]:
    if not keys:
        return []
    return list(
        (
            await session.scalars(
                select(OutboxItem).where(
                    OutboxItem.msp_id == msp_id, OutboxItem.key.in_(list(keys))
                )
            )
        ).all()
    )


async def by_key(session: AsyncSession, *, msp_id: int, key: str) -> OutboxItem | None:
    return await session.scalar(
        select(OutboxItem).where(OutboxItem.msp_id == msp_id, OutboxItem.key == key)
    )


async def change_unsent(
    session: AsyncSession, *, payloads: dict[int, dict[str, Any]], now: datetime
) -> set[int]:
    """Give posts not claimed for sending yet their new content; the ids changed (a
    post a worker claimed meanwhile is left: it sends what it read, and the caller
    enqueues an update after it)."""
    return await _rewrite_pending(session, payloads=payloads, now=now)


async def replace_pending_updates(
    session: AsyncSession,
    *,
    msp_id: int,
    lanes: Collection[str],
    payloads: dict[str, dict[str, Any]],
    now: datetime,
) -> set[str]:
    """Give the updates still waiting for these messages (by target key) the new
    content; the target keys done so."""
    target = OutboxItem.payload["target_key"].as_string()
    found = (
        await session.execute(
            select(OutboxItem.id, target)
            .where(
                OutboxItem.msp_id == msp_id,
                OutboxItem.lane.in_(list(lanes)),
                OutboxItem.status == "pending",
                OutboxItem.kind == "update",
                target.in_(list(payloads)),
            )
            .order_by(OutboxItem.id)
        )
    ).all()
    newest = {key: id_ for id_, key in found}  # the last waiting update of each message
    keys = {id_: key for key, id_ in newest.items()}
    written = await _rewrite_pending(
        session, payloads={id_: payloads[key] for id_, key in keys.items()}, now=now
    )
    return {keys[id_] for id_ in written}


async def _rewrite_pending(
    session: AsyncSession, *, payloads: dict[int, dict[str, Any]], now: datetime
) -> set[int]:
    """New payloads for items still pending, in two statements whatever their number:
    a conditional executemany stamped with `now`, then which rows carry the stamp
    (one claimed by a worker in between kept its status, and its own stamp)."""
    if not payloads:
        return set()
    table = OutboxItem.__table__
    await session.execute(
        update(table)
        .where(table.c.id == bindparam("item_id"), table.c.status == "pending")
        .values(payload=bindparam("new_payload"), updated_at=now),
        [{"item_id": id_, "new_payload": payload} for id_, payload in payloads.items()],
    )
    written = await session.scalars(
        select(OutboxItem.id).where(OutboxItem.id.in_(list(payloads)), OutboxItem.updated_at == now)
    )
    return set(written.all())


async def supersede_pending(
    session: AsyncSession, *, msp_id: int, lane: str, now: datetime
) -> None:
    """Home tab publishes: only the newest view matters, so older pending ones go."""
    await session.execute(
        update(OutboxItem)
        .where(OutboxItem.msp_id == msp_id, OutboxItem.lane == lane, OutboxItem.status == "pending")
        .values(status="superseded", updated_at=now)
    )


async def claimable_heads(
    session: AsyncSession, *, now: datetime, limit: int
) -> Sequence[OutboxItem]:
    """The first active item of each lane, when it is due (or its lease ran out).

    Only a lane's head may go, so a lane's messages leave in the order written. The
    heads are found by walking the active items' index a lane at a time, one seek
    each, never the items queued behind them: a round costs the same with 100 or
    100,000 waiting (it grows with the lanes that have something to send). On
    PostgreSQL the rows are locked with SKIP LOCKED, so replicas claim different
    lanes.
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    statement = text(
        _LANE_HEADS.format(
            by_lane="" if postgres else f"INDEXED BY {ACTIVE_LANE_INDEX}",
            heads="= ANY(ARRAY(SELECT id FROM lane_heads))"
            if postgres
            else "IN (SELECT id FROM lane_heads)",
            lock="FOR UPDATE OF outbox SKIP LOCKED" if postgres else "",
        )
    ).bindparams(
        bindparam("now", now, type_=OutboxItem.__table__.c.next_attempt_at.type),
        bindparam("limit", limit),
    )
    return (await session.scalars(select(OutboxItem).from_statement(statement))).all()


ACTIVE_LANE_INDEX = "ix_outbox_active_lane_id"
# A recursive walk from one lane's head to the next lane's (the same MSP's next lane,
# else the next MSP's first), each step one seek with LIMIT 1 on
# ix_outbox_active_lane_id; the walk ends on the NULL after the last lane. Then the
# heads that are due, read by id (on PostgreSQL as an array: a join from the walk
# may be planned as a scan of the whole table while its statistics are missing).
#
# The statuses are written out, not bound: a planner uses a partial index only when
# the query's condition is the index's own (storage.models.OUTBOX_ACTIVE). SQLite is
# told to use it: with no statistics (nobody runs ANALYZE) it would rather read
# every active item by status and sort them all to find one head. Whether a head is
# due is a CASE, which no index serves: written as an OR, a planner without
# statistics reads every due item on ix_outbox_status_next_attempt_at (SQLite
# always, PostgreSQL before its first ANALYZE) and keeps those among the heads. It
# stays a condition on the locked row, so PostgreSQL checks it again on a row
# another replica claimed meanwhile. (A row-value comparison, (msp_id, lane) >
# (...), would make one step of the two, but SQLite seeks on its first column only.)
_ACTIVE = "status IN ('pending', 'sending')"
_LANE_HEADS = f"""
WITH RECURSIVE lane_heads(id) AS (
    SELECT (
        SELECT item.id FROM outbox AS item {{by_lane}}
        WHERE item.{_ACTIVE}
        ORDER BY item.msp_id, item.lane, item.id LIMIT 1
    )
    UNION ALL
    SELECT coalesce(
        (
            SELECT item.id FROM outbox AS item {{by_lane}}
            WHERE item.{_ACTIVE} AND item.msp_id = head.msp_id AND item.lane > head.lane
            ORDER BY item.lane, item.id LIMIT 1
        ),
        (
            SELECT item.id FROM outbox AS item {{by_lane}}
            WHERE item.{_ACTIVE} AND item.msp_id > head.msp_id
            ORDER BY item.msp_id, item.lane, item.id LIMIT 1
        )
    )
    FROM lane_heads JOIN outbox AS head ON head.id = lane_heads.id
)
SELECT outbox.* FROM outbox
WHERE outbox.id {{heads}} AND CASE outbox.status
    WHEN 'pending' THEN outbox.next_attempt_at <= :now
    WHEN 'sending' THEN outbox.lease_until < :now
    ELSE false
END
ORDER BY outbox.next_attempt_at, outbox.id
LIMIT :limit
{{lock}}
"""
# The same condition for SQLAlchemy statements (coalescible_run).
_ACTIVE_LITERALS = (literal_column("'pending'"), literal_column("'sending'"))


def _active(item: Any) -> Any:
    return item.status.in_(_ACTIVE_LITERALS)


async def coalescible_run(
    session: AsyncSession,
    *,
    msp_id: int,
    lane: str,
    from_id: int,
    limit: int,
    now: datetime,
    thread_key: str | None = None,
    scan: int = 120,
) -> Sequence[OutboxItem]:
    """The pending coalescible items queued behind a lane's head that may join it.

    For a post in the channel (`thread_key` None): the run up to the first item
    that is neither coalescible nor a reply kept in a thread (merging past it would
    reorder what the channel shows), or not due yet (a person's quiet hours). The
    replies it passes stay queued: they go after the digest, into their parent's
    thread, or the digest's when their parent was merged into it.

    For a reply in a thread: the replies to the same thread that are due, whatever
    is queued between them (other threads, other posts), since a thread's replies
    read as their own conversation. At most `limit`, among the next `scan` items."""
    items = (
        await session.scalars(
            select(OutboxItem)
            .where(
                OutboxItem.msp_id == msp_id,
                OutboxItem.lane == lane,
                _active(OutboxItem),  # the lane in order on its index: `scan` rows at most
                OutboxItem.id >= from_id,
            )
            .order_by(OutboxItem.id)
            .limit(scan)
        )
    ).all()
    run: list[OutboxItem] = []
    for item in items:
        if len(run) >= limit:
            break
        mergeable = item.coalescible and item.status == "pending" and item.kind == "post"
        threaded = item.payload.get(THREAD_KEY_FIELD)
        if thread_key is not None:
            if mergeable and threaded == thread_key and item.next_attempt_at <= now:
                run.append(item)
            continue
        if threaded is not None and item.payload.get(THREAD_ONLY_FIELD):
            continue  # a reply kept in its thread: passed, not merged
        if not mergeable or item.next_attempt_at > now:
            break
        run.append(item)
    return run


# The payload fields bot.delivery.outbox writes for a reply (THREAD_KEY, THREAD_ONLY).
THREAD_KEY_FIELD = "thread_key"
THREAD_ONLY_FIELD = "thread_only"


async def lane_for_update(
    session: AsyncSession, *, msp_id: int, lane: str, now: datetime
) -> DeliveryLane:
    await insert_ignoring_conflict(
        session,
        DeliveryLane.__table__,  # type: ignore[arg-type]
        {"msp_id": msp_id, "lane": lane, "tat": now},
        ["msp_id", "lane"],
    )
    statement = select(DeliveryLane).where(DeliveryLane.msp_id == msp_id, DeliveryLane.lane == lane)
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update()
    lane_row = await session.scalar(statement)
    assert lane_row is not None
    return lane_row


async def depth_and_oldest(
    session: AsyncSession, *, msp_id: int | None = None
) -> tuple[int, datetime | None]:
    statement = select(func.count(), func.min(OutboxItem.created_at)).where(
        OutboxItem.status.in_(ACTIVE)
    )
    if msp_id is not None:
        statement = statement.where(OutboxItem.msp_id == msp_id)
    row = (await session.execute(statement)).one()
    return int(row[0]), row[1]


async def counts_by_status(
    session: AsyncSession, *, msp_id: int, since: datetime
) -> dict[str, int]:
    rows = await session.execute(
        select(OutboxItem.status, func.count())
        .where(OutboxItem.msp_id == msp_id, OutboxItem.updated_at >= since)
        .group_by(OutboxItem.status)
    )
    return {status: int(count) for status, count in rows.all()}


async def failures_by_reason(
    session: AsyncSession, *, msp_id: int, since: datetime
) -> dict[str, int]:
    rows = await session.execute(
        select(OutboxItem.last_error, func.count())
        .where(
            OutboxItem.msp_id == msp_id,
            OutboxItem.status == "failed",
            OutboxItem.updated_at >= since,
        )
        .group_by(OutboxItem.last_error)
    )
    return {str(reason): int(count) for reason, count in rows.all()}


async def recent_failures(
    session: AsyncSession, *, msp_id: int, limit: int
) -> Sequence[OutboxItem]:
    return (
        await session.scalars(
            select(OutboxItem)
            .where(OutboxItem.msp_id == msp_id, OutboxItem.status == "failed")
            .order_by(OutboxItem.updated_at.desc(), OutboxItem.id.desc())
            .limit(limit)
        )
    ).all()


async def claim(
    session: AsyncSession,
    *,
    item: OutboxItem,
    now: datetime,
    lease_until: datetime,
) -> bool:
    """Mark `item` as being sent, only if nobody changed it since it was read.

    On SQLite a replica may read a lane's head just before another replica claims
    it, or a transaction give a pending post new content (an alert seen again) just
    after it was read; the conditions here make such a claim match no row, and the
    next round reads it again.
    """
    result = await session.execute(
        update(OutboxItem)
        .where(
            OutboxItem.id == item.id,
            OutboxItem.status == item.status,
            OutboxItem.attempts == item.attempts,
            OutboxItem.updated_at == item.updated_at,
        )
        .values(
            status="sending", attempts=item.attempts + 1, lease_until=lease_until, updated_at=now
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def postpone(session: AsyncSession, *, item_id: int, until: datetime) -> None:
    await session.execute(
        update(OutboxItem)
        .where(OutboxItem.id == item_id, OutboxItem.status == "pending")
        .values(next_attempt_at=until)
        .execution_options(synchronize_session=False)
    )


async def replace_payload(
    session: AsyncSession, *, item_id: int, payload: dict[str, Any], original: dict[str, Any]
) -> None:
    await session.execute(
        update(OutboxItem)
        .where(OutboxItem.id == item_id)
        .values(payload=payload, original_payload=original)
        .execution_options(synchronize_session=False)
    )


async def prune(session: AsyncSession, *, done_before: datetime, failed_before: datetime) -> int:
    """Delete finished items: delivered ones after a while, failed ones much later."""
    done = await session.execute(
        delete(OutboxItem).where(
            OutboxItem.status.in_(("sent", "superseded", "coalesced")),
            OutboxItem.updated_at < done_before,
        )
    )
    failed = await session.execute(
        delete(OutboxItem).where(
            OutboxItem.status == "failed", OutboxItem.updated_at < failed_before
        )
    )
    return int(done.rowcount or 0) + int(failed.rowcount or 0)  # type: ignore[attr-defined]
