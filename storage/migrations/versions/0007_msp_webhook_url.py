"""webhook url per msp

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08 09:00:00.000000

Outgoing webhooks: the URL each MSP's PSA or ticketing system receives request
decisions at. Only the URL is stored; the signing key is derived from
MSPBOT_WEBHOOK_SECRET and the team id, so nothing secret is in the database.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("msps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("webhook_url", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("msps", schema=None) as batch_op:
        batch_op.drop_column("webhook_url")
