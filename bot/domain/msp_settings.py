"""What an MSP's settings may be. The vendor's grants (maximum customers, seat
allowance, trial length) are the operator's to set; the time zone and the default
monthly price are the MSP's own. Each parser raises `InvalidInput` naming its field."""

from __future__ import annotations

import functools
import zoneinfo
from decimal import Decimal

from bot.domain.customers import DEFAULT_MONTHLY_PRICE, parse_price, parse_whole_number
from bot.errors import InvalidInput

# The columns are 32-bit integers; these stay far below that and above any real MSP.
MAX_MAX_CUSTOMERS = 1_000_000
MAX_SEAT_ALLOWANCE = 100_000_000
MIN_TRIAL_DAYS = 1
MAX_TRIAL_DAYS = 365
NO_ALLOWANCE_WORDS = frozenset({"none", "off"})
# The operator's command line options (MAX_CUSTOMERS_OPTION is R3's, in customers).
SEAT_ALLOWANCE_OPTION = "--seat-allowance"
TRIAL_DAYS_OPTION = "--trial-days"
# In tzdata's list but not places: a placeholder zone and links to the host's own.
_NOT_PLACES = frozenset({"Factory", "localtime", "posixrules"})
TIMEZONE_EXAMPLES = "Europe/Berlin, America/New_York or UTC"


def parse_max_customers(text: str, *, field: str) -> int:
    return parse_whole_number(
        text, field=field, what="maximum number of customers", minimum=1, maximum=MAX_MAX_CUSTOMERS
    )


def check_max_customers(maximum: int, *, used: int, field: str) -> None:
    """R3 holds after the change too: the maximum never goes below the customers the
    MSP has (deleted ones aside)."""
    if maximum < used:
        raise InvalidInput(
            f"The MSP has {used:,} customers now, so its maximum cannot go below {used:,} "
            f"(asked for {maximum:,}). Remove customers first, or set {used:,} or more.",
            field=field,
        )


def parse_seat_allowance(text: str, *, field: str) -> int | None:
    """A number of licensed users across the paid customers, or none (no allowance)."""
    if text.strip().lower() in NO_ALLOWANCE_WORDS:
        return None
    return parse_whole_number(
        text, field=field, what="seat allowance", minimum=1, maximum=MAX_SEAT_ALLOWANCE
    )


def parse_trial_days(text: str, *, field: str) -> int:
    """R4: how many calendar days a new trial lasts."""
    return parse_whole_number(
        text,
        field=field,
        what="trial length in days",
        minimum=MIN_TRIAL_DAYS,
        maximum=MAX_TRIAL_DAYS,
    )


@functools.cache
def _zones() -> dict[str, str]:
    return {
        name.casefold(): name for name in zoneinfo.available_timezones() if name not in _NOT_PLACES
    }


def parse_timezone(text: str, *, field: str) -> str:
    """An IANA time zone name, as the tz database spells it (typed in any case)."""
    name = _zones().get(text.strip().casefold())
    if name is None:
        raise InvalidInput(
            f'"{text.strip()[:40]}" is not a time zone name: use an IANA name such as '
            f"{TIMEZONE_EXAMPLES}.",
            field=field,
        )
    return name


def parse_default_price(text: str, *, field: str) -> Decimal:
    """R18: the monthly price of one licence new customers start with, in dollars and
    cents, above 0."""
    if not text.strip():
        raise InvalidInput(
            f"Give the price in dollars, like {DEFAULT_MONTHLY_PRICE:.0f} or 75.50.", field=field
        )
    price = parse_price(text, field=field, default=DEFAULT_MONTHLY_PRICE)
    if price <= 0:
        raise InvalidInput("The default price per licence must be more than $0.", field=field)
    return price
