"""Customer accounts: add, find, show, list, edit and delete them, within the
person's role (members only see and act on customers assigned to them)."""

from __future__ import annotations

import math
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NoReturn

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import policy
from bot.domain.customers import (
    FILTER_STATUSES,
    MAX_CONTACT_NAME_LENGTH,
    Capacity,
    CustomerField,
    CustomerFilter,
    ListSort,
    Plan,
    Status,
    account_number_key,
    cents,
    confirms_name,
    email_key,
    from_cents,
    in_active_paid_term,
    name_key,
    new_account_number,
    trial_days_left,
    trial_end,
)
from bot.domain.lifecycle import Given, Lifecycle, lifecycle
from bot.domain.requests import RequestType, is_over_free_limits
from bot.domain.roles import Role
from bot.domain.terms import Term, paid_term
from bot.errors import BotError, InvalidInput, NotAllowed, NotFound, RuleBroken
from bot.results.customers import (
    Correction,
    CustomerCard,
    CustomerPage,
    CustomerRow,
    DeletionWaits,
)
from bot.sentences import joined, sentence
from bot.services import audit
from bot.services.request_info import info_of
from bot.services.tenancy import STAFF, Permission, Requester, msp_of
from storage.models import Customer, CustomerAssignment, CustomerContact, CustomerLocation, Msp
from storage.repositories import alerts as alert_repo
from storage.repositories import audit as audit_repo
from storage.repositories import customers as customer_repo
from storage.repositories import msps as msp_repo
from storage.repositories import requests as request_repo
from storage.repositories import usage as usage_repo

# Who may do what to customers. Members see, edit and request for only the
# customers assigned to them; everyone else on staff sees them all.
NOT_STAFF = "Only the MSP's staff can see customers."
SEE = Permission(STAFF, NOT_STAFF, NOT_STAFF)
SEE_ALL = Permission(STAFF - {Role.MEMBER}, NOT_STAFF, NOT_STAFF)
EDIT_ALL = Permission(frozenset({Role.OWNER, Role.ADMIN}), NOT_STAFF, NOT_STAFF)
ADD = Permission(
    frozenset({Role.OWNER, Role.ADMIN, Role.MEMBER}),
    "Approvers and viewers cannot add customers.",
    NOT_STAFF,
)
DELETE = Permission(
    frozenset({Role.OWNER, Role.ADMIN}), "Only admins and owners can delete customers.", NOT_STAFF
)
CORRECT_BILLING = Permission(
    frozenset({Role.OWNER}),
    "Only an owner can correct billing data; ask for the change with a request.",
    NOT_STAFF,
)
REQUEST = Permission(
    frozenset({Role.OWNER, Role.ADMIN, Role.MEMBER}),
    "Approvers and viewers cannot make requests.",
    NOT_STAFF,
)
CARD_REQUESTS = 5  # the latest requests shown on a card
CUSTOMER_REQUESTS = [kind for kind in RequestType if kind != RequestType.MAU_ALLOWANCE_ORDER]
PICKER_LIMIT = 100  # Slack shows at most 100 options in a select
NAMED_MATCHES = 5  # candidates named back when a query matches several
EMAIL_TAKEN = "This admin email is already used by another account."
NAME_TAKEN = "Your MSP already has a customer with this name."
LIST_ORDERS: dict[ListSort, customer_repo.ListOrder] = {
    ListSort.NAME: "name",
    ListSort.TRIAL_END: "trial_end",
    ListSort.USERS: "users",
}


class StaleEdit(BotError):
    """The customer changed after the edit modal was opened."""


@dataclass(frozen=True, slots=True)
class NewCustomer:
    """Validated input of the Add customer modal (or a CSV row)."""

    name: str
    admin_email: str
    plan: Plan = Plan.TRIAL
    licences: int = 0
    renewal_date: date | None = None
    # A paid plan's term and contract start (bot.domain.terms); None: today, annual.
    term: Term | None = None
    contract_start: date | None = None
    # An account brought in with its history (a CSV import of an existing book): its
    # status, trial dates and past-due flag (bot.domain.lifecycle), and its users.
    # None: a new account, as the Add customer form makes it.
    history: Given | None = None
    users: int = 0
    max_mau_threshold: int | None = None  # R20: None never blocks
    unit_price: Decimal | None = None  # a licence a month; None: the MSP's default (R18)
    locations: list[str] = field(default_factory=list)
    contact_name: str | None = None
    contact_email: str | None = None
    assigned: list[str] = field(default_factory=list)
    notes: str = ""


