"""outbox and delivery lanes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 03:59:00.518485
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delivery_lanes",
        sa.Column("msp_id", sa.Integer(), nullable=False),
        sa.Column("lane", sa.String(length=64), nullable=False),
        sa.Column("tat", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["msp_id"], ["msps.id"], name=op.f("fk_delivery_lanes_msp_id_msps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("msp_id", "lane", name=op.f("pk_delivery_lanes")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("msp_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("lane", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("original_payload", sa.JSON(), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("coalescible", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("join_tried", sa.Boolean(), nullable=False),
        sa.Column("ts", sa.String(length=32), nullable=True),
        sa.Column("sent_channel", sa.String(length=32), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("coalesced_into", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["msp_id"], ["msps.id"], name=op.f("fk_outbox_msp_id_msps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("msp_id", "key", name=op.f("uq_outbox_msp_id_key")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_lane_status_id", ["msp_id", "lane", "status", "id"], unique=False
        )
        batch_op.create_index(
            "ix_outbox_status_next_attempt_at", ["status", "next_attempt_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_status_next_attempt_at")
        batch_op.drop_index("ix_outbox_lane_status_id")

    op.drop_table("outbox")
    op.drop_table("delivery_lanes")
