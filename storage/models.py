"""The tables, as typed SQLAlchemy 2 models.

Roles and actions are stored as plain strings: `storage` knows nothing of the
domain's enums, and the services translate.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from storage.types import UtcDateTime

# Named constraints, so migrations can alter and drop them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Requests that still wait for a decision or for their date: at most one of each
# type per customer (the partial unique index below and its upsert name it alike).
OPEN_REQUEST = "status IN ('pending', 'scheduled')"
# Accounts that hold their name and admin email (R1, R2): a deleted or removed one
# frees both at once, while its row and the audit log keep them.
LIVE_CUSTOMER = "status <> 'deleted'"
# A max-MAU threshold that can block (R20); NULL is the explicit "never block".
BLOCKING_THRESHOLD = "max_mau_threshold IS NOT NULL"
# Outbox items still to be sent, as the delivery worker's queries write it (a
# partial index is used only for a query whose condition is the index's own).
OUTBOX_ACTIVE = "status IN ('pending', 'sending')"
# What a new MSP may have at most (R3) until the operator raises it.
DEFAULT_MAX_CUSTOMERS = 100


def _partial(condition: str) -> dict[str, Any]:
    """A partial index's condition, the same on both databases."""
    return {"sqlite_where": text(condition), "postgresql_where": text(condition)}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON()}


class Msp(Base):
    """The tenant: one Managed Service Provider per Slack workspace."""

    __tablename__ = "msps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    max_customers: Mapped[int] = mapped_column(Integer, default=DEFAULT_MAX_CUSTOMERS)
    seat_allowance: Mapped[int | None] = mapped_column(Integer, default=None)
    mau_allowance: Mapped[int] = mapped_column(Integer, default=0)
    approvals_channel: Mapped[str | None] = mapped_column(String(32), default=None)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    trial_days: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    default_monthly_price_cents: Mapped[int] = mapped_column(
        Integer, default=7500, server_default="7500"
    )
    # Requests: a one-person MSP may approve its own; pending ones expire after this.
    allow_self_approval: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    request_expiry_days: Mapped[int] = mapped_column(Integer, default=7, server_default="7")
    # Days before a trial ends that its notice goes out (bot/domain/notices.py).
    trial_notice_days: Mapped[str] = mapped_column(
        String(40), default="7,3,1", server_default="7,3,1"
    )
    # Where each request decision is POSTed (the MSP's PSA or ticketing system), if
    # anywhere. Only the URL: the signing key is derived from MSPBOT_WEBHOOK_SECRET
    # and the team id, so a copy of the database signs nothing.
    webhook_url: Mapped[str | None] = mapped_column(String(500), default=None)
    # Set by the first change after the Home tabs were last drawn; the refresh job
    # clears it (conditionally, so one replica redraws) and republishes them.
    home_stale_since: Mapped[datetime | None] = mapped_column(default=None)
    # Set when the workspace uninstalls the app or revokes its bot token: nothing is
    # sent or swept for it until it installs again; its data stays (R-rules on data).
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)
    disabled_reason: Mapped[str | None] = mapped_column(String(32), default=None)
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
    # When they last opened the Home tab: whose tabs to redraw after a change.
    home_opened_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    msp: Mapped[Msp] = relationship(back_populates="staff")