@dataclass(frozen=True, slots=True)
class CustomerChanges:
    """Validated input of the Edit modal."""

    name: str
    admin_email: str
    locations: list[str]
    contact_name: str | None
    contact_email: str | None
    max_mau_threshold: int | None
    unit_price: Decimal
    assigned: list[str]
    notes: str


@dataclass(frozen=True, slots=True)
class DeletedCustomer:
    name: str
    account_number: str


def today_for(msp: Msp, now: datetime) -> date:
    """The date in the MSP's time zone: trials and renewals are days, not instants."""
    return now.astimezone(zoneinfo.ZoneInfo(msp.timezone)).date()


def assigned_filter(requester: Requester) -> str | None:
    """Members see only their assigned customers; everyone else sees all."""
    SEE.check(requester)
    return None if SEE_ALL.allows(requester) else requester.user_id


async def capacity(session: AsyncSession, *, requester: Requester) -> Capacity:
    msp = await msp_of(session, requester)
    used = await customer_repo.count_active(session, msp_id=msp.id)
    return Capacity(used=used, maximum=msp.max_customers)


async def check_can_add(session: AsyncSession, *, requester: Requester) -> Capacity:
    """Refuse before a modal opens, so nobody fills in a form for nothing."""
    ADD.check(requester)
    room = await capacity(session, requester=requester)
    if room.full:
        raise RuleBroken(room.refusal(), rule="R3")
    return room


async def today(session: AsyncSession, *, requester: Requester, now: datetime) -> date:
    return today_for(await msp_of(session, requester), now)


async def default_price(session: AsyncSession, *, requester: Requester) -> Decimal:
    return from_cents((await msp_of(session, requester)).default_monthly_price_cents)


@dataclass(frozen=True, slots=True)
class AddFormDefaults:
    """What the Add customer form starts from: the MSP's own price, day and trial."""

    default_price: Decimal
    today: date
    trial_days: int


async def add_form_defaults(
    session: AsyncSession, *, requester: Requester, now: datetime
) -> AddFormDefaults:
    msp = await msp_of(session, requester)
    return AddFormDefaults(
        default_price=from_cents(msp.default_monthly_price_cents),
        today=today_for(msp, now),
        trial_days=msp.trial_days,
    )


async def reserve_capacity(session: AsyncSession, *, msp_id: int) -> Capacity:
    """R3 for adding customers: hold the MSP's right to add them until the transaction
    ends, then count. Of several adds (or imports) at once, each waits for the one
    before it and counts what it wrote, so together they never pass the maximum."""
    maximum = await msp_repo.lock_customer_count(session, msp_id=msp_id)
    if maximum is None:
        raise NotFound("This workspace has no MSP yet.")
    used = await customer_repo.count_active(session, msp_id=msp_id)
    return Capacity(used=used, maximum=maximum)


async def create_customer(
    session: AsyncSession, *, requester: Requester, new: NewCustomer, now: datetime
) -> CustomerCard:
    ADD.check(requester)
    room = await reserve_capacity(session, msp_id=requester.msp_id)
    if room.full:  # filled up while the form was open: say so on the form
        raise InvalidInput(room.refusal(), field=CustomerField.NAME)
    msp = await msp_of(session, requester)
    today = today_for(msp, now)
    await _check_unique(session, msp_id=msp.id, name=new.name, email=new.admin_email)
    [(_, customer_id)] = await insert_checked(
        session, requester=requester, msp=msp, new=[new], today=today, now=now
    )
    customer = await customer_repo.get(session, msp_id=msp.id, customer_id=customer_id)
    assert customer is not None, "inserted above"
    return await _card(session, requester, customer, today)


