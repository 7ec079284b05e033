"""Customers: plans, statuses, and the pure rules for their fields (R1-R3, R5, R16,
R18, R21). Parsing functions raise `InvalidInput` naming the field that is wrong."""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from bot.errors import InvalidInput
from bot.sentences import sentence


class Plan(StrEnum):
    TRIAL = "trial"
    FREE = "free"
    ESSENTIALS = "essentials"
    PROFESSIONAL = "professional"
    ENTERPRISE = "enterprise"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def is_paid(self) -> bool:
        return self in PAID_PLANS


PAID_PLANS = frozenset({Plan.ESSENTIALS, Plan.PROFESSIONAL, Plan.ENTERPRISE})


class Status(StrEnum):
    ACTIVE_TRIAL = "active_trial"
    EXPIRED_TRIAL = "expired_trial"
    PAID = "paid"
    FREE = "free"
    PENDING_CANCELLATION = "pending_cancellation"
    SCHEDULED_DELETION = "scheduled_deletion"
    DELETED = "deleted"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


# A trial's or a free account's status names its plan as well.
_STATUS_NAMES_PLAN = frozenset({Status.ACTIVE_TRIAL, Status.EXPIRED_TRIAL, Status.FREE})


def plan_status_label(plan: Plan, status: Status) -> str:
    """A customer's plan and status said once: "Professional", "Professional, pending
    cancellation", "Active trial", "Free" (never "Free · Free")."""
    if status in _STATUS_NAMES_PLAN:
        return status.label
    if status is Status.PAID and plan.is_paid:
        return plan.label
    return f"{plan.label}, {status.label.lower()}"


def plan_change(before: Plan | None, after: Plan) -> str:
    """The one way a change of plan is shown: "Free → Professional"."""
    if before is None or before is after:
        return after.label
    return f"{before.label} → {after.label}"


class CustomerFilter(StrEnum):
    """The lists of `/msp customers`."""

    ALL = "all"
    PAID = "paid"
    TRIALS = "trials"
    EXPIRED = "expired"
    FREE = "free"


FILTER_STATUSES: dict[CustomerFilter, frozenset[Status]] = {
    CustomerFilter.ALL: frozenset(Status) - {Status.DELETED},
    CustomerFilter.PAID: frozenset({Status.PAID, Status.PENDING_CANCELLATION}),
    CustomerFilter.TRIALS: frozenset({Status.ACTIVE_TRIAL}),
    CustomerFilter.EXPIRED: frozenset({Status.EXPIRED_TRIAL}),
    CustomerFilter.FREE: frozenset({Status.FREE}),
}


class ListSort(StrEnum):
    """How a customer list is ordered (the values are the `sort:` words of
    `/msp customers`). Every order ends with the name, which is unique within an MSP
    (R2), so each customer has one place and pages never repeat or skip one."""

    NAME = "name"  # A-Z
    TRIAL_END = "trial"  # soonest first, customers without a trial end last
    USERS = "users"  # most first

    @classmethod
    def default_for(cls, which: CustomerFilter) -> ListSort:
        """Active trials by the one that ends first (what needs attention now),
        every other list by name."""
        return cls.TRIAL_END if which == CustomerFilter.TRIALS else cls.NAME


DEFAULT_TRIAL_DAYS = 30  # R4
DEFAULT_MONTHLY_PRICE = Decimal("75.00")  # R18
# R20: the threshold is literal; "never block" is its own choice, stored as None
# and written "never" in files and the API.
NEVER_BLOCK = "never"
MAX_NAME_LENGTH = 80
MAX_NAME_KEY_LENGTH = 80  # the name_key column
MAX_EMAIL_LENGTH = 254
MAX_LICENCES = 100_000
MAX_THRESHOLD = 1_000_000_000
MAX_PRICE = Decimal("100000")
MAX_LOCATIONS = 50
MAX_LOCATION_LENGTH = 100
MAX_NOTES_LENGTH = 2000
MAX_CONTACT_NAME_LENGTH = 100
MAX_ASSIGNED_STAFF = 20

