"""Requests: their types and statuses, the add-on catalog and the parsers for what a
request asks (R7-R17, R19). Pure: no I/O, no clock. Parsers raise `InvalidInput`
naming the field that is wrong, so a modal can flag it."""

from __future__ import annotations

from enum import StrEnum

from bot.domain.customers import Status, check_storable, parse_licences, parse_whole_number
from bot.errors import InvalidInput

DEFAULT_EXTENSION_DAYS = 14  # R7
MAX_EXTENSION_DAYS = 90
NOTICE_DAYS = 30  # R10, R12, R13, R14
DELETION_DELAY_DAYS = 30  # R16
DEFAULT_EXPIRY_DAYS = 7  # a pending request nobody decides expires after this
FREE_MAX_USERS = 3  # R15
FREE_MAX_DATA_GB = 3  # R15
# R4, R15: an expired trial is on the free plan, so the free limits are its limits too.
ON_FREE_LIMITS = frozenset({Status.FREE, Status.EXPIRED_TRIAL})
MAX_REASON_LENGTH = 500


class RequestType(StrEnum):
    TRIAL_EXTENSION = "trial_extension"
    UPGRADE = "upgrade"
    ADD_LICENCES = "add_licences"
    DECREASE_LICENCES = "decrease_licences"
    DOWNGRADE = "downgrade"
    ADD_ADDON = "add_addon"
    REMOVE_ADDON = "remove_addon"
    CANCEL = "cancel"
    REACTIVATE = "reactivate"
    DELETE_ACCOUNT = "delete_account"
    REMOVE_EXPIRED_TRIAL = "remove_expired_trial"
    MAU_ALLOWANCE_ORDER = "mau_allowance_order"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def rule(self) -> str:
        """The rule of DOMAIN.md that governs this type of request."""
        return _RULES[self]


# The one name of each type, wherever a request is shown (a modal's title, a message's
# header, a menu, a button): what it does, in a few words that fit a modal's title
# (24 characters). What a request asks beyond its type is its summary.
_LABELS: dict[RequestType, str] = {
    RequestType.TRIAL_EXTENSION: "Extend trial",
    RequestType.UPGRADE: "Upgrade plan",
    RequestType.ADD_LICENCES: "Add licences",
    RequestType.DECREASE_LICENCES: "Decrease licences",
    RequestType.DOWNGRADE: "Downgrade plan",
    RequestType.ADD_ADDON: "Add an add-on",
    RequestType.REMOVE_ADDON: "Remove an add-on",
    RequestType.CANCEL: "Cancel subscription",
    RequestType.REACTIVATE: "Reactivate subscription",
    RequestType.DELETE_ACCOUNT: "Delete account",
    RequestType.REMOVE_EXPIRED_TRIAL: "Remove expired trial",
    RequestType.MAU_ALLOWANCE_ORDER: "Order MAU allowance",
}

_RULES: dict[RequestType, str] = {
    RequestType.TRIAL_EXTENSION: "R7",
    RequestType.UPGRADE: "R11",
    RequestType.ADD_LICENCES: "R9",
    RequestType.DECREASE_LICENCES: "R10",
    RequestType.DOWNGRADE: "R12",
    RequestType.ADD_ADDON: "R13",
    RequestType.REMOVE_ADDON: "R13",
    RequestType.CANCEL: "R14",
    RequestType.REACTIVATE: "R17",
    RequestType.DELETE_ACCOUNT: "R16",
    RequestType.REMOVE_EXPIRED_TRIAL: "R8",
    RequestType.MAU_ALLOWANCE_ORDER: "R19",
}


class RequestStatus(StrEnum):
    """`pending` until decided once. Approval makes it `applied` at once or
    `scheduled` for its effective date; `reversed` is a scheduled deletion an admin
    took back (R16)."""

    PENDING = "pending"
    DENIED = "denied"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    APPLIED = "applied"
    SCHEDULED = "scheduled"
    REVERSED = "reversed"

    @property
    def is_open(self) -> bool:
        """Still waiting for an approver."""
        return self is RequestStatus.PENDING

    @property
    def is_final(self) -> bool:
        """Nothing more will happen to it: a scheduled request still waits for the
        scheduler (or a reversal), so it is neither open nor final."""
        return self not in (RequestStatus.PENDING, RequestStatus.SCHEDULED)


ADD_ONS: dict[str, str] = {"activconnect": "ActivConnect", "screen_details": "Screen Details"}


def add_on_key(name: str) -> str | None:
    """The catalog key for a key or label in any case (`"Screen details"` ->
    `"screen_details"`), or None when it is not in the catalog."""
    wanted = name.strip().casefold()
    for key, label in ADD_ONS.items():
        if wanted in (key, label.casefold()):
            return key
    return None


def add_on_label(name: str) -> str:
    """An add-on as people read it: the catalog's name for a key or label stored in
    any case (`"activconnect"` -> `"ActivConnect"`); one not in the catalog as stored."""
    key = add_on_key(name)
    return name if key is None else ADD_ONS[key]


def parse_add_on(text: str | None, *, field: str) -> str:
    key = add_on_key(text or "")
    if key is None:
        choices = " or ".join(ADD_ONS.values())
        raise InvalidInput(f"Choose an add-on: {choices}.", field=field)
    return key


def parse_extension_days(text: str | None, *, field: str) -> int:
    """Empty means the default extension of R7."""
    if not (text or "").strip():
        return DEFAULT_EXTENSION_DAYS
    return parse_whole_number(
        text, field=field, what="number of days", minimum=1, maximum=MAX_EXTENSION_DAYS
    )


def parse_licence_count(text: str | None, *, field: str) -> int:
    """Licences to add, or the new total for the next term: 1 to `MAX_LICENCES`."""
    return parse_licences(text, field=field)


def parse_reason(text: str | None, *, field: str, required: bool) -> str:
    """A denial must say why (the requester reads it); elsewhere a reason is optional."""
    reason = (text or "").strip()
    if required and not reason:
        raise InvalidInput("Give a reason: the requester will read it.", field=field)
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidInput(
            f"A reason can be at most {MAX_REASON_LENGTH} characters (this one has {len(reason)}).",
            field=field,
        )
    return check_storable(reason, field=field)


def is_over_free_limits(*, status: str, users: int, data_gb: float) -> bool:
    """R15: a free account, or an expired trial (on the free plan), may have 3 users
    and 3 GB of data; above either it is "over free limits"."""
    return status in ON_FREE_LIMITS and (users > FREE_MAX_USERS or data_gb > FREE_MAX_DATA_GB)