async def insert_checked(
    session: AsyncSession,
    *,
    requester: Requester,
    msp: Msp,
    new: Sequence[NewCustomer],
    today: date,
    now: datetime,
) -> list[tuple[str, int]]:
    """Create customers in a transaction that made room for them (`reserve_capacity`)
    and found their names (R2) and admin emails (R1) free: the Add customer form's
    one, or a chunk of an import's rows, in a few statements whatever their number,
    each audited. Returns each one's (account number, id), in order.

    An admin email another MSP took since the check (R1 spans MSPs, whose adds do not
    wait for this one) is still refused by its unique index: InvalidInput on that
    field, and the transaction is lost."""
    numbers = await _unused_account_numbers(session, len(new))
    rows = [
        _new_customer(requester, msp, one, number, today=today, now=now)
        for one, number in zip(new, numbers, strict=True)
    ]
    try:
        ids = await customer_repo.insert_many(session, rows)
    except IntegrityError as error:
        _raise_unique(error)
    await audit_repo.append_each(
        session,
        msp_id=requester.msp_id,
        actor=requester.user_id,
        action=audit.AuditAction.CUSTOMER_CREATED,
        entity_type="customer",
        changes=[
            (
                row.values["account_number"],
                None,
                _snapshot(
                    row.values,
                    locations=list(row.locations),
                    contacts=[_contact_json(*row.contact)] if row.contact else [],
                    assigned=row.assigned,
                ),
            )
            for row in rows
        ],
        at=now,
    )
    return [(number, ids[number]) for number in numbers]


def _new_customer(
    requester: Requester,
    msp: Msp,
    new: NewCustomer,
    account_number: str,
    *,
    today: date,
    now: datetime,
) -> customer_repo.CustomerInsert:
    """A new customer's row as plain values (no ORM object: an import adds
    thousands), every column given so the rows of a chunk insert together."""
    assigned = list(dict.fromkeys(new.assigned))
    if SEE.check(requester) == Role.MEMBER and requester.user_id not in assigned:
        assigned.append(requester.user_id)  # or they could not see what they added
    values: dict[str, Any] = {
        "msp_id": msp.id,
        "account_number": account_number,
        "name": new.name,
        "name_key": name_key(new.name),
        "admin_email": new.admin_email,
        "admin_email_key": email_key(new.admin_email),
        "created_by": requester.user_id,
        "notes": new.notes,
        "max_mau_threshold": new.max_mau_threshold,
        "unit_price_cents": cents(new.unit_price)
        if new.unit_price is not None
        else msp.default_monthly_price_cents,
        "created_at": now,
        "updated_at": now,
        "version": 1,
        "add_ons": [],
        "trial_start": None,
        "trial_end": None,
        "term": None,
        "contract_start": None,
        "renewal_date": None,
        "users": new.users,
        "mau_this_month": 0,
        "past_due": False,
        "data_used_gb": 0.0,
        "agents_total": 0,
        "agents_reporting": 0,
        "usage_reported_at": None,
        **_plan_fields(new, today=today, trial_days=msp.trial_days),
    }
    return customer_repo.CustomerInsert(
        values=values,
        locations=new.locations,
        contact=_primary_contact(new.contact_name, new.contact_email),
        assigned=assigned,
    )


def _plan_fields(new: NewCustomer, *, today: date, trial_days: int) -> dict[str, Any]:
    if new.history is not None:
        return _lifecycle_fields(lifecycle(new.history, today=today, trial_days=trial_days))
    if new.plan == Plan.TRIAL:
        return {
            "plan": Plan.TRIAL.value,
            "status": Status.ACTIVE_TRIAL.value,
            "trial_start": today,
            "trial_end": trial_end(today, days=trial_days),
            "licences": 0,
        }
    if not new.plan.is_paid:
        raise InvalidInput(
            "New customers start on a trial or a paid plan.", field=CustomerField.PLAN
        )
    paid = paid_term(
        term=new.term,
        contract_start=new.contract_start,
        renewal=new.renewal_date,
        today=today,
        fields=(CustomerField.CONTRACT_START, CustomerField.RENEWAL_DATE),
    )
    return {
        "plan": new.plan.value,
        "status": Status.PAID.value,
        "licences": new.licences,
        "term": paid.term.value,
        "contract_start": paid.contract_start,
        "renewal_date": paid.renewal_date,
    }