# Crockford-style alphabet: no 0/O, 1/I/L or U, so numbers read out over the phone survive.
_ACCOUNT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,31}$")  # what a users_select gives
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>.]{2,}$")
# Commas only between groups of three digits: "1,000" is a thousand, but a European
# "75,50" must not silently become 7,550.
_THOUSANDS = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d*)?$")
COMMA_HINT = "Use a decimal point, and commas only between thousands (like 1,000 or 75.50)."


def _without_thousands_commas(text: str, *, field: str) -> str:
    if "," in text and not _THOUSANDS.match(text):
        raise InvalidInput(COMMA_HINT, field=field)
    return text.replace(",", "")


def new_account_number() -> str:
    """Short, human friendly, unique with overwhelming odds (the table enforces it).
    One draw of 8 base-30 digits, uniform as 8 draws of a digit but a tenth of the
    cost (an import numbers thousands at once)."""
    value = secrets.randbelow(len(_ACCOUNT_ALPHABET) ** 8)
    digits = []
    for _ in range(8):
        value, digit = divmod(value, len(_ACCOUNT_ALPHABET))
        digits.append(_ACCOUNT_ALPHABET[digit])
    return f"{''.join(digits[:4])}-{''.join(digits[4:])}"


def account_number_key(text: str) -> str:
    """How an account number typed by a person is compared: no case, no dashes."""
    return re.sub(r"[\s-]", "", text).upper()


def stored_account_number(text: str) -> str | None:
    """The stored form (XXXX-XXXX) of what may be an account number, typed loosely."""
    key = account_number_key(text)
    return f"{key[:4]}-{key[4:]}" if len(key) == 8 and key.isalnum() else None


def email_key(email: str) -> str:
    """R1: emails are compared trimmed and case-insensitively."""
    return email.strip().casefold()


def name_key(name: str) -> str:
    """R2: names are compared case-insensitively, with Unicode normalised. Normalising
    can lengthen a name ("ß" is "ss", "ﷺ" 18 letters), so the key is cut to its
    column's width (PostgreSQL refused longer ones); names alike in their first
    80 key letters count as the same name."""
    return unicodedata.normalize("NFKC", name).strip().casefold()[:MAX_NAME_KEY_LENGTH]


def parse_email(text: str | None, *, field: str, required: bool = True) -> str | None:
    email = (text or "").strip()
    if not email:
        if required:
            raise InvalidInput("Enter the admin's email address.", field=field)
        return None
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.match(email) or _has_invisible(email):
        raise InvalidInput(
            "That is not a valid email address (like admin@example.com).", field=field
        )
    return email


def _has_invisible(text: str) -> bool:
    """Control or format characters (NUL, BEL, a zero-width space, a bidi override).
    Printable text has none (isprintable() is False for both categories), so most
    text is answered without looking at each character (an import checks 10,000)."""
    if text.isprintable():
        return False
    return any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text)


def check_storable(text: str, *, field: str) -> str:
    """Free text may hold anything a text column can: not NUL, which PostgreSQL
    refuses (the request failed instead of the field being flagged)."""
    if "\x00" in text:
        raise InvalidInput("This text has a NUL character in it: remove it.", field=field)
    return text


def parse_name(text: str | None, *, field: str) -> str:
    name = unicodedata.normalize("NFC", (text or "")).strip()
    if not name:
        raise InvalidInput("Enter the organization's name.", field=field)
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(
            f"Names can be at most {MAX_NAME_LENGTH} characters (this one has {len(name)}).",
            field=field,
        )
    if _has_invisible(name):
        raise InvalidInput("Names cannot contain control characters or line breaks.", field=field)
    return name


def confirms_name(typed: str, name: str) -> bool:
    """R21: the name typed to confirm a deletion is the name exactly as shown, spaces
    around it and how accents were composed (NFC or NFD, as a keyboard may send them)
    aside; `name` is stored normalised (`parse_name`)."""
    return unicodedata.normalize("NFC", typed).strip() == name


def parse_whole_number(
    text: str | None, *, field: str, what: str, minimum: int, maximum: int
) -> int:
    value = read_whole_number(text, field=field, what=what, digits=len(str(max(-minimum, maximum))))
    if value < minimum:
        raise InvalidInput(f"The {what} must be at least {minimum:,}.", field=field)
    if value > maximum:
        raise InvalidInput(f"The {what} can be at most {maximum:,}.", field=field)
    return value


