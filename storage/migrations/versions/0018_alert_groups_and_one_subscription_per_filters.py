"""alert groups, and one subscription per target and filters

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 23:30:00.000000

Alerts that keep coming for a customer are threaded under one message: a new
table of those groups, and each subscription says how it groups (per customer, per
customer and kind, or not at all) and within how many minutes. Existing
subscriptions group per customer within 5 minutes.

Two people subscribing the same thing at the same moment both passed the
duplicate check; a unique index on the target and filters, hashed into
`filters_key`, now keeps one. Existing rows get their key here, computed as
bot.services.subscriptions.filters_key does (the form is copied, not imported, so
this migration stays what it was). Duplicates made before the index existed keep
working: the later ones get their id appended to the key.
"""

import hashlib
import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _key(row: sa.Row) -> str:  # type: ignore[type-arg]
    what = [
        row.target,
        sorted(row.topics or []),
        row.min_severity,
        sorted(row.customers_included or []),
        sorted(row.customers_excluded or []),
        sorted(row.kinds or []),
    ]
    return hashlib.sha256(json.dumps(what, separators=(",", ":")).encode()).hexdigest()


def upgrade() -> None:
    with op.batch_alter_table("alert_subscriptions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("group_by", sa.String(8), nullable=False, server_default="customer")
        )
        batch_op.add_column(
            sa.Column("group_minutes", sa.Integer(), nullable=False, server_default="5")
        )
        batch_op.add_column(sa.Column("filters_key", sa.String(80), nullable=True))

    subscriptions = sa.table(
        "alert_subscriptions",
        sa.column("id", sa.Integer()),
        sa.column("msp_id", sa.Integer()),
        sa.column("target", sa.String()),
        sa.column("topics", sa.JSON()),
        sa.column("min_severity", sa.String()),
        sa.column("customers_included", sa.JSON()),
        sa.column("customers_excluded", sa.JSON()),
        sa.column("kinds", sa.JSON()),
        sa.column("filters_key", sa.String()),
    )
    connection = op.get_bind()
    seen: set[tuple[int, str]] = set()
    for row in connection.execute(sa.select(subscriptions).order_by(subscriptions.c.id)):
        key = _key(row)
        if (row.msp_id, key) in seen:
            key = f"{key}:{row.id}"
        seen.add((row.msp_id, key))
        connection.execute(
            subscriptions.update().where(subscriptions.c.id == row.id).values(filters_key=key)
        )
    op.create_index(
        "uq_alert_subscriptions_filters",
        "alert_subscriptions",
        ["msp_id", "filters_key"],
        unique=True,
    )

    op.create_table(
        "alert_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("msp_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("group_key", sa.String(length=200), nullable=False),
        sa.Column("parent_alert_id", sa.Integer(), nullable=False),
        sa.Column("parent_key", sa.String(length=200), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("worst_severity", sa.String(length=10), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["msp_id"], ["msps.id"], name=op.f("fk_alert_groups_msp_id_msps"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["parent_alert_id"],
            ["alerts.id"],
            name=op.f("fk_alert_groups_parent_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_groups")),
    )
    op.create_index(
        "ix_alert_groups_open", "alert_groups", ["msp_id", "channel", "group_key", "last_at"]
    )
    op.create_index("ix_alert_groups_parent_key", "alert_groups", ["parent_key"])


def downgrade() -> None:
    op.drop_index("ix_alert_groups_parent_key", table_name="alert_groups")
    op.drop_index("ix_alert_groups_open", table_name="alert_groups")
    op.drop_table("alert_groups")
    op.drop_index("uq_alert_subscriptions_filters", table_name="alert_subscriptions")
    with op.batch_alter_table("alert_subscriptions", schema=None) as batch_op:
        batch_op.drop_column("filters_key")
        batch_op.drop_column("group_minutes")
        batch_op.drop_column("group_by")
