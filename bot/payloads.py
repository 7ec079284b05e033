"""Data carried inside Slack payloads (button values, private_metadata), as small
typed models encoded and decoded here only.

Slack gives these back verbatim, but anyone can forge a request body's JSON once
they can sign it, so decoding validates and the services re-check everything.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.domain.alerts import SNOOZE_HOURS, AlertAction, Severity, ShownStatus
from bot.domain.customers import CustomerFilter, ListSort
from bot.domain.requests import RequestType
from bot.errors import InvalidInput

MAX_VALUE_LENGTH = 2000  # Slack's limit for a button value
# Ids and versions are 32-bit integer columns: a larger (forged) number is refused
# here, not by the database driver (SQLite raised OverflowError; found by
# tests/resilience/test_modal_fuzz.py).
MAX_ROW_ID = 2**31 - 1
RowId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]
M = TypeVar("M", bound="Payload")


class Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def encode(self) -> str:
        text = self.model_dump_json(exclude_defaults=True)
        if len(text) > MAX_VALUE_LENGTH:
            raise ValueError(f"{type(self).__name__} is too long for a Slack value")
        return text

    @classmethod
    def decode(cls: type[M], text: str | None) -> M:
        try:
            return cls.model_validate_json(text or "{}")
        except ValidationError:
            raise InvalidInput("That button or form is out of date. Please start again.") from None


class CustomerRef(Payload):
    """Which customer a button acts on."""

    customer_id: RowId


class EditCustomerState(Payload):
    """private_metadata of the Edit modal: the version it was opened on detects edits
    made by someone else in the meantime."""

    customer_id: RowId
    version: RowId


class ListState(Payload):
    """A page of a customer list: `/msp customers`, or a list opened from the Home tab.
    No sort means the list's default (`ListSort.default_for`)."""

    filter: CustomerFilter = CustomerFilter.ALL
    text: str = Field(default="", max_length=200)
    page: int = Field(default=1, ge=1)
    sort: ListSort | None = None


class RowActionKind(StrEnum):
    """What a list row's overflow menu offers. A new one (a request, say) is a member
    here, a label in the view and an entry in the handler's table of row actions."""

    VIEW = "view"
    REQUEST = "request"  # opens the request form of `RowAction.request`


class RowAction(Payload):
    """One option of a list row's overflow menu: what to do, to which customer."""

    customer_id: RowId
    action: RowActionKind
    request: RequestType | None = None


class RequestRef(Payload):
    """Which request a button (Approve, Deny, Withdraw) acts on."""

    request_id: RowId


class RequestFormState(Payload):
    """private_metadata of a request modal, and the value of a "Schedule for DATE"
    button: what is asked, about whom, and whether the person chose the later date.
    `channel` is where the request was started, for the confirmation."""

    kind: RequestType
    customer_id: RowId | None = None
    schedule: bool = False
    channel: str = Field(default="", max_length=32)


class LicenceState(Payload):
    """The licence view's selection: whose MAU the history shows (no customer: the
    whole MSP) and the month of the per-customer table (`2026-11`; none: this month).

    A customer option of the type-ahead carries a `CustomerRef`, which decodes as
    this model too (a customer and no month)."""

    customer_id: RowId | None = None
    month: str | None = Field(default=None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$")


class SubscriptionRef(Payload):
    """Which subscription a list row's Remove button removes."""

    subscription_id: RowId


class SubscriptionFormState(Payload):
    """private_metadata of the subscription modal: the conversation the list was
    shown in, offered first as where the notices go."""

    channel: str = Field(default="", max_length=32)


class AlertChoice(Payload):
    """An alert button, a Snooze option or a row menu option: which alert, what to
    do, and for a snooze how many hours (one of SNOOZE_HOURS)."""

    alert_id: RowId
    action: AlertAction
    hours: int | None = Field(default=None, ge=1, le=max(SNOOZE_HOURS))


class AlertQuery(Payload):
    """A `/msp alerts` listing: which alerts (status, lowest severity, one customer)
    and from which row. Carried by its filter menus, its paging and bulk buttons."""

    status: ShownStatus = ShownStatus.OPEN
    severity: Severity | None = None  # this or worse
    customer_id: RowId | None = None
    offset: int = Field(default=0, ge=0, le=MAX_ROW_ID)


class AlertBulk(Payload):
    """Acknowledge all or Resolve all: what a listing showed, and the action."""

    query: AlertQuery
    action: AlertAction


class AlertListRef(Payload):
    """A digest's "List all": the alerts it merged (at most a digest's worth), or a
    `/msp alerts` listing's filter for the same modal."""

    alert_ids: list[RowId] = Field(default_factory=list, max_length=60)


class ShareTarget(Payload):
    """A "Post in this channel" button: the conversation it named to the person. It
    posts there only if that is where it was clicked, so what was shown is where it
    goes."""

    channel: str = Field(pattern=r"^[CGD][A-Z0-9]{1,31}$")
