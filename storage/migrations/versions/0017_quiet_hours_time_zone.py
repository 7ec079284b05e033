"""quiet hours in the person's time zone

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 20:00:00.000000

A person's quiet hours are read in their own time zone (Slack's `users.info`), kept
with the subscription when it is made. Existing rows have none and keep being read
in the MSP's time zone. A nullable column: ADD COLUMN on both databases, no rebuild.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("alert_subscriptions", sa.Column("quiet_timezone", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alert_subscriptions", schema=None) as batch_op:
        batch_op.drop_column("quiet_timezone")
