"""live identities and an explicit never-block threshold

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-16 09:00:00.000000

R1 and R2 hold among live accounts only: the unique constraints on
`customers.admin_email_key` and on (`msp_id`, `name_key`) become partial unique
indexes of the same names, WHERE status <> 'deleted', on SQLite and PostgreSQL
alike. A deleted account (deleted, or removed as an expired trial) frees its admin
email and name at once; its row and the audit log keep them.

R20's threshold is taken literally: `max_mau_threshold` becomes nullable, NULL
being the explicit "never block". Rows holding exactly 1,000,000 (the old default,
which meant "never block") become NULL; any other value, 1,500,000 included, is
kept as the threshold it was typed as. The partial index of thresholds that can
block is rebuilt WHERE max_mau_threshold IS NOT NULL.

Trial ends are not rewritten: rows keep the date already shown to staff as the
trial's last day; trials started from now on last exactly their number of days.

Downgrading restores the unique constraints over all rows and the NOT NULL
threshold (NULL becomes 1,000,000 again). If a deleted account shares its admin
email with another account, or its name with another of its MSP's accounts, the
downgrade stops before changing anything and names how many such rows there are:
they must be resolved by hand (for example by changing the deleted row's key)
first, as the old constraints cannot hold them.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = "status <> 'deleted'"
NAME_INDEX = "uq_customers_msp_id_name_key"
EMAIL_INDEX = "uq_customers_admin_email_key"
THRESHOLD_INDEX = "ix_customers_max_mau_threshold"
SILENT_AGENTS_INDEX = "ix_customers_silent_agents"
NEVER_BLOCK = 1_000_000
OLD_BLOCKING = "max_mau_threshold < 1000000"
BLOCKING = "max_mau_threshold IS NOT NULL"
SILENT_AGENTS = "agents_total - agents_reporting > 0"

_customers = sa.table(
    "customers",
    sa.column("msp_id", sa.Integer()),
    sa.column("name_key", sa.String()),
    sa.column("admin_email_key", sa.String()),
    sa.column("max_mau_threshold", sa.Integer()),
)


def _where(condition: str) -> dict[str, Any]:
    """A partial index's condition, the same on both databases."""
    return {"sqlite_where": sa.text(condition), "postgresql_where": sa.text(condition)}


def _drop_partial_indexes(blocking: str) -> None:
    """SQLite's batch mode rebuilds the table and cannot carry an expression or
    partial index across: drop them first, create them again after."""
    op.drop_index(THRESHOLD_INDEX, table_name="customers", **_where(blocking))
    op.drop_index(SILENT_AGENTS_INDEX, table_name="customers", **_where(SILENT_AGENTS))


def _create_partial_indexes(blocking: str) -> None:
    op.create_index(
        SILENT_AGENTS_INDEX,
        "customers",
        ["msp_id", sa.text("(agents_total - agents_reporting) DESC"), "name_key"],
        unique=False,
        **_where(SILENT_AGENTS),
    )
    op.create_index(THRESHOLD_INDEX, "customers", ["msp_id"], unique=False, **_where(blocking))


def upgrade() -> None:
    _drop_partial_indexes(OLD_BLOCKING)
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_constraint(EMAIL_INDEX, type_="unique")
        batch_op.drop_constraint(NAME_INDEX, type_="unique")
        batch_op.alter_column("max_mau_threshold", existing_type=sa.Integer(), nullable=True)
    op.execute(
        sa.update(_customers)
        .where(_customers.c.max_mau_threshold == NEVER_BLOCK)
        .values(max_mau_threshold=None)
    )
    op.create_index(EMAIL_INDEX, "customers", ["admin_email_key"], unique=True, **_where(LIVE))
    op.create_index(NAME_INDEX, "customers", ["msp_id", "name_key"], unique=True, **_where(LIVE))
    _create_partial_indexes(BLOCKING)


def downgrade() -> None:
    _refuse_shared_identities(op.get_bind())
    op.drop_index(NAME_INDEX, table_name="customers", **_where(LIVE))
    op.drop_index(EMAIL_INDEX, table_name="customers", **_where(LIVE))
    _drop_partial_indexes(BLOCKING)
    op.execute(
        sa.update(_customers)
        .where(_customers.c.max_mau_threshold.is_(None))
        .values(max_mau_threshold=NEVER_BLOCK)
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.alter_column("max_mau_threshold", existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint(EMAIL_INDEX, ["admin_email_key"])
        batch_op.create_unique_constraint(NAME_INDEX, ["msp_id", "name_key"])
    _create_partial_indexes(OLD_BLOCKING)


def _refuse_shared_identities(connection: sa.Connection) -> None:
    shared = 0
    for columns in ((_customers.c.admin_email_key,), (_customers.c.msp_id, _customers.c.name_key)):
        groups = sa.select(*columns).group_by(*columns).having(sa.func.count() > 1).subquery()
        shared += connection.scalar(sa.select(sa.func.count()).select_from(groups)) or 0
    if shared:
        raise RuntimeError(
            f"{shared} admin email(s) or name(s) are shared by a deleted account and "
            "another one; the constraints of revision 0013 cannot hold them. Change the "
            "deleted rows' admin_email_key or name_key by hand, then downgrade again."
        )
