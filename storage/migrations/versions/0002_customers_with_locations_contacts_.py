"""customers with locations, contacts, agents and assignments

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 03:18:25.662609
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("msp_id", sa.Integer(), nullable=False),
        sa.Column("account_number", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("name_key", sa.String(length=80), nullable=False),
        sa.Column("admin_email", sa.String(length=254), nullable=False),
        sa.Column("admin_email_key", sa.String(length=254), nullable=False),
        sa.Column("plan", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("trial_start", sa.Date(), nullable=True),
        sa.Column("trial_end", sa.Date(), nullable=True),
        sa.Column("licences", sa.Integer(), nullable=False),
        sa.Column("users", sa.Integer(), nullable=False),
        sa.Column("mau_this_month", sa.Integer(), nullable=False),
        sa.Column("max_mau_threshold", sa.Integer(), nullable=False),
        sa.Column("monthly_price_cents", sa.Integer(), nullable=False),
        sa.Column("contract_start", sa.Date(), nullable=True),
        sa.Column("renewal_date", sa.Date(), nullable=True),
        sa.Column("past_due", sa.Boolean(), nullable=False),
        sa.Column("data_used_gb", sa.Float(), nullable=False),
        sa.Column("add_ons", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["msp_id"], ["msps.id"], name=op.f("fk_customers_msp_id_msps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("account_number", name=op.f("uq_customers_account_number")),
        sa.UniqueConstraint("admin_email_key", name=op.f("uq_customers_admin_email_key")),
        sa.UniqueConstraint("msp_id", "name_key", name=op.f("uq_customers_msp_id_name_key")),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index("ix_customers_msp_id_status", ["msp_id", "status"], unique=False)

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

    op.create_table(
        "customer_assignments",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("slack_user_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_assignments_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "customer_id", "slack_user_id", name=op.f("pk_customer_assignments")
        ),
    )
    with op.batch_alter_table("customer_assignments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_customer_assignments_slack_user_id", ["slack_user_id"], unique=False
        )

    op.create_table(
        "customer_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_contacts_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_contacts")),
    )
    with op.batch_alter_table("customer_contacts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_contacts_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "customer_locations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_locations_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_locations")),
    )
    with op.batch_alter_table("customer_locations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_locations_customer_id"), ["customer_id"], unique=False
        )

    with op.batch_alter_table("msps", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("trial_days", sa.Integer(), server_default="30", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "default_monthly_price_cents", sa.Integer(), server_default="7500", nullable=False
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("msps", schema=None) as batch_op:
        batch_op.drop_column("default_monthly_price_cents")
        batch_op.drop_column("trial_days")

    with op.batch_alter_table("customer_locations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_locations_customer_id"))

    op.drop_table("customer_locations")
    with op.batch_alter_table("customer_contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_contacts_customer_id"))

    op.drop_table("customer_contacts")
    with op.batch_alter_table("customer_assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_assignments_slack_user_id")

    op.drop_table("customer_assignments")
    with op.batch_alter_table("customer_agents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_agents_customer_id"))

    op.drop_table("customer_agents")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index("ix_customers_msp_id_status")

    op.drop_table("customers")
