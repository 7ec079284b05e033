"""usage, allowance orders, api tokens, home refresh

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 05:35:52.424578
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("msp_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["msp_id"], ["msps.id"], name=op.f("fk_api_tokens_msp_id_msps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_msp_id"), ["msp_id"], unique=False)

    op.create_table(
        "mau_allowance_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("msp_id", sa.Integer(), nullable=False),
        sa.Column("ordered_by", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("allowance_before", sa.Integer(), nullable=False),
        sa.Column("allowance_after", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["msp_id"],
            ["msps.id"],
            name=op.f("fk_mau_allowance_orders_msp_id_msps"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mau_allowance_orders")),
    )
    with op.batch_alter_table("mau_allowance_orders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_mau_allowance_orders_msp_id_created_at", ["msp_id", "created_at"], unique=False
        )

    op.create_table(
        "customer_usage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("msp_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("mau", sa.Integer(), nullable=False),
        sa.Column("users", sa.Integer(), nullable=False),
        sa.Column("agents_total", sa.Integer(), nullable=False),
        sa.Column("agents_reporting", sa.Integer(), nullable=False),
        sa.Column("data_gb", sa.Float(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_usage_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["msp_id"], ["msps.id"], name=op.f("fk_customer_usage_msp_id_msps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_usage")),
        sa.UniqueConstraint(
            "customer_id", "month", name=op.f("uq_customer_usage_customer_id_month")
        ),
    )
    with op.batch_alter_table("customer_usage", schema=None) as batch_op:
        batch_op.create_index("ix_customer_usage_msp_id_month", ["msp_id", "month"], unique=False)

    with op.batch_alter_table("customer_agents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_agents_customer_id"))

    op.drop_table("customer_agents")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("agents_total", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("agents_reporting", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("usage_reported_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.drop_index(batch_op.f("ix_customers_msp_id_status"))
        batch_op.create_index(
            "ix_customers_msp_id_status_trial_end", ["msp_id", "status", "trial_end"], unique=False
        )

    with op.batch_alter_table("msps", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("home_stale_since", sa.DateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("staff_members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("home_opened_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("staff_members", schema=None) as batch_op:
        batch_op.drop_column("home_opened_at")

    with op.batch_alter_table("msps", schema=None) as batch_op:
        batch_op.drop_column("home_stale_since")

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index("ix_customers_msp_id_status_trial_end")
        batch_op.create_index(
            batch_op.f("ix_customers_msp_id_status"), ["msp_id", "status"], unique=False
        )
        batch_op.drop_column("usage_reported_at")
        batch_op.drop_column("agents_reporting")
        batch_op.drop_column("agents_total")

    op.create_table(
        "customer_agents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("reporting", sa.Boolean(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_agents_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_agents")),
    )
    with op.batch_alter_table("customer_agents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_agents_customer_id"), ["customer_id"], unique=False
        )

    with op.batch_alter_table("customer_usage", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_usage_msp_id_month")

    op.drop_table("customer_usage")
    with op.batch_alter_table("mau_allowance_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_mau_allowance_orders_msp_id_created_at")

    op.drop_table("mau_allowance_orders")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_msp_id"))

    op.drop_table("api_tokens")