def _lifecycle_fields(life: Lifecycle) -> dict[str, Any]:
    return {
        "plan": life.plan.value,
        "status": life.status.value,
        "trial_start": life.trial_start,
        "trial_end": life.trial_end,
        "licences": life.licences,
        "term": life.term.value if life.term else None,
        "contract_start": life.contract_start,
        "renewal_date": life.renewal_date,
        "past_due": life.past_due,
    }


async def find(
    session: AsyncSession, *, requester: Requester, query: str, now: datetime
) -> list[CustomerRow]:
    """Best matches first: the account number, the exact name, names starting with
    the query, then names containing it. At most 100 (one Slack select)."""
    msp = await msp_of(session, requester)
    found = await customer_repo.search(
        session,
        msp_id=msp.id,
        assigned_to=assigned_filter(requester),
        query_key=name_key(query),
        account_key=account_number_key(query),
        limit=PICKER_LIMIT,
    )
    today = today_for(msp, now)
    return [_row(customer, today) for customer in found]


async def find_one(
    session: AsyncSession, *, requester: Requester, query: str, now: datetime, example: str
) -> CustomerRow:
    """The one customer `query` names: an account number, an exact name, or the only
    name containing it. Several candidates are named back (up to five), with an
    example of the `/msp {example}` command given an account number."""
    rows = await find(session, requester=requester, query=query, now=now)
    shown = query[:80]
    if not rows:
        raise NotFound(
            f"No customer you can see matches “{shown}”. Try part of the name or the "
            "account number, or /msp customers to browse."
        )
    exact = [row for row in rows if name_key(row.name) == name_key(query)]
    if len(rows) == 1 or len(exact) == 1:
        return rows[0] if len(rows) == 1 else exact[0]
    named = ", ".join(f"{row.name} ({row.account_number})" for row in rows[:NAMED_MATCHES])
    more = len(rows) - NAMED_MATCHES
    if more > 0:
        named += f" and {more}{'+' if len(rows) >= PICKER_LIMIT else ''} more"
    raise InvalidInput(
        f"Several customers match “{shown}”: {named}. Give the account number, "
        f"e.g. /msp {example} XXXX-XXXX."
    )


async def show(
    session: AsyncSession, *, requester: Requester, customer_id: int, now: datetime
) -> CustomerCard:
    msp = await msp_of(session, requester)
    customer = await _visible(session, requester, customer_id)
    return await _card(session, requester, customer, today_for(msp, now))


async def list_page(
    session: AsyncSession,
    *,
    requester: Requester,
    which: CustomerFilter,
    text: str,
    page: int,
    page_size: int,
    now: datetime,
    sort: ListSort | None = None,
) -> CustomerPage:
    """One page of a list, as this person may see it; no `sort` means the list's default."""
    sort = sort or ListSort.default_for(which)
    msp = await msp_of(session, requester)
    statuses = {status.value for status in FILTER_STATUSES[which]}
    scope = {
        "msp_id": msp.id,
        "assigned_to": assigned_filter(requester),
        "statuses": statuses,
        "text_key": name_key(text),
    }
    total, trial_users, paid_users = await customer_repo.totals(session, **scope)
    page_count = max(1, math.ceil(total / page_size))
    page = min(max(1, page), page_count)
    customers = await customer_repo.page(
        session,
        **scope,
        offset=(page - 1) * page_size,
        limit=page_size,
        order=LIST_ORDERS[sort],
    )
    today = today_for(msp, now)
    return CustomerPage(
        filter=which,
        text=text,
        sort=sort,
        page=page,
        page_count=page_count,
        total=total,
        trial_users=trial_users,
        paid_users=paid_users,
        rows=[_row(customer, today) for customer in customers],
        can_add=ADD.allows(requester),
    )


