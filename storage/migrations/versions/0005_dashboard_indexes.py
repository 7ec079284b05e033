"""dashboard indexes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 07:30:00.000000

The Home tab's dashboard at 100,000 customers (docs/performance/dashboard.md):
figures by status and a month's MAU read covering indexes instead of every row, the
customers with agents not reporting and those with a blocking max-MAU threshold
(R20) come from partial indexes holding only them. Plain CREATE INDEX on both
databases, so no batch mode is needed on SQLite.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SILENT_AGENTS = "agents_total - agents_reporting > 0"
BLOCKING_THRESHOLD = "max_mau_threshold < 1000000"


def _where(condition: str) -> dict[str, Any]:
    """A partial index's condition, the same on both databases."""
    return {"sqlite_where": sa.text(condition), "postgresql_where": sa.text(condition)}


def upgrade() -> None:
    op.create_index(
        "ix_customers_status_figures",
        "customers",
        ["msp_id", "status", "users", "agents_total", "agents_reporting"],
        unique=False,
    )
    op.create_index(
        "ix_customers_silent_agents",
        "customers",
        ["msp_id", sa.text("(agents_total - agents_reporting) DESC"), "name_key"],
        unique=False,
        **_where(SILENT_AGENTS),
    )
    op.create_index(
        "ix_customers_max_mau_threshold",
        "customers",
        ["msp_id"],
        unique=False,
        **_where(BLOCKING_THRESHOLD),
    )
    op.create_index(
        "ix_customer_usage_month_customer",
        "customer_usage",
        ["msp_id", "month", "customer_id", "mau"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_customer_usage_month_customer", table_name="customer_usage")
    op.drop_index("ix_customers_max_mau_threshold", table_name="customers")
    op.drop_index("ix_customers_silent_agents", table_name="customers")
    op.drop_index("ix_customers_status_figures", table_name="customers")