def read_whole_number(text: str | None, *, field: str, what: str, digits: int = 12) -> int:
    """A whole number as people type it (thousands commas, underscores), any size:
    more than `digits` digits reads as 10**40, past every range (int() refuses
    4,300 digits)."""
    cleaned = _without_thousands_commas((text or "").strip().replace("_", ""), field=field)
    if not re.fullmatch(r"-?\d+", cleaned):
        raise InvalidInput(f"The {what} must be a whole number.", field=field)
    sign, number = (-1 if cleaned.startswith("-") else 1), cleaned.lstrip("-").lstrip("0")
    if len(number) > digits:
        number = "9" * 40
    return sign * int(number or "0")


def parse_licences(text: str | None, *, field: str) -> int:
    return parse_whole_number(
        text, field=field, what="number of licences", minimum=1, maximum=MAX_LICENCES
    )


def parse_threshold(text: str | None, *, field: str) -> int | None:
    """R20 as a file or the API writes it: a number, or "never" (None: never block).
    Left empty, a new account never blocks, as the Add form's default."""
    cleaned = (text or "").strip()
    if not cleaned or cleaned.casefold() == NEVER_BLOCK:
        return None
    return _blocking_threshold(cleaned, field=field)


def parse_threshold_choice(text: str | None, *, never: bool, field: str) -> int | None:
    """R20 as the Add and Edit forms ask it: "never block" ticked, or a number."""
    cleaned = (text or "").strip()
    if never:
        if cleaned:
            raise InvalidInput(
                "Clear the threshold, or untick “Never block”: it is one or the other.",
                field=field,
            )
        return None
    if not cleaned:
        raise InvalidInput("Enter the max-MAU threshold, or tick “Never block” below.", field=field)
    return _blocking_threshold(cleaned, field=field)


def _blocking_threshold(text: str, *, field: str) -> int:
    return parse_whole_number(
        text, field=field, what="max-MAU threshold", minimum=1, maximum=MAX_THRESHOLD
    )


def parse_price(text: str | None, *, field: str, default: Decimal) -> Decimal:
    if not (text or "").strip():
        return default
    price = read_amount(text, field=field)
    if price < 0:
        raise InvalidInput("The monthly price cannot be negative.", field=field)
    if price > MAX_PRICE:
        raise InvalidInput(f"The monthly price can be at most ${MAX_PRICE:,}.", field=field)
    if price != price.quantize(Decimal("0.01")):
        raise InvalidInput("The monthly price can have at most two decimals.", field=field)
    return price.quantize(Decimal("0.01"))


def read_amount(text: str | None, *, field: str) -> Decimal:
    """An amount of dollars as people type it ($, thousands commas), any size."""
    cleaned = _without_thousands_commas((text or "").strip().lstrip("$"), field=field)
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite():
        raise InvalidInput("The monthly price must be an amount like 75 or 75.50.", field=field)
    return amount


def parse_locations(text: str | None, *, field: str) -> list[str]:
    """One location per line; blank lines and repeats are dropped."""
    locations: list[str] = []
    for line in (text or "").splitlines():
        location = line.strip()
        if not location or location.casefold() in (seen.casefold() for seen in locations):
            continue
        if len(location) > MAX_LOCATION_LENGTH:
            raise InvalidInput(
                f"Each location can be at most {MAX_LOCATION_LENGTH} characters.", field=field
            )
        locations.append(check_storable(location, field=field))
    if len(locations) > MAX_LOCATIONS:
        raise InvalidInput(f"At most {MAX_LOCATIONS} locations, one per line.", field=field)
    return locations


def parse_notes(text: str | None, *, field: str) -> str:
    notes = (text or "").strip()
    if len(notes) > MAX_NOTES_LENGTH:
        raise InvalidInput(f"Notes can be at most {MAX_NOTES_LENGTH} characters.", field=field)
    return check_storable(notes, field=field)


def check_renewal_date(renewal: date | None, *, today: date, field: str) -> date:
    if renewal is None:
        raise InvalidInput("Pick the renewal date of the paid plan.", field=field)
    if renewal <= today:
        raise InvalidInput(
            sentence("The renewal date must be in the future (after {today}).", today=today),
            field=field,
        )
    if renewal > today + timedelta(days=366 * 5):
        raise InvalidInput("The renewal date can be at most five years ahead.", field=field)
    return renewal


