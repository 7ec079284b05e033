"""who snoozed or resolved an alert from Slack, and the snooze sweep's index

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 12:10:00

Alerts are acknowledged, resolved and snoozed from their messages; the messages
say by whom. A scheduled sweep wakes snoozed alerts whose time is up.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTERs, not a batch: on SQLite a batch could rebuild the table, and
    # with it the partial unique index on open dedup keys.
    op.add_column("alerts", sa.Column("snoozed_by", sa.String(length=32), nullable=True))
    op.add_column("alerts", sa.Column("resolved_by", sa.String(length=32), nullable=True))
    op.create_index(
        "ix_alerts_status_snoozed_until", "alerts", ["status", "snoozed_until"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_alerts_status_snoozed_until", table_name="alerts")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("resolved_by")
        batch.drop_column("snoozed_by")