async def update_customer(
    session: AsyncSession,
    *,
    requester: Requester,
    customer_id: int,
    expected_version: int,
    changes: CustomerChanges,
    now: datetime,
) -> CustomerCard:
    customer = await _visible(session, requester, customer_id)
    if not _may_edit(requester, customer):
        raise NotAllowed("You can edit only the customers assigned to you.")
    msp = await msp_of(session, requester)
    if customer.version != expected_version or not await customer_repo.bump_version(
        session, customer_id=customer.id, expected_version=expected_version, now=now
    ):
        raise StaleEdit(
            f"{customer.name} was changed by someone else after you opened this form. "
            "Close it and open Edit again to see their changes."
        )
    await _check_unique(
        session, msp_id=msp.id, name=changes.name, email=changes.admin_email, except_id=customer.id
    )
    before = snapshot(customer)
    customer.name = changes.name
    customer.name_key = name_key(changes.name)
    customer.admin_email = changes.admin_email
    customer.admin_email_key = email_key(changes.admin_email)
    customer.max_mau_threshold = changes.max_mau_threshold
    customer.unit_price_cents = cents(changes.unit_price)
    customer.notes = changes.notes
    customer.version = expected_version + 1
    customer.updated_at = now
    _replace_related(
        customer, changes.locations, changes.contact_name, changes.contact_email, changes.assigned
    )
    await _flush_unique(session)
    await _audit(session, requester, audit.AuditAction.CUSTOMER_UPDATED, customer, before, now)
    return await _card(session, requester, customer, today_for(msp, now))


async def delete_customer(
    session: AsyncSession,
    *,
    requester: Requester,
    customer_id: int,
    typed_name: str,
    now: datetime,
) -> DeletedCustomer:
    DELETE.check(requester)
    customer = await _visible(session, requester, customer_id)
    msp = await msp_of(session, requester)
    if not confirms_name(typed_name, customer.name):
        raise InvalidInput(
            "That is not the customer's name. Type it exactly as shown to confirm.",
            field=CustomerField.CONFIRM_NAME,
        )
    _refuse_deletion_in_paid_term(customer, today_for(msp, now))
    before = snapshot(customer)
    deleted = DeletedCustomer(name=customer.name, account_number=customer.account_number)
    await _audit(
        session, requester, audit.AuditAction.CUSTOMER_DELETED, customer, before, now, after=False
    )
    await customer_repo.delete_customer(session, customer_id=customer.id)
    return deleted


async def deletion_form(
    session: AsyncSession, *, requester: Requester, customer_id: int, now: datetime
) -> CustomerCard:
    """The card the Delete form is opened for, once the rules let it be deleted: a
    Delete clicked on a card shown before a paid term began is refused before the
    name is typed, with what to do instead."""
    DELETE.check(requester)
    customer = await _visible(session, requester, customer_id)
    today = today_for(await msp_of(session, requester), now)
    _refuse_deletion_in_paid_term(customer, today)
    return await _card(session, requester, customer, today)


def deletion_waits(customer: Customer, today: date) -> DeletionWaits | None:
    """R16: what stands between a paid account and its deletion (None: nothing). The
    soonest its term can end is the request rules' own answer, notice period included."""
    status = Status(customer.status)
    if not in_active_paid_term(status=status, renewal_date=customer.renewal_date, today=today):
        return None
    verdict = policy.preview(RequestType.DELETE_ACCOUNT, account_of(customer, today))
    return DeletionWaits(cancelled=status is Status.PENDING_CANCELLATION, until=verdict.earliest)


def _refuse_deletion_in_paid_term(customer: Customer, today: date) -> None:
    waits = deletion_waits(customer, today)
    if waits is None:
        return
    if waits.cancelled:
        said = sentence(
            "{name} is cancelled but still in its paid term, and an account cannot be deleted "
            "during its paid term: it can be deleted once the term ends",
            name=customer.name,
        )
        ends = sentence(" on {until}.", until=waits.until) if waits.until else sentence(".")
    else:
        said = sentence(
            "{name} is in a paid term, and an account cannot be deleted during its paid term: "
            "cancel its subscription first (`/msp request cancel`), then delete it once the "
            "term ends",
            name=customer.name,
        )
        ends = (
            sentence(" (on {until} at the soonest).", until=waits.until)
            if waits.until
            else sentence(".")
        )
    raise RuleBroken(joined("", [said, ends]), rule="R16", earliest=waits.until)