class AuditEvent(Base):
    """R22: who changed what, when, with the state before and after."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_msp_id_created_at", "msp_id", "created_at"),
        # An entity's newest events (a card's latest billing correction).
        Index("ix_audit_events_entity", "msp_id", "entity_type", "entity_id", "created_at"),
    )

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


class Customer(Base):
    """A managed account (organization) of an MSP.

    `name_key` and `admin_email_key` are the normalised forms the uniqueness rules
    compare (R2 within the MSP, R1 across all accounts, both among live accounts
    only: status other than `deleted`); `version` changes on every
    update so an edit made on a stale copy is detected instead of overwriting.
    """

    __tablename__ = "customers"
    __table_args__ = (
        # R2 and R1 among live accounts only: partial unique indexes, so the
        # database itself refuses a second live holder, however many add at once.
        Index(
            "uq_customers_msp_id_name_key",
            "msp_id",
            "name_key",
            unique=True,
            **_partial(LIVE_CUSTOMER),
        ),
        Index(
            "uq_customers_admin_email_key",
            "admin_email_key",
            unique=True,
            **_partial(LIVE_CUSTOMER),
        ),
        # Lists and dashboard counts filter by status; trials expiring soon are a
        # range of trial_end within a status.
        Index("ix_customers_msp_id_status_trial_end", "msp_id", "status", "trial_end"),
        # The renewal window notice: paid customers renewing in a range of dates.
        Index("ix_customers_msp_id_status_renewal_date", "msp_id", "status", "renewal_date"),
        # The dashboard's figures by status read this index alone, not every
        # customer's row (it cannot replace the one above: no trial_end range).
        Index(
            "ix_customers_status_figures",
            "msp_id",
            "status",
            "users",
            "agents_total",
            "agents_reporting",
        ),
        # The dashboard's customers with the most agents not reporting: the first
        # rows in index order, only the customers that have any, nothing sorted.
        Index(
            "ix_customers_silent_agents",
            "msp_id",
            text("(agents_total - agents_reporting) DESC"),
            "name_key",
            **_partial("agents_total - agents_reporting > 0"),
        ),
        # R20 on the dashboard: start from the few customers whose threshold can
        # block (most never block), not from all of them.
        Index("ix_customers_max_mau_threshold", "msp_id", **_partial(BLOCKING_THRESHOLD)),
        CheckConstraint("term IN ('monthly', 'annual')", name="term"),
        CheckConstraint("unit_price_cents >= 0", name="unit_price_cents"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    msp_id: Mapped[int] = mapped_column(ForeignKey("msps.id", ondelete="CASCADE"))
    account_number: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    name_key: Mapped[str] = mapped_column(String(80))
    admin_email: Mapped[str] = mapped_column(String(254))
    admin_email_key: Mapped[str] = mapped_column(String(254))
    plan: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(24))
    trial_start: Mapped[date | None] = mapped_column(Date, default=None)
    trial_end: Mapped[date | None] = mapped_column(Date, default=None)
    licences: Mapped[int] = mapped_column(Integer, default=0)
    users: Mapped[int] = mapped_column(Integer, default=0)
    mau_this_month: Mapped[int] = mapped_column(Integer, default=0)
    # R20: new end users are blocked at this MAU; None is "never block".
    max_mau_threshold: Mapped[int | None] = mapped_column(Integer, default=None)
    # The price is per licence and per month, and it is the only price stored: the
    # monthly total is derived from it (`monthly_price_cents`), so the two cannot
    # disagree, and a quote for added licences never depends on earlier changes.
    unit_price_cents: Mapped[int] = mapped_column(Integer, default=7500, server_default="7500")
    # A paid term: 'monthly' or 'annual' (bot.domain.terms), NULL for an account
    # without one (trials, free). Renewals fall on contract_start's day of month.
    term: Mapped[str | None] = mapped_column(String(8), default=None)
    contract_start: Mapped[date | None] = mapped_column(Date, default=None)
    renewal_date: Mapped[date | None] = mapped_column(Date, default=None)
    past_due: Mapped[bool] = mapped_column(Boolean, default=False)
    data_used_gb: Mapped[float] = mapped_column(Float, default=0.0)
    # The latest usage report (POST /api/v1/usage); history is in customer_usage.
    agents_total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    agents_reporting: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    usage_reported_at: Mapped[datetime | None] = mapped_column(default=None)
    add_ons: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(64))
    notes: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    @hybrid_property
    def monthly_price_cents(self) -> int:
        """The monthly total: unit price x licences (0 for an account without any)."""
        return self.unit_price_cents * self.licences

    @monthly_price_cents.inplace.expression
    @classmethod
    def _monthly_price_cents_expression(cls) -> ColumnElement[int]:
        return cls.unit_price_cents * cls.licences

    locations: Mapped[list[CustomerLocation]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="CustomerLocation.position"
    )
    contacts: Mapped[list[CustomerContact]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="CustomerContact.id"
    )
    assignments: Mapped[list[CustomerAssignment]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )


class CustomerLocation(Base):
    """A site of a customer."""

    __tablename__ = "customer_locations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(100))


class CustomerContact(Base):
    """A person at the customer; the primary one is shown on the card."""

    __tablename__ = "customer_contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    phone: Mapped[str | None] = mapped_column(String(40), default=None)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)


class CustomerAssignment(Base):
    """A staff member assigned to a customer (members see only these customers)."""

    __tablename__ = "customer_assignments"
    __table_args__ = (Index("ix_customer_assignments_slack_user_id", "slack_user_id"),)

    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    slack_user_id: Mapped[str] = mapped_column(String(32), primary_key=True)


class OutboxItem(Base):
    """One message (post, update, ephemeral, Home tab publish, file upload) waiting to
    go to Slack, written in the same transaction as the change that caused it.

    `lane` is the conversation (or `home:USER`): items of one lane leave in `id`
    order, one at a time. `key` makes enqueueing idempotent and lets a later update
    find the message (`ts`, `sent_channel`) it must change.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("msp_id", "key"),
        Index("ix_outbox_lane_status_id", "msp_id", "lane", "status", "id"),
        Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        # Each lane's head in one seek, and the run behind it in order, whatever
        # is queued (storage/repositories/outbox.py: claimable_heads).
        Index("ix_outbox_active_lane_id", "msp_id", "lane", "id", **_partial(OUTBOX_ACTIVE)),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    msp_id: Mapped[int] = mapped_column(ForeignKey("msps.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    lane: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    original_payload: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    content: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    coalescible: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(String(200), default=None)
    join_tried: Mapped[bool] = mapped_column(Boolean, default=False)
    ts: Mapped[str | None] = mapped_column(String(32), default=None)
    sent_channel: Mapped[str | None] = mapped_column(String(32), default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    coalesced_into: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DeliveryLane(Base):
    """Per-conversation send pacing shared by all replicas (GCRA: the theoretical
    arrival time of the next message)."""

    __tablename__ = "delivery_lanes"

    msp_id: Mapped[int] = mapped_column(ForeignKey("msps.id", ondelete="CASCADE"), primary_key=True)
    lane: Mapped[str] = mapped_column(String(64), primary_key=True)
    tat: Mapped[datetime]


class CustomerUsage(Base):
    """One customer's usage in one month, as reported by the usage API (upserted:
    a later report for the same month replaces the earlier one)."""

    __tablename__ = "customer_usage"
    __table_args__ = (
        UniqueConstraint("customer_id", "month"),
        Index("ix_customer_usage_msp_id_month", "msp_id", "month"),
        # A month's MAU from the index alone. customer_id before mau: a member's
        # sum looks up each assigned customer's row by it, and in (month, mau)
        # order those lookups would be random (measured 3.5x slower).
        Index("ix_customer_usage_month_customer", "msp_id", "month", "customer_id", "mau"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    msp_id: Mapped[int] = mapped_column(ForeignKey("msps.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    month: Mapped[date] = mapped_column(Date)  # the first day of the month
    mau: Mapped[int] = mapped_column(Integer, default=0)
    users: Mapped[int] = mapped_column(Integer, default=0)
    agents_total: Mapped[int] = mapped_column(Integer, default=0)
    agents_reporting: Mapped[int] = mapped_column(Integer, default=0)
    data_gb: Mapped[float] = mapped_column(Float, default=0.0)
    reported_at: Mapped[datetime]


class MauAllowanceOrder(Base):
    """An order of more MAU allowance (R19: owners only), with the allowance before
    and after, so the allowance of any past month can be told from the orders."""

    __tablename__ = "mau_allowance_orders"
    __table_args__ = (Index("ix_mau_allowance_orders_msp_id_created_at", "msp_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    msp_id: Mapped[int] = mapped_column(ForeignKey("msps.id", ondelete="CASCADE"))
    ordered_by: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    allowance_before: Mapped[int] = mapped_column(Integer)
    allowance_after: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class ApiToken(Base):
    """A bearer token for the HTTP API (usage, alerts). Only its SHA-256 is stored;
    `prefix` (the first characters) lets operators tell tokens apart."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    msp_id: Mapped[int] = mapped_column(ForeignKey("msps.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class ChangeRequest(Base):
    """A request about a customer (trial extension, upgrade, licence or plan change,
    cancellation, deletion...) or the MSP (an MAU allowance order): asked once,
    decided once by an approver, then applied at once or on `effective_on`.

    The customer's name and account number are copied in, so the request still
    reads right after the customer is removed (the row then loses its customer)."""

    __tablename__ = "change_requests"
    __table_args__ = (
        # /msp requests and the Home tab's pending list, per MSP and status.
        Index("ix_change_requests_msp_id_status", "msp_id", "status"),
        # The scheduler: what is due to apply, what is due to expire.
        Index("ix_change_requests_status_effective_on", "status", "effective_on"),
        Index("ix_change_requests_status_expires_at", "status", "expires_at"),
        # Reminders about requests waiting longer than a day.
        Index("ix_change_requests_status_requested_at", "status", "requested_at"),
        # The card's request history.
        Index("ix_change_requests_customer_id", "customer_id"),
        # One open request per customer and type: of the same form sent several times
        # at once, the database stores one (the others get the "already waiting"
        # answer). MSP-wide requests (no customer) are not limited.
        Index(
            "uq_change_requests_open_kind",
            "customer_id",
            "kind",
            unique=True,
            **_partial(OPEN_REQUEST),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    msp_id: Mapped[int] = mapped_column(ForeignKey("msps.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), default=None
    )
    customer_name: Mapped[str] = mapped_column(String(80), default="")
    account_number: Mapped[str | None] = mapped_column(String(16), default=None)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, default="")
    # What is asked (target plan, licence count, add-on, days, quantity) and what the
    # rules worked out when it was asked (prorated charge, quote needed, summary).
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    effective_on: Mapped[date | None] = mapped_column(Date, default=None)
    requested_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(32), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    decision_note: Mapped[str | None] = mapped_column(Text, default=None)
    applied_at: Mapped[datetime | None] = mapped_column(default=None)
    # Outbox keys of the approval messages (one in the approvals channel, or one DM
    # per owner), updated in place when the request is decided.
    message_keys: Mapped[list[str]] = mapped_column(JSON, default=list)


class Alert(Base):
    """A critical service notification about a customer (or the MSP): from another
    system through the API, or raised by the bot itself (max-MAU reached, over free
    limits, agents not reporting).

    One open alert per dedup key: a repeat while it is open counts an occurrence and
    moves `last_seen_at` instead of making another (the partial unique index makes
    that hold under concurrent ingest too); once resolved, the same key fires anew."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "uq_alerts_open_dedup_key",
            "msp_id",
            "dedup_key",
            unique=True,
            sqlite_where=text("status != 'resolved'"),
            postgresql_where=text("status != 'resolved'"),
        ),
        # `/msp alerts`, the Home tab's open alerts by severity.
        Index("ix_alerts_msp_id_status_severity", "msp_id", "status", "severity"),
        # A customer's alerts (its card, `/msp alerts CUSTOMER`).
        Index("ix_alerts_customer_id", "customer_id"),
        # The sweep that wakes snoozed alerts whose snooze is over.
        Index("ix_alerts_status_snoozed_until", "status", "snoozed_until"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    msp_id: Mapped[int] = mapped_column(ForeignKey("msps.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), default=None
    )
    customer_name: Mapped[str] = mapped_column(String(80), default="")  # as it was then
    kind: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(String(200))
    details: Mapped[str] = mapped_column(Text, default="")
    dedup_key: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))  # firing, acknowledged, snoozed, resolved
    source: Mapped[str] = mapped_column(String(40))  # api, cli, or bot
    links: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    occurred_at: Mapped[datetime]  # when the sending system saw it first
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    acknowledged_by: Mapped[str | None] = mapped_column(String(32), default=None)
    acknowledged_at: Mapped[datetime | None] = mapped_column(default=None)
    snoozed_until: Mapped[datetime | None] = mapped_column(default=None)
    snoozed_by: Mapped[str | None] = mapped_column(String(32), default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_by: Mapped[str | None] = mapped_column(String(32), default=None)  # from Slack
    updated_at: Mapped[datetime]


class AlertSubscription(Base):
    """A channel or a person that asked for notices, with its filters: topics
    (alerts, trials, mau, requests, digest), the lowest severity, customers
    included or excluded (by id), kinds, and (people) quiet hours."""

    __tablename__ = "alert_subscriptions"
    __table_args__ = (
        Index("ix_alert_subscriptions_msp_id_target", "msp_id", "target"),
        # One subscription per target and filters, whoever clicks at the same moment.
        Index("uq_alert_subscriptions_filters", "msp_id", "filters_key", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    msp_id: Mapped[int] = mapped_column(ForeignKey("msps.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(32))  # a channel id, or a user id
    target_kind: Mapped[str] = mapped_column(String(8))  # channel or person
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    min_severity: Mapped[str | None] = mapped_column(String(10), default=None)
    customers_included: Mapped[list[int]] = mapped_column(JSON, default=list)
    customers_excluded: Mapped[list[int]] = mapped_column(JSON, default=list)
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    quiet_start: Mapped[str | None] = mapped_column(String(5), default=None)  # "22:00"
    quiet_end: Mapped[str | None] = mapped_column(String(5), default=None)
    # The person's IANA zone the quiet hours are read in; None: the MSP's.
    quiet_timezone: Mapped[str | None] = mapped_column(String(64), default=None)
    # Alerts: threaded together per customer ("customer"), per customer and kind
    # ("kind"), or not at all ("off"), while they come within group_minutes.
    group_by: Mapped[str] = mapped_column(String(8), default="customer", server_default="customer")
    group_minutes: Mapped[int] = mapped_column(Integer, default=5, server_default="5")
    # The target and filters, hashed (bot.services.subscriptions.filters_key).
    filters_key: Mapped[str | None] = mapped_column(String(80), default=None)
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]


class AlertMessage(Base):
    """Where an alert was posted: one message per alert and conversation, updated in
    place as the alert changes (count, acknowledged, resolved)."""

    __tablename__ = "alert_messages"
    __table_args__ = (UniqueConstraint("alert_id", "channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(32))
    outbox_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class AlertGroup(Base):
    """Alerts threaded under one message in a conversation: the first alert's
    message is the parent, and those that follow within the window are replies in
    its thread. The parent shows how many there are and the worst severity.

    Groups are opened and joined only while the MSP's row is locked
    (bot.services.alert_routing), so two batches at once never open two groups
    for the same customer in one conversation."""

    __tablename__ = "alert_groups"
    __table_args__ = (
        Index("ix_alert_groups_open", "msp_id", "channel", "group_key", "last_at"),
        Index("ix_alert_groups_parent_key", "parent_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    msp_id: Mapped[int] = mapped_column(ForeignKey("msps.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(32))
    group_key: Mapped[str] = mapped_column(String(200))
    parent_alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    parent_key: Mapped[str] = mapped_column(String(200))  # the parent message's outbox key
    count: Mapped[int] = mapped_column(Integer, default=1)
    worst_severity: Mapped[str] = mapped_column(String(10))
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]


class Notice(Base):
    """A scheduled notice that was sent (or is on its way), by its natural key: what
    kind, about what (a customer, a request, or 0 for the MSP), for which period
    (a trial's end and threshold, a renewal date, a month, a local day or week).

    The unique key is what makes a notice exactly-once: each sweep inserts the keys
    it finds due, and only the one whose insert succeeds enqueues the message, in
    the same transaction, whatever the number of replicas or restarts."""

    __tablename__ = "notices"
    __table_args__ = (
        UniqueConstraint("msp_id", "kind", "subject_id", "period", name="uq_notices_natural_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    msp_id: Mapped[int] = mapped_column(ForeignKey("msps.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int] = mapped_column(Integer)
    period: Mapped[str] = mapped_column(String(40))
    recipients: Mapped[int] = mapped_column(Integer, default=0)  # messages enqueued
    created_at: Mapped[datetime]


# Distribution mode (OAuth installs): slack_sdk's installation and state stores run on
# our engine against these tables. They are built by slack_sdk's own table builders,
# so they are the tables the stores query; the migration (0011) creates them, and
# tests/test_storage.py's model-versus-migration check catches a slack_sdk upgrade
# that changes them. The columns holding credentials are stored encrypted
# (storage/encryption.py), and a ciphertext is longer than slack_sdk's 200 characters:
# they are unbounded text (migration 0013).
SLACK_SECRET_COLUMNS = (
    "bot_token",
    "bot_refresh_token",
    "user_token",
    "user_refresh_token",
    "incoming_webhook_url",  # anyone holding it can post to the channel
)


def secret_columns(table: Table) -> list[Column[Any]]:
    """The columns of one of slack_sdk's installation tables that hold credentials."""
    return [column for column in table.columns if column.name in SLACK_SECRET_COLUMNS]


def _with_room_for_ciphertext(table: Table) -> Table:
    for column in secret_columns(table):
        column.type = Text()
    return table


SLACK_INSTALLATIONS = _with_room_for_ciphertext(
    SQLAlchemyInstallationStore.build_installations_table(
        Base.metadata, SQLAlchemyInstallationStore.default_installations_table_name
    )
)
SLACK_BOTS = _with_room_for_ciphertext(
    SQLAlchemyInstallationStore.build_bots_table(
        Base.metadata, SQLAlchemyInstallationStore.default_bots_table_name
    )
)
SLACK_OAUTH_STATES = SQLAlchemyOAuthStateStore.build_oauth_states_table(
    Base.metadata, SQLAlchemyOAuthStateStore.default_table_name
)
