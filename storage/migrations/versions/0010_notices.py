"""scheduled notices, by their natural key, and each MSP's trial notice days

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 12:40:00

A notice is sent once: the sweep that inserts its (msp, kind, subject, period)
key first enqueues it; every other replica's insert finds the key taken.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("msp_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=40), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["msp_id"], ["msps.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "msp_id", "kind", "subject_id", "period", name="uq_notices_natural_key"
        ),
    )
    op.create_index(
        "ix_customers_msp_id_status_renewal_date",
        "customers",
        ["msp_id", "status", "renewal_date"],
    )
    op.create_index(
        "ix_change_requests_status_requested_at", "change_requests", ["status", "requested_at"]
    )
    op.add_column(
        "msps",
        sa.Column(
            "trial_notice_days", sa.String(length=40), server_default="7,3,1", nullable=False
        ),
    )


def downgrade() -> None:
    op.drop_index("ix_change_requests_status_requested_at", table_name="change_requests")
    op.drop_index("ix_customers_msp_id_status_renewal_date", table_name="customers")
    with op.batch_alter_table("msps") as batch:
        batch.drop_column("trial_notice_days")
    op.drop_table("notices")