def snapshot(customer: Customer) -> dict[str, Any]:
    """Everything about a customer, as plain JSON, for the audit log (R21, R22)."""
    return _snapshot(
        {column: getattr(customer, column) for column in _SNAPSHOT_COLUMNS},
        locations=[location.name for location in customer.locations],
        contacts=[
            _contact_json(c.name, c.email, phone=c.phone, primary=c.is_primary)
            for c in customer.contacts
        ],
        assigned=[a.slack_user_id for a in customer.assignments],
    )


_SNAPSHOT_COLUMNS = (
    "account_number",
    "name",
    "admin_email",
    "plan",
    "status",
    "trial_start",
    "trial_end",
    "licences",
    "users",
    "mau_this_month",
    "max_mau_threshold",
    "unit_price_cents",
    "term",
    "contract_start",
    "renewal_date",
    "past_due",
    "data_used_gb",
    "add_ons",
    "notes",
    "created_by",
)


def _snapshot(
    values: dict[str, Any],
    *,
    locations: list[str],
    contacts: list[dict[str, Any]],
    assigned: Sequence[str],
) -> dict[str, Any]:
    """`snapshot` of a customer's column values (a loaded customer's, or the row an
    insert is about to write) and what hangs off it."""
    return {
        "account_number": values["account_number"],
        "name": values["name"],
        "admin_email": values["admin_email"],
        "plan": values["plan"],
        "status": values["status"],
        "trial_start": _iso(values["trial_start"]),
        "trial_end": _iso(values["trial_end"]),
        "licences": values["licences"],
        "users": values["users"],
        "mau_this_month": values["mau_this_month"],
        "max_mau_threshold": values["max_mau_threshold"],
        "unit_price": str(from_cents(values["unit_price_cents"])),
        # The monthly total, derived as Customer.monthly_price_cents derives it.
        "monthly_price": str(from_cents(values["unit_price_cents"] * values["licences"])),
        "term": values["term"],
        "contract_start": _iso(values["contract_start"]),
        "renewal_date": _iso(values["renewal_date"]),
        "past_due": values["past_due"],
        "data_used_gb": values["data_used_gb"],
        "add_ons": list(values["add_ons"] or []),
        "locations": locations,
        "contacts": contacts,
        "assigned": sorted(assigned),
        "notes": values["notes"],
        "created_by": values["created_by"],
    }


def _contact_json(
    name: str, email: str | None, *, phone: str | None = None, primary: bool = True
) -> dict[str, Any]:
    return {"name": name, "email": email, "phone": phone, "primary": primary}


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _may_edit(requester: Requester, customer: Customer) -> bool:
    role = SEE.check(requester)
    if EDIT_ALL.allows(requester):
        return True
    assigned = {a.slack_user_id for a in customer.assignments}
    return role == Role.MEMBER and requester.user_id in assigned


async def visible_customer(
    session: AsyncSession, *, requester: Requester, customer_id: int
) -> Customer:
    """The customer, if the person may see it (members: only their assigned ones)."""
    return await _visible(session, requester, customer_id)


async def _visible(session: AsyncSession, requester: Requester, customer_id: int) -> Customer:
    customer = await customer_repo.get(
        session,
        msp_id=requester.msp_id,
        customer_id=customer_id,
        assigned_to=assigned_filter(requester),
    )
    if customer is None or customer.status == Status.DELETED.value:
        raise NotFound("That customer does not exist, or is not assigned to you.")
    return customer


async def _check_unique(
    session: AsyncSession, *, msp_id: int, name: str, email: str, except_id: int | None = None
) -> None:
    if await customer_repo.name_taken(
        session, msp_id=msp_id, name_key=name_key(name), except_id=except_id
    ):
        raise InvalidInput(NAME_TAKEN, field=CustomerField.NAME)
    if await customer_repo.email_taken(session, email_key=email_key(email), except_id=except_id):
        raise InvalidInput(EMAIL_TAKEN, field=CustomerField.ADMIN_EMAIL)


def _primary_contact(
    contact_name: str | None, contact_email: str | None
) -> tuple[str, str | None] | None:
    """The primary contact's (name, email), if any. Known by email only, the contact
    is named by it, within the name's column."""
    if not (contact_name or contact_email):
        return None
    return (contact_name or contact_email or "")[:MAX_CONTACT_NAME_LENGTH], contact_email


