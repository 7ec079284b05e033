"""The tables, as typed SQLAlchemy 2 models.

Roles and actions are stored as plain strings: `storage` knows nothing of the
domain's enums, and the services translate.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.types import UtcDateTime

# Named constraints, so migrations can alter and drop them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON()}


class Msp(Base):
    """The tenant: one Managed Service Provider per Slack workspace."""

    __tablename__ = "msps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    max_customers: Mapped[int] = mapped_column(Integer, default=100)
    seat_allowance: Mapped[int | None] = mapped_column(Integer, default=None)
    mau_allowance: Mapped[int] = mapped_column(Integer, default=0)
    approvals_channel: Mapped[str | None] = mapped_column(String(32), default=None)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    staff: Mapped[list[StaffMember]] = relationship(
        back_populates="msp", cascade="all, delete-orphan", passive_deletes=True
    )


class StaffMember(Base):
    """A person of the MSP's staff and their role, keyed by Slack user id."""

    __tablename__ = "staff_members"
    __table_args__ = (UniqueConstraint("msp_id", "slack_user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    msp_id: Mapped[int] = mapped_column(ForeignKey("msps.id", ondelete="CASCADE"))
    slack_user_id: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    msp: Mapped[Msp] = relationship(back_populates="staff")


class AuditEvent(Base):
    """R22: who changed what, when, with the state before and after."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_msp_id_created_at", "msp_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    msp_id: Mapped[int] = mapped_column(ForeignKey("msps.id", ondelete="CASCADE"))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime]
