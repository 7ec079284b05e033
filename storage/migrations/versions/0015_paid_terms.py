"""paid terms and a price per licence

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-17 09:00:00.000000

A paid account has a term ('monthly' or 'annual') and a price per licence a month
(`unit_price_cents`); the monthly total is unit price x licences, derived, never
stored, so `monthly_price_cents` is dropped. The rows already stored are filled so:

- unit price = round(monthly price / max(licences, 1)), half up, for every row (a
  trial keeps the price it was added with, as the price of one licence);
- rows with a paid term (status `paid` or `pending_cancellation`, or a renewal
  date) get a contract start from `created_at` where it is NULL, and a term:
  monthly when the renewal date is at most 31 days after the contract start,
  annual otherwise (and annual when the renewal date is unknown);
- renewals fall on the contract start's day of the month. Until now the contract
  start was the day the record was added, not a real start, so where the stored
  renewal date is not on that day the contract start becomes the renewal date
  minus one term (the start of the term that ends on it) and the renewal date is
  kept: it is what the MSP typed.

Downgrading stores the monthly total again (unit price x licences, or the unit
price for an account without licences) and drops the new columns.
"""

import calendar
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONTHLY_LIMIT_DAYS = 31
TERM_MONTHS = {"monthly": 1, "annual": 12}
PAID_STATUSES = ("paid", "pending_cancellation")

_customers = sa.table(
    "customers",
    sa.column("id", sa.Integer()),
    sa.column("status", sa.String()),
    sa.column("licences", sa.Integer()),
    sa.column("monthly_price_cents", sa.Integer()),
    sa.column("unit_price_cents", sa.Integer()),
    sa.column("term", sa.String()),
    sa.column("contract_start", sa.Date()),
    sa.column("renewal_date", sa.Date()),
    sa.column("created_at", sa.DateTime()),
)


THRESHOLD_INDEX = "ix_customers_max_mau_threshold"
SILENT_AGENTS_INDEX = "ix_customers_silent_agents"
BLOCKING = "max_mau_threshold IS NOT NULL"
SILENT_AGENTS = "agents_total - agents_reporting > 0"


def _where(condition: str) -> dict[str, Any]:
    return {"sqlite_where": sa.text(condition), "postgresql_where": sa.text(condition)}


def _drop_partial_indexes() -> None:
    """SQLite's batch mode rebuilds the table and cannot carry an expression or
    partial index across: drop them first, create them again after."""
    op.drop_index(THRESHOLD_INDEX, table_name="customers", **_where(BLOCKING))
    op.drop_index(SILENT_AGENTS_INDEX, table_name="customers", **_where(SILENT_AGENTS))


def _create_partial_indexes() -> None:
    op.create_index(
        SILENT_AGENTS_INDEX,
        "customers",
        ["msp_id", sa.text("(agents_total - agents_reporting) DESC"), "name_key"],
        unique=False,
        **_where(SILENT_AGENTS),
    )
    op.create_index(THRESHOLD_INDEX, "customers", ["msp_id"], unique=False, **_where(BLOCKING))


def _add_months(day: date, months: int) -> date:
    # A copy of bot.domain.terms.add_months: a migration must not change when the
    # application's code does.
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def _anchored(start: date, renewal: date, months: int) -> bool:
    """Whether `renewal` is one of the renewal dates of a contract starting `start`."""
    count = (renewal.year - start.year) * 12 + renewal.month - start.month
    return count > 0 and count % months == 0 and _add_months(start, count) == renewal


def _as_date(value: date | datetime | str | None) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, datetime):
        return value.date()
    return date.fromisoformat(str(value)[:10])


def _round_half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


def upgrade() -> None:
    _drop_partial_indexes()
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("unit_price_cents", sa.Integer(), server_default="7500", nullable=False)
        )
        batch_op.add_column(sa.Column("term", sa.String(length=8), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(
            _customers.c.id,
            _customers.c.status,
            _customers.c.licences,
            _customers.c.monthly_price_cents,
            _customers.c.contract_start,
            _customers.c.renewal_date,
            _customers.c.created_at,
        )
    ).all()
    for row in rows:
        values: dict[str, object] = {
            "unit_price_cents": _round_half_up(row.monthly_price_cents, max(row.licences, 1))
        }
        renewal = _as_date(row.renewal_date)
        if row.status in PAID_STATUSES or renewal is not None:
            start = _as_date(row.contract_start) or _as_date(row.created_at)
            assert start is not None
            term = "annual"
            if renewal is not None:
                if (renewal - start).days <= MONTHLY_LIMIT_DAYS:
                    term = "monthly"
                if not _anchored(start, renewal, TERM_MONTHS[term]):
                    start = _add_months(renewal, -TERM_MONTHS[term])
            values.update(term=term, contract_start=start)
        connection.execute(sa.update(_customers).where(_customers.c.id == row.id).values(**values))
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("monthly_price_cents")
        batch_op.create_check_constraint(op.f("ck_customers_term"), "term IN ('monthly', 'annual')")
        batch_op.create_check_constraint(
            op.f("ck_customers_unit_price_cents"), "unit_price_cents >= 0"
        )
    _create_partial_indexes()


def downgrade() -> None:
    _drop_partial_indexes()
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("monthly_price_cents", sa.Integer(), server_default="7500", nullable=False)
        )
    connection = op.get_bind()
    connection.execute(
        sa.update(_customers).values(
            monthly_price_cents=_customers.c.unit_price_cents
            * sa.case((_customers.c.licences > 1, _customers.c.licences), else_=1)
        )
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_customers_unit_price_cents"), type_="check")
        batch_op.drop_constraint(op.f("ck_customers_term"), type_="check")
        batch_op.drop_column("term")
        batch_op.drop_column("unit_price_cents")
    _create_partial_indexes()