async def _flush_unique(session: AsyncSession) -> None:
    """Two people adding the same customer at once both pass the checks above; the
    unique indexes stop the second, and this says which field it was."""
    try:
        await session.flush()
    except IntegrityError as error:
        _raise_unique(error)


def _raise_unique(error: IntegrityError) -> NoReturn:
    """Which unique index refused a write, as a refusal on its field."""
    text = str(error.orig)
    if "admin_email_key" in text:
        raise InvalidInput(EMAIL_TAKEN, field=CustomerField.ADMIN_EMAIL) from None
    if "name_key" in text:
        raise InvalidInput(NAME_TAKEN, field=CustomerField.NAME) from None
    raise error


async def _unused_account_numbers(session: AsyncSession, count: int) -> list[str]:
    """`count` new account numbers, none in use, checked in one query a round."""
    numbers: set[str] = set()
    for _ in range(10):
        candidates = {new_account_number() for _ in range(count - len(numbers))} - numbers
        numbers |= candidates - await customer_repo.account_numbers_taken(session, candidates)
        if len(numbers) == count:
            return sorted(numbers)
    raise RuntimeError("could not find unused account numbers")  # ~1 in 10^100


def _replace_related(
    customer: Customer,
    locations: list[str],
    contact_name: str | None,
    contact_email: str | None,
    assigned: list[str],
) -> None:
    customer.locations = [
        CustomerLocation(position=index, name=name) for index, name in enumerate(locations)
    ]
    others = [contact for contact in customer.contacts if not contact.is_primary]
    contact = _primary_contact(contact_name, contact_email)
    primary = (
        [CustomerContact(name=contact[0], email=contact[1], is_primary=True)] if contact else []
    )
    customer.contacts = primary + others
    customer.assignments = [
        CustomerAssignment(slack_user_id=user_id) for user_id in dict.fromkeys(assigned)
    ]


async def _audit(
    session: AsyncSession,
    requester: Requester,
    action: audit.AuditAction,
    customer: Customer,
    before: dict[str, Any] | None,
    now: datetime,
    *,
    after: bool = True,
) -> None:
    await audit_repo.append(
        session,
        msp_id=requester.msp_id,
        actor=requester.user_id,
        action=action,
        entity_type="customer",
        entity_id=customer.account_number,
        before=before,
        after=snapshot(customer) if after else None,
        at=now,
    )


async def card_of(
    session: AsyncSession, requester: Requester, customer: Customer, today: date
) -> CustomerCard:
    """The card of a customer the person may see (found with `visible_customer`)."""
    return await _card(session, requester, customer, today)


async def _latest_correction(session: AsyncSession, customer: Customer) -> Correction | None:
    event = await audit_repo.latest(
        session,
        msp_id=customer.msp_id,
        action=audit.AuditAction.CUSTOMER_BILLING_CORRECTED,
        entity_type="customer",
        entity_id=customer.account_number,
    )
    return None if event is None else Correction(event.actor, event.created_at, event.note or "")


