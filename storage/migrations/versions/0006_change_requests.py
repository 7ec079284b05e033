"""change requests and request settings

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 09:00:00.000000

Requests and approvals: one row per request (what is asked, its status, who
decided it and when, the effective date of a scheduled change, and the outbox keys
of its approval messages), and the MSP's request settings.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "change_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("msp_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("customer_name", sa.String(length=80), nullable=False),
        sa.Column("account_number", sa.String(length=16), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=32), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message_keys", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["msp_id"], ["msps.id"], name=op.f("fk_change_requests_msp_id_msps"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_change_requests_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_requests")),
    )
    with op.batch_alter_table("change_requests", schema=None) as batch_op:
        batch_op.create_index("ix_change_requests_msp_id_status", ["msp_id", "status"])
        batch_op.create_index("ix_change_requests_status_effective_on", ["status", "effective_on"])
        batch_op.create_index("ix_change_requests_status_expires_at", ["status", "expires_at"])
        batch_op.create_index("ix_change_requests_customer_id", ["customer_id"])

    with op.batch_alter_table("msps", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "allow_self_approval", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
        batch_op.add_column(
            sa.Column("request_expiry_days", sa.Integer(), server_default="7", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("msps", schema=None) as batch_op:
        batch_op.drop_column("request_expiry_days")
        batch_op.drop_column("allow_self_approval")
    with op.batch_alter_table("change_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_change_requests_customer_id")
        batch_op.drop_index("ix_change_requests_status_expires_at")
        batch_op.drop_index("ix_change_requests_status_effective_on")
        batch_op.drop_index("ix_change_requests_msp_id_status")
    op.drop_table("change_requests")
