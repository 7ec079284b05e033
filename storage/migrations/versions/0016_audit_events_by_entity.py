"""audit events by entity

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 13:00:00.000000

A customer's card shows the latest owner correction of its commercial figures, read
from the audit log: this index finds an entity's newest events at once instead of
walking the MSP's whole log (which grows with every usage report). Plain CREATE
INDEX on both databases; a downgrade drops it.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_audit_events_entity",
        "audit_events",
        ["msp_id", "entity_type", "entity_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_audit_events_entity", table_name="audit_events")