async def _card(
    session: AsyncSession, requester: Requester, customer: Customer, today: date
) -> CustomerCard:
    primary = next((c for c in customer.contacts if c.is_primary), None)
    SEE.check(requester)
    waits = deletion_waits(customer, today)
    return CustomerCard(
        id=customer.id,
        account_number=customer.account_number,
        name=customer.name,
        admin_email=customer.admin_email,
        plan=Plan(customer.plan),
        status=Status(customer.status),
        trial_end=customer.trial_end,
        trial_days_left=trial_days_left(customer.trial_end, today=today)
        if customer.status == Status.ACTIVE_TRIAL.value
        else None,
        users=customer.users,
        licences=customer.licences,
        mau_this_month=customer.mau_this_month,
        max_mau_threshold=customer.max_mau_threshold,
        unit_price=from_cents(customer.unit_price_cents),
        monthly_price=from_cents(customer.monthly_price_cents),
        term=Term(customer.term) if customer.term else None,
        contract_start=customer.contract_start,
        renewal_date=customer.renewal_date,
        past_due=customer.past_due,
        data_used_gb=customer.data_used_gb,
        add_ons=list(customer.add_ons or []),
        agents_reporting=customer.agents_reporting,
        agents_total=customer.agents_total,
        locations=[location.name for location in customer.locations],
        contact_name=primary.name if primary else None,
        contact_email=primary.email if primary else None,
        assigned=sorted(a.slack_user_id for a in customer.assignments),
        notes=customer.notes,
        created_by=customer.created_by,
        version=customer.version,
        can_edit=_may_edit(requester, customer),
        # Offered only where it works: not in a paid term (R16), and not once a
        # deletion is scheduled, where Reverse deletion is what the card offers.
        can_delete=DELETE.allows(requester)
        and waits is None
        and customer.status != Status.SCHEDULED_DELETION.value,
        request_kinds=_request_kinds(requester, customer, today),
        requests=[
            info_of(row)
            for row in await request_repo.for_customer(
                session, msp_id=customer.msp_id, customer_id=customer.id, limit=CARD_REQUESTS
            )
        ],
        can_reverse_deletion=(
            DELETE.allows(requester) and customer.status == Status.SCHEDULED_DELETION.value
        ),
        open_alerts=await alert_repo.open_counts(
            session, msp_id=customer.msp_id, customer_id=customer.id
        ),
        can_correct_billing=CORRECT_BILLING.allows(requester),
        correction=await _latest_correction(session, customer),
        over_free_limits=_over_free_limits(customer),
        mau_at_threshold=await _mau_at_threshold(session, customer, today),
        deletion_waits=waits if DELETE.allows(requester) else None,
    )


async def _mau_at_threshold(session: AsyncSession, customer: Customer, today: date) -> int | None:
    """R20: this month's reported MAU when it has reached the customer's threshold,
    counted as the dashboard and the alert count it (a report from last month blocks
    nothing this month)."""
    if customer.max_mau_threshold is None:
        return None
    month = today.replace(day=1)
    figures = await usage_repo.reported_figures(
        session, msp_id=customer.msp_id, customer_ids=[customer.id], months=[month]
    )
    mau = figures.get((customer.id, month), {}).get("mau")
    return mau if mau is not None and mau >= customer.max_mau_threshold else None


def _over_free_limits(customer: Customer) -> bool:
    return is_over_free_limits(
        status=customer.status, users=customer.users, data_gb=customer.data_used_gb
    )


def _request_kinds(requester: Requester, customer: Customer, today: date) -> list[RequestType]:
    """The request types the card offers: those the rules allow for this account now,
    or for a later date (a refusal that offers "Schedule for")."""
    SEE.check(requester)
    if not REQUEST.allows(requester):
        return []
    account = account_of(customer, today)
    kinds = []
    for kind in CUSTOMER_REQUESTS:
        verdict = policy.preview(kind, account)
        if verdict.allowed or verdict.schedule_for is not None:
            kinds.append(kind)
    return kinds


def account_of(customer: Customer, today: date) -> policy.Account:
    """The account as the request rules see it."""
    return policy.Account(
        status=Status(customer.status),
        plan=Plan(customer.plan),
        today=today,
        trial_end=customer.trial_end,
        renewal_date=customer.renewal_date,
        contract_start=customer.contract_start,
        past_due=customer.past_due,
        licences=customer.licences,
        users=customer.users,
        data_used_gb=customer.data_used_gb,
        add_ons=frozenset(customer.add_ons or []),
        unit_price=from_cents(customer.unit_price_cents),
        term=Term(customer.term) if customer.term else None,
    )


def _row(customer: Customer, today: date) -> CustomerRow:
    return CustomerRow(
        id=customer.id,
        account_number=customer.account_number,
        name=customer.name,
        plan=Plan(customer.plan),
        status=Status(customer.status),
        users=customer.users,
        licences=customer.licences,
        trial_end=customer.trial_end,
        trial_days_left=trial_days_left(customer.trial_end, today=today)
        if customer.status == Status.ACTIVE_TRIAL.value
        else None,
        renewal_date=customer.renewal_date,
        over_free_limits=_over_free_limits(customer),
    )
