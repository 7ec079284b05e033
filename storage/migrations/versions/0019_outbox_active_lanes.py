"""outbox: the items still to be sent, by lane

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08 00:30:00.000000

The delivery worker claims the first item of each lane. Found from every due item,
a round read the whole backlog behind the heads (0.28 s on SQLite and 1.5 s on
PostgreSQL at 100,000 queued posts); this partial index holds only the items still
to be sent, by lane and in order, so each lane's head is one seek and a round costs
the same at 100 and at 100,000 queued posts (docs/performance/delivery.md). Plain
CREATE INDEX on both databases; a downgrade drops it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written exactly as the queries write it: a planner uses a partial index only when
# the query's condition is the index's own.
ACTIVE = "status IN ('pending', 'sending')"


def upgrade() -> None:
    op.create_index(
        "ix_outbox_active_lane_id",
        "outbox",
        ["msp_id", "lane", "id"],
        unique=False,
        sqlite_where=sa.text(ACTIVE),
        postgresql_where=sa.text(ACTIVE),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_active_lane_id", table_name="outbox")
