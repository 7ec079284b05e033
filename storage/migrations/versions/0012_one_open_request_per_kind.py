"""one open request per customer and type

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 09:00:00

A customer has at most one open request (pending, or approved and scheduled) of
each type: a partial unique index on (customer_id, kind) where the status is
`pending` or `scheduled`, on SQLite and PostgreSQL alike. Requests about the MSP
itself (MAU allowance orders, no customer) are not limited.

Before the index can be built, duplicates that concurrent submissions left behind
are closed, deterministically and in the audit log, never deleted:

- of each customer's open requests of one type, the one kept is a scheduled one if
  there is any (an approver already decided it), else the oldest (earliest
  `requested_at`, then lowest id);
- every other pending one becomes `expired` (the status of a request nobody
  decided), and every other scheduled one `reversed` (the status of a scheduled
  change taken back), so the scheduler never applies the same change twice;
- each closed request's `decision_note` names the request kept, and an audit event
  (`request.expired` or `request.reversed`, actor `system`) records the change.

Approval messages already in Slack for a closed request keep their buttons; a
click on them answers that the request expired (or was reversed) and changes
nothing. Downgrading drops the index; the closed duplicates stay closed.
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "uq_change_requests_open_kind"
OPEN = "status IN ('pending', 'scheduled')"
SYSTEM_ACTOR = "system"
# What a closed duplicate becomes, by its status, and the audit action saying so.
CLOSED_AS = {
    "pending": ("expired", "request.expired"),
    "scheduled": ("reversed", "request.reversed"),
}

_requests = sa.table(
    "change_requests",
    sa.column("id", sa.Integer()),
    sa.column("msp_id", sa.Integer()),
    sa.column("customer_id", sa.Integer()),
    sa.column("account_number", sa.String()),
    sa.column("kind", sa.String()),
    sa.column("status", sa.String()),
    sa.column("details", sa.JSON()),
    sa.column("effective_on", sa.Date()),
    sa.column("requested_at", sa.DateTime(timezone=True)),
    sa.column("decided_at", sa.DateTime(timezone=True)),
    sa.column("decision_note", sa.Text()),
)
_audit_events = sa.table(
    "audit_events",
    sa.column("msp_id", sa.Integer()),
    sa.column("actor", sa.String()),
    sa.column("action", sa.String()),
    sa.column("entity_type", sa.String()),
    sa.column("entity_id", sa.String()),
    sa.column("before", sa.JSON()),
    sa.column("after", sa.JSON()),
    sa.column("note", sa.Text()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    _close_duplicates(op.get_bind(), now=datetime.now(UTC))
    op.create_index(
        INDEX,
        "change_requests",
        ["customer_id", "kind"],
        unique=True,
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index(
        INDEX,
        table_name="change_requests",
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )


def _close_duplicates(connection: sa.Connection, *, now: datetime) -> None:
    for kept, duplicate in _duplicates(connection):
        status, action = CLOSED_AS[duplicate.status]
        note = (
            f"Closed as a duplicate of request #{kept.id}: a customer has one open request "
            "of each type."
        )
        values: dict[str, Any] = {"status": status, "decision_note": note}
        if duplicate.status == "pending":
            values["decided_at"] = now
        connection.execute(
            sa.update(_requests).where(_requests.c.id == duplicate.id).values(**values)
        )
        connection.execute(
            sa.insert(_audit_events).values(
                msp_id=duplicate.msp_id,
                actor=SYSTEM_ACTOR,
                action=action,
                entity_type="request",
                entity_id=str(duplicate.id),
                before={"status": duplicate.status},
                after={
                    "kind": duplicate.kind,
                    "status": status,
                    "customer": duplicate.account_number,
                    "details": duplicate.details,
                    "effective_on": duplicate.effective_on.isoformat()
                    if duplicate.effective_on
                    else None,
                },
                note=note,
                created_at=now,
            )
        )


def _duplicates(connection: sa.Connection) -> list[tuple[Any, Any]]:
    """(kept, duplicate) pairs: every open request but the first of its customer and
    type, in the order that decides which is kept (scheduled first, then oldest)."""
    rows = connection.execute(
        sa.select(_requests)
        .where(_requests.c.customer_id.is_not(None), sa.text(OPEN))
        .order_by(
            _requests.c.customer_id,
            _requests.c.kind,
            sa.case((_requests.c.status == "scheduled", 0), else_=1),
            _requests.c.requested_at,
            _requests.c.id,
        )
    ).all()
    groups: dict[tuple[int, str], list[Any]] = defaultdict(list)
    for row in rows:
        groups[(row.customer_id, row.kind)].append(row)
    return [(group[0], duplicate) for group in groups.values() for duplicate in group[1:]]