def trial_end(start: date, *, days: int = DEFAULT_TRIAL_DAYS) -> date:
    """R4: a trial's last active day, what `Customer.trial_end` stores. A trial of
    `days` days is active from `start` (day 1) through this day, both in the MSP's
    time zone; it becomes an expired trial the day after (`trial_active`)."""
    return start + timedelta(days=days - 1)


def trial_active(end: date, *, today: date) -> bool:
    """R4: a trial is active through its last day, `end`."""
    return today <= end


def trial_days_left(end: date | None, *, today: date) -> int | None:
    """Active days left, today included: `days` on the day a trial starts, 1 on its
    last day, 0 once it has ended."""
    return None if end is None else max(0, (end - today).days + 1)


def trial_days_left_words(days_left: int) -> str:
    """`trial_days_left` in words, the one wording wherever a trial's days left are
    shown (card, lists, Home, digests, notices): "4 days left", "ends today" on its
    last day, "ended" after it."""
    if days_left <= 0:
        return "ended"
    return "ends today" if days_left == 1 else f"{days_left} days left"


def in_active_paid_term(*, status: Status, renewal_date: date | None, today: date) -> bool:
    """R16: a paid plan renews, so it is always in a term (its renewal date moves on
    when it comes, even before the renewal job has run); a cancelled one is in its
    last term until its renewal date."""
    if status is Status.PAID:
        return True
    return status is Status.PENDING_CANCELLATION and (renewal_date is None or renewal_date > today)


@dataclass(frozen=True, slots=True)
class Capacity:
    """R3: how many customers the MSP has against its maximum."""

    used: int
    maximum: int

    @property
    def full(self) -> bool:
        return self.used >= self.maximum

    def refusal(self) -> str:
        """For staff in Slack: the maximum is the vendor's grant, which only the person
        who runs msp-bot changes, so it says whom to ask (not a command they cannot run)."""
        return (
            f"{self._at_maximum()} Remove a customer first, or ask the person who runs "
            "msp-bot (the operator) to raise the limit."
        )

    def operator_refusal(self, *, team_id: str) -> str:
        """For the operator (the command line): the command that raises the maximum."""
        return (
            f"{self._at_maximum()} Remove a customer first, or raise the maximum with "
            f"`{operator_set_command(team_id, MAX_CUSTOMERS_OPTION)}`."
        )

    def _at_maximum(self) -> str:
        return (
            f"Your MSP already manages {self.used:,} of its {self.maximum:,} customers, "
            "the most it may have."
        )


MAX_CUSTOMERS_OPTION = "--max-customers"


def operator_set_command(team_id: str, option: str, value: str = "N") -> str:
    """The operator's command that changes one of what the vendor grants an MSP."""
    return f"msp-bot msp set --team {team_id} {option} {value}"


class CustomerField(StrEnum):
    """Names of a customer's editable fields; modals use them as block ids, so a
    refusal about a field lands on that field."""

    NAME = "customer_name"
    ADMIN_EMAIL = "customer_admin_email"
    PLAN = "customer_plan"
    LICENCES = "customer_licences"
    RENEWAL_DATE = "customer_renewal_date"
    TERM = "customer_term"
    CONTRACT_START = "customer_contract_start"
    THRESHOLD = "customer_threshold"
    NEVER_BLOCK = "customer_never_block"
    PRICE = "customer_price"
    LOCATIONS = "customer_locations"
    CONTACT_NAME = "customer_contact_name"
    CONTACT_EMAIL = "customer_contact_email"
    ASSIGNED = "customer_assigned"
    NOTES = "customer_notes"
    CONFIRM_NAME = "customer_confirm_name"


def parse_contact_name(text: str | None, *, field: str) -> str | None:
    name = (text or "").strip()
    if len(name) > MAX_CONTACT_NAME_LENGTH:
        raise InvalidInput(
            f"The contact's name can be at most {MAX_CONTACT_NAME_LENGTH} characters.", field=field
        )
    return check_storable(name, field=field) or None


def cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def from_cents(value: int) -> Decimal:
    return (Decimal(value) / 100).quantize(Decimal("0.01"))
